//===- sm80/backward.cuh - Block-sparse attention backward for sm_80 and newer ===//
//
// FlashAttention-2 style backward driven by the program's variant, portable tensor-core code
// (mma.sync m16n8k16, ldmatrix, cp.async). Three kernels, launched in this order:
//
//   attnc_backward_prepare     delta = rowsum(dO * O)           (attention/backward_rows.cuh)
//   attnc_backward_key_tiles   one CTA per (key tile, kv head, batch): K and V stay in shared
//                              memory while it walks the query tiles that can keep its keys,
//                              for every query head of the group; dK and dV accumulate in
//                              registers (no atomics), dQ in fp32 through atomicAdd
//   attnc_backward_store_dq    dQ = dq_accum in the kernel's dtype
//
// The query tiles of a key tile come from V::qRanges (attn-q-ranges: the transposed interval
// analysis, no N^2 metadata), classified with V::classify exactly as the forward classifies
// its tiles: EMPTY tiles are never visited, FULL tiles skip the mask, PARTIAL (and ROWS) tiles
// evaluate V::mask per element. Per visited tile, with S^T = K Q^T recomputed:
//   P^T  = exp(score - LSE)            (score: V::score of scale * dot, or scale * dot)
//   dV  += P^T dO
//   dP^T = V dO^T
//   dS^T = P^T * (dP^T - delta) * V::scoreGrad   (d loss / d (scale * dot))
//   dK  += dS^T Q;   dQ += dS K  (dS^T staged in shared memory, transposed by ldmatrix)
// and dK, dQ multiplied by the scale once, where they are stored.
//
// The deterministic mode's dQ kernel is sm80/backward_dq.cuh; one pair's P and dS through
// the hooks, attention/backward_score.cuh (shared with sm90/backward.cuh).
//
// Warps: four own 16 keys each; at D = 256 two warps share a key slice and split the head
// dimension of dK, dV and dQ (each computes the slice's S and dP in full).
//
// With an `out` expression the runtime first recomputes the output before it
// (attnc_backward_recompute: the forward template with the variant's `out` dropped).
//
// LAUNCH (entries in sm80/backward_entry.cuh, extern "C", parameters (AttncBackwardParams,
// AttncArgs), __grid_constant__)
//   prepare, store_dq: grid ceil(batch * heads * q_len / 8), 256 threads
//   key_tiles: grid (ceil(kv_len / 64), kv_heads, batch), threads and dynamic shared memory
//   from __constant__ int attnc_backward_key_tiles_config[8] = {block_m, block_n, threads,
//   stages, dynamic_smem_bytes, head_dim, 0 (no tensor maps), 1 (dq_accum's rows per
//   (batch, head), rounded to this: q_len)}; dq_accum zeroed by the preparation.
//
//===----------------------------------------------------------------------===//
#ifndef ATTNC_KERNELS_SM80_BACKWARD_CUH
#define ATTNC_KERNELS_SM80_BACKWARD_CUH

#include "attention/backward_rows.cuh"
#include "attention/backward_score.cuh"
#include "attention/score.cuh"
#include "attnc_backward_params.h"
#include "primitives/fragment.cuh"
#include "primitives/tile.cuh"
#include "sm80/producer.cuh"

