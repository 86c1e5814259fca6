//===- NvrtcTests.cpp - Generated hooks compile with NVRTC -----------------===//
//
// Wraps the hooks of every example in a small __global__ kernel that calls each of
// them and compiles it with NVRTC for sm_80 and sm_90a. NVRTC needs no GPU, so this
// runs in CI.
//
//===----------------------------------------------------------------------===//
#include "HookHarness.h"

#include <catch2/catch.hpp>
#include <nvrtc.h>

#include <cmath>
#include <iostream>
#include <limits>
#include <string>
#include <vector>

using namespace attnc;
using namespace attnc::test;

namespace {

/// A kernel calling every hook of one program (inside namespace `ns`).
std::string probeKernel(const std::string &ns) {
  return "extern \"C\" __global__ void probe_" + ns + R"((AttncArgs a, int *out) {
  using namespace )" +
         ns + R"(;
  int lo[ATTNC_MAX_KV_RANGES], hi[ATTNC_MAX_KV_RANGES];
  int b = blockIdx.x, h = blockIdx.y;
  int q = threadIdx.x, k = threadIdx.y;
  int r = attnc_classify(a, b, h, q * 128, q * 128 + 127, k * 64, k * 64 + 63);
  int n = attnc_kv_ranges(a, b, h, q * 128, q * 128 + 127, lo, hi);
  for (int i = 0; i < n; ++i) r += hi[i] - lo[i];
  r += attnc_mask(a, b, h, q, k) ? 1 : 0;
  float s = attnc_score(a, 0.5f * q, b, h, q, k);
  float o = attnc_out(a, 0.25f * k, b, h, q, k);
  out[threadIdx.x + 32 * threadIdx.y] = r + (int)(s * 16.0f) + (int)(o * 16.0f);
}
)";
}

/// Compiles `source` for `arch`; returns the NVRTC log on failure.
bool nvrtcCompile(const std::string &source, const std::string &arch, std::string &log,
                  size_t &binarySize) {
  nvrtcProgram prog;
  if (nvrtcCreateProgram(&prog, source.c_str(), "hooks.cu", 0, nullptr, nullptr) != NVRTC_SUCCESS) {
    log = "nvrtcCreateProgram failed";
    return false;
  }
  std::string archOption = "--gpu-architecture=" + arch;
  std::vector<const char *> options{archOption.c_str(), "--std=c++17"};
  nvrtcResult result = nvrtcCompileProgram(prog, static_cast<int>(options.size()), options.data());
  size_t logSize = 0;
  nvrtcGetProgramLogSize(prog, &logSize);
  log.assign(logSize, '\0');
  if (logSize)
    nvrtcGetProgramLog(prog, &log[0]);
  binarySize = 0;
  if (result == NVRTC_SUCCESS)
    nvrtcGetCUBINSize(prog, &binarySize);
  nvrtcDestroyProgram(&prog);
  return result == NVRTC_SUCCESS;
}

} // namespace

TEST_CASE("generated hooks of every example compile with NVRTC", "[nvrtc]") {
  // CI always has NVRTC (it needs no GPU): without it this test fails rather than skips.
  int major = 0, minor = 0;
  REQUIRE(nvrtcVersion(&major, &minor) == NVRTC_SUCCESS);
  std::string kernelArgs = readFile(ATTNC_ABI_INCLUDE_DIR "/attnc/abi/KernelArgs.h");
  REQUIRE_FALSE(kernelArgs.empty());
  std::vector<std::string> files = exampleFiles();
  REQUIRE_FALSE(files.empty());
  std::vector<CompiledProgram> programs;
  for (const std::string &path : files)
    programs.push_back(compileSource(path.substr(path.find_last_of('/') + 1), readFile(path)));

  // One translation unit per architecture: the prelude once, each example's hooks in
  // its own namespace with a probe kernel (NVRTC start-up dominates small programs).
  std::string all = kernelArgs + "\n" + hookPreludeText(programs[0].hooks.source);
  for (size_t i = 0; i < programs.size(); ++i) {
    std::string ns = "p" + std::to_string(i);
    all += "namespace " + ns + " {\n" + hookFunctions(programs[i].hooks.source) + "}\n" +
           probeKernel(ns);
  }
  // And one complete hook source exactly as the runtime pastes it (macros included).
  const CompiledProgram &full = programs.back();
  std::string single =
      kernelArgs + "\n" + full.hooks.source + "\nnamespace whole {}\n" + probeKernel("whole");
  for (const char *arch : {"sm_80", "sm_90a"}) {
    for (const std::string *source : {&all, &single}) {
      std::string log;
      size_t size = 0;
      bool ok = nvrtcCompile(*source, arch, log, size);
      INFO((source == &all ? "all examples" : full.name) << " for " << arch << ":\n" << log);
      CHECK(ok);
      CHECK(size > 0);
    }
  }
}

