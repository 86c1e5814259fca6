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
/// [k_lo, k_hi]: attnc_kr_refine transposed (a no-op where it is one).
template <typename Classify>
static ATTNC_HD AttncKr attnc_qr_refine(const AttncArgs &a, int b, int h, int k_lo, int k_hi,
                                        AttncKr set, Classify classify) {
  AttncQrClassify<Classify> transposed = {&a, classify};
  return attnc_kr_refine(attnc_qr_args(a), b, h, k_lo, k_hi, set, transposed);
}
// ---- end of backward prelude ----
