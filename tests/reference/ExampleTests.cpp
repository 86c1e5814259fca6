//===- ExampleTests.cpp - examples/*.attn vs. patterns.md formulas -------===//
//
// Loads every example file (with -D const / param overrides where it exposes them, to
// scale it down) and compares the reference with naiveAttention() driven by the pattern's
// definition from patterns.md (or the cited paper), written directly in C++.
//
//===----------------------------------------------------------------------===//
#include "TestSupport.h"

#include <cstdlib>

using namespace attnc;
using namespace attnc::testing;

namespace {

std::string examplePath(const std::string &name) {
  return std::string(ATTNC_EXAMPLES_DIR) + "/" + name + ".attn";
}

std::unique_ptr<dsl::Program> loadExample(const std::string &name,
                                          const std::vector<dsl::ConstOverride> &d = {}) {
  auto program = compileFile(examplePath(name), d);
  REQUIRE(program->find(name) != nullptr);
  return program;
}

bool causalAt(const ProblemShape &s, int q, int k) { return q + (s.kvLen - s.qLen) >= k; }

int bitLength(int x) {
  int n = 0;
  for (unsigned u = static_cast<unsigned>(std::abs(x)); u; u >>= 1)
    ++n;
  return n;
}

double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

} // namespace

TEST_CASE("example dense and causal", "[reference][examples]") {
  auto dense = loadExample("dense");
  auto causal = loadExample("causal");
  for (auto shape : {shapeOf(1, 4, 2, 31, 47, 16), shapeOf(2, 2, 2, 47, 31, 8)}) {
    auto inputs = makeInputs(*causal, shape, 1);
    requireMatches(runChecked(*dense, inputs),
                   naiveAttention(inputs, {[](int, int, int, int) { return true; }}));
    requireMatches(
        runChecked(*causal, inputs),
        naiveAttention(inputs, {[&](int, int, int q, int k) { return causalAt(shape, q, k); }}));
  }
}

TEST_CASE("example sliding_w1024 at its default and with -P window", "[reference][examples]") {
  auto program = loadExample("sliding_w1024");
  auto inputs = makeInputs(*program, shapeOf(1, 1, 1, 1100, 1100, 4), 2);
  requireMatches(runChecked(*program, inputs), naiveAttention(inputs, {[](int, int, int q, int k) {
                                                                return q >= k && q - k < 1024;
                                                              }}));
  auto small = makeInputs(*program, shapeOf(1, 2, 2, 90, 90, 8), 3);
  requireMatches(
      runChecked(*program, small, {intParam("window", 7)}),
      naiveAttention(small, {[](int, int, int q, int k) { return q >= k && q - k < 7; }}));
}

TEST_CASE("example sink4_w1024", "[reference][examples]") {
  auto program = loadExample("sink4_w1024", {{"sinks", "3"}});
  auto inputs = makeInputs(*program, shapeOf(1, 2, 1, 90, 90, 8), 4);
  requireMatches(runChecked(*program, inputs, {intParam("window", 16)}),
                 naiveAttention(inputs, {[](int, int, int q, int k) {
                                  return q >= k && (q - k < 16 || k < 3);
                                }}));
}

TEST_CASE("example prefix_lm_2048", "[reference][examples]") {
  auto program = loadExample("prefix_lm_2048");
  auto inputs = makeInputs(*program, shapeOf(1, 2, 2, 90, 90, 8), 5);
  requireMatches(runChecked(*program, inputs, {intParam("prefix", 33)}),
                 naiveAttention(inputs, {[](int, int, int q, int k) { return k < 33 || q >= k; }}));
}

TEST_CASE("example document_causal", "[reference][examples]") {
  auto program = loadExample("document_causal");
  ProblemShape shape = shapeOf(2, 2, 1, 200, 200, 8);
  auto inputs = makeInputs(*program, shape, 6);
  const auto &doc = inputs.inputs.at(0).tensor;
  auto docAt = [&](int b, int t) { return doc.loadDouble(int64_t(b) * 200 + t); };
  requireMatches(runChecked(*program, inputs),
                 naiveAttention(inputs, {[&](int b, int, int q, int k) {
                                  return docAt(b, q) == docAt(b, k) && q >= k;
                                }}));
}

TEST_CASE("example s2_shards, scaled with -D and at its defaults", "[reference][examples]") {
  auto scaled = loadExample("s2_shards", {{"shard", "8"}, {"band", "4"}, {"stride", "4"}});
  auto inputs = makeInputs(*scaled, shapeOf(1, 4, 2, 160, 160, 8), 7);
  requireMatches(runChecked(*scaled, inputs),
                 naiveAttention(inputs, {[](int, int h, int q, int k) {
                                  int qb = q / 8, kb = k / 8;
                                  return q >= k && (qb - kb < 4 ||
                                                    (kb + 1 + h * std::max(1, 4 / 4)) % 4 == 0);
                                }}));
  auto full = loadExample("s2_shards");
  auto inputs2 = makeInputs(*full, shapeOf(1, 2, 2, 1300, 1300, 4), 8);
  auto got = runChecked(*full, inputs2);
  requireMatches(got, naiveAttention(inputs2, {[](int, int h, int q, int k) {
                                       int qb = q / 64, kb = k / 64;
                                       return q >= k &&
                                              (qb - kb < 16 ||
                                               (kb + 1 + h * std::max(1, 16 / 2)) % 16 == 0);
                                     }}));
}

