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

/// What a pair's backward needs from its raw dot product alone: whether it is kept, P, the
/// score's derivative (times scale) and the clamped indices the hooks read.
struct PairScore {
  bool keep;
  float p, grad, dot;
  int qi, ki;
};
template <class V, bool kMask, bool kBounds>
static __device__ __forceinline__ PairScore pairScore(float s, const AttncArgs &a, int b, int h,
                                                      int q, int k, float lseLog2) {
  PairScore r;
  const bool inBounds = !kBounds || (q < a.q_len && k < a.kv_len);
  r.qi = score::inside<V, kBounds>(q, a.q_len);
  r.ki = score::inside<V, kBounds>(k, a.kv_len);
  r.keep = inBounds;
  if (kMask)
    r.keep = r.keep & V::mask(a, b, h, r.qi, r.ki);
  r.dot = s * a.scale;
  float x = r.dot;
  r.grad = a.scale;
  if constexpr (V::kHasScore) {
    x = V::score(a, r.dot, b, h, r.qi, r.ki);
    r.grad = a.scale * V::scoreGrad(a, r.dot, b, h, r.qi, r.ki);
  }
  r.p = tile::fastExp2(fmaf(x, score::kLog2e, -lseLog2));
  // A score of -inf (dropped by the score hook) has p = 0 and may have no derivative.
  r.keep = r.keep && r.p > 0.f;
  return r;
}

/// The backward of one kept-or-dropped pair (q, k): `s` comes in as the raw dot product
/// Q[q] . K[k] and leaves as P = exp(score - LSE), `dp` comes in as dP = dO[q] . V[k] and
/// leaves as dS = d loss / d dot = P (dP - delta) * scale * V::scoreGrad; both 0 where the
/// pair is dropped (out of bounds, masked with kMask, or a score of -inf). With `grads`, the
/// score's input reads get their gradients (V::scoreInputGrads).
template <class V, bool kMask, bool kBounds>
static __device__ __forceinline__ void pairGradient(float &s, float &dp, const AttncArgs &a, int b,
                                                    int h, int q, int k, float lseLog2, float delta,
                                                    const AttncInputGrads *grads) {
  const PairScore r = pairScore<V, kMask, kBounds>(s, a, b, h, q, k, lseLog2);
  const float dScore = r.p * (dp - delta); // d loss / d score
  if constexpr (V::kScoreInputGrads)
    if (grads && r.keep)
      V::scoreInputGrads(a, *grads, dScore, r.dot, b, h, r.qi, r.ki);
  s = r.keep ? r.p : 0.f;
  dp = r.keep ? dScore * r.grad : 0.f;
}

/// pairGradient in two halves, for kernels that compute P while dP's product is still in
/// flight: this one returns P (0 where dropped) and leaves s = P * scale * V::scoreGrad, so
/// that dS = s * (dP - delta) once dP is there. Programs whose score reads differentiable
/// inputs need d loss / d score itself and take pairGradient.
template <class V, bool kMask, bool kBounds>
static __device__ __forceinline__ float pairProbability(float &s, const AttncArgs &a, int b, int h,
                                                        int q, int k, float lseLog2) {
  static_assert(!V::kScoreInputGrads, "input gradients need pairGradient");
  const PairScore r = pairScore<V, kMask, kBounds>(s, a, b, h, q, k, lseLog2);
  const float p = r.keep ? r.p : 0.f;
  s = p * r.grad;
  return p;
}

/// Calls fn(mask, bounds) with the BoolConstants a tile needs: tiles crossing q_len or kv_len
/// (`bounds`) evaluate the mask and the bounds, FULL tiles neither, the others the mask.
template <class Fn>
static __device__ __forceinline__ void byTileClass(bool bounds, int cls, Fn &&fn) {
  if (bounds)
    fn(BoolConstant<true>{}, BoolConstant<true>{});
  else if (cls == ATTNC_TILE_FULL)
    fn(BoolConstant<false>{}, BoolConstant<false>{});
  else
    fn(BoolConstant<true>{}, BoolConstant<false>{});
}

} // namespace backward

} // namespace attnc

#endif // ATTNC_KERNELS_ATTENTION_BACKWARD_SCORE_CUH
