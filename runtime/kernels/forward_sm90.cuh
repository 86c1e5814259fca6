//===- forward_sm90.cuh - Block-sparse attention forward for Hopper (sm_90a) ===//
//
// FlashAttention-3 class forward pass driven by the same generated hooks as forward_sm80.cuh
// (KernelArgs.h): TMA loads into a multi-stage shared-memory ring on mbarriers, one producer
// warpgroup and two consumer warpgroups (setmaxnreg), wgmma for S = Q K^T (K in shared
// memory, Q in registers or shared memory) and O += P V (P from registers), the two
// consumers' matrix work
// interleaved by named barriers (ping-pong), and inside each consumer the QK^T of tile i
// issued together with the PV of tile i-1 so the softmax overlaps the tensor cores.
//
// HOW THE RUNTIME USES IT (NVRTC, --gpu-architecture=sm_90a)
//   source = KernelArgs.h + attnc_forward_params.h + attnc_tile.cuh + generated hooks
//            + "#define ATTNC_HEAD_DIM 128\n#define ATTNC_DTYPE_BF16 1\n"
//            + "#include \"forward_sm90.cuh\"\n"
//   This header includes attnc_hopper.cuh and attnc_wgmma.cuh (same folder).
//
// MACROS: ATTNC_HEAD_DIM (64, 128, 256), ATTNC_DTYPE_BF16 / ATTNC_DTYPE_F16 as for sm80, and
//   the generated hooks' ATTNC_* facts (mask comparisons, exact key ranges, summaries, route).
//   Development builds only (ATTNC_DEV_BUILD defined; see below): ATTNC_SM90_TRACE and
//   ATTNC_SM90_DEV_UNMASKED.
//
// ENTRY
//   extern "C" __global__ void attnc_forward_sm90_d<D>_<bf16|f16>(
//       const AttncForwardParams p, const AttncArgs args, const AttncTmaMaps maps)
//   extern "C" __constant__ int attnc_forward_sm90_d<D>_<bf16|f16>_config[8]
//       = {block_m, block_n, threads, stages, dynamic_smem_bytes, head_dim, 1 (TMA maps),
//          1 (persistent)}
//
// LAUNCH (persistent)
//   Work units are the 128-row query tiles of every (batch, head): units = ceil(q_len / 128)
//   x heads x batch. grid = (min(units, SM count), 1, 1); p.tile_counter points to the
//   scheduler workspace (ATTNC_SCHEDULER_INTS ints, the first 4 zeroed before the launch,
//   stream-ordered). block = 384 threads, dynamic shared memory from
//   the table (set CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES first). The maps are
//   4-D views {D, tokens, heads, batch} (byte strides = the element strides of
//   AttncForwardParams x 2), CU_TENSOR_MAP_SWIZZLE_128B, box {64, 128, 1, 1} for Q and
//   {64, block_n, 1, 1} for K and V; K and V maps have kv_heads heads.
//   Requirements as forward_sm80.cuh (16-byte aligned tensors, strides multiples of 8).
//
// WARPGROUPS
//   0: producer. Warp 1 scans: it takes work units (the first is blockIdx.x, then gridDim.x
//      plus an atomicAdd on the counter; decode() orders them for L2 reuse and load
//      balance, and for data-dependent masks the last ones longest first: tailOrder),
//      calls attnc_kv_ranges, classifies the candidate key tiles 32 at a time (one per lane,
//      ballot-compacted; long lists coarse-then-fine) and queues the non-empty ones in
//      chunks (a 4-chunk queue in shared memory on mbarriers), one unit ahead of the
//      loading. Warp 0 loads: for each queued unit it loads Q once that Q buffer is free
//      (two buffers where shared memory allows), then for every queued tile waits for a
//      free stage, writes (start | class) into the stage's slot and issues the K and V TMA
//      copies. A slot holding -1 ends the unit; a unit of -1 ends the kernel. Warps 2-3
//      count the tail units' tiles for the longest-first order (countTail) or only give
//      their registers back.
//   1, 2: consumers, 64 query rows each (block_m = 128), the same key tiles. Per unit they
//      release Q after its last QK^T and write O straight from registers, so the next
//      unit's loads overlap the last PV product and the epilogue. Per tile:
//      S = Q K^T (wgmma, async) and O += P_prev V_prev (async) issued back to back, the
//      softmax of S runs while the PV product is still in flight (128-key tiles; with
//      64-key tiles the stage is released before the exponentials instead), then O is
//      rescaled when needed and S becomes P (bf16/fp16 registers). The stage is released
//      (mbarrier arrive, one per warp) when its PV product completed. Masks of few
//      comparisons keep each warp's Q rows in registers (kQInRegisters), loaded per unit.
//   Semantics (classes, hooks, lazy rescale, empty rows) are exactly those of
//   forward_sm80.cuh; see there.
//
//===----------------------------------------------------------------------===//
#ifndef ATTNC_KERNELS_FORWARD_SM90_CUH
#define ATTNC_KERNELS_FORWARD_SM90_CUH

#include "attnc_forward_params.h"
#include "attnc_hopper.cuh"
#include "attnc_score_element.cuh"
#include "attnc_tile.cuh"
#include "attnc_tile_policy.h"
#include "attnc_wgmma.cuh"

#ifndef ATTNC_HAS_SCORE
#define ATTNC_HAS_SCORE 0
#endif
#ifndef ATTNC_HAS_OUT
#define ATTNC_HAS_OUT 0
#endif

// Development instruments, compiled only in a development build of attnc (cmake
// -DATTNC_DEV_BUILD=ON, whose runtime defines ATTNC_DEV_BUILD and passes ATTNC_KERNEL_DEFINES
// on): ATTNC_SM90_TRACE=1 adds counters (clock64 cycles each role spends waiting, summed over
// all CTAs; ATTNC_TRACE=1 makes the runtime print them after each launch);
// ATTNC_SM90_DEV_UNMASKED=1 runs PARTIAL tiles as FULL ones (WRONG results: what the
// per-element mask costs).
#ifndef ATTNC_SM90_TRACE
#define ATTNC_SM90_TRACE 0
#endif
#ifndef ATTNC_SM90_DEV_UNMASKED
#define ATTNC_SM90_DEV_UNMASKED 0
#endif
#if (ATTNC_SM90_TRACE || ATTNC_SM90_DEV_UNMASKED) && !defined(ATTNC_DEV_BUILD)
#error "ATTNC_SM90_TRACE and ATTNC_SM90_DEV_UNMASKED need a development build (ATTNC_DEV_BUILD)"
#endif
/// Factored masks (KernelArgs.h): the scanner classifies with attnc_classify_factors and
/// PARTIAL tiles evaluate only the factors not proven on the whole tile.
#ifndef ATTNC_MASK_FACTORS
#define ATTNC_MASK_FACTORS 0
#endif
#if ATTNC_SM90_TRACE
enum AttncTraceCounter {
  kTraceConsumerCycles,
  kTraceConsumerWaitQ,
  kTraceConsumerWaitTile,
  kTraceConsumerWaitTurn,
  kTraceConsumerEpilogue,
  kTraceLoaderCycles,
  kTraceLoaderWaitChunk,
  kTraceLoaderWaitStage,
  kTraceLoaderWaitQ,
  kTraceScannerCycles,
  kTraceScannerWaitChunk,
  kTraceScannerWaitUnit,
  kTraceUnits,
  kTraceTiles,
  kTracePartialHalves, ///< each consumer's PARTIAL tiles, summed over both
  kTraceCtas,
  kTraceStartSum,   ///< %globaltimer (ns) at each CTA's start, summed (mod 2^64)
  kTraceEndSum,     ///< ... at each CTA's end (consumer 0's last epilogue)
  kTraceEndMax,     ///< the last CTA's end: CTAs x max - sum = the tail's idle time
  kTraceTailRanked, ///< units handed out in the ranked (longest-first) tail order
  kTraceRankedAt,   ///< %globaltimer when the tail's order was ready (0: never)
  kTraceCounters
};
extern "C" {
__device__ unsigned long long attnc_trace[24];
}
#define ATTNC_TIMED(acc, stmt)                                                                     \
  do {                                                                                             \
    const long long t0_ = clock64();                                                               \
    stmt;                                                                                          \
    acc += clock64() - t0_;                                                                        \
  } while (0)
