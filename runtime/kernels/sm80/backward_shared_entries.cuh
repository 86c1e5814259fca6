//===- sm80/backward_shared_entries.cuh - Entries of every backward module ===//
//
// The portable kernels every backward module holds, instantiated for the program's variant
// (AttncVariant) and the head dim and dtype the source defines (sm80/backward.cuh has the
// launch): the preparation, the deterministic dQ kernel and the recompute of the output before
// `out`. The key-tile kernel, and the dQ store that reads its dq_accum layout, come from
// sm80/backward_entry.cuh or sm90/backward_entry.cuh, which include this file.
//
//===----------------------------------------------------------------------===//
#ifndef ATTNC_KERNELS_SM80_BACKWARD_SHARED_ENTRIES_CUH
#define ATTNC_KERNELS_SM80_BACKWARD_SHARED_ENTRIES_CUH

#include "sm80/backward.cuh"
#include "sm80/backward_dq.cuh"
#include "sm80/forward.cuh"

#ifndef ATTNC_HEAD_DIM
#error "define ATTNC_HEAD_DIM (64, 128 or 256) before including a backward entry file"
#endif
#if defined(ATTNC_DTYPE_F16) && ATTNC_DTYPE_F16
using AttncBackwardKind = attnc::tile::F16;
#else
using AttncBackwardKind = attnc::tile::BF16;
#endif
// Two query-tile stages where the shared memory holds them (D = 256 needs 200 KB for two).
constexpr int kAttncBackwardStages =
    ATTNC_HEAD_DIM == 256 && attnc::kSm80TargetSharedKB < 227 ? 1 : 2;
using AttncBackwardDq =
    attnc::BackwardDqSm80<AttncVariant, ATTNC_HEAD_DIM, AttncBackwardKind, kAttncBackwardStages>;
using AttncBackwardRows =
    attnc::backward::RowPasses<AttncVariant, ATTNC_HEAD_DIM, AttncBackwardKind>;

// The output before `out`: the portable forward with the variant's `out` dropped.
using AttncRecomputeVariant = attnc::WithoutOut<AttncVariant>;
using AttncRecomputePolicy =
    attnc::Sm80Policy<AttncRecomputeVariant, ATTNC_HEAD_DIM, attnc::kSm80TargetSharedKB>;
using AttncRecompute =
    attnc::ForwardSm80<AttncRecomputeVariant, ATTNC_HEAD_DIM, AttncBackwardKind,
                       AttncRecomputePolicy::kBlockM, AttncRecomputePolicy::kBlockN,
                       AttncRecomputePolicy::kWarps, AttncRecomputePolicy::kStages>;

extern "C" {
__constant__ int attnc_backward_dq_config[6] = {
    AttncBackwardDq::kBlockM, AttncBackwardDq::kBlockN,    AttncBackwardDq::kThreads,
    kAttncBackwardStages,     AttncBackwardDq::kSmemBytes, ATTNC_HEAD_DIM};
/// {block_m, block_n, threads, stages, dynamic_smem_bytes, head_dim}; block_m 0 without `out`
/// (no recompute entry).
__constant__ int attnc_backward_recompute_config[6] = {
    AttncVariant::kHasOut ? AttncRecomputePolicy::kBlockM : 0,
    AttncRecomputePolicy::kBlockN,
    AttncRecompute::kThreads,
    AttncRecomputePolicy::kStages,
    AttncRecompute::kSmemBytes,
    ATTNC_HEAD_DIM};
}

namespace attnc {
/// Only programs with `out` instantiate the recompute (a template, so the discarded branch
/// is not compiled).
template <class V>
static __device__ __forceinline__ void recomputeBeforeOut(const AttncForwardParams &p,
                                                          const AttncArgs &a, unsigned char *smem) {
  if constexpr (V::kHasOut)
    AttncRecompute::run(p, a, smem);
}
} // namespace attnc

extern "C" __global__ void __launch_bounds__(AttncBackwardRows::kThreads)
    attnc_backward_prepare(const __grid_constant__ AttncBackwardParams p,
                           const __grid_constant__ AttncArgs a) {
  AttncBackwardRows::prepare(p, a);
}
extern "C" __global__ void __launch_bounds__(AttncBackwardDq::kThreads)
    attnc_backward_dq(const __grid_constant__ AttncBackwardParams p,
                      const __grid_constant__ AttncArgs a) {
  extern __shared__ __align__(128) unsigned char attnc_smem[];
  AttncBackwardDq::run(p, a, attnc_smem);
}
extern "C" __global__ void __launch_bounds__(AttncRecompute::kThreads)
    attnc_backward_recompute(const __grid_constant__ AttncForwardParams p,
                             const __grid_constant__ AttncArgs a) {
  extern __shared__ __align__(128) unsigned char attnc_smem[];
  attnc::recomputeBeforeOut<AttncVariant>(p, a, attnc_smem);
}

#endif // ATTNC_KERNELS_SM80_BACKWARD_SHARED_ENTRIES_CUH
