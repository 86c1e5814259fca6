// The routing pre-pass (pool keys, pool queries, select) and the routed variant. The
// route's parameters are the compiler's struct AttncRoutePolicy (RouteSource.cpp), its gate,
// always and never functions the generated attnc_route_* hooks; the routed variant wraps the
// program's (struct AttncProgram) mask and classifier with the selected blocks.

/// A block's state for one selection unit.
enum AttncRouteState : unsigned char {
  kRouteEmpty,
  kRouteCandidate,
  kRouteForced,
  kRouteForbidden,
  kRouteChosen
};

/// A bf16 or fp16 value (the kernel's element type), exactly, as a double.
static __device__ __forceinline__ double attnc_route_value(unsigned short bits) {
#if defined(ATTNC_DTYPE_F16) && ATTNC_DTYPE_F16
  float f;
  asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(bits));
  return (double)f;
#else
  return (double)__uint_as_float(((unsigned)bits) << 16);
#endif
}

static __device__ __forceinline__ double attnc_route_load(const unsigned short *base,
                                                          long long offset) {
  return attnc_route_value(base[offset]);
}

// A query block longer than q_len is one unit of q_len queries (the same units), so that
// unit arithmetic stays within int for any declared size.
static __device__ __forceinline__ int attnc_route_unit_size(const AttncArgs &a) {
  const int q_len = a.q_len > 0 ? a.q_len : 1;
  return AttncRoutePolicy::kPer == 2 ? q_len : min(AttncRoutePolicy::kQueryBlock, q_len);
}

/// Mean key of block blockIdx.x for (kv head blockIdx.y, batch blockIdx.z), summed in token
/// order in float64 like the reference; counts[blk] = tokens of the block below kv_len.
/// Layout [batch][kv head][channel][block]: attnc_route_select's lanes (one block each)
/// then read consecutive doubles (2 cache lines per load instead of 32).
extern "C" __global__ void attnc_route_pool_keys(const AttncForwardParams p, const AttncArgs a,
                                                 double *keyMean, int *counts, int numBlocks) {
  const int blk = blockIdx.x, kvh = blockIdx.y, b = blockIdx.z;
  const unsigned short *base =
      (const unsigned short *)p.k + b * p.k_stride[0] + kvh * p.k_stride[1];
  // Tiled routes pool every key (their blocks are tiles of an N-D grid, summed elsewhere).
  const int lo = AttncRoutePolicy::kTiled ? 0 : blk * AttncRoutePolicy::kBlock;
  const int hi = AttncRoutePolicy::kTiled ? a.kv_len : min(a.kv_len, lo + AttncRoutePolicy::kBlock);
  for (int c = threadIdx.x; c < a.head_dim; c += blockDim.x) {
    double sum = 0.0;
    int n = 0;
    for (int t = lo; t < hi; ++t) {
      if (attnc_route_block_of(a, t) != blk)
        continue;
      sum = __dadd_rn(sum, attnc_route_load(base, (long long)t * p.k_stride[2] + c));
      ++n;
    }
    keyMean[(((long long)b * a.kv_heads + kvh) * a.head_dim + c) * numBlocks + blk] =
        n > 0 ? __ddiv_rn(sum, (double)n) : 0.0;
    if (c == 0 && b == 0 && kvh == 0)
      counts[blk] = n;
  }
}

/// Mean query of unit blockIdx.x for (head blockIdx.y, batch blockIdx.z).
extern "C" __global__ void attnc_route_pool_queries(const AttncForwardParams p, const AttncArgs a,
                                                    double *queryMean, int units) {
  const int unit = blockIdx.x, h = blockIdx.y, b = blockIdx.z;
  const int unitSize = attnc_route_unit_size(a);
  const int lo = unit * unitSize, hi = min(a.q_len, lo + unitSize);
  const unsigned short *base = (const unsigned short *)p.q + b * p.q_stride[0] + h * p.q_stride[1];
  for (int c = threadIdx.x; c < a.head_dim; c += blockDim.x) {
    double sum = 0.0;
    for (int t = lo; t < hi; ++t)
      sum = __dadd_rn(sum, attnc_route_load(base, (long long)t * p.q_stride[2] + c));
    queryMean[(((long long)b * a.heads + h) * units + unit) * a.head_dim + c] =
        __ddiv_rn(sum, (double)(hi - lo));
  }
}

