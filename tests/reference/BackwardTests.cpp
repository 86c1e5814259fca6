//===- BackwardTests.cpp - The reference backward against finite differences ===//
//
// The loss is L = sum(dO * O) for a fixed random dO; the analytic gradients of
// runReferenceBackward are compared, element by element, with central differences of L
// computed by the forward reference in float64 (step 1e-6). Q, K, V and the float inputs
// are float64 tensors, so a perturbation is exact. Every perturbation must leave the keep
// structure (mask and routing selection) unchanged, which the test checks: masks and
// routing are held fixed by definition and the finite difference must not cross them.
//
//===----------------------------------------------------------------------===//
#include "TestSupport.h"

#include <cstdlib>
#include <thread>

using namespace attnc;
using namespace attnc::testing;

namespace {

constexpr double kStep = 1e-6;
constexpr double kRtol = 1e-6;
constexpr double kAtol = 1e-8;

std::string examplePath(const std::string &name) {
  return std::string(ATTNC_EXAMPLES_DIR) + "/" + name + ".attn";
}

/// Q, K, V and the float inputs as float64 tensors (integer inputs as generated), and dO.
struct Case {
  std::unique_ptr<dsl::Program> program;
  const dsl::AttentionDecl *attention = nullptr;
  ProblemInputs in;
  reference::OwnedTensor dO;

  Case(std::unique_ptr<dsl::Program> prog, const ProblemShape &shape, uint64_t seed)
      : program(std::move(prog)) {
    attention = program->find("");
    REQUIRE(attention);
    reference::InputOptions options;
    options.qkvType = reference::DType::F64;
    std::string error;
    bool ok = reference::makeProblemInputs(*program, *attention, shape, seed, in, error, options);
    INFO("makeProblemInputs: " << error);
    REQUIRE(ok);
    for (auto &input : in.inputs)
      if (reference::isFloatDType(input.tensor.dtype)) {
        reference::OwnedTensor wide(reference::DType::F64, input.tensor.dims);
        for (int64_t i = 0; i < wide.numElements(); ++i)
          wide.storeDouble(i, input.tensor.loadDouble(i));
        input.tensor = std::move(wide);
      }
    dO = reference::OwnedTensor(reference::DType::F64,
                                {shape.batch, shape.heads, shape.qLen, shape.headDim});
    reference::SplitMix64 rng(seed * 7919 + 1);
    for (int64_t i = 0; i < dO.numElements(); ++i)
      dO.storeDouble(i, rng.uniformSigned());
  }

  reference::ReferenceProblem problem(int threads = 0) const {
    reference::ReferenceProblem p = in.problem();
    p.threads = threads;
    return p;
  }

  double loss() const {
    reference::ReferenceResult r;
    std::string error;
    bool ok = reference::runReference(*program, *attention, problem(), r, error);
    INFO("runReference: " << error);
    REQUIRE(ok);
    double sum = 0.0;
    for (size_t i = 0; i < r.out.size(); ++i)
      sum += dO.loadDouble(static_cast<int64_t>(i)) * r.out[i];
    return sum;
  }

  /// The keep matrices of every (b, h) and the routing selection itself.
  std::vector<uint8_t> structure() const {
    std::vector<uint8_t> all;
    const ProblemShape &s = in.shape;
    reference::KeepEvaluator keeper;
    std::string bindError;
    REQUIRE(keeper.bind(*program, *attention, problem(), bindError));
    if (keeper.routed()) {
      int units = (s.qLen + keeper.routeUnitSize() - 1) / keeper.routeUnitSize();
      for (int b = 0; b < s.batch; ++b)
        for (int h = 0; h < s.heads; ++h)
          for (int u = 0; u < units; ++u)
            for (int blk = 0; blk < keeper.routeNumBlocks(); ++blk)
              all.push_back(keeper.routeSelected(b, h, u, blk));
    }
    for (int b = 0; b < s.batch; ++b)
      for (int h = 0; h < s.heads; ++h) {
        std::vector<uint8_t> keep;
        std::string error;
        REQUIRE(reference::evaluateKeepMatrix(*program, *attention, problem(), b, h, keep, error));
        all.insert(all.end(), keep.begin(), keep.end());
      }
    return all;
  }

