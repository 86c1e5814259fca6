//===- sm80/backward_shared_entries.cuh - Entries of every backward module ===//
//
// The portable kernels every backward module holds, instantiated for the program's variant
// (AttncVariant) and the head dim and dtype the source defines (sm80/backward.cuh has the
// launch): the preparation and the recompute of the output before `out`. The key-tile kernel,
// and the dQ store that reads its dq_accum layout, come from sm80/backward_entry.cuh or
// sm90/backward_entry.cuh, which include this file; the deterministic mode's dQ kernel is a
// module of its own (sm80/backward_dq_entry.cuh).
//
//===----------------------------------------------------------------------===//
#ifndef ATTNC_KERNELS_SM80_BACKWARD_SHARED_ENTRIES_CUH
#define ATTNC_KERNELS_SM80_BACKWARD_SHARED_ENTRIES_CUH

#include "sm80/backward.cuh"
#include "sm80/backward_types.cuh"
#include "sm80/forward.cuh"

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
/// The preparation's launch: {query rows per CTA, threads}, grid (rows of all heads / rows per
/// CTA).
__constant__ int attnc_backward_prepare_config[2] = {AttncBackwardRows::kRowsPerCta,
                                                     AttncBackwardRows::kThreads};
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
extern "C" __global__ void __launch_bounds__(AttncRecompute::kThreads)
    attnc_backward_recompute(const __grid_constant__ AttncForwardParams p,
                             const __grid_constant__ AttncArgs a) {
  extern __shared__ __align__(128) unsigned char attnc_smem[];
  attnc::recomputeBeforeOut<AttncVariant>(p, a, attnc_smem);
}

#endif // ATTNC_KERNELS_SM80_BACKWARD_SHARED_ENTRIES_CUH