/// The reference's order: larger gate first, NaN last, ties to the lower block.
static __device__ __forceinline__ bool attnc_route_before(double ga, int ia, double gb, int ib) {
  if (ib < 0)
    return ia >= 0;
  if (ia < 0)
    return false;
  const double ninf = __longlong_as_double(0xfff0000000000000ll);
  double ka = ga != ga ? ninf : ga, kb = gb != gb ? ninf : gb;
  if (ka != kb)
    return ka > kb;
  bool na = ga != ga, nb = gb != gb;
  if (na != nb)
    return nb;
  return ia < ib;
}

/// The best remaining candidate of the warp's unit (-1 when none), on every lane.
static __device__ __forceinline__ int attnc_route_best(const double *gate,
                                                       const unsigned char *state, int numBlocks) {
  const int lane = threadIdx.x & 31;
  double bestGate = 0.0;
  int best = -1;
  for (int blk = lane; blk < numBlocks; blk += 32)
    if (state[blk] == kRouteCandidate && attnc_route_before(gate[blk], blk, bestGate, best)) {
      bestGate = gate[blk];
      best = blk;
    }
  for (int offset = 16; offset > 0; offset >>= 1) {
    double otherGate = __shfl_down_sync(0xffffffffu, bestGate, offset);
    int other = __shfl_down_sync(0xffffffffu, best, offset);
    if (attnc_route_before(otherGate, other, bestGate, best)) {
      bestGate = otherGate;
      best = other;
    }
  }
  return __shfl_sync(0xffffffffu, best, 0);
}

/// Element j (0..7) of 8 packed 16-bit values, as a double.
static __device__ __forceinline__ double attnc_route_lane(const uint4 &v, int j) {
  const unsigned word = j < 2 ? v.x : j < 4 ? v.y : j < 6 ? v.z : v.w;
  return attnc_route_value((unsigned short)((j & 1) ? word >> 16 : word & 0xffffu));
}

constexpr int kAttncRouteUnitsPerWarp = 4;

