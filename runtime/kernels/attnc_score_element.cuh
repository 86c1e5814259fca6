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

namespace attnc {
namespace tile {

/// The log2-unit score of the pair (q, k) from its raw dot product, or -inf when the pair is
/// dropped: out of bounds (`inBounds` false), masked (kMask: PARTIAL tiles) or given -inf by
/// the score hook. The hooks are pure and read inputs with clamped indices, so they are
/// evaluated unconditionally and the result selected (no branches in the tile loop).
template <bool kMask>
static __device__ __forceinline__ float scoreElement(const AttncArgs &a, float dot, int b, int h,
                                                     int q, int k, bool inBounds) {
  const float kLog2e = 1.4426950408889634f;
  bool keep = inBounds;
  if (kMask)
    keep = keep & attnc_mask(a, b, h, q, k);
#if ATTNC_HAS_SCORE
  const float v = attnc_score(a, dot * a.scale, b, h, q, k) * kLog2e;
#else
  const float v = dot * (a.scale * kLog2e);
#endif
  return keep ? v : negInf();
}

} // namespace tile
} // namespace attnc

#endif // ATTNC_KERNELS_ATTNC_SCORE_ELEMENT_CUH
