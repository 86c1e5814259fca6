//===- attnc_tile_policy.h - Tile shapes of the attention kernels ----------===//
//
// The rule that picks the tile shapes the templates instantiate, stated once and read both
// by the templates (NVRTC) and by the host (attnc explain). Only constexpr C++: no
// includes, nothing CUDA, so that both compilers take it as it is.
//
//===----------------------------------------------------------------------===//
#ifndef ATTNC_KERNELS_ATTNC_TILE_POLICY_H
#define ATTNC_KERNELS_ATTNC_TILE_POLICY_H

namespace attnc {
namespace tile_policy {

/// forward_sm90 (128 query rows: two consumer warpgroups of 64): keys per tile. 128 when the
/// mask is a union of key intervals (kvRangesExact, the variant's kKvRangesExact: causal, windows,
/// prefix; PARTIAL tiles only at the edges) and not routed, else 64: periodic, 2-D,
/// data-dependent and routed masks waste less work in finer tiles. D = 256 takes 64 for
/// shared memory (Q 128 x 256 and two stages of K and V).
constexpr int sm90KeyTile(int headDim, bool kvRangesExact, bool routed) {
  return headDim == 256 || !kvRangesExact || routed ? 64 : 128;
}

/// backward_sm90's key-tile kernel (128 keys, two consumer warpgroups): queries per step. 80 at
/// D = 128, FlashAttention-3's tile, 1-5% faster where each key tile's queries are many
/// (dense, causal, prefix, softcap, ALiBi), but:
/// - 64 when the keys' queries lie in a window (queryWindow, the variant's kQueryWindow:
///   sliding, sinks): a window's edges straddle more 80-query tiles (sliding: +5.8%);
/// - 64 when the mask or score reads inputs (coordinateReads, hasSummaries), is routed, or
///   makes more than `kMaxMaskComparisons80` comparisons per element: their per-element code
///   spills beside the 80-query accumulators (bias, documents, MoBA, radial: 164-720 bytes);
/// - 64 at D = 64 and 256 (64 is the only tile instantiated there).
constexpr int kMaxMaskComparisons80 = 2;
constexpr int sm90BackwardQueryTile(int headDim, bool queryWindow, bool coordinateReads,
                                    bool hasSummaries, bool routed, int maskComparisons) {
  return headDim == 128 && !queryWindow && !coordinateReads && !hasSummaries && !routed &&
                 maskComparisons <= kMaxMaskComparisons80
             ? 80
             : 64;
}

/// forward_sm80: query rows per tile, for a target with `sharedMemoryKB` of shared memory per
/// block (227: sm_90, sm_100; 163: sm_80, sm_87; 99: the others). D = 256 shrinks below 227
/// KB. Masks that read token-indexed inputs (hasSummaries, the variant's kHasSummaries: documents,
/// ...) get 64 rows: their structure is only known per summary block, and finer query tiles
/// waste fewer keys at data-dependent boundaries and balance better. Everything else keeps
/// 128 rows (32 per warp: half the shared-memory traffic per flop), windows included, since
/// the tile classification runs in parallel.
constexpr int sm80QueryTile(int headDim, int sharedMemoryKB, bool hasSummaries) {
  return (headDim == 256 && sharedMemoryKB < 227) || (hasSummaries && headDim <= 128) ? 64 : 128;
}

/// forward_sm80: keys per tile; D = 256 on a target below 163 KB takes 32.
constexpr int sm80KeyTile(int headDim, int sharedMemoryKB) {
  return headDim == 256 && sharedMemoryKB < 163 ? 32 : 64;
}

} // namespace tile_policy
} // namespace attnc

#endif // ATTNC_KERNELS_ATTNC_TILE_POLICY_H
