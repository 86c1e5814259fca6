//===- GoldenTests.cpp - Golden manifest, file format and comparison ----===//
#include "TestSupport.h"

#include "attnc/reference/Golden.h"
#include "attnc/reference/Random.h"

#include <cstdio>
#include <fstream>

using namespace attnc;
using namespace attnc::reference;

TEST_CASE("manifest lines parse, round-trip and reject malformed input", "[reference][golden]") {
  GoldenCase c;
  std::string error;
  REQUIRE(parseGoldenCase("s2.a  s2_shards 1,4,2,257,100,32 7 const:shard=8 param:w=3 dtype:bf16",
                          c, error));
  CHECK(c.name == "s2.a");
  CHECK(c.example == "s2_shards");
  CHECK(c.shape.heads == 4);
  CHECK(c.shape.kvHeads == 2);
  CHECK(c.shape.kvLen == 100);
  CHECK(c.seed == 7);
  CHECK(c.qkvType == DType::BF16);
  REQUIRE(c.consts.size() == 1);
  CHECK(c.consts[0].name == "shard");
  CHECK(c.consts[0].value == "8");
  REQUIRE(c.params.size() == 1);
  CHECK(c.params[0].second == "3");
  GoldenCase again;
  REQUIRE(parseGoldenCase(c.toLine(), again, error));
  CHECK(again.toLine() == c.toLine());

  for (const char *bad : {"x causal 1,2,2,8,8 1", "x causal 1,2,2,8,8,0 1", "x causal",
                          "x causal 1,2,2,8,8,4 -1", "x causal 1,2,2,8,8,4 1 foo",
                          "x causal 1,2,2,8,8,4 1 const:n", "x causal 1,2,2,8,8,4 1 dtype:i32"})
    CHECK_FALSE(parseGoldenCase(bad, c, error));

  std::vector<GoldenCase> cases;
  CHECK_FALSE(
      parseManifest("a causal 1,1,1,1,1,4 1\n# c\n\na causal 1,1,1,1,1,4 2\n", cases, error));
  CHECK(error.find("duplicate") != std::string::npos);
}

TEST_CASE("golden files round-trip and corruption is detected", "[reference][golden]") {
  GoldenFile g;
  g.caseLine = "t causal 1,1,1,2,3,2 5";
  g.shape = {1, 1, 1, 2, 3, 2};
  g.seed = 5;
  g.scale = 0.7071067811865476;
  g.keptPairs = 5;
  g.out = {1.0f, -2.5f, 0.0f, 3.25f};
  g.lse = {-std::numeric_limits<float>::infinity(), 1.5f};
  std::string path = "attnc_golden_roundtrip.gold", error;
  REQUIRE(writeGoldenFile(path, g, error));
  GoldenFile r;
  REQUIRE(readGoldenFile(path, r, error));
  CHECK(r.caseLine == g.caseLine);
  CHECK(r.shape.kvLen == 3);
  CHECK(r.seed == 5);
  CHECK(r.scale == g.scale);
  CHECK(r.keptPairs == 5);
  CHECK(r.out == g.out);
  CHECK(r.lse[0] == -std::numeric_limits<float>::infinity());
  // Truncated file.
  {
    std::ifstream is(path, std::ios::binary);
    std::string data((std::istreambuf_iterator<char>(is)), std::istreambuf_iterator<char>());
    std::ofstream os(path, std::ios::binary | std::ios::trunc);
    os.write(data.data(), data.size() - 1);
  }
  CHECK_FALSE(readGoldenFile(path, r, error));
  std::remove(path.c_str());
  CHECK_FALSE(readGoldenFile(path, r, error));
}

