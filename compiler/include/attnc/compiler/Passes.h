//===- Passes.h - The attnc compiler passes and their pipeline ----*- C++ -*-===//
//
// The passes are declared in Passes.td; this header adds the one pipeline that runs them
// (docs/compiler.md, "Passes and the pipeline"). generateHooks (Codegen.cpp) and attnc-opt
// both build it here.
//
//===----------------------------------------------------------------------===//
#ifndef ATTNC_COMPILER_PASSES_H
#define ATTNC_COMPILER_PASSES_H

#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassOptions.h"

#include <memory>

namespace attnc::compiler {

#define GEN_PASS_DECL
#include "attnc/compiler/Passes.h.inc"

/// The hook pipeline's options; attnc-opt spells them
/// `--attnc-hook-pipeline='canonicalize=false'`.
struct HookPipelineOptions : mlir::PassPipelineOptions<HookPipelineOptions> {
  Option<bool> canonicalize{*this, "canonicalize",
                            llvm::cl::desc("Run canonicalize and cse after the attn lowerings"),
                            llvm::cl::init(true)};
  Option<bool> backward{*this, "backward",
                        llvm::cl::desc("Add the derivative functions (attn-differentiate) and "
                                       "the query ranges (attn-q-ranges) for a backward pass"),
                        llvm::cl::init(false)};
};

/// The hook pipeline in four stages, run in this order. generateHooks reads facts between
/// them: the spec's regions before attn-to-emitc outlines them (after Simplify), the
/// classifier and key-range functions before they become EmitC (after Classify).
enum class HookPipelineStage {
  /// attn-lower-coords, attn-route-geometry, canonicalize, cse: the attn IR simplified.
  Simplify,
  /// attn-factor-mask, attn-classify-blocks, attn-kv-ranges: @attnc_classify(_factors)
  /// and @attnc_kv_ranges added as func.func.
  Classify,
  /// attn-differentiate and attn-q-ranges when the options request a backward, else
  /// nothing: the derivative functions of the score and out regions and @attnc_q_ranges
  /// added as func.func.
  Differentiate,
  /// attn-to-emitc, attn-fast-float-math: the EmitC module translateToCpp prints.
  Emit,
};

/// Adds one stage's passes to `pm` (anchored on builtin.module).
void buildHookPipelineStage(mlir::OpPassManager &pm, HookPipelineStage stage,
                            const HookPipelineOptions &options);

/// The whole pipeline, from a module built by buildAttnModule to EmitC: the four stages.
void buildHookPipeline(mlir::OpPassManager &pm, const HookPipelineOptions &options);

/// Registers the pipeline for attnc-opt: --attnc-hook-pipeline, and the stages on their own
/// as --attnc-hook-simplify, --attnc-hook-classify, --attnc-hook-emit (the Differentiate
/// stage is the passes --attn-differentiate --attn-q-ranges).
void registerHookPipelines();

#define GEN_PASS_REGISTRATION
#include "attnc/compiler/Passes.h.inc"

} // namespace attnc::compiler

#endif // ATTNC_COMPILER_PASSES_H
