//===- SemanticsTests.cpp - Language corner cases in the reference ------===//
#include "TestSupport.h"

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

using namespace attnc;
using namespace attnc::testing;

namespace {

/// Evaluates a Bool expression as the mask of a 1x1 problem (q = k = 0).
bool evalMask(const std::string &expr) {
  auto program = compileSource("attention t { mask = " + expr + "; }");
  auto inputs = makeInputs(*program, shapeOf(1, 1, 1, 1, 1, 4), 1);
  std::vector<uint8_t> keep;
  std::string error;
  REQUIRE(reference::evaluateKeepMatrix(*program, *program->find(""), inputs.problem(), 0, 0, keep,
                                        error));
  return keep.at(0) != 0;
}

} // namespace

TEST_CASE("Int semantics: wrapping, division, remainder, shifts", "[reference][semantics]") {
  CHECK(evalMask("2147483647 + 1 == -2147483647 - 1"));
  CHECK(evalMask("65536 * 65536 == 0"));
  CHECK(evalMask("-7 / 2 == -3"));
  CHECK(evalMask("-7 % 2 == -1"));
  CHECK(evalMask("7 % -2 == 1"));
  CHECK(evalMask("5 / (q - q) == 0"));
  CHECK(evalMask("5 % (q - q) == 0"));
  CHECK(evalMask("(-2147483647 - 1) / -1 == -2147483647 - 1"));
  CHECK(evalMask("(-2147483647 - 1) % -1 == 0"));
  CHECK(evalMask("1 << 33 == 2"));
  CHECK(evalMask("-8 >> 1 == -4"));
  CHECK(evalMask("-1 >> 31 == -1"));
  CHECK(evalMask("(6 & 3) == 2 && (6 | 3) == 7 && (6 ^ 3) == 5 && ~0 == -1"));
  CHECK(evalMask("1 | 2 == 3")); // bitwise binds tighter than ==
  CHECK(evalMask("bit_length(0) == 0 && bit_length(1) == 1 && bit_length(3) == 2 &&"
                 " bit_length(4) == 3 && bit_length(-4) == 3"));
  CHECK(evalMask("abs(-5) == 5 && min(3, -2) == -2 && max(3, -2) == 3 && clamp(9, 0, 4) == 4"));
}

TEST_CASE("Float semantics and conversions", "[reference][semantics]") {
  CHECK(evalMask("int(2.9) == 2 && int(-2.9) == -2"));
  CHECK(evalMask("int(1e20) == 2147483647 && int(-1e20) == -2147483647 - 1"));
  CHECK(evalMask("int(sqrt(-1.0)) == 0"));         // NaN -> 0
  CHECK(evalMask("1 / 2 == 0 && 1 / 2.0 == 0.5")); // Int -> Float promotion only when mixed
  CHECK(evalMask("floor(-1.5) == -2.0 && exp2(3) == 8.0 && log2(8.0) == 3.0"));
  CHECK(evalMask("sigmoid(0.0) == 0.5 && tanh(0.0) == 0.0"));
  CHECK(evalMask("select(q == 0, 1, 2.5) == 1.0 && select(false, 1, 2) == 2"));
  CHECK(evalMask("log(0.0) == -inf && -log(0.0) == inf && exp(-inf) == 0.0"));
  CHECK_FALSE(evalMask("0.0 * inf == 0.0 * inf")); // NaN
  CHECK_FALSE(evalMask("sqrt(-1.0) == sqrt(-1.0)"));
}

TEST_CASE("empty rows: O = 0, LSE = -inf, no epilogue, no NaN", "[reference][semantics]") {
  auto program = compileSource("attention t { mask = q >= 3; out = out + 1.0; }");
  auto inputs = makeInputs(*program, shapeOf(1, 2, 2, 6, 6, 4), 1);
  auto r = runChecked(*program, inputs);
  for (int h = 0; h < 2; ++h)
    for (int q = 0; q < 6; ++q) {
      if (q < 3) {
        CHECK(r.lseAt(0, h, q) == -std::numeric_limits<double>::infinity());
        for (int c = 0; c < 4; ++c)
          CHECK(r.outAt(0, h, q, c) == 0.0);
      } else {
        CHECK(std::isfinite(r.lseAt(0, h, q)));
        CHECK(r.outAt(0, h, q, 0) != 0.0);
      }
    }
}

