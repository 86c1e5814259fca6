//===- sm90/backward.cuh - Block-sparse attention backward for Hopper (sm_90a) ===//
//
// The key-tile kernel of the backward (sm80/backward.cuh has the whole backward and its
// semantics) on Hopper's instructions: TMA loads on mbarriers, one producer warpgroup and two
// consumer warpgroups (setmaxnreg), wgmma for the five products. The dQ store is
// attention/dq_store.cuh's; the preparation, recompute and deterministic dQ kernels stay the
// portable ones.
//
// One CTA per (key tile, KV head, batch), launched longest first (attention/
// key_tile_order.cuh). A key tile is two 64-key blocks, not always adjacent (attention/
// key_block_pairs.cuh pairs blocks whose query ranges end together where that saves query
// tiles); consumer warpgroup c owns block c, whose K and V stay in shared memory. The
// producer's first warp walks the kBlockM-query tiles (64, or 80 at D = 128: kQueryTile) of
// the tile's query intervals (V::qRanges of each block, computed before by
// attnc_backward_query_intervals: writeQueryIntervals, united by the pairing and trimmed by
// countQueryTiles) for every query head of the group, classifies them 32 at a time
// (V::classify, or V::classifyFactors for a factored mask, one per lane; per block where the
// blocks are apart) and streams the non-empty ones' Q and dO (TMA) and their rows' LSE *
// log2 e and delta (params.row_stats, one bulk copy) through a 2-stage ring. Per query tile,
// each consumer warpgroup:
//   S^T  = K_c Q^T, dP^T = V_c dO^T        wgmma, both operands K-major in shared memory,
//                                          two groups
//   P^T, dS^T per element                  backward::pairGradient (hooks, masks by class:
//                                          a PARTIAL tile evaluates only the mask factor
//                                          its classification did not prove);
//                                          without a score hook P^T while dP^T's group runs
//                                          (backward::SplitPair), then dS^T
//   dV_c += P^T dO                         wgmma, A (P^T) from registers, B MN-major
//   dS^T to shared memory (two buffers, so one barrier per tile orders both warpgroups), then
//   dQ^T = K^T dS^T (K^T MN-major; dS^T MN-major for 64 queries, else K-major: kDsByQuery):
//   at D = 128 warpgroup c takes head-dim columns 64 c .. 64 c + 63 over all 128 keys, at
//   D = 64 all columns over its own 64 keys
//   dK_c += dS_c^T Q                       wgmma, A (dS^T) from registers, B MN-major
//   dQ's fragment is staged in shared memory while dK's product runs; the producer's second
//   warp (writeDq) adds it to dq_accum by one bulk reduction (cp.reduce.async.bulk, 16 KB;
//   20 KB with 80 queries) instead of per-element atomics; dq_accum keeps the fragment order
//   (DqAccum) and the dQ store reads it so. dK is waited before the tile ends (its A registers
//   must not live across the loop's back-edge: ptxas would serialise every wgmma); the stage,
//   whose last reader dK is, is released at the next tile's first wait.
// dK and dV leave at the end through the freed Q and dO stages (storeKeyRows: coalesced 16-byte
// row stores).
//
// LAUNCH: grid (ceil(kv_len / 128) * kv_heads * batch), 384 threads, dynamic shared memory and
// block sizes from __constant__ int attnc_backward_key_tiles_config[8] (as the portable one;
// [6] = 1: it takes tensor maps, [7] = kBlockM: dq_accum's and row_stats' rows per (batch,
// head) rounded to it); Q and dO's TMA boxes are kBlockM rows (config[0]);
// parameters (AttncBackwardParams, AttncArgs, AttncBackwardTmaMaps), __grid_constant__.
// D = 64 or 128 (D = 256 keeps the portable kernel: its dK and dV alone would fill the
// registers).
//
//===----------------------------------------------------------------------===//
#ifndef ATTNC_KERNELS_SM90_BACKWARD_CUH
#define ATTNC_KERNELS_SM90_BACKWARD_CUH

#include "attention/backward_score.cuh"
#include "attention/dq_accum.cuh"
#include "attention/key_block_pairs.cuh"
#include "attention/key_tile_order.cuh"
#include "attention/range_scan.cuh"
#include "attnc_backward_params.h"
#include "primitives/fragment.cuh"
#include "primitives/hopper.cuh"
#include "primitives/tile.cuh"
#include "primitives/trace.cuh"
#include "primitives/wgmma.cuh"

