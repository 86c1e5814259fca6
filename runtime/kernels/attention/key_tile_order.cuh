//===- attention/key_tile_order.cuh - The launch order of the key-tile CTAs ===//
//
// The backward runs one CTA per (batch, KV head, key tile) unit, and a unit's length is the
// number of query tiles its producer visits (the non-EMPTY tiles of its query intervals,
// counted before by BackwardSm90::countQueryTiles), which the mask decides. In the natural
// order (key tile fastest, then head, then batch) the CTAs running at once share one or two
// heads' Q and dO in L2, and that is the order to keep when lengths vary smoothly (causal) or
// not at all. But a few units far longer than the rest (an attention sink's first key tile
// sees every query, the other tiles of its sliding window a window's worth; the key tiles of
// a strided shard) are spread over the grid, and those near its end start when the others
// are nearly done and run alone: sink4 lost a fifth of its time so. So when the longest unit
// is kOutlier times the mean, the units go longest first, by a stable counting sort on their
// lengths quantized to kLevelsPerOctave levels per power of two (units of similar lengths
// keep the natural order among them). Measured on the H200 (docs/performance.md): sorting
// always costs causal 3% (each wave then mixes every head), and keeping the natural order
// but for the units that would end late and the last waves longest first gains less on sink4
// and s2 and still costs causal 1.5%.
//
// LAUNCH: one CTA of kThreads threads, after the lengths (p.key_tile_lengths); it writes
// p.key_tile_order[launch index] = natural unit index (key tile + key tiles * (KV head +
// KV heads * batch)).
//
//===----------------------------------------------------------------------===//
#ifndef ATTNC_KERNELS_ATTENTION_KEY_TILE_ORDER_CUH
#define ATTNC_KERNELS_ATTENTION_KEY_TILE_ORDER_CUH

#include "attnc_backward_params.h"

namespace attnc {
namespace backward {

/// One unit of the key-tile kernel.
struct KeyTileUnit {
  int kTile, kvh, b;
};

template <int kBlockN> struct KeyTileOrder {
  static constexpr int kThreads = 1024; // what the launch gives; write() takes any multiple of 32
  static constexpr int kWarps = kThreads / 32;
  static constexpr int kLevelsPerOctave = 4;                // the two bits below the leading one
  static constexpr int kLevels = 32 * kLevelsPerOctave + 1; // lengths up to 2^31
  static constexpr int kOutlier = 4; // sort when the longest unit is this many times the mean

  static __device__ __forceinline__ int keyTiles(const AttncArgs &a) {
    return (a.kv_len + kBlockN - 1) / kBlockN;
  }
  static __device__ __forceinline__ long long units(const AttncArgs &a) {
    return (long long)keyTiles(a) * a.kv_heads * a.batch;
  }
  /// Unit u of the natural order (key tile fastest, then KV head, then batch).
  static __device__ __forceinline__ KeyTileUnit decode(const AttncArgs &a, long long u) {
    const int tiles = keyTiles(a);
    KeyTileUnit unit;
    unit.kTile = (int)(u % tiles);
    unit.kvh = (int)(u / tiles % a.kv_heads);
    unit.b = (int)(u / tiles / a.kv_heads);
    return unit;
  }
  /// The natural index of the unit CTA blockIdx.x runs (a 1-D grid of units(a) CTAs).
  static __device__ __forceinline__ long long unitIndex(const AttncBackwardParams &p) {
    return __ldg(&p.key_tile_order[blockIdx.x]);
  }
  /// Unit u's length: the query tiles it visits (p.key_tile_lengths, counted before).
  static __device__ __forceinline__ long long length(const AttncBackwardParams &p, long long u) {
    return p.key_tile_lengths[u];
  }

  /// Larger for longer units: 0 for none, else kLevelsPerOctave levels per power of two.
  static __device__ __forceinline__ int level(long long length) {
    if (length <= 0)
      return 0;
    const unsigned long long r = (unsigned long long)length;
    const int octave = 63 - __clzll((long long)r);
    const int fraction = (int)((octave >= 2 ? r >> (octave - 2) : r << (2 - octave)) & 3);
    return min(kLevels - 1, 1 + octave * kLevelsPerOctave + fraction);
  }

  /// The whole order, by one CTA: the mean and longest lengths; natural order unless the
  /// longest is kOutlier times the mean; else a stable counting sort by level, longest first:
  /// the levels' first places, then the units scattered chunk by chunk, each after the units
  /// of its level before it.
  static __device__ __forceinline__ void write(const AttncBackwardParams &p, const AttncArgs &a) {
    __shared__ int start[kLevels];
    __shared__ int warpOffsets[kWarps][kLevels];
    __shared__ long long warpTotal[kWarps], warpMax[kWarps];
    const int tid = (int)threadIdx.x, lane = tid % 32, warp = tid / 32;
    const int threads = (int)blockDim.x, warps = threads / 32; // a multiple of 32, <= kThreads
    const long long n = units(a);
    long long total = 0, longest = 0;
    for (int l = tid; l < kLevels; l += threads)
      start[l] = 0;
    for (long long u = tid; u < n; u += threads) {
      const long long r = length(p, u);
      total += r;
      longest = max(longest, r);
      atomicAdd(&start[level(r)], 1);
    }
    for (int o = 16; o > 0; o /= 2) {
      total += __shfl_xor_sync(0xffffffffu, total, o);
      longest = max(longest, __shfl_xor_sync(0xffffffffu, longest, o));
    }
    if (lane == 0) {
      warpTotal[warp] = total;
      warpMax[warp] = longest;
    }
    __syncthreads();
    total = longest = 0;
    for (int w = 0; w < warps; ++w) {
      total += warpTotal[w];
      longest = max(longest, warpMax[w]);
    }
    if (longest * n <= kOutlier * total) { // no outliers: the natural order
      for (long long u = tid; u < n; u += threads)
        p.key_tile_order[u] = (int)u;
      return;
    }
    if (tid == 0) {
      int offset = 0;
      for (int l = kLevels - 1; l >= 0; --l) {
        const int count = start[l];
        start[l] = offset;
        offset += count;
      }
    }
    __syncthreads();
    for (long long chunk = 0; chunk < n; chunk += threads) {
      for (int i = tid; i < warps * kLevels; i += threads)
        warpOffsets[i / kLevels][i % kLevels] = 0;
      __syncthreads();
      const long long u = chunk + tid;
      const int l = u < n ? level(length(p, u)) : -1;
      const unsigned peers = __match_any_sync(0xffffffffu, l);
      const int rank = __popc(peers & ((1u << lane) - 1u));
      if (l >= 0 && rank == 0)
        warpOffsets[warp][l] = __popc(peers);
      __syncthreads();
      for (int lv = tid; lv < kLevels; lv += threads) {
        int offset = start[lv];
        for (int w = 0; w < warps; ++w) {
          const int count = warpOffsets[w][lv];
          warpOffsets[w][lv] = offset;
          offset += count;
        }
        start[lv] = offset;
      }
      __syncthreads();
      if (l >= 0)
        p.key_tile_order[warpOffsets[warp][l] + rank] = (int)u;
      __syncthreads();
    }
  }
};

} // namespace backward
} // namespace attnc

#endif // ATTNC_KERNELS_ATTENTION_KEY_TILE_ORDER_CUH
