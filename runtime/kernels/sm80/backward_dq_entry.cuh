//===- sm80/backward_dq_entry.cuh - The deterministic mode's dQ module -----===//
//
// The backward's deterministic dQ kernel (sm80/backward_dq.cuh: one CTA per query tile over
// its key tiles, no atomics) in a module of its own, for every architecture. The runtime
// compiles it on the first deterministic backward: it is about half of what compiling the
// backward module costs, which backwards that add dQ up with atomics never need.
//
//===----------------------------------------------------------------------===//
#ifndef ATTNC_KERNELS_SM80_BACKWARD_DQ_ENTRY_CUH
#define ATTNC_KERNELS_SM80_BACKWARD_DQ_ENTRY_CUH

#include "sm80/backward_dq.cuh"
#include "sm80/backward_types.cuh"

using AttncBackwardDq =
    attnc::BackwardDqSm80<AttncVariant, ATTNC_HEAD_DIM, AttncBackwardKind, kAttncBackwardStages>;

extern "C" {
/// {block_m, block_n, threads, stages, dynamic_smem_bytes, head_dim}
__constant__ int attnc_backward_dq_config[6] = {
    AttncBackwardDq::kBlockM, AttncBackwardDq::kBlockN,    AttncBackwardDq::kThreads,
    kAttncBackwardStages,     AttncBackwardDq::kSmemBytes, ATTNC_HEAD_DIM};
}
extern "C" __global__ void __launch_bounds__(AttncBackwardDq::kThreads)
    attnc_backward_dq(const __grid_constant__ AttncBackwardParams p,
                      const __grid_constant__ AttncArgs a) {
  extern __shared__ __align__(128) unsigned char attnc_smem[];
  AttncBackwardDq::run(p, a, attnc_smem);
}

#endif // ATTNC_KERNELS_SM80_BACKWARD_DQ_ENTRY_CUH