namespace attnc {

template <class V, int kHeadDim, class Kind, int kStages> struct BackwardSm80 {
  static constexpr int kBlockM = 64; // queries per step
  static constexpr int kBlockN = 64; // keys per CTA
  static constexpr int kDSplit = kHeadDim == 256 ? 2 : 1;
  static constexpr int kWarps = 4 * kDSplit;
  static constexpr int kThreads = 32 * kWarps;
  static constexpr int kDPart = kHeadDim / kDSplit; // dK, dV, dQ columns per warp
  static constexpr int kChunks = kHeadDim / 8;
  static constexpr unsigned kRowBytes = kChunks * 16;
  static constexpr int kTileBytes = 64 * kHeadDim * 2;
  static constexpr int kDsBytes = kBlockN * kBlockM * 2;
  static constexpr int kQOffset = 2 * kTileBytes; // after K and V
  static constexpr int kDoOffset = kQOffset + kStages * kTileBytes;
  static constexpr int kDsOffset = kDoOffset + kStages * kTileBytes;
  static constexpr int kAuxOffset = kDsOffset + kDsBytes;
  static_assert(kStages == 1 || kStages == 2, "one or two query-tile stages");

  /// dQ accumulated with atomics in dQ's own layout.
  using DqAccum = backward::RowMajorDqAccum<kHeadDim>;

  using Producer = Sm80Producer<V, kBlockN, kThreads, kChunks>;
  /// Bookkeeping after the tiles: this key tile's query intervals for the current head, the
  /// current batch of classified non-empty query tiles and the stages' tiles.
  using Aux = typename Producer::template Bookkeeping<kStages>;
  static constexpr int kSmemBytes = kAuxOffset + ((int)sizeof(Aux) + 127) / 128 * 128;

  using Frag = float[1][kBlockM / 8][4]; // 16 keys x 64 queries
  using Acc = float[1][kDPart / 8][4];   // 16 keys x kDPart columns

  /// The query tiles of one key tile: the intervals of V::qRanges walked in kBlockM-aligned
  /// tiles, classified a block at a time (the forward's cursor with the axes exchanged).
  using QueryTileCursor = typename Producer::template TileCursor<Aux, true>;
  static_assert(kBlockM == kBlockN, "the cursor walks tiles of the producer's size");

  static __device__ __forceinline__ void zero(Frag &f) {
#pragma unroll
    for (int n = 0; n < kBlockM / 8; ++n)
#pragma unroll
      for (int j = 0; j < 4; ++j)
        f[0][n][j] = 0.f;
  }

  /// f += A B^T over the head dimension: A = 16 rows of a [row][D] tile (this warp's keys of
  /// K or V; its queries of Q or dO in the dQ kernel), B = the 64 rows of another (Q or dO;
  /// K or V).
  static __device__ __forceinline__ void rowsTimesTileT(Frag &f, unsigned aRows, unsigned bTile,
                                                        int lane) {
    const unsigned aXor = tile::pairXor(lane & 7, lane >> 4);
    const unsigned bXor = tile::pairXor(lane & 7, (lane >> 3) & 1);
    const unsigned aAddr = aRows + (lane & 15) * kRowBytes;
    const unsigned bAddr = bTile + ((lane & 7) + ((lane >> 4) << 3)) * kRowBytes;
#pragma unroll
    for (int kk = 0; kk < kHeadDim / 16; ++kk) {
      unsigned af[4];
      tile::loadMatrixX4(af, aAddr + tile::pairChunkOffset(kk, aXor));
#pragma unroll
      for (int nn = 0; nn < kBlockM / 16; ++nn) {
        unsigned bf[4];
        tile::loadMatrixX4(bf, bAddr + nn * 16 * kRowBytes + tile::pairChunkOffset(kk, bXor));
        tile::mma16816(Kind{}, f[0][2 * nn], af, bf[0], bf[1]);
        tile::mma16816(Kind{}, f[0][2 * nn + 1], af, bf[2], bf[3]);
      }
    }
  }

  /// acc += F X: F (16 x 64 fp32 fragment) rounded to 16 bits as the A operand, X = kCols
  /// columns of a [64][D] tile from 16-column pair firstPair on (dO or Q for dV and dK; K for
  /// dQ).
  template <int kCols>
  static __device__ __forceinline__ void fragTimesTile(float (&acc)[1][kCols / 8][4], const Frag &f,
                                                       unsigned xTile, int firstPair, int lane) {
    const unsigned xXor = tile::pairXor(lane & 7, lane >> 4);
    const unsigned xAddr = xTile + (lane & 15) * kRowBytes;
#pragma unroll
    for (int kk = 0; kk < kBlockM / 16; ++kk) {
      unsigned pa[4];
      pa[0] = tile::pack2(Kind{}, f[0][2 * kk][0], f[0][2 * kk][1]);
      pa[1] = tile::pack2(Kind{}, f[0][2 * kk][2], f[0][2 * kk][3]);
      pa[2] = tile::pack2(Kind{}, f[0][2 * kk + 1][0], f[0][2 * kk + 1][1]);
      pa[3] = tile::pack2(Kind{}, f[0][2 * kk + 1][2], f[0][2 * kk + 1][3]);
#pragma unroll
      for (int dd = 0; dd < kCols / 16; ++dd) {
        unsigned xb[4];
        tile::loadMatrixX4Trans(xb, xAddr + kk * 16 * kRowBytes +
                                        tile::pairChunkOffset(firstPair + dd, xXor));
        tile::mma16816(Kind{}, acc[0][2 * dd], pa, xb[0], xb[1]);
        tile::mma16816(Kind{}, acc[0][2 * dd + 1], pa, xb[2], xb[3]);
      }
    }
  }

  /// P and dS of one tile in place (backward::pairGradient): s holds raw dot products and
  /// becomes P^T, dp holds dP^T and becomes dS^T. Rows are keys, columns queries. kMask: what
  /// of the mask to evaluate (backward::MaskTest); kBounds: the tile crosses q_len or kv_len.
  template <int kMask, bool kBounds>
  static __device__ __forceinline__ void
  gradients(Frag &s, Frag &dp, const AttncArgs &a, int b, int h, int kRow, int qCol,
            const float (&lseLog2)[kBlockM / 8][2], const float (&delta)[kBlockM / 8][2],
            const AttncInputGrads *grads) {
#pragma unroll
    for (int half = 0; half < 2; ++half)
#pragma unroll
      for (int n = 0; n < kBlockM / 8; ++n)
#pragma unroll
        for (int j = 0; j < 2; ++j)
          backward::pairGradient<V, kMask, kBounds>(s[0][n][half * 2 + j], dp[0][n][half * 2 + j],
                                                    a, b, h, qCol + n * 8 + j, kRow + half * 8,
                                                    lseLog2[n][j], delta[n][j], grads);
  }

  static __device__ __forceinline__ void run(const AttncBackwardParams &p, const AttncArgs &a,
                                             unsigned char *smem) {
    const int kTile = (int)blockIdx.x, kvh = (int)blockIdx.y, b = (int)blockIdx.z;
    const int group = a.heads / a.kv_heads;
    const int k0 = kTile * kBlockN, kHi = min(k0 + kBlockN, a.kv_len) - 1;
    const int tid = (int)threadIdx.x, warp = tid / 32, lane = tid % 32;
    const int g = lane / 4, t = lane % 4;
    const int keyWarp = warp % 4, part = warp / 4;

    const unsigned sK = tile::sharedAddress(smem);
    const unsigned sV = sK + kTileBytes;
    const unsigned sQ = sK + kQOffset, sDo = sK + kDoOffset, sDs = sK + kDsOffset;
    Aux &aux = *reinterpret_cast<Aux *>(smem + kAuxOffset);

    const unsigned char *kBase = tile::headBase(p.k, p.k_stride, b, kvh);
    const unsigned char *vBase = tile::headBase(p.v, p.v_stride, b, kvh);
    Producer::template loadTile<kBlockN>(sK, kBase, p.k_stride[2], k0, a.kv_len);
    Producer::template loadTile<kBlockN>(sV, vBase, p.v_stride[2], k0, a.kv_len);
    tile::copyAsyncCommit();

    Acc dk, dv;
#pragma unroll
    for (int n = 0; n < kDPart / 8; ++n)
#pragma unroll
      for (int j = 0; j < 4; ++j)
        dk[0][n][j] = dv[0][n][j] = 0.f;

    const int kRow = k0 + keyWarp * 16 + g; // this thread's first key
    const unsigned keyRows = keyWarp * 16 * kRowBytes;

    for (int h = kvh * group; h < (kvh + 1) * group; ++h) {
      __syncthreads(); // the previous head's cursor and tiles are done with
      if (tid == 0) {
        int lo[ATTNC_MAX_KV_RANGES] = {}, hi[ATTNC_MAX_KV_RANGES] = {};
        aux.setIntervals(V::qRanges(a, b, h, k0, kHi, lo, hi), lo, hi, a.q_len);
      }
      __syncthreads();

      const unsigned char *qBase = tile::headBase(p.q, p.q_stride, b, h);
      const unsigned char *doBase = tile::headBase(p.d_o, p.do_stride, b, h);
      const float *lseRow = p.lse + b * p.lse_stride[0] + h * p.lse_stride[1];
      const float *deltaRow = p.delta + ((long long)b * a.heads + h) * a.q_len;
      float *dqRow = p.dq_accum + ((long long)b * a.heads + h) * a.q_len * kHeadDim;

      QueryTileCursor cursor;
      const auto next = [&](int &start, int &cls) {
        return cursor.advance(aux, a, b, h, k0, kHi, start, cls);
      };
      const auto load = [&](int stage, int start) {
        Producer::template loadTile<kBlockM>(sQ + stage * kTileBytes, qBase, p.q_stride[2], start,
                                             a.q_len);
        Producer::template loadTile<kBlockM>(sDo + stage * kTileBytes, doBase, p.do_stride[2],
                                             start, a.q_len);
      };
      Producer::template forEachStagedTile<kStages>(
          aux, next, load, [&](int stage, int q0, int cls) {
            const unsigned tQ = sQ + stage * kTileBytes, tDo = sDo + stage * kTileBytes;

            // This thread's columns: queries q0 + 8 n + 2 t + j.
            const int qCol = q0 + 2 * t;
            float lseLog2[kBlockM / 8][2], delta[kBlockM / 8][2];
#pragma unroll
            for (int n = 0; n < kBlockM / 8; ++n)
#pragma unroll
              for (int j = 0; j < 2; ++j) {
                const int q = qCol + n * 8 + j;
                const bool in = q < a.q_len;
                lseLog2[n][j] = in ? lseRow[q] * score::kLog2e : 0.f;
                delta[n][j] = in ? deltaRow[q] : 0.f;
              }

            Frag s, dp;
            zero(s);
            zero(dp);
            rowsTimesTileT(s, sK + keyRows, tQ, lane);
            rowsTimesTileT(dp, sV + keyRows, tDo, lane);
            const bool bounds = q0 + kBlockM > a.q_len || k0 + kBlockN > a.kv_len;
            const AttncInputGrads *grads = p.input_grads.any ? &p.input_grads : nullptr;
            backward::byTileClass<false>(bounds, cls, 0, [&](auto mask, auto inBounds) {
              gradients<decltype(mask)::value, decltype(inBounds)::value>(
                  s, dp, a, b, h, kRow, qCol, lseLog2, delta, grads);
            });

            fragTimesTile<kDPart>(dv, s, tDo, part * kDPart / 16, lane);
            fragTimesTile<kDPart>(dk, dp, tQ, part * kDPart / 16, lane);

            // Deterministic mode (no dq_accum): the dQ kernel computes dQ instead.
            if (p.dq_accum == nullptr)
              return;
            // dS^T to shared memory (both warps of a D = 256 pair hold it: the first writes).
            if (part == 0) {
#pragma unroll
              for (int n = 0; n < kBlockM / 8; ++n)
#pragma unroll
                for (int half = 0; half < 2; ++half) {
                  const int row = keyWarp * 16 + g + half * 8;
                  const unsigned addr = sDs + tile::swizzledOffset<8>(row, n) + 4 * t;
                  asm volatile(
                      "st.shared.b32 [%0], %1;\n" ::"r"(addr),
                      "r"(tile::pack2(Kind{}, dp[0][n][half * 2], dp[0][n][half * 2 + 1])));
                }
            }
            __syncthreads(); // dS^T visible

            // dQ (queries 16 * keyWarp .., this warp's columns) = dS K, 32 columns at a time,
            // added to dq_accum.
            {
              const unsigned dsXor = tile::pairXor(lane & 7, (lane >> 3) & 1);
              const unsigned dsAddr = sDs + ((lane & 7) + ((lane >> 4) << 3)) * 128;
              const unsigned kXor = tile::pairXor(lane & 7, lane >> 4);
              const unsigned kAddr = sK + (lane & 15) * kRowBytes;
              unsigned dsA[kBlockN / 16][4];
#pragma unroll
              for (int kk = 0; kk < kBlockN / 16; ++kk)
                tile::loadMatrixX4Trans(dsA[kk], dsAddr + kk * 16 * 128 +
                                                     tile::pairChunkOffset(keyWarp, dsXor));
              const int qRow = q0 + keyWarp * 16 + g;
#pragma unroll
              for (int c = 0; c < kDPart / 32; ++c) {
                float acc[4][4];
#pragma unroll
                for (int n = 0; n < 4; ++n)
#pragma unroll
                  for (int j = 0; j < 4; ++j)
                    acc[n][j] = 0.f;
#pragma unroll
                for (int kk = 0; kk < kBlockN / 16; ++kk)
#pragma unroll
                  for (int dd = 0; dd < 2; ++dd) {
                    unsigned kb[4];
                    const int chunkPair = part * kDPart / 16 + c * 2 + dd;
                    tile::loadMatrixX4Trans(kb, kAddr + kk * 16 * kRowBytes +
                                                    tile::pairChunkOffset(chunkPair, kXor));
                    tile::mma16816(Kind{}, acc[2 * dd], dsA[kk], kb[0], kb[1]);
                    tile::mma16816(Kind{}, acc[2 * dd + 1], dsA[kk], kb[2], kb[3]);
                  }
#pragma unroll
                for (int n = 0; n < 4; ++n)
#pragma unroll
                  for (int half = 0; half < 2; ++half) {
                    const int q = qRow + half * 8;
                    if (q < a.q_len) {
                      float *dst =
                          dqRow + (long long)q * kHeadDim + part * kDPart + c * 32 + n * 8 + 2 * t;
                      atomicAdd(dst, acc[n][half * 2]);
                      atomicAdd(dst + 1, acc[n][half * 2 + 1]);
                    }
                  }
              }
            }
          });
    }
    tile::copyAsyncWait<0>(); // K and V, when no head visited a tile

    // dK (times the scale, which dS leaves out) and dV of this warp's keys and columns,
    // straight from the accumulators.
    tile::storeRowPairs(Kind{}, dk, (unsigned short *)tile::headBase(p.dk, p.dk_stride, b, kvh),
                        p.dk_stride[2], kRow, a.kv_len, part * kDPart, t, a.scale);
    tile::storeRowPairs(Kind{}, dv, (unsigned short *)tile::headBase(p.dv, p.dv_stride, b, kvh),
                        p.dv_stride[2], kRow, a.kv_len, part * kDPart, t);
  }
};

} // namespace attnc

#endif // ATTNC_KERNELS_SM80_BACKWARD_CUH
