//===- sm80/backward_dq.cuh - The deterministic backward's dQ kernel ------===//
//
// dQ without atomics (Arguments::deterministic): the forward's shape over the key tiles of a
// query tile, with the products of sm80/backward.cuh.
//
//===----------------------------------------------------------------------===//
#ifndef ATTNC_KERNELS_SM80_BACKWARD_DQ_CUH
#define ATTNC_KERNELS_SM80_BACKWARD_DQ_CUH

#include "attention/backward_score.cuh"
#include "sm80/backward.cuh"
#include "sm80/producer.cuh"

namespace attnc {

/// The deterministic mode's dQ: one CTA per (query tile, head, batch) walks the key tiles of
/// the forward's V::kvRanges (the forward's cursor, sm80/producer.cuh), recomputes S and dP
/// and accumulates dQ = dS K in registers: no atomics, so bit-identical from run to run, for
/// S and dP computed twice (once here, once in the key-tile kernel). Four warps of 16 queries.
template <class V, int kHeadDim, class Kind, int kStages> struct BackwardDqSm80 {
  using Ops = BackwardSm80<V, kHeadDim, Kind, kStages>;
  static constexpr int kBlockM = 64, kBlockN = 64, kWarps = 4, kThreads = 128;
  static constexpr int kChunks = kHeadDim / 8;
  static constexpr unsigned kRowBytes = kChunks * 16;
  static constexpr int kTileBytes = 64 * kHeadDim * 2;
  static constexpr int kKOffset = 2 * kTileBytes; // after Q and dO
  static constexpr int kVOffset = kKOffset + kStages * kTileBytes;
  static constexpr int kAuxOffset = kVOffset + kStages * kTileBytes;

  using Producer = Sm80Producer<V, kBlockN, kThreads, kChunks>;
  using Aux = typename Producer::template Bookkeeping<kStages>;
  static constexpr int kSmemBytes = kAuxOffset + ((int)sizeof(Aux) + 127) / 128 * 128;
  using TileCursor = typename Producer::template TileCursor<Aux>;

  static __device__ __forceinline__ void run(const AttncBackwardParams &p, const AttncArgs &a,
                                             unsigned char *smem) {
    const int qTile = (int)blockIdx.x, h = (int)blockIdx.y, b = (int)blockIdx.z;
    const int kvh = h / (a.heads / a.kv_heads);
    const int q0 = qTile * kBlockM, qHi = min(q0 + kBlockM, a.q_len) - 1;
    const int tid = (int)threadIdx.x, warp = tid / 32, lane = tid % 32;
    const int g = lane / 4, t = lane % 4;
    const unsigned sQ = tile::sharedAddress(smem);
    const unsigned sDo = sQ + kTileBytes, sK = sQ + kKOffset, sV = sQ + kVOffset;
    Aux &aux = *reinterpret_cast<Aux *>(smem + kAuxOffset);

    if (tid == 0) {
      int lo[ATTNC_MAX_KV_RANGES] = {}, hi[ATTNC_MAX_KV_RANGES] = {};
      aux.setIntervals(V::kvRanges(a, b, h, q0, qHi, lo, hi), lo, hi, a.kv_len);
    }
    const unsigned char *qBase = tile::headBase(p.q, p.q_stride, b, h);
    const unsigned char *doBase = tile::headBase(p.d_o, p.do_stride, b, h);
    const unsigned char *kBase = tile::headBase(p.k, p.k_stride, b, kvh);
    const unsigned char *vBase = tile::headBase(p.v, p.v_stride, b, kvh);
    Producer::template loadTile<kBlockM>(sQ, qBase, p.q_stride[2], q0, a.q_len);
    Producer::template loadTile<kBlockM>(sDo, doBase, p.do_stride[2], q0, a.q_len);
    tile::copyAsyncCommit();
    __syncthreads(); // the intervals

    // This thread's rows: q0 + 16 warp + g + 8 half.
    const int qRow = q0 + warp * 16 + g;
    float lseLog2[2], delta[2];
#pragma unroll
    for (int half = 0; half < 2; ++half) {
      const int q = qRow + half * 8;
      const bool in = q < a.q_len;
      lseLog2[half] =
          in ? p.lse[b * p.lse_stride[0] + h * p.lse_stride[1] + q] * score::kLog2e : 0.f;
      delta[half] = in ? p.delta[((long long)b * a.heads + h) * a.q_len + q] : 0.f;
    }
    float dq[1][kHeadDim / 8][4];
#pragma unroll
    for (int n = 0; n < kHeadDim / 8; ++n)
#pragma unroll
      for (int j = 0; j < 4; ++j)
        dq[0][n][j] = 0.f;

    TileCursor cursor;
    const auto next = [&](int &start, int &cls) {
      return cursor.advance(aux, a, b, h, q0, qHi, start, cls);
    };
    const auto load = [&](int stage, int start) {
      Producer::template loadTile<kBlockN>(sK + stage * kTileBytes, kBase, p.k_stride[2], start,
                                           a.kv_len);
      Producer::template loadTile<kBlockN>(sV + stage * kTileBytes, vBase, p.v_stride[2], start,
                                           a.kv_len);
    };
    const unsigned rows = warp * 16 * kRowBytes;
    Producer::template forEachStagedTile<kStages>(aux, next, load, [&](int stage, int k0, int cls) {
      const unsigned tK = sK + stage * kTileBytes, tV = sV + stage * kTileBytes;
      typename Ops::Frag s, dp;
      Ops::zero(s);
      Ops::zero(dp);
      Ops::rowsTimesTileT(s, sQ + rows, tK, lane);
      Ops::rowsTimesTileT(dp, sDo + rows, tV, lane);
      const bool bounds = q0 + kBlockM > a.q_len || k0 + kBlockN > a.kv_len;
      const auto pairs = [&](auto mask, auto inBounds) {
#pragma unroll
        for (int half = 0; half < 2; ++half)
#pragma unroll
          for (int n = 0; n < kBlockN / 8; ++n)
#pragma unroll
            for (int j = 0; j < 2; ++j)
              backward::pairGradient<V, decltype(mask)::value, decltype(inBounds)::value>(
                  s[0][n][half * 2 + j], dp[0][n][half * 2 + j], a, b, h, qRow + half * 8,
                  k0 + n * 8 + 2 * t + j, lseLog2[half], delta[half], nullptr);
      };
      backward::byTileClass<false>(bounds, cls, 0, pairs);
      Ops::template fragTimesTile<kHeadDim>(dq, dp, tK, 0, lane);
    });

    tile::storeRowPairs(Kind{}, dq, (unsigned short *)tile::headBase(p.dq, p.dq_stride, b, h),
                        p.dq_stride[2], qRow, a.q_len, 0, t, a.scale); // dS leaves it out
  }
};

} // namespace attnc

#endif // ATTNC_KERNELS_SM80_BACKWARD_DQ_CUH
