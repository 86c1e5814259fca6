//===- dq_accum.cuh - Layouts of the backward's dQ accumulator ------------===//
//
// The key-tile kernels add dQ into an fp32 accumulator (dq_accum) that the dQ store then
// converts; each kernel lays it out as suits its additions, and the store reads it through
// the same type. Per (batch, head), rows(q_len) query rows of D floats:
//   RowMajorDqAccum    dQ's own layout (the portable kernel's per-element atomics)
//   FragmentDqAccum    tiles of kTileRows (the kernel's query tile: 64 or 80) query rows;
//                      each tile D / 64 parts of 64 x kTileRows floats in the order of a
//                      wgmma accumulator fragment of dQ^T (rows: head-dim columns, columns:
//                      queries), so that a warpgroup stages its fragment with 16-byte stores
//                      and adds a part with one bulk reduction (sm90)
// Plain C++ as well (a host test checks that the fragment order is a permutation and that
// it matches the staging stores).
//
//===----------------------------------------------------------------------===//
#ifndef ATTNC_KERNELS_ATTENTION_DQ_ACCUM_CUH
#define ATTNC_KERNELS_ATTENTION_DQ_ACCUM_CUH

#if defined(__CUDACC__) || defined(__CUDACC_RTC__)
#define ATTNC_DQ_ACCUM_FN static __host__ __device__ __forceinline__
#else
#define ATTNC_DQ_ACCUM_FN static inline
#endif

namespace attnc {
namespace backward {

template <int kHeadDim> struct RowMajorDqAccum {
  static constexpr int kTileRows = 1;
  ATTNC_DQ_ACCUM_FN long long rows(int qLen) { return qLen; }
  ATTNC_DQ_ACCUM_FN int offset(int q, int d) { return q * kHeadDim + d; }
};

template <int kHeadDim, int kRows = 64> struct FragmentDqAccum {
  static_assert(kRows % 8 == 0, "whole 8-column tiles of the fragment");
  static constexpr int kTileRows = kRows;
  static constexpr int kPartFloats = 64 * kTileRows;
  ATTNC_DQ_ACCUM_FN long long rows(int qLen) {
    return (qLen + kTileRows - 1) / kTileRows * kTileRows;
  }
  /// Where thread `tid` (of its warpgroup) stages registers 4 c8 .. 4 c8 + 3 of its fragment:
  /// one 16-byte store, consecutive threads at consecutive addresses.
  ATTNC_DQ_ACCUM_FN int stagingOffset(int tid, int c8) { return c8 * 512 + tid * 4; }
  /// Element (row, col) of a 64 x kTileRows part: thread 32 w + 4 g + t holds rows
  /// 16 w + 8 half + g, columns 8 c8 + 2 t + j, as its register 4 c8 + 2 half + j.
  ATTNC_DQ_ACCUM_FN int fragmentOffset(int row, int col) {
    const int thread = 32 * (row / 16) + 4 * (row % 8) + (col % 8) / 2;
    return stagingOffset(thread, col / 8) + ((row / 8) % 2) * 2 + col % 2;
  }
  ATTNC_DQ_ACCUM_FN int offset(int q, int d) {
    return (q / kTileRows) * kTileRows * kHeadDim + (d / 64) * kPartFloats +
           fragmentOffset(d % 64, q % kTileRows);
  }
  /// The query q (in the tile) and head-dim column d of float i (0 .. 3) of a tile's 16-byte
  /// chunk k (its floats 4 k .. 4 k + 3): the inverse of offset, chunk by chunk, for the
  /// store (attention/dq_store.cuh).
  ATTNC_DQ_ACCUM_FN void chunkElement(int k, int i, int &q, int &d) {
    const int part = k / (kPartFloats / 4), c8 = k / 128 % (kTileRows / 8), thread = k % 128;
    q = 8 * c8 + 2 * (thread % 4) + i % 2;
    d = 64 * part + 16 * (thread / 32) + 8 * (i / 2) + thread % 32 / 4;
  }
};

} // namespace backward
} // namespace attnc

#undef ATTNC_DQ_ACCUM_FN

#endif // ATTNC_KERNELS_ATTENTION_DQ_ACCUM_CUH
