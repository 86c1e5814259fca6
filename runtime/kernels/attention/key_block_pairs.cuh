//===- attention/key_block_pairs.cuh - Which 64-key blocks share a key tile ===//
//
// The sm_90a backward's key tile is 128 keys, one 64-key block per consumer warpgroup, and it
// visits every query tile either block keeps: a query tile kept by one block only costs the
// other warpgroup a tile of masked work. Adjacent blocks keep nearly the same query tiles
// under most masks (causal, windows, prefixes), but not under all: a strided shard's block
// keeps every later query while its neighbours keep a band, so pairing it with a neighbour
// runs a half-empty tile for every query past the band (a third of s2_shards' work). So the
// blocks are paired by where their query ranges end: within each window of kWindow blocks
// (one warp), sorted by (last query tile, first query tile, index), neighbours in that order
// share a tile. Where adjacent blocks end together the sort keeps them together, and the
// pairs are the natural ones; a window keeps its natural pairs unless the sorted ones cover
// fewer query tiles.
//
// A key tile's query intervals are the union of its blocks' (block_intervals, per query
// head); its blocks are key_blocks[2 unit], key_blocks[2 unit + 1] (the lower first; a block
// past kv_len when the count is odd: its keys are out of bounds).
//
// LAUNCH: one warp per (window, KV head, batch), after attnc_backward_query_intervals.
//
//===----------------------------------------------------------------------===//
#ifndef ATTNC_KERNELS_ATTENTION_KEY_BLOCK_PAIRS_CUH
#define ATTNC_KERNELS_ATTENTION_KEY_BLOCK_PAIRS_CUH

#include "attnc_backward_params.h"

namespace attnc {
namespace backward {

/// The first keys of a key tile's two blocks.
struct KeyTileBlocks {
  int k0[2];
};

struct KeyBlockPairs {
  static constexpr int kBlock = 64;  // keys per block: a consumer warpgroup's
  static constexpr int kWindow = 32; // blocks sorted together: one per lane
  static constexpr int kTileRows = 2 * kBlock;

  static __device__ __forceinline__ int blocks(const AttncArgs &a) {
    return (a.kv_len + kBlock - 1) / kBlock;
  }
  static __device__ __forceinline__ int tiles(const AttncArgs &a) {
    return (a.kv_len + kTileRows - 1) / kTileRows;
  }
  static __device__ __forceinline__ KeyTileBlocks tileBlocks(const AttncBackwardParams &p,
                                                             long long unit) {
    const int2 pair = __ldg(reinterpret_cast<const int2 *>(p.key_blocks) + unit);
    return KeyTileBlocks{{pair.x * kBlock, pair.y * kBlock}};
  }

  /// The hooks' interval set (AttncKr) of x.
  static __device__ __forceinline__ AttncKr intervalSet(const AttncQueryIntervals &x) {
    AttncKr r;
    r.n = max(0, min(x.count, ATTNC_MAX_KV_RANGES));
#pragma unroll
    for (int i = 0; i < ATTNC_MAX_KV_RANGES; ++i) {
      r.lo[i] = x.lo[i];
      r.hi[i] = x.hi[i];
    }
    return r;
  }

  /// out = x u y (y may be null) by the hooks' union (attnc_kr_or: more than
  /// ATTNC_MAX_KV_RANGES intervals are merged across their narrowest gaps, a wider set that is
  /// still sound, as the tiles are classified).
  static __device__ __forceinline__ void
  unite(const AttncQueryIntervals &x, const AttncQueryIntervals *y, AttncQueryIntervals &out) {
    const AttncKr u = attnc_kr_or(intervalSet(x), y ? intervalSet(*y) : attnc_kr_none());
#pragma unroll
    for (int i = 0; i < ATTNC_MAX_KV_RANGES; ++i) {
      out.lo[i] = i < u.n ? (int)u.lo[i] : 0;
      out.hi[i] = i < u.n ? (int)u.hi[i] : 0;
    }
    out.count = u.n;
  }

