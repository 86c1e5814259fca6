//===- scheduler.cuh - Persistent tile scheduling -------------------------===//
//
// Work units are the kBlockM-row query tiles of every (batch, head). A persistent CTA takes
// its first unit from blockIdx.x and each next one from an atomic counter (dynamic
// scheduling); decode() orders units for L2 reuse and load balance, and for masks whose
// unit lengths the data decides, the last units go out longest first (LongestFirstTail).
//
//===----------------------------------------------------------------------===//
#ifndef ATTNC_KERNELS_ATTENTION_SCHEDULER_CUH
#define ATTNC_KERNELS_ATTENTION_SCHEDULER_CUH

#include "attnc_forward_params.h"
#include "primitives/trace.cuh"

namespace attnc {

/// One work unit: a query tile [q0, qHi] of one (batch, head).
struct WorkUnit {
  int q0, qHi, b, h;
};

template <int kBlockM> struct TileScheduler {
  static __device__ __forceinline__ int units(const AttncArgs &a) {
    return (a.q_len + kBlockM - 1) / kBlockM * a.heads * a.batch;
  }
  /// Units in schedule order: head by head, and inside a head the query tiles last to first.
  /// The CTAs running at once then work on one or two heads and read the same keys and
  /// values (L2 reuse), and the longest causal rows start first while the short ones fill
  /// the tail (load balance, with the dynamic scheduler of scan()).
  static __device__ __forceinline__ WorkUnit decode(const AttncArgs &a, int u) {
    const int qTiles = (a.q_len + kBlockM - 1) / kBlockM;
    const int bh = u / qTiles;
    WorkUnit unit;
    unit.q0 = (qTiles - 1 - (u - bh * qTiles)) * kBlockM;
    unit.qHi = min(unit.q0 + kBlockM, a.q_len) - 1;
    unit.b = bh / a.heads;
    unit.h = bh - unit.b * a.heads;
    return unit;
  }
};

/// Scan: the KeyTileScan the scanner classifies with (the same classification decides a
/// tail unit's length); kCoarse: its coarse-then-fine batches.
template <class Scan, int kBlockM, bool kCoarse> struct LongestFirstTail {
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
    const int units = TileScheduler<kBlockM>::units(a);
    const int tail = tailUnits(units), first = units - tail;
    int *count = p.tile_counter + 4, *order = p.tile_counter + 4 + kMaxTail;
    int mine = 0;
    const int stride = (int)gridDim.x * workers;
    for (int i = (int)blockIdx.x * workers + worker; i < tail; i += stride, ++mine) {
      const WorkUnit unit = TileScheduler<kBlockM>::decode(a, first + i);
      typename Scan::UnitTiles tiles(a, unit);
      int n = 0;
      tiles.template forEachBatch<kCoarse>(a, unit, lane, [&](int, int cls, bool) {
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
};

} // namespace attnc

#endif // ATTNC_KERNELS_ATTENTION_SCHEDULER_CUH
