//===- range_scan.cuh - The candidate key tiles of a query tile -----------===//
//
// A query tile's candidate keys are the intervals V::kvRanges gives (the compiler's interval
// analysis: no N^2 metadata); the scan walks their kBlockN-aligned key tiles and classifies
// them with V::classify (EMPTY, PARTIAL, FULL, or ROWS for routed masks), a warp-wide batch
// of 32 at a time. The sm90 producer's scanning warp and the longest-first tail counter use
// it; a backward pass visits key tiles' query ranges the same way.
//
//===----------------------------------------------------------------------===//
#ifndef ATTNC_KERNELS_ATTENTION_RANGE_SCAN_CUH
#define ATTNC_KERNELS_ATTENTION_RANGE_SCAN_CUH

#include "attention/scheduler.cuh"
#include "primitives/tile.cuh"

namespace attnc {

/// kFactored: classify with V::classifyFactors (the entry then carries the
/// ATTNC_TILE_*_PROVEN bits of the factors proven on the whole tile).
template <class V, int kBlockN, bool kFactored> struct KeyTileScan {
  using Unit = WorkUnit;
  static_assert(kBlockN % 16 == 0, "the entry's class bits fit below the tile start");

  /// A queued tile's entry: tile start | class (bits 0-1) | with kFactored the
  /// ATTNC_TILE_*_PROVEN bits (bits 2-3); starts are multiples of kBlockN.
  static __device__ __forceinline__ int entryStart(int entry) { return entry & ~15; }
  static __device__ __forceinline__ int entryClass(int entry) { return entry & 3; }
  static __device__ __forceinline__ int entryProven(int entry) {
    return kFactored ? entry & (ATTNC_TILE_INDEX_PROVEN | ATTNC_TILE_DATA_PROVEN) : 0;
  }

  /// The entry of a tile made of two key ranges classified apart: EMPTY or FULL where both
  /// are, else PARTIAL with the factors proven on both (a FULL range proves both, an EMPTY one
  /// neither; both proven on both is FULL).
  static __device__ __forceinline__ int uniteEntries(int x, int y) {
    if (entryClass(x) == entryClass(y) && entryClass(x) != ATTNC_TILE_PARTIAL)
      return x;
    constexpr int kBoth = ATTNC_TILE_INDEX_PROVEN | ATTNC_TILE_DATA_PROVEN;
    const auto proven = [](int entry) {
      return entryClass(entry) == ATTNC_TILE_FULL      ? kBoth
             : entryClass(entry) == ATTNC_TILE_PARTIAL ? entryProven(entry)
                                                       : 0;
    };
    const int both = proven(x) & proven(y);
    return both == kBoth ? ATTNC_TILE_FULL : ATTNC_TILE_PARTIAL | both;
  }

  /// The scanner's classification of one tile.
  static __device__ __forceinline__ int classifyEntry(const AttncArgs &a, int b, int h, int qLo,
                                                      int qHi, int kLo, int kHi) {
    if constexpr (kFactored)
      return V::classifyFactors(a, b, h, qLo, qHi, kLo, kHi);
    else
      return V::classify(a, b, h, qLo, qHi, kLo, kHi);
  }

  /// Moves (r, nx) forward by j candidate tiles (tile::walkKeyTiles) over the n intervals in
  /// lo/hi. The intervals stay in registers: an unrolled select instead of a dynamic index,
  /// which would put them in local memory.
  static __device__ __forceinline__ void walkIntervals(const int (&lo)[ATTNC_MAX_KV_RANGES],
                                                       const int (&hi)[ATTNC_MAX_KV_RANGES], int n,
                                                       int j, int &r, int &nx) {
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

  /// The candidate key tiles of one unit (the intervals of V::kvRanges, in registers)
  /// and a cursor over them, classified 32 at a time by a warp.
  struct UnitTiles {
    int lo[ATTNC_MAX_KV_RANGES] = {}, hi[ATTNC_MAX_KV_RANGES] = {};
    int ranges = 0, range = 0, next = 0;
    __device__ __forceinline__ UnitTiles(const AttncArgs &a, const Unit &unit) {
      ranges = V::kvRanges(a, unit.b, unit.h, unit.q0, unit.qHi, lo, hi);
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
          walkIntervals(lo, hi, ranges, 32, r, start);
        if (!kCoarse || r >= ranges) { // at most 32 candidates left: one batch
          r = range;
          start = next;
          walkIntervals(lo, hi, ranges, lane, r, start);
          const int cls = r < ranges ? classifyTile(a, unit, start) : ATTNC_TILE_EMPTY;
          walkIntervals(lo, hi, ranges, 32, range, next);
          const bool last = range >= ranges;
          emit(start, cls, last);
          if (last)
            return;
          continue;
        }
        // Coarse round: lane j takes candidates [16 j, 16 j + 16) from the cursor.
        r = range;
        start = next;
        walkIntervals(lo, hi, ranges, kChunk * lane, r, start);
        int live = 0;
        if (r < ranges) {
          int rEnd = r, endStart = start;
          walkIntervals(lo, hi, ranges, kChunk - 1, rEnd, endStart);
          // Past the last candidate: the hull ends with the last interval (a wider hull is
          // still sound for EMPTY).
          const int hullEnd = rEnd < ranges
                                  ? min(endStart + kBlockN, a.kv_len) - 1
                                  : min(hi[ranges - 1] / kBlockN * kBlockN + kBlockN, a.kv_len) - 1;
          live =
              V::classify(a, unit.b, unit.h, unit.q0, unit.qHi, start, hullEnd) != ATTNC_TILE_EMPTY;
        }
        unsigned chunks = __ballot_sync(0xffffffffu, live);
        const int baseRange = range, baseNext = next;
        walkIntervals(lo, hi, ranges, 32 * kChunk, range, next);
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
            walkIntervals(lo, hi, ranges, kChunk * c + lane % kChunk, r, start);
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
};

} // namespace attnc

#endif // ATTNC_KERNELS_ATTENTION_RANGE_SCAN_CUH
