//===- GpuBackwardTests.cpp - The GPU backward against the float64 reference ===//
//
// Each case runs the GPU forward (O and LSE), then the GPU backward on a fresh random dO,
// with dQ, dK and dV poisoned (NaN) first, and compares them with reference::
// runReferenceBackward on the same Q, K, V, inputs and dO. Tests print "skipped: <reason>"
// without a GPU.
//
//===----------------------------------------------------------------------===//
#include "GpuTestSupport.h"

#include "attnc/reference/Reference.h"

#include <algorithm>
#include <cmath>
#include <sstream>

using namespace attnc;
using namespace attnc::runtime;
using namespace attnc::test;

namespace {

struct BackwardCase {
  reference::ProblemShape shape;
  Layout layout = Layout::BHSD;
  DataType dtype = DataType::BF16;
  uint64_t seed = 1;
  std::vector<std::string> gradInputs; ///< float inputs whose gradients are checked
  bool deterministic = false;          ///< also: a second run is bit-identical
  bool withDLse = false;               ///< the loss also reads the LSE (a random dL/dLSE)
};

void runBackwardAndCompare(Context &context, const Kernel &kernel, const BackwardCase &c) {
  const reference::ProblemShape &s = c.shape;
  INFO("attention " << kernel.name() << ": batch " << s.batch << ", heads " << s.heads
                    << ", kv_heads " << s.kvHeads << ", q_len " << s.qLen << ", kv_len " << s.kvLen
                    << ", d " << s.headDim << (c.layout == Layout::BSHD ? ", BSHD" : ", BHSD"));
  reference::ProblemInputs inputs = makeInputs(kernel, s, c.seed, c.dtype);
  std::string error;

  // dO: uniform in (-1, 1), rounded to the kernel's dtype, BHSD bytes.
  const size_t rows = size_t(s.batch) * s.heads * s.qLen;
  reference::OwnedTensor dOut;
  dOut.dtype = inputs.q.dtype;
  dOut.dims = {s.batch, s.heads, s.qLen, s.headDim};
  dOut.bytes.resize(rows * s.headDim * 2);
  reference::SplitMix64 random(c.seed * 7919 + 17);
  for (size_t i = 0; i < rows * s.headDim; ++i) {
    const float value = float(random.uniformSigned());
    const uint16_t bits = c.dtype == DataType::BF16 ? reference::floatToBFloat16(value)
                                                    : reference::floatToHalf(value);
    std::memcpy(&dOut.bytes[i * 2], &bits, 2);
  }

  DeviceBuffer q(inputs.q.bytes.size()), k(inputs.k.bytes.size()), v(inputs.v.bytes.size());
  q.upload(toLayout(inputs.q, c.layout).data(), inputs.q.bytes.size());
  k.upload(toLayout(inputs.k, c.layout).data(), inputs.k.bytes.size());
  v.upload(toLayout(inputs.v, c.layout).data(), inputs.v.bytes.size());
  DeviceBuffer o(rows * s.headDim * 2), lse(rows * sizeof(float)), dO(rows * s.headDim * 2);
  dO.upload(toLayout(dOut, c.layout).data(), dOut.bytes.size());
  DeviceBuffer dQ(inputs.q.bytes.size()), dK(inputs.k.bytes.size()), dV(inputs.v.bytes.size());
  dQ.poison();
  dK.poison();
  dV.poison();

  Arguments args;
  args.q = qkvView(q.get(), s.batch, s.heads, s.qLen, s.headDim, c.layout, c.dtype);
  args.k = qkvView(k.get(), s.batch, s.kvHeads, s.kvLen, s.headDim, c.layout, c.dtype);
  args.v = qkvView(v.get(), s.batch, s.kvHeads, s.kvLen, s.headDim, c.layout, c.dtype);
  args.o = qkvView(o.get(), s.batch, s.heads, s.qLen, s.headDim, c.layout, c.dtype);
  args.lse.data = static_cast<float *>(lse.get());
  args.lse.strideBatch = int64_t(s.heads) * s.qLen;
  args.lse.strideHead = s.qLen;
  std::vector<std::unique_ptr<DeviceBuffer>> inputBuffers = uploadInputs(inputs, args);
  Status status = context.launch(kernel, args, nullptr);
  INFO("forward: " << status.message());
  REQUIRE(status.ok());

  args.dO = qkvView(dO.get(), s.batch, s.heads, s.qLen, s.headDim, c.layout, c.dtype);
  args.dQ = qkvView(dQ.get(), s.batch, s.heads, s.qLen, s.headDim, c.layout, c.dtype);
  args.dK = qkvView(dK.get(), s.batch, s.kvHeads, s.kvLen, s.headDim, c.layout, c.dtype);
  args.dV = qkvView(dV.get(), s.batch, s.kvHeads, s.kvLen, s.headDim, c.layout, c.dtype);
  args.deterministic = c.deterministic;
  // dL/dLSE: uniform in (-1, 1), float32 [batch, heads, q_len].
  std::vector<float> dLseHost(c.withDLse ? rows : 0);
  for (float &value : dLseHost)
    value = float(random.uniformSigned());
  DeviceBuffer dLse(std::max<size_t>(1, dLseHost.size()) * sizeof(float));
  if (c.withDLse) {
    dLse.upload(dLseHost.data(), dLseHost.size() * sizeof(float));
    args.dLse.data = static_cast<float *>(dLse.get());
    args.dLse.strideBatch = int64_t(s.heads) * s.qLen;
    args.dLse.strideHead = s.qLen;
  }
  // Input gradients: poisoned too (the backward must zero them before adding).
  std::vector<std::unique_ptr<DeviceBuffer>> gradBuffers;
  std::vector<size_t> gradElements;
  for (const std::string &name : c.gradInputs) {
    size_t elements = 1;
    for (int64_t dim : args.inputs.at(name).dims)
      elements *= size_t(dim);
    gradBuffers.push_back(std::make_unique<DeviceBuffer>(elements * sizeof(float)));
    gradBuffers.back()->poison();
    gradElements.push_back(elements);
    args.inputGrads[name].data = static_cast<float *>(gradBuffers.back()->get());
  }
  status = context.launchBackward(kernel, args, nullptr);
  INFO("backward: " << status.message());
  REQUIRE(status.ok());
  if (!streamSynchronize(nullptr, error))
    FAIL("the backward failed: " << error);

  std::vector<uint16_t> gotQ(inputs.q.bytes.size() / 2), gotK(inputs.k.bytes.size() / 2),
      gotV(inputs.v.bytes.size() / 2);
  dQ.download(gotQ.data(), gotQ.size() * 2);
  dK.download(gotK.data(), gotK.size() * 2);
  dV.download(gotV.data(), gotV.size() * 2);
  if (c.deterministic) {
    std::vector<uint16_t> againQ(gotQ.size()), againK(gotK.size()), againV(gotV.size());
    dQ.poison();
    dK.poison();
    dV.poison();
    status = context.launchBackward(kernel, args, nullptr);
    REQUIRE(status.ok());
    if (!streamSynchronize(nullptr, error))
      FAIL("the second backward failed: " << error);
    dQ.download(againQ.data(), againQ.size() * 2);
    dK.download(againK.data(), againK.size() * 2);
    dV.download(againV.data(), againV.size() * 2);
    CHECK(againQ == gotQ);
    CHECK(againK == gotK);
    CHECK(againV == gotV);
  }

  reference::ReferenceProblem problem = inputs.problem();
  reference::TensorView dOutView;
  dOutView.dtype = dOut.dtype;
  dOutView.data = dOut.bytes.data();
  dOutView.dims = dOut.dims;
  dOutView.strides = reference::TensorView::contiguousStrides(dOut.dims);
  reference::TensorView dLseView;
  dLseView.dtype = reference::DType::F32;
  dLseView.data = dLseHost.data();
  dLseView.dims = {s.batch, s.heads, s.qLen};
  dLseView.strides = reference::TensorView::contiguousStrides(dLseView.dims);
  reference::ReferenceGradients want;
  if (!reference::runReferenceBackward(kernel.program(), kernel.attention(), problem, dOutView,
                                       c.gradInputs, want, error, c.withDLse ? &dLseView : nullptr))
    FAIL("runReferenceBackward: " << error);

  // Element (b, h, t, c) of a [batch, heads, tokens, d] tensor in the case's layout.
  auto at = [&](const std::vector<uint16_t> &t, int heads, int tokens, int b, int h, int i,
                int col) {
    const size_t index = c.layout == Layout::BHSD
                             ? ((size_t(b) * heads + h) * tokens + i) * s.headDim + col
                             : ((size_t(b) * tokens + i) * heads + h) * s.headDim + col;
    return decode(t[index], c.dtype);
  };
  auto where = [](const char *name, int b, int h, int i, int col) {
    std::ostringstream text;
    text << name << "[" << b << "," << h << "," << i << "," << col << "]";
    return text.str();
  };
  Comparison cq, ck, cv;
  for (int b = 0; b < s.batch; ++b)
    for (int col = 0; col < s.headDim; ++col) {
      for (int h = 0; h < s.heads; ++h)
        for (int i = 0; i < s.qLen; ++i)
          cq.add(at(gotQ, s.heads, s.qLen, b, h, i, col), want.dqAt(b, h, i, col),
                 where("dQ", b, h, i, col));
      for (int h = 0; h < s.kvHeads; ++h)
        for (int i = 0; i < s.kvLen; ++i) {
          ck.add(at(gotK, s.kvHeads, s.kvLen, b, h, i, col), want.dkAt(b, h, i, col),
                 where("dK", b, h, i, col));
          cv.add(at(gotV, s.kvHeads, s.kvLen, b, h, i, col), want.dvAt(b, h, i, col),
                 where("dV", b, h, i, col));
        }
    }
  const double relative = 2e-2;
  for (size_t i = 0; i < c.gradInputs.size(); ++i) {
    std::vector<float> got(gradElements[i]);
    gradBuffers[i]->download(got.data(), got.size() * sizeof(float));
    const reference::InputGradient *expected = want.input(c.gradInputs[i]);
    REQUIRE(expected != nullptr);
    REQUIRE(expected->values.size() == got.size());
    Comparison cg;
    for (size_t e = 0; e < got.size(); ++e)
      cg.add(got[e], expected->values[e], "d" + c.gradInputs[i] + "[" + std::to_string(e) + "]");
    INFO("d" << c.gradInputs[i] << ": max |error| " << cg.worst << " of max |grad| " << cg.largest
             << " " << cg.first);
    CHECK(cg.ok(relative));
    std::cout << "backward " << kernel.name() << " d" << c.gradInputs[i]
              << ": max |err| / max |ref| " << cg.worst / std::max(cg.largest, 1e-30) << std::endl;
  }
  INFO("dQ: max |error| " << cq.worst << " of max |dQ| " << cq.largest << " " << cq.first);
  INFO("dK: max |error| " << ck.worst << " of max |dK| " << ck.largest << " " << ck.first);
  INFO("dV: max |error| " << cv.worst << " of max |dV| " << cv.largest << " " << cv.first);
  CHECK(cq.ok(relative));
  CHECK(ck.ok(relative));
  CHECK(cv.ok(relative));
  std::cout << "backward " << kernel.name() << " d" << s.headDim << " " << s.qLen << "x" << s.kvLen
            << " heads " << s.heads << "/" << s.kvHeads << ": max |err| / max |ref| dQ "
            << cq.worst / std::max(cq.largest, 1e-30) << ", dK "
            << ck.worst / std::max(ck.largest, 1e-30) << ", dV "
            << cv.worst / std::max(cv.largest, 1e-30) << std::endl;
}

/// Each example at an odd GQA shape (q_len != kv_len, lengths off the tiles), a square one
/// and at head dim 128.
void checkBackward(const std::string &name, std::vector<std::string> gradInputs = {}) {
  ATTNC_REQUIRE_GPU();
  Context context(ContextOptions{std::string()});
  std::shared_ptr<Kernel> small = compileExample(context, name, 64);
  BackwardCase odd;
  odd.shape = shape(2, 4, 2, 77, 133, 64);
  odd.gradInputs = gradInputs;
  runBackwardAndCompare(context, *small, odd);
  BackwardCase square;
  square.shape = shape(1, 2, 1, 333, 333, 64);
  square.seed = 2;
  runBackwardAndCompare(context, *small, square);
  std::shared_ptr<Kernel> large = compileExample(context, name, 128);
  BackwardCase bigger;
  bigger.shape = shape(1, 2, 2, 1031, 1031, 128);
  bigger.seed = 3;
  bigger.layout = Layout::BSHD;
  bigger.gradInputs = gradInputs;
  runBackwardAndCompare(context, *large, bigger);
}

} // namespace

