//===- BackwardApiTests.cpp - validateBackward, runReferenceBackward (C++) -===//
//
// The backward's C++ API on the CPU: argument errors, and the API's reference backward
// equal to reference::runReferenceBackward called directly. No GPU needed.
//
//===----------------------------------------------------------------------===//
#include "attnc/reference/Random.h"
#include "attnc/reference/Reference.h"
#include "attnc/runtime/Runtime.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <string>
#include <vector>

using namespace attnc;
using runtime::Arguments;
using runtime::Context;
using runtime::QkvTensor;
using runtime::Status;
using runtime::StatusCode;

namespace {

bool contains(const std::string &text, const std::string &part) {
  return text.find(part) != std::string::npos;
}

std::shared_ptr<runtime::Kernel> compileFor(Context &context, const std::string &source) {
  runtime::CompileOptions options;
  options.arch = "none";
  options.headDim = 64;
  std::shared_ptr<runtime::Kernel> kernel;
  std::string diagnostics;
  Status status = context.compile(source, "test.attn", options, kernel, diagnostics);
  INFO(diagnostics << status.message());
  REQUIRE(status.ok());
  return kernel;
}

std::string examplePath(const char *name) {
  return std::string(ATTNC_TEST_EXAMPLES_DIR) + "/" + name;
}

/// Seeded random Q, K, V, inputs and dO in f32, bound BHSD, with f32 outputs for O, LSE,
/// dQ, dK, dV and float32 gradients for `gradInputs`.
struct Problem {
  reference::ProblemInputs inputs;
  reference::OwnedTensor dO;
  std::vector<float> o, lse, dq, dk, dv;
  std::map<std::string, std::vector<float>> inputGrads;
  Arguments args;

  Problem(const runtime::Kernel &kernel, reference::ProblemShape shape, uint64_t seed,
          const std::vector<std::string> &gradInputs = {}) {
    std::string error;
    REQUIRE(reference::makeProblemInputs(kernel.program(), kernel.attention(), shape, seed, inputs,
                                         error));
    dO = reference::OwnedTensor(reference::DType::F32, inputs.q.dims);
    reference::SplitMix64 rng(reference::mixSeed(seed, reference::fnv1a64("dO")));
    reference::fillFloats(dO, rng, reference::Distribution::Normal);
    o.assign(inputs.q.bytes.size() / 4, NAN);
    lse.assign(size_t(shape.batch) * shape.heads * shape.qLen, NAN);
    dq.assign(o.size(), NAN);
    dk.assign(inputs.k.bytes.size() / 4, NAN);
    dv.assign(dk.size(), NAN);
    auto bind = [](void *data, int heads, int tokens, const reference::ProblemShape &s) {
      return QkvTensor::bhsd(data, s.batch, heads, tokens, s.headDim, dsl::ElementType::F32);
    };
    args.q = bind(inputs.q.bytes.data(), shape.heads, shape.qLen, shape);
    args.k = bind(inputs.k.bytes.data(), shape.kvHeads, shape.kvLen, shape);
    args.v = bind(inputs.v.bytes.data(), shape.kvHeads, shape.kvLen, shape);
    args.o = bind(o.data(), shape.heads, shape.qLen, shape);
    args.dO = bind(dO.bytes.data(), shape.heads, shape.qLen, shape);
    args.dQ = bind(dq.data(), shape.heads, shape.qLen, shape);
    args.dK = bind(dk.data(), shape.kvHeads, shape.kvLen, shape);
    args.dV = bind(dv.data(), shape.kvHeads, shape.kvLen, shape);
    args.lse.data = lse.data();
    args.lse.strideHead = shape.qLen;
    args.lse.strideBatch = int64_t(shape.heads) * shape.qLen;
    for (const auto &input : inputs.inputs) {
      runtime::InputTensor t;
      t.data = input.tensor.bytes.data();
      t.dtype = static_cast<dsl::ElementType>(input.tensor.dtype);
      t.dims = input.tensor.dims;
      args.inputs[input.name] = t;
    }
    for (const std::string &name : gradInputs) {
      int64_t n = 1;
      for (const auto &input : inputs.inputs)
        if (input.name == name)
          n = input.tensor.numElements();
      inputGrads[name].assign(size_t(n), NAN);
      args.inputGrads[name].data = inputGrads[name].data();
    }
  }
};

reference::ProblemShape shapeOf(int batch, int heads, int kvHeads, int qLen, int kvLen) {
  return {batch, heads, kvHeads, qLen, kvLen, 64};
}

} // namespace

