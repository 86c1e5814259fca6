//===- CApiTests.cpp - The C ABI: errors, validation, CPU reference, compile ===//
#include "TestUtil.h"

#include "attnc/attnc.h"
#include "attnc/compiler/Codegen.h"
#include "attnc/dsl/Frontend.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <limits>
#include <string>
#include <thread>

#include <pthread.h>
#include <vector>

using attnc::test::TempDir;

namespace {
bool contains(const std::string &text, const std::string &part) {
  return text.find(part) != std::string::npos;
}

/// A context with a private cache directory, an options object and an args object,
/// released at scope exit.
struct Fixture {
  TempDir dir;
  attnc_context *ctx = nullptr;
  attnc_options *options = nullptr;
  attnc_args *args = nullptr;
  Fixture() {
    REQUIRE(attnc_context_create(dir.path().c_str(), &ctx) == ATTNC_OK);
    REQUIRE(attnc_options_create(&options) == ATTNC_OK);
    REQUIRE(attnc_args_create(&args) == ATTNC_OK);
  }
  ~Fixture() {
    attnc_args_destroy(args);
    attnc_options_destroy(options);
    attnc_context_destroy(ctx);
  }
  attnc_kernel *compile(const char *source, const char *arch = "none") {
    attnc_options_set_arch(options, arch);
    attnc_kernel *kernel = nullptr;
    attnc_status status = attnc_compile(ctx, source, "test.attn", options, &kernel);
    INFO(attnc_last_error());
    REQUIRE(status == ATTNC_OK);
    REQUIRE(kernel);
    return kernel;
  }
};

/// Host buffers in f32 for Q [B,H,S,D], K and V [B,KV,T,D] and O, filled with a simple
/// deterministic pattern, bound BHSD.
struct HostProblem {
  int batch, heads, kvHeads, qLen, kvLen, d;
  std::vector<float> q, k, v, o;
  HostProblem(int batch, int heads, int kvHeads, int qLen, int kvLen, int d)
      : batch(batch), heads(heads), kvHeads(kvHeads), qLen(qLen), kvLen(kvLen), d(d),
        q(size_t(batch) * heads * qLen * d), k(size_t(batch) * kvHeads * kvLen * d), v(k.size()),
        o(q.size(), NAN) {
    for (size_t i = 0; i < q.size(); ++i)
      q[i] = float(std::sin(0.37 * double(i)));
    for (size_t i = 0; i < k.size(); ++i) {
      k[i] = float(std::cos(0.11 * double(i)));
      v[i] = float(i % 17) - 8.0f;
    }
  }
  void bind(attnc_args *args) {
    REQUIRE(attnc_args_set_tensor(args, ATTNC_Q, q.data(), ATTNC_F32, batch, heads, qLen, d,
                                  int64_t(heads) * qLen * d, int64_t(qLen) * d, d) == ATTNC_OK);
    REQUIRE(attnc_args_set_tensor(args, ATTNC_K, k.data(), ATTNC_F32, batch, kvHeads, kvLen, d,
                                  int64_t(kvHeads) * kvLen * d, int64_t(kvLen) * d, d) == ATTNC_OK);
    REQUIRE(attnc_args_set_tensor(args, ATTNC_V, v.data(), ATTNC_F32, batch, kvHeads, kvLen, d,
                                  int64_t(kvHeads) * kvLen * d, int64_t(kvLen) * d, d) == ATTNC_OK);
    REQUIRE(attnc_args_set_tensor(args, ATTNC_O, o.data(), ATTNC_F32, batch, heads, qLen, d,
                                  int64_t(heads) * qLen * d, int64_t(qLen) * d, d) == ATTNC_OK);
  }
  float oAt(int b, int h, int t, int c) const {
    return o[((size_t(b) * heads + h) * qLen + t) * d + c];
  }
  float vAt(int b, int h, int t, int c) const {
    return v[((size_t(b) * kvHeads + h) * kvLen + t) * d + c];
  }
};

const char *kCausal = "attention causal { mask = causal; }";
const char *kWindowed = R"(
attention windowed {
  param window: int;
  param bonus: float = 0.0;
  input doc: i32[batch, q_len];
  mask = causal && q - k < window && doc[b, q] == doc[b, k];
  score = score + bonus;
}
)";
} // namespace

TEST_CASE("null handles and pointers give INVALID_ARGUMENT with a message", "[capi]") {
  CHECK(attnc_context_create(nullptr, nullptr) == ATTNC_ERROR_INVALID_ARGUMENT);
  CHECK(contains(attnc_last_error(), "attnc_context_create"));
  attnc_kernel *kernel = nullptr;
  CHECK(attnc_compile(nullptr, kCausal, nullptr, nullptr, &kernel) == ATTNC_ERROR_INVALID_ARGUMENT);
  CHECK(contains(attnc_last_error(), "ctx must not be null"));
  CHECK(attnc_run(nullptr, nullptr, nullptr, nullptr) == ATTNC_ERROR_INVALID_ARGUMENT);
  CHECK(attnc_run_reference(nullptr, nullptr, nullptr, 0) == ATTNC_ERROR_INVALID_ARGUMENT);
  CHECK(attnc_args_set_tensor(nullptr, ATTNC_Q, nullptr, ATTNC_BF16, 1, 1, 1, 64, 0, 0, 0) ==
        ATTNC_ERROR_INVALID_ARGUMENT);
  CHECK(attnc_options_set_head_dim(nullptr, 64) == ATTNC_ERROR_INVALID_ARGUMENT);
  CHECK(attnc_device_malloc(nullptr, 16) == ATTNC_ERROR_INVALID_ARGUMENT);
  // Destroying null handles is harmless.
  attnc_context_destroy(nullptr);
  attnc_options_destroy(nullptr);
  attnc_args_destroy(nullptr);
  attnc_kernel_release(nullptr);

  Fixture f;
  CHECK(attnc_compile(f.ctx, nullptr, nullptr, nullptr, &kernel) == ATTNC_ERROR_INVALID_ARGUMENT);
  CHECK(contains(attnc_context_last_error(f.ctx), "source must not be null"));
  CHECK(attnc_run(f.ctx, nullptr, f.args, nullptr) == ATTNC_ERROR_INVALID_ARGUMENT);
  CHECK(contains(attnc_context_last_error(f.ctx), "attnc_run"));
}

