//===- NvrtcTests.cpp - NVRTC compilation and kernel source assembly -------===//
//
// None of this needs a GPU: NVRTC and the CUDA headers suffice.
//
//===----------------------------------------------------------------------===//
#include "attnc/runtime/EmbeddedSources.h"
#include "attnc/runtime/KernelSource.h"
#include "attnc/runtime/Nvrtc.h"
#include "attnc/runtime/Runtime.h"

#include <catch2/catch.hpp>

#include <cstdlib>
#include <cstring>

using namespace attnc::runtime;

namespace {
bool isElf(const std::string &binary) {
  return binary.size() > 4 && std::memcmp(binary.data(),
                                          "\x7f"
                                          "ELF",
                                          4) == 0;
}

/// Hand-written hooks for a causal mask, in the form the compiler generates them
/// (KernelArgs.h), so the template can be compiled independently of the compiler.
const char *kCausalHooks = R"cuda(
static __device__ __forceinline__ bool attnc_mask(const AttncArgs &a, int b, int h, int q, int k) {
  return q + (a.kv_len - a.q_len) >= k;
}
static __device__ __forceinline__ float attnc_score(const AttncArgs &a, float s, int b, int h,
                                                    int q, int k) {
  return s;
}
static __device__ __forceinline__ float attnc_out(const AttncArgs &a, float o, int b, int h,
                                                  int q, int c) {
  return o;
}
static __device__ __forceinline__ int attnc_classify(const AttncArgs &a, int b, int h, int q_lo,
                                                     int q_hi, int k_lo, int k_hi) {
  int shift = a.kv_len - a.q_len;
  if (q_hi + shift < k_lo) return ATTNC_TILE_EMPTY;
  if (q_lo + shift >= k_hi) return ATTNC_TILE_FULL;
  return ATTNC_TILE_PARTIAL;
}
static __device__ __forceinline__ int attnc_kv_ranges(const AttncArgs &a, int b, int h, int q_lo,
                                                      int q_hi, int *lo, int *hi) {
  lo[0] = 0;
  hi[0] = min(a.kv_len, q_hi + (a.kv_len - a.q_len) + 1);
  return 1;
}
// The program's variant, as the compiler writes it (Codegen.cpp).
struct AttncProgram {
  static constexpr bool kHasScore = false, kHasOut = false, kHasRoute = false;
  static constexpr bool kMaskAlwaysTrue = false, kMaskFactors = false, kHasSummaries = false;
  static constexpr bool kHasKvBounds = true, kKvRangesExact = true, kCoordinateReads = false;
  static constexpr bool kQueryWindow = false;
  static constexpr int kMaskComparisons = 1;
  static constexpr unsigned kSummarizedInputs = 0u;
  static constexpr bool kHasRowTiles = false;
  static __device__ __forceinline__ bool mask(const AttncArgs &a, int b, int h, int q, int k) {
    return attnc_mask(a, b, h, q, k);
  }
  static __device__ __forceinline__ float score(const AttncArgs &a, float s, int b, int h, int q,
                                                int k) {
    return attnc_score(a, s, b, h, q, k);
  }
  static __device__ __forceinline__ float out(const AttncArgs &a, float o, int b, int h, int q,
                                              int c) {
    return attnc_out(a, o, b, h, q, c);
  }
  static __device__ __forceinline__ int classify(const AttncArgs &a, int b, int h, int q_lo,
                                                 int q_hi, int k_lo, int k_hi) {
    return attnc_classify(a, b, h, q_lo, q_hi, k_lo, k_hi);
  }
  static __device__ __forceinline__ int kvRanges(const AttncArgs &a, int b, int h, int q_lo,
                                                 int q_hi, int *lo, int *hi) {
    return attnc_kv_ranges(a, b, h, q_lo, q_hi, lo, hi);
  }
};
)cuda";
} // namespace

TEST_CASE("architecture names are validated", "[nvrtc]") {
  CHECK(isValidArch("sm_80"));
  CHECK(isValidArch("sm_86"));
  CHECK(isValidArch("sm_90a"));
  CHECK(isValidArch("sm_100a"));
  CHECK_FALSE(isValidArch("sm_75"));
  CHECK_FALSE(isValidArch("compute_80"));
  CHECK_FALSE(isValidArch("sm_90b"));
  CHECK_FALSE(isValidArch(""));
  NvrtcResult result = compileToCubin("__global__ void f() {}", "sm_70");
  CHECK_FALSE(result.ok);
  CHECK(result.error.find("unsupported GPU architecture 'sm_70'") != std::string::npos);
}

