//===- HostClassifierTests.cpp - The host classifier is the GPU's ---------===//
//
// compiler::HostTileClassifier runs the generated attnc_classify / _factors /
// attnc_kv_ranges without a C++ compiler. Here it must agree, tile for tile, with the same
// functions compiled by the host compiler from the text NVRTC gets (HookHarness), with the
// kernels' ATTNC_KERNEL_CLASSIFIES_TILES; and the tools' tile map (tools/attnc/TileMap)
// must be sound against the reference's pair evaluation.
//
//===----------------------------------------------------------------------===//
#include "HookHarness.h"
#include "ProgramGenerator.h"
#include "TileMap.h"

#include "attnc/compiler/HostClassifier.h"
#include "attnc/reference/Random.h"

#include <catch2/catch.hpp>

#include <cstdio>
#include <random>

using namespace attnc;
using namespace attnc::test;

namespace {

CompiledProgram compileWithHost(const std::string &name, const std::string &text) {
  CompiledProgram p = compileSource(name, text);
  // compileSource generates without the host program: regenerate with it.
  compiler::CodegenOptions options;
  options.hostClassifier = true;
  std::string error;
  bool ok = compiler::generateHooks(*p.program, *p.attention, options, p.hooks, error);
  INFO(name << ": " << error);
  REQUIRE(ok);
  REQUIRE(p.hooks.hostProgram);
  return p;
}

struct Counts {
  long tiles = 0, ranges = 0, classes[3] = {0, 0, 0};
};

/// Every tile of the problem (tileQ x tileK), and the key ranges of every query tile.
void compareAllTiles(const CompiledProgram &p, const HostHookTable &gpu, const AttncArgs &a,
                     int tileQ, int tileK, Counts &counts) {
  compiler::HostTileClassifier host(p.hooks.hostProgram);
  REQUIRE(host.hasFactors() == (gpu.classifyFactors != nullptr));
  for (int b = 0; b < a.batch; ++b)
    for (int h = 0; h < a.heads; ++h)
      for (int qLo = 0; qLo < a.q_len; qLo += tileQ) {
        const int qHi = std::min(a.q_len, qLo + tileQ) - 1;
        int lo1[ATTNC_MAX_KV_RANGES] = {}, hi1[ATTNC_MAX_KV_RANGES] = {};
        int lo2[ATTNC_MAX_KV_RANGES] = {}, hi2[ATTNC_MAX_KV_RANGES] = {};
        int n1 = gpu.kvRanges(a, b, h, qLo, qHi, lo1, hi1);
        int n2 = host.kvRanges(a, b, h, qLo, qHi, lo2, hi2);
        INFO(p.name << " b " << b << " h " << h << " q [" << qLo << ", " << qHi << "]");
        REQUIRE(n1 == n2);
        for (int i = 0; i < n1; ++i) {
          REQUIRE(lo1[i] == lo2[i]);
          REQUIRE(hi1[i] == hi2[i]);
        }
        ++counts.ranges;
        host.setQueryTile(a, b, h, qLo, qHi);
        for (int kLo = 0; kLo < a.kv_len; kLo += tileK) {
          const int kHi = std::min(a.kv_len, kLo + tileK) - 1;
          INFO("k [" << kLo << ", " << kHi << "]");
          const int expected = gpu.classify(a, b, h, qLo, qHi, kLo, kHi);
          REQUIRE(host.classifyKeys(kLo, kHi) == expected);
          REQUIRE(host.classify(a, b, h, qLo, qHi, kLo, kHi) == expected);
          if (gpu.classifyFactors)
            REQUIRE(host.classifyFactors(a, b, h, qLo, qHi, kLo, kHi) ==
                    gpu.classifyFactors(a, b, h, qLo, qHi, kLo, kHi));
          ++counts.tiles;
          ++counts.classes[expected & 3];
        }
      }
}

const char *kKernelMacros = "#define ATTNC_KERNEL_CLASSIFIES_TILES 1\n";

} // namespace

TEST_CASE("host classifier equals the compiled hooks on every example", "[hostclassifier]") {
  std::vector<CompiledProgram> programs;
  for (const std::string &path : exampleFiles())
    programs.push_back(compileWithHost(path.substr(path.find_last_of('/') + 1), readFile(path)));
  REQUIRE(!programs.empty());
  std::vector<const compiler::GeneratedHooks *> hooks;
  for (const auto &p : programs)
    hooks.push_back(&p.hooks);
  HostHooks gpu;
  std::string error;
  bool built = gpu.build(hooks, error, kKernelMacros);
  INFO(error);
  REQUIRE(built);
  struct Shape {
    int batch, heads, kvHeads, qLen, kvLen;
  };
  // Odd lengths, q_len != kv_len both ways, GQA.
  const Shape shapes[] = {{2, 4, 2, 1000, 1000}, {1, 2, 2, 777, 1301}, {1, 1, 1, 1501, 129}};
  Counts counts;
  for (size_t i = 0; i < programs.size(); ++i)
    for (const Shape &s : shapes)
      for (auto [tileQ, tileK] : {std::pair{128, 64}, {128, 128}}) {
        const CompiledProgram &p = programs[i];
        AttncArgs a = makeArgs(p.hooks, s.batch, s.heads, s.kvHeads, s.qLen, s.kvLen);
        HostInputs inputs;
        inputs.bind(*p.attention, p.hooks, a, 77 + i, std::min(tileQ, tileK));
        compareAllTiles(p, gpu[i], a, tileQ, tileK, counts);
      }
  std::printf("host classifier, examples: %ld tiles (%ld empty, %ld partial, %ld full), %ld key "
              "ranges, all equal\n",
              counts.tiles, counts.classes[0], counts.classes[1], counts.classes[2], counts.ranges);
  CHECK(counts.classes[0] > 0);
  CHECK(counts.classes[1] > 0);
  CHECK(counts.classes[2] > 0);
}

