//===- score.cuh - Scores of a tile, through the program's hooks ---------===//
//
// Raw dot products become scores in scoreFactor units, -inf where a pair is dropped, for
// either accumulator fragment (primitives/fragment.cuh). V is the program's variant (the
// compiler's struct AttncProgram, or its routed wrapper): the hooks and the facts the code
// specialises on.
//
//===----------------------------------------------------------------------===//
#ifndef ATTNC_KERNELS_ATTENTION_SCORE_CUH
#define ATTNC_KERNELS_ATTENTION_SCORE_CUH

#include "primitives/fragment.cuh"
#include "primitives/tile.cuh"

namespace attnc {
namespace score {

static constexpr float kLog2e = 1.4426950408889634f;

/// The multiplier that turns scoreElement's values into log2-unit scores, applied in the
/// exponent's FFMA (and to the row max, so it must be positive): log2(e) with a score hook
/// (the hook sees the scaled dot product), the softmax scale times log2(e) without one. A
/// non-positive scale (odd, but allowed) gives 1: the template then calls applyScale().
template <class V> static __device__ __forceinline__ float scoreFactor(const AttncArgs &a) {
  if constexpr (V::kHasScore)
    return kLog2e;
  else
    return a.scale * kLog2e > 0.f ? a.scale * kLog2e : 1.f;
}

/// A coordinate for the mask and score hooks. Their results on the padding of tiles crossing
/// q_len or kv_len (kBounds) are dropped, but they are evaluated branch-free everywhere; when
/// they read inputs at unclamped coordinates (V::kCoordinateReads), padding positions are
/// moved onto the last token so those reads stay inside. (A guard instead, `inBounds &&
/// mask(...)`, branches per element; the clamps alone cost registers in masks without reads.)
template <class V, bool kBounds> static __device__ __forceinline__ int inside(int i, int extent) {
  return kBounds && V::kCoordinateReads ? min(i, extent - 1) : i;
}

/// The pre-softmax value of the pair (q, k) in scoreFactor units, or -inf when the pair is
/// dropped: out of bounds (`inBounds` false), masked (kMask: PARTIAL tiles) or given -inf by
/// the score hook. The hooks are pure and their reads stay inside the inputs, so they are
/// evaluated unconditionally and the result selected (no branches in the tile loop).
template <class V, bool kMask>
static __device__ __forceinline__ float scoreElement(const AttncArgs &a, float dot, int b, int h,
                                                     int q, int k, bool inBounds) {
  bool keep = inBounds;
  if (kMask)
    keep = keep & V::mask(a, b, h, q, k);
  float v = dot;
  if constexpr (V::kHasScore)
    v = V::score(a, dot * a.scale, b, h, q, k);
  return keep ? v : tile::negInf();
}

/// Scores a fragment of S in place: rows qRow + 16 * rowTile + 8 * half, columns kCol +
/// 8 * col + j (this thread's first row and column).
template <class V, bool kMask, bool kBounds, class F>
static __device__ __forceinline__ void scoreTile(F &s, const AttncArgs &a, int b, int h, int qRow,
                                                 int kCol) {
  tile::forEachRow<F>([&](int row, int half) {
    const int q = qRow + row * 16 + half * 8;
    const bool rowIn = !kBounds || q < a.q_len;
    tile::forEachInRow<F>([&](int col, int j) {
      const int k = kCol + col * 8 + j;
      float &x = tile::at(s, row, half, col, j);
      x = scoreElement<V, kMask>(a, x, b, h, inside<V, kBounds>(q, a.q_len),
                                 inside<V, kBounds>(k, a.kv_len),
                                 rowIn && (!kBounds || k < a.kv_len));
    });
  });
}

/// Drops (-inf) the pairs where mask factor kFactor (0: V::maskIndex, 1: V::maskData) is
/// false; a PARTIAL tile of a factored mask runs this for each factor the classifier did not
/// prove, after scoreTile<V, false, false>.
template <class V, int kFactor, class F>
static __device__ __forceinline__ void maskFactor(F &s, const AttncArgs &a, int b, int h, int qRow,
                                                  int kCol) {
  tile::forEachRow<F>([&](int row, int half) {
    const int q = qRow + row * 16 + half * 8;
    tile::forEachInRow<F>([&](int col, int j) {
      const int k = kCol + col * 8 + j;
      float &x = tile::at(s, row, half, col, j);
      bool keep;
      if constexpr (kFactor == 0)
        keep = V::maskIndex(a, b, h, q, k);
      else
        keep = V::maskData(a, b, h, q, k);
      x = keep ? x : tile::negInf();
    });
  });
}

/// A ROWS tile: each row keeps its scores where V::rowKeep holds and drops them (-inf)
/// otherwise; one predicate per row instead of one mask per element.
template <class V, class F>
static __device__ __forceinline__ void dropRows(F &s, const AttncArgs &a, int b, int h, int qRow,
                                                int k0) {
  tile::forEachRow<F>([&](int row, int half) {
    const bool keep = V::rowKeep(a, b, h, qRow + row * 16 + half * 8, k0);
    tile::forEachInRow<F>([&](int col, int j) {
      float &x = tile::at(s, row, half, col, j);
      x = keep ? x : tile::negInf();
    });
  });
}

/// Without a score hook and with a non-positive softmax scale (scoreFactor() = 1): applies
/// the scale (in log2 units) to values from scoreElement, keeping dropped pairs at -inf.
template <class F> static __device__ __forceinline__ void applyScale(F &s, float scaleLog2) {
  tile::forEachRow<F>([&](int row, int half) {
    tile::forEachInRow<F>([&](int col, int j) {
      float &x = tile::at(s, row, half, col, j);
      x = x == tile::negInf() ? tile::negInf() : x * scaleLog2;
    });
  });
}

/// The whole per-tile scoring step both templates run before the softmax: `cls` is the
/// tile's class (and `proven` the factors the classifier proved, factored masks only).
/// FULL tiles inside the problem without a score hook and with a positive scale need no
/// per-element work (`fast`, returned false); otherwise every element goes through the
/// hooks. ROWS tiles are scored as FULL ones, then whole rows dropped. kFactored: PARTIAL
/// tiles of a factored mask evaluate only the factors the classifier did not prove.
template <class V, int kBlockM, int kBlockN, bool kFactored, class F>
static __device__ __forceinline__ void scoreStep(F &s, const AttncArgs &a, int b, int h, int q0,
                                                 int k0, int cls, int proven, int qRow, int kCol,
                                                 float scaleLog2) {
  const bool rows = V::kHasRowTiles && cls == ATTNC_TILE_ROWS;
  const bool unmasked = cls == ATTNC_TILE_FULL || rows;
  const bool fast = !V::kHasScore && unmasked && k0 + kBlockN <= a.kv_len && scaleLog2 > 0.f;
  if (!fast) {
    // Tiles crossing q_len or kv_len are rare: they evaluate the mask even when FULL.
    if (k0 + kBlockN > a.kv_len || q0 + kBlockM > a.q_len)
      scoreTile<V, true, true>(s, a, b, h, qRow, kCol);
    else if (!unmasked) {
      if constexpr (kFactored) {
        scoreTile<V, false, false>(s, a, b, h, qRow, kCol);
        if (!(proven & ATTNC_TILE_INDEX_PROVEN))
          maskFactor<V, 0>(s, a, b, h, qRow, kCol);
        if (!(proven & ATTNC_TILE_DATA_PROVEN))
          maskFactor<V, 1>(s, a, b, h, qRow, kCol);
      } else {
        scoreTile<V, true, false>(s, a, b, h, qRow, kCol);
      }
    } else
      scoreTile<V, false, false>(s, a, b, h, qRow, kCol);
    if (!V::kHasScore && !(scaleLog2 > 0.f))
      applyScale(s, scaleLog2);
  }
  if constexpr (V::kHasRowTiles)
    if (rows)
      dropRows<V>(s, a, b, h, qRow, k0);
}

} // namespace score
} // namespace attnc

#endif // ATTNC_KERNELS_ATTENTION_SCORE_CUH