TEST_CASE("a -inf score drops the key like the mask", "[reference][semantics]") {
  auto byScore = compileSource("attention t { score = select(k % 3 == 0, log(0.0), score); }");
  auto byMask = compileSource("attention t { mask = k % 3 != 0; }");
  auto inputs = makeInputs(*byScore, shapeOf(1, 1, 1, 10, 10, 8), 2);
  auto a = runChecked(*byScore, inputs);
  auto b = runChecked(*byMask, inputs);
  CHECK(a.out == b.out);
  CHECK(a.lse == b.lse);
  CHECK(a.keptPairs == 10u * 6u);
}

TEST_CASE("rows whose scores are all -inf are empty rows, whatever the mask",
          "[reference][semantics][nonfinite]") {
  // Rows q < 3 keep keys (the mask is true) but the score drops them all; the other rows
  // drop some. Both read as the mask `k <= q && q >= 3` would.
  auto byScore = compileSource(
      "attention t { score = select(q >= 3 && k <= q, score, -inf); out = out + 1.0; }");
  auto byMask = compileSource("attention t { mask = q >= 3 && k <= q; out = out + 1.0; }");
  auto inputs = makeInputs(*byScore, shapeOf(2, 2, 1, 7, 9, 8), 6);
  auto a = runChecked(*byScore, inputs);
  auto b = runChecked(*byMask, inputs);
  CHECK(a.out == b.out);
  CHECK(a.lse == b.lse);
  CHECK(a.keptPairs == b.keptPairs);
  for (int bt = 0; bt < 2; ++bt)
    for (int h = 0; h < 2; ++h)
      for (int q = 0; q < 3; ++q) {
        CHECK(a.lseAt(bt, h, q) == -std::numeric_limits<double>::infinity());
        for (int c = 0; c < 8; ++c)
          CHECK(a.outAt(bt, h, q, c) == 0.0); // no epilogue (+ 1.0) on empty rows
      }
  CHECK(std::isfinite(a.lseAt(0, 0, 3)));
  CHECK(a.outAt(0, 0, 3, 0) != 0.0);
}

TEST_CASE("+inf scores share the row's weight, NaN scores make the row NaN",
          "[reference][semantics][nonfinite]") {
  // Row 1: keys 2 and 5 score +inf. Row 2: key 4 scores NaN. Other rows: ordinary.
  auto program = compileSource("attention t {\n"
                               "  score = select(q == 1 && (k == 2 || k == 5), inf,\n"
                               "                 select(q == 2 && k == 4, 0.0 * inf, score));\n"
                               "  out = out * 2.0;\n}");
  auto inputs = makeInputs(*program, shapeOf(1, 1, 1, 4, 8, 4), 7);
  auto r = runChecked(*program, inputs);
  CHECK(r.lseAt(0, 0, 1) == std::numeric_limits<double>::infinity());
  for (int c = 0; c < 4; ++c) {
    double mean = (at(inputs.v, 0, 0, 2, c) + at(inputs.v, 0, 0, 5, c)) / 2;
    CHECK(r.outAt(0, 0, 1, c) == Approx(2 * mean).epsilon(1e-12)); // the epilogue applies
    CHECK(std::isnan(r.outAt(0, 0, 2, c)));
    CHECK(std::isfinite(r.outAt(0, 0, 0, c)));
  }
  CHECK(std::isnan(r.lseAt(0, 0, 2)));
  CHECK(std::isfinite(r.lseAt(0, 0, 3)));
}

