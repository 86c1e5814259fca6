//===- traits.cuh - The sm90 forward kernel's configuration --------------===//
//
// Everything the sm90 roles (producer.cuh, mainloop.cuh) share, fixed by the types: the
// program's variant V, head dim, element kind, key tile and pipeline depth give the tile
// shapes, the register split, the shared-memory layout (Q buffers, the K and V ring, the
// bookkeeping of the mbarrier pipeline) and the policies that depend on the program.
//
//===----------------------------------------------------------------------===//
#ifndef ATTNC_KERNELS_SM90_TRAITS_CUH
#define ATTNC_KERNELS_SM90_TRAITS_CUH

#include "attention/range_scan.cuh"
#include "attention/scheduler.cuh"
#include "primitives/hopper.cuh"
#include "primitives/tile.cuh"

namespace attnc {

template <class V_, int kHeadDim_, class Kind_, int kBlockN_, int kStages_> struct Sm90Traits {
  using V = V_;
  using Kind = Kind_;
  static constexpr int kHeadDim = kHeadDim_, kBlockN = kBlockN_, kStages = kStages_;
  static constexpr int kBlockM = 128;           // two consumer warpgroups of 64 rows
  static constexpr int kThreads = 384;          // producer + 2 consumers
  static constexpr int kPanels = kHeadDim / 64; // 64-column (128-byte) swizzle panels
  static constexpr int kQBytes = kBlockM * kHeadDim * 2;
  static constexpr int kTileBytes = kBlockN * kHeadDim * 2;
  static constexpr int kSTiles = kBlockN / 8; // 8-key column tiles of S
  static constexpr int kDTiles = kHeadDim / 8;
  // The producer classifies tiles (hooks may read summaries or route masks), so it keeps a
  // little more than TMA issue alone would need.
  static constexpr int kProducerRegs = 40;
  static constexpr int kConsumerRegs = 232;

  static_assert(kHeadDim == 64 || kHeadDim == 128 || kHeadDim == 256, "head dim 64/128/256");
  static_assert(kBlockN == 64 || kBlockN == 128, "key tile 64 or 128");
  static_assert(kStages >= 2 && kStages <= 5, "2..5 stages");
  /// Whether each tile's exponentials run under the previous tile's PV product (128-key
  /// tiles) or after it (64-key tiles: the stage is released sooner).
  static constexpr bool kSoftmaxUnderPV = kBlockN == 128;
  static_assert(kProducerRegs * 128 + kConsumerRegs * 256 <= 65536, "register file");

  /// Tile lists travel from the scanning warps to the loading warp in chunks of up to 32
  /// entries (one classification batch): a small queue per scanner in shared memory on
  /// mbarriers. The bookkeeping is written for kScanners scanning warps taking units in
  /// turn; one scans (more waiting warps take issue slots from the consumers).
  static constexpr int kScanners = 1;
  static constexpr int kChunks = kScanners == 1 ? 4 : 2; // per scanner
  static_assert(kScanners >= 1 && kScanners <= 3, "1..3 scanning warps");
  struct Chunk {
    int unit;      ///< the work unit these tiles belong to, or -1: no more units
    int count;     ///< entries used
    int last;      ///< the unit's last chunk
    int entry[32]; ///< key tile start | class, in key order
  };
  struct Aux {
    unsigned long long qFull[2], qEmpty[2]; ///< per Q buffer (kQBuffers used)
    unsigned long long full[kStages];
    unsigned long long empty[kStages];
    unsigned long long chunkFull[kScanners][kChunks], chunkEmpty[kScanners][kChunks];
    /// One phase per unit the loader started (the scanner claims its next unit once the
    /// loader has begun its last one, so a CTA holds at most one claimed, unstarted unit).
    unsigned long long unitBegun[kScanners][2]; ///< [1] unused: keeps the layout

    int slot[kStages]; ///< key tile start | class, or -1: the unit has no more tiles
    int unit[2];       ///< the work unit whose Q is in each buffer, or -1: no more units
    Chunk chunk[kScanners][kChunks];
  };
  static constexpr int kAuxBytes = ((int)sizeof(Aux) + 127) / 128 * 128;
  static constexpr int kRingBytes = 2 * kStages * kTileBytes;
  /// Two Q buffers where shared memory allows (64-key tiles at D = 128, and D = 64): units
  /// alternate between them, so the loader fetches the next unit's Q as soon as it has
  /// queued this unit's tiles, not after the consumers' last QK^T of this unit. Short
  /// units (documents, windows) otherwise wait for that load at every unit boundary. D =
  /// 128 with 128-key tiles has room for one (32 + 3 x 64 KB).
  /// (+ 1024 below: the dynamic shared memory base is only guaranteed 16-byte aligned.)
  static constexpr int kQBuffers =
      2 * kQBytes + kRingBytes + kAuxBytes + 1024 <= 227 * 1024 ? 2 : 1;
  static_assert(kQBuffers == 1 || kQBuffers == 2, "1 or 2 Q buffers");
  // Shared memory: [Q buffers][K stages][V stages][bookkeeping]; every tile 1024-byte aligned.
  static constexpr int kKOffset = kQBuffers * kQBytes;
  static constexpr int kVOffset = kKOffset + kStages * kTileBytes;
  static constexpr int kAuxOffset = kVOffset + kStages * kTileBytes;
  static constexpr int kSmemBytes = kAuxOffset + kAuxBytes + 1024;
  static_assert(kSmemBytes <= 227 * 1024, "shared memory per block (sm_90)");

  /// Q K^T with Q from registers (loaded once per unit with ldmatrix) instead of shared
  /// memory: the product then reads only K from shared memory, a third less traffic on the
  /// shared-memory port that the TMA fills also use. It costs 32 registers per thread at
  /// D = 128, so it is used for masks of at most one comparison per element (the
  /// compiler's V::kMaskComparisons, a proxy for the registers the mask needs), and of
  /// up to five with 64-key tiles (S takes 32 registers fewer than with 128); masks of more
  /// comparisons spill in the tile loop. D = 256 keeps Q in shared memory (O alone takes 128
  /// registers there).
  static constexpr bool kQInRegisters =
      (V::kMaskComparisons <= 1 || (kBlockN == 64 && V::kMaskComparisons <= 5)) && kHeadDim <= 128;

  /// Coarse-then-fine classification of long candidate lists (UnitTiles::forEachBatch): for
  /// masks whose key ranges are not exact, where runs of EMPTY candidates are common.
  static constexpr bool kCoarseScan = !V::kKvRangesExact;
  /// Longest-first order for the last units (tailOrder below): for masks whose unit lengths
  /// the data decides (they read input tensors, or are routed). For masks of indices alone,
  /// decode()'s order already starts long units first (causal-like) or the units are alike
  /// (windows), and the counting would only cost time.
  static constexpr bool kLptTail = V::kHasSummaries || V::kHasRoute;
  // Named barriers (0 is __syncthreads): the consumers' turns.
  static constexpr int kTurnBarrier = 1; // + consumer index

  static __device__ __forceinline__ unsigned barrierAddress(const unsigned long long &bar) {
    return tile::sharedAddress(&bar);
  }

  using Scheduler = TileScheduler<kBlockM>;
  using Scan = KeyTileScan<V, kBlockN, V::kMaskFactors>;
  using Tail = LongestFirstTail<Scan, kBlockM, kCoarseScan>;
};

} // namespace attnc

#endif // ATTNC_KERNELS_SM90_TRAITS_CUH
