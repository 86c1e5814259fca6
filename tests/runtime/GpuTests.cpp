//===- GpuTests.cpp - Kernels on the GPU against the CPU reference ----------===//
//
// Every test prints "skipped: <reason>" and returns when there is no CUDA driver or GPU;
// ctest reports those as skipped (SKIP_REGULAR_EXPRESSION). Outputs are poisoned (NaN)
// before each launch so rows the kernel forgets to write fail.
//
//===----------------------------------------------------------------------===//
#include "GpuTestSupport.h"
#include "TestUtil.h"

#include "attnc/reference/Random.h"
#include "attnc/reference/Reference.h"
#include "attnc/runtime/Device.h"
#include "attnc/runtime/Runtime.h"

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <limits>
#include <sstream>

using namespace attnc;
using namespace attnc::runtime;
using namespace attnc::test;

namespace {

struct Case {
  reference::ProblemShape shape;
  Layout layout = Layout::BHSD;
  DataType dtype = DataType::BF16;
  std::map<std::string, dsl::ConstValue> params;
  uint64_t seed = 1;
  unsigned char poison = 0xff; ///< the byte O and LSE are filled with before the launch
};

/// Runs `kernel` on the GPU and the reference on the same inputs and compares O and LSE.
void runAndCompare(Context &context, const Kernel &kernel, const Case &c) {
  const reference::ProblemShape &s = c.shape;
  INFO("attention " << kernel.name() << ": batch " << s.batch << ", heads " << s.heads
                    << ", kv_heads " << s.kvHeads << ", q_len " << s.qLen << ", kv_len " << s.kvLen
                    << ", d " << s.headDim << (c.layout == Layout::BSHD ? ", BSHD" : ", BHSD"));
  reference::ProblemInputs inputs = makeInputs(kernel, s, c.seed, c.dtype);
  std::string error;

  DeviceBuffer q(inputs.q.bytes.size()), k(inputs.k.bytes.size()), v(inputs.v.bytes.size());
  q.upload(toLayout(inputs.q, c.layout).data(), inputs.q.bytes.size());
  k.upload(toLayout(inputs.k, c.layout).data(), inputs.k.bytes.size());
  v.upload(toLayout(inputs.v, c.layout).data(), inputs.v.bytes.size());
  size_t rows = size_t(s.batch) * s.heads * s.qLen;
  DeviceBuffer o(rows * s.headDim * 2), lse(rows * sizeof(float));
  o.poison(c.poison);
  lse.poison(c.poison);

  Arguments args;
  args.q = qkvView(q.get(), s.batch, s.heads, s.qLen, s.headDim, c.layout, c.dtype);
  args.k = qkvView(k.get(), s.batch, s.kvHeads, s.kvLen, s.headDim, c.layout, c.dtype);
  args.v = qkvView(v.get(), s.batch, s.kvHeads, s.kvLen, s.headDim, c.layout, c.dtype);
  args.o = qkvView(o.get(), s.batch, s.heads, s.qLen, s.headDim, c.layout, c.dtype);
  args.lse.data = static_cast<float *>(lse.get());
  args.lse.strideBatch = int64_t(s.heads) * s.qLen;
  args.lse.strideHead = s.qLen;
  args.params = c.params;
  std::vector<std::unique_ptr<DeviceBuffer>> inputBuffers = uploadInputs(inputs, args);

  Status status = context.launch(kernel, args, nullptr);
  INFO(status.message());
  REQUIRE(status.ok());
  if (!streamSynchronize(nullptr, error))
    FAIL("the kernel failed: " << error);

  std::vector<uint16_t> gpuOut(rows * s.headDim);
  std::vector<float> gpuLse(rows);
  o.download(gpuOut.data(), gpuOut.size() * 2);
  lse.download(gpuLse.data(), gpuLse.size() * sizeof(float));

  reference::ReferenceProblem problem = inputs.problem();
  for (const auto &[name, value] : c.params)
    problem.params.push_back({name, value});
  reference::ReferenceResult expected;
  if (!reference::runReference(kernel.program(), kernel.attention(), problem, expected, error))
    FAIL("runReference: " << error);

  const double atol = 2e-2, rtol = 2e-2;
  size_t mismatches = 0;
  std::string first;
  double worst = 0;
  for (int b = 0; b < s.batch; ++b)
    for (int h = 0; h < s.heads; ++h)
      for (int t = 0; t < s.qLen; ++t) {
        size_t row = (size_t(b) * s.heads + h) * s.qLen + t;
        size_t base = c.layout == Layout::BHSD
                          ? row * s.headDim
                          : ((size_t(b) * s.qLen + t) * s.heads + h) * s.headDim;
        // Non-finite LSEs must match exactly: -inf (empty rows), +inf (+inf scores), NaN
        // (NaN scores).
        double refLse = expected.lseAt(b, h, t);
        double gotLse = gpuLse[row];
        bool lseOk = std::isnan(refLse) ? std::isnan(gotLse)
                     : std::isinf(refLse)
                         ? gotLse == refLse
                         : std::fabs(gotLse - refLse) <= 5e-3 + 1e-3 * std::fabs(refLse);
        if (!lseOk && mismatches++ == 0) {
          std::ostringstream text;
          text << "LSE[" << b << "," << h << "," << t << "] = " << gotLse << ", expected "
               << refLse;
          first = text.str();
        }
        for (int col = 0; col < s.headDim; ++col) {
          double got = decode(gpuOut[base + col], c.dtype);
          double want = expected.outAt(b, h, t, col);
          bool empty = refLse == -std::numeric_limits<double>::infinity();
          bool ok = empty              ? got == 0.0
                    : std::isnan(want) ? std::isnan(got)
                                       : std::fabs(got - want) <= atol + rtol * std::fabs(want);
          if (std::isfinite(got))
            worst = std::max(worst, std::fabs(got - want));
          if (!ok && mismatches++ == 0) {
            std::ostringstream text;
            text << "O[" << b << "," << h << "," << t << "," << col << "] = " << got
                 << ", expected " << want;
            first = text.str();
          }
        }
      }
  INFO("first mismatch: " << first << "; largest finite |error| " << worst);
  CHECK(mismatches == 0);
}

/// Each example at an odd GQA shape (q_len != kv_len) and at a larger square one.
void checkExample(const std::string &name) {
  ATTNC_REQUIRE_GPU();
  Context context(ContextOptions{std::string()});
  std::shared_ptr<Kernel> small = compileExample(context, name, 64);
  if (small->hooks().hasRoute) {
    // Enough KV blocks (4 of 512 tokens; 8 tiles of 16 x 16 on the 128-wide grid) that
    // the selection has to choose, with GQA.
    Case routed;
    routed.shape = shape(1, 4, 2, 2048, 2048, 64);
    routed.seed = 4;
    runAndCompare(context, *small, routed);
  }
  Case odd;
  odd.shape = shape(2, 4, 2, 77, 133, 64);
  runAndCompare(context, *small, odd);
  Case square;
  square.shape = shape(1, 2, 1, 333, 333, 64);
  square.seed = 2;
  runAndCompare(context, *small, square);
  std::shared_ptr<Kernel> large = compileExample(context, name, 128);
  Case bigger;
  bigger.shape = shape(1, 2, 2, 1031, 1031, 128);
  bigger.seed = 3;
  runAndCompare(context, *large, bigger);
}

} // namespace

