//===- HostClassifier.h - The generated tile classifier, run on the host -*- C++ -*-===//
//
// The kernels decide per (query tile, key tile) EMPTY / PARTIAL / FULL with the compiler's
// generated `attnc_kv_ranges` and `attnc_classify` (docs/compiler.md). Tools that report
// tile counts (attnc explain, attnc viz) must give the same answers without a C++
// compiler, so the compiler also translates those functions, as they are just before the
// lowering to EmitC, into a compact register program (`HostHookProgram`) that this class
// executes. Every helper the functions call (attnc_iv_*, attnc_tv_*, attnc_kr_*, scalar
// helpers) is bound to the very prelude function the GPU runs (hook_prelude.cuh is
// #included on the host), evaluated with the kernels' settings
// (ATTNC_KERNEL_CLASSIFIES_TILES), so the classes are the GPU's.
//
//===----------------------------------------------------------------------===//
#ifndef ATTNC_COMPILER_HOSTCLASSIFIER_H
#define ATTNC_COMPILER_HOSTCLASSIFIER_H

#include "attnc/abi/KernelArgs.h"
#include "attnc/compiler/Codegen.h"

#include <memory>
#include <string>
#include <vector>

namespace attnc::compiler {

class HostHookProgram;

/// Runs the host program of one GeneratedHooks (generated with
/// CodegenOptions::hostClassifier). Not thread-safe: use one per thread (they share the
/// immutable program). `args` must outlive the calls that use it.
class HostTileClassifier {
public:
  explicit HostTileClassifier(std::shared_ptr<const HostHookProgram> program);
  ~HostTileClassifier();
  HostTileClassifier(const HostTileClassifier &) = delete;
  HostTileClassifier &operator=(const HostTileClassifier &) = delete;

  /// Whether attnc_classify_factors exists (a factored mask).
  bool hasFactors() const;

  /// attnc_kv_ranges(a, b, h, qLo, qHi, lo, hi): up to ATTNC_MAX_KV_RANGES intervals.
  int kvRanges(const AttncArgs &a, int b, int h, int qLo, int qHi, int *lo, int *hi);

  /// attnc_classify(a, b, h, qLo, qHi, kLo, kHi) (inclusive token bounds); it sets the
  /// query tile of classifyKeys too. kvRanges and classifyFactors use registers of their own.
  int classify(const AttncArgs &a, int b, int h, int qLo, int qHi, int kLo, int kHi);
  /// attnc_classify_factors (hasFactors() only).
  int classifyFactors(const AttncArgs &a, int b, int h, int qLo, int qHi, int kLo, int kHi);

  /// Fast path for many key tiles of one query tile: setQueryTile evaluates the part of
  /// attnc_classify that does not depend on the key range once; classifyKeys then runs
  /// only the rest. Same results as classify(). classifyKeys without a query tile answers
  /// PARTIAL (nothing proven).
  void setQueryTile(const AttncArgs &a, int b, int h, int qLo, int qHi);
  int classifyKeys(int kLo, int kHi);

  struct State; ///< registers (HostClassifier.cpp)

private:
  std::shared_ptr<const HostHookProgram> program_;
  std::unique_ptr<State> state_;
};

/// The helper names the host program can call (the vocabulary bound to the prelude).
std::vector<std::string> hostCalleeNames();

} // namespace attnc::compiler

#endif // ATTNC_COMPILER_HOSTCLASSIFIER_H