TEST_CASE("LSE is the natural log-sum-exp of the modified scores", "[reference][semantics]") {
  auto program = compileSource("attention t { mask = k < 2; score = float(k); }");
  auto inputs = makeInputs(*program, shapeOf(1, 1, 1, 3, 5, 4), 3);
  auto r = runChecked(*program, inputs);
  CHECK(r.lseAt(0, 0, 1) == Approx(std::log(std::exp(0.0) + std::exp(1.0))).epsilon(1e-14));
}

TEST_CASE("tensor reads clamp every index", "[reference][semantics]") {
  auto program = compileSource("attention t { input w: f32[4]; score = w[q - 2] + w[k * 100]; }");
  auto inputs = makeInputs(*program, shapeOf(1, 1, 1, 8, 8, 4), 4);
  const auto &w = inputs.inputs.at(0).tensor;
  auto want = naiveAttention(inputs, {[](int, int, int, int) { return true; },
                                      [&](int, int, int q, int k, double) {
                                        return w.loadDouble(std::clamp(q - 2, 0, 3)) +
                                               w.loadDouble(std::clamp(k * 100, 0, 3));
                                      }});
  requireMatches(runChecked(*program, inputs), want);
}

TEST_CASE("layout coordinates keep counting in the first axis beyond the grid",
          "[reference][semantics]") {
  auto program = compileSource("layout g = grid(y: 2, x: 3);"
                               " attention t over g { mask = k.y == q.y - 2 && k.x == q.x; }");
  auto inputs = makeInputs(*program, shapeOf(1, 1, 1, 20, 20, 4), 5);
  auto want = naiveAttention(
      inputs, {[](int, int, int q, int k) { return k / 3 == q / 3 - 2 && k % 3 == q % 3; }});
  requireMatches(runChecked(*program, inputs), want);
}

TEST_CASE("BSHD, BHSD, bf16/f16 storage and thread count give the same result",
          "[reference][semantics]") {
  auto program = compileSource("attention t { mask = causal; }");
  ProblemShape shape = shapeOf(2, 4, 2, 19, 23, 8);
  auto inputs = makeInputs(*program, shape, 6);
  auto base = runChecked(*program, inputs, {}, 1);
  CHECK(runChecked(*program, inputs, {}, 4).out == base.out);

  // Re-pack Q/K/V as BSHD float64 and bind with strided views.
  auto toBshd = [](const reference::OwnedTensor &t, std::vector<double> &store) {
    int B = t.dims[0], H = t.dims[1], S = t.dims[2], D = t.dims[3];
    store.resize(size_t(B) * H * S * D);
    for (int b = 0; b < B; ++b)
      for (int h = 0; h < H; ++h)
        for (int s = 0; s < S; ++s)
          for (int c = 0; c < D; ++c)
            store[((size_t(b) * S + s) * H + h) * D + c] = at(t, b, h, s, c);
    return reference::makeQkvView(reference::DType::F64, store.data(), B, H, S, D,
                                  reference::QkvLayout::BSHD);
  };
  std::vector<double> qs, ks, vs;
  reference::ReferenceProblem problem = inputs.problem();
  problem.q = toBshd(inputs.q, qs);
  problem.k = toBshd(inputs.k, ks);
  problem.v = toBshd(inputs.v, vs);
  reference::ReferenceResult r;
  std::string error;
  REQUIRE(reference::runReference(*program, *program->find(""), problem, r, error));
  CHECK(r.out == base.out);

  for (auto dtype : {reference::DType::BF16, reference::DType::F16}) {
    reference::InputOptions options;
    options.qkvType = dtype;
    reference::ProblemInputs low;
    REQUIRE(
        reference::makeProblemInputs(*program, *program->find(""), shape, 6, low, error, options));
    auto lowResult = runChecked(*program, low);
    auto want = naiveAttention(low, {[&](int, int, int q, int k) { return q + 4 >= k; }});
    requireMatches(lowResult, want);
    // Rounded inputs: close to, but not exactly, the f32 result.
    CHECK(toleranceRatio(lowResult.out, base.out, 0.05, 0.0) <= 1.0);
    CHECK(lowResult.out != base.out);
  }
}