TEST_CASE("generated route functions compile with NVRTC", "[nvrtc][route]") {
  // CI always has NVRTC (it needs no GPU): without it this test fails rather than skips.
  int major = 0, minor = 0;
  REQUIRE(nvrtcVersion(&major, &minor) == NVRTC_SUCCESS);
  std::string kernelArgs = readFile(ATTNC_ABI_INCLUDE_DIR "/attnc/abi/KernelArgs.h");
  REQUIRE_FALSE(kernelArgs.empty());
  std::vector<CompiledProgram> programs;
  for (const std::string &path : exampleFiles()) {
    CompiledProgram p = compileSource(path.substr(path.find_last_of('/') + 1), readFile(path));
    if (p.attention->route)
      programs.push_back(std::move(p));
  }
  REQUIRE(programs.size() >= 2);
  // Every float64 function, conversion and operator of the route lowering.
  programs.push_back(compileSource("route_functions.attn", R"(
layout g = grid(t: 4, y: 6, x: 10);
attention route_functions over g {
  param w: float = 0.5;
  input bias: bf16[heads];
  route {
    block = tile(t: 2, y: 4, x: 3);
    gate = exp(dot(query, key) * w) + log(abs(dot(query, key)) + 1.0) - exp2(float(blk))
         + log2(2.0 + float(num_blocks)) * tanh(float(q.x)) / sqrt(1.0 + float(h))
         + floor(sigmoid(bias[h])) + min(w, 3.0) - max(float(int(dot(query, key))), -4.5)
         + clamp(float(q % 7), 0.5, 2.5) + select(q > blk, -w, w);
    select = top(2);
    always = blk == block_of(q) || float(blk) * w > 7.5;
    never = blk > block_of(q + 3) && int(float(q) / 3.0) != 2;
  }
}
)"));
  std::string all = kernelArgs + "\n" + hookPreludeText(programs[0].hooks.source);
  for (size_t i = 0; i < programs.size(); ++i) {
    std::string ns = "r" + std::to_string(i);
    all += "namespace " + ns + " {\n" + hookFunctions(programs[i].hooks.source) + "}\n";
    all += "extern \"C\" __global__ void probe_" + ns + R"((AttncArgs a, double *out) {
  using namespace )" +
           ns + R"(;
  int b = blockIdx.x, h = blockIdx.y, q = threadIdx.x, blk = threadIdx.y;
  double g = attnc_route_gate(a, b, h, q, blk, 0.25 * q);
  g += attnc_route_always(a, b, h, q, blk) ? 1.0 : 0.0;
  g += attnc_route_never(a, b, h, q, blk) ? 2.0 : 0.0;
  g += attnc_route_block_of(a, q) + attnc_route_num_blocks(a);
  out[threadIdx.x + 32 * threadIdx.y] = g;
}
)";
  }
  for (const char *arch : {"sm_80", "sm_90a"}) {
    std::string log;
    size_t size = 0;
    bool ok = nvrtcCompile(all, arch, log, size);
    INFO("route functions for " << arch << ":\n" << log);
    CHECK(ok);
    CHECK(size > 0);
  }
}

