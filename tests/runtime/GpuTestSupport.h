//===- GpuTestSupport.h - Shared pieces of the GPU test files ---*- C++ -*-===//
//
// Device buffers, the skip-without-GPU guard, tensor layouts and example compiles, used by
// GpuTests.cpp (forward) and GpuBackwardTests.cpp.
//
//===----------------------------------------------------------------------===//
#ifndef ATTNC_TESTS_RUNTIME_GPUTESTSUPPORT_H
#define ATTNC_TESTS_RUNTIME_GPUTESTSUPPORT_H

#include "TestUtil.h"

#include "attnc/reference/HostTensor.h"
#include "attnc/reference/Random.h"
#include "attnc/runtime/Device.h"
#include "attnc/runtime/Runtime.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

namespace attnc::test {

using namespace attnc::runtime;

/// Prints the reason and returns from the test when no GPU is usable.
#define ATTNC_REQUIRE_GPU()                                                                        \
  do {                                                                                             \
    std::string gpuReason;                                                                         \
    if (!deviceAvailable(gpuReason)) {                                                             \
      std::cout << "skipped: " << gpuReason << std::endl;                                          \
      WARN("skipped: " << gpuReason);                                                              \
      return;                                                                                      \
    }                                                                                              \
  } while (0)

/// Device memory freed at scope exit.
class DeviceBuffer {
public:
  explicit DeviceBuffer(size_t bytes) : bytes_(bytes) {
    std::string error;
    if (!deviceAlloc(&pointer_, bytes, error))
      FAIL("deviceAlloc: " << error);
  }
  ~DeviceBuffer() {
    std::string ignored;
    deviceFree(pointer_, ignored);
  }
  DeviceBuffer(const DeviceBuffer &) = delete;
  DeviceBuffer &operator=(const DeviceBuffer &) = delete;
  void *get() const { return pointer_; }
  void upload(const void *host, size_t bytes) {
    std::string error;
    REQUIRE(bytes <= bytes_);
    if (!copyToDevice(pointer_, host, bytes, error))
      FAIL("copyToDevice: " << error);
  }
  void download(void *host, size_t bytes) const {
    std::string error;
    if (!copyToHost(host, pointer_, bytes, error))
      FAIL("copyToHost: " << error);
  }
  /// 0xff: NaN in bf16, fp16 and fp32. Rows expected to be NaN need a finite poison
  /// instead (0x40: 3.0 in bf16, 2.125 in fp16, ~3.0 in fp32).
  void poison(unsigned char byte = 0xff) {
    std::string error;
    if (!deviceMemset(pointer_, byte, bytes_, error))
      FAIL("deviceMemset: " << error);
  }

private:
  void *pointer_ = nullptr;
  size_t bytes_;
};

enum class Layout { BHSD, BSHD };

/// [b][h][t][c] contiguous (BHSD bytes) -> the requested layout, 16-bit elements.
inline std::vector<uint8_t> toLayout(const reference::OwnedTensor &t, Layout layout) {
  if (layout == Layout::BHSD)
    return t.bytes;
  int64_t B = t.dims[0], H = t.dims[1], S = t.dims[2], D = t.dims[3];
  std::vector<uint8_t> out(t.bytes.size());
  size_t element = reference::dtypeSize(t.dtype);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t s = 0; s < S; ++s)
        std::memcpy(&out[size_t(((b * S + s) * H + h) * D) * element],
                    &t.bytes[size_t(((b * H + h) * S + s) * D) * element], size_t(D) * element);
  return out;
}

inline QkvTensor qkvView(void *data, int batch, int heads, int tokens, int d, Layout layout,
                         DataType dtype) {
  dsl::ElementType type = dtype == DataType::BF16 ? dsl::ElementType::BF16 : dsl::ElementType::F16;
  return layout == Layout::BHSD ? QkvTensor::bhsd(data, batch, heads, tokens, d, type)
                                : QkvTensor::bshd(data, batch, heads, tokens, d, type);
}