TEST_CASE("status strings and the version are available", "[capi]") {
  CHECK(std::string(attnc_status_string(ATTNC_OK)) == "ok");
  CHECK(std::string(attnc_status_string(ATTNC_ERROR_NO_DEVICE)) == "no CUDA device");
  CHECK(std::string(attnc_status_string(static_cast<attnc_status>(99))) == "unknown status");
  CHECK(std::string(attnc_version()) == ATTNC_VERSION_STRING);
  CHECK(attnc_abi_version() == ATTNC_ABI_VERSION);
}

TEST_CASE("compile options are validated", "[capi]") {
  Fixture f;
  CHECK(attnc_options_set_head_dim(f.options, 96) == ATTNC_ERROR_INVALID_ARGUMENT);
  CHECK(contains(attnc_last_error(), "head dim 96"));
  CHECK(attnc_options_set_dtype(f.options, ATTNC_F32) == ATTNC_ERROR_INVALID_ARGUMENT);
  CHECK(attnc_options_set_dtype(f.options, ATTNC_F16) == ATTNC_OK);
  CHECK(attnc_options_set_arch(f.options, "sm_70") == ATTNC_OK);
  attnc_kernel *kernel = nullptr;
  CHECK(attnc_compile(f.ctx, kCausal, "c.attn", f.options, &kernel) ==
        ATTNC_ERROR_INVALID_ARGUMENT);
  CHECK(contains(attnc_last_error(), "unknown target architecture 'sm_70'"));
  CHECK(kernel == nullptr);
}

TEST_CASE("program errors give PARSE with rendered diagnostics", "[capi]") {
  Fixture f;
  attnc_kernel *kernel = nullptr;
  attnc_options_set_arch(f.options, "none");
  CHECK(attnc_compile(f.ctx, "attention broken {\n  mask = q < windw;\n}\n", "broken.attn",
                      f.options, &kernel) == ATTNC_ERROR_PARSE);
  CHECK(kernel == nullptr);
  std::string diagnostics = attnc_context_diagnostics(f.ctx);
  CHECK(contains(diagnostics, "broken.attn:2:"));
  CHECK(contains(diagnostics, "windw"));
  CHECK(contains(attnc_last_error(), "broken.attn"));
}

TEST_CASE("attentions are chosen by name", "[capi]") {
  Fixture f;
  const char *two = "attention a { mask = causal; }\nattention b { mask = !causal; }\n";
  attnc_kernel *kernel = nullptr;
  attnc_options_set_arch(f.options, "none");
  CHECK(attnc_compile(f.ctx, two, "two.attn", f.options, &kernel) == ATTNC_ERROR_INVALID_ARGUMENT);
  CHECK(contains(attnc_last_error(), "several attentions (a, b)"));
  attnc_options_set_attention(f.options, "c");
  CHECK(attnc_compile(f.ctx, two, "two.attn", f.options, &kernel) == ATTNC_ERROR_INVALID_ARGUMENT);
  CHECK(contains(attnc_last_error(), "no attention named 'c'"));
  attnc_options_set_attention(f.options, "b");
  REQUIRE(attnc_compile(f.ctx, two, "two.attn", f.options, &kernel) == ATTNC_OK);
  CHECK(std::string(attnc_kernel_name(kernel)) == "b");
  attnc_kernel_release(kernel);
}

TEST_CASE("kernels describe their params and inputs", "[capi]") {
  Fixture f;
  attnc_kernel *kernel = f.compile(kWindowed);
  REQUIRE(attnc_kernel_param_count(kernel) == 2);
  int kind = -1;
  CHECK(std::string(attnc_kernel_param_name(kernel, 0, &kind)) == "window");
  CHECK(kind == 0);
  CHECK(std::string(attnc_kernel_param_name(kernel, 1, &kind)) == "bonus");
  CHECK(kind == 1);
  CHECK(attnc_kernel_param_name(kernel, 2, &kind) == nullptr);
  REQUIRE(attnc_kernel_input_count(kernel) == 1);
  attnc_dtype dtype = ATTNC_F32;
  int rank = 0;
  CHECK(std::string(attnc_kernel_input_name(kernel, 0, &dtype, &rank)) == "doc");
  CHECK(dtype == ATTNC_I32);
  CHECK(rank == 2);
  CHECK(std::string(attnc_kernel_arch(kernel)) == "none");
  size_t size = 1;
  CHECK(attnc_kernel_cubin(kernel, &size) == nullptr);
  CHECK(size == 0);
  attnc_kernel_retain(kernel);
  attnc_kernel_release(kernel);
  CHECK(std::string(attnc_kernel_name(kernel)) == "windowed"); // still alive
  attnc_kernel_release(kernel);
}

