//===- PipelineFuzzer.cpp - libFuzzer target for the whole compile pipeline ===//
//
// Every program the front end accepts goes on through the compiler and the runtime's
// source assembly, exactly as `attnc compile --emit=cuda` does: the attn IR, the hooks
// (compiler::generateHooks), the routing source and route plan for routed attentions, and
// the assembled kernel source. A deterministic sample of them (one accepted program in
// ATTNC_FUZZ_NVRTC_EVERY, at most ATTNC_FUZZ_NVRTC_MAX per process) is compiled to PTX
// with NVRTC, alternating sm_80 and sm_90a. Failures: a crash, an abort, an uncaught
// exception, a sanitizer report, and any error after check accepted the program (an
// internal compiler error, or NVRTC rejecting the generated CUDA): check is the contract.
//
//===----------------------------------------------------------------------===//
#include "attnc/compiler/AttnIR.h"
#include "attnc/compiler/Codegen.h"
#include "attnc/dsl/Frontend.h"
#include "attnc/runtime/KernelSource.h"
#include "attnc/runtime/ManifestBuilder.h"
#include "attnc/runtime/Nvrtc.h"
#include "attnc/runtime/RoutePlan.h"
#include "attnc/runtime/RouteSource.h"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace {

long nvrtcEvery = 64; // compile one accepted program in this many with NVRTC
long nvrtcMax = 8;    // and at most this many per process (each takes about a second)
long accepted = 0, nvrtcDone = 0;

long envLong(const char *name, long fallback) {
  const char *text = std::getenv(name);
  if (!text || !*text)
    return fallback;
  char *end = nullptr;
  long value = std::strtol(text, &end, 10);
  return *end == '\0' && value >= 0 ? value : fallback;
}

/// Reports a failure of a program that check accepted and aborts (libFuzzer saves the input).
[[noreturn]] void fail(const char *stage, const std::string &program, const std::string &detail) {
  std::fprintf(stderr,
               "\nattnc pipeline fuzzer: %s failed on a program that check accepted\n"
               "--- program ---\n%s\n--- %s ---\n%s\n",
               stage, program.c_str(), stage, detail.c_str());
  std::abort();
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int *, char ***) {
  nvrtcEvery = envLong("ATTNC_FUZZ_NVRTC_EVERY", nvrtcEvery);
  nvrtcMax = envLong("ATTNC_FUZZ_NVRTC_MAX", nvrtcMax);
  std::atexit([] {
    std::fprintf(stderr,
                 "attnc pipeline fuzzer: %ld accepted attentions through the pipeline, %ld of "
                 "them through NVRTC\n",
                 accepted, nvrtcDone);
  });
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  using namespace attnc;
  const std::string text(reinterpret_cast<const char *>(data), size);
  dsl::SourceFile file("fuzz.attn", text);
  dsl::DiagnosticEngine diags(&file);
  std::unique_ptr<dsl::Program> program = dsl::parseAndCheck(file, diags);
  if (!program)
    return 0; // the frontend fuzzer checks rejections
  if (diags.hasErrors())
    __builtin_trap(); // a program is returned only when there were no errors

  for (const dsl::AttentionDecl &attention : program->attentions) {
    std::string error, ir;
    if (!compiler::printAttnIR(*program, attention, ir, error))
      fail("the attn IR (--emit=mlir)", text, error);
    compiler::GeneratedHooks hooks;
    if (!compiler::generateHooks(*program, attention, {}, hooks, error))
      fail("compiler::generateHooks", text, error);
    if (hooks.hasRoute != bool(attention.route))
      fail("compiler::generateHooks", text, "hasRoute disagrees with the program");

    runtime::RouteSource route;
    if (attention.route) {
      if (!runtime::generateRouteSource(*program, attention, hooks, route, error))
        fail("runtime::generateRouteSource", text, error);
    }
    // The manifest: built, read back equal, and the launch's host arithmetic (route plan,
    // input dims) at the edges of the sizes a launch may take.
    runtime::KernelManifest manifest, reread;
    if (!runtime::buildKernelManifest(*program, attention, &hooks, "sm_80", true, 64, manifest,
                                      error))
      fail("runtime::buildKernelManifest", text, error);
    runtime::KernelConfig portable;
    portable.arch = "sm_80";
    portable.headDim = 64;
    manifest.tile = runtime::tilePolicyFor(portable);
    if (!runtime::KernelManifest::parse(manifest.serialize(), reread, error) ||
        reread.serialize() != manifest.serialize())
      fail("runtime::KernelManifest::parse", text, error.empty() ? "not equal" : error);
    for (int len : {1, 63, 64, 1000, 65536}) {
      (void)runtime::planRoute(manifest.route, len, len + 1);
      runtime::ManifestShape shape{1, 2, 1, len, len + 1, 64};
      std::vector<std::vector<int64_t>> dims;
      (void)runtime::evaluateInputDims(manifest, shape, dims, error);
    }

    // Counted from 1: the sample skips the first seeds and reaches mutated programs.
    ++accepted;
    const bool compile = nvrtcEvery > 0 && nvrtcDone < nvrtcMax && accepted % nvrtcEvery == 0;
    runtime::KernelConfig config;
    config.arch = compile && nvrtcDone % 2 == 1 ? "sm_90a" : "sm_80";
    config.hopper = runtime::usesHopperTemplate(config.arch);
    config.headDim = 64;
    std::string source;
    if (!runtime::assembleKernelSource(hooks.source, config, source, error,
                                       attention.route ? &route : nullptr))
      fail("runtime::assembleKernelSource", text, error);
    if (!compile)
      continue;
    ++nvrtcDone;
    runtime::NvrtcResult result =
        runtime::compileCuda(source, attention.name + ".cu", config.arch, runtime::NvrtcOutput::Ptx,
                             {}, runtime::kernelHeaders());
    if (!result.ok)
      fail(("NVRTC for " + config.arch).c_str(), text, result.error + "\n" + result.log);
    std::fprintf(stderr, "attnc pipeline fuzzer: NVRTC %s ok for '%s' (%ld of at most %ld)\n",
                 config.arch.c_str(), attention.name.c_str(), nvrtcDone, nvrtcMax);
  }
  return 0;
}
