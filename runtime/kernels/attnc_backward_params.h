//===- attnc_backward_params.h - Tensor arguments of the backward kernels --===//
//
// Plain C, shared by the host runtime (to fill it) and the kernel templates (NVRTC). Passed
// by value as the first parameter of every backward kernel, before AttncArgs.
//
// Q, K, V, O, dO, dQ, dK, dV are 16-bit (the kernel's dtype), unit stride along the head
// dimension, other strides in ELEMENTS (as attnc_forward_params.h): X[b, h, t, c] at
// x + b*x_stride[0] + h*x_stride[1] + t*x_stride[2] + c; K, V, dK, dV have kv_heads heads.
// LSE[b, h, t] (fp32, natural log, the forward's) at lse + b*lse_stride[0] + h*lse_stride[1]
// + t. Scratch the runtime allocates per launch (stream-ordered), fp32, contiguous:
//   delta    [batch, heads, q_len]        rowsum(dO * O) - dL/dLSE, by the preparation kernel
//   dq_accum [batch, heads, dq_accum_rows, D]  dQ accumulated by the key-tile kernel, in the
//            order its DqAccum says (rows rounded up to its tile), zeroed by the preparation
//   row_stats [batch, heads, row_stats_rows, 2]  (LSE * log2(e), delta) per query row, rows
//            rounded up to the key-tile kernel's query tile, zeroed, then written by the
//            preparation; only for a key-tile kernel that loads them per query tile (sm_90a),
//            else null
//   block_intervals [batch, heads, key blocks]  each 64-key block's query intervals, written
//            by attnc_backward_query_intervals
//   key_blocks [batch * kv heads * key tiles, 2]  int: the two 64-key blocks a key tile
//            holds, and
//   q_intervals [batch, heads, key tiles]  each key tile's query intervals (the union of its
//            blocks'), both written by attnc_backward_pair_key_blocks (attention/
//            key_block_pairs.cuh); these three only for the sm_90a key-tile kernel, else null
//   key_tile_order [batch * kv heads * key tiles]  int: the key-tile kernel's CTA i runs unit
//            key_tile_order[i] (attention/key_tile_order.cuh), written by
//            attnc_backward_key_tile_order from key_tile_lengths (the query tiles each unit
//            visits, by attnc_backward_count_query_tiles); with q_intervals, else null (natural
//            order)
// and, for programs with an `out` expression (V::kHasOut), 16-bit [batch, heads, q_len, D]:
//   o        the attention output before `out`, recomputed (attnc_backward_recompute); the
//            runtime points o / o_stride at it
//   d_o_attn dL/d(that output) = dO * V::outGrad, written by the preparation kernel; the
//            key-tile kernel then reads it as d_o
//
//===----------------------------------------------------------------------===//
#ifndef ATTNC_KERNELS_ATTNC_BACKWARD_PARAMS_H
#define ATTNC_KERNELS_ATTNC_BACKWARD_PARAMS_H

/// One key tile's query intervals [lo[i], hi[i]), i < count, for one query head: V::qRanges,
/// clamped to [0, q_len) (ATTNC_MAX_KV_RANGES is KernelArgs.h's).
typedef struct AttncQueryIntervals {
  int lo[ATTNC_MAX_KV_RANGES];
  int hi[ATTNC_MAX_KV_RANGES];
  int count;
} AttncQueryIntervals;

typedef struct AttncBackwardParams {
  const void *q;
  const void *k;
  const void *v;
  const void *o;
  const void *d_o;
  const float *lse;
  void *dq;
  void *dk;
  void *dv;
  long long q_stride[3]; ///< batch, head, token
  long long k_stride[3];
  long long v_stride[3];
  long long o_stride[3];
  long long do_stride[3];
  long long dq_stride[3];
  long long dk_stride[3];
  long long dv_stride[3];
  long long lse_stride[2]; ///< batch, head (token stride is 1)
  /// dL/dLSE (fp32, token stride 1), or null: the preparation subtracts it from delta.
  const float *d_lse;
  long long dlse_stride[2]; ///< batch, head
  float *delta;
  float *dq_accum;
  float *row_stats;
  long long row_stats_rows; ///< rows per (batch, head) of row_stats
  long long dq_accum_rows;  ///< rows per (batch, head) of dq_accum
  AttncQueryIntervals *block_intervals;
  int *key_blocks;
  AttncQueryIntervals *q_intervals;
  int *key_tile_order;
  int *key_tile_lengths; ///< [batch * kv heads * key tiles]: query tiles each unit visits
  void *d_o_attn;
  /// Gradients of float inputs (KernelArgs.h), added to by the hooks' read sites.
  AttncInputGrads input_grads;
} AttncBackwardParams;

/// The sm_90a backward's tensor maps (AttncTensorMap, attnc_forward_params.h): 4-D views
/// {D, tokens, heads, batch} with the 128-byte swizzle, boxes of 64 columns x the query tile's
/// rows for Q and dO and x 64 rows for K and V (key blocks). The third kernel parameter.
typedef struct AttncBackwardTmaMaps {
  AttncTensorMap q, k, v, d_o;
} AttncBackwardTmaMaps;

#endif // ATTNC_KERNELS_ATTNC_BACKWARD_PARAMS_H
