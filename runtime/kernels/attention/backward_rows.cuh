//===- backward_rows.cuh - The backward's per-row passes ------------------===//
//
// The two passes of the backward that work row by row, around the key-tile kernel (shared by
// every backward template):
//   prepare   delta[b, h, q] = sum_c dO[q, c] * O[q, c] (fp32), the softmax Jacobian's row
//             term: dS = P * (dP - delta); minus dL/dLSE[b, h, q] when the loss also reads
//             the LSE (d LSE / d score = P). With an `out` expression, O is the output before
//             it and dO becomes dO * V::outGrad (written to d_o_attn); the out expression's
//             input reads get their gradients here (V::outInputGrads). Rows that kept no
//             key (LSE = -inf) had no `out` applied: their dO counts as zero. It also zeroes
//             dq_accum (one pass over memory fewer than a memset before it).
//   dQ store  dQ = dq_accum converted to the kernel's 16-bit type, at dQ's strides; the
//             key-tile kernel chooses dq_accum's layout (DqAccum: rows per (batch, head)
//             rounded up to kTileRows, and the offset of [q, d] in them)
// Each lane takes 8 consecutive columns (16 bytes of a 16-bit row), so a warp takes 4, 2 or 1
// rows at D = 64, 128, 256: the passes are memory-bound and their warps short-lived, and 16
// bytes per access and several rows per warp keep more bytes in flight per warp's life.
//
// LAUNCH: 1-D grid of ceil(batch * heads * q_len / kRowsPerCta) CTAs of kThreads threads
// (attnc_backward_prepare_config, and the portable dQ store's attnc_backward_store_dq_config).
//
//===----------------------------------------------------------------------===//
#ifndef ATTNC_KERNELS_ATTENTION_BACKWARD_ROWS_CUH
#define ATTNC_KERNELS_ATTENTION_BACKWARD_ROWS_CUH

#include "attention/dq_accum.cuh"
#include "attention/score.cuh"
#include "attnc_backward_params.h"
#include "primitives/tile.cuh"