TEST_CASE("binding errors are reported, not crashes", "[reference][semantics]") {
  auto program = compileSource("attention t { input doc: i32[q_len]; param w: int;"
                               " mask = doc[q] == doc[k] && q - k < w; }");
  auto inputs = makeInputs(*program, shapeOf(1, 2, 2, 8, 8, 4), 7);
  const auto *attention = program->find("");
  reference::ReferenceResult r;
  std::string error;

  reference::ReferenceProblem p = inputs.problem();
  CHECK_FALSE(reference::runReference(*program, *attention, p, r, error));
  CHECK(error.find("'w'") != std::string::npos); // param without default

  p.params = {intParam("w", 3)};
  REQUIRE(reference::runReference(*program, *attention, p, r, error));

  auto bad = p;
  bad.inputs.clear();
  CHECK_FALSE(reference::runReference(*program, *attention, bad, r, error));
  CHECK(error.find("doc") != std::string::npos);

  bad = p;
  bad.inputs[0].tensor.dims = {7};
  CHECK_FALSE(reference::runReference(*program, *attention, bad, r, error));

  bad = p;
  bad.inputs[0].tensor.dtype = reference::DType::F32;
  CHECK_FALSE(reference::runReference(*program, *attention, bad, r, error));

  bad = p;
  bad.shape.kvHeads = 3;
  CHECK_FALSE(reference::runReference(*program, *attention, bad, r, error));

  bad = p;
  bad.params.push_back(intParam("nope", 1));
  CHECK_FALSE(reference::runReference(*program, *attention, bad, r, error));
}

TEST_CASE("SplitMix64 is the published generator and the derived values are exact",
          "[reference][random]") {
  // First outputs for seed 0 (reference implementation by Vigna).
  reference::SplitMix64 rng(0);
  CHECK(rng.next() == 0xE220A8397B1DCDAFull);
  CHECK(rng.next() == 0x6E789E6AA1B965F4ull);
  CHECK(rng.next() == 0x06C45D188009454Full);

  reference::SplitMix64 a(42);
  double sum = 0, sumSq = 0;
  const int n = 100000;
  for (int i = 0; i < n; ++i) {
    double u = a.uniformSigned();
    REQUIRE(u != 0.0);
    REQUIRE(u > -1.0);
    REQUIRE(u < 1.0);
    REQUIRE(double(float(u)) == u); // exact in float32
    double g = a.normalish();
    REQUIRE(g != 0.0);
    sum += g;
    sumSq += g * g;
  }
  CHECK(std::fabs(sum / n) < 0.02);
  CHECK(std::fabs(sumSq / n - 1.0) < 0.02);

  reference::SplitMix64 c(9);
  for (int i = 0; i < 1000; ++i)
    REQUIRE(c.below(7) < 7);
  for (int64_t length : {1, 2, 15, 16, 127, 257, 5000}) {
    auto ids = reference::segmentIds(length, c);
    REQUIRE(ids.size() == size_t(length));
    REQUIRE(ids.front() == 0);
    for (size_t i = 1; i < ids.size(); ++i)
      REQUIRE((ids[i] == ids[i - 1] || ids[i] == ids[i - 1] + 1));
    CHECK(ids.back() + 1 == std::min<int64_t>(16, std::max<int64_t>(1, length / 16)));
  }
}