TEST_CASE("a small kernel compiles to a cubin for sm_80 and sm_90a", "[nvrtc]") {
  const char *source = R"cuda(
#include <cuda_bf16.h>
extern "C" __global__ void scale(__nv_bfloat16 *x, float s, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) x[i] = __float2bfloat16(__bfloat162float(x[i]) * s);
}
)cuda";
  for (const char *arch : {"sm_80", "sm_90a"}) {
    INFO(arch);
    NvrtcResult result = compileToCubin(source, arch);
    INFO(result.error << "\n" << result.log);
    REQUIRE(result.ok);
    CHECK(isElf(result.binary));
  }
  NvrtcResult ptx = compileCuda(source, "scale.cu", "sm_90a", NvrtcOutput::Ptx);
  REQUIRE(ptx.ok);
  CHECK(ptx.binary.find(".entry scale") != std::string::npos);
  CHECK(!nvrtcVersionString().empty());
}

TEST_CASE("compile errors come back with NVRTC's log", "[nvrtc]") {
  NvrtcResult result = compileToCubin("__global__ void f() { undeclared_name = 1; }", "sm_80");
  CHECK_FALSE(result.ok);
  CHECK(result.error.find("NVRTC compilation for sm_80 failed") != std::string::npos);
  CHECK(result.log.find("undeclared_name") != std::string::npos);
}

TEST_CASE("the kernel templates are embedded in the library", "[nvrtc]") {
  const char *args = embeddedFile("KernelArgs.h");
  REQUIRE(args);
  CHECK(std::strstr(args, "typedef struct AttncArgs") != nullptr);
  CHECK(embeddedFile("abi/include/attnc/abi/KernelArgs.h") == args);
  CHECK(embeddedFile("sm80/forward.cuh") != nullptr);
  CHECK(embeddedFile("sm90/forward.cuh") != nullptr);
  CHECK(embeddedFile("primitives/tile.cuh") != nullptr);
  CHECK(embeddedFile("no_such_file.cuh") == nullptr);
  CHECK(embeddedSourcesDigest().size() == 64);
}

TEST_CASE("the assembled forward kernel compiles for sm_80 and sm_90a", "[nvrtc]") {
  struct Case {
    const char *arch;
    bool bf16;
    int headDim;
    bool hopper;
  } cases[] = {{"sm_80", true, 128, false}, {"sm_90a", true, 128, false},
               {"sm_80", false, 64, false}, {"sm_90a", true, 128, true},
               {"sm_90a", false, 64, true}, {"sm_90a", true, 256, true}};
  for (const Case &c : cases) {
    KernelConfig config;
    config.arch = c.arch;
    config.hopper = c.hopper;
    config.bf16 = c.bf16;
    config.headDim = c.headDim;
    INFO(c.arch << (c.bf16 ? " bf16" : " fp16") << " d" << c.headDim
                << (c.hopper ? " forward_sm90" : " forward_sm80"));
    std::string source, error;
    REQUIRE(assembleKernelSource(kCausalHooks, config, source, error));
    CHECK(source.find("#define ATTNC_HEAD_DIM " + std::to_string(c.headDim)) != std::string::npos);
    NvrtcResult result =
        compileCuda(source, "causal.cu", c.arch, NvrtcOutput::Cubin, {}, kernelHeaders());
    INFO(result.error << "\n" << result.log);
    REQUIRE(result.ok);
    CHECK(isElf(result.binary));
    // The entry and the runtime's summary pre-pass are both in the module.
    CHECK(result.binary.find(forwardKernelName(config)) != std::string::npos);
    CHECK(result.binary.find(kSummaryKernelName) != std::string::npos);
  }
}

TEST_CASE("the Hopper template's development variants compile", "[nvrtc]") {
  // Not the default build, so nothing else compiles them: the counters (ATTNC_SM90_TRACE,
  // read back through the `attnc_trace` symbol) and the unmasked mode, as a development
  // build's runtime would define them.
  KernelConfig config;
  config.arch = "sm_90a";
  config.hopper = true;
  config.bf16 = true;
  config.headDim = 128;
  std::string source, error;
  REQUIRE(assembleKernelSource(kCausalHooks, config, source, error));
  source =
      "#define ATTNC_DEV_BUILD 1\n#define ATTNC_SM90_TRACE 1\n#define ATTNC_SM90_DEV_UNMASKED 1\n" +
      source;
  NvrtcResult result =
      compileCuda(source, "causal_trace.cu", "sm_90a", NvrtcOutput::Cubin, {}, kernelHeaders());
  INFO(result.error << "\n" << result.log);
  REQUIRE(result.ok);
  CHECK(result.binary.find(forwardKernelName(config)) != std::string::npos);
  CHECK(result.binary.find("attnc_trace") != std::string::npos);
}