TEST_CASE("arguments are validated with clear messages", "[capi]") {
  Fixture f;
  attnc_kernel *kernel = f.compile(kWindowed);
  HostProblem p(2, 4, 2, 5, 5, 8);
  std::vector<int32_t> doc(size_t(p.batch) * p.qLen, 0);
  int64_t docDims[] = {p.batch, p.qLen};

  SECTION("unbound tensors") {
    CHECK(attnc_validate(f.ctx, kernel, f.args, 0) == ATTNC_ERROR_INVALID_ARGUMENT);
    CHECK(contains(attnc_last_error(), "tensor Q is not bound"));
  }
  p.bind(f.args);
  SECTION("a missing param without default") {
    attnc_args_set_input(f.args, "doc", doc.data(), ATTNC_I32, 2, docDims, nullptr);
    CHECK(attnc_validate(f.ctx, kernel, f.args, 0) == ATTNC_ERROR_INVALID_ARGUMENT);
    CHECK(contains(attnc_last_error(), "param 'window' has no default value and was not set"));
  }
  attnc_args_set_param_int(f.args, "window", 3);
  SECTION("an unbound input") {
    CHECK(attnc_validate(f.ctx, kernel, f.args, 0) == ATTNC_ERROR_INVALID_ARGUMENT);
    CHECK(contains(attnc_last_error(), "input 'doc' (i32[2, 5]) is not bound"));
  }
  SECTION("an input of the wrong shape") {
    int64_t wrong[] = {p.batch, p.qLen + 1};
    attnc_args_set_input(f.args, "doc", doc.data(), ATTNC_I32, 2, wrong, nullptr);
    CHECK(attnc_validate(f.ctx, kernel, f.args, 0) == ATTNC_ERROR_INVALID_ARGUMENT);
    CHECK(contains(attnc_last_error(), "input 'doc' has shape [2, 6] but its declaration needs "
                                       "[2, 5]"));
  }
  SECTION("an input of the wrong dtype") {
    attnc_args_set_input(f.args, "doc", doc.data(), ATTNC_I64, 2, docDims, nullptr);
    CHECK(attnc_validate(f.ctx, kernel, f.args, 0) == ATTNC_ERROR_INVALID_ARGUMENT);
    CHECK(contains(attnc_last_error(), "declared i32 but a i64 tensor"));
  }
  SECTION("an unknown input or param") {
    attnc_args_set_input(f.args, "doc", doc.data(), ATTNC_I32, 2, docDims, nullptr);
    attnc_args_set_input(f.args, "gate", doc.data(), ATTNC_I32, 2, docDims, nullptr);
    CHECK(attnc_validate(f.ctx, kernel, f.args, 0) == ATTNC_ERROR_INVALID_ARGUMENT);
    CHECK(contains(attnc_last_error(), "has no input 'gate' (inputs: doc)"));
  }
  SECTION("a param of the wrong type") {
    attnc_args_set_input(f.args, "doc", doc.data(), ATTNC_I32, 2, docDims, nullptr);
    attnc_args_set_param_bool(f.args, "window", 1);
    CHECK(attnc_validate(f.ctx, kernel, f.args, 0) == ATTNC_ERROR_INVALID_ARGUMENT);
    CHECK(contains(attnc_last_error(), "param 'window' is int but a bool value was given"));
  }
  SECTION("a float param that is NaN or outside float32") {
    attnc_args_set_input(f.args, "doc", doc.data(), ATTNC_I32, 2, docDims, nullptr);
    attnc_args_set_param_float(f.args, "bonus", std::nan(""));
    CHECK(attnc_validate(f.ctx, kernel, f.args, 0) == ATTNC_ERROR_INVALID_ARGUMENT);
    CHECK(contains(attnc_last_error(), "param 'bonus' = nan is NaN"));
    attnc_args_set_param_float(f.args, "bonus", 1e39);
    CHECK(attnc_validate(f.ctx, kernel, f.args, 0) == ATTNC_ERROR_INVALID_ARGUMENT);
    CHECK(contains(attnc_last_error(), "is outside the float32 range"));
    attnc_args_set_param_float(f.args, "bonus", -std::numeric_limits<double>::infinity());
    CHECK(attnc_validate(f.ctx, kernel, f.args, 0) == ATTNC_OK);
  }
  SECTION("GQA divisibility") {
    attnc_args_set_input(f.args, "doc", doc.data(), ATTNC_I32, 2, docDims, nullptr);
    attnc_args_set_tensor(f.args, ATTNC_K, p.k.data(), ATTNC_F32, 2, 3, 5, 8, 0, 0, 8);
    attnc_args_set_tensor(f.args, ATTNC_V, p.v.data(), ATTNC_F32, 2, 3, 5, 8, 0, 0, 8);
    CHECK(attnc_validate(f.ctx, kernel, f.args, 0) == ATTNC_ERROR_INVALID_ARGUMENT);
    CHECK(contains(attnc_last_error(), "heads % kv_heads == 0, but Q has 4 heads and K/V have 3"));
  }
  SECTION("K and V lengths differ") {
    attnc_args_set_input(f.args, "doc", doc.data(), ATTNC_I32, 2, docDims, nullptr);
    attnc_args_set_tensor(f.args, ATTNC_V, p.v.data(), ATTNC_F32, 2, 2, 4, 8, 0, 0, 8);
    CHECK(attnc_validate(f.ctx, kernel, f.args, 0) == ATTNC_ERROR_INVALID_ARGUMENT);
    CHECK(contains(attnc_last_error(), "K has 5 tokens but V has 4"));
  }
  SECTION("GPU rules: dtype and head dim") {
    attnc_args_set_input(f.args, "doc", doc.data(), ATTNC_I32, 2, docDims, nullptr);
    CHECK(attnc_validate(f.ctx, kernel, f.args, 0) == ATTNC_OK);
    CHECK(attnc_validate(f.ctx, kernel, f.args, 1) == ATTNC_ERROR_INVALID_ARGUMENT);
    CHECK(contains(attnc_last_error(), "tensor Q is f32 but the kernel was compiled for bf16"));
  }
  SECTION("a kernel without a GPU binary cannot run on the GPU") {
    attnc_args_set_input(f.args, "doc", doc.data(), ATTNC_I32, 2, docDims, nullptr);
    CHECK(attnc_run(f.ctx, kernel, f.args, nullptr) == ATTNC_ERROR_INVALID_ARGUMENT);
    CHECK(contains(attnc_last_error(), "has no GPU binary"));
  }
  attnc_kernel_release(kernel);
}