#define ATTNC_TRACE_ADD(counter, value)                                                            \
  atomicAdd(&attnc_trace[counter], (unsigned long long)(value))
static __device__ __forceinline__ unsigned long long attncGlobalTimer() {
  unsigned long long t;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
  return t;
}
#else
#define ATTNC_TIMED(acc, stmt) stmt
#define ATTNC_TRACE_ADD(counter, value) ((void)0)
#endif

namespace attnc {

template <int kHeadDim, class Kind, int kBlockN, int kStages> struct ForwardSm90 {
  static constexpr int kBlockM = 128;           // two consumer warpgroups of 64 rows
  static constexpr int kThreads = 384;          // producer + 2 consumers
  static constexpr int kPanels = kHeadDim / 64; // 64-column (128-byte) swizzle panels
  static constexpr int kQBytes = kBlockM * kHeadDim * 2;
  static constexpr int kTileBytes = kBlockN * kHeadDim * 2;
  static constexpr int kSTiles = kBlockN / 8; // 8-key column tiles of S
  static constexpr int kDTiles = kHeadDim / 8;
  // The producer classifies tiles (hooks may read summaries or route masks), so it keeps a
  // little more than TMA issue alone would need.
  static constexpr int kProducerRegs = 40;
  static constexpr int kConsumerRegs = 232;

  static_assert(kHeadDim == 64 || kHeadDim == 128 || kHeadDim == 256, "head dim 64/128/256");
  static_assert(kBlockN == 64 || kBlockN == 128, "key tile 64 or 128");
  static_assert(kStages >= 2 && kStages <= 5, "2..5 stages");
  /// Whether each tile's exponentials run under the previous tile's PV product (128-key
  /// tiles) or after it (64-key tiles: the stage is released sooner).
  static constexpr bool kSoftmaxUnderPV = kBlockN == 128;
  static_assert(kProducerRegs * 128 + kConsumerRegs * 256 <= 65536, "register file");

  /// Tile lists travel from the scanning warps to the loading warp in chunks of up to 32
  /// entries (one classification batch): a small queue per scanner in shared memory on
  /// mbarriers. The bookkeeping is written for kScanners scanning warps taking units in
  /// turn; one scans (more waiting warps take issue slots from the consumers).
  static constexpr int kScanners = 1;
  static constexpr int kChunks = kScanners == 1 ? 4 : 2; // per scanner
  static_assert(kScanners >= 1 && kScanners <= 3, "1..3 scanning warps");
  struct Chunk {
    int unit;      ///< the work unit these tiles belong to, or -1: no more units
    int count;     ///< entries used
    int last;      ///< the unit's last chunk
    int entry[32]; ///< key tile start | class, in key order
  };
  struct Aux {
    unsigned long long qFull[2], qEmpty[2]; ///< per Q buffer (kQBuffers used)
    unsigned long long full[kStages];
    unsigned long long empty[kStages];
    unsigned long long chunkFull[kScanners][kChunks], chunkEmpty[kScanners][kChunks];
    /// One phase per unit the loader started (the scanner claims its next unit once the
    /// loader has begun its last one, so a CTA holds at most one claimed, unstarted unit).
    unsigned long long unitBegun[kScanners][2]; ///< [1] unused: keeps the layout

    int slot[kStages]; ///< key tile start | class, or -1: the unit has no more tiles
    int unit[2];       ///< the work unit whose Q is in each buffer, or -1: no more units
    Chunk chunk[kScanners][kChunks];
  };
  static constexpr int kAuxBytes = ((int)sizeof(Aux) + 127) / 128 * 128;
  static constexpr int kRingBytes = 2 * kStages * kTileBytes;
  /// Two Q buffers where shared memory allows (64-key tiles at D = 128, and D = 64): units
  /// alternate between them, so the loader fetches the next unit's Q as soon as it has
  /// queued this unit's tiles, not after the consumers' last QK^T of this unit. Short
  /// units (documents, windows) otherwise wait for that load at every unit boundary. D =
  /// 128 with 128-key tiles has room for one (32 + 3 x 64 KB).
  /// (+ 1024 below: the dynamic shared memory base is only guaranteed 16-byte aligned.)
  static constexpr int kQBuffers =
      2 * kQBytes + kRingBytes + kAuxBytes + 1024 <= 227 * 1024 ? 2 : 1;
  static_assert(kQBuffers == 1 || kQBuffers == 2, "1 or 2 Q buffers");
  // Shared memory: [Q buffers][K stages][V stages][bookkeeping]; every tile 1024-byte aligned.
  static constexpr int kKOffset = kQBuffers * kQBytes;
  static constexpr int kVOffset = kKOffset + kStages * kTileBytes;
  static constexpr int kAuxOffset = kVOffset + kStages * kTileBytes;
  static constexpr int kSmemBytes = kAuxOffset + kAuxBytes + 1024;
  static_assert(kSmemBytes <= 227 * 1024, "shared memory per block (sm_90)");

  /// Q K^T with Q from registers (loaded once per unit with ldmatrix) instead of shared
  /// memory: the product then reads only K from shared memory, a third less traffic on the
  /// shared-memory port that the TMA fills also use. It costs 32 registers per thread at
  /// D = 128, so it is used for masks of at most one comparison per element (the
  /// compiler's ATTNC_MASK_COMPARISONS, a proxy for the registers the mask needs), and of
  /// up to five with 64-key tiles (S takes 32 registers fewer than with 128); masks of more
  /// comparisons spill in the tile loop. D = 256 keeps Q in shared memory (O alone takes 128
  /// registers there).
#if defined(ATTNC_MASK_COMPARISONS)
  static constexpr bool kQInRegisters =
      (ATTNC_MASK_COMPARISONS <= 1 || (kBlockN == 64 && ATTNC_MASK_COMPARISONS <= 5)) &&
      kHeadDim <= 128;
#else
  static constexpr bool kQInRegisters = false;
#endif

  /// Coarse-then-fine classification of long candidate lists (UnitTiles::forEachBatch): for
  /// masks whose key ranges are not exact, where runs of EMPTY candidates are common.
#if defined(ATTNC_KV_RANGES_EXACT) && !ATTNC_KV_RANGES_EXACT
  static constexpr bool kCoarseScan = true;
#else
  static constexpr bool kCoarseScan = false;
#endif
  /// Longest-first order for the last units (tailOrder below): for masks whose unit lengths
  /// the data decides (they read input tensors, or are routed). For masks of indices alone,
  /// decode()'s order already starts long units first (causal-like) or the units are alike
  /// (windows), and the counting would only cost time.
#if (defined(ATTNC_HAS_SUMMARIES) && ATTNC_HAS_SUMMARIES) ||                                       \
    (defined(ATTNC_HAS_ROUTE) && ATTNC_HAS_ROUTE)
  static constexpr bool kLptTail = true;
#else
  static constexpr bool kLptTail = false;
#endif
  /// A queued tile's entry: key start | class (bits 0-1) | for factored masks the
  /// ATTNC_TILE_*_PROVEN bits (bits 2-3); starts are multiples of 64.
  static __device__ __forceinline__ int entryStart(int entry) { return entry & ~15; }
  static __device__ __forceinline__ int entryClass(int entry) { return entry & 3; }
  static __device__ __forceinline__ int entryProven(int entry) {
    return ATTNC_MASK_FACTORS ? entry & (ATTNC_TILE_INDEX_PROVEN | ATTNC_TILE_DATA_PROVEN) : 0;
  }
  /// The scanner's classification of one tile (all of attnc_classify_factors' bits for
  /// factored masks).
  static __device__ __forceinline__ int classifyEntry(const AttncArgs &a, int b, int h, int qLo,
                                                      int qHi, int kLo, int kHi) {
#if ATTNC_MASK_FACTORS
    return attnc_classify_factors(a, b, h, qLo, qHi, kLo, kHi);
#else
    return attnc_classify(a, b, h, qLo, qHi, kLo, kHi);
#endif
  }

  // Named barriers (0 is __syncthreads): the consumers' turns.
  static constexpr int kTurnBarrier = 1; // + consumer index

  static __device__ __forceinline__ unsigned barrierAddress(const unsigned long long &bar) {
    return tile::sharedAddress(&bar);
  }

  /// One work unit: a 128-row query tile of one (batch, head).
  struct Unit {
    int q0, qHi, b, h;
  };
  /// Units in schedule order: head by head, and inside a head the query tiles last to first.
  /// The CTAs running at once then work on one or two heads and read the same keys and
  /// values (L2 reuse), and the longest causal rows start first while the short ones fill
  /// the tail (load balance, with the dynamic scheduler of scan()).
  static __device__ __forceinline__ Unit decode(const AttncArgs &a, int u) {
    const int qTiles = (a.q_len + kBlockM - 1) / kBlockM;
    const int bh = u / qTiles;
    Unit unit;
    unit.q0 = (qTiles - 1 - (u - bh * qTiles)) * kBlockM;
    unit.qHi = min(unit.q0 + kBlockM, a.q_len) - 1;
    unit.b = bh / a.heads;
    unit.h = bh - unit.b * a.heads;
    return unit;
  }

  /// Moves (r, nx) forward by j candidate tiles (tile::walkKeyTiles) over the n intervals in
  /// lo/hi. The intervals stay in registers: an unrolled select instead of a dynamic index,
  /// which would put them in local memory.
  static __device__ __forceinline__ void walk(const int (&lo)[ATTNC_MAX_KV_RANGES],
                                              const int (&hi)[ATTNC_MAX_KV_RANGES], int n, int j,
                                              int &r, int &nx) {
    const auto interval = [&](int i, int &rlo, int &rhi) {
#pragma unroll
      for (int x = 0; x < ATTNC_MAX_KV_RANGES; ++x)
        if (x == i) {
          rlo = lo[x];
          rhi = hi[x];
        }
    };
    tile::walkKeyTiles<kBlockN>(interval, n, j, r, nx);
  }

  /// The candidate key tiles of one unit (the intervals of attnc_kv_ranges, in registers)
  /// and a cursor over them, classified 32 at a time by a warp.
  struct UnitTiles {
    int lo[ATTNC_MAX_KV_RANGES] = {}, hi[ATTNC_MAX_KV_RANGES] = {};
    int ranges = 0, range = 0, next = 0;
    __device__ __forceinline__ UnitTiles(const AttncArgs &a, const Unit &unit) {
      ranges = attnc_kv_ranges(a, unit.b, unit.h, unit.q0, unit.qHi, lo, hi);
      ranges = max(0, min(ranges, ATTNC_MAX_KV_RANGES));
#pragma unroll
      for (int i = 0; i < ATTNC_MAX_KV_RANGES; ++i) {
        lo[i] = max(lo[i], 0);
        hi[i] = min(hi[i], a.kv_len);
      }
    }
    /// The entry class of the key tile at `start`.
    static __device__ __forceinline__ int classifyTile(const AttncArgs &a, const Unit &unit,
                                                       int start) {
      const int kHi = min(start + kBlockN, a.kv_len) - 1;
      return classifyEntry(a, unit.b, unit.h, unit.q0, unit.qHi, start, kHi);
    }
    /// Classifies the unit's candidate tiles, a warp-wide batch of 32 (one per lane) at a
    /// time, and calls emit(start, cls, last) for each batch in key order: this lane's tile
    /// start and class (EMPTY for lanes past the candidates), and whether it is the unit's
    /// last batch (every unit gets one, possibly all EMPTY).
    ///
    /// With kCoarse, more than 32 candidates are first classified in chunks of 16 tiles (a
    /// chunk's key hull per lane, 512 tiles per round), and only the chunks not EMPTY are
    /// classified tile by tile, two chunks per batch. A document's unit has its whole prefix
    /// as candidates ([0, q]) and keeps only its own document's tiles; tile by tile, the
    /// scanner would spend most of a short unit's time on the EMPTY prefix.
    template <bool kCoarse, class Emit>
    __device__ __forceinline__ void forEachBatch(const AttncArgs &a, const Unit &unit, int lane,
                                                 Emit &&emit) {
      constexpr int kChunk = 16;
      for (;;) {
        int r = range, start = next;
        if constexpr (kCoarse)
          walk(lo, hi, ranges, 32, r, start);
        if (!kCoarse || r >= ranges) { // at most 32 candidates left: one batch
          r = range;
          start = next;
          walk(lo, hi, ranges, lane, r, start);
          const int cls = r < ranges ? classifyTile(a, unit, start) : ATTNC_TILE_EMPTY;
          walk(lo, hi, ranges, 32, range, next);
          const bool last = range >= ranges;
          emit(start, cls, last);
          if (last)
            return;
          continue;
        }
        // Coarse round: lane j takes candidates [16 j, 16 j + 16) from the cursor.
        r = range;
        start = next;
        walk(lo, hi, ranges, kChunk * lane, r, start);
        int live = 0;
        if (r < ranges) {
          int rEnd = r, endStart = start;
          walk(lo, hi, ranges, kChunk - 1, rEnd, endStart);
          // Past the last candidate: the hull ends with the last interval (a wider hull is
          // still sound for EMPTY).
          const int hullEnd = rEnd < ranges
                                  ? min(endStart + kBlockN, a.kv_len) - 1
                                  : min(hi[ranges - 1] / kBlockN * kBlockN + kBlockN, a.kv_len) - 1;
          live = attnc_classify(a, unit.b, unit.h, unit.q0, unit.qHi, start, hullEnd) !=
                 ATTNC_TILE_EMPTY;
        }
        unsigned chunks = __ballot_sync(0xffffffffu, live);
        const int baseRange = range, baseNext = next;
        walk(lo, hi, ranges, 32 * kChunk, range, next);
        const bool lastRound = range >= ranges;
        if (chunks == 0u && lastRound)
          emit(next, ATTNC_TILE_EMPTY, true);
        while (chunks != 0u) {
          const int c0 = __ffs(chunks) - 1;
          chunks &= chunks - 1;
          int c1 = -1;
          if (chunks != 0u) {
            c1 = __ffs(chunks) - 1;
            chunks &= chunks - 1;
          }
          const int c = lane < kChunk ? c0 : c1;
          int cls = ATTNC_TILE_EMPTY;
          r = baseRange;
          start = baseNext;
          if (c >= 0) {
            walk(lo, hi, ranges, kChunk * c + lane % kChunk, r, start);
            if (r < ranges)
              cls = classifyTile(a, unit, start);
          }
          emit(start, cls, lastRound && chunks == 0u);
        }
        if (lastRound)
          return;
      }
    }
  };

  /// Longest-first tail (LPT). The scheduler hands out units in decode() order; when unit
  /// lengths depend on the data (documents, routing, N-D windows), the last wave then
  /// holds long and short units at random and some SMs idle while others finish a long
  /// one. So the last kMaxTail (at most 4 waves) units are handed out longest first: at the
  /// start, the producer warps that neither load nor scan count each tail unit's non-empty
  /// key tiles (the same classification as the scanner), and the warp that counts the last
  /// one ranks them into an order. The scheduler workspace (p.tile_counter, 4 + 2 x
  /// kMaxTail ints, the first 4 zeroed before the launch): [0] claims, [1] the tail's order
  /// (0 undecided, 1 ranked, 2 natural), [2] units counted, [4..] counts, then the order.
  /// Nothing waits for the ranking: the first claim in the tail settles [1] with a CAS, so
  /// if the ranking is not done by then (small problems, CTAs not all resident), the tail
  /// keeps the natural order.
  static constexpr int kMaxTail = ATTNC_MAX_TAIL_UNITS;
  static __device__ __forceinline__ int tailUnits(int units) {
    return max(0, min(min(kMaxTail, 4 * (int)gridDim.x), units - 2 * (int)gridDim.x));
  }
  static __device__ __forceinline__ int tailOrder(const AttncForwardParams &p, int units, int u) {
    const int tail = tailUnits(units), first = units - tail;
    if (u < first || u >= units)
      return u;
    int state = *(volatile int *)&p.tile_counter[1];
    if (state == 0) {
      state = atomicCAS(&p.tile_counter[1], 0, 2);
      state = state == 0 ? 2 : state;
    }
    if (state != 1)
      return u;
    ATTNC_TRACE_ADD(kTraceTailRanked, 1);
    __threadfence(); // acquire: the order was written before [1] became 1
    return __ldcg(&p.tile_counter[4 + kMaxTail + (u - first)]);
  }
  /// Producer warp `worker` of `workers` per CTA: counts tail units' tiles, ranks them.
  static __device__ __forceinline__ void countTail(const AttncForwardParams &p, const AttncArgs &a,
                                                   int worker, int workers) {
    const int lane = (int)threadIdx.x % 32;
    const int units = (a.q_len + kBlockM - 1) / kBlockM * a.heads * a.batch;
    const int tail = tailUnits(units), first = units - tail;
    int *count = p.tile_counter + 4, *order = p.tile_counter + 4 + kMaxTail;
    int mine = 0;
    const int stride = (int)gridDim.x * workers;
    for (int i = (int)blockIdx.x * workers + worker; i < tail; i += stride, ++mine) {
      const Unit unit = decode(a, first + i);
      UnitTiles tiles(a, unit);
      int n = 0;
      tiles.template forEachBatch<kCoarseScan>(a, unit, lane, [&](int, int cls, bool) {
        n += __popc(__ballot_sync(0xffffffffu, cls != ATTNC_TILE_EMPTY));
      });
      if (lane == 0)
        count[i] = n;
    }
    if (mine == 0)
      return;
    int done = 0;
    if (lane == 0) {
      __threadfence(); // release the counts
      done = atomicAdd(&p.tile_counter[2], mine) + mine;
    }
    if (__shfl_sync(0xffffffffu, done, 0) != tail)
      return;
    // The last counter ranks: unit i's place = units with more tiles, or as many and
    // earlier (stable). One key orders both: tiles << 16 | (0xffff - i); -1 pads. Lane l
    // holds the keys of units l, l + 32, ...; each key is broadcast once and compared with
    // all of them (branch-free: the tiles' classification above dominates).
    static_assert(kMaxTail <= 0xffff, "tail indices fit 16 bits");
    __threadfence();
    int held[kMaxTail / 32];
#pragma unroll
    for (int m = 0; m < kMaxTail / 32; ++m) {
      const int i = 32 * m + lane;
      held[m] = i < tail ? min(__ldcg(&count[i]), 0x7fff) << 16 | (0xffff - i) : -1;
    }
#pragma unroll
    for (int m = 0; m < kMaxTail / 32; ++m) {
      if (32 * m >= tail)
        break;
#pragma unroll 1
      for (int src = 0; src < 32; ++src) {
        const int key = __shfl_sync(0xffffffffu, held[m], src);
        int before = 0;
#pragma unroll
        for (int m2 = 0; m2 < kMaxTail / 32; ++m2)
          before += held[m2] > key ? 1 : 0;
        before = __reduce_add_sync(0xffffffffu, before);
        if (lane == src && key >= 0)
          order[before] = first + 32 * m + src;
      }
    }
    __threadfence(); // release the order
    __syncwarp();
    if (lane == 0) {
      atomicCAS(&p.tile_counter[1], 0, 1);
#if ATTNC_SM90_TRACE
      atomicMax(&attnc_trace[kTraceRankedAt], attncGlobalTimer());
#endif
    }
  }

  /// Scanning warp `scanner` (producer warp 1 + scanner): takes work units (scanner 0's
  /// first is blockIdx.x, every other one gridDim.x + atomicAdd(counter, 1): dynamic
  /// persistent scheduling), calls attnc_kv_ranges, classifies the candidate key tiles 32 at
  /// a time (one per lane) and queues the non-empty ones, in key order, for the loading
  /// warp. Each scanner runs one of its units ahead of the loader, so range analysis,
  /// classification (which may read summaries or route lists) and the scheduler's atomic
  /// stay off the consumers' critical path, but claims a unit only once the loader has
  /// started its previous one (the tail stays balanced).
  static __device__ __forceinline__ void scan(const AttncForwardParams &p, const AttncArgs &a,
                                              Aux &aux, int scanner) {
    const int lane = (int)threadIdx.x % 32;
    const int units = (a.q_len + kBlockM - 1) / kBlockM * a.heads * a.batch;
    int chunks = 0; // chunks queued, continued across units
    [[maybe_unused]] const long long tStart = clock64();
    [[maybe_unused]] long long tWaitChunk = 0, tWaitUnit = 0;
    auto publish = [&](int u, unsigned keep, int value, int last) {
      const int c = chunks % kChunks;
      ATTNC_TIMED(tWaitChunk, hopper::barrierWait(barrierAddress(aux.chunkEmpty[scanner][c]),
                                                  ((chunks / kChunks) & 1) ^ 1));
      Chunk &chunk = aux.chunk[scanner][c];
      if (keep & (1u << lane))
        chunk.entry[__popc(keep & ((1u << lane) - 1))] = value;
      if (lane == 0) {
        chunk.unit = u;
        chunk.count = __popc(keep);
        chunk.last = last;
      }
      hopper::barrierArrive(barrierAddress(aux.chunkFull[scanner][c])); // every writer releases
      ++chunks;
    };
    const auto claim = [&] {
      int u = 0;
      if (lane == 0) {
        u = (int)gridDim.x + atomicAdd(p.tile_counter, 1);
        if constexpr (kLptTail)
          u = tailOrder(p, units, u);
      }
      return __shfl_sync(0xffffffffu, u, 0);
    };
    int u = scanner == 0 ? (int)blockIdx.x : claim();
    for (int n = 0;; ++n) {
      if (u >= units) {
        publish(-1, 0u, 0, 1);
        if (lane == 0) {
          ATTNC_TRACE_ADD(kTraceScannerCycles, clock64() - tStart);
          ATTNC_TRACE_ADD(kTraceScannerWaitChunk, tWaitChunk);
          ATTNC_TRACE_ADD(kTraceScannerWaitUnit, tWaitUnit);
        }
        return;
      }
      const Unit unit = decode(a, u);
      UnitTiles tiles(a, unit);
      tiles.template forEachBatch<kCoarseScan>(a, unit, lane, [&](int start, int cls, bool last) {
        const unsigned keep = __ballot_sync(0xffffffffu, cls != ATTNC_TILE_EMPTY);
        if (keep != 0u || last)
          publish(u, keep, start | cls, last ? 1 : 0);
      });
      // The next unit, once the loader has started this one (its phase n).
      ATTNC_TIMED(tWaitUnit, hopper::barrierWait(barrierAddress(aux.unitBegun[scanner][0]), n & 1));
      u = claim();
    }
  }

  /// Loading warp (producer warp 0): for each queued unit, its Q once the consumers are done
  /// with the previous one's, then every queued key tile into the ring (waiting for a free
  /// stage, writing start | class into the stage's slot and issuing the K and V TMA
  /// copies), then the unit's end marker.
  static __device__ __forceinline__ void load(const AttncArgs &a, const AttncTmaMaps &maps,
                                              Aux &aux, unsigned sQ, unsigned sK, unsigned sV) {
    const int lane = (int)threadIdx.x % 32;
    const int groupSize = a.heads / a.kv_heads;
    if (lane == 0) {
      hopper::tmaPrefetchDescriptor(&maps.q);
      hopper::tmaPrefetchDescriptor(&maps.k);
      hopper::tmaPrefetchDescriptor(&maps.v);
    }
    int it = 0; // ring position, continued across units
    [[maybe_unused]] const long long tStart = clock64();
    [[maybe_unused]] long long tWaitChunk = 0, tWaitStage = 0, tWaitQ = 0;
    auto push = [&](int entry, int kvh, int b) {
      const int stage = it % kStages;
      ATTNC_TIMED(tWaitStage,
                  hopper::barrierWait(barrierAddress(aux.empty[stage]), ((it / kStages) & 1) ^ 1));
      if (lane == 0) {
        aux.slot[stage] = entry;
        const unsigned bar = barrierAddress(aux.full[stage]);
        if (entry < 0) {
          hopper::barrierArrive(bar);
        } else {
          const int start = entryStart(entry);
          hopper::barrierArriveExpectBytes(bar, 2 * kTileBytes);
#pragma unroll
          for (int p = 0; p < kPanels; ++p) {
            hopper::tmaLoad4d(sK + stage * kTileBytes + p * kBlockN * 128, &maps.k, bar, p * 64,
                              start, kvh, b);
            hopper::tmaLoad4d(sV + stage * kTileBytes + p * kBlockN * 128, &maps.v, bar, p * 64,
                              start, kvh, b);
          }
        }
      }
      __syncwarp();
      ++it;
    };
    // The scanners' queues are read in turn, one whole unit at a time. Per scanner: its
    // chunk count mod 2 * kChunks (queue index and phase parity) in bits 4s..4s+3, and bit
    // 16 + s once it has queued its end (-1).
    unsigned state = 0;
    int scanner = 0, begun = 0;
    for (;;) {
      int count = 0, last = 0, u = 0, c = 0;
      const auto readChunk = [&] {
        const int n = (int)(state >> (4 * scanner)) & 15;
        c = n % kChunks;
        ATTNC_TIMED(tWaitChunk, hopper::barrierWait(barrierAddress(aux.chunkFull[scanner][c]),
                                                    (n / kChunks) & 1));
        // Lane 0 reads the chunk and releases it (see consume()'s nextTile).
        const Chunk &chunk = aux.chunk[scanner][c];
        if (lane == 0) {
          u = *(volatile const int *)&chunk.unit;
          count = *(volatile const int *)&chunk.count;
          last = *(volatile const int *)&chunk.last;
        }
        u = __shfl_sync(0xffffffffu, u, 0);
        count = __shfl_sync(0xffffffffu, count, 0);
        last = __shfl_sync(0xffffffffu, last, 0);
      };
      const auto nextScanner = [&] {
        do
          scanner = scanner + 1 == kScanners ? 0 : scanner + 1;
        while (state & (0x10000u << scanner));
      };
      readChunk();
      if (u < 0) {
        state |= 0x10000u << scanner; // this scanner has ended (its chunk is not released)
        if ((state >> 16) != (1u << kScanners) - 1) {
          nextScanner();
          continue;
        }
      }
      // A new unit (or the end): the Q buffer and the unit slot are free once every
      // consumer warp has finished the previous unit's QK^T products.
      const int qBuffer = begun % kQBuffers;
      ATTNC_TIMED(tWaitQ, hopper::barrierWait(barrierAddress(aux.qEmpty[qBuffer]),
                                              ((begun / kQBuffers) & 1) ^ 1));
      ++begun;
      if (lane == 0) {
        aux.unit[qBuffer] = u;
        const unsigned bar = barrierAddress(aux.qFull[qBuffer]);
        if (u < 0) {
          hopper::barrierArrive(bar);
        } else {
          const Unit unit = decode(a, u);
          hopper::barrierArriveExpectBytes(bar, kQBytes);
#pragma unroll
          for (int p = 0; p < kPanels; ++p)
            hopper::tmaLoad4d(sQ + qBuffer * kQBytes + p * kBlockM * 128, &maps.q, bar, p * 64,
                              unit.q0, unit.h, unit.b);
          hopper::barrierArrive(barrierAddress(aux.unitBegun[scanner][0]));
        }
      }
      __syncwarp();
      if (u < 0) {
        if (lane == 0) {
          ATTNC_TRACE_ADD(kTraceLoaderCycles, clock64() - tStart);
          ATTNC_TRACE_ADD(kTraceLoaderWaitChunk, tWaitChunk);
          ATTNC_TRACE_ADD(kTraceLoaderWaitStage, tWaitStage);
          ATTNC_TRACE_ADD(kTraceLoaderWaitQ, tWaitQ);
        }
        return;
      }
      const Unit unit = decode(a, u);
      const int kvh = unit.h / groupSize;
      for (;;) { // the unit's chunks, all from this scanner
        const Chunk &chunk = aux.chunk[scanner][c];
        for (int i = 0; i < count; ++i) {
          int entry = 0;
          if (lane == 0)
            entry = *(volatile const int *)&chunk.entry[i];
          push(__shfl_sync(0xffffffffu, entry, 0), kvh, unit.b);
        }
        __syncwarp();
        if (lane == 0)
          hopper::barrierArrive(barrierAddress(aux.chunkEmpty[scanner][c]));
        const unsigned n = (((state >> (4 * scanner)) & 15) + 1) % (2 * kChunks);
        state = (state & ~(15u << (4 * scanner))) | (n << (4 * scanner));
        if (last)
          break;
        readChunk();
      }
      push(-1, 0, 0);
      nextScanner();
    }
  }

  /// Turns raw dot products into scoreFactor-unit scores, -inf where dropped (as
  /// forward_sm80.cuh's scoreTile, for the wgmma accumulator layout: rows qRow and qRow + 8,
  /// columns kCol + 8 * j + {0, 1}).
  template <bool kMask, bool kBounds>
  static __device__ __forceinline__ void scoreTile(float (&s)[kBlockN / 2], const AttncArgs &a,
                                                   int b, int h, int qRow, int kCol) {
#pragma unroll
    for (int half = 0; half < 2; ++half) {
      const int q = qRow + half * 8;
      const bool rowIn = !kBounds || q < a.q_len;
#pragma unroll
      for (int nt = 0; nt < kSTiles; ++nt)
#pragma unroll
        for (int j = 0; j < 2; ++j) {
          const int k = kCol + nt * 8 + j;
          float &x = s[nt * 4 + half * 2 + j];
          x = tile::scoreElement<kMask>(a, x, b, h, tile::inside<kBounds>(q, a.q_len),
                                        tile::inside<kBounds>(k, a.kv_len),
                                        rowIn && (!kBounds || k < a.kv_len));
        }
    }
  }

#if ATTNC_MASK_FACTORS
  /// Drops (-inf) the pairs of a tile where mask factor kFactor (0: attnc_mask_index, 1:
  /// attnc_mask_data) is false; a PARTIAL tile of a factored mask runs this for each factor
  /// the classifier did not prove, after scoreTile<false, ...>.
  template <int kFactor>
  static __device__ __forceinline__ void maskFactor(float (&s)[kBlockN / 2], const AttncArgs &a,
                                                    int b, int h, int qRow, int kCol) {
#pragma unroll
    for (int half = 0; half < 2; ++half) {
      const int q = qRow + half * 8;
#pragma unroll
      for (int nt = 0; nt < kSTiles; ++nt)
#pragma unroll
        for (int j = 0; j < 2; ++j) {
          const int k = kCol + nt * 8 + j;
          float &x = s[nt * 4 + half * 2 + j];
          const bool keep =
              kFactor == 0 ? attnc_mask_index(a, b, h, q, k) : attnc_mask_data(a, b, h, q, k);
          x = keep ? x : tile::negInf();
        }
    }
  }
#endif

#if ATTNC_HAS_ROW_TILES
  /// A ROWS tile: rows qRow and qRow + 8 keep their scores where attnc_row_keep holds and
  /// drop them (-inf) otherwise; one predicate per row instead of one mask per element.
  static __device__ __forceinline__ void dropRows(float (&s)[kBlockN / 2], const AttncArgs &a,
                                                  int b, int h, int qRow, int k0) {
#pragma unroll
    for (int half = 0; half < 2; ++half) {
      const bool keep = attnc_row_keep(a, b, h, qRow + half * 8, k0);
#pragma unroll
      for (int nt = 0; nt < kSTiles; ++nt)
#pragma unroll
        for (int j = 0; j < 2; ++j) {
          float &x = s[nt * 4 + half * 2 + j];
          x = keep ? x : tile::negInf();
        }
    }
  }
#endif

  static __device__ __forceinline__ void run(const AttncForwardParams &p, const AttncArgs &a,
                                             const AttncTmaMaps &maps, unsigned char *smemRaw) {
    const Kind kind{};
    const int tid = (int)threadIdx.x;
    const int warpgroup = tid / 128;

    const unsigned base = (tile::sharedAddress(smemRaw) + 1023u) & ~1023u;
    unsigned char *smem = smemRaw + (base - tile::sharedAddress(smemRaw));
    const unsigned sQ = base, sK = base + kKOffset, sV = base + kVOffset;
    Aux &aux = *reinterpret_cast<Aux *>(smem + kAuxOffset);

#if ATTNC_SM90_TRACE
    if (tid == 0) {
      ATTNC_TRACE_ADD(kTraceCtas, 1);
      ATTNC_TRACE_ADD(kTraceStartSum, attncGlobalTimer());
    }
#endif
    if (tid == 0) {
#pragma unroll
      for (int i = 0; i < kQBuffers; ++i) {
        hopper::barrierInit(barrierAddress(aux.qFull[i]), 1);
        hopper::barrierInit(barrierAddress(aux.qEmpty[i]), 8); // one arrive per consumer warp
      }
#pragma unroll
      for (int s = 0; s < kStages; ++s) {
        hopper::barrierInit(barrierAddress(aux.full[s]), 1);
        hopper::barrierInit(barrierAddress(aux.empty[s]), 8);
      }
#pragma unroll
      for (int s = 0; s < kScanners; ++s) {
#pragma unroll
        for (int c = 0; c < kChunks; ++c) {
          hopper::barrierInit(barrierAddress(aux.chunkFull[s][c]), 32); // every scanning lane
          hopper::barrierInit(barrierAddress(aux.chunkEmpty[s][c]), 1);
        }
        hopper::barrierInit(barrierAddress(aux.unitBegun[s][0]), 1);
        hopper::barrierInit(barrierAddress(aux.unitBegun[s][1]), 1);
      }
      hopper::barrierInitFence();
    }
    __syncthreads();

    if (warpgroup == 0) {
      hopper::releaseRegisters<kProducerRegs>();
      if (tid < 32)
        load(a, maps, aux, sQ, sK, sV);
      else if (tid / 32 - 1 < kScanners)
        scan(p, a, aux, tid / 32 - 1);
      else if (kLptTail)
        countTail(p, a, tid / 32 - 1 - kScanners, 3 - kScanners);
      return;
    }
    hopper::claimRegisters<kConsumerRegs>();
    consume(p, a, aux, sQ, sK, sV, warpgroup - 1, kind);
  }

  static __device__ __forceinline__ void consume(const AttncForwardParams &p, const AttncArgs &a,
                                                 Aux &aux, unsigned sQ, unsigned sK, unsigned sV,
                                                 int consumer, Kind kind) {
    const int ctid = (int)threadIdx.x % 128;
    const int warp = ctid / 32, lane = ctid % 32;
    const int g = lane / 4, t = lane % 4;
    const int rowBase = consumer * 64 + warp * 16 + g; // this thread's first row in the block

    float o[kHeadDim / 2];
    float s[kBlockN / 2];
    unsigned pFrag[kBlockN / 16][4];
    float rowMax[2], rowSum[2];
    int q0 = 0, b = 0, h = 0; // the current unit
    const float scaleLog2 = a.scale * 1.4426950408889634f;
    const float factor = tile::scoreFactor(a); // scores -> log2 units, in the exponent's FFMA

    // Ping-pong: a consumer issues its matrix products only on its turn and then hands the
    // turn to the other, so one's softmax runs under the other's products. Both consumers
    // take the same number of turns per unit, so the alternation runs on across units.
    // Consumer 1 gives consumer 0 the first turn; consumer 0 takes one extra turn at the very
    // end (below), so every named-barrier phase sees exactly 128 syncs + 128 arrives.
    const int myTurn = kTurnBarrier + consumer, otherTurn = kTurnBarrier + (consumer ^ 1);
    if (consumer == 1)
      hopper::namedArrive(kTurnBarrier, 256);

    int qBuffer = 0;                            // the current unit's Q buffer
    unsigned qPanel = sQ + consumer * 64 * 128; // this consumer's 64 rows of its panel 0
    unsigned qFrag[kQInRegisters ? kHeadDim / 16 : 1][4];
    // This warp's 16 rows of Q as m16n8k16 A fragments: ldmatrix matrix j = lane / 8 holds
    // rows + 8 * (j % 2) and 16-byte chunk 2 * (kk % 4) + j / 2 of panel kk / 4 (128-byte
    // swizzle: chunk ^ row % 8).
    auto loadQ = [&] {
      if constexpr (kQInRegisters) {
        const int row = consumer * 64 + warp * 16 + ((lane / 8) % 2) * 8 + lane % 8;
#pragma unroll
        for (int kk = 0; kk < kHeadDim / 16; ++kk) {
          const int chunk = (kk % 4) * 2 + lane / 16;
          tile::loadMatrixX4(qFrag[kk], sQ + qBuffer * kQBytes + (kk / 4) * kBlockM * 128 +
                                            row * 128 + ((chunk ^ (row % 8)) * 16));
        }
      }
    };
    // Descriptors as low words plus constant offsets (hopper::descriptorLow128B): the
    // stage's base once per tile, then one add per product.
    const unsigned kDescLow = hopper::descriptorLow128B(sK, 16);
    const unsigned vDescLow = hopper::descriptorLow128B(sV, kBlockN * 128);
    auto issueScores = [&](int stage) {
      const unsigned kLow = kDescLow + stage * (kTileBytes >> 4);
      const unsigned qLow = hopper::descriptorLow128B(qPanel, 16);
#pragma unroll
      for (int kk = 0; kk < kHeadDim / 16; ++kk) {
        const unsigned panel = kk / 4, inRow = (kk % 4) * 32;
        const unsigned long long descK =
            hopper::descriptorFromLow128B(kLow + ((panel * kBlockN * 128 + inRow) >> 4));
        if constexpr (kQInRegisters) {
          wgmma::mmaRSKMajor(kind, s, qFrag[kk], descK, kk > 0 ? 1 : 0);
        } else {
          const unsigned long long descQ =
              hopper::descriptorFromLow128B(qLow + ((panel * kBlockM * 128 + inRow) >> 4));
          wgmma::mmaSS(kind, s, descQ, descK, kk > 0 ? 1 : 0);
        }
      }
    };
    auto issueValues = [&](int stage) {
      const unsigned vLow = vDescLow + stage * (kTileBytes >> 4);
#pragma unroll
      for (int kk = 0; kk < kBlockN / 16; ++kk)
        wgmma::mmaRS(kind, o, pFrag[kk], hopper::descriptorFromLow128B(vLow + kk * 16 * 128 / 16));
    };
    auto release = [&](int stage) {
      __syncwarp();
      if (lane == 0)
        hopper::barrierArrive(barrierAddress(aux.empty[stage]));
    };

    // Softmax of S in place (log2 units, lazy rescale as forward_sm80.cuh); returns the O
    // rescale factors (1 when no rescale is due) for after the pending PV product.
    auto softmax = [&](int entry, float(&alpha)[2]) -> bool {
      const int k0 = entryStart(entry);
      int cls = entryClass(entry);
      [[maybe_unused]] const int proven = entryProven(entry);
#if ATTNC_SM90_DEV_UNMASKED
      cls = cls == ATTNC_TILE_PARTIAL ? ATTNC_TILE_FULL : cls; // wrong results: mask cost only
#endif
      // ROWS tiles are scored as FULL ones, then whole rows dropped (attnc_row_keep).
      const bool rows = ATTNC_HAS_ROW_TILES && cls == ATTNC_TILE_ROWS;
      const bool unmasked = cls == ATTNC_TILE_FULL || rows;
      const bool fast = !ATTNC_HAS_SCORE && unmasked && k0 + kBlockN <= a.kv_len && scaleLog2 > 0.f;
      if (!fast) {
        // Tiles crossing q_len or kv_len are rare: they evaluate the mask even when FULL.
        const int qRow = q0 + rowBase, kCol = k0 + 2 * t;
        if (k0 + kBlockN > a.kv_len || q0 + kBlockM > a.q_len)
          scoreTile<true, true>(s, a, b, h, qRow, kCol);
        else if (!unmasked) {
#if ATTNC_MASK_FACTORS
          scoreTile<false, false>(s, a, b, h, qRow, kCol);
          if (!(proven & ATTNC_TILE_INDEX_PROVEN))
            maskFactor<0>(s, a, b, h, qRow, kCol);
          if (!(proven & ATTNC_TILE_DATA_PROVEN))
            maskFactor<1>(s, a, b, h, qRow, kCol);
#else
          scoreTile<true, false>(s, a, b, h, qRow, kCol);
#endif
        } else
          scoreTile<false, false>(s, a, b, h, qRow, kCol);
        if (!ATTNC_HAS_SCORE && !(scaleLog2 > 0.f))
          tile::applyScale(s, scaleLog2);
      }
#if ATTNC_HAS_ROW_TILES
      if (rows)
        dropRows(s, a, b, h, q0 + rowBase, k0);
#endif
      constexpr float kRescaleSlack = 8.f;
      float tileMax[2];
      bool grow = false;
#pragma unroll
      for (int half = 0; half < 2; ++half) {
        float mx = tile::negInf();
#pragma unroll
        for (int nt = 0; nt < kSTiles; ++nt)
          mx = fmaxf(mx, fmaxf(s[nt * 4 + half * 2], s[nt * 4 + half * 2 + 1]));
        mx = tile::quadMax(mx) * factor;
        tileMax[half] = mx;
        grow = grow || mx > rowMax[half] + kRescaleSlack;
      }
      const bool rescale = __any_sync(0xffffffffu, grow);
#pragma unroll
      for (int half = 0; half < 2; ++half) {
        alpha[half] = 1.f;
        if (rescale) {
          const float mNew = fmaxf(rowMax[half], tileMax[half]);
          alpha[half] = tile::fastExp2(rowMax[half] - (mNew == tile::negInf() ? 0.f : mNew));
          rowMax[half] = mNew;
          rowSum[half] *= alpha[half];
        }
        const float mUse = rowMax[half] == tile::negInf() ? 0.f : rowMax[half];
        // 128-key tiles: four partial sums, as one chain of 32 dependent adds stalls the
        // warp at the end of every tile. (For 64-key tiles one chain measured faster.)
        constexpr int kSums = kBlockN == 128 ? 4 : 1;
        float sum[kSums] = {};
#pragma unroll
        for (int nt = 0; nt < kSTiles; ++nt)
#pragma unroll
          for (int j = 0; j < 2; ++j) {
            float &x = s[nt * 4 + half * 2 + j];
            x = tile::fastExp2(fmaf(x, factor, -mUse));
            sum[(nt * 2 + j) % kSums] += x;
          }
        if constexpr (kSums == 4)
          rowSum[half] += (sum[0] + sum[1]) + (sum[2] + sum[3]);
        else
          rowSum[half] += sum[0];
      }
      return rescale;
    };
    auto rescaleO = [&](const float(&alpha)[2]) {
#pragma unroll
      for (int dt = 0; dt < kDTiles; ++dt) {
        o[dt * 4 + 0] *= alpha[0];
        o[dt * 4 + 1] *= alpha[0];
        o[dt * 4 + 2] *= alpha[1];
        o[dt * 4 + 3] *= alpha[1];
      }
    };
    auto toP = [&]() {
#pragma unroll
      for (int kk = 0; kk < kBlockN / 16; ++kk) {
        pFrag[kk][0] = tile::pack2(kind, s[8 * kk + 0], s[8 * kk + 1]);
        pFrag[kk][1] = tile::pack2(kind, s[8 * kk + 2], s[8 * kk + 3]);
        pFrag[kk][2] = tile::pack2(kind, s[8 * kk + 4], s[8 * kk + 5]);
        pFrag[kk][3] = tile::pack2(kind, s[8 * kk + 6], s[8 * kk + 7]);
      }
    };

    int it = 0; // ring position, continued across units
    [[maybe_unused]] const long long tStart = clock64();
    [[maybe_unused]] long long tWaitQ = 0, tWaitTile = 0, tWaitTurn = 0, tEpilogue = 0;
    [[maybe_unused]] int units = 0, tiles = 0, partialHalves = 0;
    // Lane 0 reads the slot and broadcasts it: the thread that read it is the one that
    // later releases the stage (mbarrier arrive, release semantics), so the producer's
    // rewrite of the slot is ordered after every read of it.
    auto nextTile = [&](int &stage) -> int {
      stage = it % kStages;
      ATTNC_TIMED(tWaitTile,
                  hopper::barrierWait(barrierAddress(aux.full[stage]), (it / kStages) & 1));
      ++it;
      int entry = 0;
      if (lane == 0)
        entry = *(volatile int *)&aux.slot[stage];
      entry = __shfl_sync(0xffffffffu, entry, 0);
#if ATTNC_SM90_TRACE
      tiles += entry >= 0;
      partialHalves += entry >= 0 && entryClass(entry) != ATTNC_TILE_FULL;
#endif
      return entry;
    };

    // The end marker's stage is released at once; Q is released after the last QK^T.
    auto unitDone = [&](int stage) {
      release(stage);
      if (lane == 0)
        hopper::barrierArrive(barrierAddress(aux.qEmpty[qBuffer]));
    };

    for (int n = 0;; ++n) {
      qBuffer = n % kQBuffers;
      qPanel = sQ + qBuffer * kQBytes + consumer * 64 * 128;
      ATTNC_TIMED(tWaitQ,
                  hopper::barrierWait(barrierAddress(aux.qFull[qBuffer]), (n / kQBuffers) & 1));
      int u = 0;
      if (lane == 0)
        u = *(volatile int *)&aux.unit[qBuffer]; // read by the thread that releases Q
      u = __shfl_sync(0xffffffffu, u, 0);
      if (u < 0)
        break;
      const Unit unit = decode(a, u);
#if ATTNC_SM90_TRACE
      ++units;
#endif
      q0 = unit.q0;
      b = unit.b;
      h = unit.h;
#pragma unroll
      for (int i = 0; i < kHeadDim / 2; ++i)
        o[i] = 0.f;
      rowMax[0] = rowMax[1] = tile::negInf();
      rowSum[0] = rowSum[1] = 0.f;
      loadQ();
      // The key tiles: QK^T of tile i issued together with PV of tile i - 1.
      int stage = 0, prevStage = 0;
      int entry = nextTile(stage);
      if (entry < 0) {
        unitDone(stage);
      } else {
        ATTNC_TIMED(tWaitTurn, hopper::namedSync(myTurn, 256));
        wgmma::fence();
        issueScores(stage);
        wgmma::commit();
        hopper::namedArrive(otherTurn, 256);
        wgmma::wait<0>();
        wgmma::fenceOperands(s);
        float alpha[2];
        softmax(entry, alpha);
        toP();
        prevStage = stage;
        for (;;) {
          entry = nextTile(stage);
          if (entry < 0) {
            unitDone(stage);
            break;
          }
          ATTNC_TIMED(tWaitTurn, hopper::namedSync(myTurn, 256));
          wgmma::fence();
          issueScores(stage);
          wgmma::commit();
          issueValues(prevStage);
          wgmma::commit();
          hopper::namedArrive(otherTurn, 256);
          wgmma::wait<1>(); // S is ready, PV may still run
          wgmma::fenceOperands(s);
          if constexpr (kSoftmaxUnderPV) {
            // The softmax runs under the PV product. The wait for PV sits in both arms of
            // the rescale branch: ptxas places a wgmma wait at the top of its basic block,
            // and in the block of the softmax that put it above the exponentials.
            const bool rescale = softmax(entry, alpha);
            if (rescale) {
              wgmma::wait<0>();
              wgmma::fenceOperands(o);
              rescaleO(alpha);
            } else {
              wgmma::wait<0>();
              wgmma::fenceOperands(o);
            }
            release(prevStage);
          } else {
            // 64-key tiles: a short PV product. Here ptxas puts the wait after the mask but
            // before the exponentials, so the stage is released early and the ring refills
            // sooner.
            const bool rescale = softmax(entry, alpha);
            wgmma::wait<0>();
            wgmma::fenceOperands(o);
            release(prevStage);
            if (rescale)
              rescaleO(alpha);
          }
          toP();
          prevStage = stage;
        }
        ATTNC_TIMED(tWaitTurn, hopper::namedSync(myTurn, 256));
        wgmma::fence();
        issueValues(prevStage);
        wgmma::commit();
        hopper::namedArrive(otherTurn, 256);
        wgmma::wait<0>();
        wgmma::fenceOperands(o);
        release(prevStage);
      }
      ATTNC_TIMED(tEpilogue, storeUnit(p, a, kind, o, rowMax, rowSum, q0, b, h, rowBase, t));
    }
#if ATTNC_SM90_TRACE
    if (ctid == 0) {
      ATTNC_TRACE_ADD(kTraceConsumerCycles, clock64() - tStart);
      ATTNC_TRACE_ADD(kTraceConsumerWaitQ, tWaitQ);
      ATTNC_TRACE_ADD(kTraceConsumerWaitTile, tWaitTile);
      ATTNC_TRACE_ADD(kTraceConsumerWaitTurn, tWaitTurn);
      ATTNC_TRACE_ADD(kTraceConsumerEpilogue, tEpilogue);
      ATTNC_TRACE_ADD(kTracePartialHalves, partialHalves);
      if (consumer == 0) {
        ATTNC_TRACE_ADD(kTraceUnits, units);
        ATTNC_TRACE_ADD(kTraceTiles, tiles);
      }
    }
#endif
    if (consumer == 0)
      hopper::namedSync(myTurn, 256); // consumer 1's last hand-over (or its first)
#if ATTNC_SM90_TRACE
    if (consumer == 0 && ctid == 0) {
      const unsigned long long end = attncGlobalTimer();
      ATTNC_TRACE_ADD(kTraceEndSum, end);
      atomicMax(&attnc_trace[kTraceEndMax], end);
    }
#endif
  }

  /// Epilogue of one unit: normalise, LSE, out hook, and the rows straight from registers
  /// to global memory. A quad holds 8 contiguous columns of a row per 8-column tile, two per
  /// lane; a quad transpose gives each lane 8 contiguous columns of one tile instead, so a
  /// row segment of 4 tiles (64 bytes) goes out as 16-byte stores (a quarter of the store
  /// requests of 4-byte ones). Shared memory is
  /// not used, so the producer loads the next unit's Q and key tiles meanwhile.
  static __device__ __forceinline__ void storeUnit(const AttncForwardParams &p, const AttncArgs &a,
                                                   Kind kind, const float (&o)[kHeadDim / 2],
                                                   const float (&rowMax)[2],
                                                   const float (&rowSum)[2], int q0, int b, int h,
                                                   int rowBase, int t) {
    const float kLn2 = 0.6931471805599453f;
    unsigned char *oBase = (unsigned char *)p.o + (b * p.o_stride[0] + h * p.o_stride[1]) * 2;
    const float sums[2] = {tile::quadSum(rowSum[0]), tile::quadSum(rowSum[1])};
#pragma unroll
    for (int half = 0; half < 2; ++half) {
      const int q = q0 + rowBase + half * 8;
      const bool rowIn = q < a.q_len; // the same for the 4 lanes of a quad
      const float l = sums[half];
      // Nothing kept: l is exactly 0. A NaN score makes l NaN: O and LSE become NaN and the
      // out hook's result is not used (l > 0 is false), as in the reference.
      const bool empty = l == 0.f;
      const float inv = empty ? 0.f : 1.f / l;
      if (rowIn && p.lse != nullptr && t == 0)
        p.lse[b * p.lse_stride[0] + h * p.lse_stride[1] + q] =
            empty ? tile::negInf() : (rowMax[half] + log2f(l)) * kLn2;
      unsigned char *row = oBase + (long long)(rowIn ? q : 0) * p.o_stride[2] * 2;
      // Two columns of every 8-column tile, normalised, through the out hook, packed: all
      // before the first store, so the out hook's loads (which may alias O, as far as the
      // compiler knows) are all in flight together.
      unsigned w[kDTiles];
#pragma unroll
      for (int dt = 0; dt < kDTiles; ++dt) {
        float v0 = empty ? 0.f : o[dt * 4 + half * 2] * inv;
        float v1 = empty ? 0.f : o[dt * 4 + half * 2 + 1] * inv;
#if ATTNC_HAS_OUT
        // Evaluated without a branch (at a valid row when this one is past q_len), so the
        // hook's loads of all tiles can be in flight at once; the result is used only for
        // rows inside the sequence that kept something (l > 0: not empty, not NaN).
        const float h0 = attnc_out(a, v0, b, h, rowIn ? q : q0, dt * 8 + 2 * t);
        const float h1 = attnc_out(a, v1, b, h, rowIn ? q : q0, dt * 8 + 2 * t + 1);
        v0 = !(l > 0.f) || !rowIn ? v0 : h0;
        v1 = !(l > 0.f) || !rowIn ? v1 : h1;
#endif
        w[dt] = tile::pack2(kind, v0, v1);
      }
#pragma unroll
      for (int group = 0; group < kDTiles / 4; ++group) {
        unsigned x0 = w[group * 4], x1 = w[group * 4 + 1], x2 = w[group * 4 + 2],
                 x3 = w[group * 4 + 3];
        tile::quadTranspose(x0, x1, x2, x3, t); // lane t: columns (group * 4 + t) * 8 .. + 8
        if (rowIn)
          *reinterpret_cast<uint4 *>(row + (group * 4 + t) * 16) = make_uint4(x0, x1, x2, x3);
      }
    }
  }
};

} // namespace attnc

