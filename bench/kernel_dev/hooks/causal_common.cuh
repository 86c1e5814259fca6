// Bottom-right aligned causal mask shared by the causal hook sets:
// keep iff q + (kv_len - q_len) >= k.
static __device__ __forceinline__ bool attnc_mask(const AttncArgs &a, int, int, int q, int k) {
  return q + (a.kv_len - a.q_len) >= k;
}
static __device__ __forceinline__ int attnc_classify(const AttncArgs &a, int, int, int q_lo,
                                                     int q_hi, int k_lo, int k_hi) {
  const int off = a.kv_len - a.q_len;
  if (k_lo > q_hi + off)
    return ATTNC_TILE_EMPTY;
  if (k_hi <= q_lo + off)
    return ATTNC_TILE_FULL;
  return ATTNC_TILE_PARTIAL;
}
static __device__ __forceinline__ int attnc_kv_ranges(const AttncArgs &a, int, int, int, int q_hi,
                                                      int *lo, int *hi) {
  const int end = min(a.kv_len, q_hi + (a.kv_len - a.q_len) + 1);
  if (end <= 0)
    return 0;
  lo[0] = 0;
  hi[0] = end;
  return 1;
}
