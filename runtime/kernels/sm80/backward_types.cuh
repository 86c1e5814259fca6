//===- sm80/backward_types.cuh - The backward modules' element kind and stages ===//
//
// What every backward module (sm80/backward_entry.cuh, sm90/backward_entry.cuh,
// sm80/backward_dq_entry.cuh) takes from the source's defines: the 16-bit element kind and the
// portable kernels' query-tile stages.
//
//===----------------------------------------------------------------------===//
#ifndef ATTNC_KERNELS_SM80_BACKWARD_TYPES_CUH
#define ATTNC_KERNELS_SM80_BACKWARD_TYPES_CUH

#include "sm80/forward.cuh" // kSm80TargetSharedKB, tile::BF16 / F16

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

#endif // ATTNC_KERNELS_SM80_BACKWARD_TYPES_CUH
