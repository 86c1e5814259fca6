//===- GoldenTests.cpp - Golden manifest, file format and comparison ----===//
#include "TestSupport.h"

#include "attnc/reference/Golden.h"

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
