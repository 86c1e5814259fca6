// Hand-written hooks (KernelArgs.h contract): causal + Gemma-2 soft-capping,
// score = cap * tanh(score / cap), cap = fparam[0] (30 in the benchmark).
#define ATTNC_HAS_SCORE 1
#define ATTNC_HAS_OUT 0
#define ATTNC_HAS_ROUTE 0
#define ATTNC_MASK_ALWAYS_TRUE 0
#define ATTNC_HAS_SUMMARIES 0
#define ATTNC_HOOKS_NAME "softcap_causal"
#include "causal_common.cuh"
static __device__ __forceinline__ float attnc_score(const AttncArgs &a, float s, int, int, int,
                                                    int) {
  const float cap = a.fparam[0];
  return cap * tanhf(s / cap);
}
static __device__ __forceinline__ float attnc_out(const AttncArgs &, float o, int, int, int, int) {
  return o;
}
