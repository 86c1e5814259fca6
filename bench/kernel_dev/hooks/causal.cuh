// Hand-written hooks (KernelArgs.h contract): causal, bottom-right aligned.
#define ATTNC_HAS_SCORE 0
#define ATTNC_HAS_OUT 0
#define ATTNC_HAS_ROUTE 0
#define ATTNC_MASK_ALWAYS_TRUE 0
#define ATTNC_HAS_SUMMARIES 0
#define ATTNC_HOOKS_NAME "causal"
#include "causal_common.cuh"
static __device__ __forceinline__ float attnc_score(const AttncArgs &, float s, int, int, int,
                                                    int) {
  return s;
}
static __device__ __forceinline__ float attnc_out(const AttncArgs &, float o, int, int, int, int) {
  return o;
}