TEST_CASE("host classifier equals the compiled hooks on random programs", "[hostclassifier]") {
  const int kPrograms = 24;
  ProgramGenerator gen(20261201);
  std::vector<CompiledProgram> programs;
  for (int i = 0; i < kPrograms; ++i)
    programs.push_back(compileWithHost("random" + std::to_string(i), gen.program(i)));
  std::vector<const compiler::GeneratedHooks *> hooks;
  for (const auto &p : programs)
    hooks.push_back(&p.hooks);
  HostHooks gpu;
  std::string error;
  bool built = gpu.build(hooks, error, kKernelMacros);
  INFO(error);
  REQUIRE(built);
  std::mt19937_64 rng(5);
  Counts counts;
  static const int edgeValues[] = {0, -1, 1, 5, 64, -7, 2147483647, -2147483647 - 1, 300};
  for (int i = 0; i < kPrograms; ++i) {
    const CompiledProgram &p = programs[i];
    INFO("program:\n" << p.text);
    for (int round = 0; round < 2; ++round) {
      int qLen = 1 + int(rng() % 600), kvLen = 1 + int(rng() % 600);
      int tileK = round == 0 ? 64 : 128;
      AttncArgs a = makeArgs(p.hooks, 2, 4, round == 0 ? 4 : 2, qLen, kvLen);
      a.iparam[0] = edgeValues[rng() % 9];
      HostInputs inputs;
      inputs.bind(*p.attention, p.hooks, a, 13 * i + round, std::min(128, tileK));
      compareAllTiles(p, gpu[i], a, 128, tileK, counts);
    }
  }
  std::printf("host classifier, random programs: %ld tiles (%ld empty, %ld partial, %ld full), "
              "all equal\n",
              counts.tiles, counts.classes[0], counts.classes[1], counts.classes[2]);
}

TEST_CASE("host vocabulary: every callee is a prelude function", "[hostclassifier]") {
  CompiledProgram p = compileWithHost("dense", "attention dense { mask = true; }");
  const std::string prelude = hookPreludeText(p.hooks.source);
  REQUIRE(!prelude.empty());
  for (const std::string &name : compiler::hostCalleeNames()) {
    INFO(name);
    CHECK(prelude.find(" " + name + "(") != std::string::npos);
  }
}

TEST_CASE("tile map is sound against pair evaluation", "[hostclassifier]") {
  struct Shape {
    int heads, qLen, kvLen, tileQ, tileK;
  };
  const Shape shapes[] = {{2, 300, 457, 128, 64}, {1, 333, 200, 64, 128}};
  long tiles = 0, partial = 0;
  for (const std::string &path : exampleFiles()) {
    CompiledProgram p = compileWithHost(path.substr(path.find_last_of('/') + 1), readFile(path));
    for (const Shape &s : shapes) {
      INFO(p.name << " " << s.qLen << "x" << s.kvLen << " tiles " << s.tileQ << "x" << s.tileK);
      reference::ProblemShape shape;
      shape.heads = shape.kvHeads = s.heads;
      shape.qLen = s.qLen;
      shape.kvLen = s.kvLen;
      shape.headDim = 16;
      reference::ProblemInputs inputs;
      std::string error;
      REQUIRE(reference::makeProblemInputs(*p.program, *p.attention, shape, 3, inputs, error));
      reference::ReferenceProblem problem = inputs.problem();
      tools::TileMapOptions options;
      options.tileQ = s.tileQ;
      options.tileK = s.tileK;
      options.keepClasses = true;
      options.countPartialPairs = true;
      options.progress = false;
      options.heads.clear();
      for (int h = 0; h < s.heads; ++h)
        options.heads.push_back({0, h});
      tools::TileMap map;
      bool ok =
          tools::computeTileMap(*p.program, *p.attention, p.hooks, problem, options, map, error);
      INFO(error);
      REQUIRE(ok);
      uint64_t partialKept = 0;
      for (int h = 0; h < s.heads; ++h) {
        std::vector<uint8_t> keep;
        REQUIRE(
            reference::evaluateKeepMatrix(*p.program, *p.attention, problem, 0, h, keep, error));
        for (int tq = 0; tq < map.tilesQ; ++tq)
          for (int tk = 0; tk < map.tilesK; ++tk) {
            uint64_t kept = 0, area = 0;
            for (int q = tq * s.tileQ; q < std::min(s.qLen, (tq + 1) * s.tileQ); ++q)
              for (int k = tk * s.tileK; k < std::min(s.kvLen, (tk + 1) * s.tileK); ++k, ++area)
                kept += keep[size_t(q) * s.kvLen + k];
            int cls = map.classes[h][size_t(tq) * map.tilesK + tk];
            INFO("h " << h << " tile (" << tq << ", " << tk << ") class " << cls << " kept " << kept
                      << " of " << area);
            if (cls == tools::kTileEmpty)
              REQUIRE(kept == 0);
            if (cls == tools::kTileFull)
              REQUIRE(kept == area);
            if (cls == tools::kTilePartial)
              partialKept += kept;
            ++tiles;
            partial += cls == tools::kTilePartial;
          }
      }
      CHECK(map.partialKept == partialKept);
    }
  }
  std::printf("tile map: %ld tiles sound (%ld partial)\n", tiles, partial);
}
