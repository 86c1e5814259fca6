//===- online_softmax.cuh - The running row max and sum of a query tile ---===//
//
// Online softmax in log2 units with lazy rescaling: rowMax is the reference the
// accumulators are scaled to. It moves only when some row of the warp sees a max more than
// kRescaleSlack above it; otherwise p = exp2(s - rowMax) stays <= 2^kRescaleSlack, harmless
// in fp32 sums and 16-bit P, and the O rescale (a multiply per accumulator) is skipped.
// LSE = rowMax + log2(l) stays exact either way. Rows whose scores are all -inf so far keep
// rowMax = -inf and subtract 0 instead, so exp2(-inf - -inf) never makes a NaN.
//
//===----------------------------------------------------------------------===//
#ifndef ATTNC_KERNELS_ATTENTION_ONLINE_SOFTMAX_CUH
#define ATTNC_KERNELS_ATTENTION_ONLINE_SOFTMAX_CUH

#include "primitives/fragment.cuh"
#include "primitives/tile.cuh"

namespace attnc {

template <int kRowTiles> struct OnlineSoftmax {
  static constexpr float kRescaleSlack = 8.f;
  float rowMax[kRowTiles][2]; ///< log2 units
  float rowSum[kRowTiles][2]; ///< this thread's partial sums (quadSum() gives the row's)

  __device__ __forceinline__ void reset() {
#pragma unroll
    for (int row = 0; row < kRowTiles; ++row) {
      rowMax[row][0] = rowMax[row][1] = tile::negInf();
      rowSum[row][0] = rowSum[row][1] = 0.f;
    }
  }

  /// Turns the scores of a tile (scoreFactor units, -inf where dropped) into P = exp2(s *
  /// factor - rowMax) in place and adds them to the sums. Returns whether the accumulators
  /// must be rescaled, by alpha (1 for rows that did not move), before P V is added.
  template <class F>
  __device__ __forceinline__ bool update(F &s, float factor, float (&alpha)[kRowTiles][2]) {
    constexpr int kCols = tile::FragmentShape<F>::kColTiles;
    float tileMax[kRowTiles][2];
    bool grow = false;
    tile::forEachRow<F>([&](int row, int half) {
      float mx = tile::negInf();
#pragma unroll
      for (int col = 0; col < kCols; ++col)
        mx = fmaxf(mx, fmaxf(tile::at(s, row, half, col, 0), tile::at(s, row, half, col, 1)));
      mx = tile::quadMax(mx) * factor;
      tileMax[row][half] = mx;
      grow = grow || mx > rowMax[row][half] + kRescaleSlack; // false while mx is -inf
    });
    const bool rescale = __any_sync(0xffffffffu, grow);
    tile::forEachRow<F>([&](int row, int half) {
      alpha[row][half] = 1.f;
      if (rescale) {
        const float mNew = fmaxf(rowMax[row][half], tileMax[row][half]);
        alpha[row][half] =
            tile::fastExp2(rowMax[row][half] - (mNew == tile::negInf() ? 0.f : mNew));
        rowMax[row][half] = mNew;
        rowSum[row][half] *= alpha[row][half];
      }
      const float mUse = rowMax[row][half] == tile::negInf() ? 0.f : rowMax[row][half];
      // 128-key tiles: four partial sums, as one chain of 32 dependent adds stalls the warp
      // at the end of every tile (for 64 keys one chain measured faster).
      constexpr int kSums = kCols == 16 ? 4 : 1;
      float sum[kSums] = {};
      tile::forEachInRow<F>([&](int col, int j) {
        float &x = tile::at(s, row, half, col, j);
        x = tile::fastExp2(fmaf(x, factor, -mUse));
        sum[(col * 2 + j) % kSums] += x;
      });
      if constexpr (kSums == 4)
        rowSum[row][half] += (sum[0] + sum[1]) + (sum[2] + sum[3]);
      else
        rowSum[row][half] += sum[0];
    });
    return rescale;
  }

  /// Scales an accumulator fragment (O) row by row.
  template <class F>
  static __device__ __forceinline__ void rescale(F &o, const float (&alpha)[kRowTiles][2]) {
    tile::forEachRow<F>([&](int row, int half) {
      tile::forEachInRow<F>(
          [&](int col, int j) { tile::at(o, row, half, col, j) *= alpha[row][half]; });
    });
  }
};

} // namespace attnc

#endif // ATTNC_KERNELS_ATTENTION_ONLINE_SOFTMAX_CUH