/// Gates, forced and forbidden blocks, selection and bitmask of consecutive units: warp w of
/// CTA x takes units [(x * warps + w) * unitsPerWarp, + unitsPerWarp) of (head blockIdx.y,
/// batch blockIdx.z), unitsPerWarp <= kAttncRouteUnitsPerWarp. Each lane takes blocks
/// lane, lane + 32, ... and runs one float64 dot-product chain per unit of the warp (summed
/// in channel order like the reference): the chains share every key-mean load, and queries
/// come in 16-byte loads (rows are 16-byte aligned, head_dim a multiple of 8), so the kernel
/// is bound by float64 arithmetic, not by load instructions. Blocks forbidden for every unit
/// of the warp skip the chain (their gate is never read).
/// Dynamic shared memory: warps * unitsPerWarp * numBlocks * 9 bytes.
extern "C" __global__ void attnc_route_select(const AttncForwardParams p, const AttncArgs a,
                                              const double *keyMean, const int *counts,
                                              const double *queryMean, unsigned *routeMask,
                                              int numBlocks, int units, int unitsPerWarp) {
  constexpr int kUnits = kAttncRouteUnitsPerWarp;
  extern __shared__ double attnc_route_smem[];
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, warps = blockDim.x >> 5;
  const int h = blockIdx.y, b = blockIdx.z;
  const int firstUnit = (blockIdx.x * warps + warp) * unitsPerWarp;
  if (firstUnit >= units)
    return; // the whole warp: no CTA-wide synchronisation follows
  const int count = min(unitsPerWarp, units - firstUnit);
  double *gates = attnc_route_smem + (long long)warp * unitsPerWarp * numBlocks;
  unsigned char *states =
      (unsigned char *)(attnc_route_smem + (long long)warps * unitsPerWarp * numBlocks) +
      (long long)warp * unitsPerWarp * numBlocks;
  const int kvh = attnc_kv_head(a, h), d = a.head_dim;
  const int unitSize = attnc_route_unit_size(a);

  for (int blk = lane; blk < numBlocks; blk += 32) {
    // States first: they decide whether the gates are needed at all.
    bool needGate = false;
#pragma unroll
    for (int u = 0; u < kUnits; ++u) {
      if (u >= count)
        break;
      const int tokenLo = (firstUnit + u) * unitSize, tokenHi = min(a.q_len, tokenLo + unitSize);
      unsigned char st = kRouteEmpty;
      if (counts[blk] != 0) {
        // ANY token of the unit forces, EVERY token forbids; forbidden beats forced.
        bool anyAlways = false, everyNever = AttncRoutePolicy::kHasNever;
        for (int t = tokenLo; t < tokenHi && (AttncRoutePolicy::kHasAlways || everyNever); ++t) {
          if (AttncRoutePolicy::kHasAlways && !anyAlways && attnc_route_always(a, b, h, t, blk))
            anyAlways = true;
          if (everyNever && !attnc_route_never(a, b, h, t, blk))
            everyNever = false;
          if (anyAlways && !everyNever)
            break;
        }
        st = everyNever ? kRouteForbidden : (anyAlways ? kRouteForced : kRouteCandidate);
      }
      states[u * numBlocks + blk] = st;
      gates[u * numBlocks + blk] = 0.0;
      needGate = needGate || st == kRouteForced || st == kRouteCandidate;
    }
    if (!needGate)
      continue;
    // Channel c of this block's mean key is key[c * numBlocks] (see attnc_route_pool_keys).
    const double *key = keyMean + ((long long)b * a.kv_heads + kvh) * d * numBlocks + blk;
    double dot[kUnits];
#pragma unroll
    for (int u = 0; u < kUnits; ++u)
      dot[u] = 0.0;
    if constexpr (AttncRoutePolicy::kPer == 0) {
      // Per-token units: the query rows themselves (units past `count` repeat the last row).
      const unsigned short *rows[kUnits];
#pragma unroll
      for (int u = 0; u < kUnits; ++u)
        rows[u] = (const unsigned short *)p.q + b * p.q_stride[0] + h * p.q_stride[1] +
                  (long long)(firstUnit + min(u, count - 1)) * p.q_stride[2];
      for (int c0 = 0; c0 < d; c0 += 8) {
        uint4 q8[kUnits];
#pragma unroll
        for (int u = 0; u < kUnits; ++u)
          q8[u] = *(const uint4 *)(rows[u] + c0);
#pragma unroll
        for (int j = 0; j < 8; ++j) {
          const double k = key[(long long)(c0 + j) * numBlocks];
#pragma unroll
          for (int u = 0; u < kUnits; ++u)
            dot[u] = __dadd_rn(dot[u], __dmul_rn(attnc_route_lane(q8[u], j), k));
        }
      }
    } else {
      const double *rows[kUnits];
#pragma unroll
      for (int u = 0; u < kUnits; ++u)
        rows[u] =
            queryMean + (((long long)b * a.heads + h) * units + firstUnit + min(u, count - 1)) * d;
      for (int c0 = 0; c0 < d; c0 += 2) {
        double2 q2[kUnits];
#pragma unroll
        for (int u = 0; u < kUnits; ++u)
          q2[u] = *(const double2 *)(rows[u] + c0);
        const double k0 = key[(long long)c0 * numBlocks], k1 = key[(long long)(c0 + 1) * numBlocks];
#pragma unroll
        for (int u = 0; u < kUnits; ++u) {
          dot[u] = __dadd_rn(dot[u], __dmul_rn(q2[u].x, k0));
          dot[u] = __dadd_rn(dot[u], __dmul_rn(q2[u].y, k1));
        }
      }
    }
#pragma unroll
    for (int u = 0; u < kUnits; ++u)
      if (u < count)
        gates[u * numBlocks + blk] =
            attnc_route_gate(a, b, h, (firstUnit + u) * unitSize, blk, dot[u]);
  }
  __syncwarp();

  for (int u = 0; u < count; ++u) {
    const int unit = firstUnit + u;
    const double *gate = gates + u * numBlocks;
    unsigned char *state = states + u * numBlocks;
    int numForced = 0;
    for (int blk = lane; blk < numBlocks; blk += 32)
      numForced += state[blk] == kRouteForced;
    for (int offset = 16; offset > 0; offset >>= 1)
      numForced += __shfl_xor_sync(0xffffffffu, numForced, offset);

    if constexpr (AttncRoutePolicy::kThreshold) {
      const double mass = AttncRoutePolicy::kMass;
      // Softmax over forced and candidate blocks, summed in block order on lane 0 (as the
      // reference does), then candidates in gate order until the mass is reached.
      double maxGate = 0.0, total = 0.0, selectedMass = 0.0;
      if (lane == 0) {
        const double ninf = __longlong_as_double(0xfff0000000000000ll);
        maxGate = ninf;
        for (int blk = 0; blk < numBlocks; ++blk)
          if ((state[blk] == kRouteForced || state[blk] == kRouteCandidate) &&
              gate[blk] == gate[blk])
            maxGate = fmax(maxGate, gate[blk]);
        for (int blk = 0; blk < numBlocks; ++blk)
          if ((state[blk] == kRouteForced || state[blk] == kRouteCandidate) &&
              gate[blk] == gate[blk])
            total += maxGate == ninf ? 1.0 : exp(gate[blk] - maxGate);
        for (int blk = 0; blk < numBlocks; ++blk)
          if (state[blk] == kRouteForced && total > 0 && gate[blk] == gate[blk])
            selectedMass += (maxGate == ninf ? 1.0 : exp(gate[blk] - maxGate)) / total;
      }
      selectedMass = __shfl_sync(0xffffffffu, selectedMass, 0);
      total = __shfl_sync(0xffffffffu, total, 0);
      maxGate = __shfl_sync(0xffffffffu, maxGate, 0);
      const double ninf = __longlong_as_double(0xfff0000000000000ll);
      while (!(selectedMass >= mass)) {
        int best = attnc_route_best(gate, state, numBlocks);
        if (best < 0)
          break;
        if (total > 0 && gate[best] == gate[best])
          selectedMass += (maxGate == ninf ? 1.0 : exp(gate[best] - maxGate)) / total;
        __syncwarp();
        if (lane == 0)
          state[best] = kRouteChosen;
        __syncwarp();
      }
    } else {
      const int topN = AttncRoutePolicy::kTopN;
      for (int extra = topN - numForced; extra > 0; --extra) {
        int best = attnc_route_best(gate, state, numBlocks);
        if (best < 0)
          break;
        __syncwarp();
        if (lane == 0)
          state[best] = kRouteChosen;
        __syncwarp();
      }
    }
    __syncwarp();
    unsigned *mask = routeMask + (((long long)b * a.heads + h) * units + unit) * a.route_words;
    for (int w = lane; w < a.route_words; w += 32) {
      unsigned bits = 0;
      for (int j = 0; j < 32; ++j) {
        int blk = w * 32 + j;
        if (blk < numBlocks && (state[blk] == kRouteForced || state[blk] == kRouteChosen))
          bits |= 1u << j;
      }
      mask[w] = bits;
    }
    __syncwarp(); // lanes together before the next unit's selection
  }
}