// ATTNC_BACKWARD_TEST(example, "input", ...): also checks the named inputs' gradients.
#define ATTNC_BACKWARD_TEST(name, ...)                                                             \
  TEST_CASE("backward of " #name " matches the float64 reference", "[gpu][backward]") {            \
    checkBackward(#name, {__VA_ARGS__});                                                           \
  }

ATTNC_BACKWARD_TEST(dense)
ATTNC_BACKWARD_TEST(causal)
ATTNC_BACKWARD_TEST(sliding_w1024)
ATTNC_BACKWARD_TEST(sink4_w1024)
ATTNC_BACKWARD_TEST(prefix_lm_2048)
ATTNC_BACKWARD_TEST(document_causal)
ATTNC_BACKWARD_TEST(s2_shards)
ATTNC_BACKWARD_TEST(radial_video)
ATTNC_BACKWARD_TEST(radial_decay)
ATTNC_BACKWARD_TEST(natten2d_17)
ATTNC_BACKWARD_TEST(natten3d_dilated)
ATTNC_BACKWARD_TEST(natten2d_gna_stride)
ATTNC_BACKWARD_TEST(moba_bs512_top3)
ATTNC_BACKWARD_TEST(vmoba_2d_threshold)
ATTNC_BACKWARD_TEST(softcap_causal)
ATTNC_BACKWARD_TEST(alibi_causal)
ATTNC_BACKWARD_TEST(forgetting_gate, "F")
ATTNC_BACKWARD_TEST(duo_attention)
ATTNC_BACKWARD_TEST(bias_causal, "bias")
ATTNC_BACKWARD_TEST(gated_causal, "gate")
ATTNC_BACKWARD_TEST(head_gate, "gate")

TEST_CASE(
    "backward at head dim 256, in fp16, with empty rows and through the LSE matches the reference",
    "[gpu][backward]") {
  ATTNC_REQUIRE_GPU();
  Context context(ContextOptions{std::string()});
  BackwardCase wide;
  wide.shape = shape(1, 2, 1, 200, 300, 256);
  runBackwardAndCompare(context, *compileExample(context, "causal", 256), wide);
  // q_len > kv_len under a causal mask: the first 100 rows keep nothing (zero gradients).
  BackwardCase emptyRows;
  emptyRows.shape = shape(1, 2, 2, 200, 100, 64);
  emptyRows.withDLse = true;
  runBackwardAndCompare(context, *compileExample(context, "causal", 64), emptyRows);
  BackwardCase half;
  half.shape = shape(1, 4, 4, 257, 257, 128);
  half.dtype = DataType::F16;
  half.withDLse = true; // and a loss that also reads the LSE
  runBackwardAndCompare(context, *compileExample(context, "softcap_causal", 128, DataType::F16),
                        half);
}

TEST_CASE("backward with a few far longer key tiles (launched longest first) matches the reference",
          "[gpu][backward]") {
  ATTNC_REQUIRE_GPU();
  Context context(ContextOptions{std::string()});
  // sink4_w1024 at 8192 tokens: the first key tile visits 128 query tiles, the others about
  // 18, so the sm_90a launch order sorts the units (attention/key_tile_order.cuh sorts when
  // the longest is 4x the mean); at the suite's other shapes the window covers most keys.
  BackwardCase sink;
  sink.shape = shape(1, 2, 1, 8192, 8192, 64);
  sink.seed = 5;
  runBackwardAndCompare(context, *compileExample(context, "sink4_w1024", 64), sink);
}

TEST_CASE("backward with key blocks paired out of order matches the reference", "[gpu][backward]") {
  ATTNC_REQUIRE_GPU();
  Context context(ContextOptions{std::string()});
  // s2_shards past its 16-block band: each head's shard blocks (one in 16) keep every later
  // query and the others a band, so the sm_90a key tiles pair shard blocks with each other
  // (attention/key_block_pairs.cuh); GQA, so the pairing takes the group's hull, and kv_len
  // off the blocks, so the last window holds an odd block.
  BackwardCase shards;
  shards.shape = shape(1, 4, 2, 4000, 4130, 64);
  shards.seed = 6;
  runBackwardAndCompare(context, *compileExample(context, "s2_shards", 64), shards);
  BackwardCase wide;
  wide.shape = shape(1, 2, 2, 4096, 4096, 128);
  wide.seed = 7;
  runBackwardAndCompare(context, *compileExample(context, "s2_shards", 128), wide);
  // Packed documents: a block straddling two documents pairs with the later one's blocks.
  BackwardCase documents;
  documents.shape = shape(2, 2, 1, 3000, 3000, 64);
  documents.seed = 8;
  runBackwardAndCompare(context, *compileExample(context, "document_causal", 64), documents);
}

TEST_CASE("the deterministic backward is bit-identical across runs and matches the reference",
          "[gpu][backward][deterministic]") {
  ATTNC_REQUIRE_GPU();
  Context context(ContextOptions{std::string()});
  for (const char *name : {"causal", "document_causal", "gated_causal", "moba_bs512_top3"}) {
    BackwardCase c;
    c.shape = shape(2, 4, 2, 1000, 1000, 128);
    c.deterministic = true;
    if (std::string(name) == "gated_causal")
      c.gradInputs = {"gate"};
    runBackwardAndCompare(context, *compileExample(context, name, 128), c);
  }
  BackwardCase wide;
  wide.shape = shape(1, 2, 1, 300, 200, 256);
  wide.deterministic = true;
  runBackwardAndCompare(context, *compileExample(context, "softcap_causal", 256), wide);
}