#define ATTNC_EXAMPLE_TEST(name)                                                                   \
  TEST_CASE("example " #name " matches the CPU reference on the GPU", "[gpu][example]") {          \
    checkExample(#name);                                                                           \
  }

ATTNC_EXAMPLE_TEST(dense)
ATTNC_EXAMPLE_TEST(causal)
ATTNC_EXAMPLE_TEST(sliding_w1024)
ATTNC_EXAMPLE_TEST(sink4_w1024)
ATTNC_EXAMPLE_TEST(prefix_lm_2048)
ATTNC_EXAMPLE_TEST(document_causal)
ATTNC_EXAMPLE_TEST(s2_shards)
ATTNC_EXAMPLE_TEST(radial_video)
ATTNC_EXAMPLE_TEST(radial_decay)
ATTNC_EXAMPLE_TEST(natten2d_17)
ATTNC_EXAMPLE_TEST(natten3d_dilated)
ATTNC_EXAMPLE_TEST(natten2d_gna_stride)
ATTNC_EXAMPLE_TEST(moba_bs512_top3)
ATTNC_EXAMPLE_TEST(vmoba_2d_threshold)
ATTNC_EXAMPLE_TEST(gated_causal)
ATTNC_EXAMPLE_TEST(head_gate)
ATTNC_EXAMPLE_TEST(softcap_causal)
ATTNC_EXAMPLE_TEST(alibi_causal)
ATTNC_EXAMPLE_TEST(forgetting_gate)
ATTNC_EXAMPLE_TEST(duo_attention)
ATTNC_EXAMPLE_TEST(bias_causal)

TEST_CASE("BSHD strides give the same results as the reference", "[gpu]") {
  ATTNC_REQUIRE_GPU();
  Context context(ContextOptions{std::string()});
  for (const char *name : {"causal", "gated_causal"}) {
    std::shared_ptr<Kernel> kernel = compileExample(context, name, 128);
    Case c;
    c.shape = shape(2, 4, 2, 129, 257, 128);
    c.layout = Layout::BSHD;
    runAndCompare(context, *kernel, c);
  }
}

TEST_CASE("fp16 and head dim 256 kernels match the reference", "[gpu]") {
  ATTNC_REQUIRE_GPU();
  Context context(ContextOptions{std::string()});
  std::shared_ptr<Kernel> fp16 = compileExample(context, "causal", 64, DataType::F16);
  Case c;
  c.shape = shape(1, 2, 2, 200, 200, 64);
  c.dtype = DataType::F16;
  runAndCompare(context, *fp16, c);
  std::shared_ptr<Kernel> wide = compileExample(context, "sliding_w1024", 256);
  Case w;
  w.shape = shape(1, 2, 1, 300, 300, 256);
  w.params["window"] = dsl::ConstValue{dsl::Type::Int, 100, 0.0, false};
  runAndCompare(context, *wide, w);
}

TEST_CASE("routing over many KV blocks matches the reference", "[gpu]") {
  // The selection kernel gives each warp up to 4 units and each CTA up to 4 warps while
  // their gates fit in 48 KB of shared memory: 1501 blocks of 2 tokens leave 2 units per
  // warp, 3001 blocks of 1 token one; per-query-block units take the pooled-query path.
  ATTNC_REQUIRE_GPU();
  Context context(ContextOptions{std::string()});
  struct Routed {
    const char *block, *per, *select;
  };
  for (Routed r : {Routed{"2", "token", "top(5)"}, Routed{"1", "token", "top(9)"},
                   Routed{"16", "query_block(48)", "threshold(0.3)"}}) {
    std::string source = std::string("attention many_blocks {\n  route {\n    block = ") + r.block +
                         ";\n    per = " + r.per + ";\n    gate = dot(query, key);\n" +
                         "    select = " + r.select + ";\n    always = blk == block_of(q);\n" +
                         "    never = blk > block_of(q);\n  }\n  mask = causal;\n}\n";
    CompileOptions options;
    options.headDim = 64;
    options.tiering = suiteTiering();
    std::shared_ptr<Kernel> kernel;
    std::string diagnostics;
    Status status = context.compile(source, "many_blocks.attn", options, kernel, diagnostics);
    INFO(source << status.message() << "\n" << diagnostics);
    REQUIRE(status.ok());
    Case c;
    c.shape = shape(1, 2, 1, 3001, 3001, 64);
    c.seed = 7;
    runAndCompare(context, *kernel, c);
  }
}

TEST_CASE("changing lengths, batch, heads and params never recompiles", "[gpu]") {
  ATTNC_REQUIRE_GPU();
  Context context(ContextOptions{std::string()});
  std::shared_ptr<Kernel> kernel = compileExample(context, "sliding_w1024", 64);
  uint64_t compilations = context.cache().stats().compilations;
  CHECK(compilations == 1);
  struct Run {
    reference::ProblemShape shape;
    int window;
  } runs[] = {{shape(1, 1, 1, 64, 64, 64), 16},
              {shape(2, 4, 2, 200, 300, 64), 1},
              {shape(1, 2, 2, 513, 513, 64), 300},
              {shape(3, 2, 1, 7, 1000, 64), 5}};
  for (const Run &run : runs) {
    Case c;
    c.shape = run.shape;
    c.params["window"] = dsl::ConstValue{dsl::Type::Int, run.window, 0.0, false};
    runAndCompare(context, *kernel, c);
  }
  // Compiling the same program again is a cache hit, not a compilation.
  std::shared_ptr<Kernel> again = compileExample(context, "sliding_w1024", 64);
  CHECK(context.cache().stats().compilations == compilations);
  CHECK(again->cacheKey() == kernel->cacheKey());
}

TEST_CASE("a tiered kernel runs its quick binary, then the optimized one", "[gpu][tiering]") {
  ATTNC_REQUIRE_GPU();
  if (suiteTiering() == CompileOptions::Tiering::On) {
    std::cout << "skipped: ATTNC_TIERED=quick never installs the optimized kernel" << std::endl;
    return;
  }
  Context context(ContextOptions{std::string()});
  CompileOptions options;
  options.headDim = 64;
  options.tiering = CompileOptions::Tiering::On;
  std::shared_ptr<Kernel> kernel;
  std::string diagnostics;
  std::string path = attnc::test::examplesDirectory() + "/document_causal.attn";
  Status status = context.compileFile(path, options, kernel, diagnostics);
  INFO(status.message() << "\n" << diagnostics);
  REQUIRE(status.ok());
  // A memory-only cache always misses: the quick kernel comes first.
  REQUIRE_FALSE(kernel->optimized());
  CHECK(kernel->cubin().find("attnc_forward_sm80_") != std::string::npos);
  Case c;
  c.shape = shape(2, 4, 2, 333, 517, 64);
  runAndCompare(context, *kernel, c);
  Status ready = kernel->waitUntilOptimized();
  INFO(ready.message());
  REQUIRE(ready.ok());
  CHECK(kernel->optimized());
  // The optimized kernel uses the Hopper template on sm_90a unless ATTNC_KERNEL=sm80 forces
  // the portable one there too (the suite's portable run).
  const char *forced = std::getenv("ATTNC_KERNEL");
  const bool portable = forced && std::string(forced) == "sm80";
  if (kernel->arch() == "sm_90a")
    CHECK(kernel->cubin().find(portable ? "attnc_forward_sm80_" : "attnc_forward_sm90_") !=
          std::string::npos);
  c.seed = 5;
  runAndCompare(context, *kernel, c); // loads the optimized module in this context
  CHECK(context.cache().stats().compilations == 2);
}

TEST_CASE("launch validation rejects misaligned tensors", "[gpu]") {
  ATTNC_REQUIRE_GPU();
  Context context(ContextOptions{std::string()});
  std::shared_ptr<Kernel> kernel = compileExample(context, "causal", 64);
  DeviceBuffer buffer(1 << 20);
  Arguments args;
  for (QkvTensor *t : {&args.q, &args.k, &args.v, &args.o})
    *t = QkvTensor::bhsd(buffer.get(), 1, 1, 16, 64);
  args.q.data = static_cast<char *>(buffer.get()) + 2;
  Status status = context.launch(*kernel, args, nullptr);
  CHECK(status.code() == StatusCode::InvalidArgument);
  CHECK(status.message().find("not 16-byte aligned") != std::string::npos);
  args.q.data = buffer.get();
  args.k.strideToken = 68;
  status = context.launch(*kernel, args, nullptr);
  CHECK(status.code() == StatusCode::InvalidArgument);
  CHECK(status.message().find("multiple of 8 elements") != std::string::npos);
}

namespace {

/// Compiles `source` tiered: runs the quick kernel (the portable sm80/forward.cuh template),
/// then the optimized one (sm90/forward.cuh on sm_90a), each against the reference. With
/// ATTNC_TIERED=quick (the suite's quick pass) there is no optimized kernel to wait for.
void runBothTemplates(const std::string &name, const std::string &source, int headDim,
                      const std::vector<Case> &cases) {
  Context context(ContextOptions{std::string()});
  CompileOptions options;
  options.headDim = headDim;
  options.tiering = CompileOptions::Tiering::On;
  std::shared_ptr<Kernel> kernel;
  std::string diagnostics;
  Status status = context.compile(source, name + ".attn", options, kernel, diagnostics);
  INFO(source << status.message() << "\n" << diagnostics);
  REQUIRE(status.ok());
  REQUIRE_FALSE(kernel->optimized()); // a memory-only cache always misses: quick first
  for (const Case &c : cases)
    runAndCompare(context, *kernel, c);
  if (suiteTiering() == CompileOptions::Tiering::On) {
    std::cout << "skipped (" << name << "): ATTNC_TIERED=quick never installs the optimized kernel"
              << std::endl;
    return;
  }
  Status ready = kernel->waitUntilOptimized();
  INFO(ready.message());
  REQUIRE(ready.ok());
  for (const Case &c : cases)
    runAndCompare(context, *kernel, c);
}

} // namespace

TEST_CASE("scores of -inf drop pairs, and rows of only -inf scores are empty rows",
          "[gpu][nonfinite]") {
  ATTNC_REQUIRE_GPU();
  // Rows q < cut keep every key by the mask but the score drops them all (the running max
  // stays -inf over every tile): O = 0 and LSE = -inf, no out hook. Rows from cut on drop
  // keys above the diagonal and every fifth key, so some tiles start all -inf and later
  // ones are finite.
  const std::string source = "attention neg_inf_rows {\n"
                             "  param cut: int = 70;\n"
                             "  mask = k != 3;\n"
                             "  score = select(q >= cut && k <= q && k % 5 != 1, score, -inf);\n"
                             "  out = out + 0.5;\n"
                             "}\n";
  std::vector<Case> cases(3);
  cases[0].shape = shape(2, 2, 1, 333, 333, 64);
  cases[1].shape = shape(1, 4, 2, 77, 261, 64);
  cases[1].seed = 2;
  cases[2].shape = shape(1, 2, 2, 200, 200, 64);
  cases[2].params["cut"] = dsl::ConstValue{dsl::Type::Int, 1000, 0.0, false}; // all rows empty
  cases[2].seed = 3;
  runBothTemplates("neg_inf_rows", source, 64, cases);
  Case wide = cases[0];
  wide.shape.headDim = 128;
  runBothTemplates("neg_inf_rows", source, 128, {wide});
}

TEST_CASE("huge and NaN scores and non-finite constants match the reference", "[gpu][nonfinite]") {
  ATTNC_REQUIRE_GPU();
  // Rows q % 7 == 1 (q >= 2) hold scores of 1e4 (the finite stand-in for +inf, which the
  // kernels do not weigh: docs/runtime.md): those keys share the weight, the out hook
  // applies. Rows q % 7 == 3 hold a NaN score: O and LSE are NaN. The rest are ordinary
  // causal rows, with a -inf from log(0.0) on key 0. O is poisoned with a finite value so
  // that NaN rows must be written.
  const std::string source = "attention inf_nan {\n"
                             "  const nan = 0.0 * inf;\n"
                             "  mask = causal;\n"
                             "  score = select(q % 7 == 1 && k % 5 == 2, 1e4,\n"
                             "                 select(q % 7 == 3 && k == q / 2, nan,\n"
                             "                        select(k == 0, log(0.0), score)));\n"
                             "  out = out * 2.0 + 1.0;\n"
                             "}\n";
  std::vector<Case> cases(2);
  cases[0].shape = shape(1, 2, 1, 300, 300, 64);
  cases[0].poison = 0x40;
  cases[1].shape = shape(2, 2, 2, 129, 257, 64);
  cases[1].poison = 0x40;
  cases[1].seed = 4;
  runBothTemplates("inf_nan", source, 64, cases);
  Case wide = cases[0];
  wide.shape.headDim = 128;
  runBothTemplates("inf_nan", source, 128, {wide});
}