static __device__ __forceinline__ bool attnc_route_bit(const AttncArgs &a, int b, int h, int unit,
                                                       int blk) {
  const int units = (a.q_len + attnc_route_unit_size(a) - 1) / attnc_route_unit_size(a);
  // The kernel also evaluates the mask on padding rows (q >= q_len): those have no unit.
  if (unit < 0 || unit >= units || blk < 0 || (blk >> 5) >= a.route_words)
    return false;
  const unsigned *mask =
      a.route_mask + (((long long)b * a.heads + h) * units + unit) * a.route_words;
  return (mask[blk >> 5] >> (blk & 31)) & 1u;
}

namespace attnc {

/// The program's variant with routing (FlashInfer's variant composition): the mask keeps a
/// pair only where the key's block was selected for the query's unit, and the classifier
/// cuts the program's classes by the selection. Factors are the unrouted mask's, so the
/// kernels use the whole routed mask; ROWS tiles (one selection bit per row) exist where
/// blocks are key ranges.
template <class P, class R> struct RoutedVariant : P {
  static constexpr bool kMaskAlwaysTrue = false;
  static constexpr bool kMaskFactors = false;
  static constexpr bool kHasRowTiles = !R::kTiled;

  /// The whole keep predicate: key k's block is selected for q's unit, and the mask holds.
  static __device__ __forceinline__ bool mask(const AttncArgs &a, int b, int h, int q, int k) {
    return attnc_route_bit(a, b, h, q / attnc_route_unit_size(a), P::routeBlockOf(a, k)) &&
           P::mask(a, b, h, q, k);
  }

  /// Whether q's unit selected the route block of key kLo. On a tile whose keys all lie in
  /// kLo's block (the classifier below checks) this is the whole routing predicate of row q.
  static __device__ __forceinline__ bool rowKeep(const AttncArgs &a, int b, int h, int q, int kLo) {
    return attnc_route_bit(a, b, h, q / attnc_route_unit_size(a), P::routeBlockOf(a, kLo));
  }

  /// The mask's classification, cut by routing: EMPTY when no pair of the tile is routed;
  /// ROWS when the mask alone keeps the whole tile, its keys lie in one route block and only
  /// some rows selected it (per-token routing: the common case, one bit per row instead of
  /// one per pair); otherwise at most PARTIAL when some pairs are not routed.
  static __device__ __forceinline__ int classify(const AttncArgs &a, int b, int h, int qLo, int qHi,
                                                 int kLo, int kHi) {
    const int cls = P::classify(a, b, h, qLo, qHi, kLo, kHi);
    if (cls == ATTNC_TILE_EMPTY)
      return cls;
    const int unitSize = attnc_route_unit_size(a);
    qHi = min(qHi, a.q_len - 1);
    kHi = min(kHi, a.kv_len - 1);
    bool any = false, all = true;
    // Stops as soon as the answer is PARTIAL (some bit set, some clear): with per-token
    // units a 128-row tile has 128 bitmasks to look at, and most tiles are decided after a
    // few.
    for (int unit = qLo / unitSize; unit <= qHi / unitSize && !(any && !all); ++unit) {
      if constexpr (R::kTiled) {
        for (int k = kLo; k <= kHi; ++k) {
          const bool bit = attnc_route_bit(a, b, h, unit, P::routeBlockOf(a, k));
          any = any || bit;
          all = all && bit;
        }
      } else {
        for (int blk = kLo / R::kBlock; blk <= kHi / R::kBlock; ++blk) {
          const bool bit = attnc_route_bit(a, b, h, unit, blk);
          any = any || bit;
          all = all && bit;
        }
      }
    }
    if (!any)
      return ATTNC_TILE_EMPTY;
    if (all)
      return cls;
    const bool oneBlock = !R::kTiled && kLo / R::kBlock == kHi / R::kBlock;
    return cls == ATTNC_TILE_FULL && oneBlock ? ATTNC_TILE_ROWS : ATTNC_TILE_PARTIAL;
  }
};

} // namespace attnc
