//===- fragment.cuh - One thread's part of an mma accumulator -------------===//
//
// The m16n8k16 (sm80) and wgmma (sm90) accumulators give each thread the same pieces: of
// every 16-row tile the rows g and g + 8 (g = lane / 4), of every 8-column tile the two
// columns 2t and 2t + 1 (t = lane % 4). The sm80 template holds a fragment as
// float[rowTiles][colTiles][4], the sm90 template (one 16-row tile per warp) as
// float[colTiles * 4]. at() names element (rowTile, half, colTile, j) of either, so the
// score, softmax and epilogue code that works per element is written once.
//
//===----------------------------------------------------------------------===//
#ifndef ATTNC_KERNELS_PRIMITIVES_FRAGMENT_CUH
#define ATTNC_KERNELS_PRIMITIVES_FRAGMENT_CUH

namespace attnc {
namespace tile {

template <class F> struct FragmentShape;
template <int N> struct FragmentShape<float[N]> {
  static_assert(N % 4 == 0, "a flat fragment holds 4 values per column tile");
  static constexpr int kRowTiles = 1, kColTiles = N / 4;
};
template <int M, int N> struct FragmentShape<float[M][N][4]> {
  static constexpr int kRowTiles = M, kColTiles = N;
};

template <int N>
static __device__ __forceinline__ float &at(float (&f)[N], int, int half, int col, int j) {
  return f[col * 4 + half * 2 + j];
}
template <int N>
static __device__ __forceinline__ float at(const float (&f)[N], int, int half, int col, int j) {
  return f[col * 4 + half * 2 + j];
}
template <int M, int N>
static __device__ __forceinline__ float &at(float (&f)[M][N][4], int row, int half, int col,
                                            int j) {
  return f[row][col][half * 2 + j];
}
template <int M, int N>
static __device__ __forceinline__ float at(const float (&f)[M][N][4], int row, int half, int col,
                                           int j) {
  return f[row][col][half * 2 + j];
}

/// Calls fn(row, half) for each row this thread holds, and fn(row, half, col, j) below for
/// each element: the loops every per-element step shares.
template <class F, class Fn> static __device__ __forceinline__ void forEachRow(Fn &&fn) {
#pragma unroll
  for (int row = 0; row < FragmentShape<F>::kRowTiles; ++row)
#pragma unroll
    for (int half = 0; half < 2; ++half)
      fn(row, half);
}
template <class F, class Fn> static __device__ __forceinline__ void forEachInRow(Fn &&fn) {
#pragma unroll
  for (int col = 0; col < FragmentShape<F>::kColTiles; ++col)
#pragma unroll
    for (int j = 0; j < 2; ++j)
      fn(col, j);
}

/// Stores this thread's pieces of a fragment of one 16-row tile as 16-bit pairs: its rows
/// `row` and `row` + 8 (row = the tile's first row + g) at `base` + row * `rowStride`, columns
/// `col0` + 8 col + 2 t and the next, times `scale`; rows from `rows` on are skipped.
template <class F, class Kind>
static __device__ __forceinline__ void storeRowPairs(Kind kind, const F &f, unsigned short *base,
                                                     long long rowStride, int row, int rows,
                                                     int col0, int t, float scale = 1.f) {
  static_assert(FragmentShape<F>::kRowTiles == 1, "one 16-row tile");
#pragma unroll
  for (int half = 0; half < 2; ++half) {
    const int r = row + half * 8;
    if (r < rows) {
#pragma unroll
      for (int col = 0; col < FragmentShape<F>::kColTiles; ++col)
        *(unsigned *)(base + (long long)r * rowStride + col0 + col * 8 + 2 * t) =
            pack2(kind, scale * at(f, 0, half, col, 0), scale * at(f, 0, half, col, 1));
    }
  }
}

} // namespace tile
} // namespace attnc

#endif // ATTNC_KERNELS_PRIMITIVES_FRAGMENT_CUH
