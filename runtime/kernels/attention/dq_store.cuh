//===- dq_store.cuh - The dQ store of the fragment-order accumulator ------===//
//
// dQ = scale * dq_accum in the kernel's 16-bit type, for FragmentDqAccum (the sm_90a key-tile
// kernel's layout): one CTA per query tile (kTileRows: the kernel's, 64 or 80) of a (batch,
// head) reads the tile's 32 KB (64 rows at D = 128) in its own order with 16-byte loads,
// transposes it through shared memory and writes dQ's rows with 16-byte stores. (Row by row,
// as the portable store does, a warp's loads of one row are 64 bytes apart:
// attention/backward_rows.cuh.)
//
// LAUNCH: grid (ceil(q_len / kTileRows), heads, batch), kThreads threads, static shared memory
// (kTileRows x (D + 4) floats: 42 KB at 80 x 128); as attnc_backward_store_dq_config says
// ({rows per CTA, threads, 1: per (tile, head, batch)}).
//
//===----------------------------------------------------------------------===//
#ifndef ATTNC_KERNELS_ATTENTION_DQ_STORE_CUH
#define ATTNC_KERNELS_ATTENTION_DQ_STORE_CUH

#include "attention/dq_accum.cuh"
#include "attnc_backward_params.h"
#include "primitives/tile.cuh"

namespace attnc {
namespace backward {

template <int kHeadDim, class Kind, int kRows = 64> struct FragmentDqStore {
  using DqAccum = FragmentDqAccum<kHeadDim, kRows>;
  static constexpr int kTileRows = DqAccum::kTileRows;
  static constexpr int kThreads = 256;
  static constexpr int kChunks = kTileRows * kHeadDim / 4; // 16-byte chunks of a tile
  // Rows padded by 4 floats: the transposing stores of a warp (8 head-dim columns x 4 query
  // pairs) then fall into 32 different banks.
  static constexpr int kRowFloats = kHeadDim + 4;
  static constexpr int kRowChunks = kHeadDim / 8; // 16-byte chunks of a dQ row
  static_assert(kChunks % kThreads == 0 && kTileRows * kRowChunks % kThreads == 0, "whole loops");

  static __device__ __forceinline__ void run(const AttncBackwardParams &p, const AttncArgs &a) {
    __shared__ __align__(16) float tile[kTileRows * kRowFloats];
    const int q0 = (int)blockIdx.x * kTileRows, h = (int)blockIdx.y, b = (int)blockIdx.z;
    const float4 *accum = reinterpret_cast<const float4 *>(
        p.dq_accum + ((long long)b * a.heads + h) * DqAccum::rows(a.q_len) * kHeadDim +
        (long long)q0 * kHeadDim);
    // All loads first: 8 (D = 128; 10 with 80 rows) 16-byte loads in flight per thread.
    float4 v[kChunks / kThreads];
#pragma unroll
    for (int j = 0; j < kChunks / kThreads; ++j)
      v[j] = accum[(int)threadIdx.x + j * kThreads];
#pragma unroll
    for (int j = 0; j < kChunks / kThreads; ++j) {
      const float x[4] = {v[j].x, v[j].y, v[j].z, v[j].w};
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        int q, d;
        DqAccum::chunkElement((int)threadIdx.x + j * kThreads, i, q, d);
        tile[q * kRowFloats + d] = x[i] * a.scale;
      }
    }
    __syncthreads();
    unsigned short *dq = (unsigned short *)p.dq + b * p.dq_stride[0] + h * p.dq_stride[1];
#pragma unroll
    for (int j = 0; j < kTileRows * kRowChunks / kThreads; ++j) {
      const int k = (int)threadIdx.x + j * kThreads;
      const int q = k / kRowChunks, c = k % kRowChunks * 8;
      if (q0 + q < a.q_len) {
        const float4 lo = *reinterpret_cast<const float4 *>(&tile[q * kRowFloats + c]);
        const float4 hi = *reinterpret_cast<const float4 *>(&tile[q * kRowFloats + c + 4]);
        const uint4 w = {tile::pack2(Kind{}, lo.x, lo.y), tile::pack2(Kind{}, lo.z, lo.w),
                         tile::pack2(Kind{}, hi.x, hi.y), tile::pack2(Kind{}, hi.z, hi.w)};
        *reinterpret_cast<uint4 *>(dq + (long long)(q0 + q) * p.dq_stride[2] + c) = w;
      }
    }
  }
};

} // namespace backward
} // namespace attnc

#endif // ATTNC_KERNELS_ATTENTION_DQ_STORE_CUH
