//===- PatternTests.cpp - Reference vs. hand-written patterns.md formulas ===//
//
// Each test writes a pattern in the language (scaled down with consts/params), runs the
// reference, and compares with naiveAttention() whose mask is the patterns.md formula
// written directly in C++.
//
//===----------------------------------------------------------------------===//
#include "TestSupport.h"

#include <algorithm>
#include <cstdlib>

using namespace attnc;
using namespace attnc::testing;

namespace {

int bitLength(int x) {
  int n = 0;
  for (unsigned u = static_cast<unsigned>(std::abs(x)); u; u >>= 1)
    ++n;
  return n;
}

} // namespace

TEST_CASE("causal matches q >= k, GQA and q_len != kv_len (bottom-right)", "[reference]") {
  auto program = compileSource("attention causal { mask = causal; }");
  for (auto shape : {shapeOf(2, 4, 2, 37, 37, 16), shapeOf(1, 4, 1, 13, 40, 8),
                     shapeOf(1, 2, 2, 1, 29, 32), shapeOf(1, 2, 2, 40, 13, 8)}) {
    auto inputs = makeInputs(*program, shape, 7);
    int offset = shape.kvLen - shape.qLen;
    auto want = naiveAttention(inputs, {[&](int, int, int q, int k) { return q + offset >= k; }});
    requireMatches(runChecked(*program, inputs), want);
  }
}

TEST_CASE("sliding window with param override", "[reference]") {
  auto program = compileSource(
      "attention sliding { param window: int = 1024; mask = causal && q - k < window; }");
  auto inputs = makeInputs(*program, shapeOf(1, 2, 2, 97, 97, 16), 3);
  for (int window : {1, 17, 64, 1024}) {
    auto want =
        naiveAttention(inputs, {[&](int, int, int q, int k) { return q >= k && q - k < window; }});
    requireMatches(runChecked(*program, inputs, {intParam("window", window)}), want);
  }
}

TEST_CASE("attention sinks plus window", "[reference]") {
  auto program = compileSource("attention sink { const sinks = 4; param window: int = 1024;"
                               " mask = q >= k && (q - k < window || k < sinks); }",
                               {{"sinks", "3"}});
  auto inputs = makeInputs(*program, shapeOf(1, 2, 1, 80, 80, 16), 11);
  auto want = naiveAttention(
      inputs, {[](int, int, int q, int k) { return q >= k && (q - k < 20 || k < 3); }});
  requireMatches(runChecked(*program, inputs, {intParam("window", 20)}), want);
}

TEST_CASE("prefix LM", "[reference]") {
  auto program = compileSource(
      "attention prefix_lm { param prefix: int = 2048; mask = k < prefix || q >= k; }");
  auto inputs = makeInputs(*program, shapeOf(1, 2, 2, 70, 70, 16), 5);
  auto want = naiveAttention(inputs, {[](int, int, int q, int k) { return k < 25 || q >= k; }});
  requireMatches(runChecked(*program, inputs, {intParam("prefix", 25)}), want);
}

TEST_CASE("document causal with generated document ids", "[reference]") {
  auto program = compileSource("attention docs { input doc: i32[batch, q_len];"
                               " mask = doc[b, q] == doc[b, k] && q >= k; }");
  auto inputs = makeInputs(*program, shapeOf(2, 2, 2, 150, 150, 16), 9);
  const auto &doc = inputs.inputs.at(0).tensor;
  auto docAt = [&](int b, int t) { return doc.loadDouble(int64_t(b) * 150 + t); };
  // The generator must produce several monotone segments, different per batch.
  int segments = 0;
  for (int t = 1; t < 150; ++t) {
    REQUIRE(docAt(0, t) >= docAt(0, t - 1));
    segments += docAt(0, t) != docAt(0, t - 1);
  }
  CHECK(segments >= 3);
  auto want = naiveAttention(
      inputs, {[&](int b, int, int q, int k) { return docAt(b, q) == docAt(b, k) && q >= k; }});
  requireMatches(runChecked(*program, inputs), want);
}