TEST_CASE("golden comparison applies atol + rtol, exact -inf, no NaN", "[reference][golden]") {
  GoldenFile g;
  g.shape = {1, 1, 1, 2, 2, 1};
  g.keptPairs = 3;
  g.out = {1.0f, 0.0f};
  g.lse = {0.5f, -std::numeric_limits<float>::infinity()};
  ReferenceResult r;
  r.shape = g.shape;
  r.keptPairs = 3;
  r.out = {1.0 + 5e-6, 0.0};
  r.lse = {0.5, -std::numeric_limits<double>::infinity()};
  GoldenTolerance tol; // atol 1e-6, rtol 1e-5: 1 + 5e-6 is within 1e-6 + 1e-5
  CHECK(compareWithGolden(r, g, tol).ok);
  r.out[0] = 1.0 + 2e-5;
  auto cmp = compareWithGolden(r, g, tol);
  CHECK_FALSE(cmp.ok);
  CHECK(cmp.firstMismatch.find("O[b=0, h=0, q=0, c=0]") != std::string::npos);
  r.out[0] = 1.0;
  r.lse[1] = -1e30; // finite where the golden row is empty
  CHECK_FALSE(compareWithGolden(r, g, tol).ok);
  r.lse[1] = -std::numeric_limits<double>::infinity();
  r.out[1] = std::nan("");
  CHECK_FALSE(compareWithGolden(r, g, tol).ok);
  r.out[1] = 0.0;
  r.keptPairs = 4;
  CHECK_FALSE(compareWithGolden(r, g, tol).ok);
}

TEST_CASE("runGoldenCase runs an example with const and param overrides", "[reference][golden]") {
  GoldenCase c;
  std::string error;
  REQUIRE(parseGoldenCase("w sliding_w1024 1,2,1,40,40,8 3 param:window=5", c, error));
  ReferenceResult viaCase;
  double scale = 0;
  REQUIRE(runGoldenCase(c, ATTNC_EXAMPLES_DIR, viaCase, scale, error));
  CHECK(scale == 1.0 / std::sqrt(8.0));
  uint64_t expected = 0;
  for (int q = 0; q < 40; ++q)
    expected += std::min(q + 1, 5);
  CHECK(viaCase.keptPairs == 2 * expected);

  REQUIRE(parseGoldenCase("w sliding_w1024 1,2,1,40,40,8 3 param:nope=5", c, error));
  CHECK_FALSE(runGoldenCase(c, ATTNC_EXAMPLES_DIR, viaCase, scale, error));
  REQUIRE(parseGoldenCase("w no_such_example 1,2,1,40,40,8 3", c, error));
  CHECK_FALSE(runGoldenCase(c, ATTNC_EXAMPLES_DIR, viaCase, scale, error));
}

TEST_CASE("backward manifest lines carry grad: inputs", "[reference][golden][backward]") {
  GoldenCase c;
  std::string error;
  REQUIRE(parseGoldenCase("g gated_causal 1,2,1,5,7,4 9 grad:gate grad:x", c, error));
  REQUIRE(c.gradInputs.size() == 2);
  CHECK(c.gradInputs[0] == "gate");
  CHECK(c.toLine() == "g gated_causal 1,2,1,5,7,4 9 grad:gate grad:x");
  for (const char *bad : {"x causal 1,2,2,8,8,4 1 grad:", "x causal 1,2,2,8,8,4 1 grad:a=1"})
    CHECK_FALSE(parseGoldenCase(bad, c, error));
}

namespace {

BackwardGoldenFile smallBackwardGolden() {
  BackwardGoldenFile g;
  g.caseLine = "t bias_causal 1,2,1,2,3,1 5 grad:bias";
  g.shape = {1, 2, 1, 2, 3, 1};
  g.seed = 5;
  g.scale = 1.0;
  g.keptPairs = 8;
  g.dq = {1.0f, -2.0f, 0.0f, 0.5f};
  g.dk = {0.25f, -0.0f, 3.0f};
  g.dv = {-1.0f, 2.0f, 1e-20f};
  g.inputs.push_back({"bias", {1, 2, 2, 3}, std::vector<float>(12, 0.125f)});
  return g;
}

std::string readBytes(const std::string &path) {
  std::ifstream is(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(is)), std::istreambuf_iterator<char>());
}

void writeBytes(const std::string &path, const std::string &data) {
  std::ofstream os(path, std::ios::binary | std::ios::trunc);
  os.write(data.data(), static_cast<std::streamsize>(data.size()));
}

} // namespace

