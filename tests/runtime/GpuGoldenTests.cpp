//===- GpuGoldenTests.cpp - GPU kernels against the golden outputs --------===//
//
// Every golden case of tests/golden (the CPU reference's stored float64 results) is run
// through the GPU kernel on the same seeded inputs and compared with the stored output.
// The kernel reads bf16 (or, for f16 cases, f16) Q/K/V, so cases generated from f32 inputs
// see the inputs rounded to bf16: the tolerance is a bf16 one. Prints "skipped: <reason>"
// without a GPU.
//
//===----------------------------------------------------------------------===//
#include "GpuTestSupport.h"
#include "TestUtil.h"

#include "attnc/reference/Golden.h"
#include "attnc/reference/Random.h"
#include "attnc/runtime/Device.h"
#include "attnc/runtime/Runtime.h"

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdlib>
#include <iostream>

using namespace attnc;
using namespace attnc::runtime;
using attnc::test::compileExample;
using attnc::test::makeInputs;

namespace {

std::string goldenDirectory() {
  if (const char *dir = std::getenv("ATTNC_GOLDEN_DIR"); dir && *dir)
    return dir;
  return ATTNC_TEST_GOLDEN_DIR;
}

/// Device allocations freed at scope exit.
struct DeviceAllocations {
  std::vector<void *> pointers;
  ~DeviceAllocations() {
    std::string ignored;
    for (void *p : pointers)
      deviceFree(p, ignored);
  }
  void *upload(const void *host, size_t bytes) {
    void *p = allocate(bytes);
    std::string error;
    if (!copyToDevice(p, host, bytes, error))
      FAIL("copyToDevice: " << error);
    return p;
  }
  void *allocate(size_t bytes) {
    void *p = nullptr;
    std::string error;
    if (!deviceAlloc(&p, bytes, error))
      FAIL("deviceAlloc: " << error);
    pointers.push_back(p);
    return p;
  }
};

struct CaseResult {
  double relL2 = 0, maxLseError = 0;
  size_t emptyRowMismatches = 0, unwritten = 0;
};

CaseResult runCase(Context &context, const reference::GoldenCase &c,
                   const reference::GoldenFile &golden) {
  const reference::ProblemShape &s = c.shape;
  bool f16 = c.qkvType == reference::DType::F16;
  const DataType dtype = f16 ? DataType::F16 : DataType::BF16;
  std::shared_ptr<Kernel> kernel = compileExample(context, c.example, s.headDim, dtype, c.consts);
  reference::ProblemInputs inputs = makeInputs(*kernel, s, c.seed, dtype);
  std::string error;

  DeviceAllocations memory;
  auto type = f16 ? dsl::ElementType::F16 : dsl::ElementType::BF16;
  Arguments args;
  args.q = QkvTensor::bhsd(memory.upload(inputs.q.bytes.data(), inputs.q.bytes.size()), s.batch,
                           s.heads, s.qLen, s.headDim, type);
  args.k = QkvTensor::bhsd(memory.upload(inputs.k.bytes.data(), inputs.k.bytes.size()), s.batch,
                           s.kvHeads, s.kvLen, s.headDim, type);
  args.v = QkvTensor::bhsd(memory.upload(inputs.v.bytes.data(), inputs.v.bytes.size()), s.batch,
                           s.kvHeads, s.kvLen, s.headDim, type);
  size_t rows = size_t(s.batch) * s.heads * s.qLen;
  void *out = memory.allocate(rows * s.headDim * 2);
  void *lse = memory.allocate(rows * sizeof(float));
  if (!deviceMemset(out, 0xff, rows * s.headDim * 2, error) || // NaN poison
      !deviceMemset(lse, 0xff, rows * sizeof(float), error))
    FAIL("deviceMemset: " << error);
  args.o = QkvTensor::bhsd(out, s.batch, s.heads, s.qLen, s.headDim, type);
  args.lse.data = static_cast<float *>(lse);
  args.lse.strideBatch = int64_t(s.heads) * s.qLen;
  args.lse.strideHead = s.qLen;
  for (const auto &input : inputs.inputs) {
    InputTensor tensor;
    tensor.data = memory.upload(input.tensor.bytes.data(), input.tensor.bytes.size());
    tensor.dtype = static_cast<dsl::ElementType>(input.tensor.dtype);
    tensor.dims = input.tensor.dims;
    args.inputs[input.name] = tensor;
  }
  for (const auto &[name, text] : c.params) {
    for (const dsl::ParamDecl &p : kernel->attention().params) {
      if (p.name != name)
        continue;
      dsl::ConstValue value;
      if (!reference::parseParamValue(p.type, text, value, error))
        FAIL("param " << name << ": " << error);
      args.params[name] = value;
    }
  }
  Status status = context.launch(*kernel, args, nullptr);
  INFO(status.message());
  REQUIRE(status.ok());
  if (!streamSynchronize(nullptr, error))
    FAIL("the kernel failed: " << error);

  std::vector<uint16_t> gotOut(rows * s.headDim);
  std::vector<float> gotLse(rows);
  if (!copyToHost(gotOut.data(), out, gotOut.size() * 2, error) ||
      !copyToHost(gotLse.data(), lse, gotLse.size() * sizeof(float), error))
    FAIL("copyToHost: " << error);

  CaseResult r;
  double num = 0, den = 0;
  for (size_t row = 0; row < rows; ++row) {
    bool empty = std::isinf(golden.lse[row]);
    if (empty != (std::isinf(gotLse[row]) && gotLse[row] < 0))
      ++r.emptyRowMismatches;
    else if (!empty)
      r.maxLseError = std::max(r.maxLseError, double(std::fabs(gotLse[row] - golden.lse[row])));
    for (int col = 0; col < s.headDim; ++col) {
      uint16_t bits = gotOut[row * s.headDim + col];
      double got = f16 ? reference::halfToDouble(bits) : reference::bfloat16ToDouble(bits);
      double want = golden.out[row * s.headDim + col];
      if (std::isnan(got)) {
        ++r.unwritten;
        continue;
      }
      if (empty && got != 0.0)
        ++r.emptyRowMismatches;
      num += (got - want) * (got - want);
      den += want * want;
    }
  }
  r.relL2 = den > 0 ? std::sqrt(num / den) : std::sqrt(num);
  return r;
}

} // namespace