TEST_CASE("makeProblemInputs is deterministic and streams are independent", "[reference][random]") {
  auto one = compileSource("attention t { input doc: i32[batch, kv_len]; input g: f32[heads];"
                           " mask = doc[b, q] == doc[b, k]; }");
  auto two = compileSource("attention t { input g: f32[heads]; }");
  ProblemShape shape = shapeOf(2, 2, 2, 64, 64, 8);
  auto a = makeInputs(*one, shape, 99), b = makeInputs(*one, shape, 99);
  auto c = makeInputs(*two, shape, 99), d = makeInputs(*one, shape, 100);
  CHECK(a.q.bytes == b.q.bytes);
  CHECK(a.inputs[0].tensor.bytes == b.inputs[0].tensor.bytes);
  CHECK(a.q.bytes == c.q.bytes); // adding an input does not change Q/K/V
  CHECK(a.v.bytes == c.v.bytes);
  CHECK(a.inputs[1].tensor.bytes == c.inputs[0].tensor.bytes); // same name, same stream
  CHECK(a.q.bytes != d.q.bytes);
  CHECK(a.q.bytes != a.k.bytes);
  // Different batches get different document boundaries.
  std::vector<int32_t> ids(2 * 64);
  std::memcpy(ids.data(), a.inputs[0].tensor.bytes.data(), ids.size() * 4);
  CHECK(std::vector<int32_t>(ids.begin(), ids.begin() + 64) !=
        std::vector<int32_t>(ids.begin() + 64, ids.end()));
  // A fixed value pins the algorithm (platform independence): Q[0] for seed 99.
  float q0;
  std::memcpy(&q0, a.q.bytes.data(), 4);
  reference::SplitMix64 rng(reference::mixSeed(99, reference::fnv1a64("Q")));
  CHECK(q0 == float(rng.normalish()));
}

TEST_CASE("half and bfloat16 conversions round to nearest even", "[reference][random]") {
  using reference::bfloat16ToDouble;
  using reference::floatToBFloat16;
  using reference::floatToHalf;
  using reference::halfToDouble;
  CHECK(floatToHalf(1.0f) == 0x3c00);
  CHECK(floatToHalf(-2.0f) == 0xc000);
  CHECK(floatToHalf(65504.0f) == 0x7bff);
  CHECK(floatToHalf(65520.0f) == 0x7c00);
  CHECK(floatToHalf(std::ldexp(1.0f, -24)) == 0x0001);
  CHECK(floatToHalf(std::ldexp(1.0f, -25)) == 0x0000);        // tie to even (0)
  CHECK(floatToHalf(std::ldexp(3.0f, -26)) == 0x0001);        // above the tie
  CHECK(floatToHalf(1.0f + std::ldexp(1.0f, -11)) == 0x3c00); // tie -> even
  CHECK(floatToHalf(1.0f + std::ldexp(3.0f, -11)) == 0x3c02); // tie -> even (up)
  CHECK(halfToDouble(0x0001) == std::ldexp(1.0, -24));
  CHECK(halfToDouble(0x7bff) == 65504.0);
  CHECK(std::isinf(halfToDouble(0x7c00)));
  CHECK(floatToBFloat16(1.0f) == 0x3f80);
  CHECK(floatToBFloat16(1.0f + std::ldexp(1.0f, -8)) == 0x3f80); // tie -> even
  CHECK(floatToBFloat16(1.0f + std::ldexp(3.0f, -8)) == 0x3f82);
  CHECK(bfloat16ToDouble(0xc040) == -3.0);
  for (uint32_t bits = 0; bits < 0x7c00; bits += 7) // every finite half round-trips
    REQUIRE(floatToHalf(float(halfToDouble(uint16_t(bits)))) == bits);
}

