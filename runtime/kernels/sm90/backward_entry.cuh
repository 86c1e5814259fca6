//===- sm90/backward_entry.cuh - The Hopper backward's entry points -------===//
//
// The backward module on sm_90a for D = 64 and 128: the shared entries and the key-tile kernel
// of sm90/backward.cuh (wgmma, TMA), instantiated for AttncVariant; see there for the launch.
//
//===----------------------------------------------------------------------===//
#ifndef ATTNC_KERNELS_SM90_BACKWARD_ENTRY_CUH
#define ATTNC_KERNELS_SM90_BACKWARD_ENTRY_CUH

#include "attention/dq_store.cuh"
#include "attnc_tile_policy.h"
#include "sm80/backward_shared_entries.cuh"
#include "sm90/backward.cuh"

// The key-tile kernel's query tile (attnc_tile_policy.h); a development build may force it
// with ATTNC_KERNEL_DEFINES="ATTNC_SM90_BACKWARD_BLOCK_M=64" (or 80, at D = 128 only).
#if defined(ATTNC_DEV_BUILD) && defined(ATTNC_SM90_BACKWARD_BLOCK_M)
constexpr int kAttncBackwardQueryTile = ATTNC_HEAD_DIM == 128 ? ATTNC_SM90_BACKWARD_BLOCK_M : 64;
#else
constexpr int kAttncBackwardQueryTile = attnc::tile_policy::sm90BackwardQueryTile(
    ATTNC_HEAD_DIM, AttncVariant::kQueryWindow, AttncVariant::kCoordinateReads,
    AttncVariant::kHasSummaries, AttncVariant::kHasRoute, AttncVariant::kMaskComparisons);
#endif
using AttncBackwardSm90 =
    attnc::BackwardSm90<AttncVariant, ATTNC_HEAD_DIM, AttncBackwardKind, kAttncBackwardQueryTile>;

extern "C" {
/// {block_m, block_n, threads, stages, dynamic_smem_bytes, head_dim, 1 (takes
/// AttncBackwardTmaMaps), dq_accum's rows per (batch, head) are rounded up to this}
__constant__ int attnc_backward_key_tiles_config[8] = {AttncBackwardSm90::kBlockM,
                                                       AttncBackwardSm90::kBlockN,
                                                       AttncBackwardSm90::kThreads,
                                                       AttncBackwardSm90::kStages,
                                                       AttncBackwardSm90::kSmemBytes,
                                                       ATTNC_HEAD_DIM,
                                                       1,
                                                       AttncBackwardSm90::DqAccum::kTileRows};
}
extern "C" __global__ void __launch_bounds__(AttncBackwardSm90::kThreads, 1)
    attnc_backward_key_tiles(const __grid_constant__ AttncBackwardParams p,
                             const __grid_constant__ AttncArgs a,
                             const __grid_constant__ AttncBackwardTmaMaps maps) {
  extern __shared__ __align__(128) unsigned char attnc_smem[];
  AttncBackwardSm90::run(p, a, maps, attnc_smem);
}

/// One thread per (batch, head, 64-key block): its query intervals (p.block_intervals), 128
/// threads per block.
extern "C" __global__ void __launch_bounds__(128)
    attnc_backward_query_intervals(const __grid_constant__ AttncBackwardParams p,
                                   const __grid_constant__ AttncArgs a) {
  AttncBackwardSm90::writeQueryIntervals(p, a);
}

/// One warp per (window of 32 key blocks, KV head, batch): the key tiles' blocks
/// (p.key_blocks) and query intervals (p.q_intervals), 256 threads per block.
extern "C" __global__ void __launch_bounds__(256)
    attnc_backward_pair_key_blocks(const __grid_constant__ AttncBackwardParams p,
                                   const __grid_constant__ AttncArgs a) {
  AttncBackwardSm90::Pairs::write(p, a);
}

/// One warp per (batch, KV head, key tile): the query tiles it visits (p.key_tile_lengths),
/// 256 threads per block.
extern "C" __global__ void __launch_bounds__(256)
    attnc_backward_count_query_tiles(const __grid_constant__ AttncBackwardParams p,
                                     const __grid_constant__ AttncArgs a) {
  AttncBackwardSm90::countQueryTiles(p, a);
}

/// One CTA: the key-tile kernel's launch order (p.key_tile_order), longest units first.
extern "C" __global__ void __launch_bounds__(AttncBackwardSm90::Order::kThreads)
    attnc_backward_key_tile_order(const __grid_constant__ AttncBackwardParams p,
                                  const __grid_constant__ AttncArgs a) {
  AttncBackwardSm90::Order::write(p, a);
}

using AttncBackwardDqStore =
    attnc::backward::FragmentDqStore<ATTNC_HEAD_DIM, AttncBackwardKind, AttncBackwardSm90::kBlockM>;
extern "C" {
/// {query rows per CTA, threads, 1: grid (row tiles, heads, batch)}
__constant__ int attnc_backward_store_dq_config[3] = {AttncBackwardDqStore::kTileRows,
                                                      AttncBackwardDqStore::kThreads, 1};
}
extern "C" __global__ void __launch_bounds__(AttncBackwardDqStore::kThreads)
    attnc_backward_store_dq(const __grid_constant__ AttncBackwardParams p,
                            const __grid_constant__ AttncArgs a) {
  AttncBackwardDqStore::run(p, a);
}

#endif // ATTNC_KERNELS_SM90_BACKWARD_ENTRY_CUH
