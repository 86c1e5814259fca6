//===- ManifestTests.cpp - The kernel manifest: build, format, dims, routes ===//
//
// The manifest is what launches read instead of the program, so each of its parts is
// checked against what the program says: input dims against the reference's evaluation of
// the AST, the route block count against block_of over every key, the format by reading
// back every example's manifest and refusing damaged ones.
//
//===----------------------------------------------------------------------===//
#include "TestUtil.h"

#include "attnc/compiler/Codegen.h"
#include "attnc/dsl/Diagnostics.h"
#include "attnc/dsl/Frontend.h"
#include "attnc/dsl/IntSemantics.h"
#include "attnc/reference/Reference.h"
#include "attnc/runtime/KernelManifest.h"
#include "attnc/runtime/ManifestBuilder.h"
#include "attnc/runtime/RoutePlan.h"
#include "attnc/runtime/Runtime.h"

#include <catch2/catch.hpp>

#include <filesystem>
#include <random>

using namespace attnc;
using namespace attnc::runtime;
namespace fs = std::filesystem;

namespace {

struct Checked {
  std::unique_ptr<dsl::SourceFile> source;
  std::unique_ptr<dsl::Program> program;
  compiler::GeneratedHooks hooks;
  KernelManifest manifest;
};

/// Parses, checks, generates and builds the manifest of the program's only attention.
Checked build(const std::string &text, const std::string &name = "test.attn") {
  Checked c;
  c.source = std::make_unique<dsl::SourceFile>(name, text);
  dsl::DiagnosticEngine diags(c.source.get());
  c.program = dsl::parseAndCheck(*c.source, diags);
  REQUIRE(c.program);
  const dsl::AttentionDecl &attention = c.program->attentions.at(0);
  std::string error;
  REQUIRE(compiler::generateHooks(*c.program, attention, {}, c.hooks, error));
  INFO(error);
  REQUIRE(
      buildKernelManifest(*c.program, attention, &c.hooks, "sm_80", true, 128, c.manifest, error));
  KernelConfig config;
  config.arch = "sm_80";
  c.manifest.tile = tilePolicyFor(config);
  return c;
}

} // namespace

TEST_CASE("every example's manifest reads back equal", "[manifest]") {
  int examples = 0;
  for (const auto &file : fs::directory_iterator(test::examplesDirectory())) {
    if (file.path().extension() != ".attn")
      continue;
    ++examples;
    INFO(file.path());
    Checked c = build(test::readFile(file.path().string()), file.path().string());
    const std::string text = c.manifest.serialize();
    KernelManifest reread;
    std::string error;
    REQUIRE(KernelManifest::parse(text, reread, error));
    CHECK(reread.serialize() == text);
    CHECK(reread.attention == c.program->attentions[0].name);
    CHECK(reread.params.size() == c.program->attentions[0].params.size());
    CHECK(reread.inputs.size() == c.program->attentions[0].inputs.size());
    CHECK(reread.route.present == bool(c.program->attentions[0].route));
    for (size_t i = 0; i < reread.inputs.size(); ++i)
      CHECK(reread.inputs[i].summarized == c.hooks.inputs[i].summarized);
  }
  CHECK(examples >= 20);
}

