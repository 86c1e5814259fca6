// Hand-written hooks (KernelArgs.h contract): as softcap_causal.cuh, but with the hardware
// tanh approximation (tanh.approx.f32, ~2^-11 relative error) and a multiply by 1/cap instead
// of the IEEE division: shows what an approximate-math codegen option would buy.
#define ATTNC_HAS_SCORE 1
#define ATTNC_HAS_OUT 0
#define ATTNC_HAS_ROUTE 0
#define ATTNC_MASK_ALWAYS_TRUE 0
#define ATTNC_HAS_SUMMARIES 0
#define ATTNC_HOOKS_NAME "softcap_fast"
#include "causal_common.cuh"
static __device__ __forceinline__ float attnc_score(const AttncArgs &a, float s, int, int, int,
                                                    int) {
  const float cap = a.fparam[0];
  float y;
  asm("tanh.approx.f32 %0, %1;" : "=f"(y) : "f"(s * (1.f / cap)));
  return cap * y;
}
static __device__ __forceinline__ float attnc_out(const AttncArgs &, float o, int, int, int, int) {
  return o;
}
