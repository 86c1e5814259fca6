//===- Passes.h - The attnc compiler passes ----------------------*- C++ -*-===//
//
// Pipeline (see docs/compiler.md): attn-lower-coords, attn-route-geometry, canonicalize,
// cse, attn-factor-mask, attn-classify-blocks, attn-kv-ranges, attn-to-emitc; then
// emitc::translateToCpp.
//
//===----------------------------------------------------------------------===//
#ifndef ATTNC_COMPILER_PASSES_H
#define ATTNC_COMPILER_PASSES_H

#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassManager.h"

#include <memory>

namespace attnc::compiler {

/// attn.coord -> arith on attn.index q/k (row-major, axis 0 unwrapped).
std::unique_ptr<mlir::Pass> createLowerCoordsPass();
/// Adds func.func @attnc_route_block_of / @attnc_route_num_blocks for a routed spec.
std::unique_ptr<mlir::Pass> createRouteGeometryPass();
/// Splits a conjunctive mask into an index factor and a data factor (extra mask yields).
std::unique_ptr<mlir::Pass> createFactorMaskPass();
/// Adds func.func @attnc_classify (and @attnc_classify_factors for a factored mask): interval
/// abstract interpretation of the mask.
std::unique_ptr<mlir::Pass> createClassifyBlocksPass();
/// Adds func.func @attnc_kv_ranges: closed-form key intervals from k-affine atoms.
std::unique_ptr<mlir::Pass> createKvRangesPass();
/// Outlines attn.spec regions into the hook functions (the route region into
/// @attnc_route_gate/always/never) and lowers everything to EmitC.
std::unique_ptr<mlir::Pass> createLowerToEmitCPass();

/// Registers the passes above (and the upstream ones attnc-opt needs) by name.
void registerAttncPasses();

/// The standard pipeline, from a freshly built module to EmitC.
void buildHookPipeline(mlir::OpPassManager &pm, bool canonicalize = true);

} // namespace attnc::compiler

#endif // ATTNC_COMPILER_PASSES_H