TEST_CASE("the CPU reference runs through the C ABI", "[capi]") {
  Fixture f;
  SECTION("causal: the first query sees only the first key") {
    attnc_kernel *kernel = f.compile(kCausal);
    HostProblem p(1, 2, 1, 7, 7, 16);
    p.bind(f.args);
    std::vector<float> lse(size_t(p.batch) * p.heads * p.qLen, 0.0f);
    attnc_args_set_lse(f.args, lse.data(), int64_t(p.heads) * p.qLen, p.qLen, 1);
    INFO(attnc_last_error());
    REQUIRE(attnc_run_reference(f.ctx, kernel, f.args, 1) == ATTNC_OK);
    for (int h = 0; h < p.heads; ++h)
      for (int c = 0; c < p.d; ++c)
        CHECK(p.oAt(0, h, 0, c) == p.vAt(0, 0, 0, c)); // GQA: both heads read kv head 0
    for (float value : p.o)
      CHECK(std::isfinite(value));
    // Row 0 keeps one key: LSE = its scaled score.
    double dot = 0;
    for (int c = 0; c < p.d; ++c)
      dot += double(p.q[size_t(c)]) * double(p.k[size_t(c)]);
    CHECK(lse[0] == Approx(dot / std::sqrt(double(p.d))).epsilon(1e-5));
    attnc_kernel_release(kernel);
  }
  SECTION("a window of 1 over documents copies V, and params change results") {
    attnc_kernel *kernel = f.compile(kWindowed);
    HostProblem p(2, 2, 2, 6, 6, 8);
    p.bind(f.args);
    std::vector<int32_t> doc(size_t(p.batch) * p.qLen, 1);
    int64_t dims[] = {p.batch, p.qLen};
    attnc_args_set_input(f.args, "doc", doc.data(), ATTNC_I32, 2, dims, nullptr);
    attnc_args_set_param_int(f.args, "window", 1);
    REQUIRE(attnc_run_reference(f.ctx, kernel, f.args, 0) == ATTNC_OK);
    for (int b = 0; b < p.batch; ++b)
      for (int h = 0; h < p.heads; ++h)
        for (int t = 0; t < p.qLen; ++t)
          CHECK(p.oAt(b, h, t, 3) == p.vAt(b, h, t, 3));
    attnc_args_set_param_int(f.args, "window", 4);
    REQUIRE(attnc_run_reference(f.ctx, kernel, f.args, 0) == ATTNC_OK);
    CHECK(p.oAt(0, 0, 5, 3) != p.vAt(0, 0, 5, 3));
    attnc_kernel_release(kernel);
  }
}

TEST_CASE("without a GPU, GPU calls fail clearly and the CPU path works", "[capi]") {
  if (attnc_device_available() == ATTNC_OK) {
    // ctest reports this as skipped (SKIP_REGULAR_EXPRESSION), not as passed.
    std::cout << "skipped: a GPU is present: the no-GPU behaviour cannot be observed here"
              << std::endl;
    return;
  }
  std::string reason = attnc_last_error();
  CHECK_FALSE(reason.empty());
  void *pointer = nullptr;
  CHECK(attnc_device_malloc(&pointer, 64) == ATTNC_ERROR_NO_DEVICE);
  CHECK(pointer == nullptr);
  if (contains(reason, "no CUDA driver found (libcuda.so.1)"))
    CHECK(contains(attnc_last_error(), "no CUDA driver found (libcuda.so.1)"));
  Fixture f;
  attnc_kernel *kernel = nullptr;
  attnc_options_set_arch(f.options, "auto");
  CHECK(attnc_compile(f.ctx, kCausal, "c.attn", f.options, &kernel) == ATTNC_ERROR_NO_DEVICE);
  CHECK(contains(attnc_last_error(), "target architecture 'auto' needs a GPU"));
  CHECK(contains(attnc_last_error(), "pass an explicit architecture"));
  CHECK(attnc_stream_synchronize(nullptr) == ATTNC_ERROR_NO_DEVICE);
}

TEST_CASE("compiling for an explicit arch needs no GPU and is cached", "[capi]") {
  Fixture f;
  attnc_options_set_head_dim(f.options, 64);
  attnc_kernel *first = f.compile(kWindowed, "sm_80");
  size_t size = 0;
  const void *cubin = attnc_kernel_cubin(first, &size);
  REQUIRE(cubin);
  CHECK(size > 1000);
  CHECK(std::memcmp(cubin,
                    "\x7f"
                    "ELF",
                    4) == 0);
  CHECK(contains(attnc_kernel_cuda_source(first), "attnc_mask"));
  uint64_t compilations = 0, memoryHits = 0, diskHits = 0;
  attnc_context_cache_stats(f.ctx, &compilations, &memoryHits, &diskHits);
  CHECK(compilations == 1);

  attnc_kernel *again = f.compile(kWindowed, "sm_80");
  attnc_context_cache_stats(f.ctx, &compilations, &memoryHits, &diskHits);
  CHECK(compilations == 1);
  CHECK(memoryHits == 1);

  // A fresh context on the same directory finds it on disk.
  attnc_context *other = nullptr;
  REQUIRE(attnc_context_create(f.dir.path().c_str(), &other) == ATTNC_OK);
  attnc_kernel *fromDisk = nullptr;
  REQUIRE(attnc_compile(other, kWindowed, "test.attn", f.options, &fromDisk) == ATTNC_OK);
  attnc_context_cache_stats(other, &compilations, &memoryHits, &diskHits);
  CHECK(compilations == 0);
  CHECK(diskHits == 1);
  attnc_kernel_release(fromDisk);
  attnc_context_destroy(other);

  // Another arch is another entry.
  attnc_kernel *hopper = f.compile(kWindowed, "sm_90a");
  attnc_context_cache_stats(f.ctx, &compilations, nullptr, nullptr);
  CHECK(compilations == 2);
  CHECK(std::string(attnc_kernel_arch(hopper)) == "sm_90a");
  attnc_kernel_release(hopper);
  attnc_kernel_release(again);
  attnc_kernel_release(first);
}

TEST_CASE("routed attentions (MoBA, VMoBA) compile with their routing pre-pass", "[capi]") {
  Fixture f;
  attnc_options_set_head_dim(f.options, 64);
  attnc_options_set_arch(f.options, "sm_80");
  for (const char *example : {"moba_bs512_top3", "vmoba_2d_threshold"}) {
    std::string path = attnc::test::examplesDirectory() + "/" + example + ".attn";
    INFO(path);
    attnc_kernel *kernel = nullptr;
    attnc_status status = attnc_compile_file(f.ctx, path.c_str(), f.options, &kernel);
    INFO(attnc_last_error());
    REQUIRE(status == ATTNC_OK);
    std::string source = attnc_kernel_cuda_source(kernel);
    CHECK(contains(source, "attnc_route_select"));
    CHECK(contains(source,
                   "using AttncVariant = attnc::RoutedVariant<AttncProgram, AttncRoutePolicy>;"));
    size_t size = 0;
    const char *cubin = static_cast<const char *>(attnc_kernel_cubin(kernel, &size));
    REQUIRE(cubin);
    CHECK(std::string(cubin, size).find("attnc_route_select") != std::string::npos);
    attnc_kernel_release(kernel);
  }
}