TEST_CASE("onlyQueries computes exactly the requested rows", "[reference][semantics]") {
  auto program = compileSource("attention t { mask = causal && q - k < 5; }");
  auto inputs = makeInputs(*program, shapeOf(2, 2, 1, 40, 40, 8), 8);
  auto full = runChecked(*program, inputs);
  reference::ReferenceProblem problem = inputs.problem();
  problem.onlyQueries = {0, 17, 39};
  reference::ReferenceResult part;
  std::string error;
  REQUIRE(reference::runReference(*program, *program->find(""), problem, part, error));
  for (int b = 0; b < 2; ++b)
    for (int h = 0; h < 2; ++h)
      for (int q = 0; q < 40; ++q) {
        bool wanted = q == 0 || q == 17 || q == 39;
        if (wanted) {
          CHECK(part.lseAt(b, h, q) == full.lseAt(b, h, q));
          CHECK(part.outAt(b, h, q, 3) == full.outAt(b, h, q, 3));
        } else {
          CHECK(std::isnan(part.lseAt(b, h, q)));
          CHECK(std::isnan(part.outAt(b, h, q, 0)));
        }
      }
  CHECK(part.keptPairs == 4u * (1 + 5 + 5));
  problem.onlyQueries = {40};
  CHECK_FALSE(reference::runReference(*program, *program->find(""), problem, part, error));
}

TEST_CASE("element counts and byte sizes are checked for overflow", "[reference][limits]") {
  using reference::checkedByteSize;
  using reference::checkedElementCount;
  CHECK(checkedElementCount({}) == 1);
  CHECK(checkedElementCount({2, 3, 4}) == 24);
  CHECK(checkedElementCount({3037000499, 3037000499}) == int64_t{3037000499} * 3037000499);
  CHECK_FALSE(checkedElementCount({3037000500, 3037000500}));
  CHECK_FALSE(checkedElementCount({2147483647, 2147483647, 2147483647, 2147483647}));
  CHECK_FALSE(checkedElementCount({-1, 4}));
  CHECK(checkedByteSize(reference::DType::F32, {1024, 1024}) == 4 << 20);
  CHECK_FALSE(checkedByteSize(reference::DType::I64, {int64_t{1} << 31, int64_t{1} << 31}));
  CHECK(reference::bytesText(16ull << 30) == "16.0 GiB");
  CHECK(reference::bytesText(100) == "100 bytes");
  CHECK_THROWS_AS(reference::OwnedTensor(reference::DType::I32, {int64_t{1} << 40, 1 << 30}),
                  std::length_error);
}

TEST_CASE("inputs too large to generate are errors naming the input, never allocations",
          "[reference][limits]") {
  reference::ProblemInputs inputs;
  std::string error;
  SECTION("a byte size that overflows") {
    auto program = compileSource("attention h { input t: i32[2147483647, 2147483647, 2147483647,"
                                 " 2147483647]; mask = t[0, 0, 0, 0] > 0; }");
    CHECK_FALSE(reference::makeProblemInputs(*program, *program->find(""),
                                             shapeOf(1, 1, 1, 64, 64, 64), 1, inputs, error));
    CHECK(error == "input 't' of shape [2147483647, 2147483647, 2147483647, 2147483647] (i32) is "
                   "too large: its size in bytes does not fit in 64 bits");
  }
  SECTION("past the memory limit") {
    auto program =
        compileSource("attention h { input t: f32[1048576, 4096]; mask = t[0, 0] > 0.0; }");
    CHECK_FALSE(reference::makeProblemInputs(*program, *program->find(""),
                                             shapeOf(1, 1, 1, 64, 64, 64), 1, inputs, error));
    CHECK(error.find("input 't' of shape [1048576, 4096] (f32, 16.0 GiB)") == 0);
    CHECK(error.find("memory limit of 4.0 GiB") != std::string::npos);
  }
  SECTION("an explicit limit, and Q itself") {
    auto program = compileSource("attention c { mask = causal; }");
    reference::InputOptions options;
    options.maxBytes = 4096;
    CHECK_FALSE(reference::makeProblemInputs(
        *program, *program->find(""), shapeOf(1, 1, 1, 64, 64, 64), 1, inputs, error, options));
    CHECK(error.find("Q of shape [1, 1, 64, 64] (f32, 16.0 KiB)") == 0);
    options.maxBytes = 3 * 16384;
    CHECK(reference::makeProblemInputs(*program, *program->find(""), shapeOf(1, 1, 1, 64, 64, 64),
                                       1, inputs, error, options));
  }
}