TEST_CASE("validateBackward reports bad backward arguments clearly", "[backward]") {
  Context context(runtime::ContextOptions{std::string()});
  auto kernel = compileFor(context, "attention g {\n"
                                    "  input gate: f32[batch, heads, q_len, d];\n"
                                    "  input doc: i32[batch, q_len];\n"
                                    "  mask = causal && doc[b, q] == doc[b, k];\n"
                                    "  out = out * sigmoid(gate[b, h, q, :]);\n"
                                    "}");
  Problem p(*kernel, shapeOf(1, 2, 1, 5, 7), 3);
  REQUIRE(context.validateBackward(*kernel, p.args, false).ok());

  SECTION("LSE missing") {
    p.args.lse.data = nullptr;
    Status s = context.validateBackward(*kernel, p.args, false);
    CHECK(s.code() == StatusCode::InvalidArgument);
    CHECK(contains(s.message(), "LSE"));
  }
  SECTION("dO not bound, or not O's shape") {
    p.args.dO.data = nullptr;
    CHECK(contains(context.validateBackward(*kernel, p.args, false).message(),
                   "tensor dO is not bound"));
    p.args.dO.data = p.dO.bytes.data();
    p.args.dO.tokens = 4;
    Status s = context.validateBackward(*kernel, p.args, false);
    CHECK(s.code() == StatusCode::InvalidArgument);
    CHECK(s.message() == "tensor dO must have O's shape [batch 1, heads 2, tokens 5, d 64] but "
                         "has [batch 1, heads 2, tokens 4, d 64]");
  }
  SECTION("dK not K's shape (GQA: kv heads)") {
    p.args.dK.heads = 2;
    CHECK(contains(context.validateBackward(*kernel, p.args, false).message(),
                   "tensor dK must have K's shape [batch 1, heads 1, tokens 7, d 64]"));
  }
  SECTION("dV with a negative stride") {
    p.args.dV.strideToken = -64;
    CHECK(contains(context.validateBackward(*kernel, p.args, false).message(),
                   "tensor dV has a negative stride"));
  }
  SECTION("a gradient tensor of a non-float dtype") {
    p.args.dQ.dtype = dsl::ElementType::I32;
    CHECK(contains(context.validateBackward(*kernel, p.args, false).message(),
                   "tensor dQ must be f32, f16 or bf16"));
  }
  SECTION("a gradient of an integer input") {
    std::vector<float> grad(5);
    p.args.inputGrads["doc"].data = grad.data();
    Status s = context.validateBackward(*kernel, p.args, false);
    CHECK(s.code() == StatusCode::InvalidArgument);
    CHECK(s.message() == "a gradient was asked for integer input 'doc' (i32): only float "
                         "inputs are differentiated");
  }
  SECTION("a gradient of an unknown input lists the inputs") {
    std::vector<float> grad(5);
    p.args.inputGrads["gat"].data = grad.data();
    CHECK(context.validateBackward(*kernel, p.args, false).message() ==
          "a gradient was asked for 'gat', but attention 'g' has no input of that name "
          "(inputs: gate, doc)");
  }
  SECTION("a gradient bound to null, or with the wrong number of strides") {
    p.args.inputGrads["gate"].data = nullptr;
    CHECK(contains(context.validateBackward(*kernel, p.args, false).message(),
                   "the gradient of input 'gate' is bound to a null pointer"));
    std::vector<float> grad(640);
    p.args.inputGrads["gate"].data = grad.data();
    p.args.inputGrads["gate"].strides = {1, 1};
    CHECK(context.validateBackward(*kernel, p.args, false).message() ==
          "the gradient of input 'gate' has 2 strides for the 4 dims of [1, 2, 5, 64]");
    p.args.inputGrads["gate"].strides = {640, 320, -64, 1};
    CHECK(contains(context.validateBackward(*kernel, p.args, false).message(),
                   "the gradient of input 'gate' has a negative stride"));
  }
  SECTION("dLSE with a negative stride, or with a token stride on the GPU") {
    std::vector<float> dLse(10);
    p.args.dLse.data = dLse.data();
    p.args.dLse.strideBatch = 10;
    p.args.dLse.strideHead = 5;
    REQUIRE(context.validateBackward(*kernel, p.args, false).ok());
    p.args.dLse.strideToken = 2;
    CHECK(context.validateBackward(*kernel, p.args, false).ok()); // the CPU reads any stride
    p.args.dLse.strideHead = -5;
    CHECK(context.validateBackward(*kernel, p.args, false).message() ==
          "dLSE has a negative stride");
  }
  SECTION("the forward's rules still apply") {
    p.args.inputs.erase("doc");
    CHECK(contains(context.validateBackward(*kernel, p.args, false).message(),
                   "input 'doc' (i32[1, 5]) is not bound"));
  }
}

