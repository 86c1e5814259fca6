//===- HookHarness.h - Run generated hooks on the host (tests) ----*- C++ -*-===//
//
// The generated hook source is valid host C++ as well as CUDA (see the prelude in
// compiler/lib/CodeGen/HookPrelude.cpp). The harness compiles the very text NVRTC
// gets with the host C++ compiler into a shared object and loads it, so the tests
// exercise exactly the classifier the GPU runs.
//
//===----------------------------------------------------------------------===//
#ifndef ATTNC_TESTS_COMPILER_HOOKHARNESS_H
#define ATTNC_TESTS_COMPILER_HOOKHARNESS_H

#include "attnc/abi/KernelArgs.h"
#include "attnc/compiler/Codegen.h"
#include "attnc/dsl/AST.h"
#include "attnc/dsl/Frontend.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace attnc::test {

struct HostHookTable {
  bool (*mask)(const AttncArgs &, int32_t, int32_t, int32_t, int32_t);
  int32_t (*classify)(const AttncArgs &, int32_t, int32_t, int32_t, int32_t, int32_t, int32_t);
  int32_t (*kvRanges)(const AttncArgs &, int32_t, int32_t, int32_t, int32_t, int32_t *, int32_t *);
  /// Null unless the mask is factored (GeneratedHooks::maskFactors).
  bool (*maskIndex)(const AttncArgs &, int32_t, int32_t, int32_t, int32_t);
  bool (*maskData)(const AttncArgs &, int32_t, int32_t, int32_t, int32_t);
  int32_t (*classifyFactors)(const AttncArgs &, int32_t, int32_t, int32_t, int32_t, int32_t,
                             int32_t);
  /// Null unless the hooks were generated with a backward (GeneratedHooks::hasBackward).
  int32_t (*qRanges)(const AttncArgs &, int32_t, int32_t, int32_t, int32_t, int32_t *, int32_t *);
};

/// A parsed, checked program with its generated hooks.
struct CompiledProgram {
  std::string name;
  std::string text; ///< the source, for failure messages
  std::unique_ptr<dsl::Program> program;
  const dsl::AttentionDecl *attention = nullptr;
  compiler::GeneratedHooks hooks;
};

/// Parses, checks and generates (with the backward's hooks when `backward`); fails the
/// current test (REQUIRE) on any error.
CompiledProgram compileSource(const std::string &name, const std::string &text,
                              bool backward = false);
/// The example files, sorted; fails the current test (REQUIRE) when there are none.
std::vector<std::string> exampleFiles();
std::string readFile(const std::string &path);

/// Compiles the hooks of several programs into one host shared object.
class HostHooks {
public:
  /// Returns false and sets `error` when the host compiler fails.
  /// `defines` is pasted ahead of the prelude (e.g. the kernels' macros).
  bool build(const std::vector<const compiler::GeneratedHooks *> &hooks, std::string &error,
             const std::string &defines = "");
  ~HostHooks();
  const HostHookTable &operator[](size_t i) const { return tables[i]; }

private:
  void *handle = nullptr;
  const HostHookTable *tables = nullptr;
  std::string dir;
};

/// Compiles `source` (host C++) into a shared object and returns dlsym(symbol), or null
/// with `error`. The object stays loaded for the life of the process.
void *compileHostSymbol(const std::string &source, const std::string &symbol, std::string &error);

/// Splits generated source into (prelude, functions) at the prelude markers.
std::string hookFunctions(const std::string &source);
std::string hookPreludeText(const std::string &source);

/// Host tensors for the inputs of an attention, with plausible contents: token-indexed
/// Int inputs hold sorted document ids, u8 inputs random flags, floats small values.
struct HostInputs {
  std::vector<std::vector<unsigned char>> storage;
  std::vector<std::vector<int>> summaries;
  void bind(const dsl::AttentionDecl &attention, const compiler::GeneratedHooks &hooks,
            AttncArgs &args, uint64_t seed, int summaryBlock, int segments = 8);
};

/// AttncArgs with the given shape and the params' defaults.
AttncArgs makeArgs(const compiler::GeneratedHooks &hooks, int batch, int heads, int kvHeads,
                   int qLen, int kvLen);

} // namespace attnc::test

#endif