TEST_CASE("GPU kernels reproduce every golden output", "[gpu][golden]") {
  std::string reason;
  if (!deviceAvailable(reason)) {
    std::cout << "skipped: " << reason << std::endl;
    WARN("skipped: " << reason);
    return;
  }
  std::string error, manifestText = attnc::test::readFile(goldenDirectory() + "/MANIFEST.txt");
  std::vector<reference::GoldenCase> cases;
  INFO("golden directory " << goldenDirectory());
  REQUIRE(reference::parseManifest(manifestText, cases, error));
  REQUIRE(cases.size() > 0);

  Context context;
  int compared = 0;
  for (const reference::GoldenCase &c : cases) {
    int d = c.shape.headDim;
    if (d != 64 && d != 128 && d != 256)
      continue; // the kernel's head dims; the reference alone covers the others
    reference::GoldenFile golden;
    INFO("case " << c.name);
    REQUIRE(reference::readGoldenFile(goldenDirectory() + "/" + c.name + ".gold", golden, error));
    CaseResult r = runCase(context, c, golden);
    INFO("rel L2 " << r.relL2 << ", max |dLSE| " << r.maxLseError << ", unwritten " << r.unwritten
                   << ", empty-row mismatches " << r.emptyRowMismatches);
    CHECK(r.unwritten == 0);
    CHECK(r.emptyRowMismatches == 0);
    CHECK(r.relL2 <= 1.5e-2);
    CHECK(r.maxLseError <= 3e-2);
    std::cout << "golden " << c.name << ": rel L2 " << r.relL2 << ", max |dLSE| " << r.maxLseError
              << std::endl;
    ++compared;
  }
  std::cout << compared << " golden cases compared on the GPU" << std::endl;
  CHECK(compared >= 60);
}