TEST_CASE("threads compiling the same program share one compilation", "[capi]") {
  Fixture f;
  attnc_options_set_head_dim(f.options, 64);
  attnc_options_set_arch(f.options, "sm_80");
  std::vector<attnc_kernel *> kernels(4, nullptr);
  std::vector<attnc_status> statuses(4, ATTNC_ERROR_INTERNAL);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < kernels.size(); ++i)
    threads.emplace_back([&, i] {
      statuses[i] = attnc_compile(f.ctx, kCausal, "causal.attn", f.options, &kernels[i]);
    });
  for (auto &thread : threads)
    thread.join();
  uint64_t compilations = 0, memoryHits = 0;
  attnc_context_cache_stats(f.ctx, &compilations, &memoryHits, nullptr);
  CHECK(compilations == 1);
  CHECK(memoryHits == 3);
  for (size_t i = 0; i < kernels.size(); ++i) {
    CHECK(statuses[i] == ATTNC_OK);
    size_t size = 0;
    CHECK(attnc_kernel_cubin(kernels[i], &size) != nullptr);
    CHECK(size > 0);
    attnc_kernel_release(kernels[i]);
  }
}

namespace {
bool cubinNames(const attnc_kernel *kernel, const char *symbol) {
  size_t size = 0;
  const char *cubin = static_cast<const char *>(attnc_kernel_cubin(kernel, &size));
  return cubin && std::string(cubin, size).find(symbol) != std::string::npos;
}
} // namespace

TEST_CASE("a tiered compile returns a quick kernel, then installs the optimized one",
          "[capi][tiering]") {
  Fixture f;
  attnc_options_set_head_dim(f.options, 64);
  // AUTO tiers only compiles for arch "auto" (there is no GPU here): nothing changes.
  attnc_kernel *direct = f.compile(kWindowed, "sm_90a");
  CHECK(attnc_kernel_is_optimized(direct) == 1);
  CHECK(attnc_kernel_wait_optimized(direct) == ATTNC_OK);
  CHECK(attnc_kernel_optimized_ms(direct) > 0);
  CHECK(cubinNames(direct, "attnc_forward_sm90_d64_bf16"));
  attnc_kernel_release(direct);
  uint64_t compilations = 0, memoryHits = 0, diskHits = 0;
  attnc_context_cache_stats(f.ctx, &compilations, nullptr, nullptr);
  CHECK(compilations == 1);

  // ON with a miss: the portable template at the fast settings first, the Hopper one after.
  REQUIRE(attnc_options_set_tiering(f.options, ATTNC_TIERING_ON) == ATTNC_OK);
  attnc_kernel *tiered = f.compile(kCausal, "sm_90a");
  CHECK(attnc_kernel_is_optimized(tiered) == 0);
  CHECK(attnc_kernel_optimized_ms(tiered) < 0);
  CHECK(cubinNames(tiered, "attnc_forward_sm80_d64_bf16"));
  CHECK_FALSE(cubinNames(tiered, "attnc_forward_sm90_d64_bf16"));
  REQUIRE(attnc_kernel_wait_optimized(tiered) == ATTNC_OK);
  CHECK(attnc_kernel_is_optimized(tiered) == 1);
  CHECK(attnc_kernel_optimized_ms(tiered) > 0);
  CHECK(cubinNames(tiered, "attnc_forward_sm90_d64_bf16"));
  attnc_context_cache_stats(f.ctx, &compilations, nullptr, nullptr);
  CHECK(compilations == 3); // the direct one, then quick and optimized

  // The optimized binary went to disk: a new context gets it at once, without tiers.
  attnc_context *other = nullptr;
  REQUIRE(attnc_context_create(f.dir.path().c_str(), &other) == ATTNC_OK);
  attnc_kernel *cached = nullptr;
  REQUIRE(attnc_compile(other, kCausal, "test.attn", f.options, &cached) == ATTNC_OK);
  CHECK(attnc_kernel_is_optimized(cached) == 1);
  CHECK(cubinNames(cached, "attnc_forward_sm90_d64_bf16"));
  attnc_context_cache_stats(other, &compilations, &memoryHits, &diskHits);
  CHECK(compilations == 0);
  CHECK(diskHits == 1);
  attnc_kernel_release(cached);
  attnc_context_destroy(other);
  attnc_kernel_release(tiered);
  CHECK(attnc_options_set_tiering(f.options, static_cast<attnc_tiering>(7)) ==
        ATTNC_ERROR_INVALID_ARGUMENT);
}

TEST_CASE("a context destroyed during a background compile waits for it", "[capi][tiering]") {
  Fixture f;
  attnc_options_set_head_dim(f.options, 64);
  attnc_options_set_tiering(f.options, ATTNC_TIERING_ON);
  attnc_kernel *kernel = f.compile(kWindowed, "sm_80");
  CHECK(attnc_kernel_is_optimized(kernel) == 0);
  attnc_context_destroy(f.ctx); // joins the background compile
  f.ctx = nullptr;
  CHECK(attnc_kernel_optimized_ms(kernel) > 0);
  CHECK(attnc_kernel_wait_optimized(kernel) == ATTNC_OK);
  CHECK(attnc_kernel_is_optimized(kernel) == 1);
  attnc_kernel_release(kernel);
}

TEST_CASE("ATTNC_TIERED=quick stops a tiered compile at the quick kernel", "[capi][tiering]") {
  Fixture f;
  attnc_options_set_head_dim(f.options, 64);
  attnc_options_set_tiering(f.options, ATTNC_TIERING_ON);
  setenv("ATTNC_TIERED", "quick", 1);
  attnc_kernel *kernel = f.compile(kCausal, "sm_80");
  unsetenv("ATTNC_TIERED");
  CHECK(attnc_kernel_is_optimized(kernel) == 0);
  CHECK(attnc_kernel_wait_optimized(kernel) == ATTNC_ERROR_UNSUPPORTED);
  CHECK(contains(attnc_last_error(), "ATTNC_TIERED=quick"));
  CHECK(attnc_kernel_is_optimized(kernel) == 0);
  uint64_t compilations = 0;
  attnc_context_cache_stats(f.ctx, &compilations, nullptr, nullptr);
  CHECK(compilations == 1);
  attnc_kernel_release(kernel);
}

