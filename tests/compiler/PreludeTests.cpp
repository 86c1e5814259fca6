//===- PreludeTests.cpp - Interval transfer functions contain the truth ----===//
//
// Every Int/Bool transfer function of the hook prelude, on intervals whose bounds come
// from edge values (INT_MIN, -1, 0, 31, INT_MAX, ...): each concrete result of the
// language's operation on sample points of the operand intervals must lie inside the
// computed interval (or be allowed by the three-valued result). The concrete operations
// are the prelude's own Int semantics (int_semantics.cuh, pinned to the documented values
// by tests/dsl/IntSemanticsTests.cpp). The prelude is compiled as host C++ exactly as
// generated.
//
//===----------------------------------------------------------------------===//
#include "HookHarness.h"

#include <catch2/catch.hpp>

using namespace attnc;
using namespace attnc::test;

namespace {

const char kSelfTest[] = R"(
#include <stdio.h>
#include <string.h>
static const long long kEdges[] = {-2147483647LL - 1, -2147483647LL, -1000, -64, -33, -32,
  -31, -7, -5, -3, -2, -1, 0, 1, 2, 3, 5, 7, 31, 32, 33, 64, 100, 1000, 65535, 65536,
  1073741824LL, 2147483646LL, 2147483647LL};
static const int kNumEdges = sizeof(kEdges) / sizeof(kEdges[0]);
static int samples(long long lo, long long hi, int *out) {
  int n = 0;
  out[n++] = (int)lo;
  out[n++] = (int)hi;
  out[n++] = (int)(lo + (hi - lo) / 2);
  for (int i = 0; i < kNumEdges; ++i)
    if (kEdges[i] >= lo && kEdges[i] <= hi) out[n++] = (int)kEdges[i];
  return n;
}
extern "C" int attnc_prelude_selftest(char *message, int size) {
  int failures = 0;
  int xs[64], ys[64];
  for (int a = 0; a < kNumEdges; ++a)
    for (int b = a; b < kNumEdges; b += 1 + (b - a) / 3) {
      AttncIv x = attnc_iv_range(kEdges[a], kEdges[b], 0);
      int nx = samples(x.lo, x.hi, xs);
      for (int c = 0; c < kNumEdges; c += 2)
        for (int d = c; d < kNumEdges; d += 1 + (d - c) / 2) {
          AttncIv y = attnc_iv_range(kEdges[c], kEdges[d], 0);
          int ny = samples(y.lo, y.hi, ys);
          AttncIv r[11] = {attnc_iv_add(x, y), attnc_iv_sub(x, y), attnc_iv_mul(x, y),
                           attnc_iv_div(x, y), attnc_iv_rem(x, y), attnc_iv_min(x, y),
                           attnc_iv_max(x, y), attnc_iv_and(x, y), attnc_iv_or(x, y),
                           attnc_iv_xor(x, y), attnc_iv_abs(x)};
          AttncIv count = attnc_iv_and(y, attnc_iv_point(31));
          AttncIv sh[2] = {attnc_iv_shl(x, count), attnc_iv_shr(x, count)};
          AttncTv t[6] = {attnc_iv_lt(x, y), attnc_iv_le(x, y), attnc_iv_gt(x, y),
                          attnc_iv_ge(x, y), attnc_iv_eq(x, y), attnc_iv_ne(x, y)};
          AttncIv clz = attnc_iv_clz(x);
          for (int i = 0; i < nx; ++i)
            for (int j = 0; j < ny; ++j) {
              int u = xs[i], v = ys[j];
              long long want[11] = {attnc_wrap_add(u, v), attnc_wrap_sub(u, v),
                                    attnc_wrap_mul(u, v), attnc_idiv(u, v), attnc_irem(u, v),
                                    attnc_imin(u, v), attnc_imax(u, v), u & v, u | v, u ^ v,
                                    attnc_iabs(u)};
              int c5 = v & 31;
              long long shw[2] = {attnc_ishl(u, v), attnc_ishr(u, v)};
              bool tw[6] = {u < v, u <= v, u > v, u >= v, u == v, u != v};
              const char *names[11] = {"add", "sub", "mul", "div", "rem", "min", "max",
                                       "and", "or", "xor", "abs"};
              for (int k = 0; k < 11; ++k)
                if (want[k] < r[k].lo || want[k] > r[k].hi) {
                  if (!failures++)
                    snprintf(message, size, "%s([%lld,%lld], [%lld,%lld]) = [%lld,%lld] misses %s(%d,%d) = %lld",
                             names[k], x.lo, x.hi, y.lo, y.hi, r[k].lo, r[k].hi, names[k], u, v, want[k]);
                }
              for (int k = 0; k < 2; ++k)
                if (shw[k] < sh[k].lo || shw[k] > sh[k].hi) {
                  if (!failures++)
                    snprintf(message, size, "%s([%lld,%lld], count [%lld,%lld]) = [%lld,%lld] misses %d, %d",
                             k ? "shr" : "shl", x.lo, x.hi, count.lo, count.hi, sh[k].lo, sh[k].hi, u, c5);
                }
              for (int k = 0; k < 6; ++k)
                if (!(t[k] & (tw[k] ? 2 : 1))) {
                  if (!failures++)
                    snprintf(message, size, "comparison %d of [%lld,%lld] and [%lld,%lld] = %d misses %d,%d",
                             k, x.lo, x.hi, y.lo, y.hi, t[k], u, v);
                }
              if (attnc_clz(u) < clz.lo || attnc_clz(u) > clz.hi) {
                if (!failures++)
                  snprintf(message, size, "clz([%lld,%lld]) misses %d", x.lo, x.hi, u);
              }
            }
        }
    }
  return failures;
}
)";

} // namespace

TEST_CASE("interval transfer functions contain every concrete result", "[prelude]") {
  // Any example supplies the prelude text; the functions are the same for all.
  CompiledProgram p =
      compileSource("causal.attn", readFile(std::string(ATTNC_EXAMPLES_DIR) + "/causal.attn"));
  std::string source = "#include <math.h>\n#include <stdint.h>\n"
                       "#include \"attnc/abi/KernelArgs.h\"\n" +
                       hookPreludeText(p.hooks.source) + kSelfTest;
  std::string error;
  void *symbol = compileHostSymbol(source, "attnc_prelude_selftest", error);
  INFO(error);
  REQUIRE(symbol);
  auto selfTest = reinterpret_cast<int (*)(char *, int)>(symbol);
  char message[512] = {0};
  int failures = selfTest(message, sizeof(message));
  INFO(message);
  CHECK(failures == 0);
}
