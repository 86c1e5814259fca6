//===- attnc_score_element.cuh - One element of a score tile, through the hooks ===//
//
// Shared by the forward templates (forward_sm80.cuh, forward_sm90.cuh), which differ only in
// where an element sits in their accumulators. Uses the generated hooks, so it must come after
// them (the templates are pasted after the hooks and include this file).
//
//===----------------------------------------------------------------------===//
#ifndef ATTNC_KERNELS_ATTNC_SCORE_ELEMENT_CUH
#define ATTNC_KERNELS_ATTNC_SCORE_ELEMENT_CUH

#include "attnc_tile.cuh"

#ifndef ATTNC_HAS_SCORE
#define ATTNC_HAS_SCORE 0
#endif
#ifndef ATTNC_HAS_ROW_TILES
#define ATTNC_HAS_ROW_TILES 0 // set with attnc_row_keep by the routing wrapper
#endif

namespace attnc {
namespace tile {

static constexpr float kLog2e = 1.4426950408889634f;

/// The multiplier that turns scoreElement's values into log2-unit scores, applied in the
/// exponent's FFMA (and to the row max, so it must be positive): log2(e) with a score hook
/// (the hook sees the scaled dot product), the softmax scale times log2(e) without one. A
/// non-positive scale (odd, but allowed) gives 1: the template then calls applyScale().
static __device__ __forceinline__ float scoreFactor(const AttncArgs &a) {
#if ATTNC_HAS_SCORE
  (void)a;
  return kLog2e;
#else
  return a.scale * kLog2e > 0.f ? a.scale * kLog2e : 1.f;
#endif
}

#ifndef ATTNC_COORDINATE_READS
#define ATTNC_COORDINATE_READS 1
#endif
/// A coordinate for the mask and score hooks. Their results on the padding of tiles crossing
/// q_len or kv_len (kBounds) are dropped, but they are evaluated branch-free everywhere; when
/// they read inputs at unclamped coordinates (ATTNC_COORDINATE_READS, from attn.input_read's
/// in_range), padding positions are moved onto the last token so those reads stay inside.
/// (A guard instead, `inBounds && attnc_mask(...)`, branched per element and doubled the
/// loop of score-hook kernels; the clamps alone cost registers in masks without reads.)
template <bool kBounds> static __device__ __forceinline__ int inside(int i, int extent) {
  return kBounds && ATTNC_COORDINATE_READS ? min(i, extent - 1) : i;
}

/// The pre-softmax value of the pair (q, k) in scoreFactor units, or -inf when the pair is
/// dropped: out of bounds (`inBounds` false), masked (kMask: PARTIAL tiles) or given -inf by
/// the score hook. The hooks are pure and their reads stay inside the inputs (indices
/// clamped, or coordinates kept inside by `inside`), so they are evaluated unconditionally
/// and the result selected (no branches in the tile loop).
template <bool kMask>
static __device__ __forceinline__ float scoreElement(const AttncArgs &a, float dot, int b, int h,
                                                     int q, int k, bool inBounds) {
  bool keep = inBounds;
  if (kMask)
    keep = keep & attnc_mask(a, b, h, q, k);
#if ATTNC_HAS_SCORE
  const float v = attnc_score(a, dot * a.scale, b, h, q, k);
#else
  const float v = dot;
#endif
  return keep ? v : negInf();
}

/// Without a score hook and with a non-positive softmax scale (scoreFactor() = 1): applies
/// the scale (in log2 units) to values from scoreElement, keeping dropped pairs at -inf.
template <int N> static __device__ __forceinline__ void applyScale(float (&x)[N], float scaleLog2) {
#pragma unroll
  for (int i = 0; i < N; ++i)
    x[i] = x[i] == negInf() ? negInf() : x[i] * scaleLog2;
}

} // namespace tile
} // namespace attnc

#endif // ATTNC_KERNELS_ATTNC_SCORE_ELEMENT_CUH