TEST_CASE("backward golden files round-trip; corruption and truncation are detected",
          "[reference][golden][backward]") {
  BackwardGoldenFile g = smallBackwardGolden();
  std::string path = "attnc_golden_roundtrip.bgold", error;
  REQUIRE(writeBackwardGoldenFile(path, g, error));
  BackwardGoldenFile r;
  REQUIRE(readBackwardGoldenFile(path, r, error));
  CHECK(r.caseLine == g.caseLine);
  CHECK(r.shape.heads == 2);
  CHECK(r.shape.kvLen == 3);
  CHECK(r.keptPairs == 8);
  CHECK(r.dq == g.dq);
  CHECK(r.dk == g.dk);
  CHECK(r.dv == g.dv);
  REQUIRE(r.inputs.size() == 1);
  CHECK(r.inputs[0].name == "bias");
  CHECK(r.inputs[0].dims == g.inputs[0].dims);
  CHECK(r.inputs[0].values == g.inputs[0].values);

  const std::string good = readBytes(path);
  std::string flipped = good;
  flipped[good.size() / 2] ^= 0x10; // one bit of the payload
  writeBytes(path, flipped);
  CHECK_FALSE(readBackwardGoldenFile(path, r, error));
  CHECK(error.find("checksum") != std::string::npos);
  writeBytes(path, good.substr(0, good.size() - 5));
  CHECK_FALSE(readBackwardGoldenFile(path, r, error));
  writeBytes(path, std::string("ATTNCGLD") + good.substr(8)); // a forward file's magic
  CHECK_FALSE(readBackwardGoldenFile(path, r, error));
  CHECK(error.find("not an attnc backward golden") != std::string::npos);
  std::remove(path.c_str());
  CHECK_FALSE(readBackwardGoldenFile(path, r, error));

  g.inputs[0].values.pop_back(); // values do not match the dims
  CHECK_FALSE(writeBackwardGoldenFile(path, g, error));
  std::remove(path.c_str());
}

TEST_CASE("backward golden cases run the reference backward on the seeded dO",
          "[reference][golden][backward]") {
  GoldenCase c;
  std::string error;
  REQUIRE(parseGoldenCase("b bias_causal 1,2,1,9,13,8 11 grad:bias", c, error));
  ReferenceGradients grads;
  double scale = 0;
  REQUIRE(runBackwardGoldenCase(c, ATTNC_EXAMPLES_DIR, grads, scale, error));
  CHECK(scale == 1.0 / std::sqrt(8.0));
  REQUIRE(grads.input("bias") != nullptr);
  CHECK(grads.input("bias")->dims == std::vector<int64_t>{1, 2, 9, 13});

  // The same gradients from the pieces: inputs and dO from the seed.
  std::unique_ptr<dsl::Program> program =
      testing::compileFile(std::string(ATTNC_EXAMPLES_DIR) + "/bias_causal.attn");
  const dsl::AttentionDecl *attention = program->find("bias_causal");
  REQUIRE(attention != nullptr);
  ProblemInputs inputs;
  REQUIRE(makeProblemInputs(*program, *attention, c.shape, c.seed, inputs, error));
  OwnedTensor dOut = makeGoldenGradOutput(c.shape, c.seed, DType::F32);
  ReferenceGradients direct;
  REQUIRE(runReferenceBackward(*program, *attention, inputs.problem(), dOut.view(), {"bias"},
                               direct, error));
  CHECK(direct.dq == grads.dq);
  CHECK(direct.dk == grads.dk);
  CHECK(direct.inputs[0].values == grads.inputs[0].values);

  // A bf16 dO is the rounding of the float32 one.
  OwnedTensor dOutBf16 = makeGoldenGradOutput(c.shape, c.seed, DType::BF16);
  for (int64_t i = 0; i < dOut.numElements(); ++i)
    REQUIRE(dOutBf16.loadDouble(i) == bfloat16ToDouble(floatToBFloat16(float(dOut.loadDouble(i)))));

  // Comparison: equal within tolerance, then one element of dK and of the input off.
  BackwardGoldenFile g;
  g.shape = c.shape;
  g.keptPairs = grads.forward.keptPairs;
  g.dq.assign(grads.dq.begin(), grads.dq.end());
  g.dk.assign(grads.dk.begin(), grads.dk.end());
  g.dv.assign(grads.dv.begin(), grads.dv.end());
  g.inputs.push_back(
      {"bias", grads.inputs[0].dims,
       std::vector<float>(grads.inputs[0].values.begin(), grads.inputs[0].values.end())});
  GoldenTolerance tol;
  CHECK(compareWithBackwardGolden(grads, g, tol).ok);
  g.dk[13] += 1e-3f;
  GoldenComparison cmp = compareWithBackwardGolden(grads, g, tol);
  CHECK_FALSE(cmp.ok);
  CHECK(cmp.firstMismatch.find("dK[0, 0, 1, 5]") != std::string::npos);
  g.dk[13] = float(grads.dk[13]);
  g.inputs[0].values[3] = std::nanf("");
  CHECK_FALSE(compareWithBackwardGolden(grads, g, tol).ok);
  g.inputs[0].values[3] = float(grads.inputs[0].values[3]);
  g.inputs[0].name = "other";
  CHECK_FALSE(compareWithBackwardGolden(grads, g, tol).ok);
  g.inputs[0].name = "bias";
  g.keptPairs += 1;
  CHECK_FALSE(compareWithBackwardGolden(grads, g, tol).ok);

  REQUIRE(parseGoldenCase("b causal 1,2,1,9,13,8 11 grad:nope", c, error));
  CHECK_FALSE(runBackwardGoldenCase(c, ATTNC_EXAMPLES_DIR, grads, scale, error));
}

