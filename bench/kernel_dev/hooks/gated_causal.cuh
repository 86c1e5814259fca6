// Hand-written hooks (KernelArgs.h contract): causal + per-element sigmoid output gate,
// out = out * sigmoid(G[b, h, q, c]), G = input[0] (bf16, O's shape; indices clamped).
#define ATTNC_HAS_SCORE 0
#define ATTNC_HAS_OUT 1
#define ATTNC_HAS_ROUTE 0
#define ATTNC_MASK_ALWAYS_TRUE 0
#define ATTNC_HAS_SUMMARIES 0
#define ATTNC_HOOKS_NAME "gated_causal"
#include "causal_common.cuh"
static __device__ __forceinline__ float attnc_score(const AttncArgs &, float s, int, int, int,
                                                    int) {
  return s;
}
static __device__ __forceinline__ int attnc_clamp_index(int i, int dim) {
  return min(max(i, 0), dim - 1);
}
static __device__ __forceinline__ float attnc_out(const AttncArgs &a, float o, int b, int h, int q,
                                                  int c) {
  const AttncTensor &g = a.input[0];
  const long long off =
      attnc_clamp_index(b, g.dim[0]) * g.stride[0] + attnc_clamp_index(h, g.dim[1]) * g.stride[1] +
      attnc_clamp_index(q, g.dim[2]) * g.stride[2] + attnc_clamp_index(c, g.dim[3]) * g.stride[3];
  const unsigned short bits = static_cast<const unsigned short *>(g.data)[off];
  const float x = __uint_as_float(static_cast<unsigned>(bits) << 16);
  return o * (1.f / (1.f + expf(-x)));
}