TEST_CASE("the development instruments need a development build", "[nvrtc]") {
  KernelConfig config;
  config.arch = "sm_90a";
  config.hopper = true;
  config.bf16 = true;
  config.headDim = 128;
  std::string source, error;
  // The template refuses the unmasked mode (wrong results) unless the source says it comes
  // from a development build.
  REQUIRE(assembleKernelSource(kCausalHooks, config, source, error));
  CHECK(source.find("#define ATTNC_DEV_BUILD") == std::string::npos);
  NvrtcResult result =
      compileCuda("#define ATTNC_SM90_DEV_UNMASKED 1\n" + source, "causal_unmasked.cu", "sm_90a",
                  NvrtcOutput::Ptx, {}, kernelHeaders());
  CHECK_FALSE(result.ok);
  CHECK(result.log.find("need a development build") != std::string::npos);

  // The runtime takes ATTNC_KERNEL_DEFINES only in a development build; a release build
  // refuses it by name.
  setenv("ATTNC_KERNEL_DEFINES", "ATTNC_SM90_DEV_UNMASKED=1", 1);
  std::string devSource, devError;
  const bool ok = assembleKernelSource(kCausalHooks, config, devSource, devError);
  unsetenv("ATTNC_KERNEL_DEFINES");
#ifdef ATTNC_TEST_DEV_BUILD
  REQUIRE(ok);
  CHECK(devSource.find("#define ATTNC_DEV_BUILD 1\n") != std::string::npos);
  CHECK(devSource.find("#define ATTNC_SM90_DEV_UNMASKED 1\n") != std::string::npos);
#else
  CHECK_FALSE(ok);
  CHECK(devError.find("ATTNC_KERNEL_DEFINES is a development setting") != std::string::npos);
  CHECK(devError.find("-DATTNC_DEV_BUILD=ON") != std::string::npos);
#endif
}

TEST_CASE("programs with inf, -inf and NaN constants compile for sm_80 and sm_90a",
          "[nvrtc][nonfinite]") {
  // Every kind of hook with a non-finite constant (f32 mask, score and out; the f64 route
  // gate), through the same path as `attnc compile` and Context::compile: hooks, routing
  // source, the template of the architecture (sm80/forward.cuh for sm_80, sm90/forward.cuh
  // for sm_90a), NVRTC.
  const std::string source = "attention nonfinite {\n"
                             "  input t: f32[kv_len];\n"
                             "  const nan = 0.0 * inf;\n"
                             "  mask = t[k] > -inf && causal;\n"
                             "  score = select(k <= q - 2, score, -1.0 / 0.0) +\n"
                             "          select(k == 7, log(0.0), score);\n"
                             "  out = select(out > 3e38, nan, out);\n"
                             "  route {\n"
                             "    block = 64;\n"
                             "    gate = select(blk == 0, inf, dot(query, key));\n"
                             "    select = top(2);\n"
                             "    never = float(blk) * nan > 1.0;\n"
                             "  }\n"
                             "}\n";
  Context context(ContextOptions{std::string()});
  for (const char *arch : {"sm_80", "sm_90a"}) {
    CompileOptions options;
    options.arch = arch;
    options.headDim = 64;
    options.tiering = CompileOptions::Tiering::Off;
    std::shared_ptr<Kernel> kernel;
    std::string diagnostics;
    Status status = context.compile(source, "nonfinite.attn", options, kernel, diagnostics);
    INFO(arch << ": " << status.message() << "\n" << diagnostics);
    REQUIRE(status.ok());
    // -1.0 / 0.0 is a warning, not an error; inf is written as its bits, never INFINITY.
    CHECK(diagnostics.find("warning: float division by zero: the result is -inf") !=
          std::string::npos);
    CHECK(kernel->cudaSource().find("INFINITY") == std::string::npos);
    CHECK(kernel->cudaSource().find("attnc_bits_float(0xFF800000u)") != std::string::npos);
    CHECK(kernel->cudaSource().find("attnc_bits_double(0x7FF0000000000000ull)") !=
          std::string::npos);
    CHECK(isElf(kernel->cubin()));
    CHECK(kernel->cubin().find(std::string("attnc_forward_") +
                               (std::string(arch) == "sm_90a" ? "sm90" : "sm80")) !=
          std::string::npos);
  }
}
