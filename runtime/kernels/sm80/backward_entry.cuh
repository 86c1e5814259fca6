//===- sm80/backward_entry.cuh - The portable backward's entry points -----===//
//
// The backward module of the portable kernels: the shared entries and the key-tile kernel of
// sm80/backward.cuh (mma.sync), instantiated for AttncVariant; see there for the launch.
//
//===----------------------------------------------------------------------===//
#ifndef ATTNC_KERNELS_SM80_BACKWARD_ENTRY_CUH
#define ATTNC_KERNELS_SM80_BACKWARD_ENTRY_CUH

#include "sm80/backward_shared_entries.cuh"

using AttncBackwardSm80 =
    attnc::BackwardSm80<AttncVariant, ATTNC_HEAD_DIM, AttncBackwardKind, kAttncBackwardStages>;

extern "C" {
/// {block_m, block_n, threads, stages, dynamic_smem_bytes, head_dim, 0 (no tensor maps),
/// dq_accum's rows per (batch, head) are rounded up to this}
__constant__ int attnc_backward_key_tiles_config[8] = {AttncBackwardSm80::kBlockM,
                                                       AttncBackwardSm80::kBlockN,
                                                       AttncBackwardSm80::kThreads,
                                                       kAttncBackwardStages,
                                                       AttncBackwardSm80::kSmemBytes,
                                                       ATTNC_HEAD_DIM,
                                                       0,
                                                       AttncBackwardSm80::DqAccum::kTileRows};
}
extern "C" __global__ void __launch_bounds__(AttncBackwardSm80::kThreads, 1)
    attnc_backward_key_tiles(const __grid_constant__ AttncBackwardParams p,
                             const __grid_constant__ AttncArgs a) {
  extern __shared__ __align__(128) unsigned char attnc_smem[];
  AttncBackwardSm80::run(p, a, attnc_smem);
}

extern "C" {
/// {query rows per CTA, threads, 0: grid (rows of all heads / rows per CTA)}
__constant__ int attnc_backward_store_dq_config[3] = {AttncBackwardRows::kRowsPerCta,
                                                      AttncBackwardRows::kThreads, 0};
}
extern "C" __global__ void __launch_bounds__(AttncBackwardRows::kThreads)
    attnc_backward_store_dq(const __grid_constant__ AttncBackwardParams p,
                            const __grid_constant__ AttncArgs a) {
  AttncBackwardRows::storeDq<AttncBackwardSm80::DqAccum>(p, a);
}

#endif // ATTNC_KERNELS_SM80_BACKWARD_ENTRY_CUH