TEST_CASE("examples radial_video and radial_decay (frame 16, window 4)", "[reference][examples]") {
  auto radialMask = [](int q, int k) {
    const int T = 16, W = 4;
    int fq = q / T, fk = k / T, d = std::abs(fq - fk);
    int base = T >> bitLength(d);
    int win = std::max(base, W);
    int stride = std::max(1, W / std::max(base, 1));
    return fk == 0 || d <= 1 || (std::abs(q % T - k % T) <= win && (base >= W || d % stride == 0));
  };
  std::vector<dsl::ConstOverride> scale = {{"frame", "16"}, {"min_window", "4"}};
  auto video = loadExample("radial_video", scale);
  auto inputs = makeInputs(*video, shapeOf(1, 1, 1, 600, 600, 8), 9);
  auto got = runChecked(*video, inputs);
  requireMatches(
      got, naiveAttention(inputs, {[&](int, int, int q, int k) { return radialMask(q, k); }}));

  auto decay = loadExample("radial_decay", scale);
  reference::ParamBinding decayParam;
  decayParam.name = "decay";
  decayParam.value.type = dsl::Type::Float;
  decayParam.value.f = 0.75;
  auto want = naiveAttention(inputs, {[&](int, int, int q, int k) { return radialMask(q, k); },
                                      [](int, int, int q, int k, double s) {
                                        return s - 0.75 * bitLength(std::abs(q / 16 - k / 16));
                                      }});
  requireMatches(runChecked(*decay, inputs, {decayParam}), want);
}

TEST_CASE("example natten2d_17: 18 rows of the 128x128 grid", "[reference][examples]") {
  auto program = loadExample("natten2d_17");
  auto inputs = makeInputs(*program, shapeOf(1, 1, 1, 2304, 2304, 4), 10);
  requireMatches(runChecked(*program, inputs),
                 naiveAttention(inputs, {[](int, int, int q, int k) {
                                  int cy = std::clamp(q / 128, 8, 119);
                                  int cx = std::clamp(q % 128, 8, 119);
                                  return std::abs(k / 128 - cy) <= 8 && std::abs(k % 128 - cx) <= 8;
                                }}));
}

TEST_CASE("example natten2d_gna_stride", "[reference][examples]") {
  auto program = loadExample("natten2d_gna_stride");
  auto inputs = makeInputs(*program, shapeOf(1, 1, 1, 2304, 2304, 4), 11);
  requireMatches(runChecked(*program, inputs),
                 naiveAttention(inputs, {[](int, int, int q, int k) {
                                  int y = q / 128, x = q % 128;
                                  int cy = std::clamp(y / 8 * 8 + 4, 8, 119);
                                  int cx = std::clamp(x / 8 * 8 + 4, 8, 119);
                                  return std::abs(k / 128 - cy) <= 8 && std::abs(k % 128 - cx) <= 8;
                                }}));
}

TEST_CASE("example natten3d_dilated: 3 frames of 32x32", "[reference][examples]") {
  auto program = loadExample("natten3d_dilated");
  auto inputs = makeInputs(*program, shapeOf(1, 1, 1, 3072, 3072, 2), 12);
  auto got = runChecked(*program, inputs);
  requireMatches(
      got, naiveAttention(inputs, {[](int, int, int q, int k) {
                            int qt = q / 1024, qy = q / 32 % 32, qx = q % 32;
                            int kt = k / 1024, ky = k / 32 % 32, kx = k % 32;
                            if (std::abs(kt - std::clamp(qt, 1, 14)) > 1)
                              return false;
                            if (ky % 2 != qy % 2 || kx % 2 != qx % 2)
                              return false;
                            // 16 positions per axis on each dilated sub-grid.
                            int cy = std::clamp(qy / 2, 3, 12), cx = std::clamp(qx / 2, 3, 12);
                            return std::abs(ky / 2 - cy) <= 3 && std::abs(kx / 2 - cx) <= 3;
                          }}));
  // Frames 0..2 exist: queries of frames 0 and 1 see frames 0..2, those of frame 2 see
  // frames 1..3 of which 3 is beyond kv_len; 7 x 7 keys per frame.
  CHECK(got.keptPairs == (2048u * 3u + 1024u * 2u) * 49u);
}

TEST_CASE("example moba_bs512_top3: 5 blocks of 512", "[reference][examples][route]") {
  auto program = loadExample("moba_bs512_top3");
  auto inputs = makeInputs(*program, shapeOf(1, 1, 1, 2200, 2200, 4), 13);
  NaiveRoute r;
  r.blockOf = [](int t) { return t / 512; };
  r.n = 3;
  r.always = [](int q, int blk) { return blk == q / 512; };
  r.never = [](int q, int blk) { return blk > q / 512; };
  auto sel = naiveRouting(inputs, r);
  auto got = runChecked(*program, inputs);
  requireMatches(got, naiveAttention(inputs, {[&](int b, int h, int q, int k) {
                                       return sel[b][h][q][k / 512] && q >= k;
                                     }}));
  CHECK(got.keptPairs < 2200u * 2201u / 2); // fewer than causal: routing dropped blocks
}