namespace {

/// inf, -inf and NaN in every kind of hook: f32 in mask, score and out, f64 in the route.
const char *kNonFiniteHooks = R"(
attention nonfinite {
  input t: f32[kv_len];
  const lo = log(0.0);
  const nan = 0.0 * inf;
  mask = t[k] > lo && t[q] < inf;
  score = select(k <= q, score, -1.0 / 0.0) + select(k == 0, lo, 0.0);
  out = select(out > 1e30, nan, out);
}
)";
const char *kNonFiniteRoute = R"(
attention nonfinite_route {
  route {
    block = 64;
    gate = select(blk == 0, inf, select(blk == 1, -inf, dot(query, key) * (0.0 * inf)));
    select = top(1);
    always = float(blk) < -inf;
  }
}
)";

} // namespace

TEST_CASE("non-finite constants compile with NVRTC and run on the host", "[nvrtc][nonfinite]") {
  CompiledProgram hooks = compileSource("nonfinite.attn", kNonFiniteHooks);
  CompiledProgram route = compileSource("nonfinite_route.attn", kNonFiniteRoute);
  for (const CompiledProgram *p : {&hooks, &route}) {
    INFO(p->hooks.source);
    CHECK(hookFunctions(p->hooks.source).find("INFINITY") == std::string::npos);
    CHECK(hookFunctions(p->hooks.source).find("NAN") == std::string::npos);
    CHECK(hookFunctions(p->hooks.source).find("attnc_bits_") != std::string::npos);
  }

  // The host compiler sees the same text (the tests' harness compiles hooks this way).
  std::string host = "#include <math.h>\n#include <stdint.h>\n"
                     "#include \"attnc/abi/KernelArgs.h\"\n" +
                     hookPreludeText(hooks.hooks.source) + "namespace plain {\n" +
                     hookFunctions(hooks.hooks.source) + "}\nnamespace route {\n" +
                     hookFunctions(route.hooks.source) + R"(}
extern "C" void nonfinite_probe(const AttncArgs *a, float *f, double *g) {
  f[0] = plain::attnc_score(*a, 1.5f, 0, 0, 2, 1);
  f[1] = plain::attnc_score(*a, 1.5f, 0, 0, 1, 2);
  f[2] = plain::attnc_score(*a, 1.5f, 0, 0, 2, 0);
  f[3] = plain::attnc_out(*a, 2e30f, 0, 0, 0, 0);
  f[4] = plain::attnc_out(*a, 0.5f, 0, 0, 0, 0);
  for (int blk = 0; blk < 3; ++blk) {
    g[blk] = route::attnc_route_gate(*a, 0, 0, 0, blk, 2.0);
    g[3 + blk] = route::attnc_route_always(*a, 0, 0, 0, blk) ? 1.0 : 0.0;
  }
}
)";
  std::string error;
  void *symbol = compileHostSymbol(host, "nonfinite_probe", error);
  INFO(error);
  REQUIRE(symbol);
  AttncArgs args = makeArgs(hooks.hooks, 1, 1, 1, 8, 8);
  float f[5] = {};
  double g[6] = {};
  reinterpret_cast<void (*)(const AttncArgs *, float *, double *)>(symbol)(&args, f, g);
  const double inf = std::numeric_limits<double>::infinity();
  CHECK(f[0] == 1.5f);
  CHECK(f[1] == -inf); // k > q
  CHECK(f[2] == -inf); // log(0.0)
  CHECK(std::isnan(f[3]));
  CHECK(f[4] == 0.5f);
  CHECK(g[0] == inf);
  CHECK(g[1] == -inf);
  CHECK(std::isnan(g[2]));
  CHECK(g[3] + g[4] + g[5] == 0.0);

  // NVRTC is a build dependency: without it this test fails rather than skips.
  int major = 0, minor = 0;
  REQUIRE(nvrtcVersion(&major, &minor) == NVRTC_SUCCESS);
  std::string kernelArgs = readFile(ATTNC_ABI_INCLUDE_DIR "/attnc/abi/KernelArgs.h");
  REQUIRE_FALSE(kernelArgs.empty());
  std::string device = kernelArgs + "\n" + hooks.hooks.source + probeKernel("nf") +
                       "namespace route {\n" + hookFunctions(route.hooks.source) + R"(}
