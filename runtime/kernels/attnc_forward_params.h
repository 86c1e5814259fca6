//===- attnc_forward_params.h - Tensor arguments of the forward kernels ---===//
//
// Plain C, shared by the host runtime (to fill it) and the kernel templates (NVRTC).
// Passed by value as the first kernel parameter, before AttncArgs (KernelArgs.h), which
// carries the lengths, head counts and the softmax scale.
//
// Tensors are 16-bit (bf16 or fp16, the same for Q, K, V, O), unit stride along the head
// dimension; the other strides are in ELEMENTS, so BHSD, BSHD and padded layouts all work:
//   Q[b, h, t, c]    at q + b*q_stride[0] + h*q_stride[1] + t*q_stride[2] + c
//   K/V[b, kh, t, c] likewise with the kv head kh = h / (heads / kv_heads)
//   O[b, h, t, c]    likewise with o_stride
//   LSE[b, h, t]     at lse + b*lse_stride[0] + h*lse_stride[1] + t   (fp32, natural log)
//   O_before_out     like O with o_before_out_stride: for programs with an `out` expression,
//                    the normalised output before it (what the backward reads instead of
//                    recomputing it); null: not written
// Alignment requirement (16-byte vector loads/stores): q, k, v, o 16-byte aligned and
// every stride a multiple of 8 elements (o_before_out likewise). lse may be null (not written).
//
//===----------------------------------------------------------------------===//
#ifndef ATTNC_KERNELS_ATTNC_FORWARD_PARAMS_H
#define ATTNC_KERNELS_ATTNC_FORWARD_PARAMS_H

typedef struct AttncForwardParams {
  const void *q;
  const void *k;
  const void *v;
  void *o;
  float *lse;
  long long q_stride[3]; ///< batch, head, token
  long long k_stride[3];
  long long v_stride[3];
  long long o_stride[3];
  long long lse_stride[2]; ///< batch, head (token stride is 1)
  void *o_before_out;
  long long o_before_out_stride[3];
  /// Persistent templates (launch table entry 7 = 1): the scheduler's workspace,
  /// ATTNC_SCHEDULER_INTS ints with the first 4 zeroed before the launch. [0] is the counter
  /// the CTAs take work units from; the rest orders the last units longest first
  /// (attention/scheduler.cuh, LongestFirstTail).
  int *tile_counter;
} AttncForwardParams;

/// Units the sm90 template may reorder at the end of a launch, and the workspace size.
#define ATTNC_MAX_TAIL_UNITS 512
#define ATTNC_SCHEDULER_INTS (4 + 2 * ATTNC_MAX_TAIL_UNITS)

/// Tensor maps (CUtensorMap, 128 opaque bytes each, built on the host with
/// cuTensorMapEncodeTiled) for the TMA loads of the sm_90a template (sm90/forward.cuh):
/// 4-D views (head dim, token, head, batch) of Q, K and V with the 128-byte swizzle and boxes
/// of 64 columns x (block_m or block_n) rows. Passed by value as the third kernel parameter.
typedef struct AttncTensorMap {
  alignas(64) unsigned long long opaque[16];
} AttncTensorMap;
typedef struct AttncTmaMaps {
  AttncTensorMap q, k, v;
} AttncTmaMaps;

#endif // ATTNC_KERNELS_ATTNC_FORWARD_PARAMS_H