TEST_CASE("S2 strided shards (scaled: blocks of 8, band 4, 4 shards)", "[reference]") {
  auto program = compileSource(R"(
attention s2 {
  const block = 64; const band = 16; const shards = 16;
  let qb = q / block;
  let kb = k / block;
  mask = q >= k && (qb - kb < band || (kb + 1 + h * max(1, shards / heads)) % shards == 0);
})",
                               {{"block", "8"}, {"band", "4"}, {"shards", "4"}});
  auto inputs = makeInputs(*program, shapeOf(1, 4, 4, 200, 200, 8), 21);
  auto want =
      naiveAttention(inputs, {[](int, int h, int q, int k) {
                       int qb = q / 8, kb = k / 8;
                       return q >= k && (qb - kb < 4 || (kb + 1 + h * std::max(1, 4 / 4)) % 4 == 0);
                     }});
  requireMatches(runChecked(*program, inputs), want);
}

TEST_CASE("radial video (frame 16, window 4)", "[reference]") {
  auto program = compileSource(R"(
attention radial {
  const T = 1024; const w = 128;
  let ft = q / T;
  let fk = k / T;
  let dist = abs(ft - fk);
  let base = T >> bit_length(dist);
  let win = max(base, w);
  let stride = max(1, w / max(base, 1));
  mask = fk == 0 || dist <= 1 || (abs(q % T - k % T) <= win && (base >= w || dist % stride == 0));
})",
                               {{"T", "16"}, {"w", "4"}});
  // 40 frames: distances up to 39 reach base = 0 (g = 6), exercising every branch.
  auto inputs = makeInputs(*program, shapeOf(1, 1, 1, 640, 640, 8), 2);
  auto want =
      naiveAttention(inputs, {[](int, int, int q, int k) {
                       const int T = 16, W = 4;
                       int ft = q / T, fk = k / T, d = std::abs(ft - fk);
                       int base = T >> bitLength(d);
                       int win = std::max(base, W);
                       int stride = std::max(1, W / std::max(base, 1));
                       return fk == 0 || d <= 1 ||
                              (std::abs(q % T - k % T) <= win && (base >= W || d % stride == 0));
                     }});
  auto got = runChecked(*program, inputs);
  requireMatches(got, want);
  double density = double(got.keptPairs) / (640.0 * 640.0);
  CHECK(density > 0.05);
  CHECK(density < 0.6);
}

TEST_CASE("2-D neighborhood attention on a 16x16 grid, kernel 5", "[reference]") {
  auto program = compileSource(R"(
layout image = grid(y: 16, x: 16);
attention natten over image {
  const r = 2;
  mask = abs(k.y - clamp(q.y, r, image.y - 1 - r)) <= r
      && abs(k.x - clamp(q.x, r, image.x - 1 - r)) <= r;
})");
  auto inputs = makeInputs(*program, shapeOf(1, 2, 2, 256, 256, 8), 4);
  auto want = naiveAttention(inputs, {[](int, int, int q, int k) {
                               int cy = std::clamp(q / 16, 2, 13), cx = std::clamp(q % 16, 2, 13);
                               return std::abs(k / 16 - cy) <= 2 && std::abs(k % 16 - cx) <= 2;
                             }});
  auto got = runChecked(*program, inputs);
  requireMatches(got, want);
  CHECK(got.keptPairs == 2u * 256u * 25u); // every query sees exactly 5x5 keys
}

TEST_CASE("ALiBi and softcap score modifiers", "[reference]") {
  auto alibi =
      compileSource("attention alibi { mask = causal;"
                    " score = score - exp2(-8.0 * float(h + 1) / float(heads)) * float(q - k); }");
  auto inputs = makeInputs(*alibi, shapeOf(1, 4, 2, 50, 50, 16), 8);
  auto want = naiveAttention(inputs, {[](int, int, int q, int k) { return q >= k; },
                                      [](int, int h, int q, int k, double s) {
                                        return s - std::pow(2.0, -8.0 * (h + 1) / 4.0) * (q - k);
                                      }});
  requireMatches(runChecked(*alibi, inputs), want);

  auto softcap = compileSource(
      "attention softcap { const cap = 30.0; mask = causal; score = cap * tanh(score / cap); }",
      {{"cap", "0.75"}});
  auto want2 = naiveAttention(
      inputs,
      {[](int, int, int q, int k) { return q >= k; },
       [](int, int, int, int, double s) { return 0.75 * std::tanh(s / 0.75); }, nullptr, 0.5});
  reference::ReferenceProblem problem = inputs.problem();
  problem.scale = 0.5;
  reference::ReferenceResult got;
  std::string error;
  REQUIRE(reference::runReference(*softcap, *softcap->find(""), problem, got, error));
  requireMatches(got, want2);
}