#define ATTNC_DEFINE_FORWARD_SM90_KERNEL(NAME, D, KIND, BN, STAGES)                                \
  ATTNC_DEFINE_FORWARD_SM90_KERNEL_(NAME, D, KIND, BN, STAGES)
#define ATTNC_DEFINE_FORWARD_SM90_KERNEL_(NAME, D, KIND, BN, STAGES)                               \
  extern "C" {                                                                                     \
  __constant__ int NAME##_config[8] = {                                                            \
      128, BN, 384, STAGES, attnc::ForwardSm90<D, attnc::tile::KIND, BN, STAGES>::kSmemBytes,      \
      D,   1,  1};                                                                                 \
  }                                                                                                \
  extern "C" __global__ void __launch_bounds__(384, 1)                                             \
      NAME(const __grid_constant__ AttncForwardParams p, const __grid_constant__ AttncArgs a,      \
           const __grid_constant__ AttncTmaMaps maps) {                                            \
    extern __shared__ __align__(1024) unsigned char attnc_smem[];                                  \
    attnc::ForwardSm90<D, attnc::tile::KIND, BN, STAGES>::run(p, a, maps, attnc_smem);             \
  }

#ifndef ATTNC_NO_DEFAULT_ENTRY
#ifndef ATTNC_HEAD_DIM
#error "define ATTNC_HEAD_DIM (64, 128 or 256) before including forward_sm90.cuh"
#endif
#if defined(ATTNC_DTYPE_F16) && ATTNC_DTYPE_F16
#define ATTNC_FWD90_KIND F16
#define ATTNC_FWD90_SUFFIX f16
#else
#define ATTNC_FWD90_KIND BF16
#define ATTNC_FWD90_SUFFIX bf16
#endif
// Shared memory (227 KB per block): Q 128 x D plus `stages` K and V tiles of block_n x D.
//   D=64:  128-key tiles, 4 stages -> 16 + 128 KB;  D=128: 128-key tiles, 3 stages -> 32 + 192 KB
//   D=256: 64-key tiles, 2 stages  -> 64 + 128 KB (O takes 128 registers per thread)
// The key tile: attnc_tile_policy.h.
#ifndef ATTNC_KV_RANGES_EXACT
#define ATTNC_KV_RANGES_EXACT 1
#endif
#ifndef ATTNC_HAS_ROUTE
#define ATTNC_HAS_ROUTE 0
#endif
#define ATTNC_FWD90_BLOCK_N                                                                        \
  attnc::tile_policy::sm90KeyTile(ATTNC_HEAD_DIM, ATTNC_KV_RANGES_EXACT, ATTNC_HAS_ROUTE)
#define ATTNC_FWD90_STAGES                                                                         \
  (ATTNC_HEAD_DIM == 256 ? 2 : ATTNC_HEAD_DIM == 64 || ATTNC_FWD90_BLOCK_N == 64 ? 4 : 3)
#define ATTNC_FWD90_NAME3(D, S) attnc_forward_sm90_d##D##_##S
#define ATTNC_FWD90_NAME2(D, S) ATTNC_FWD90_NAME3(D, S)
ATTNC_DEFINE_FORWARD_SM90_KERNEL(ATTNC_FWD90_NAME2(ATTNC_HEAD_DIM, ATTNC_FWD90_SUFFIX),
                                 ATTNC_HEAD_DIM, ATTNC_FWD90_KIND, ATTNC_FWD90_BLOCK_N,
                                 ATTNC_FWD90_STAGES)
#endif // ATTNC_NO_DEFAULT_ENTRY

#endif // ATTNC_KERNELS_FORWARD_SM90_CUH