extern "C" __global__ void probe_route(AttncArgs a, double *out) {
  double g = route::attnc_route_gate(a, 0, 0, threadIdx.x, threadIdx.y, 0.5);
  out[threadIdx.x] = g + (route::attnc_route_always(a, 0, 0, threadIdx.x, threadIdx.y) ? 1.0 : 0.0);
}
)";
  // probeKernel's `using namespace nf` needs the namespace to exist.
  device = "namespace nf {}\n" + device;
  for (const char *arch : {"sm_80", "sm_90a"}) {
    std::string log;
    size_t size = 0;
    bool ok = nvrtcCompile(device, arch, log, size);
    INFO(arch << ":\n" << log);
    CHECK(ok);
    CHECK(size > 0);
  }
}

TEST_CASE("derivative hooks of every example compile with NVRTC", "[nvrtc][gradient]") {
  int major = 0, minor = 0;
  REQUIRE(nvrtcVersion(&major, &minor) == NVRTC_SUCCESS);
  std::string kernelArgs = readFile(ATTNC_ABI_INCLUDE_DIR "/attnc/abi/KernelArgs.h");
  REQUIRE_FALSE(kernelArgs.empty());
  std::string all;
  int programs = 0;
  for (const std::string &path : exampleFiles()) {
    dsl::SourceFile file(path, readFile(path));
    dsl::DiagnosticEngine diags(&file);
    auto program = dsl::parseAndCheck(file, diags);
    REQUIRE(program);
    compiler::CodegenOptions options;
    options.backward = true;
    compiler::GeneratedHooks hooks;
    std::string error;
    INFO(path << ": " << error);
    REQUIRE(compiler::generateHooks(*program, *program->find(""), options, hooks, error));
    if (all.empty())
      all = kernelArgs + "\n" + hookPreludeText(hooks.source);
    // A probe calling every derivative hook, so that each is instantiated and compiled.
    std::string ns = "g" + std::to_string(programs++);
    all += "namespace " + ns + " {\n" + hookFunctions(hooks.source) + "}\n";
    all += "extern \"C\" __global__ void probe_" + ns +
           "(AttncArgs a, float *out) {\n  using namespace " + ns +
           ";\n  int b = blockIdx.x, h = blockIdx.y, q = threadIdx.x, k = threadIdx.y;\n";
    all += "  float r = attnc_score_grad(a, 0.5f * q, b, h, q, k) + attnc_out_grad(a, 0.25f * k, "
           "b, h, q, k);\n";
    for (const compiler::GradReadSite &site : hooks.gradReads) {
      std::string fn = "attnc_" + site.region + "_";
      std::string i = std::to_string(site.site);
      all += "  r += " + fn + "grad_read" + i + "(a, 0.5f, b, h, q, k);\n";
      for (int n = 0; n < site.rank; ++n)
        all += "  r += (float)" + fn + "read" + i + "_index" + std::to_string(n) +
               "(a, b, h, q, k);\n";
    }
    // The backward's query ranges of a key tile (attnc_qr_refine instantiated with
    // attnc_classify).
    all += "  int lo[ATTNC_MAX_KV_RANGES], hi[ATTNC_MAX_KV_RANGES];\n";
    all += "  r += (float)attnc_q_ranges(a, b, h, k, k + 63, lo, hi) + lo[0] + hi[0];\n";
    all += "  out[threadIdx.x + 32 * threadIdx.y] = r;\n}\n";
  }
  for (const char *arch : {"sm_80", "sm_90a"}) {
    std::string log;
    size_t size = 0;
    bool ok = nvrtcCompile(all, arch, log, size);
    INFO(arch << ":\n" << log);
    CHECK(ok);
    CHECK(size > 0);
  }
}