TEST_CASE("gated output epilogue and per-head scalar gate", "[reference]") {
  auto gated = compileSource("attention gated { input gate: f32[batch, heads, q_len, d];"
                             " mask = causal; out = out * sigmoid(gate[b, h, q, :]); }");
  auto inputs = makeInputs(*gated, shapeOf(2, 2, 1, 33, 33, 8), 12);
  const auto &gate = inputs.inputs.at(0).tensor;
  auto want = naiveAttention(inputs, {[](int, int, int q, int k) { return q >= k; }, nullptr,
                                      [&](int b, int h, int q, int c, double o) {
                                        return o / (1 + std::exp(-at(gate, b, h, q, c)));
                                      }});
  requireMatches(runChecked(*gated, inputs), want);

  auto headGate = compileSource("attention head_gate { input g: f32[heads];"
                                " out = out * sigmoid(g[h]) + float(c) * 0.0; }");
  auto inputs2 = makeInputs(*headGate, shapeOf(1, 3, 3, 9, 9, 4), 13);
  const auto &g = inputs2.inputs.at(0).tensor;
  auto want2 = naiveAttention(inputs2, {[](int, int, int, int) { return true; }, nullptr,
                                        [&](int, int h, int, int, double o) {
                                          return o / (1 + std::exp(-g.loadDouble(h)));
                                        }});
  requireMatches(runChecked(*headGate, inputs2), want2);
}

TEST_CASE("forgetting gate and additive bias tensors", "[reference]") {
  auto program =
      compileSource("attention fg { input f: f32[batch, heads, kv_len];"
                    " input bias: bf16[heads, q_len, kv_len];"
                    " mask = causal; score = score + f[b, h, q] - f[b, h, k] + bias[h, q, k]; }");
  auto inputs = makeInputs(*program, shapeOf(1, 2, 2, 30, 30, 8), 14);
  const auto &f = inputs.inputs.at(0).tensor;
  const auto &bias = inputs.inputs.at(1).tensor;
  REQUIRE(bias.dtype == reference::DType::BF16);
  auto want = naiveAttention(inputs, {[](int, int, int q, int k) { return q >= k; },
                                      [&](int, int h, int q, int k, double s) {
                                        return s + f.loadDouble(h * 30 + q) -
                                               f.loadDouble(h * 30 + k) +
                                               bias.loadDouble((h * 30 + q) * 30 + k);
                                      }});
  requireMatches(runChecked(*program, inputs), want);
}

TEST_CASE("DuoAttention-style per-head pattern from a flag tensor", "[reference]") {
  auto program = compileSource("attention duo { input full: u8[heads]; const sinks = 2;"
                               " param window: int = 8;"
                               " mask = causal && (full[h] || q - k < window || k < sinks); }");
  auto inputs = makeInputs(*program, shapeOf(1, 8, 8, 40, 40, 4), 15);
  const auto &full = inputs.inputs.at(0).tensor;
  int fullHeads = 0;
  for (int h = 0; h < 8; ++h)
    fullHeads += full.loadDouble(h) != 0;
  CHECK(fullHeads > 0);
  CHECK(fullHeads < 8);
  auto want = naiveAttention(inputs, {[&](int, int h, int q, int k) {
                               return q >= k && (full.loadDouble(h) != 0 || q - k < 8 || k < 2);
                             }});
  requireMatches(runChecked(*program, inputs), want);
}

//===----------------------------------------------------------------------===//
// Block routing: an independent naive router
//===----------------------------------------------------------------------===//

