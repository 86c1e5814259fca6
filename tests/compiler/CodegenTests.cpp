//===- CodegenTests.cpp - generateHooks: metadata, exact cases, timing -----===//
#include "HookHarness.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>

using namespace attnc;
using namespace attnc::test;

namespace {

CompiledProgram compileExample(const std::string &name) {
  return compileSource(name + ".attn",
                       readFile(std::string(ATTNC_EXAMPLES_DIR) + "/" + name + ".attn"));
}

} // namespace

TEST_CASE("hook metadata follows the program", "[codegen]") {
  CompiledProgram dense = compileExample("dense");
  CHECK(dense.hooks.maskAlwaysTrue);
  CHECK_FALSE(dense.hooks.hasScore);
  CHECK_FALSE(dense.hooks.hasOut);
  CHECK_FALSE(dense.hooks.hasKvBounds);
  CHECK(dense.hooks.source.find("static constexpr bool kMaskAlwaysTrue = true;") !=
        std::string::npos);

  CompiledProgram causal = compileExample("causal");
  CHECK_FALSE(causal.hooks.maskAlwaysTrue);
  CHECK(causal.hooks.hasKvBounds);

  // The per-element comparisons the sm90 template weighs against Q in registers.
  CHECK(dense.hooks.maskComparisons == 0);
  CHECK(causal.hooks.maskComparisons == 1);
  CHECK(compileExample("sliding_w1024").hooks.maskComparisons == 2);
  CHECK(compileExample("sink4_w1024").hooks.maskComparisons == 3);
  CHECK(causal.hooks.source.find("static constexpr int kMaskComparisons = 1;\n") !=
        std::string::npos);

  CompiledProgram doc = compileExample("document_causal");
  REQUIRE(doc.hooks.inputs.size() == 1);
  CHECK(doc.hooks.inputs[0].summarized);
  CHECK(doc.hooks.source.find("static constexpr bool kHasSummaries = true;") != std::string::npos);

  // doc[b, k] reads at a coordinate without a clamp: the kernels keep the hooks' coordinates
  // inside the problem. Masks without inputs (and reads only in `out`) need not.
  CHECK(doc.hooks.coordinateReads);
  CHECK(doc.hooks.source.find("static constexpr bool kCoordinateReads = true;\n") !=
        std::string::npos);
  CHECK(doc.hooks.source.find("attnc_read_i32_2<3>(") != std::string::npos);
  CHECK_FALSE(causal.hooks.coordinateReads);
  CHECK(causal.hooks.source.find("static constexpr bool kCoordinateReads = false;\n") !=
        std::string::npos);
  CHECK_FALSE(compileExample("gated_causal").hooks.coordinateReads);

  // `causal && doc[b, q] == doc[b, k]` splits into an index and a data factor, and a
  // conjunction that reads no input into its first conjunct and the rest; a single conjunct
  // does not (nor a disjunction, factor-mask-unsplit.attn).
  CHECK(doc.hooks.maskFactors);
  CHECK(doc.hooks.source.find("static constexpr bool kMaskFactors = true;\n") != std::string::npos);
  CHECK(doc.hooks.source.find(" attnc_mask_index(") != std::string::npos);
  CHECK(doc.hooks.source.find(" attnc_mask_data(") != std::string::npos);
  CHECK(doc.hooks.source.find(" attnc_classify_factors(") != std::string::npos);
  // The variant forwards to the factors (the sm90 template calls V::maskIndex, ...).
  CHECK(doc.hooks.source.find(" maskIndex(") != std::string::npos);
  CHECK(doc.hooks.source.find(" classifyFactors(") != std::string::npos);
  CHECK_FALSE(causal.hooks.maskFactors);
  CHECK(causal.hooks.source.find("static constexpr bool kMaskFactors = false;\n") !=
        std::string::npos);
  CHECK(causal.hooks.source.find("attnc_mask_index") == std::string::npos);
  CHECK(compileExample("sliding_w1024").hooks.maskFactors);
  CHECK(compileExample("natten2d_17").hooks.maskFactors);
  CHECK_FALSE(compileExample("prefix_lm_2048").hooks.maskFactors);

  CHECK(compileExample("softcap_causal").hooks.hasScore);
  CompiledProgram gated = compileExample("gated_causal");
  CHECK(gated.hooks.hasOut);
  REQUIRE(gated.hooks.inputs.size() == 1);
  CHECK_FALSE(gated.hooks.inputs[0].summarized); // read in `out`, not in the mask
  CHECK(compileExample("moba_bs512_top3").hooks.hasRoute);

  CompiledProgram sliding = compileExample("sliding_w1024");
  for (const char *signature :
       {"bool attnc_mask(const AttncArgs &", "float attnc_score(const AttncArgs &",
        "float attnc_out(const AttncArgs &", "int32_t attnc_classify(const AttncArgs &",
        "int32_t attnc_kv_ranges(const AttncArgs &"})
    CHECK(sliding.hooks.source.find(std::string("static __device__ __forceinline__ ") +
                                    signature) != std::string::npos);
  CHECK(sliding.hooks.source.find("bool attnc_mask(const AttncArgs &") != std::string::npos);
}