TEST_CASE("runReferenceBackward reports what the reference refuses", "[backward]") {
  Context context(runtime::ContextOptions{std::string()});
  SECTION("a program without derivative: positioned InvalidArgument") {
    auto kernel = compileFor(context, "attention t {\n  score = floor(score * 2.0);\n}");
    Problem p(*kernel, shapeOf(1, 1, 1, 3, 3), 1);
    Status s = context.runReferenceBackward(*kernel, p.args, 1);
    CHECK(s.code() == StatusCode::InvalidArgument);
    CHECK(s.message().rfind("2:11:", 0) == 0);
    CHECK(contains(s.message(), "has no derivative"));
  }
  SECTION("a gradient of an input only the mask reads") {
    auto kernel = compileFor(context, "attention t {\n"
                                      "  input bias: f32[batch, kv_len];\n"
                                      "  mask = bias[b, k] > 0.0;\n"
                                      "}");
    Problem p(*kernel, shapeOf(1, 1, 1, 3, 3), 1, {"bias"});
    Status s = context.runReferenceBackward(*kernel, p.args, 1);
    CHECK(s.code() == StatusCode::InvalidArgument);
    CHECK(contains(s.message(), "neither the score nor the out expression reads"));
  }
}

TEST_CASE("runReferenceBackward through the API equals the reference", "[backward]") {
  Context context(runtime::ContextOptions{std::string()});
  struct Case {
    const char *file;
    std::vector<std::string> gradInputs;
    reference::ProblemShape shape;
  };
  for (const Case &c : {Case{"softcap_causal.attn", {}, shapeOf(2, 4, 2, 9, 11)},
                        Case{"gated_causal.attn", {"gate"}, shapeOf(1, 2, 2, 7, 7)},
                        Case{"causal.attn", {}, shapeOf(1, 3, 1, 6, 4)}}) {
    INFO(c.file);
    runtime::CompileOptions options;
    options.arch = "none";
    options.headDim = 64;
    std::shared_ptr<runtime::Kernel> kernel;
    std::string diagnostics;
    REQUIRE(context.compileFile(examplePath(c.file), options, kernel, diagnostics).ok());
    Problem p(*kernel, c.shape, 11, c.gradInputs);
    // dQ in bf16 and dK at a BSHD layout: conversions and strides are the API's job.
    std::vector<uint16_t> dqBf16(p.dq.size());
    p.args.dQ.data = dqBf16.data();
    p.args.dQ.dtype = dsl::ElementType::BF16;
    p.args.dK = QkvTensor::bshd(p.dk.data(), c.shape.batch, c.shape.kvHeads, c.shape.kvLen, 64,
                                dsl::ElementType::F32);
    Status s = context.runReferenceBackward(*kernel, p.args, 2);
    INFO(s.message());
    REQUIRE(s.ok());

    reference::ReferenceProblem problem = p.inputs.problem();
    reference::ReferenceGradients want;
    std::string error;
    REQUIRE(reference::runReferenceBackward(kernel->program(), kernel->attention(), problem,
                                            p.dO.view(), c.gradInputs, want, error));
    const reference::ProblemShape &sh = c.shape;
    for (int b = 0; b < sh.batch; ++b) {
      for (int h = 0; h < sh.heads; ++h)
        for (int t = 0; t < sh.qLen; ++t)
          for (int d = 0; d < 64; ++d) {
            size_t i = ((size_t(b) * sh.heads + h) * sh.qLen + t) * 64 + d;
            REQUIRE(dqBf16[i] == reference::floatToBFloat16(float(want.dq[i])));
          }
      for (int h = 0; h < sh.kvHeads; ++h)
        for (int t = 0; t < sh.kvLen; ++t)
          for (int d = 0; d < 64; ++d) {
            size_t bhsd = ((size_t(b) * sh.kvHeads + h) * sh.kvLen + t) * 64 + d;
            size_t bshd = ((size_t(b) * sh.kvLen + t) * sh.kvHeads + h) * 64 + d;
            REQUIRE(p.dk[bshd] == float(want.dk[bhsd]));
            REQUIRE(p.dv[bhsd] == float(want.dv[bhsd]));
          }
    }
    for (const std::string &name : c.gradInputs) {
      const reference::InputGradient *g = want.input(name);
      REQUIRE(g);
      const std::vector<float> &got = p.inputGrads[name];
      REQUIRE(got.size() == g->values.size());
      double maxAbs = 0;
      for (size_t i = 0; i < got.size(); ++i) {
        REQUIRE(got[i] == float(g->values[i]));
        maxAbs = std::max(maxAbs, std::abs(g->values[i]));
      }
      CHECK(maxAbs > 0); // the gate's gradient is not trivially zero
    }
  }
}