// The GPU replay (tests/runtime/GpuBackwardGoldenTests.cpp) feeds the kernels Q, K, V and dO
// rounded to bf16; this bounds what that rounding alone moves each stored gradient, relative
// to its largest magnitude, so the GPU tolerance (3e-2) keeps room for the kernels' own error.
TEST_CASE("bf16-rounded inputs stay close to every backward golden",
          "[reference][golden][backward]") {
  std::ifstream is(std::string(ATTNC_GOLDEN_DIR) + "/BACKWARD.txt");
  REQUIRE(is);
  std::string text((std::istreambuf_iterator<char>(is)), std::istreambuf_iterator<char>()), error;
  std::vector<GoldenCase> cases;
  REQUIRE(parseManifest(text, cases, error));
  REQUIRE(cases.size() > 0);
  double worstRatio = 0;
  for (GoldenCase c : cases) {
    INFO("case " << c.name);
    BackwardGoldenFile golden;
    REQUIRE(readBackwardGoldenFile(std::string(ATTNC_GOLDEN_DIR) + "/" + c.name + ".bgold", golden,
                                   error));
    c.qkvType = DType::BF16;
    ReferenceGradients grads;
    double scale = 0;
    REQUIRE(runBackwardGoldenCase(c, ATTNC_EXAMPLES_DIR, grads, scale, error));
    auto ratio = [](const std::vector<double> &got, const std::vector<float> &want) {
      double worst = 0, largest = 0;
      for (size_t i = 0; i < got.size(); ++i) {
        worst = std::max(worst, std::fabs(got[i] - want[i]));
        largest = std::max(largest, double(std::fabs(want[i])));
      }
      return worst / std::max(largest, 1e-30);
    };
    std::vector<double> ratios = {ratio(grads.dq, golden.dq), ratio(grads.dk, golden.dk),
                                  ratio(grads.dv, golden.dv)};
    REQUIRE(grads.inputs.size() == golden.inputs.size());
    for (size_t i = 0; i < grads.inputs.size(); ++i)
      ratios.push_back(ratio(grads.inputs[i].values, golden.inputs[i].values));
    for (double r : ratios) {
      CHECK(r <= 1e-2);
      worstRatio = std::max(worstRatio, r);
    }
  }
  WARN("bf16 input rounding: max |err| / max |golden| up to " << worstRatio);
}
