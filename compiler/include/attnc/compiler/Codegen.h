//===- Codegen.h - From a checked program to kernel hooks --------*- C++ -*-===//
//
// The compiler's product: CUDA C++ device functions (see
// abi/include/attnc/abi/KernelArgs.h for their signatures) plus the metadata
// the runtime needs to bind arguments. The runtime pastes `source` into a kernel
// template and compiles the result with NVRTC.
//
//===----------------------------------------------------------------------===//
#ifndef ATTNC_COMPILER_CODEGEN_H
#define ATTNC_COMPILER_CODEGEN_H

#include "attnc/compiler/Slots.h"
#include "attnc/dsl/AST.h"
#include "attnc/dsl/Source.h"

#include <memory>
#include <string>
#include <vector>

namespace attnc::compiler {

class HostHookProgram; // HostClassifier.h

/// One f32 input read of the score or out expression that the backward differentiates
/// (attn-differentiate; docs/compiler.md, "Derivatives"). The kernel adds
/// `dL/d(region value) * attnc_<region>_grad_read<site>(...)` to the gradient of input
/// `slot` at the element (attnc_<region>_read<site>_index<0..rank-1>(...)), each index
/// clamped to [0, dim - 1] as the read clamps it unless bit n of `inRange` is set.
struct GradReadSite {
  std::string region; ///< "score" or "out"
  int site = 0;       ///< i of attnc_<region>_grad_read<i>, in region order
  int slot = 0;       ///< the input's slot (InputSlot::slot)
  int rank = 0;
  unsigned inRange = 0;
};

struct GeneratedHooks {
  std::string source; ///< the device functions and feature macros
  std::string mlir;   ///< the final IR, for --emit=mlir-opt and debugging
  std::vector<ParamSlot> params;
  std::vector<InputSlot> inputs;
  bool hasScore = false;
  bool hasOut = false;
  bool hasRoute = false;
  bool maskAlwaysTrue = false;
  bool hasKvBounds = false; ///< attnc_kv_ranges is tighter than [0, kv_len)
  /// The mask is exactly a union of key intervals per query (every key-dependent
  /// comparison solved in closed form): PARTIAL tiles occur only at interval edges.
  bool kvRangesExact = false;
  /// Comparisons the mask evaluates per element (after simplification): a proxy for the
  /// registers its per-element path needs (the sm90 template keeps Q in registers only for
  /// masks of at most one comparison; see sm90/traits.cuh).
  unsigned maskComparisons = 0;
  /// The mask or score reads an input at a coordinate index without a clamp (in_range):
  /// the kernels must then call those hooks with coordinates inside the problem only.
  bool coordinateReads = false;
  /// attn-factor-mask split the mask (attnc_mask_index, attnc_mask_data and
  /// attnc_classify_factors exist).
  bool maskFactors = false;
  /// attnc_classify(_factors) and attnc_kv_ranges as a host program (HostClassifier.h);
  /// only with CodegenOptions::hostClassifier.
  std::shared_ptr<const HostHookProgram> hostProgram;
  /// CodegenOptions::backward: `source` also holds attnc_score_grad, attnc_out_grad and the
  /// read-site functions of `gradReads`.
  bool hasBackward = false;
  /// attnc_q_ranges has `attnc.window`: every key block's queries (but a bounded number of
  /// blocks') lie in a window whose size does not grow with the lengths (sliding, sinks).
  bool queryWindow = false;
  std::vector<GradReadSite> gradReads;

  /// Bit i: input slot i needs a per-block min/max summary (the variant's kSummarizedInputs;
  /// nonzero is its kHasSummaries).
  unsigned summarizedInputs() const {
    unsigned mask = 0;
    for (const InputSlot &slot : inputs)
      if (slot.summarized)
        mask |= 1u << slot.slot;
    return mask;
  }
};

struct CodegenOptions {
  bool runCanonicalize = true;
  /// Also translate the classifier and the key ranges into GeneratedHooks::hostProgram,
  /// for tools that classify tiles on the host (attnc explain, attnc viz).
  bool hostClassifier = false;
  /// Also emit the derivative hooks (attn-differentiate) a backward kernel calls. A score or
  /// out expression that is not differentiable then fails with a positioned error.
  bool backward = false;
  /// The program's source, to render positioned errors (file:line:col, the line, a caret);
  /// without it they read line:col.
  const dsl::SourceFile *source = nullptr;
};

/// Lowers one checked attention through the attn dialect to hooks. Returns false and
/// sets `error` on failure: an internal compiler error (checked programs should not fail),
/// or with `backward`, a positioned error for a score or out that is not differentiable.
bool generateHooks(const dsl::Program &program, const dsl::AttentionDecl &attention,
                   const CodegenOptions &options, GeneratedHooks &out, std::string &error);

} // namespace attnc::compiler

#endif // ATTNC_COMPILER_CODEGEN_H