namespace attnc {
namespace backward {

template <class V, int kHeadDim, class Kind> struct RowPasses {
  static constexpr int kPerLane = 8; // 16 bytes of a 16-bit row
  static constexpr int kLanesPerRow = kHeadDim / kPerLane;
  static constexpr int kRowsPerWarp = 32 / kLanesPerRow; // 4, 2 or 1
  static constexpr int kWarps = 8;
  static constexpr int kThreads = kWarps * 32;
  static constexpr int kRowsPerCta = kWarps * kRowsPerWarp;
  static_assert(kHeadDim % 64 == 0 && kHeadDim <= 256, "head dim 64, 128 or 256");

  /// This lane's kPerLane 16-bit values of one row, as floats.
  static __device__ __forceinline__ void loadRow(const void *base, long long offset, int part,
                                                 float (&x)[kPerLane]) {
    const uint4 v = *(const uint4 *)((const unsigned short *)base + offset + part * kPerLane);
    const unsigned w[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
    for (int i = 0; i < kPerLane / 2; ++i) {
      x[2 * i] = tile::unpackLo(Kind{}, w[i]);
      x[2 * i + 1] = tile::unpackHi(Kind{}, w[i]);
    }
  }

  /// Stores this lane's kPerLane 16-bit values (packed in pairs) at dst.
  static __device__ __forceinline__ void storeRow(unsigned short *dst,
                                                  const unsigned (&w)[kPerLane / 2]) {
    *(uint4 *)dst = make_uint4(w[0], w[1], w[2], w[3]);
  }

  /// This lane's row, numbered over (batch, head, query), the query fastest, and its part of
  /// it (columns kPerLane part ..); false past the last row (the row's lanes all alike).
  static __device__ __forceinline__ bool row(const AttncArgs &a, int &b, int &h, int &q,
                                             int &part) {
    const int lane = (int)threadIdx.x % 32;
    part = lane % kLanesPerRow;
    const long long r = (long long)blockIdx.x * kRowsPerCta + (int)threadIdx.x / 32 * kRowsPerWarp +
                        lane / kLanesPerRow;
    if (r >= (long long)a.batch * a.heads * a.q_len)
      return false;
    const int bh = (int)(r / a.q_len); // one 64-bit division, then 32-bit ones
    q = (int)(r - (long long)bh * a.q_len);
    h = bh % a.heads;
    b = bh / a.heads;
    return true;
  }

  /// The lanes of this lane's row, for its reduction.
  static __device__ __forceinline__ unsigned rowLanes() {
    if constexpr (kLanesPerRow == 32)
      return 0xffffffffu;
    else
      return ((1u << kLanesPerRow) - 1) << ((int)threadIdx.x % 32 / kLanesPerRow * kLanesPerRow);
  }

  static __device__ __forceinline__ void prepare(const AttncBackwardParams &p, const AttncArgs &a) {
    int b, h, q, part;
    if (!row(a, b, h, q, part))
      return;
    // Every load of the row first, its LSE and dL/dLSE too, then the stores: a load after the
    // reduction would be a second memory latency in series in the warp's short life.
    const bool readsLse = V::kHasOut || p.row_stats != nullptr;
    const float lse = readsLse ? p.lse[b * p.lse_stride[0] + h * p.lse_stride[1] + q] : 0.f;
    const float dLse = p.d_lse ? p.d_lse[b * p.dlse_stride[0] + h * p.dlse_stride[1] + q] : 0.f;
    float o[kPerLane], d[kPerLane];
    loadRow(p.o, b * p.o_stride[0] + h * p.o_stride[1] + q * p.o_stride[2], part, o);
    loadRow(p.d_o, b * p.do_stride[0] + h * p.do_stride[1] + q * p.do_stride[2], part, d);
    if (p.dq_accum != nullptr) {
      // Rows q, q + q_len, ... of the head's dq_accum in memory order (one when q_len is a
      // multiple of the tile): all of it, whatever order its layout puts the rows in.
      float *head = p.dq_accum + ((long long)b * a.heads + h) * p.dq_accum_rows * kHeadDim;
      const auto zeroRow = [&](long long r) {
#pragma unroll
        for (int i = 0; i < kPerLane; i += 4)
          *(float4 *)(head + r * kHeadDim + part * kPerLane + i) = make_float4(0.f, 0.f, 0.f, 0.f);
      };
      // Once unless q_len is shorter than a tile: not unrolled, no trip count to divide for.
#pragma unroll 1
      for (long long r = q; r < p.dq_accum_rows; r += a.q_len)
        zeroRow(r);
    }
    if constexpr (V::kHasOut) {
      const bool kept = lse != tile::negInf();
#pragma unroll
      for (int i = 0; i < kPerLane; ++i) {
        const int c = part * kPerLane + i;
        if constexpr (V::kOutInputGrads)
          if (kept && p.input_grads.any)
            V::outInputGrads(a, p.input_grads, d[i], o[i], b, h, q, c);
        d[i] = kept ? d[i] * V::outGrad(a, o[i], b, h, q, c) : 0.f;
      }
      unsigned w[kPerLane / 2];
#pragma unroll
      for (int i = 0; i < kPerLane / 2; ++i)
        w[i] = tile::pack2(Kind{}, d[2 * i], d[2 * i + 1]);
      storeRow((unsigned short *)p.d_o_attn +
                   (((long long)b * a.heads + h) * a.q_len + q) * kHeadDim + part * kPerLane,
               w);
    }
    float sum = 0.f;
#pragma unroll
    for (int i = 0; i < kPerLane; ++i)
      sum = fmaf(o[i], d[i], sum);
#pragma unroll
    for (int s = kLanesPerRow / 2; s > 0; s /= 2)
      sum += __shfl_xor_sync(rowLanes(), sum, s);
    if (part == 0) {
      const float delta = sum - dLse;
      p.delta[((long long)b * a.heads + h) * a.q_len + q] = delta;
      if (p.row_stats != nullptr) {
        float *stats = p.row_stats + (((long long)b * a.heads + h) * p.row_stats_rows + q) * 2;
        stats[0] = lse * score::kLog2e;
        stats[1] = delta;
      }
    }
  }

  /// dQ of one row from dq_accum, laid out as DqAccum says (the key-tile kernel's choice),
  /// times the scale (the key-tile kernels accumulate dS K, backward::pairGradient).
  template <class DqAccum>
  static __device__ __forceinline__ void storeDq(const AttncBackwardParams &p, const AttncArgs &a) {
    int b, h, q, part;
    if (!row(a, b, h, q, part))
      return;
    const float *head =
        p.dq_accum + ((long long)b * a.heads + h) * DqAccum::rows(a.q_len) * kHeadDim;
    unsigned w[kPerLane / 2];
#pragma unroll
    for (int i = 0; i < kPerLane / 2; ++i)
      w[i] = tile::pack2(Kind{}, a.scale * head[DqAccum::offset(q, part * kPerLane + 2 * i)],
                         a.scale * head[DqAccum::offset(q, part * kPerLane + 2 * i + 1)]);
    storeRow((unsigned short *)p.dq + b * p.dq_stride[0] + h * p.dq_stride[1] + q * p.dq_stride[2] +
                 part * kPerLane,
             w);
  }
};

} // namespace backward
} // namespace attnc

#endif // ATTNC_KERNELS_ATTENTION_BACKWARD_ROWS_CUH