namespace {

/// `let a0 = FIRST;` then n - 1 lets `a{i} = STEP` ('@' is a{i-1}), then LAST ('@' is the last).
std::string letChain(int n, const std::string &first, const std::string &step,
                     const std::string &last) {
  auto subst = [](std::string text, const std::string &name) {
    for (size_t at; (at = text.find('@')) != std::string::npos;)
      text.replace(at, 1, name);
    return text;
  };
  std::string s = "attention chain {\n  let a0 = " + first + ";\n";
  for (int i = 1; i < n; ++i)
    s += "  let a" + std::to_string(i) + " = " + subst(step, "a" + std::to_string(i - 1)) + ";\n";
  return s + "  " + subst(last, "a" + std::to_string(n - 1)) + "\n}\n";
}

/// Runs `body` on a thread with a stack of `bytes` (what an embedding program may give its
/// threads) and waits for it.
void onSmallStack(size_t bytes, void (*body)(void *), void *arg) {
  pthread_attr_t attr;
  REQUIRE(pthread_attr_init(&attr) == 0);
  REQUIRE(pthread_attr_setstacksize(&attr, bytes) == 0);
  struct Call {
    void (*body)(void *);
    void *arg;
  } call{body, arg};
  pthread_t thread;
  REQUIRE(pthread_create(
              &thread, &attr,
              [](void *p) -> void * {
                auto *c = static_cast<Call *>(p);
                c->body(c->arg);
                return nullptr;
              },
              &call) == 0);
  pthread_join(thread, nullptr);
  pthread_attr_destroy(&attr);
}

} // namespace

TEST_CASE("a program too deep through lets is a PARSE error, not a crash", "[capi][limits]") {
  Fixture f;
  std::string source = letChain(8000, "q - k", "@ + 1", "mask = @ >= 0;");
  attnc_options_set_arch(f.options, "none");
  attnc_kernel *kernel = nullptr;
  CHECK(attnc_compile(f.ctx, source.c_str(), "deep.attn", f.options, &kernel) == ATTNC_ERROR_PARSE);
  CHECK(kernel == nullptr);
  CHECK(contains(attnc_context_diagnostics(f.ctx),
                 "deep.attn:257:3: error: let 'a255' is nested too deeply through lets"));
}

TEST_CASE("the deepest accepted programs compile and run on a 1 MiB thread stack",
          "[capi][limits]") {
  // Depth 256 through lets, with the operators whose lowering nests deepest.
  TempDir cache;
  struct Case {
    std::string source, cacheDir;
    attnc_status compiled = ATTNC_ERROR_INTERNAL, ran = ATTNC_ERROR_INTERNAL;
    bool generated = false;
    std::string error;
  };
  std::vector<Case> cases;
  for (const std::string &source : {
           letChain(254, "q - k", "7 / @", "mask = @ >= 0;"),
           letChain(254, "q - k", "clamp(@, k - 9, 5)", "mask = @ >= 0;"),
           letChain(254, "q >= k", "@ && q - k < 9", "mask = @;"),
           letChain(256, "score", "tanh(@)", "score = @;"),
           letChain(253, "blk - block_of(q)", "@ + 1",
                    "route { block = 4; select = top(2); always = @ == 0; never = @ > 0; } "
                    "mask = causal;"),
       }) {
    cases.emplace_back();
    cases.back().source = source;
    cases.back().cacheDir = cache.path();
  }
  for (Case &c : cases) {
    onSmallStack(
        size_t(1) << 20,
        [](void *p) {
          auto &c = *static_cast<Case *>(p);
          attnc_context *ctx = nullptr;
          attnc_options *options = nullptr;
          attnc_args *args = nullptr;
          attnc_context_create(c.cacheDir.c_str(), &ctx);
          attnc_options_create(&options);
          attnc_options_set_arch(options, "none");
          attnc_args_create(&args);
          attnc_kernel *kernel = nullptr;
          c.compiled = attnc_compile(ctx, c.source.c_str(), "max.attn", options, &kernel);
          if (c.compiled == ATTNC_OK) {
            static HostProblem p(1, 1, 1, 16, 16, 8);
            p.bind(args);
            c.ran = attnc_run_reference(ctx, kernel, args, 1);
          }
          c.error = attnc_last_error();
          // arch "none" stops after the checker: generate the hooks too (MLIR, passes, C++).
          attnc::dsl::SourceFile file("max.attn", c.source);
          attnc::dsl::DiagnosticEngine diags(&file);
          auto program = attnc::dsl::parseAndCheck(file, diags);
          attnc::compiler::GeneratedHooks hooks;
          c.generated = program && attnc::compiler::generateHooks(*program, program->attentions[0],
                                                                  attnc::compiler::CodegenOptions(),
                                                                  hooks, c.error);
          attnc_kernel_release(kernel);
          attnc_args_destroy(args);
          attnc_options_destroy(options);
          attnc_context_destroy(ctx);
        },
        &c);
    INFO(c.source.substr(0, 80) << "\n" << c.error);
    CHECK(c.compiled == ATTNC_OK);
    CHECK(c.ran == ATTNC_OK);
    CHECK(c.generated);
  }
}

TEST_CASE("lets that share subexpressions compile in linear time", "[capi][limits]") {
  Fixture f;
  attnc_options_set_arch(f.options, "none");
  auto start = std::chrono::steady_clock::now();
  for (const std::string &source :
       {letChain(60, "q - k", "@ + @", "mask = @ >= 0;"),
        letChain(60, "q >= k", "@ && (@ || q > 3)", "mask = @;"),
        letChain(60, "q >= k", "!(@ && !(@ || k == 2))", "mask = @;"),
        letChain(60, "float(q - k)", "@ * 0.5 + @", "score = score + @;")}) {
    attnc_kernel *kernel = nullptr;
    INFO(source.substr(0, 80));
    REQUIRE(attnc_compile(f.ctx, source.c_str(), "dag.attn", f.options, &kernel) == ATTNC_OK);
    CHECK(std::string(attnc_kernel_cuda_source(kernel)).size() < 1000000);
    attnc_kernel_release(kernel);
  }
  CHECK(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() < 20.0);
}