TEST_CASE("example vmoba_2d_threshold: 16x16 tiles, chunks of 64, mass 0.25",
          "[reference][examples][route]") {
  auto program = loadExample("vmoba_2d_threshold");
  auto inputs = makeInputs(*program, shapeOf(1, 1, 1, 2560, 2560, 8), 14);
  NaiveRoute r;
  r.blockOf = [](int t) { return (t / 128) / 16 * 8 + (t % 128) / 16; };
  r.unitSize = 64;
  r.topK = false;
  r.mass = 0.25;
  r.always = [&](int q, int blk) { return blk == r.blockOf(q); }; // the chunk's own blocks
  auto sel = naiveRouting(inputs, r);
  auto got = runChecked(*program, inputs);
  requireMatches(got, naiveAttention(inputs, {[&](int b, int h, int q, int k) {
                                       return bool(sel[b][h][q / 64][r.blockOf(k)]);
                                     }}));
  CHECK(got.keptPairs < 2560u * 2560u / 2);
}

TEST_CASE("examples softcap_causal and alibi_causal", "[reference][examples]") {
  auto softcap = loadExample("softcap_causal", {{"cap", "0.5"}});
  auto inputs = makeInputs(*softcap, shapeOf(1, 4, 2, 40, 60, 16), 15);
  const ProblemShape &s = inputs.shape;
  requireMatches(runChecked(*softcap, inputs),
                 naiveAttention(inputs, {[&](int, int, int q, int k) { return causalAt(s, q, k); },
                                         [](int, int, int, int, double x) {
                                           return 0.5 * std::tanh(x / 0.5);
                                         }}));
  auto alibi = loadExample("alibi_causal");
  requireMatches(runChecked(*alibi, inputs),
                 naiveAttention(inputs, {[&](int, int, int q, int k) { return causalAt(s, q, k); },
                                         [](int, int h, int q, int k, double x) {
                                           return x - std::pow(2.0, -8.0 * (h + 1) / 4) * (q - k);
                                         }}));
}

TEST_CASE("examples gated_causal, head_gate, forgetting_gate, bias_causal",
          "[reference][examples]") {
  ProblemShape shape = shapeOf(2, 2, 1, 30, 30, 8);
  auto causalMask = [](int, int, int q, int k) { return q >= k; };

  auto gated = loadExample("gated_causal");
  auto in1 = makeInputs(*gated, shape, 16);
  const auto &g = in1.inputs.at(0).tensor; // bf16 [b, h, q, d]
  requireMatches(
      runChecked(*gated, in1),
      naiveAttention(in1, {causalMask, nullptr, [&](int b, int h, int q, int c, double o) {
                             return o * sigmoid(at(g, b, h, q, c));
                           }}));

  auto headGate = loadExample("head_gate");
  auto in2 = makeInputs(*headGate, shape, 17);
  const auto &hg = in2.inputs.at(0).tensor;
  requireMatches(runChecked(*headGate, in2),
                 naiveAttention(in2, {causalMask, nullptr, [&](int, int h, int, int, double o) {
                                        return o * sigmoid(hg.loadDouble(h));
                                      }}));

  auto forget = loadExample("forgetting_gate");
  auto in3 = makeInputs(*forget, shape, 18);
  const auto &F = in3.inputs.at(0).tensor; // [b, h, kv_len]
  requireMatches(runChecked(*forget, in3),
                 naiveAttention(in3, {causalMask, [&](int b, int h, int q, int k, double x) {
                                        auto f = [&](int t) {
                                          return F.loadDouble((b * 2 + h) * 30 + t);
                                        };
                                        return x + f(q) - f(k);
                                      }}));

  auto bias = loadExample("bias_causal");
  auto in4 = makeInputs(*bias, shape, 19);
  const auto &B = in4.inputs.at(0).tensor; // [b, h, q, k]
  requireMatches(runChecked(*bias, in4),
                 naiveAttention(in4, {causalMask, [&](int b, int h, int q, int k, double x) {
                                        return x + B.loadDouble(((b * 2 + h) * 30 + q) * 30 + k);
                                      }}));
}

TEST_CASE("example duo_attention: retrieval heads full, streaming heads sink + window",
          "[reference][examples]") {
  auto program = loadExample("duo_attention");
  auto inputs = makeInputs(*program, shapeOf(1, 8, 4, 70, 70, 8), 20);
  const auto &retrieval = inputs.inputs.at(0).tensor;
  requireMatches(runChecked(*program, inputs, {intParam("window", 10)}),
                 naiveAttention(inputs, {[&](int, int h, int q, int k) {
                                  return q >= k &&
                                         (retrieval.loadDouble(h) != 0 || k < 4 || q - k < 10);
                                }}));
}