  /// One warp per (window, KV head, batch): sorts the window's blocks by the hull of their
  /// query intervals over the group's query heads, pairs neighbours, and writes each pair's
  /// blocks and its union of intervals per query head.
  static __device__ __forceinline__ void write(const AttncBackwardParams &p, const AttncArgs &a) {
    const long long warpIndex = ((long long)blockIdx.x * blockDim.x + threadIdx.x) / 32;
    const int lane = (int)threadIdx.x % 32;
    const int nBlocks = blocks(a), nTiles = tiles(a), windows = (nBlocks + kWindow - 1) / kWindow;
    if (warpIndex >= (long long)windows * a.kv_heads * a.batch)
      return;
    const int w = (int)(warpIndex % windows), kvh = (int)(warpIndex / windows % a.kv_heads),
              b = (int)(warpIndex / windows / a.kv_heads);
    const int group = a.heads / a.kv_heads;
    const auto intervals = [&](int h, int block) -> const AttncQueryIntervals & {
      return p.block_intervals[((long long)b * a.heads + h) * nBlocks + block];
    };

    // Sort key: last query tile (exclusive), first query tile, lane; blocks past kv_len last.
    const int block = w * kWindow + lane;
    unsigned long long key = ~0ull << 5 | (unsigned)lane;
    if (block < nBlocks) {
      int first = 0x7fffffff, end = 0;
      for (int h = kvh * group; h < (kvh + 1) * group; ++h) {
        const AttncQueryIntervals &x = intervals(h, block);
        for (int i = 0; i < min(x.count, ATTNC_MAX_KV_RANGES); ++i)
          if (x.lo[i] < x.hi[i]) {
            first = min(first, x.lo[i]);
            end = max(end, x.hi[i]);
          }
      }
      if (end == 0) // keeps no query: sorts first
        first = 0;
      key = (unsigned long long)((end + kBlock - 1) / kBlock) << 37 |
            (unsigned long long)(first / kBlock) << 5 | (unsigned)lane;
    }
    for (int k = 2; k <= 32; k *= 2) // bitonic sort, ascending across the lanes
      for (int j = k / 2; j > 0; j /= 2) {
        const unsigned long long other = __shfl_xor_sync(0xffffffffu, key, j);
        key = ((lane & j) == 0) == ((lane & k) == 0) ? min(key, other) : max(key, other);
      }
    const int sorted = w * kWindow + (int)(key & 31);
    const int sx = __shfl_sync(0xffffffffu, sorted, (2 * lane) % 32),
              sy = __shfl_sync(0xffffffffu, sorted, (2 * lane + 1) % 32);
    const int pairs = (min(kWindow, nBlocks - w * kWindow) + 1) / 2;
    // The sorted pairs only where they cover fewer query tiles than the adjacent ones: blocks
    // apart cost the producer a classification each, which a radial window's reordering (its
    // ends step with the key's place in the frame) would pay for no fewer tiles.
    const auto cover = [&](int x, int y) {
      const int lower = min(x, y), upper = max(x, y);
      int tiles = 0;
      for (int h = kvh * group; h < (kvh + 1) * group; ++h) {
        AttncQueryIntervals u;
        unite(intervals(h, lower), upper < nBlocks ? &intervals(h, upper) : nullptr, u);
        for (int i = 0; i < u.count; ++i)
          tiles += (u.hi[i] + kBlock - 1) / kBlock - u.lo[i] / kBlock;
      }
      return tiles;
    };
    const int nx = w * kWindow + 2 * lane, ny = nx + 1;
    int gain = lane < pairs ? cover(nx, ny) - cover(sx, sy) : 0;
    for (int offset = 16; offset > 0; offset /= 2)
      gain += __shfl_xor_sync(0xffffffffu, gain, offset);
    if (lane >= pairs)
      return;
    const int x = gain > 0 ? sx : nx, y = gain > 0 ? sy : ny;
    const int tile = w * (kWindow / 2) + lane, lower = min(x, y), upper = max(x, y);
    const long long unit = ((long long)b * a.kv_heads + kvh) * nTiles + tile;
    reinterpret_cast<int2 *>(p.key_blocks)[unit] = make_int2(lower, upper);
    for (int h = kvh * group; h < (kvh + 1) * group; ++h)
      unite(intervals(h, lower), upper < nBlocks ? &intervals(h, upper) : nullptr,
            p.q_intervals[((long long)b * a.heads + h) * nTiles + tile]);
  }
};

} // namespace backward
} // namespace attnc

#endif // ATTNC_KERNELS_ATTENTION_KEY_BLOCK_PAIRS_CUH