  reference::ReferenceGradients backward(const std::vector<std::string> &gradInputs,
                                         int threads = 0) const {
    reference::ReferenceGradients g;
    // Poison: stale contents of the result must not survive.
    g.dq.assign(1000, std::nan(""));
    g.dk.assign(1000, std::nan(""));
    g.inputs.push_back({"stale", {1}, {std::nan("")}});
    std::string error;
    bool ok = reference::runReferenceBackward(*program, *attention, problem(threads), dO.view(),
                                              gradInputs, g, error);
    INFO("runReferenceBackward: " << error);
    REQUIRE(ok);
    return g;
  }

  reference::OwnedTensor *inputTensor(const std::string &name) {
    for (auto &input : in.inputs)
      if (input.name == name)
        return &input.tensor;
    return nullptr;
  }
};

/// Central differences of the loss for every element of `t`, compared with `analytic`.
/// Returns the worst |fd - analytic| / (kAtol + kRtol * |analytic|).
double checkTensor(Case &cs, reference::OwnedTensor &t, const std::vector<double> &analytic,
                   const std::vector<uint8_t> &structure, const char *what) {
  REQUIRE(t.dtype == reference::DType::F64);
  REQUIRE(static_cast<int64_t>(analytic.size()) == t.numElements());
  double worst = 0.0;
  for (int64_t i = 0; i < t.numElements(); ++i) {
    double x = t.loadDouble(i);
    t.storeDouble(i, x + kStep);
    double up = cs.loss();
    bool sameUp = cs.structure() == structure;
    t.storeDouble(i, x - kStep);
    double down = cs.loss();
    bool sameDown = cs.structure() == structure;
    t.storeDouble(i, x);
    INFO(what << " element " << i << ": the perturbation changed the mask or routing");
    REQUIRE(sameUp);
    REQUIRE(sameDown);
    double fd = (up - down) / (2 * kStep);
    REQUIRE(std::isfinite(analytic[i]));
    double ratio = std::fabs(fd - analytic[i]) / (kAtol + kRtol * std::fabs(analytic[i]));
    INFO(what << " element " << i << ": finite difference " << fd << ", analytic " << analytic[i]);
    CHECK(ratio <= 1.0);
    worst = std::max(worst, ratio);
  }
  return worst;
}

/// Checks dQ, dK, dV and the gradients of `gradInputs` against finite differences, the
/// recomputed forward against runReference, and that some gradient is not zero.
reference::ReferenceGradients checkAll(Case &cs, const std::vector<std::string> &gradInputs = {}) {
  reference::ReferenceGradients g = cs.backward(gradInputs);
  REQUIRE(g.inputs.size() == gradInputs.size());

  reference::ReferenceResult fwd;
  std::string error;
  REQUIRE(reference::runReference(*cs.program, *cs.attention, cs.problem(), fwd, error));
  CHECK(g.forward.out == fwd.out); // bit-identical: the duals compute the same values
  CHECK(g.forward.lse == fwd.lse);
  CHECK(g.forward.keptPairs == fwd.keptPairs);

  std::vector<uint8_t> structure = cs.structure();
  double worst = checkTensor(cs, cs.in.q, g.dq, structure, "dQ");
  worst = std::max(worst, checkTensor(cs, cs.in.k, g.dk, structure, "dK"));
  worst = std::max(worst, checkTensor(cs, cs.in.v, g.dv, structure, "dV"));
  for (size_t i = 0; i < gradInputs.size(); ++i) {
    CHECK(g.inputs[i].name == gradInputs[i]);
    reference::OwnedTensor *t = cs.inputTensor(gradInputs[i]);
    REQUIRE(t);
    CHECK(g.inputs[i].dims == t->dims);
    std::string what = "d" + gradInputs[i];
    worst = std::max(worst, checkTensor(cs, *t, g.inputs[i].values, structure, what.c_str()));
    CHECK(std::any_of(g.inputs[i].values.begin(), g.inputs[i].values.end(),
                      [](double v) { return v != 0.0; }));
  }
  for (const auto *grad : {&g.dq, &g.dk, &g.dv})
    CHECK(std::any_of(grad->begin(), grad->end(), [](double v) { return v != 0.0; }));
  WARN("worst |fd - analytic| / (atol + rtol |analytic|) = " << worst);
  return g;
}

} // namespace