namespace attnc {

template <class V, int kHeadDim, class Kind, int kQueryTile = 64> struct BackwardSm90 {
  static constexpr int kBlockM = kQueryTile; // queries per step
  static constexpr int kBlockN = 128; // keys per CTA: two 64-key blocks, one per consumer warpgroup
  static constexpr int kStages = 2;
  static constexpr int kThreads = 384;
  static constexpr int kPanels = kHeadDim / 64; // 64-column (128-byte) swizzle panels
  static constexpr int kKBytes = kBlockN * kHeadDim * 2;
  static constexpr int kQBytes = kBlockM * kHeadDim * 2;
  static constexpr int kDsBytes = kBlockN * kBlockM * 2;
  static constexpr int kStatsBytes = kBlockM * 8; // (LSE * log2 e, delta) per query row
  // The consumers need 240 registers to compute P while dP's product runs without spilling;
  // the producer's interval walk then keeps its state in local memory (a few hundred bytes,
  // L1-resident), which costs little as it runs ahead of the consumers by the ring.
  static constexpr int kProducerRegs = 24, kConsumerRegs = 240;
  static_assert(kHeadDim == 64 || kHeadDim == 128, "head dim 64 or 128");
  // wgmma N = kBlockM for S^T, dP^T and dQ^T (wrappers for 64 and 80: scripts/gen_wgmma.py),
  // K steps of 16 queries for dV and dK.
  static_assert(kBlockM == 64 || kBlockM == 80, "query tiles of 64 or 80");
  static constexpr int kQuerySteps = kBlockM / 16;
  /// dS's layout in shared memory, the B operand of dQ^T = K^T dS^T. 64 queries fill one
  /// 128-byte swizzle row: dS^T, a row per key (an MN-major operand). More would spill into a
  /// second 64-column panel of 128-byte rows, 16 KB per buffer for 4 KB of data, which does not
  /// fit beside the rest at D = 128; so wider tiles store dS, a row per query in one panel per
  /// 64 keys (a K-major operand, no padding), by transposing stmatrix.
  static constexpr bool kDsByQuery = kBlockM > 64;
  /// Whether dV's product is waited before dQ's is issued, freeing P^T's A fragment: with 80
  /// queries, its 20 registers live beside dQ^T's 40 accumulators, dK's and dV's 128 and dS^T's
  /// fragment would leave ptxas too few of the 240 and it serialises every wgmma (C7512). The
  /// wait follows the barrier between the warpgroups, so that dV's product can still run while
  /// a warpgroup waits there. (Without it ptxas now places the same wait itself: it gives dQ^T's
  /// accumulators P^T's registers.)
  static constexpr bool kWaitDvBeforeDq = kBlockM > 64;
  static_assert(kProducerRegs * 128 + kConsumerRegs * 256 <= 65536, "register file");

  /// dq_accum in the fragment order of dQ^T (attention/dq_accum.cuh).
  using DqAccum = backward::FragmentDqAccum<kHeadDim, kBlockM>;
  static_assert(DqAccum::kTileRows == kBlockM, "one query tile per accumulator tile");
  static constexpr int kDqPartBytes = DqAccum::kPartFloats * 4;
  /// How the consumer warpgroups share dQ^T = K^T dS^T. At D = 128 by head-dim parts:
  /// warpgroup c computes part c over all 128 keys, after one barrier that makes both
  /// warpgroups' dS^T visible. At D = 64 (one part) by keys: each computes it over its own 64
  /// keys and both reductions add to the part. (Splitting by keys at D = 128 too needs no
  /// barrier between the warpgroups but twice the reductions: 10% slower on causal, equal on
  /// dense, docs/performance.md.)
  static constexpr bool kDqSplitKeys = kPanels == 1;

  struct Aux {
    unsigned long long kvFull;
    unsigned long long full[kStages], empty[kStages];
    int slot[kStages];     ///< query tile start | class, or -1: no more tiles
    int slotHead[kStages]; ///< the query head of the tile
#if ATTNC_SM90_TRACE
    unsigned traceSums[2][kBwdTracePhases + 1]; ///< per consumer warpgroup; last: tiles
    unsigned traceProducerWait;
#endif
  };
  // Shared memory (1024-byte aligned tiles): [K][V][Q stages][dO stages][dS^T, two
  // buffers][dQ staging, one part per consumer warpgroup][row stats stages][bookkeeping].
  static constexpr int kVOffset = kKBytes;
  static constexpr int kQOffset = 2 * kKBytes;
  static constexpr int kDoOffset = kQOffset + kStages * kQBytes;
  static constexpr int kDsOffset = kDoOffset + kStages * kQBytes;
  static constexpr int kDqOffset = kDsOffset + 2 * kDsBytes;
  static constexpr int kStatsOffset = kDqOffset + 2 * kDqPartBytes; // one part per warpgroup
  static constexpr int kAuxOffset = kStatsOffset + kStages * kStatsBytes;
  static constexpr int kSmemBytes = kAuxOffset + ((int)sizeof(Aux) + 127) / 128 * 128 + 1024;
  /// The epilogue stages dK, then dV (bf16, 128 rows each) where the Q and dO stages were.
  static constexpr int kStagedKeyRowsBytes = kBlockN * kHeadDim * 2;
  static_assert(2 * kStagedKeyRowsBytes <= kDsOffset - kQOffset,
                "dK and dV fit the Q and dO stages");
  static_assert(kSmemBytes <= 227 * 1024, "shared memory per block (sm_90)");

  // The interval walk over query intervals, the classification (with the factors proven) and
  // the ring entries' format (query tile start | class | proven factors).
  using Scan = KeyTileScan<V, kBlockM, V::kMaskFactors>;
  using Order = backward::KeyTileOrder<kBlockN>; // which unit each CTA runs
  using Pairs = backward::KeyBlockPairs;         // which blocks each key tile holds
  using TileBlocks = backward::KeyTileBlocks;
  static_assert(Pairs::kTileRows == kBlockN, "two blocks per key tile");

  // Named barriers (0 is __syncthreads): both consumer warpgroups; per warpgroup c, its
  // staged dQ part is full / free again (with the dQ writer warp), and its D = 64 barrier.
  static constexpr int kConsumersBarrier = 1, kDqFullBarrier = 2, kDqFreeBarrier = 4,
                       kSplitKeysBarrier = 6;
  static constexpr int kDqHandoffThreads = 128 + 32; // a consumer warpgroup and the writer

  static __device__ __forceinline__ unsigned barrier(const unsigned long long &bar) {
    return tile::sharedAddress(&bar);
  }

  /// Waits for the n-th slot of the ring and reads it (lane 0 reads, the warp gets it by
  /// shuffle): the query tile's start | class (or -1: no more tiles) and its head.
  static __device__ __forceinline__ void readSlot(Aux &aux, int n, int &entry, int &h) {
    const int stage = n % kStages;
    hopper::barrierWait(barrier(aux.full[stage]), (n / kStages) & 1);
    entry = h = 0;
    if (threadIdx.x % 32 == 0) {
      entry = *(volatile int *)&aux.slot[stage];
      h = *(volatile int *)&aux.slotHead[stage];
    }
    entry = __shfl_sync(0xffffffffu, entry, 0);
    h = __shfl_sync(0xffffffffu, h, 0);
  }

  /// The entry of query tile [qLo, qHi] against the key tile's blocks: one classification of
  /// both where they are adjacent, else each block's, united (Scan::uniteEntries). One call
  /// site in a loop, so the classifier is inlined once: the producer runs on few registers.
  static __device__ __forceinline__ int classifyTile(const AttncArgs &a, int b, int h, int qLo,
                                                     int qHi, const TileBlocks &blocks) {
    const bool single = blocks.k0[1] >= a.kv_len;
    const bool apart = !single && blocks.k0[1] != blocks.k0[0] + Pairs::kBlock;
    int entry = 0;
#pragma unroll 1
    for (int i = 0; i < (apart ? 2 : 1); ++i) {
      const int kLo = i == 0 ? blocks.k0[0] : blocks.k0[1];
      const int kHi = min(kLo + (single || apart ? Pairs::kBlock : kBlockN), a.kv_len) - 1;
      const int e = Scan::classifyEntry(a, b, h, qLo, qHi, kLo, kHi);
      entry = i == 0 ? e : Scan::uniteEntries(entry, e);
    }
    return entry;
  }

  /// The query tiles of a key tile for every query head of KV head kvh's group, a warp-wide
  /// batch of 32 at a time: the kBlockM-query tiles of the precomputed intervals, classified one
  /// per lane (classifyTile). Calls visit(h, range, start, cls) for each batch in order, from
  /// all lanes (range: the interval the lane's tile is walked in; cls EMPTY for the lanes past
  /// the intervals), and headDone(h) after each head's last.
  template <class Visit, class HeadDone>
  static __device__ __forceinline__ void
  scanQueryTiles(const AttncBackwardParams &p, const AttncArgs &a, int b, int kvh, int kTile,
                 const TileBlocks &blocks, int lane, Visit &&visit, HeadDone &&headDone) {
    const int group = a.heads / a.kv_heads;
    const long long keyTiles = Pairs::tiles(a);
    for (int h = kvh * group; h < (kvh + 1) * group; ++h) {
      const AttncQueryIntervals &intervals =
          p.q_intervals[((long long)b * a.heads + h) * keyTiles + kTile];
      int lo[ATTNC_MAX_KV_RANGES], hi[ATTNC_MAX_KV_RANGES];
#pragma unroll
      for (int i = 0; i < ATTNC_MAX_KV_RANGES; ++i) {
        lo[i] = __ldg(&intervals.lo[i]);
        hi[i] = __ldg(&intervals.hi[i]);
      }
      const int ranges = __ldg(&intervals.count);
      int range = 0, next = 0;
      while (range < ranges) {
        int r = range, start = next;
        Scan::walkIntervals(lo, hi, ranges, lane, r, start);
        int cls = ATTNC_TILE_EMPTY;
        if (r < ranges)
          cls = classifyTile(a, b, h, start, min(start + kBlockM, a.q_len) - 1, blocks);
        visit(h, r, start, cls);
        Scan::walkIntervals(lo, hi, ranges, 32, range, next);
      }
      headDone(h);
    }
  }

  /// One warp per (batch, KV head, key tile) unit: the query tiles the producer will visit
  /// (p.key_tile_lengths), which the launch order sorts by. It classifies every tile of the
  /// intervals, so it also trims each interval to its first and last tile not EMPTY (dropping
  /// intervals with none): the producer then walks no EMPTY tiles at the intervals' ends, which
  /// masks without a closed form in q leave many of (s2's shards: [k, q_len) for every key
  /// tile). The producer visits the same tiles in the same order: a tile's class depends
  /// only on its start, and the walk aligns starts to kBlockM either way.
  static __device__ __forceinline__ void countQueryTiles(const AttncBackwardParams &p,
                                                         const AttncArgs &a) {
    const long long u = ((long long)blockIdx.x * blockDim.x + threadIdx.x) / 32;
    if (u >= Order::units(a))
      return;
    const int lane = (int)threadIdx.x % 32;
    const backward::KeyTileUnit unit = Order::decode(a, u);
    const long long keyTiles = Pairs::tiles(a);
    int tiles = 0;
    // Per interval of the current head: the starts of its first and last tile not EMPTY
    // (first -1: none yet); registers, by unrolled selects.
    int first[ATTNC_MAX_KV_RANGES], last[ATTNC_MAX_KV_RANGES];
#pragma unroll
    for (int i = 0; i < ATTNC_MAX_KV_RANGES; ++i)
      first[i] = last[i] = -1;
    const auto visit = [&](int, int r, int start, int cls) {
      const unsigned kept = __ballot_sync(0xffffffffu, cls != ATTNC_TILE_EMPTY);
      tiles += __popc(kept);
#pragma unroll
      for (int i = 0; i < ATTNC_MAX_KV_RANGES; ++i) {
        const unsigned mine = kept & __ballot_sync(0xffffffffu, r == i);
        if (mine != 0u) {
          const int lo = __shfl_sync(0xffffffffu, start, __ffs(mine) - 1);
          last[i] = __shfl_sync(0xffffffffu, start, 31 - __clz(mine));
          if (first[i] < 0)
            first[i] = lo;
        }
      }
    };
    // A head's walk is over: its trimmed intervals, compacted.
    const auto headDone = [&](int h) {
      if (lane == 0) {
        AttncQueryIntervals &out =
            p.q_intervals[((long long)unit.b * a.heads + h) * keyTiles + unit.kTile];
        int count = 0;
#pragma unroll
        for (int i = 0; i < ATTNC_MAX_KV_RANGES; ++i)
          if (first[i] >= 0) {
            out.lo[count] = first[i];
            out.hi[count] = min(last[i] + kBlockM, a.q_len);
            ++count;
          }
        out.count = count;
      }
#pragma unroll
      for (int i = 0; i < ATTNC_MAX_KV_RANGES; ++i)
        first[i] = last[i] = -1;
    };
    scanQueryTiles(p, a, unit.b, unit.kvh, unit.kTile, Pairs::tileBlocks(p, u), lane, visit,
                   headDone);
    if (lane == 0)
      p.key_tile_lengths[u] = tiles;
  }

  /// The producer's first warp: K and V once (block c to rows 64 c .. 64 c + 63), then the
  /// query tiles of every head of the group (Q and dO by TMA, their rows' LSE * log2 e and
  /// delta by one bulk copy).
  static __device__ __forceinline__ void produce(const AttncBackwardParams &p, const AttncArgs &a,
                                                 const AttncBackwardTmaMaps &maps, Aux &aux,
                                                 unsigned base, int b, int kvh, int kTile,
                                                 const TileBlocks &blocks) {
    const int lane = (int)threadIdx.x % 32;
#if ATTNC_SM90_TRACE
    const long long tStart = clock64();
#endif
    if (lane == 0) {
      hopper::barrierArriveExpectBytes(barrier(aux.kvFull), 2 * kKBytes);
#pragma unroll
      for (int panel = 0; panel < kPanels; ++panel)
#pragma unroll
        for (int c = 0; c < 2; ++c) { // a block past kv_len loads zeros
          const unsigned rows = panel * kBlockN * 128 + c * 64 * 128;
          hopper::tmaLoad4d(base + rows, &maps.k, barrier(aux.kvFull), panel * 64, blocks.k0[c],
                            kvh, b);
          hopper::tmaLoad4d(base + kVOffset + rows, &maps.v, barrier(aux.kvFull), panel * 64,
                            blocks.k0[c], kvh, b);
        }
    }
    int n = 0; // tiles queued
    auto queue = [&](int entry, int h) {
      const int stage = n % kStages;
      if (lane == 0) {
#if ATTNC_SM90_TRACE
        const long long tWait = clock64();
        hopper::barrierWait(barrier(aux.empty[stage]), ((n / kStages) & 1) ^ 1);
        aux.traceProducerWait += (unsigned)(clock64() - tWait);
#else
        hopper::barrierWait(barrier(aux.empty[stage]), ((n / kStages) & 1) ^ 1);
#endif
        aux.slot[stage] = entry;
        aux.slotHead[stage] = h;
        if (entry < 0) {
          hopper::barrierArrive(barrier(aux.full[stage]));
        } else {
          const unsigned bar = barrier(aux.full[stage]);
          hopper::barrierArriveExpectBytes(bar, 2 * kQBytes + kStatsBytes);
          const int q0 = Scan::entryStart(entry);
          hopper::bulkLoad(base + kStatsOffset + stage * kStatsBytes,
                           p.row_stats + (((long long)b * a.heads + h) * p.row_stats_rows + q0) * 2,
                           kStatsBytes, bar);
#pragma unroll
          for (int panel = 0; panel < kPanels; ++panel) {
            hopper::tmaLoad4d(base + kQOffset + stage * kQBytes + panel * kBlockM * 128, &maps.q,
                              bar, panel * 64, q0, h, b);
            hopper::tmaLoad4d(base + kDoOffset + stage * kQBytes + panel * kBlockM * 128, &maps.d_o,
                              bar, panel * 64, q0, h, b);
          }
        }
      }
      ++n;
    };
    scanQueryTiles(
        p, a, b, kvh, kTile, blocks, lane,
        [&](int h, int, int start, int cls) {
          unsigned kept = __ballot_sync(0xffffffffu, cls != ATTNC_TILE_EMPTY);
          while (kept != 0u) {
            const int j = __ffs(kept) - 1;
            kept &= kept - 1;
            queue(__shfl_sync(0xffffffffu, start | cls, j), h);
          }
        },
        [](int) {});
    queue(-1, 0);
#if ATTNC_SM90_TRACE
    if (lane == 0) {
      ATTNC_TRACE_ADD(kBwdTraceProducerCycles, clock64() - tStart);
      ATTNC_TRACE_ADD(kBwdTraceProducerWaitStage, aux.traceProducerWait);
      ATTNC_TRACE_ADD(kBwdTraceCtas, 1);
    }
#endif
  }

  /// The query intervals of V::qRanges for every (batch, head, 64-key block), clamped, one
  /// thread each, before the key-tile kernel: the interval algebra needs far more registers
  /// than the producer keeps after setmaxnreg, and ptxas's spill code for it there touched the
  /// warpgroup's last register, which faults on the H200 (docs/runtime.md, "setmaxnreg").
  static __device__ __forceinline__ void writeQueryIntervals(const AttncBackwardParams &p,
                                                             const AttncArgs &a) {
    const long long keyBlocks = Pairs::blocks(a);
    const long long index = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (index >= (long long)a.batch * a.heads * keyBlocks)
      return;
    const int block = (int)(index % keyBlocks), h = (int)(index / keyBlocks % a.heads),
              b = (int)(index / keyBlocks / a.heads);
    const int k0 = block * Pairs::kBlock, kHi = min(k0 + Pairs::kBlock, a.kv_len) - 1;
    int lo[ATTNC_MAX_KV_RANGES] = {}, hi[ATTNC_MAX_KV_RANGES] = {};
    const int ranges = max(0, min(V::qRanges(a, b, h, k0, kHi, lo, hi), ATTNC_MAX_KV_RANGES));
    // Each interval's ends move to the first and last 64-aligned query tile the classifier
    // keeps (a few steps at most: the ranges are exact or refined to chunks of a few tiles),
    // so that blocks which keep the same query tiles get the same sort key in the pairing.
    constexpr int kTrimTile = 64, kTrimSteps = 16;
    const auto empty = [&](int qLo, int qHi) {
      return Scan::classifyEntry(a, b, h, qLo, qHi, k0, kHi) == ATTNC_TILE_EMPTY;
    };
    AttncQueryIntervals &out = p.block_intervals[index];
    int kept = 0;
#pragma unroll
    for (int i = 0; i < ATTNC_MAX_KV_RANGES; ++i) {
      int l = max(lo[i], 0), r = min(hi[i], a.q_len);
      for (int step = 0; i < ranges && step < kTrimSteps && l < r; ++step) {
        const int tileEnd = min((l / kTrimTile + 1) * kTrimTile, r);
        if (!empty(l, tileEnd - 1))
          break;
        l = tileEnd;
      }
      for (int step = 0; i < ranges && step < kTrimSteps && l < r; ++step) {
        const int tileStart = max((r - 1) / kTrimTile * kTrimTile, l);
        if (!empty(tileStart, r - 1))
          break;
        r = tileStart;
      }
      if (i < ranges && l < r) {
        out.lo[kept] = l;
        out.hi[kept++] = r;
      }
    }
    for (int i = kept; i < ATTNC_MAX_KV_RANGES; ++i)
      out.lo[i] = out.hi[i] = 0;
    out.count = kept;
  }

  /// The producer's second warp: adds the dQ parts the consumer warpgroups stage to dq_accum
  /// (one bulk reduction each), so that the consumers only store them and signal. It follows
  /// the ring's slots to know each query tile (and releases them too: the empty barriers
  /// count it); both warpgroups stage one part per tile, in turn.
  static __device__ __forceinline__ void writeDq(const AttncBackwardParams &p, const AttncArgs &a,
                                                 Aux &aux, unsigned base, int b) {
    if (p.dq_accum == nullptr)
      return;
    const bool leader = threadIdx.x % 32 == 0;
#pragma unroll
    for (int c = 0; c < 2; ++c)
      hopper::namedArrive(kDqFreeBarrier + c, kDqHandoffThreads);
    for (int n = 0;; ++n) {
      int entry, h;
      readSlot(aux, n, entry, h);
      if (leader) // the slot is read: this warp needs nothing else from the stage
        hopper::barrierArrive(barrier(aux.empty[n % kStages]));
      if (entry < 0)
        break;
      float *tile = p.dq_accum + ((long long)b * a.heads + h) * DqAccum::rows(a.q_len) * kHeadDim +
                    (long long)Scan::entryStart(entry) * kHeadDim;
#pragma unroll
      for (int c = 0; c < 2; ++c) {
        hopper::namedSync(kDqFullBarrier + c, kDqHandoffThreads);
        if (leader) {
          hopper::bulkReduceAddF32(tile + (kDqSplitKeys ? 0 : c) * DqAccum::kPartFloats,
                                   base + kDqOffset + c * kDqPartBytes, kDqPartBytes);
          hopper::bulkCommit();
          hopper::bulkWaitRead<0>();
        }
        __syncwarp();
        hopper::namedArrive(kDqFreeBarrier + c, kDqHandoffThreads);
      }
    }
    if (leader)
      hopper::bulkWaitAll();
  }

  /// Writes this warpgroup's 64 rows of dK (times `scale`) or dV, a wgmma accumulator (rows:
  /// keys key0 .. key0 + 63, columns: head dims), to `out` through shared memory (rows 64 c ..
  /// of `stage`): each row leaves as coalesced 16-byte stores, not as the fragment's 4-byte
  /// pairs (half of every 32-byte sector per store). The 16-byte chunks are swizzled by row
  /// (chunk ^ row % 8), so the fragment's writes and the row reads are free of bank conflicts.
  static __device__ __forceinline__ void storeKeyRows(Kind kind, const float (&acc)[kHeadDim / 2],
                                                      unsigned stage, int c, int tid,
                                                      unsigned short *out, long long rowStride,
                                                      int key0, int kvLen, float scale) {
    constexpr int kChunks = kHeadDim / 8, kRowBytes = kHeadDim * 2;
    const int warp = tid / 32, g = tid % 32 / 4, t = tid % 4;
    stage += c * 64 * kRowBytes;
#pragma unroll
    for (int half = 0; half < 2; ++half) {
      const unsigned row = stage + (warp * 16 + g + 8 * half) * kRowBytes + 4 * t;
#pragma unroll
      for (int j = 0; j < kChunks; ++j)
        asm volatile(
            "st.shared.u32 [%0], %1;\n" ::"r"(row + (j ^ g) * 16),
            "r"(tile::pack2(kind, scale * acc[4 * j + 2 * half], scale * acc[4 * j + 2 * half + 1]))
            : "memory");
    }
    hopper::namedSync(kSplitKeysBarrier + c, 128);
#pragma unroll
    for (int i = tid; i < 64 * kChunks; i += 128) {
      const int row = i / kChunks, chunk = i % kChunks;
      uint4 v;
      asm volatile("ld.shared.v4.u32 {%0, %1, %2, %3}, [%4];\n"
                   : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w)
                   : "r"(stage + row * kRowBytes + (chunk ^ row % 8) * 16)
                   : "memory");
      if (key0 + row < kvLen)
        *reinterpret_cast<uint4 *>(out + (long long)(key0 + row) * rowStride + chunk * 8) = v;
    }
  }