TEST_CASE("MoBA: 1-D blocks, per token top(n), own block forced, later blocks forbidden",
          "[reference][route]") {
  const char *source = R"(
attention moba {
  const bs = 512;
  const n = 3;
  mask = causal;
  route {
    block = bs;
    select = top(n);
    always = blk == block_of(q);
    never = blk > block_of(q);
  }
})";
  for (int n : {1, 3, 5}) {
    auto program = compileSource(source, {{"bs", "16"}, {"n", std::to_string(n)}});
    auto inputs = makeInputs(*program, shapeOf(2, 4, 2, 150, 150, 16), 31);
    NaiveRoute r;
    r.blockOf = [](int t) { return t / 16; };
    r.n = n;
    r.always = [](int q, int blk) { return blk == q / 16; };
    r.never = [](int q, int blk) { return blk > q / 16; };
    auto sel = naiveRouting(inputs, r);
    auto want = naiveAttention(
        inputs, {[&](int b, int h, int q, int k) { return sel[b][h][q][k / 16] && q >= k; }});
    auto got = runChecked(*program, inputs);
    requireMatches(got, want);
    auto causal = naiveAttention(inputs, {[](int, int, int q, int k) { return q >= k; }});
    if (n == 1) { // only the own block: a block-local causal mask
      auto local = naiveAttention(
          inputs, {[](int, int, int q, int k) { return q >= k && q / 16 == k / 16; }});
      CHECK(got.keptPairs == local.keptPairs);
    }
    CHECK(got.keptPairs < causal.keptPairs); // routing drops blocks
  }
  // The unscaled program at a short length: a single block, all causal.
  auto program = compileSource(source);
  auto inputs2 = makeInputs(*program, shapeOf(1, 1, 1, 40, 40, 8), 1);
  requireMatches(runChecked(*program, inputs2),
                 naiveAttention(inputs2, {[](int, int, int q, int k) { return q >= k; }}));
}

TEST_CASE("routing per query block with threshold selection", "[reference][route]") {
  auto program = compileSource(R"(
attention vmoba {
  mask = causal;
  route {
    block = 8;
    per = query_block(16);
    select = threshold(0.6);
    never = blk > block_of(q);
  }
})");
  auto inputs = makeInputs(*program, shapeOf(1, 2, 2, 100, 100, 8), 41);
  NaiveRoute r;
  r.blockOf = [](int t) { return t / 8; };
  r.unitSize = 16;
  r.topK = false;
  r.mass = 0.6;
  r.never = [](int q, int blk) { return blk > q / 8; };
  auto sel = naiveRouting(inputs, r);
  auto want = naiveAttention(
      inputs, {[&](int b, int h, int q, int k) { return sel[b][h][q / 16][k / 8] && q >= k; }});
  auto got = runChecked(*program, inputs);
  requireMatches(got, want);
  // Threshold routing must actually drop something.
  auto causalOnly = naiveAttention(inputs, {[](int, int, int q, int k) { return q >= k; }});
  CHECK(got.keptPairs < causalOnly.keptPairs);
}

TEST_CASE("routing per head and with 2-D tiles over a layout", "[reference][route]") {
  auto program = compileSource(R"(
layout frames = grid(t: 4, y: 6, x: 6);
attention vmoba2d over frames {
  route {
    block = tile(t: 1, y: 3, x: 4);
    per = head;
    gate = dot(query, key) * 2.0 - float(blk) * 0.01;
    select = top(4);
    always = blk == block_of(q);
  }
})");
  // 150 tokens: frames of 36, the last one partial, so some tiles are partially empty.
  auto inputs = makeInputs(*program, shapeOf(1, 2, 1, 150, 150, 8), 43);
  auto blockOf = [](int t) {
    int ft = t / 36, y = (t / 6) % 6, x = t % 6;
    return (ft * 2 + y / 3) * 2 + x / 4;
  };
  // Naive: per head, mean query over all tokens; forced = ANY q with blk == block_of(q):
  // every block holding a query token (all of them here), so top(4) <= |F| selects exactly F.
  auto got = runChecked(*program, inputs);
  auto dense = naiveAttention(inputs, {[](int, int, int, int) { return true; }});
  requireMatches(got, dense);

  // Without `always`, top(4) of the gate, computed naively.
  auto program2 = compileSource(R"(
layout frames = grid(t: 4, y: 6, x: 6);
attention vmoba2d over frames {
  route {
    block = tile(t: 1, y: 3, x: 4);
    per = head;
    gate = dot(query, key) * 2.0 - float(blk) * 0.01;
    select = top(4);
  }
})");
  auto got2 = runChecked(*program2, inputs);
  const ProblemShape &s = inputs.shape;
  int nb = blockOf(149) + 1;
  std::vector<std::vector<bool>> sel(s.heads, std::vector<bool>(nb));
  for (int h = 0; h < s.heads; ++h) {
    std::vector<double> gate(nb);
    std::vector<int> order;
    for (int blk = 0; blk < nb; ++blk) {
      std::vector<double> key(8), query(8);
      int count = 0;
      for (int t = 0; t < 150; ++t) {
        for (int c = 0; c < 8; ++c)
          query[c] += at(inputs.q, 0, h, t, c) / 150;
        if (blockOf(t) == blk) {
          ++count;
          for (int c = 0; c < 8; ++c)
            key[c] += at(inputs.k, 0, 0, t, c);
        }
      }
      for (int c = 0; c < 8; ++c)
        gate[blk] += query[c] * key[c] / std::max(count, 1);
      gate[blk] = gate[blk] * 2.0 - blk * 0.01;
      if (count)
        order.push_back(blk);
    }
    std::stable_sort(order.begin(), order.end(), [&](int a, int c) { return gate[a] > gate[c]; });
    for (int i = 0; i < 4; ++i)
      sel[h][order[i]] = true;
  }
  auto want2 =
      naiveAttention(inputs, {[&](int, int h, int, int k) { return bool(sel[h][blockOf(k)]); }});
  requireMatches(got2, want2);
}

