//===- epilogue.cuh - Normalise, LSE and the out hook, per row ------------===//
//
// What both forward templates do with a finished query tile before storing it: the row's
// sum l over its quad, 1 / l, the log-sum-exp, and the out hook on the normalised values.
// Only the stores differ (sm90: registers straight to global memory; sm80: staged through
// shared memory), so they stay in the templates.
//
//===----------------------------------------------------------------------===//
#ifndef ATTNC_KERNELS_ATTENTION_EPILOGUE_CUH
#define ATTNC_KERNELS_ATTENTION_EPILOGUE_CUH

#include "attnc_forward_params.h"
#include "primitives/tile.cuh"

namespace attnc {
namespace epilogue {

/// One row's total. Nothing kept: l is exactly 0 (an empty row: O = +0, LSE = -inf). A NaN
/// score makes l NaN: O and LSE become NaN and the out hook is not applied (l > 0 is false),
/// as in the reference.
struct RowTotal {
  float l, inv, rowMax;
  bool empty;
  __device__ __forceinline__ RowTotal(float partialSum, float max)
      : l(tile::quadSum(partialSum)), inv(0.f), rowMax(max), empty(false) {
    empty = l == 0.f;
    inv = empty ? 0.f : 1.f / l;
  }
  /// The row's LSE (natural log) from the log2-unit max and sum.
  __device__ __forceinline__ float lse() const {
    constexpr float kLn2 = 0.6931471805599453f;
    return empty ? tile::negInf() : (rowMax + log2f(l)) * kLn2;
  }
  /// O's value from its accumulator: +0 exactly for empty rows (a -0 product could
  /// otherwise survive).
  __device__ __forceinline__ float normalise(float acc) const { return empty ? 0.f : acc * inv; }
};

/// Writes a row's LSE (when asked for; one lane of the quad, rows inside q_len).
static __device__ __forceinline__ void storeLse(const AttncForwardParams &p, int b, int h, int q,
                                                const RowTotal &row, bool write) {
  if (write && p.lse != nullptr)
    p.lse[b * p.lse_stride[0] + h * p.lse_stride[1] + q] = row.lse();
}

/// Programs with `out`, when asked for (p.o_before_out): two adjacent normalised values of
/// row q before the out hook, stored as they are (4 bytes per lane; rows inside q_len).
template <class V>
static __device__ __forceinline__ void storeBeforeOut(const AttncForwardParams &p, unsigned value,
                                                      int b, int h, int q, int col, bool rowIn) {
  if constexpr (V::kHasOut)
    if (p.o_before_out != nullptr && rowIn)
      *reinterpret_cast<unsigned *>((unsigned short *)p.o_before_out +
                                    b * p.o_before_out_stride[0] + h * p.o_before_out_stride[1] +
                                    (long long)q * p.o_before_out_stride[2] + col) = value;
}

/// The out hook on two adjacent normalised values of row q (columns col, col + 1). It is
/// evaluated without a branch, at row qSafe (a valid row) when q is past q_len, so the
/// hook's loads of all column tiles can be in flight at once; the result is used only for
/// rows inside the sequence that kept something (l > 0: not empty, not NaN).
template <class V>
static __device__ __forceinline__ void applyOut(const AttncArgs &a, const RowTotal &row, float &v0,
                                                float &v1, int b, int h, int q, int qSafe, int col,
                                                bool rowIn) {
  if constexpr (V::kHasOut) {
    const float h0 = V::out(a, v0, b, h, rowIn ? q : qSafe, col);
    const float h1 = V::out(a, v1, b, h, rowIn ? q : qSafe, col + 1);
    v0 = !(row.l > 0.f) || !rowIn ? v0 : h0;
    v1 = !(row.l > 0.f) || !rowIn ? v1 : h1;
  }
}

} // namespace epilogue
} // namespace attnc

#endif // ATTNC_KERNELS_ATTENTION_EPILOGUE_CUH
