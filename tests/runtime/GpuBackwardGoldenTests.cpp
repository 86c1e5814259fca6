//===- GpuBackwardGoldenTests.cpp - The GPU backward against the backward goldens ===//
//
// Every case of tests/golden/BACKWARD.txt (the CPU reference's stored gradients of float32
// inputs) runs through the GPU forward (O, LSE) and the GPU backward on the same seeded
// inputs and dO, with dQ, dK, dV and the input gradients poisoned (NaN) first, and is
// compared with the stored gradients. The kernels read bf16, so Q, K, V and dO are the
// goldens' float32 values rounded to bf16: the tolerance is a bf16 one, relative to the
// largest stored magnitude of each tensor (as GpuBackwardTests.cpp), with headroom for the
// input rounding (what the rounding alone costs is checked on the CPU by
// tests/reference/GoldenTests.cpp). Prints "skipped: <reason>" without a GPU.
//
//===----------------------------------------------------------------------===//
#include "GpuTestSupport.h"

#include "attnc/reference/Golden.h"

#include <algorithm>
#include <cmath>
#include <sstream>

using namespace attnc;
using namespace attnc::runtime;
using namespace attnc::test;

namespace {

std::string goldenDirectory() {
  if (const char *dir = std::getenv("ATTNC_GOLDEN_DIR"); dir && *dir)
    return dir;
  return ATTNC_TEST_GOLDEN_DIR;
}

/// bf16 rounding of the inputs alone moves the gradients by up to 0.6% of their largest
/// magnitude on these cases (the reference on rounded inputs, tests/reference); the GPU's
/// own bf16 P and dS products add about as much again (GpuBackwardTests.cpp bounds that at 2%).
constexpr double kRelativeTolerance = 3e-2;

void runBackwardGolden(Context &context, const reference::GoldenCase &c,
                       const reference::BackwardGoldenFile &golden) {
  const reference::ProblemShape &s = c.shape;
  INFO("case " << c.toLine());
  std::shared_ptr<Kernel> kernel =
      compileExample(context, c.example, s.headDim, DataType::BF16, c.consts);
  reference::ProblemInputs inputs = makeInputs(*kernel, s, c.seed, DataType::BF16);
  std::string error;
  reference::OwnedTensor dOut = reference::makeGoldenGradOutput(s, c.seed, reference::DType::BF16);

  const size_t rows = size_t(s.batch) * s.heads * s.qLen;
  DeviceBuffer q(inputs.q.bytes.size()), k(inputs.k.bytes.size()), v(inputs.v.bytes.size());
  q.upload(inputs.q.bytes.data(), inputs.q.bytes.size());
  k.upload(inputs.k.bytes.data(), inputs.k.bytes.size());
  v.upload(inputs.v.bytes.data(), inputs.v.bytes.size());
  DeviceBuffer o(rows * s.headDim * 2), lse(rows * sizeof(float)), dO(dOut.bytes.size());
  o.poison();
  lse.poison();
  dO.upload(dOut.bytes.data(), dOut.bytes.size());
  DeviceBuffer dQ(inputs.q.bytes.size()), dK(inputs.k.bytes.size()), dV(inputs.v.bytes.size());
  dQ.poison();
  dK.poison();
  dV.poison();

  Arguments args;
  args.q = qkvView(q.get(), s.batch, s.heads, s.qLen, s.headDim, Layout::BHSD, DataType::BF16);
  args.k = qkvView(k.get(), s.batch, s.kvHeads, s.kvLen, s.headDim, Layout::BHSD, DataType::BF16);
  args.v = qkvView(v.get(), s.batch, s.kvHeads, s.kvLen, s.headDim, Layout::BHSD, DataType::BF16);
  args.o = qkvView(o.get(), s.batch, s.heads, s.qLen, s.headDim, Layout::BHSD, DataType::BF16);
  args.lse.data = static_cast<float *>(lse.get());
  args.lse.strideBatch = int64_t(s.heads) * s.qLen;
  args.lse.strideHead = s.qLen;
  std::vector<std::unique_ptr<DeviceBuffer>> inputBuffers = uploadInputs(inputs, args);
  for (const auto &[name, text] : c.params)
    for (const dsl::ParamDecl &p : kernel->attention().params) {
      if (p.name != name)
        continue;
      dsl::ConstValue value;
      if (!reference::parseParamValue(p.type, text, value, error))
        FAIL("param " << name << ": " << error);
      args.params[name] = value;
    }
  Status status = context.launch(*kernel, args, nullptr);
  INFO("forward: " << status.message());
  REQUIRE(status.ok());

  args.dO = qkvView(dO.get(), s.batch, s.heads, s.qLen, s.headDim, Layout::BHSD, DataType::BF16);
  args.dQ = qkvView(dQ.get(), s.batch, s.heads, s.qLen, s.headDim, Layout::BHSD, DataType::BF16);
  args.dK = qkvView(dK.get(), s.batch, s.kvHeads, s.kvLen, s.headDim, Layout::BHSD, DataType::BF16);
  args.dV = qkvView(dV.get(), s.batch, s.kvHeads, s.kvLen, s.headDim, Layout::BHSD, DataType::BF16);
  std::vector<std::unique_ptr<DeviceBuffer>> gradBuffers;
  for (const auto &g : golden.inputs) {
    gradBuffers.push_back(std::make_unique<DeviceBuffer>(g.values.size() * sizeof(float)));
    gradBuffers.back()->poison();
    args.inputGrads[g.name].data = static_cast<float *>(gradBuffers.back()->get());
  }
  status = context.launchBackward(*kernel, args, nullptr);
  INFO("backward: " << status.message());
  REQUIRE(status.ok());
  if (!streamSynchronize(nullptr, error))
    FAIL("the backward failed: " << error);

  auto compare = [&](const char *name, const DeviceBuffer &buffer, const std::vector<float> &want) {
    std::vector<uint16_t> got(want.size());
    buffer.download(got.data(), got.size() * 2);
    Comparison cmp;
    for (size_t i = 0; i < want.size(); ++i)
      cmp.add(reference::bfloat16ToDouble(got[i]), want[i],
              std::string(name) + "[" + std::to_string(i) + "]");
    return cmp;
  };
  Comparison cq = compare("dQ", dQ, golden.dq), ck = compare("dK", dK, golden.dk),
             cv = compare("dV", dV, golden.dv);
  std::ostringstream line;
  line << "backward golden " << c.name << ": max |err| / max |golden| dQ " << cq.ratio() << ", dK "
       << ck.ratio() << ", dV " << cv.ratio();
  for (size_t i = 0; i < golden.inputs.size(); ++i) {
    const auto &g = golden.inputs[i];
    std::vector<float> got(g.values.size());
    gradBuffers[i]->download(got.data(), got.size() * sizeof(float));
    Comparison cg;
    for (size_t e = 0; e < got.size(); ++e)
      cg.add(got[e], g.values[e], "d" + g.name + "[" + std::to_string(e) + "]");
    INFO("d" << g.name << ": max |error| " << cg.worst << " of max |grad| " << cg.largest << " "
             << cg.first);
    CHECK(cg.ok(kRelativeTolerance));
    line << ", d" << g.name << " " << cg.ratio();
  }
  INFO("dQ: max |error| " << cq.worst << " of max |dQ| " << cq.largest << " " << cq.first);
  INFO("dK: max |error| " << ck.worst << " of max |dK| " << ck.largest << " " << ck.first);
  INFO("dV: max |error| " << cv.worst << " of max |dV| " << cv.largest << " " << cv.first);
  CHECK(cq.ok(kRelativeTolerance));
  CHECK(ck.ok(kRelativeTolerance));
  CHECK(cv.ok(kRelativeTolerance));
  std::cout << line.str() << std::endl;
}

} // namespace

TEST_CASE("the GPU backward reproduces every backward golden", "[gpu][golden][backward]") {
  ATTNC_REQUIRE_GPU();
  std::string error, manifestText = attnc::test::readFile(goldenDirectory() + "/BACKWARD.txt");
  std::vector<reference::GoldenCase> cases;
  INFO("golden directory " << goldenDirectory());
  REQUIRE(reference::parseManifest(manifestText, cases, error));
  REQUIRE(cases.size() > 0);

  Context context(ContextOptions{std::string()});
  int compared = 0;
  for (const reference::GoldenCase &c : cases) {
    int d = c.shape.headDim;
    if (d != 64 && d != 128 && d != 256)
      continue; // the kernels' head dims
    reference::BackwardGoldenFile golden;
    INFO("case " << c.name);
    REQUIRE(reference::readBackwardGoldenFile(goldenDirectory() + "/" + c.name + ".bgold", golden,
                                              error));
    REQUIRE(golden.caseLine == c.toLine());
    runBackwardGolden(context, c, golden);
    ++compared;
  }
  std::cout << compared << " backward golden cases compared on the GPU" << std::endl;
  CHECK(compared == int(cases.size()));
}
