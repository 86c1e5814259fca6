//===- attention/backward_score.cuh - One pair of the backward, through the hooks ===//
//
// The backward's per-element step, shared by the key-tile kernels of both architectures and
// the deterministic dQ kernel: from a pair's raw dot product and dP, its P and dS through the
// program's variant (mask, score hook and its derivative, the score's input reads), and the
// variant without its `out` expression that the recompute of the output before it runs.
//
//===----------------------------------------------------------------------===//
#ifndef ATTNC_KERNELS_ATTENTION_BACKWARD_SCORE_CUH
#define ATTNC_KERNELS_ATTENTION_BACKWARD_SCORE_CUH

#include "attention/score.cuh"
#include "primitives/tile.cuh"

namespace attnc {

/// The variant with its `out` expression dropped: the forward template then writes the
/// output the expression reads, which the backward needs.
template <class V> struct WithoutOut : V { static constexpr bool kHasOut = false; };

namespace backward {

template <bool kValue> struct BoolConstant { static constexpr bool value = kValue; };
template <int kValue> struct IntConstant { static constexpr int value = kValue; };

/// What a pair of a tile evaluates of the mask: nothing (FULL tiles), all of it, or, on a
/// PARTIAL tile of a factored mask (V::kMaskFactors) whose other factor the classifier
/// proved, one factor (V::maskIndex or V::maskData).
enum MaskTest : int { kNoMask, kWholeMask, kIndexFactor, kDataFactor };

/// Whether the pair (q, k) is kept: inside q_len and kv_len (kBounds) and by the mask's part
/// kMask (a MaskTest).
template <class V, int kMask, bool kBounds>
static __device__ __forceinline__ bool pairKept(const AttncArgs &a, int b, int h, int q, int k) {
  bool keep = !kBounds || (q < a.q_len && k < a.kv_len);
  const int qi = score::inside<V, kBounds>(q, a.q_len), ki = score::inside<V, kBounds>(k, a.kv_len);
  if constexpr (kMask == kWholeMask)
    keep = keep & V::mask(a, b, h, qi, ki);
  else if constexpr (kMask == kIndexFactor)
    keep = keep & V::maskIndex(a, b, h, qi, ki);
  else if constexpr (kMask == kDataFactor)
    keep = keep & V::maskData(a, b, h, qi, ki);
  return keep;
}

/// The backward of a pair without a score hook, in two steps (kSplits): P from the raw dot
/// product alone, while dP may still be being computed, then dS from P and dP. A dropped pair
/// has P = 0 and so dS = 0 (dP is finite: out-of-range keys and queries read zeros).
template <class V> struct SplitPair {
  static constexpr bool kSplits = !V::kHasScore && !V::kScoreInputGrads;
  /// exp(scale * dot - LSE), the scale folded into log2(e): one FFMA; finite wherever the
  /// pair is kept.
  static __device__ __forceinline__ float unmaskedProbability(float s, const AttncArgs &a,
                                                              float lseLog2) {
    return tile::fastExp2(fmaf(s, a.scale * score::kLog2e, -lseLog2));
  }
  template <int kMask, bool kBounds>
  static __device__ __forceinline__ float probability(float s, const AttncArgs &a, int b, int h,
                                                      int q, int k, float lseLog2) {
    const bool keep = pairKept<V, kMask, kBounds>(a, b, h, q, k);
    const float p = unmaskedProbability(s, a, lseLog2);
    return keep ? p : 0.f;
  }
  static __device__ __forceinline__ float scoreGradient(float p, float dp, float delta) {
    return p * (dp - delta);
  }
};

/// The backward of one kept-or-dropped pair (q, k): `s` comes in as the raw dot product
/// Q[q] . K[k] and leaves as P = exp(score - LSE), `dp` comes in as dP = dO[q] . V[k] and
/// leaves as dS = P (dP - delta) * V::scoreGrad, the gradient of the loss with respect to
/// scale * dot (d loss / d dot is scale * dS: the kernels multiply dK and dQ by the scale once,
/// when they store them); both 0 where the pair is dropped (out of bounds, by the mask's part
/// kMask, or a score of -inf). With `grads`, the score's input reads get their gradients
/// (V::scoreInputGrads).
template <class V, int kMask, bool kBounds>
static __device__ __forceinline__ void pairGradient(float &s, float &dp, const AttncArgs &a, int b,
                                                    int h, int q, int k, float lseLog2, float delta,
                                                    const AttncInputGrads *grads) {
  bool keep = pairKept<V, kMask, kBounds>(a, b, h, q, k);
  const int qi = score::inside<V, kBounds>(q, a.q_len);
  const int ki = score::inside<V, kBounds>(k, a.kv_len);
  const float dot = s * a.scale;
  float grad = 1.f, p;
  if constexpr (V::kHasScore) {
    p = tile::fastExp2(fmaf(V::score(a, dot, b, h, qi, ki), score::kLog2e, -lseLog2));
    grad = V::scoreGrad(a, dot, b, h, qi, ki);
    // A score of -inf (dropped by the score hook) has p = 0 and may have no derivative.
    keep = keep && p > 0.f;
  } else {
    p = SplitPair<V>::unmaskedProbability(s, a, lseLog2);
  }
  const float dScore = p * (dp - delta); // d loss / d score
  if constexpr (V::kScoreInputGrads)
    if (grads && keep)
      V::scoreInputGrads(a, *grads, dScore, dot, b, h, qi, ki);
  s = keep ? p : 0.f;
  dp = keep ? dScore * grad : 0.f;
}

/// Calls fn(mask, bounds) with the constants a tile needs (an IntConstant MaskTest and a
/// BoolConstant): tiles crossing q_len or kv_len (`bounds`) evaluate the whole mask and the
/// bounds, FULL tiles neither, PARTIAL ones the mask or, with kFactored, the factor the
/// classifier did not prove (`proven`: its ATTNC_TILE_*_PROVEN bits, as score::scoreStep).
template <bool kFactored, class Fn>
static __device__ __forceinline__ void byTileClass(bool bounds, int cls, int proven, Fn &&fn) {
  if (bounds) {
    fn(IntConstant<kWholeMask>{}, BoolConstant<true>{});
  } else if (cls == ATTNC_TILE_FULL) {
    fn(IntConstant<kNoMask>{}, BoolConstant<false>{});
  } else if constexpr (kFactored) {
    if (proven & ATTNC_TILE_INDEX_PROVEN)
      fn(IntConstant<kDataFactor>{}, BoolConstant<false>{});
    else if (proven & ATTNC_TILE_DATA_PROVEN)
      fn(IntConstant<kIndexFactor>{}, BoolConstant<false>{});
    else
      fn(IntConstant<kWholeMask>{}, BoolConstant<false>{});
  } else {
    fn(IntConstant<kWholeMask>{}, BoolConstant<false>{});
  }
}

} // namespace backward

} // namespace attnc

#endif // ATTNC_KERNELS_ATTENTION_BACKWARD_SCORE_CUH