  /// Consumer warpgroup c: the 64 keys from kBlock0 (its block). Per query tile n the products
  /// are issued in the order S_n, dP_n | dV_n | (barrier) dQ_n, dK_n: dQ's staging copy runs
  /// under dK_n, which is waited before S_n+1 and dP_n+1 are issued (dK's A operand is in
  /// registers).
  static __device__ __forceinline__ void consume(const AttncBackwardParams &p, const AttncArgs &a,
                                                 Aux &aux, unsigned base, int b, int kvh,
                                                 int kBlock0, int c) {
    const Kind kind{};
    const int tid = (int)threadIdx.x % 128, warp = tid / 32, lane = tid % 32;
    const int g = lane / 4, t = lane % 4;
    const int kRow = kBlock0 + warp * 16 + g; // this thread's first key
    const unsigned sK = base, sV = base + kVOffset, sQ = base + kQOffset, sDo = base + kDoOffset;
    const AttncInputGrads *grads = p.input_grads.any ? &p.input_grads : nullptr;

    float dk[kHeadDim / 2], dv[kHeadDim / 2];
#pragma unroll
    for (int i = 0; i < kHeadDim / 2; ++i)
      dk[i] = dv[i] = 0.f;
    hopper::barrierWait(barrier(aux.kvFull), 0);
#if ATTNC_SM90_TRACE
    const long long tStart = clock64();
    AttncPhaseClock clock(tid == 0 ? aux.traceSums[c] : nullptr);
#else
    AttncPhaseClock clock(nullptr);
#endif

    // dQ^T (head-dim rows x kBlockM queries) = K^T dS^T: this warpgroup's 64-row part
    // (kDqSplitKeys).
    constexpr int kDqKeys = kDqSplitKeys ? 64 : kBlockN;
    const unsigned dqKeyOffset = kDqSplitKeys ? c * 64 * 128 : 0; // first K (dS^T) row read
    // kDsByQuery: the first dS panel read (one per 64 keys).
    const unsigned dsKeyOffset = kDqSplitKeys ? c * kBlockM * 128 : 0;
    const int dqPart = kDqSplitKeys ? 0 : c;
    // dQ goes to the writer warp (writeDq) through this warpgroup's staging part: stored once
    // the writer has read the previous one, and signalled a little later (after the next
    // tile's products are issued), when the stores have long completed, so that the fence
    // before the signal does not wait for them.
    const unsigned sStage = base + kDqOffset + c * kDqPartBytes;
    const auto signalDq = [&] {
      hopper::fenceAsyncShared();
      hopper::namedArrive(kDqFullBarrier + c, kDqHandoffThreads);
    };

    // Each thread releases a stage after its own reads (of the slot too, readSlot), so the
    // producer's rewrite is ordered after every read.
    // S^T = K_c Q^T, then dP^T = V_c dO^T, as two groups: 64 keys x kBlockM queries each.
    float s[kBlockM / 2], dp[kBlockM / 2];
    // Descriptors as low words plus constant offsets (hopper::descriptorLow128B): one uniform
    // add per product, where a descriptor rebuilt per product costs four dependent operations
    // and a move to a uniform register before its wgmma can issue.
    const unsigned kRowsLow = hopper::descriptorLow128B(sK + c * 64 * 128, 16);
    const unsigned vRowsLow = hopper::descriptorLow128B(sV + c * 64 * 128, 16);
    const auto issueScores = [&](int stage) {
      const unsigned qLow = hopper::descriptorLow128B(sQ + stage * kQBytes, 16);
      const unsigned doLow = hopper::descriptorLow128B(sDo + stage * kQBytes, 16);
      __syncwarp();
      wgmma::fence();
#pragma unroll
      for (int kk = 0; kk < kHeadDim / 16; ++kk)
        wgmma::mmaSS(
            kind, s,
            hopper::descriptorFromLow128B(kRowsLow + (hopper::kMajorStepOffset(kk, kBlockN) >> 4)),
            hopper::descriptorFromLow128B(qLow + (hopper::kMajorStepOffset(kk, kBlockM) >> 4)),
            kk > 0 ? 1 : 0);
      wgmma::commit();
#pragma unroll
      for (int kk = 0; kk < kHeadDim / 16; ++kk)
        wgmma::mmaSS(
            kind, dp,
            hopper::descriptorFromLow128B(vRowsLow + (hopper::kMajorStepOffset(kk, kBlockN) >> 4)),
            hopper::descriptorFromLow128B(doLow + (hopper::kMajorStepOffset(kk, kBlockM) >> 4)),
            kk > 0 ? 1 : 0);
      wgmma::commit();
    };

    int n = 0;
    for (;; ++n) {
      const int stage = n % kStages;
      int entry, h;
      readSlot(aux, n, entry, h);
      clock.lap(kBwdTraceWaitTile);
      if (entry < 0)
        break;
      issueScores(stage);
      if (p.dq_accum != nullptr && n > 0)
        signalDq();
      clock.lap(kBwdTraceIssueScores);
      const int q0 = Scan::entryStart(entry), cls = Scan::entryClass(entry),
                proven = Scan::entryProven(entry);
      const unsigned tQ = sQ + stage * kQBytes, tDo = sDo + stage * kQBytes;
      const unsigned sDs = base + kDsOffset + (n % 2) * kDsBytes; // both warpgroups' dS^T

      // P^T and dS^T, element by element: rows are keys, columns queries q0 + 8 col + 2 t + j
      // (their LSE * log2 e and delta read from the stage per column: arrays of them would not
      // fit the registers; rows past q_len hold zeros and their pairs are dropped). Without a
      // score hook (SplitPair), P while dP's product runs, then dS. The first wait releases
      // the previous stage (its last reader, dK_n-1, was waited at the end of tile n-1).
      const unsigned tStats = base + kStatsOffset + stage * kStatsBytes;
      const auto stat = [&](int column, int which) { // 0: LSE * log2 e, 1: delta
        float value;
        asm("ld.shared.f32 %0, [%1];\n"
            : "=f"(value)
            : "r"(tStats + column * 8 + which * 4)
            : "memory");
        return value;
      };
      const auto releasePrevious = [&] {
        if (n > 0)
          hopper::barrierArrive(barrier(aux.empty[(n - 1) % kStages]));
      };
      // fn(column, i) for each query column q0 + column this thread holds: its pairs are
      // s[i + 2 half] and dp[i + 2 half], keys kRow + 8 half.
      const auto forEachColumn = [&](auto &&fn) {
        tile::forEachInRow<float[kBlockM / 2]>(
            [&](int col, int j) { fn(col * 8 + 2 * t + j, col * 4 + j); });
      };
      const bool bounds = q0 + kBlockM > a.q_len || kBlock0 + Pairs::kBlock > a.kv_len;
      if constexpr (backward::SplitPair<V>::kSplits) {
        wgmma::wait<1>();
        wgmma::fenceOperands(s);
        releasePrevious();
        clock.lap(kBwdTraceWaitS);
        backward::byTileClass<V::kMaskFactors>(bounds, cls, proven, [&](auto mask, auto inBounds) {
          forEachColumn([&](int column, int i) {
            const float lseLog2 = stat(column, 0);
#pragma unroll
            for (int half = 0; half < 2; ++half)
              s[i + 2 * half] =
                  backward::SplitPair<V>::template probability<decltype(mask)::value,
                                                               decltype(inBounds)::value>(
                      s[i + 2 * half], a, b, h, q0 + column, kRow + 8 * half, lseLog2);
          });
        });
        clock.lap(kBwdTraceProbabilities);
        wgmma::wait<0>();
        wgmma::fenceOperands(dp);
        clock.lap(kBwdTraceWaitDp);
        forEachColumn([&](int column, int i) {
          const float delta = stat(column, 1);
#pragma unroll
          for (int half = 0; half < 2; ++half)
            dp[i + 2 * half] =
                backward::SplitPair<V>::scoreGradient(s[i + 2 * half], dp[i + 2 * half], delta);
        });
        clock.lap(kBwdTraceScoreGradients);
      } else {
        wgmma::wait<0>();
        wgmma::fenceOperands(s);
        wgmma::fenceOperands(dp);
        releasePrevious();
        clock.lap(kBwdTraceWaitS);
        backward::byTileClass<V::kMaskFactors>(bounds, cls, proven, [&](auto mask, auto inBounds) {
          forEachColumn([&](int column, int i) {
            const float lseLog2 = stat(column, 0), delta = stat(column, 1);
#pragma unroll
            for (int half = 0; half < 2; ++half)
              backward::pairGradient<V, decltype(mask)::value, decltype(inBounds)::value>(
                  s[i + 2 * half], dp[i + 2 * half], a, b, h, q0 + column, kRow + 8 * half, lseLog2,
                  delta, grads);
          });
        });
        clock.lap(kBwdTraceProbabilities);
      }

      // dV += P^T dO: A from registers (16 queries per step), B MN-major.
      unsigned pFrag[kQuerySteps][4], dsFrag[kQuerySteps][4];
#pragma unroll
      for (int kk = 0; kk < kQuerySteps; ++kk) {
        pFrag[kk][0] = tile::pack2(kind, s[8 * kk + 0], s[8 * kk + 1]);
        pFrag[kk][1] = tile::pack2(kind, s[8 * kk + 2], s[8 * kk + 3]);
        pFrag[kk][2] = tile::pack2(kind, s[8 * kk + 4], s[8 * kk + 5]);
        pFrag[kk][3] = tile::pack2(kind, s[8 * kk + 6], s[8 * kk + 7]);
        dsFrag[kk][0] = tile::pack2(kind, dp[8 * kk + 0], dp[8 * kk + 1]);
        dsFrag[kk][1] = tile::pack2(kind, dp[8 * kk + 2], dp[8 * kk + 3]);
        dsFrag[kk][2] = tile::pack2(kind, dp[8 * kk + 4], dp[8 * kk + 5]);
        dsFrag[kk][3] = tile::pack2(kind, dp[8 * kk + 6], dp[8 * kk + 7]);
      }
      __syncwarp(); // wgmma and stmatrix need the warp converged: the hooks may branch
      const unsigned doLow = hopper::descriptorLow128B(tDo, kBlockM * 128);
      const unsigned qLow = hopper::descriptorLow128B(tQ, kBlockM * 128);
      wgmma::fence();
#pragma unroll
      for (int kk = 0; kk < kQuerySteps; ++kk)
        wgmma::mmaRS(kind, dv, pFrag[kk],
                     hopper::descriptorFromLow128B(doLow + kk * 16 * 128 / 16));
      wgmma::commit();
      // This warpgroup's 64 keys of dS^T to shared memory in the 128-byte swizzle, the B
      // operand of dQ^T: dsFrag[kk] is four 8x8 matrices (keys + 0 / + 8, queries 16 kk + 0 /
      // + 8), one stmatrix each kk; lane 8 m + r addresses row r of matrix m. Row per key
      // (dS^T): rows c * 64 + 16 warp + 8 (m & 1) + r, 16-byte chunks 2 kk + m / 2. Row per
      // query (dS, kDsByQuery): the matrices transposed into panel c (this warpgroup's keys),
      // rows 16 kk + 8 (m / 2) + r, chunk 2 warp + (m & 1).
      {
        const int m = lane / 8, r = lane % 8;
        if constexpr (kDsByQuery) {
          const unsigned rowAddr =
              sDs + c * kBlockM * 128 + ((m / 2) * 8 + r) * 128 + (((2 * warp + (m & 1)) ^ r) * 16);
#pragma unroll
          for (int kk = 0; kk < kQuerySteps; ++kk)
            tile::storeMatrixX4Trans(rowAddr + kk * 16 * 128, dsFrag[kk]);
        } else {
          // Chunk (2 kk + m / 2) ^ r = ((m / 2) ^ r) ^ 2 kk: step kk's address is step 0's
          // with its bits 5-6 flipped (the row's base is 128-byte aligned).
          const unsigned addr0 =
              sDs + (c * 64 + warp * 16 + (m & 1) * 8 + r) * 128 + (((m / 2) ^ r) * 16);
#pragma unroll
          for (int kk = 0; kk < kQuerySteps; ++kk)
            tile::storeMatrixX4(addr0, dsFrag[kk], 32 * kk);
        }
      }
      hopper::fenceAsyncShared();
      // Both warpgroups' dS^T rows are written. (The other dS^T buffer was last read by both
      // warpgroups' dQ and dK of step n - 1, finished before they reached this barrier at step
      // n.)
      clock.lap(kBwdTraceIssueDv);
      if constexpr (kDqSplitKeys)
        hopper::namedSync(kSplitKeysBarrier + c, 128);
      else
        hopper::namedSync(kConsumersBarrier, 256);
      if constexpr (kWaitDvBeforeDq) { // counted with the barrier by the trace
        wgmma::wait<0>();
        wgmma::fenceOperands(dv);
      }
      clock.lap(kBwdTraceBarrier);

      // dQ_n, then dK_n; dQ's fragment is staged while dK_n runs. (Without dq_accum, the
      // deterministic mode, dQ's product still runs but is not reduced: a branch around a
      // wgmma group makes ptxas spill the consumers.)
      float dq[kBlockM / 2];
      {
        const unsigned kLow =
            hopper::descriptorLow128B(sK + dqPart * kBlockN * 128 + dqKeyOffset, kBlockN * 128);
        wgmma::fence();
        if constexpr (kDsByQuery) {
          // B K-major: 16 keys per step, 32 bytes along dS's rows, a panel per 64 keys.
          const unsigned dsLow = hopper::descriptorLow128B(sDs + dsKeyOffset, 16);
#pragma unroll
          for (int kk = 0; kk < kDqKeys / 16; ++kk)
            wgmma::mmaSSTransposedA(
                kind, dq, hopper::descriptorFromLow128B(kLow + kk * 16 * 128 / 16),
                hopper::descriptorFromLow128B(dsLow + (hopper::kMajorStepOffset(kk, kBlockM) >> 4)),
                kk > 0 ? 1 : 0);
        } else {
          const unsigned dsLow = hopper::descriptorLow128B(sDs + dqKeyOffset, 64 * 128);
#pragma unroll
          for (int kk = 0; kk < kDqKeys / 16; ++kk)
            wgmma::mmaSSTransposed(
                kind, dq, hopper::descriptorFromLow128B(kLow + kk * 16 * 128 / 16),
                hopper::descriptorFromLow128B(dsLow + kk * 16 * 128 / 16), kk > 0 ? 1 : 0);
        }
        wgmma::commit();
      }
      // dK_c += dS_c^T Q, A (dS_c^T) from registers as dV's P^T: 16 KB of shared-memory reads
      // fewer per tile than from dS^T's copy there. dK then completes before the loop's end
      // (its registers must not live across the back-edge: ptxas would serialise every wgmma).
#pragma unroll
      for (int kk = 0; kk < kQuerySteps; ++kk)
        wgmma::mmaRS(kind, dk, dsFrag[kk],
                     hopper::descriptorFromLow128B(qLow + kk * 16 * 128 / 16));
      wgmma::commit();
      clock.lap(kBwdTraceIssueDqDk);
      wgmma::wait<1>(); // dQ_n, and dV_n unless waited already
      if constexpr (!kWaitDvBeforeDq)
        wgmma::fenceOperands(dv);
      wgmma::fenceOperands(dq);
      clock.lap(kBwdTraceWaitDq);
      if (p.dq_accum != nullptr) {
        hopper::namedSync(kDqFreeBarrier + c, kDqHandoffThreads);
        // 16 bytes per store, conflict-free: consecutive threads, consecutive addresses.
#pragma unroll
        for (int c8 = 0; c8 < kBlockM / 8; ++c8)
          asm volatile("st.shared.v4.f32 [%0], {%1, %2, %3, %4};\n" ::"r"(
                           sStage + DqAccum::stagingOffset(tid, c8) * 4),
                       "f"(dq[4 * c8]), "f"(dq[4 * c8 + 1]), "f"(dq[4 * c8 + 2]),
                       "f"(dq[4 * c8 + 3])
                       : "memory");
      }
      clock.lap(kBwdTraceStoreDq);
      wgmma::wait<0>();
      wgmma::fenceOperands(dk);
#if ATTNC_SM90_TRACE
      if (tid == 0)
        ++aux.traceSums[c][kBwdTracePhases];
#endif
    }
    wgmma::wait<0>();
    wgmma::fenceOperands(dk);
    wgmma::fenceOperands(dv);
    if (p.dq_accum != nullptr) {
      if (n > 0)
        signalDq();
      hopper::namedSync(kDqFreeBarrier + c, kDqHandoffThreads); // the writer's last arrival
    }

    // dK (times the scale, which dS leaves out) and dV of this warpgroup's keys, staged in the
    // Q and dO stages (free once both warpgroups are past their last products; the runtime
    // requires 16-byte aligned dK and dV with strides of 8 elements).
    hopper::namedSync(kConsumersBarrier, 256);
    storeKeyRows(kind, dk, sQ, c, tid, (unsigned short *)tile::headBase(p.dk, p.dk_stride, b, kvh),
                 p.dk_stride[2], kBlock0, a.kv_len, a.scale);
    storeKeyRows(kind, dv, sQ + kStagedKeyRowsBytes, c, tid,
                 (unsigned short *)tile::headBase(p.dv, p.dv_stride, b, kvh), p.dv_stride[2],
                 kBlock0, a.kv_len, 1.f);
#if ATTNC_SM90_TRACE
    if (tid == 0) {
      const long long tEnd = clock64();
      for (int i = 0; i <= kBwdTracePhases; ++i)
        ATTNC_TRACE_ADD(i, aux.traceSums[c][i]);
      ATTNC_TRACE_ADD(kBwdTraceEpilogue, tEnd - clock.mark);
      ATTNC_TRACE_ADD(kBwdTraceConsumerCycles, tEnd - tStart);
    }
#endif
  }