TEST_CASE("input dims evaluate as the reference evaluates them", "[manifest]") {
  // Every kind of node an input dimension may hold: shapes, consts of each type, layout
  // axis sizes, int and float arithmetic, comparisons, select, the functions, wrapping.
  const std::string source = R"(
layout g = grid(t: 3, y: 5);
attention dims over g {
  const half = 0.5;
  const big = 2147483647;
  const on = true;
  input ia: f32[batch, heads, q_len, d];
  input ib: i32[kv_len / 7 + kv_heads, int(float(q_len) * half) + 1, g.y * g.t, 1 + big + big + 3];
  input ic: u8[select(on && q_len > kv_len, q_len - kv_len, kv_len % 13 + 1), max(min(q_len, 5), 2), clamp(-q_len, 1, 9), bit_length(kv_len)];
  input ie: bf16[int(sqrt(float(kv_len))) + int(floor(exp2(2.0)) + log2(8.0)) + abs(-3), int(exp(0.0) + tanh(0.0) + sigmoid(0.0) * 2.0 + log(1.0)), (q_len << 1) >> 1 & 255 | 1 ^ 0, ~(-q_len - 1) - q_len + 1];
  mask = causal;
}
)";
  Checked c = build(source);
  const dsl::AttentionDecl &attention = c.program->attentions[0];
  KernelManifest manifest;
  std::string error;
  REQUIRE(KernelManifest::parse(c.manifest.serialize(), manifest, error));
  for (int qLen : {1, 7, 64, 1000, 4097})
    for (int kvLen : {1, 13, 100, 65536}) {
      INFO("q_len " << qLen << ", kv_len " << kvLen);
      ManifestShape shape{2, 8, 4, qLen, kvLen, 64};
      reference::ProblemShape problem;
      problem.batch = 2;
      problem.heads = 8;
      problem.kvHeads = 4;
      problem.qLen = qLen;
      problem.kvLen = kvLen;
      problem.headDim = 64;
      std::vector<std::vector<int64_t>> fromManifest, fromReference;
      std::string manifestError, referenceError;
      const bool ok = evaluateInputDims(manifest, shape, fromManifest, manifestError);
      const bool expected = reference::evaluateInputDims(*c.program, attention, problem,
                                                         fromReference, referenceError);
      REQUIRE(ok == expected);
      CHECK(manifestError == referenceError);
      if (ok)
        CHECK(fromManifest == fromReference);
    }
}

TEST_CASE("a non-positive input dim is named as the reference names it", "[manifest]") {
  Checked c = build("attention a { input t: i32[q_len - kv_len]; mask = t[0] > 0; }");
  std::vector<std::vector<int64_t>> dims;
  std::string error;
  CHECK_FALSE(evaluateInputDims(c.manifest, ManifestShape{1, 1, 1, 4, 9, 64}, dims, error));
  CHECK(error == "input 't' has a dimension of size -5 at this shape");
  CHECK(evaluateInputDims(c.manifest, ManifestShape{1, 1, 1, 9, 4, 64}, dims, error));
  CHECK(dims == std::vector<std::vector<int64_t>>{{5}});
}

TEST_CASE("the route block count is 1 + the largest block_of over the keys", "[manifest]") {
  namespace sem = dsl::semantics;
  std::mt19937 random(23);
  for (int trial = 0; trial < 400; ++trial) {
    RouteGeometry route;
    route.present = true;
    const int axes = int(random() % 4); // 0: 1-D blocks
    if (axes == 0) {
      route.block = {int64_t(1 + random() % 700)};
    } else {
      for (int i = 0; i < axes; ++i) {
        route.grid.push_back(int64_t(1 + random() % 19));
        route.block.push_back(int64_t(1 + random() % 7));
      }
    }
    int64_t gridTokens = 1;
    for (int64_t n : route.grid)
      gridTokens *= n;
    const int kvLen = int(random() % (3 * gridTokens + 900));
    // block_of as the language defines it (row-major coordinates, axis 0 unwrapped).
    int32_t largest = 0;
    for (int32_t t = 0; t < kvLen; ++t) {
      int32_t block = 0;
      if (route.grid.empty()) {
        block = sem::intDiv(t, int32_t(route.block[0]));
      } else {
        for (size_t i = 0; i < route.grid.size(); ++i) {
          int32_t inner = 1;
          for (size_t j = i + 1; j < route.grid.size(); ++j)
            inner *= int32_t(route.grid[j]);
          int32_t coordinate = sem::intDiv(t, inner);
          if (i > 0)
            coordinate = sem::intRem(coordinate, int32_t(route.grid[i]));
          const int32_t bc = sem::intDiv(coordinate, int32_t(route.block[i]));
          const int32_t count = int32_t((route.grid[i] + route.block[i] - 1) / route.block[i]);
          block = i == 0 ? bc : block * count + bc;
        }
      }
      largest = std::max(largest, block);
    }
    INFO("trial " << trial << ", kv_len " << kvLen);
    CHECK(routeNumBlocks(route, kvLen) == largest + 1);
  }
}

TEST_CASE("the route plan reads the manifest's geometry", "[manifest]") {
  Checked c = build(test::readFile(test::examplesDirectory() + "/moba_bs512_top3.attn"));
  RoutePlan plan = planRoute(c.manifest.route, 1000, 2049);
  CHECK(plan.numBlocks == 5);
  CHECK(plan.words == 1);
  CHECK(plan.units == 1000);
  Checked video = build(test::readFile(test::examplesDirectory() + "/vmoba_2d_threshold.attn"));
  CHECK_FALSE(video.manifest.route.grid.empty());
  CHECK(planRoute(video.manifest.route, 64, 64).numBlocks >= 1);
  CHECK(planRoute(RouteGeometry(), 64, 64).numBlocks == 0);
}

