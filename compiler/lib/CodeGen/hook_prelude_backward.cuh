// ---- attnc backward prelude: helpers only the backward's hooks call ----
// Query-interval sets for attnc_q_ranges are the key-interval sets of attnc_kv_ranges
// (AttncKr, attnc_kr_*), which read nothing of AttncArgs but the length of their universe,
// kv_len: given args whose kv_len is q_len, they are sets of query intervals.
static ATTNC_HD AttncArgs attnc_qr_args(const AttncArgs &a) {
  AttncArgs t = a;
  t.kv_len = a.q_len;
  return t;
}
static ATTNC_HD AttncIv attnc_iv_all_queries(const AttncArgs &a) {
  return attnc_iv_tokens(0, a.q_len - 1, a.q_len);
}
/// attnc_classify with the token ranges exchanged: attnc_kr_refine, run over query chunks,
/// asks about (key range, query chunk); the classifier wants the program's own args.
template <typename Classify> struct AttncQrClassify {
  const AttncArgs *a;
  Classify classify;
  ATTNC_HD int operator()(const AttncArgs &, int b, int h, int k_lo, int k_hi, int q_lo,
                          int q_hi) const {
    return classify(*a, b, h, q_lo, q_hi, k_lo, k_hi);
  }
};
/// Drops the query chunks of `set` that the tile classifier proves EMPTY for the keys
/// [k_lo, k_hi]: attnc_kr_refine transposed. A no-op where that is one (the kernel classifies
/// every tile itself), except where the query ranges have a kernel of their own
/// (ATTNC_QUERY_RANGES_OWN_KERNEL: sm_90a's attnc_backward_query_intervals, a thread per key
/// block off the key-tile kernel's path), whose exact ends the key-block pairing sorts by.
template <typename Classify>
static ATTNC_HD AttncKr attnc_qr_refine(const AttncArgs &a, int b, int h, int k_lo, int k_hi,
                                        AttncKr set, Classify classify) {
  AttncQrClassify<Classify> transposed = {&a, classify};
#if defined(ATTNC_KERNEL_CLASSIFIES_TILES) && !defined(ATTNC_QUERY_RANGES_OWN_KERNEL)
  return attnc_kr_refine(attnc_qr_args(a), b, h, k_lo, k_hi, set, transposed);
#else
  return attnc_kr_refine_chunks(attnc_qr_args(a), b, h, k_lo, k_hi, set, transposed);
#endif
}
/// Adds v to element (i0, .., i<rank-1>) of input `slot`'s gradient, when one was asked for
/// (g.data[slot] non-null). Indices are clamped to the input's dims as its read clamps them,
/// except those whose bit in `inRange` says the read needed no clamp.
static ATTNC_HD void attnc_add_input_grad(const AttncArgs &a, const AttncInputGrads &g, int slot,
                                          int rank, unsigned inRange, float v, int i0, int i1,
                                          int i2, int i3) {
  float *data = g.data[slot];
  if (!data)
    return;
  const int index[4] = {i0, i1, i2, i3};
  long long offset = 0;
  for (int n = 0; n < rank; ++n) {
    int x = index[n];
    if (!((inRange >> n) & 1u))
      x = x < 0 ? 0 : x >= a.input[slot].dim[n] ? a.input[slot].dim[n] - 1 : x;
    offset += (long long)x * g.stride[slot][n];
  }
#ifdef __CUDACC__
  atomicAdd(data + offset, v);
#else // the host harnesses of the compiler's tests
  data[offset] += v;
#endif
}
// ---- end of backward prelude ----