  static __device__ __forceinline__ void run(const AttncBackwardParams &p, const AttncArgs &a,
                                             const AttncBackwardTmaMaps &maps,
                                             unsigned char *smemRaw) {
    const unsigned raw = tile::sharedAddress(smemRaw);
    const unsigned base = (raw + 1023u) & ~1023u;
    Aux &aux = *reinterpret_cast<Aux *>(smemRaw + (base - raw) + kAuxOffset);
    const long long u = Order::unitIndex(p);
    const backward::KeyTileUnit unit = Order::decode(a, u);
    const int kvh = unit.kvh, b = unit.b;
    const TileBlocks blocks = Pairs::tileBlocks(p, u);
    // The warpgroup as lane 0 has it: ptxas then knows it is warp-uniform and keeps the
    // descriptors built from it in uniform registers.
    const int tid = (int)threadIdx.x, warpgroup = __shfl_sync(0xffffffffu, tid / 128, 0);
    if (tid == 0) {
      hopper::barrierInit(barrier(aux.kvFull), 1);
#pragma unroll
      for (int s = 0; s < kStages; ++s) {
        hopper::barrierInit(barrier(aux.full[s]), 1);
        // One arrive per consumer thread, and the dQ writer's.
        hopper::barrierInit(barrier(aux.empty[s]), 256 + (p.dq_accum != nullptr ? 1 : 0));
      }
#if ATTNC_SM90_TRACE
      for (int i = 0; i <= kBwdTracePhases; ++i)
        aux.traceSums[0][i] = aux.traceSums[1][i] = 0;
      aux.traceProducerWait = 0;
#endif
      hopper::barrierInitFence();
    }
    __syncthreads();
    if (warpgroup == 0) {
      hopper::releaseRegisters<kProducerRegs>();
      if (tid < 32)
        produce(p, a, maps, aux, base, b, kvh, unit.kTile, blocks);
      else if (tid < 64)
        writeDq(p, a, aux, base, b);
    } else {
      hopper::claimRegisters<kConsumerRegs>();
      consume(p, a, aux, base, b, kvh, blocks.k0[warpgroup - 1], warpgroup - 1);
    }
  }
};

} // namespace attnc

#endif // ATTNC_KERNELS_SM90_BACKWARD_CUH
