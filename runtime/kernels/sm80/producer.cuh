//===- sm80/producer.cuh - The portable forward's key tiles and loads ----===//
//
// The sm80 template's producer side: a block-wide cursor over a query tile's candidate key
// tiles (classified kThreads at a time, the non-empty ones compacted into shared memory) and
// the cp.async copies of Q, K and V tiles into swizzled shared memory.
//
//===----------------------------------------------------------------------===//
#ifndef ATTNC_KERNELS_SM80_PRODUCER_CUH
#define ATTNC_KERNELS_SM80_PRODUCER_CUH

#include "primitives/tile.cuh"

namespace attnc {

template <class V, int kBlockN, int kThreads, int kChunks> struct Sm80Producer {
  /// The shared-memory bookkeeping of TileCursor and forEachStagedTile: which tile and class
  /// each stage holds, the intervals being walked and the current batch of classified
  /// non-empty tiles (entry = tile start | class; starts are multiples of 16, classes fit in
  /// the two low bits).
  template <int kStages> struct Bookkeeping {
    int tileStart[kStages];
    int tileClass[kStages];
    int rangeLo[ATTNC_MAX_KV_RANGES];
    int rangeHi[ATTNC_MAX_KV_RANGES];
    int rangeCount;
    int warpCount[8];
    int list[kThreads];

    /// Thread 0: the n intervals [lo, hi) that V::kvRanges (or V::qRanges) gave, clamped to
    /// [0, limit) (kv_len, or q_len).
    __device__ __forceinline__ void setIntervals(int n, const int (&lo)[ATTNC_MAX_KV_RANGES],
                                                 const int (&hi)[ATTNC_MAX_KV_RANGES], int limit) {
      n = max(0, min(n, ATTNC_MAX_KV_RANGES));
#pragma unroll
      for (int i = 0; i < ATTNC_MAX_KV_RANGES; ++i) {
        rangeLo[i] = max(lo[i], 0);
        rangeHi[i] = min(hi[i], limit);
      }
      rangeCount = n;
    }
  };
  static_assert(kThreads <= 8 * 32, "at most 8 warps (tile-list compaction)");

  /// Walks the block_n-aligned key tiles of the kv intervals, skipping EMPTY ones. The
  /// candidate tiles are classified kThreads at a time, one per thread, and the non-empty
  /// ones compacted into Aux::list: V::classify (which may read input summaries from
  /// global memory) runs in parallel instead of once per tile on the critical path. Every
  /// thread holds the same cursor, and advance() must be called by all threads together
  /// (it synchronises the block when it refills the list).
  ///
  /// kQueryTiles: the axes exchanged, for the backward's key tiles: the intervals are query
  /// intervals (V::qRanges), the tiles query tiles, classified against the fixed key range.
  template <class Aux, bool kQueryTiles = false> struct TileCursor {
    int range = 0; // interval of the next unclassified candidate
    int next = 0;  // first key of the next unclassified candidate (never revisits a tile)
    int pos = 0;   // next entry of Aux::list
    int count = 0; // entries in Aux::list

    /// Moves (r, nx) forward by j candidate tiles (tile::walkKeyTiles over Aux's intervals).
    static __device__ __forceinline__ void walk(const Aux &aux, int j, int &r, int &nx) {
      const auto interval = [&](int i, int &lo, int &hi) {
        lo = aux.rangeLo[i];
        hi = aux.rangeHi[i];
      };
      tile::walkKeyTiles<kBlockN>(interval, aux.rangeCount, j, r, nx);
    }

    /// Classifies the next kThreads candidates and compacts the non-empty ones.
    /// [lo, hi]: the tokens of the other axis (the query tile, or with kQueryTiles the key
    /// tile) the candidates are classified against.
    __device__ __forceinline__ void refill(Aux &aux, const AttncArgs &a, int b, int h, int lo,
                                           int hi) {
      const int tid = (int)threadIdx.x, warp = tid / 32, lane = tid % 32;
      int r = range, start = next;
      walk(aux, tid, r, start);
      int cls = ATTNC_TILE_EMPTY;
      if (r < aux.rangeCount) {
        if constexpr (kQueryTiles)
          cls = V::classify(a, b, h, start, min(start + kBlockN, a.q_len) - 1, lo, hi);
        else
          cls = V::classify(a, b, h, lo, hi, start, min(start + kBlockN, a.kv_len) - 1);
      }
      const bool keep = cls != ATTNC_TILE_EMPTY;
      const unsigned ballot = __ballot_sync(0xffffffffu, keep);
      // No barrier needed before these writes: every thread has read all of the previous
      // batch (the cursors agree) and passed the previous refill's last barrier, after
      // which nobody reads warpCount.
      if (lane == 0)
        aux.warpCount[warp] = __popc(ballot);
      __syncthreads();
      int base = 0, total = 0;
#pragma unroll
      for (int w = 0; w < kThreads / 32; ++w) {
        const int c = aux.warpCount[w];
        base += w < warp ? c : 0;
        total += c;
      }
      if (keep)
        aux.list[base + __popc(ballot & ((1u << lane) - 1u))] = start | cls;
      walk(aux, kThreads, range, next);
      pos = 0;
      count = total;
      __syncthreads(); // the new batch is visible
    }

    /// Finds the next non-empty tile; returns false when none is left.
    __device__ __forceinline__ bool advance(Aux &aux, const AttncArgs &a, int b, int h, int lo,
                                            int hi, int &start, int &cls) {
      while (pos >= count) {
        if (range >= aux.rangeCount)
          return false;
        refill(aux, a, b, h, lo, hi);
      }
      const int entry = aux.list[pos++];
      start = entry & ~3;
      cls = entry & 3;
      return true;
    }
  };

  /// Runs `body(stage, start, cls)` for each tile `next(start, cls)` gives (false: no more),
  /// after `load(stage, start)` issued its copies into one of kStages (1 or 2) shared-memory
  /// stages and they landed; with two stages the next tile's copies overlap the body. Every
  /// thread calls it together; Aux holds the stages' tileStart and tileClass.
  template <int kStages, class Aux, class Next, class Load, class Body>
  static __device__ __forceinline__ void forEachStagedTile(Aux &aux, Next &&next, Load &&load,
                                                           Body &&body) {
    static_assert(kStages == 1 || kStages == 2, "one or two stages");
    int produced = 0;
    bool done = false;
    auto produce = [&](int stage) {
      int start, cls;
      if (!done && next(start, cls)) {
        load(stage, start);
        if (threadIdx.x == 0) {
          aux.tileStart[stage] = start;
          aux.tileClass[stage] = cls;
        }
        ++produced;
      } else {
        done = true;
      }
      tile::copyAsyncCommit(); // always, so group counting stays uniform
    };
    if constexpr (kStages == 2)
      produce(0);
    for (int i = 0;; ++i) {
      if constexpr (kStages == 1)
        produce(0);
      if (i >= produced)
        break;
      tile::copyAsyncWait<0>();
      __syncthreads(); // tile i landed; the other stage's tile is done with
      const int stage = kStages == 2 ? i % 2 : 0;
      const int start = aux.tileStart[stage], cls = aux.tileClass[stage];
      if constexpr (kStages == 2)
        produce((i + 1) % 2); // overlaps this tile's work
      body(stage, start, cls);
      if constexpr (kStages == 1)
        __syncthreads(); // before the next tile's copies overwrite this one
    }
    tile::copyAsyncWait<0>();
  }

  /// Issues the cp.async copies of rows [row0, row0 + kRows) of one 16-bit tensor slice
  /// (token stride `stride`, elements) into a swizzled tile; rows at or past `limit` are
  /// zero-filled (so padding keys and values contribute exact zeros, never NaN garbage).
  /// Each thread copies one fixed chunk column, its rows stepping by kRowStep. With a step
  /// that is a multiple of 8 the swizzle is the same for all its copies; with a step of 4
  /// (D = 256 on 4 warps; then row < 4) it alternates between two values, since
  /// (row + 4) & 7 == row ^ 4.
  template <int kRows>
  static __device__ __forceinline__ void loadTile(unsigned dst, const unsigned char *base,
                                                  long long stride, int row0, int limit) {
    constexpr int kRowStep = kThreads / kChunks;
    static_assert(kThreads % kChunks == 0 && (kRowStep % 8 == 0 || kRowStep == 4),
                  "row step of the tile copies: 4 or a multiple of 8");
    static_assert(kRows % kRowStep == 0, "tile copies split evenly over threads");
    const int row = (int)threadIdx.x / kChunks, chunk = (int)threadIdx.x % kChunks;
    const unsigned char *src = base + ((long long)(row0 + row) * stride + chunk * 8) * 2;
    const long long srcStep = (long long)kRowStep * stride * 2;
    dst += (unsigned)(row * kChunks * 16);
    const unsigned swizzle0 = tile::swizzledOffset<kChunks>(0, chunk ^ (row & 7));
    const unsigned swizzle1 = swizzle0 ^ 64u;
#pragma unroll
    for (int i = 0; i < kRows / kRowStep; ++i) {
      const bool valid = row0 + row + i * kRowStep < limit;
      const unsigned swizzle = (kRowStep % 8 == 0 || i % 2 == 0) ? swizzle0 : swizzle1;
      tile::copyAsync16(dst + i * kRowStep * kChunks * 16 + swizzle, valid ? src : base, valid);
      src += srcStep;
    }
  }
};

} // namespace attnc

#endif // ATTNC_KERNELS_SM80_PRODUCER_CUH
