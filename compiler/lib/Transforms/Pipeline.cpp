//===- Pipeline.cpp - The hook pipeline -----------------------------------===//
#include "attnc/compiler/Passes.h"

#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

namespace attnc::compiler {

void buildHookPipelineStage(mlir::OpPassManager &pm, HookPipelineStage stage,
                            const HookPipelineOptions &options) {
  switch (stage) {
  case HookPipelineStage::Simplify:
    pm.addPass(createLowerCoords());
    pm.addPass(createRouteGeometry());
    if (options.canonicalize) {
      pm.addPass(mlir::createCanonicalizerPass());
      pm.addPass(mlir::createCSEPass());
    }
    return;
  case HookPipelineStage::Classify:
    pm.addPass(createFactorMask());
    pm.addPass(createClassifyBlocks());
    pm.addPass(createKvRanges());
    return;
  case HookPipelineStage::Differentiate:
    // Without a backward the pipeline, and so the forward hooks, are what they were.
    if (options.backward) {
      pm.addPass(createDifferentiate());
      pm.addPass(createQRanges());
    }
    return;
  case HookPipelineStage::Emit:
    pm.addPass(createSimplifyIntRanges());
    pm.addPass(createLowerToEmitC());
    pm.addPass(createFastFloatMath());
    return;
  }
}

void buildHookPipeline(mlir::OpPassManager &pm, const HookPipelineOptions &options) {
  for (HookPipelineStage stage : {HookPipelineStage::Simplify, HookPipelineStage::Classify,
                                  HookPipelineStage::Differentiate, HookPipelineStage::Emit})
    buildHookPipelineStage(pm, stage, options);
}

void registerHookPipelines() {
  using mlir::OpPassManager;
  mlir::PassPipelineRegistration<HookPipelineOptions>(
      "attnc-hook-pipeline", "The attnc hook pipeline: an attn module to EmitC hook functions",
      buildHookPipeline);
  mlir::PassPipelineRegistration<HookPipelineOptions>(
      "attnc-hook-simplify",
      "Hook pipeline stage 1: attn-lower-coords, attn-route-geometry, canonicalize, cse",
      [](OpPassManager &pm, const HookPipelineOptions &options) {
        buildHookPipelineStage(pm, HookPipelineStage::Simplify, options);
      });
  // The later stages read no option.
  mlir::PassPipelineRegistration<>(
      "attnc-hook-classify",
      "Hook pipeline stage 2: attn-factor-mask, attn-classify-blocks, attn-kv-ranges",
      [](OpPassManager &pm) {
        buildHookPipelineStage(pm, HookPipelineStage::Classify, HookPipelineOptions());
      });
  mlir::PassPipelineRegistration<>(
      "attnc-hook-emit",
      "Hook pipeline stage 3: attn-simplify-int-ranges, attn-to-emitc, attn-fast-float-math",
      [](OpPassManager &pm) {
        buildHookPipelineStage(pm, HookPipelineStage::Emit, HookPipelineOptions());
      });
}

} // namespace attnc::compiler