TEST_CASE("exact classification and key ranges of the basic patterns", "[codegen]") {
  std::vector<CompiledProgram> programs;
  for (const char *name : {"causal", "sliding_w1024", "sink4_w1024", "prefix_lm_2048"})
    programs.push_back(compileExample(name));
  std::vector<const compiler::GeneratedHooks *> hooks;
  for (const auto &p : programs)
    hooks.push_back(&p.hooks);
  HostHooks host;
  std::string error;
  bool built = host.build(hooks, error);
  INFO(error);
  REQUIRE(built);
  const int N = 16384;
  int lo[ATTNC_MAX_KV_RANGES], hi[ATTNC_MAX_KV_RANGES];

  // causal: q >= k.
  AttncArgs a = makeArgs(programs[0].hooks, 2, 16, 16, N, N);
  CHECK(host[0].classify(a, 0, 0, 0, 127, 128, 191) == ATTNC_TILE_EMPTY);
  CHECK(host[0].classify(a, 0, 0, 128, 255, 0, 63) == ATTNC_TILE_FULL);
  CHECK(host[0].classify(a, 0, 0, 128, 255, 128, 191) == ATTNC_TILE_PARTIAL);
  REQUIRE(host[0].kvRanges(a, 0, 0, 256, 383, lo, hi) == 1);
  CHECK(lo[0] == 0);
  CHECK(hi[0] == 384);
  // Bottom-right alignment: q_len 100, kv_len 1000 -> q + 900 >= k.
  AttncArgs shortQ = makeArgs(programs[0].hooks, 1, 1, 1, 100, 1000);
  REQUIRE(host[0].kvRanges(shortQ, 0, 0, 0, 9, lo, hi) == 1);
  CHECK(hi[0] == 910);
  CHECK(host[0].classify(shortQ, 0, 0, 0, 9, 0, 899) == ATTNC_TILE_FULL);

  // sliding window 1024.
  a = makeArgs(programs[1].hooks, 2, 16, 16, N, N);
  REQUIRE(host[1].kvRanges(a, 0, 0, 4096, 4223, lo, hi) == 1);
  CHECK(lo[0] == 4096 - 1023);
  CHECK(hi[0] == 4224);
  CHECK(host[1].classify(a, 0, 0, 4096, 4223, 2048, 2111) == ATTNC_TILE_EMPTY);
  CHECK(host[1].classify(a, 0, 0, 4096, 4223, 3200, 3263) == ATTNC_TILE_FULL);

  // sinks: a second interval [0, 4).
  a = makeArgs(programs[2].hooks, 2, 16, 16, N, N);
  REQUIRE(host[2].kvRanges(a, 0, 0, 4096, 4223, lo, hi) == 2);
  CHECK(lo[0] == 0);
  CHECK(hi[0] == 4);
  CHECK(lo[1] == 4096 - 1023);
  CHECK(hi[1] == 4224);

  // prefix LM: k < 2048 || causal -> one interval [0, q_hi + 1).
  a = makeArgs(programs[3].hooks, 2, 16, 16, N, N);
  REQUIRE(host[3].kvRanges(a, 0, 0, 0, 127, lo, hi) == 1);
  CHECK(hi[0] == 2048);
  CHECK(host[3].classify(a, 0, 0, 0, 127, 1024, 1087) == ATTNC_TILE_FULL);
}

TEST_CASE("source to CUDA text takes under 50 ms per example", "[codegen][timing]") {
  for (const std::string &path : exampleFiles()) {
    std::string name = path.substr(path.find_last_of('/') + 1);
    std::string text = readFile(path);
    std::vector<double> ms;
    for (int run = 0; run < 5; ++run) {
      auto start = std::chrono::steady_clock::now();
      dsl::SourceFile file(name, text);
      dsl::DiagnosticEngine diags(&file);
      auto program = dsl::parseAndCheck(file, diags);
      REQUIRE(program);
      compiler::GeneratedHooks hooks;
      std::string error;
      REQUIRE(compiler::generateHooks(*program, *program->find(""), {}, hooks, error));
      ms.push_back(
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
              .count());
    }
    std::sort(ms.begin(), ms.end());
    std::printf("compile-time %-24s median %.2f ms (min %.2f, max %.2f)\n", name.c_str(), ms[2],
                ms[0], ms[4]);
    CHECK(ms[2] < 50.0);
  }
}