TEST_CASE("ATTNC_REFERENCE_MEMORY_LIMIT sets the reference's memory limit", "[reference][limits]") {
  struct Restore {
    ~Restore() { unsetenv("ATTNC_REFERENCE_MEMORY_LIMIT"); }
  } restore;
  CHECK(reference::referenceMemoryLimit() == reference::kDefaultReferenceMemoryLimit);
  setenv("ATTNC_REFERENCE_MEMORY_LIMIT", "12345", 1);
  CHECK(reference::referenceMemoryLimit() == 12345);
  setenv("ATTNC_REFERENCE_MEMORY_LIMIT", "3G", 1);
  CHECK(reference::referenceMemoryLimit() == 3ull << 30);
  setenv("ATTNC_REFERENCE_MEMORY_LIMIT", "64K", 1);
  CHECK(reference::referenceMemoryLimit() == 64 << 10);
  setenv("ATTNC_REFERENCE_MEMORY_LIMIT", "lots", 1);
  CHECK(reference::referenceMemoryLimit() == reference::kDefaultReferenceMemoryLimit);

  // The working memory of a run: float64 copies of Q, K and V.
  auto program = compileSource("attention c { mask = causal; }");
  auto inputs = makeInputs(*program, shapeOf(1, 2, 2, 64, 64, 32), 3);
  setenv("ATTNC_REFERENCE_MEMORY_LIMIT", "64K", 1);
  reference::ReferenceResult r;
  std::string error;
  CHECK_FALSE(reference::runReference(*program, *program->find(""), inputs.problem(), r, error));
  CHECK(error.find("the reference needs 64.0 KiB for the float64 copies of K and V") == 0);
  unsetenv("ATTNC_REFERENCE_MEMORY_LIMIT");
  CHECK(reference::runReference(*program, *program->find(""), inputs.problem(), r, error));
}

TEST_CASE("a query block longer than q_len is one unit of every query", "[reference][limits]") {
  // Sizes at the int range used to overflow the unit arithmetic.
  auto shape = shapeOf(1, 2, 2, 200, 200, 16);
  auto run = [&](const std::string &per) {
    auto program = compileSource("attention r { route { block = 32; per = " + per +
                                 "; select = top(2); always = blk == 0; } mask = causal; }");
    auto inputs = makeInputs(*program, shape, 5);
    reference::ReferenceResult r;
    std::string error;
    INFO(error);
    REQUIRE(reference::runReference(*program, *program->find(""), inputs.problem(), r, error));
    return r;
  };
  ReferenceResult head = run("head");
  for (const char *per :
       {"query_block(2147483647)", "query_block(2147483600)", "query_block(200)"}) {
    INFO(per);
    ReferenceResult block = run(per);
    CHECK(block.keptPairs == head.keptPairs);
    CHECK(block.out == head.out);
  }
  CHECK(run("query_block(100)").keptPairs != head.keptPairs);
}

TEST_CASE("the reference evaluates shared lets once", "[reference][limits]") {
  // 60 lets, each using the previous one twice: a tree walk would take 2^60 steps.
  std::string text = "attention d {\n  let a0 = q - k;\n";
  for (int i = 1; i < 60; ++i)
    text += "  let a" + std::to_string(i) + " = a" + std::to_string(i - 1) + " + a" +
            std::to_string(i - 1) + ";\n";
  // a59 = (q - k) * 2^59 wraps to 0 in int: every pair is kept.
  text += "  mask = a59 == 0 && a31 != 1;\n}\n";
  auto program = compileSource(text);
  auto inputs = makeInputs(*program, shapeOf(1, 2, 2, 64, 64, 16), 9);
  reference::ReferenceResult r;
  std::string error;
  auto start = std::chrono::steady_clock::now();
  REQUIRE(reference::runReference(*program, *program->find(""), inputs.problem(), r, error));
  CHECK(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() < 5.0);
  CHECK(r.keptPairs == 2u * 64 * 64);
}
