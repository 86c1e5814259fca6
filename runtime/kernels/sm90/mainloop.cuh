//===- mainloop.cuh - The sm90 forward's consumer warpgroups -------------===//
//
// Two consumer warpgroups of 64 query rows each take the same key tiles from the ring. Per
// tile: S = Q K^T (wgmma, async) and O += P_prev V_prev issued back to back, the scores and
// online softmax of S (attention/score.cuh, attention/online_softmax.cuh) while the PV
// product is in flight, then S becomes P in registers. The two warpgroups' matrix work
// alternates by named barriers (ping-pong). A unit ends with the epilogue straight from
// registers to global memory (attention/epilogue.cuh), Q released after its last QK^T.
//
//===----------------------------------------------------------------------===//
#ifndef ATTNC_KERNELS_SM90_MAINLOOP_CUH
#define ATTNC_KERNELS_SM90_MAINLOOP_CUH

#include "attention/epilogue.cuh"
#include "attention/online_softmax.cuh"
#include "attention/score.cuh"
#include "primitives/hopper.cuh"
#include "primitives/trace.cuh"
#include "primitives/wgmma.cuh"
#include "sm90/traits.cuh"

namespace attnc {

template <class T> struct Sm90Mainloop {
  using V = typename T::V;
  using Kind = typename T::Kind;
  using Aux = typename T::Aux;
  using Scheduler = typename T::Scheduler;
  using Softmax = OnlineSoftmax<1>;
  static constexpr int kHeadDim = T::kHeadDim, kBlockM = T::kBlockM, kBlockN = T::kBlockN;
  static constexpr int kStages = T::kStages, kTileBytes = T::kTileBytes, kQBytes = T::kQBytes;
  static constexpr int kQBuffers = T::kQBuffers, kDTiles = T::kDTiles;
  static constexpr int kTurnBarrier = T::kTurnBarrier;
  static constexpr bool kQInRegisters = T::kQInRegisters, kSoftmaxUnderPV = T::kSoftmaxUnderPV;
  static __device__ __forceinline__ int entryStart(int entry) { return T::Scan::entryStart(entry); }
  static __device__ __forceinline__ int entryClass(int entry) { return T::Scan::entryClass(entry); }
  static __device__ __forceinline__ int entryProven(int entry) {
    return T::Scan::entryProven(entry);
  }
  static __device__ __forceinline__ unsigned barrierAddress(const unsigned long long &bar) {
    return T::barrierAddress(bar);
  }

  static __device__ __forceinline__ void consume(const AttncForwardParams &p, const AttncArgs &a,
                                                 Aux &aux, unsigned sQ, unsigned sK, unsigned sV,
                                                 int consumer, Kind kind) {
    const int ctid = (int)threadIdx.x % 128;
    const int warp = ctid / 32, lane = ctid % 32;
    const int g = lane / 4, t = lane % 4;
    const int rowBase = consumer * 64 + warp * 16 + g; // this thread's first row in the block

    float o[kHeadDim / 2];
    float s[kBlockN / 2];
    unsigned pFrag[kBlockN / 16][4];
    Softmax rows;             // the running max and sum of this thread's two rows
    int q0 = 0, b = 0, h = 0; // the current unit
    const float scaleLog2 = a.scale * score::kLog2e;
    const float factor = score::scoreFactor<V>(a); // scores -> log2 units, in the exponent's FFMA

    // Ping-pong: a consumer issues its matrix products only on its turn and then hands the
    // turn to the other, so one's softmax runs under the other's products. Both consumers
    // take the same number of turns per unit, so the alternation runs on across units.
    // Consumer 1 gives consumer 0 the first turn; consumer 0 takes one extra turn at the very
    // end (below), so every named-barrier phase sees exactly 128 syncs + 128 arrives.
    const int myTurn = kTurnBarrier + consumer, otherTurn = kTurnBarrier + (consumer ^ 1);
    if (consumer == 1)
      hopper::namedArrive(kTurnBarrier, 256);

    int qBuffer = 0;                            // the current unit's Q buffer
    unsigned qPanel = sQ + consumer * 64 * 128; // this consumer's 64 rows of its panel 0
    unsigned qFrag[kQInRegisters ? kHeadDim / 16 : 1][4];
    // This warp's 16 rows of Q as m16n8k16 A fragments: ldmatrix matrix j = lane / 8 holds
    // rows + 8 * (j % 2) and 16-byte chunk 2 * (kk % 4) + j / 2 of panel kk / 4 (128-byte
    // swizzle: chunk ^ row % 8).
    auto loadQ = [&] {
      if constexpr (kQInRegisters) {
        const int row = consumer * 64 + warp * 16 + ((lane / 8) % 2) * 8 + lane % 8;
#pragma unroll
        for (int kk = 0; kk < kHeadDim / 16; ++kk) {
          const int chunk = (kk % 4) * 2 + lane / 16;
          tile::loadMatrixX4(qFrag[kk], sQ + qBuffer * kQBytes + (kk / 4) * kBlockM * 128 +
                                            row * 128 + ((chunk ^ (row % 8)) * 16));
        }
      }
    };
    // Descriptors as low words plus constant offsets (hopper::descriptorLow128B): the
    // stage's base once per tile, then one add per product.
    const unsigned kDescLow = hopper::descriptorLow128B(sK, 16);
    const unsigned vDescLow = hopper::descriptorLow128B(sV, kBlockN * 128);
    auto issueScores = [&](int stage) {
      const unsigned kLow = kDescLow + stage * (kTileBytes >> 4);
      const unsigned qLow = hopper::descriptorLow128B(qPanel, 16);
#pragma unroll
      for (int kk = 0; kk < kHeadDim / 16; ++kk) {
        const unsigned long long descK =
            hopper::descriptorFromLow128B(kLow + (hopper::kMajorStepOffset(kk, kBlockN) >> 4));
        if constexpr (kQInRegisters) {
          wgmma::mmaRSKMajor(kind, s, qFrag[kk], descK, kk > 0 ? 1 : 0);
        } else {
          const unsigned long long descQ =
              hopper::descriptorFromLow128B(qLow + (hopper::kMajorStepOffset(kk, kBlockM) >> 4));
          wgmma::mmaSS(kind, s, descQ, descK, kk > 0 ? 1 : 0);
        }
      }
    };
    auto issueValues = [&](int stage) {
      const unsigned vLow = vDescLow + stage * (kTileBytes >> 4);
#pragma unroll
      for (int kk = 0; kk < kBlockN / 16; ++kk)
        wgmma::mmaRS(kind, o, pFrag[kk], hopper::descriptorFromLow128B(vLow + kk * 16 * 128 / 16));
    };
    auto release = [&](int stage) {
      __syncwarp();
      if (lane == 0)
        hopper::barrierArrive(barrierAddress(aux.empty[stage]));
    };

    // Scores and softmax of S in place (attention/score.cuh, attention/online_softmax.cuh);
    // returns whether O must be rescaled by alpha after the pending PV product.
    auto softmax = [&](int entry, float(&alpha)[1][2]) -> bool {
      const int k0 = entryStart(entry);
      [[maybe_unused]] int cls = entryClass(entry);
#if ATTNC_SM90_DEV_UNMASKED
      cls = cls == ATTNC_TILE_PARTIAL ? ATTNC_TILE_FULL : cls; // wrong results: mask cost only
#endif
      score::scoreStep<V, kBlockM, kBlockN, V::kMaskFactors>(
          s, a, b, h, q0, k0, cls, entryProven(entry), q0 + rowBase, k0 + 2 * t, scaleLog2);
      return rows.update(s, factor, alpha);
    };
    auto rescaleO = [&](const float(&alpha)[1][2]) { Softmax::rescale(o, alpha); };
    auto toP = [&]() {
#pragma unroll
      for (int kk = 0; kk < kBlockN / 16; ++kk) {
        pFrag[kk][0] = tile::pack2(kind, s[8 * kk + 0], s[8 * kk + 1]);
        pFrag[kk][1] = tile::pack2(kind, s[8 * kk + 2], s[8 * kk + 3]);
        pFrag[kk][2] = tile::pack2(kind, s[8 * kk + 4], s[8 * kk + 5]);
        pFrag[kk][3] = tile::pack2(kind, s[8 * kk + 6], s[8 * kk + 7]);
      }
    };

    int it = 0; // ring position, continued across units
    [[maybe_unused]] const long long tStart = clock64();
    [[maybe_unused]] long long tWaitQ = 0, tWaitTile = 0, tWaitTurn = 0, tEpilogue = 0;
    [[maybe_unused]] int units = 0, tiles = 0, partialHalves = 0;
    // Lane 0 reads the slot and broadcasts it: the thread that read it is the one that
    // later releases the stage (mbarrier arrive, release semantics), so the producer's
    // rewrite of the slot is ordered after every read of it.
    auto nextTile = [&](int &stage) -> int {
      stage = it % kStages;
      ATTNC_TIMED(tWaitTile,
                  hopper::barrierWait(barrierAddress(aux.full[stage]), (it / kStages) & 1));
      ++it;
      int entry = 0;
      if (lane == 0)
        entry = *(volatile int *)&aux.slot[stage];
      entry = __shfl_sync(0xffffffffu, entry, 0);
#if ATTNC_SM90_TRACE
      tiles += entry >= 0;
      partialHalves += entry >= 0 && entryClass(entry) != ATTNC_TILE_FULL;
#endif
      return entry;
    };

    // The end marker's stage is released at once; Q is released after the last QK^T.
    auto unitDone = [&](int stage) {
      release(stage);
      if (lane == 0)
        hopper::barrierArrive(barrierAddress(aux.qEmpty[qBuffer]));
    };

    for (int n = 0;; ++n) {
      qBuffer = n % kQBuffers;
      qPanel = sQ + qBuffer * kQBytes + consumer * 64 * 128;
      ATTNC_TIMED(tWaitQ,
                  hopper::barrierWait(barrierAddress(aux.qFull[qBuffer]), (n / kQBuffers) & 1));
      int u = 0;
      if (lane == 0)
        u = *(volatile int *)&aux.unit[qBuffer]; // read by the thread that releases Q
      u = __shfl_sync(0xffffffffu, u, 0);
      if (u < 0)
        break;
      const WorkUnit unit = Scheduler::decode(a, u);
#if ATTNC_SM90_TRACE
      ++units;
#endif
      q0 = unit.q0;
      b = unit.b;
      h = unit.h;
#pragma unroll
      for (int i = 0; i < kHeadDim / 2; ++i)
        o[i] = 0.f;
      rows.reset();
      loadQ();
      // The key tiles: QK^T of tile i issued together with PV of tile i - 1.
      int stage = 0, prevStage = 0;
      int entry = nextTile(stage);
      if (entry < 0) {
        unitDone(stage);
      } else {
        ATTNC_TIMED(tWaitTurn, hopper::namedSync(myTurn, 256));
        wgmma::fence();
        issueScores(stage);
        wgmma::commit();
        hopper::namedArrive(otherTurn, 256);
        wgmma::wait<0>();
        wgmma::fenceOperands(s);
        float alpha[1][2];
        softmax(entry, alpha);
        toP();
        prevStage = stage;
        for (;;) {
          entry = nextTile(stage);
          if (entry < 0) {
            unitDone(stage);
            break;
          }
          ATTNC_TIMED(tWaitTurn, hopper::namedSync(myTurn, 256));
          wgmma::fence();
          issueScores(stage);
          wgmma::commit();
          issueValues(prevStage);
          wgmma::commit();
          hopper::namedArrive(otherTurn, 256);
          wgmma::wait<1>(); // S is ready, PV may still run
          wgmma::fenceOperands(s);
          if constexpr (kSoftmaxUnderPV) {
            // The softmax runs under the PV product. The wait for PV sits in both arms of
            // the rescale branch: ptxas places a wgmma wait at the top of its basic block,
            // and in the block of the softmax that put it above the exponentials.
            const bool rescale = softmax(entry, alpha);
            if (rescale) {
              wgmma::wait<0>();
              wgmma::fenceOperands(o);
              rescaleO(alpha);
            } else {
              wgmma::wait<0>();
              wgmma::fenceOperands(o);
            }
            release(prevStage);
          } else {
            // 64-key tiles: a short PV product. Here ptxas puts the wait after the mask but
            // before the exponentials, so the stage is released early and the ring refills
            // sooner.
            const bool rescale = softmax(entry, alpha);
            wgmma::wait<0>();
            wgmma::fenceOperands(o);
            release(prevStage);
            if (rescale)
              rescaleO(alpha);
          }
          toP();
          prevStage = stage;
        }
        ATTNC_TIMED(tWaitTurn, hopper::namedSync(myTurn, 256));
        wgmma::fence();
        issueValues(prevStage);
        wgmma::commit();
        hopper::namedArrive(otherTurn, 256);
        wgmma::wait<0>();
        wgmma::fenceOperands(o);
        release(prevStage);
      }
      ATTNC_TIMED(tEpilogue, storeUnit(p, a, kind, o, rows, q0, b, h, rowBase, t));
    }
#if ATTNC_SM90_TRACE
    if (ctid == 0) {
      ATTNC_TRACE_ADD(kTraceConsumerCycles, clock64() - tStart);
      ATTNC_TRACE_ADD(kTraceConsumerWaitQ, tWaitQ);
      ATTNC_TRACE_ADD(kTraceConsumerWaitTile, tWaitTile);
      ATTNC_TRACE_ADD(kTraceConsumerWaitTurn, tWaitTurn);
      ATTNC_TRACE_ADD(kTraceConsumerEpilogue, tEpilogue);
      ATTNC_TRACE_ADD(kTracePartialHalves, partialHalves);
      if (consumer == 0) {
        ATTNC_TRACE_ADD(kTraceUnits, units);
        ATTNC_TRACE_ADD(kTraceTiles, tiles);
      }
    }
#endif
    if (consumer == 0)
      hopper::namedSync(myTurn, 256); // consumer 1's last hand-over (or its first)
#if ATTNC_SM90_TRACE
    if (consumer == 0 && ctid == 0) {
      const unsigned long long end = attncGlobalTimer();
      ATTNC_TRACE_ADD(kTraceEndSum, end);
      atomicMax(&attnc_trace[kTraceEndMax], end);
    }
#endif
  }

  /// Epilogue of one unit: normalise, LSE, out hook, and the rows straight from registers
  /// to global memory. A quad holds 8 contiguous columns of a row per 8-column tile, two per
  /// lane; a quad transpose gives each lane 8 contiguous columns of one tile instead, so a
  /// row segment of 4 tiles (64 bytes) goes out as 16-byte stores (a quarter of the store
  /// requests of 4-byte ones). Shared memory is
  /// not used, so the producer loads the next unit's Q and key tiles meanwhile.
  static __device__ __forceinline__ void storeUnit(const AttncForwardParams &p, const AttncArgs &a,
                                                   Kind kind, const float (&o)[kHeadDim / 2],
                                                   const Softmax &rows, int q0, int b, int h,
                                                   int rowBase, int t) {
    unsigned char *oBase = (unsigned char *)p.o + (b * p.o_stride[0] + h * p.o_stride[1]) * 2;
    const epilogue::RowTotal totals[2] = {{rows.rowSum[0][0], rows.rowMax[0][0]},
                                          {rows.rowSum[0][1], rows.rowMax[0][1]}};
#pragma unroll
    for (int half = 0; half < 2; ++half) {
      const int q = q0 + rowBase + half * 8;
      const bool rowIn = q < a.q_len; // the same for the 4 lanes of a quad
      const epilogue::RowTotal &row = totals[half];
      epilogue::storeLse(p, b, h, q, row, rowIn && t == 0);
      unsigned char *rowOut = oBase + (long long)(rowIn ? q : 0) * p.o_stride[2] * 2;
      // Two columns of every 8-column tile, normalised, through the out hook, packed: all
      // before the first store, so the out hook's loads (which may alias O, as far as the
      // compiler knows) are all in flight together.
      unsigned w[kDTiles];
#pragma unroll
      for (int dt = 0; dt < kDTiles; ++dt) {
        float v0 = row.normalise(o[dt * 4 + half * 2]);
        float v1 = row.normalise(o[dt * 4 + half * 2 + 1]);
        epilogue::storeBeforeOut<V>(p, tile::pack2(kind, v0, v1), b, h, q, dt * 8 + 2 * t, rowIn);
        epilogue::applyOut<V>(a, row, v0, v1, b, h, q, q0, dt * 8 + 2 * t, rowIn);
        w[dt] = tile::pack2(kind, v0, v1);
      }
#pragma unroll
      for (int group = 0; group < kDTiles / 4; ++group) {
        unsigned x0 = w[group * 4], x1 = w[group * 4 + 1], x2 = w[group * 4 + 2],
                 x3 = w[group * 4 + 3];
        tile::quadTranspose(x0, x1, x2, x3, t); // lane t: columns (group * 4 + t) * 8 .. + 8
        if (rowIn)
          *reinterpret_cast<uint4 *>(rowOut + (group * 4 + t) * 16) = make_uint4(x0, x1, x2, x3);
      }
    }
  }
};

} // namespace attnc

#endif // ATTNC_KERNELS_SM90_MAINLOOP_CUH