TEST_CASE("routing: forbidden beats forced, ANY/EVERY over a query block", "[reference][route]") {
  // Block block_of(q) + 1 is both forced (always) and forbidden (never) for a token unit;
  // for a query block unit, `never` must hold for EVERY token and `always` for ANY.
  for (const char *per : {"token", "query_block(12)"}) {
    auto program = compileSource(std::string(R"(
attention conflict {
  route {
    block = 8;
    per = )") + per + R"(;
    select = top(2);
    always = blk <= block_of(q) + 1;
    never = blk > block_of(q);
  }
})");
    auto inputs = makeInputs(*program, shapeOf(1, 2, 1, 64, 64, 8), 51);
    NaiveRoute r;
    r.blockOf = [](int t) { return t / 8; };
    r.unitSize = std::string(per) == "token" ? 1 : 12;
    r.n = 2;
    r.always = [](int q, int blk) { return blk <= q / 8 + 1; };
    r.never = [](int q, int blk) { return blk > q / 8; };
    auto sel = naiveRouting(inputs, r);
    auto got = runChecked(*program, inputs);
    requireMatches(got, naiveAttention(inputs, {[&](int b, int h, int q, int k) {
                                         return bool(sel[b][h][q / r.unitSize][k / 8]);
                                       }}));
    if (r.unitSize == 1) { // forbidden wins: exactly blocks 0..block_of(q), all forced
      uint64_t expected = 0;
      for (int q = 0; q < 64; ++q)
        expected += 8 * (q / 8 + 1);
      CHECK(got.keptPairs == 2 * expected);
    }
  }
}

TEST_CASE("routing: equal gates select the lower block index", "[reference][route]") {
  auto program = compileSource(R"(
attention ties {
  route {
    block = 10;
    gate = float(blk % 2);   // blocks 1, 3, 5 tie at 1.0; 0, 2, 4 at 0.0
    select = top(4);
  }
})");
  auto inputs = makeInputs(*program, shapeOf(1, 1, 1, 5, 60, 8), 52);
  // Top 4: the three odd blocks, then block 0 (the lowest of the tied even ones).
  auto want = naiveAttention(inputs, {[](int, int, int, int k) {
                               int blk = k / 10;
                               return blk % 2 == 1 || blk == 0;
                             }});
  requireMatches(runChecked(*program, inputs), want);
}

TEST_CASE("routing: threshold includes the block that reaches the mass exactly",
          "[reference][route]") {
  // Four blocks with equal gates: p = 0.25 each (exact). threshold(0.5) selects blocks 0 and
  // 1 (mass 0.5 >= 0.5, stop); threshold(0.5001) also block 2.
  const char *source = R"(
attention mass {
  const m = 0.5;
  route {
    block = 16;
    gate = 0.0;
    select = threshold(m);
  }
})";
  auto half = compileSource(source);
  auto inputs = makeInputs(*half, shapeOf(1, 1, 1, 3, 64, 8), 53);
  requireMatches(runChecked(*half, inputs),
                 naiveAttention(inputs, {[](int, int, int, int k) { return k < 32; }}));
  auto more = compileSource(source, {{"m", "0.5001"}});
  requireMatches(runChecked(*more, inputs),
                 naiveAttention(inputs, {[](int, int, int, int k) { return k < 48; }}));
}