TEST_CASE("a damaged manifest is refused, never misread", "[manifest]") {
  Checked c = build(test::readFile(test::examplesDirectory() + "/document_causal.attn"));
  const std::string text = c.manifest.serialize();
  KernelManifest out;
  std::string error;
  // Every proper prefix is refused.
  for (size_t n = 0; n < text.size(); ++n)
    CHECK_FALSE(KernelManifest::parse(text.substr(0, n), out, error));
  // A changed byte is refused or reads back as a manifest that writes itself out the same
  // (it then says something else, which the entry's checksum and the key catch).
  std::mt19937 random(4);
  for (int trial = 0; trial < 2000; ++trial) {
    std::string damaged = text;
    damaged[random() % damaged.size()] = char(random() % 256);
    if (KernelManifest::parse(damaged, out, error))
      CHECK(out.serialize() == damaged);
  }
  CHECK_FALSE(KernelManifest::parse(text + text, out, error));
  CHECK_FALSE(
      KernelManifest::parse(std::string(KernelManifest::kMaxManifestBytes + 1, 'x'), out, error));
  CHECK(error.find("larger than") != std::string::npos);
}

TEST_CASE("a kernel's manifest comes back from the disk cache", "[manifest]") {
  test::TempDir dir;
  const std::string source = "attention w { param window: int = 64; input doc: i32[batch, kv_len]; "
                             "mask = causal && q - k < window && doc[b, q] == doc[b, k]; }";
  CompileOptions options;
  options.arch = "sm_80";
  options.tiering = CompileOptions::Tiering::Off;
  std::string compiled;
  for (int process = 0; process < 2; ++process) {
    ContextOptions contextOptions;
    contextOptions.cacheDirectory = dir.path();
    Context context(contextOptions);
    std::shared_ptr<Kernel> kernel;
    std::string diagnostics;
    Status status = context.compile(source, "w.attn", options, kernel, diagnostics);
    if (status.code() == StatusCode::CompileError &&
        status.message().find("NVRTC") != std::string::npos) {
      SUCCEED("skipped: NVRTC is not usable here: " << status.message());
      return;
    }
    INFO(status.message());
    REQUIRE(status.ok());
    const KernelManifest &manifest = kernel->manifest();
    CHECK(manifest.attention == "w");
    CHECK(manifest.tile.forwardEntry == "attnc_forward_sm80_d128_bf16");
    REQUIRE(manifest.inputs.size() == 1);
    CHECK(manifest.inputs[0].summarized);
    if (process == 0)
      compiled = manifest.serialize();
    else
      CHECK(manifest.serialize() == compiled);
    CHECK(context.cache().stats().diskHits == uint64_t(process));
  }
}

TEST_CASE("programs that differ only in what the launch checks get their own entries",
          "[manifest]") {
  // Same CUDA source, another param default: the manifest is part of the key.
  CompileOptions options;
  options.arch = "sm_80";
  options.tiering = CompileOptions::Tiering::Off;
  Context context(ContextOptions{std::string()});
  std::shared_ptr<Kernel> first, second;
  std::string diagnostics;
  Status a = context.compile(
      "attention p { param w: int = 8; input t: i32[batch, kv_len]; mask = q - k < w && t[b, q] "
      "> 0; }",
      "p.attn", options, first, diagnostics);
  if (!a.ok() && a.message().find("NVRTC") != std::string::npos) {
    SUCCEED("skipped: NVRTC is not usable here: " << a.message());
    return;
  }
  REQUIRE(a.ok());
  REQUIRE(context
              .compile("attention p { param w: int = 16; input t: i32[batch, kv_len]; mask = q - "
                       "k < w && t[b, q] > 0; }",
                       "p.attn", options, second, diagnostics)
              .ok());
  CHECK(first->cudaSource() == second->cudaSource());
  CHECK(first->cacheKey() != second->cacheKey());
  CHECK(first->manifest().params[0].defaultValue->i == 8);
  CHECK(second->manifest().params[0].defaultValue->i == 16);
}