TEST_CASE("backward: causal, q_len != kv_len", "[reference][backward]") {
  Case cs(compileFile(examplePath("causal")), shapeOf(2, 2, 2, 5, 7, 4), 11);
  checkAll(cs);
}

TEST_CASE("backward: alibi_causal (score reads h, q, k)", "[reference][backward]") {
  Case cs(compileFile(examplePath("alibi_causal")), shapeOf(1, 2, 2, 5, 7, 4), 12);
  checkAll(cs);
}

TEST_CASE("backward: softcap_causal (tanh), with a small cap", "[reference][backward]") {
  // cap 1 puts the scores where tanh bends; cap 30 is nearly linear at these scales.
  for (const char *cap : {"1.0", "30.0"}) {
    INFO("cap " << cap);
    Case cs(compileFile(examplePath("softcap_causal"), {{"cap", cap}}), shapeOf(1, 2, 2, 5, 7, 4),
            13);
    checkAll(cs);
  }
}

TEST_CASE("backward: gated_causal (out gate input)", "[reference][backward]") {
  Case cs(compileFile(examplePath("gated_causal")), shapeOf(2, 2, 2, 5, 7, 4), 14);
  checkAll(cs, {"gate"});
}

TEST_CASE("backward: forgetting_gate and bias_causal (float inputs in the score)",
          "[reference][backward]") {
  {
    Case cs(compileFile(examplePath("forgetting_gate")), shapeOf(1, 2, 2, 5, 7, 4), 15);
    checkAll(cs, {"F"});
  }
  {
    Case cs(compileFile(examplePath("bias_causal")), shapeOf(2, 2, 2, 5, 7, 4), 16);
    auto g = checkAll(cs, {"bias"});
    // Masked pairs get no bias gradient.
    const auto &bias = g.input("bias")->values;
    for (int b = 0; b < 2; ++b)
      for (int h = 0; h < 2; ++h)
        for (int q = 0; q < 5; ++q)
          for (int k = q + 2 + 1; k < 7; ++k)
            CHECK(bias[((b * 2 + h) * 5 + q) * 7 + k] == 0.0);
  }
}

TEST_CASE("backward: document_causal (integer input not differentiated)", "[reference][backward]") {
  Case cs(compileFile(examplePath("document_causal")), shapeOf(2, 2, 2, 5, 7, 4), 17);
  checkAll(cs);
}

TEST_CASE("backward: MoBA-style routing with small blocks", "[reference][backward]") {
  // moba_bs512_top3 with blocks of 2 tokens and top(2), so that the selection drops
  // blocks the causal mask would keep.
  auto program = compileSource(R"(
attention moba_small {
  route {
    block = 2;
    gate = dot(query, key);
    select = top(2);
    always = blk == block_of(q);
    never = blk > block_of(q);
  }
  mask = causal;
})");
  Case cs(std::move(program), shapeOf(2, 2, 1, 6, 8, 4), 18);
  // The routing must be exercised: some causal pair is not routed.
  std::vector<uint8_t> keep = cs.structure();
  const size_t pairsPerHead = static_cast<size_t>(cs.in.shape.qLen) * cs.in.shape.kvLen;
  keep.erase(keep.begin(), keep.end() - static_cast<std::ptrdiff_t>(
                                            pairsPerHead * cs.in.shape.batch * cs.in.shape.heads));
  bool dropped = false;
  const ProblemShape &s = cs.in.shape;
  for (size_t bh = 0; bh < static_cast<size_t>(s.batch) * s.heads; ++bh)
    for (int q = 0; q < s.qLen; ++q)
      for (int k = 0; k <= q + s.kvLen - s.qLen; ++k)
        dropped |= keep[(bh * s.qLen + q) * s.kvLen + k] == 0;
  REQUIRE(dropped);
  checkAll(cs);
}

TEST_CASE("backward: GQA and MQA sum dK, dV over the group", "[reference][backward]") {
  {
    Case cs(compileFile(examplePath("alibi_causal")), shapeOf(1, 4, 2, 5, 7, 4), 19);
    checkAll(cs);
  }
  {
    Case cs(compileFile(examplePath("gated_causal")), shapeOf(1, 3, 1, 5, 7, 4), 20);
    checkAll(cs, {"gate"});
  }
}

