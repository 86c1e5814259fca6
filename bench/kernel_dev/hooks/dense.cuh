// Hand-written hooks (KernelArgs.h contract): dense attention, every pair kept.
#define ATTNC_HAS_SCORE 0
#define ATTNC_HAS_OUT 0
#define ATTNC_HAS_ROUTE 0
#define ATTNC_MASK_ALWAYS_TRUE 1
#define ATTNC_HAS_SUMMARIES 0
#define ATTNC_HOOKS_NAME "dense"

static __device__ __forceinline__ bool attnc_mask(const AttncArgs &, int, int, int, int) {
  return true;
}
static __device__ __forceinline__ float attnc_score(const AttncArgs &, float s, int, int, int,
                                                    int) {
  return s;
}
static __device__ __forceinline__ float attnc_out(const AttncArgs &, float o, int, int, int, int) {
  return o;
}
static __device__ __forceinline__ int attnc_classify(const AttncArgs &, int, int, int, int, int,
                                                     int) {
  return ATTNC_TILE_FULL;
}
static __device__ __forceinline__ int attnc_kv_ranges(const AttncArgs &a, int, int, int, int,
                                                      int *lo, int *hi) {
  lo[0] = 0;
  hi[0] = a.kv_len;
  return 1;
}
