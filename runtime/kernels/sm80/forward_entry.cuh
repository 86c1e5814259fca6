//===- sm80/forward_entry.cuh - The portable forward's entry point --------===//
//
// The default instantiation of sm80/forward.cuh for the program's variant (AttncVariant),
// the head dim and dtype the source defines: the kernel and its launch table (see there).
//
//===----------------------------------------------------------------------===//
#ifndef ATTNC_KERNELS_SM80_FORWARD_ENTRY_CUH
#define ATTNC_KERNELS_SM80_FORWARD_ENTRY_CUH

#include "sm80/forward.cuh"

#ifndef ATTNC_HEAD_DIM
#error "define ATTNC_HEAD_DIM (64, 128 or 256) before including sm80/forward_entry.cuh"
#endif
// The entry's name: attnc_forward_sm80_d<D>_<bf16|f16> (and its _config table).
#if defined(ATTNC_DTYPE_F16) && ATTNC_DTYPE_F16
#define ATTNC_FWD80_SUFFIX f16
using AttncForwardKind = attnc::tile::F16;
#else
#define ATTNC_FWD80_SUFFIX bf16
using AttncForwardKind = attnc::tile::BF16;
#endif
#define ATTNC_FWD80_NAME_(D, S, X) attnc_forward_sm80_d##D##_##S##X
#define ATTNC_FWD80_EXPAND_(D, S, X) ATTNC_FWD80_NAME_(D, S, X)
#define ATTNC_FWD80_NAME(X) ATTNC_FWD80_EXPAND_(ATTNC_HEAD_DIM, ATTNC_FWD80_SUFFIX, X)
using AttncSm80Policy = attnc::Sm80Policy<AttncVariant, ATTNC_HEAD_DIM, attnc::kSm80TargetSharedKB>;
// A development build may override the query tile rows (ATTNC_BLOCK_M=64|128, D <= 128).
#if defined(ATTNC_DEV_BUILD) && defined(ATTNC_BLOCK_M)
constexpr int kAttncSm80BlockM = ATTNC_BLOCK_M;
#else
constexpr int kAttncSm80BlockM = AttncSm80Policy::kBlockM;
#endif
using AttncForwardSm80 =
    attnc::ForwardSm80<AttncVariant, ATTNC_HEAD_DIM, AttncForwardKind, kAttncSm80BlockM,
                       AttncSm80Policy::kBlockN, AttncSm80Policy::kWarps, AttncSm80Policy::kStages>;
extern "C" {
__constant__ int ATTNC_FWD80_NAME(_config)[6] = {
    kAttncSm80BlockM,         AttncSm80Policy::kBlockN,     AttncForwardSm80::kThreads,
    AttncSm80Policy::kStages, AttncForwardSm80::kSmemBytes, ATTNC_HEAD_DIM};
}
extern "C" __global__ void __launch_bounds__(AttncForwardSm80::kThreads,
                                             AttncSm80Policy::kMinBlocks)
    ATTNC_FWD80_NAME()(const __grid_constant__ AttncForwardParams p,
                       const __grid_constant__ AttncArgs a) {
  extern __shared__ __align__(128) unsigned char attnc_smem[];
  AttncForwardSm80::run(p, a, attnc_smem);
}

#endif // ATTNC_KERNELS_SM80_FORWARD_ENTRY_CUH