TEST_CASE("backward: rows without a kept key get zero gradients", "[reference][backward]") {
  // q_len > kv_len with bottom-right causal: queries 0 and 1 see no key.
  Case cs(compileFile(examplePath("gated_causal")), shapeOf(1, 2, 2, 7, 5, 4), 21);
  auto g = checkAll(cs, {"gate"});
  const auto &gate = g.input("gate")->values;
  for (int h = 0; h < 2; ++h)
    for (int q = 0; q < 2; ++q)
      for (int c = 0; c < 4; ++c) {
        CHECK(g.dqAt(0, h, q, c) == 0.0);
        CHECK(gate[((h * 7) + q) * 4 + c] == 0.0);
        CHECK(g.forward.lseAt(0, h, q) == -std::numeric_limits<double>::infinity());
      }
  // A score of -inf drops a key like the mask: no gradient through it.
  Case dropped(compileSource("attention t { score = select(k == 3, -inf, score); }"),
               shapeOf(1, 2, 2, 5, 7, 4), 22);
  auto gd = checkAll(dropped);
  for (int h = 0; h < 2; ++h)
    for (int c = 0; c < 4; ++c) {
      CHECK(gd.dkAt(0, h, 3, c) == 0.0);
      CHECK(gd.dvAt(0, h, 3, c) == 0.0);
    }
}

TEST_CASE("backward: every derivative rule", "[reference][backward]") {
  // Each function in the score and out expressions, at arguments where it is smooth
  // (log, sqrt of positive values), reading float inputs through lets.
  auto program = compileSource(R"(
attention rules {
  input bias: f32[batch, heads, q_len, kv_len];
  input gate: f32[batch, heads, q_len, d];
  param t: float = 0.75;
  let x = score * 2.0 + bias[b, h, q, k];
  let y = abs(x) + 0.5;
  score = select(k % 2 == 0, sigmoid(x) * exp(-y) + log(y) / 3.0,
                 tanh(x) - sqrt(y) * t + exp2(x * 0.5) - log2(y + 1.0))
          + min(x, 0.1) + max(x, -0.2) + clamp(x / y, -0.3, 0.3) + floor(q * 0.5) * 0.01
          + float(k) * 0.01 - x * x / (4.0 + y);
  out = select(c == 1, out / (1.0 + gate[b, h, q, :] * gate[b, h, q, :]),
               exp(out) * sigmoid(gate[b, h, q, :]) - max(out, gate[b, h, q, :]));
})");
  Case cs(std::move(program), shapeOf(1, 2, 2, 5, 7, 4), 23);
  checkAll(cs, {"gate", "bias"});
}

TEST_CASE("backward: independent of threads, layout of dO", "[reference][backward]") {
  Case cs(compileFile(examplePath("bias_causal")), shapeOf(2, 2, 2, 9, 9, 4), 24);
  auto one = cs.backward({"bias"}, 1);
  auto three = cs.backward({"bias"}, 3);
  CHECK(one.dq == three.dq);
  CHECK(one.dk == three.dk);
  CHECK(one.dv == three.dv);
  CHECK(one.inputs[0].values == three.inputs[0].values);

  // dO as a BSHD view holding the same logical values gives the same gradients.
  const ProblemShape &s = cs.in.shape;
  std::vector<double> bshd(static_cast<size_t>(cs.dO.numElements()));
  for (int b = 0; b < s.batch; ++b)
    for (int h = 0; h < s.heads; ++h)
      for (int q = 0; q < s.qLen; ++q)
        for (int c = 0; c < s.headDim; ++c)
          bshd[((static_cast<size_t>(b) * s.qLen + q) * s.heads + h) * s.headDim + c] =
              at(cs.dO, b, h, q, c);
  reference::TensorView view =
      reference::makeQkvView(reference::DType::F64, bshd.data(), s.batch, s.heads, s.qLen,
                             s.headDim, reference::QkvLayout::BSHD);
  reference::ReferenceGradients g;
  std::string error;
  REQUIRE(reference::runReferenceBackward(*cs.program, *cs.attention, cs.problem(), view, {"bias"},
                                          g, error));
  CHECK(g.dq == one.dq);
  CHECK(g.dk == one.dk);
  CHECK(g.inputs[0].values == one.inputs[0].values);
}