inline double decode(uint16_t bits, DataType dtype) {
  return dtype == DataType::BF16 ? reference::bfloat16ToDouble(bits)
                                 : reference::halfToDouble(bits);
}

/// The suite tests one tier at a time: the optimized kernels, or with ATTNC_TIERED=quick
/// the quick ones (never a race between the two).
inline CompileOptions::Tiering suiteTiering() {
  const char *tiered = std::getenv("ATTNC_TIERED");
  return tiered && std::string(tiered) == "quick" ? CompileOptions::Tiering::On
                                                  : CompileOptions::Tiering::Off;
}

inline std::shared_ptr<Kernel> compileExample(Context &context, const std::string &name,
                                              int headDim, DataType dtype = DataType::BF16,
                                              const std::vector<dsl::ConstOverride> &defines = {}) {
  CompileOptions options;
  options.headDim = headDim;
  options.dtype = dtype;
  options.defines = defines;
  options.tiering = suiteTiering();
  std::shared_ptr<Kernel> kernel;
  std::string diagnostics;
  std::string path = attnc::test::examplesDirectory() + "/" + name + ".attn";
  Status status = context.compileFile(path, options, kernel, diagnostics);
  INFO(path << ": " << status.message() << "\n" << diagnostics);
  REQUIRE(status.ok());
  return kernel;
}

inline reference::ProblemShape shape(int batch, int heads, int kvHeads, int qLen, int kvLen,
                                     int d) {
  return {batch, heads, kvHeads, qLen, kvLen, d};
}

/// The reference's seeded inputs of `kernel` at shape `s`, Q, K and V in `dtype`.
inline reference::ProblemInputs makeInputs(const Kernel &kernel, const reference::ProblemShape &s,
                                           uint64_t seed, DataType dtype) {
  reference::ProblemInputs inputs;
  reference::InputOptions options;
  options.qkvType = dtype == DataType::BF16 ? reference::DType::BF16 : reference::DType::F16;
  std::string error;
  if (!reference::makeProblemInputs(kernel.program(), kernel.attention(), s, seed, inputs, error,
                                    options))
    FAIL("makeProblemInputs: " << error);
  return inputs;
}

/// The problem's input tensors on the device, bound in `args`; the buffers live as long as
/// the returned vector.
inline std::vector<std::unique_ptr<DeviceBuffer>>
uploadInputs(const reference::ProblemInputs &inputs, Arguments &args) {
  std::vector<std::unique_ptr<DeviceBuffer>> buffers;
  for (const auto &input : inputs.inputs) {
    buffers.push_back(std::make_unique<DeviceBuffer>(input.tensor.bytes.size()));
    buffers.back()->upload(input.tensor.bytes.data(), input.tensor.bytes.size());
    InputTensor tensor;
    tensor.data = buffers.back()->get();
    tensor.dtype = static_cast<dsl::ElementType>(input.tensor.dtype);
    tensor.dims = input.tensor.dims;
    args.inputs[input.name] = tensor;
  }
  return buffers;
}

/// max |got - want| over a tensor, against a bound relative to its largest reference
/// magnitude (bf16 P and dS in the tensor-core products give errors proportional to the
/// gradient's scale; FlashAttention's tests compare the same way); any non-finite value (a
/// poisoned, unwritten element) fails.
struct Comparison {
  double worst = 0, largest = 0;
  size_t nonFinite = 0;
  std::string first;
  void add(double got, double want, const std::string &where) {
    largest = std::max(largest, std::fabs(want));
    if (!std::isfinite(got)) {
      if (nonFinite++ == 0)
        first = where + " is not finite";
      return;
    }
    worst = std::max(worst, std::fabs(got - want));
  }
  double ratio() const { return worst / std::max(largest, 1e-30); }
  bool ok(double relative) const { return nonFinite == 0 && worst <= relative * largest + 1e-4; }
};

} // namespace attnc::test

#endif // ATTNC_TESTS_RUNTIME_GPUTESTSUPPORT_H