TEST_CASE("shapes too large for the reference are errors through the C ABI", "[capi][limits]") {
  Fixture f;
  attnc_kernel *kernel = f.compile(kCausal);
  std::vector<float> small(64, 0.0f);
  // Logical dims far beyond the buffer: the reference must refuse before touching memory.
  for (attnc_tensor_role role : {ATTNC_Q, ATTNC_O})
    REQUIRE(attnc_args_set_tensor(f.args, role, small.data(), ATTNC_F32, 2147483647, 1024, 1024, 64,
                                  0, 0, 0) == ATTNC_OK);
  for (attnc_tensor_role role : {ATTNC_K, ATTNC_V})
    REQUIRE(attnc_args_set_tensor(f.args, role, small.data(), ATTNC_F32, 2147483647, 1024, 1024, 64,
                                  0, 0, 0) == ATTNC_OK);
  attnc_status status = attnc_run_reference(f.ctx, kernel, f.args, 1);
  CHECK(status != ATTNC_OK);
  CHECK(status != ATTNC_ERROR_INTERNAL);
  INFO(attnc_last_error());
  CHECK(contains(attnc_last_error(), "memory limit"));
  attnc_kernel_release(kernel);
}

TEST_CASE("the reference backward runs through the C ABI", "[capi][backward]") {
  Fixture f;
  attnc_kernel *kernel = f.compile(R"(
attention gated {
  input gate: f32[batch, heads, q_len, d];
  mask = causal;
  out = out * sigmoid(gate[b, h, q, :]);
}
)");
  HostProblem p(1, 2, 1, 5, 5, 16);
  p.bind(f.args);
  std::vector<float> gate(p.q.size());
  for (size_t i = 0; i < gate.size(); ++i)
    gate[i] = float(std::sin(1.3 * double(i)));
  int64_t gateDims[] = {p.batch, p.heads, p.qLen, p.d};
  REQUIRE(attnc_args_set_input(f.args, "gate", gate.data(), ATTNC_F32, 4, gateDims, nullptr) ==
          ATTNC_OK);
  std::vector<float> lse(size_t(p.batch) * p.heads * p.qLen);
  REQUIRE(attnc_args_set_lse(f.args, lse.data(), int64_t(p.heads) * p.qLen, p.qLen, 1) == ATTNC_OK);
  REQUIRE(attnc_run_reference(f.ctx, kernel, f.args, 1) == ATTNC_OK);

  std::vector<float> dO(p.q.size()), dq(p.q.size(), NAN), dk(p.k.size(), NAN), dv(p.k.size(), NAN),
      dgate(gate.size(), NAN);
  for (size_t i = 0; i < dO.size(); ++i)
    dO[i] = float(std::cos(0.7 * double(i)));
  auto bindGrad = [&](attnc_tensor_role role, float *data, int heads, int tokens) {
    return attnc_args_set_tensor(f.args, role, data, ATTNC_F32, p.batch, heads, tokens, p.d,
                                 int64_t(heads) * tokens * p.d, int64_t(tokens) * p.d, p.d);
  };
  REQUIRE(bindGrad(ATTNC_DO, dO.data(), p.heads, p.qLen) == ATTNC_OK);
  REQUIRE(bindGrad(ATTNC_DQ, dq.data(), p.heads, p.qLen) == ATTNC_OK);
  REQUIRE(bindGrad(ATTNC_DK, dk.data(), p.kvHeads, p.kvLen) == ATTNC_OK);
  REQUIRE(bindGrad(ATTNC_DV, dv.data(), p.kvHeads, p.kvLen) == ATTNC_OK);
  CHECK(attnc_kernel_has_out(kernel) == 1);
  CHECK(attnc_kernel_has_out(nullptr) == 0);
  CHECK(bindGrad(attnc_tensor_role(9), dv.data(), p.kvHeads, p.kvLen) ==
        ATTNC_ERROR_INVALID_ARGUMENT);
  CHECK(contains(attnc_last_error(), "ATTNC_O_BEFORE_OUT"));
  // The output before `out`, bound with K's shape: refused by the validation; NULL unbinds it.
  REQUIRE(bindGrad(ATTNC_O_BEFORE_OUT, dv.data(), p.kvHeads, p.kvLen) == ATTNC_OK);
  CHECK(attnc_run_reference_backward(f.ctx, kernel, f.args, 1) == ATTNC_ERROR_INVALID_ARGUMENT);
  CHECK(contains(attnc_last_error(), "O's shape"));
  REQUIRE(bindGrad(ATTNC_O_BEFORE_OUT, nullptr, p.kvHeads, p.kvLen) == ATTNC_OK);
  REQUIRE(attnc_args_set_input_grad(f.args, "gate", dgate.data(), 4, nullptr) == ATTNC_OK);
  REQUIRE(attnc_args_set_deterministic(f.args, 1) == ATTNC_OK);
  CHECK(attnc_args_set_input_grad(f.args, "gate", dgate.data(), 0, nullptr) ==
        ATTNC_ERROR_INVALID_ARGUMENT);
  CHECK(attnc_args_set_input_grad(f.args, nullptr, dgate.data(), 4, nullptr) ==
        ATTNC_ERROR_INVALID_ARGUMENT);
  INFO(attnc_last_error());
  REQUIRE(attnc_run_reference_backward(f.ctx, kernel, f.args, 1) == ATTNC_OK);

  // Every gradient written. Row 0 keeps key 0 alone, so its attention output is V[0] and
  // d(out * s)/d(gate) = dO * V[0] * s * (1 - s), s = sigmoid(gate).
  for (const auto *grad : {&dq, &dk, &dv, &dgate})
    for (float value : *grad)
      REQUIRE(std::isfinite(value));
  for (int h = 0; h < p.heads; ++h)
    for (int c = 0; c < p.d; ++c) {
      size_t i = (size_t(h) * p.qLen) * p.d + c;
      double s = 1 / (1 + std::exp(-double(gate[i])));
      CHECK(dgate[i] == Approx(double(dO[i]) * p.vAt(0, 0, 0, c) * s * (1 - s)).margin(1e-6));
    }

  // The same problem with dK at a BSHD layout (strides are honoured), the gate's gradient
  // at a padded row stride, then unbound (left untouched).
  std::vector<float> dk2(dk.size(), NAN);
  REQUIRE(attnc_args_set_tensor(f.args, ATTNC_DK, dk2.data(), ATTNC_F32, p.batch, p.kvHeads,
                                p.kvLen, p.d, int64_t(p.kvLen) * p.kvHeads * p.d, p.d,
                                int64_t(p.kvHeads) * p.d) == ATTNC_OK);
  std::vector<float> dgatePadded(size_t(p.heads) * p.qLen * (p.d + 3), -7.0f);
  int64_t padded[] = {int64_t(p.heads) * p.qLen * (p.d + 3), int64_t(p.qLen) * (p.d + 3), p.d + 3,
                      1};
  REQUIRE(attnc_args_set_input_grad(f.args, "gate", dgatePadded.data(), 4, padded) == ATTNC_OK);
  REQUIRE(attnc_run_reference_backward(f.ctx, kernel, f.args, 0) == ATTNC_OK);
  CHECK(dk2 == dk); // kvHeads == 1: BSHD and BHSD coincide
  for (int h = 0; h < p.heads; ++h)
    for (int t = 0; t < p.qLen; ++t)
      for (int c = 0; c < p.d + 3; ++c) {
        float got = dgatePadded[(size_t(h) * p.qLen + t) * (p.d + 3) + c];
        if (c < p.d)
          REQUIRE(got == dgate[(size_t(h) * p.qLen + t) * p.d + c]);
        else
          REQUIRE(got == -7.0f);
      }
  REQUIRE(attnc_args_set_input_grad(f.args, "gate", nullptr, 0, nullptr) == ATTNC_OK);
  std::fill(dgatePadded.begin(), dgatePadded.end(), -7.0f);
  REQUIRE(attnc_run_reference_backward(f.ctx, kernel, f.args, 0) == ATTNC_OK);
  for (float value : dgatePadded)
    REQUIRE(value == -7.0f);

  // dL/dLSE: row 0 keeps key 0 alone (P = 1), so the LSE term moves dQ[0] by dlse * scale *
  // K[0] and leaves dV alone; a negative stride is refused; unbinding restores the gradients.
  std::vector<float> dlse(lse.size(), 0.0f), dq0 = dq, dv0 = dv;
  dlse[0] = 2.0f;
  CHECK(attnc_args_set_dlse(nullptr, dlse.data(), 1, 1, 1) == ATTNC_ERROR_INVALID_ARGUMENT);
  REQUIRE(attnc_args_set_dlse(f.args, dlse.data(), -1, p.qLen, 1) == ATTNC_OK);
  CHECK(attnc_run_reference_backward(f.ctx, kernel, f.args, 0) == ATTNC_ERROR_INVALID_ARGUMENT);
  CHECK(contains(attnc_last_error(), "dLSE has a negative stride"));
  REQUIRE(attnc_args_set_dlse(f.args, dlse.data(), int64_t(p.heads) * p.qLen, p.qLen, 1) ==
          ATTNC_OK);
  REQUIRE(attnc_run_reference_backward(f.ctx, kernel, f.args, 0) == ATTNC_OK);
  const double scale = 1.0 / std::sqrt(double(p.d));
  for (int c = 0; c < p.d; ++c)
    CHECK(dq[c] == Approx(dq0[c] + 2.0 * scale * p.k[c]).margin(1e-5)); // b, h, t = 0
  CHECK(dv == dv0);
  REQUIRE(attnc_args_set_dlse(f.args, nullptr, 0, 0, 1) == ATTNC_OK);
  REQUIRE(attnc_run_reference_backward(f.ctx, kernel, f.args, 0) == ATTNC_OK);
  CHECK(dq == dq0);

  // Errors carry the reference's and the validation's messages.
  REQUIRE(attnc_args_set_lse(f.args, nullptr, 0, 0, 1) == ATTNC_OK);
  CHECK(attnc_run_reference_backward(f.ctx, kernel, f.args, 0) == ATTNC_ERROR_INVALID_ARGUMENT);
  CHECK(contains(attnc_context_last_error(f.ctx), "LSE"));
  CHECK(attnc_run_backward(f.ctx, kernel, f.args, nullptr) != ATTNC_OK);
  CHECK(attnc_run_reference_backward(nullptr, kernel, f.args, 0) == ATTNC_ERROR_INVALID_ARGUMENT);
  attnc_kernel_release(kernel);

  attnc_kernel *floored = f.compile("attention t {\n  score = floor(score * 2.0);\n}");
  attnc_args *args = nullptr;
  REQUIRE(attnc_args_create(&args) == ATTNC_OK);
  p.bind(args);
  REQUIRE(attnc_args_set_lse(args, lse.data(), int64_t(p.heads) * p.qLen, p.qLen, 1) == ATTNC_OK);
  auto bindTo = [&](attnc_tensor_role role, float *data, int heads, int tokens) {
    return attnc_args_set_tensor(args, role, data, ATTNC_F32, p.batch, heads, tokens, p.d,
                                 int64_t(heads) * tokens * p.d, int64_t(tokens) * p.d, p.d);
  };
  REQUIRE(bindTo(ATTNC_DO, dO.data(), p.heads, p.qLen) == ATTNC_OK);
  REQUIRE(bindTo(ATTNC_DQ, dq.data(), p.heads, p.qLen) == ATTNC_OK);
  REQUIRE(bindTo(ATTNC_DK, dk.data(), p.kvHeads, p.kvLen) == ATTNC_OK);
  REQUIRE(bindTo(ATTNC_DV, dv.data(), p.kvHeads, p.kvLen) == ATTNC_OK);
  CHECK(attnc_run_reference_backward(f.ctx, floored, args, 0) == ATTNC_ERROR_INVALID_ARGUMENT);
  CHECK(std::string(attnc_last_error()).rfind("2:11:", 0) == 0);
  attnc_args_destroy(args);
  attnc_kernel_release(floored);
}