TEST_CASE("backward: errors", "[reference][backward]") {
  auto run = [](Case &cs, const std::vector<std::string> &grads,
                const reference::TensorView *dO = nullptr) {
    reference::ReferenceGradients g;
    std::string error;
    bool ok = reference::runReferenceBackward(*cs.program, *cs.attention, cs.problem(),
                                              dO ? *dO : cs.dO.view(), grads, g, error);
    CHECK_FALSE(ok);
    return error;
  };
  Case doc(compileSource("attention t { input doc: i32[batch, kv_len];"
                         " input w: f32[batch, kv_len];"
                         " mask = doc[b, q] == doc[b, k] && w[b, k] > 0.0; }"),
           shapeOf(1, 2, 2, 5, 7, 4), 25);
  CHECK(run(doc, {"doc"}).find("integer and bool inputs are not differentiated") !=
        std::string::npos);
  CHECK(run(doc, {"nope"}).find("has no input of that name") != std::string::npos);
  CHECK(run(doc, {"w"}).find("neither the score nor the out expression reads") !=
        std::string::npos);

  Case bias(compileFile(examplePath("bias_causal")), shapeOf(1, 2, 2, 5, 7, 4), 26);
  CHECK(run(bias, {"bias", "bias"}).find("asked twice") != std::string::npos);
  reference::OwnedTensor small(reference::DType::F64, {1, 2, 4, 4});
  reference::TensorView smallView = small.view();
  CHECK(run(bias, {}, &smallView).find("dO must be a 4-D tensor") != std::string::npos);
  {
    reference::ReferenceProblem problem = bias.problem();
    problem.onlyQueries = {0};
    reference::ReferenceGradients g;
    std::string error;
    CHECK_FALSE(reference::runReferenceBackward(*bias.program, *bias.attention, problem,
                                                bias.dO.view(), {}, g, error));
    CHECK(error.find("onlyQueries") != std::string::npos);
  }
  {
    // Past the memory limit: a clear error, nothing allocated.
    struct Restore {
      ~Restore() { unsetenv("ATTNC_REFERENCE_MEMORY_LIMIT"); }
    } restore;
    setenv("ATTNC_REFERENCE_MEMORY_LIMIT", "3000", 1);
    std::string error = run(bias, {"bias"});
    CHECK(error.find("past its memory limit") != std::string::npos);
  }
  {
    // An operation without a derivative rule (the checker rejects float `%`; build it
    // by editing a checked tree) is refused with its position.
    auto program = compileSource("attention t {\n  score = score / 3.0;\n}");
    program->attentions[0].score->binaryOp = dsl::BinaryOp::Rem;
    std::string error;
    CHECK_FALSE(reference::checkDifferentiable(program->attentions[0], error));
    CHECK(error.find("2:11: the score expression") != std::string::npos);
    CHECK(error.find("'%' on floats") != std::string::npos);
    Case cs(std::move(program), shapeOf(1, 1, 1, 3, 3, 4), 27);
    CHECK(run(cs, {}).find("cannot be differentiated") != std::string::npos);
  }
  {
    // floor and int() are piecewise constant: refused (as by the compiler's
    // attn-differentiate) where their operand depends on the score, the output or a float
    // input, accepted on index arithmetic alone.
    struct Probe {
      const char *source, *position;
      bool ok;
    };
    for (const Probe &p :
         {Probe{"attention t {\n  score = floor(score * 2.0);\n}", "2:11:", false},
          Probe{"attention t {\n  input g: f32[batch, heads, q_len, d];\n  out = out + "
                "float(int(g[b, h, q, :]));\n}",
                "3:21:", false},
          Probe{"attention t {\n  let s = score;\n  out = out;\n  score = s + floor(s);\n}",
                "4:15:", false},
          Probe{"attention t {\n  score = score + floor(q * 0.5) + float(int(k / 2));\n}", "",
                true}}) {
      INFO(p.source);
      auto program = compileSource(p.source);
      std::string error;
      CHECK(reference::checkDifferentiable(program->attentions[0], error) == p.ok);
      if (!p.ok) {
        CHECK(error.find(p.position) == 0);
        CHECK(error.find("has no derivative") != std::string::npos);
      }
    }
  }
}
