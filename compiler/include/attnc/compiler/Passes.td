//===- Passes.td - The attnc compiler passes ---------------*- tablegen -*-===//
//
// Every attnc pass, declared once: mlir-tblgen -gen-pass-decls turns this file into
// Passes.h.inc (the create functions, the pass base classes and registerAttncPasses()).
// Each pass is defined in a file of its own under compiler/lib and tested by a lit file in
// tests/compiler/lit/. The order they run in is buildHookPipeline's (Passes.h).
//
//===----------------------------------------------------------------------===//
#ifndef ATTNC_COMPILER_PASSES_TD
#define ATTNC_COMPILER_PASSES_TD

include "mlir/Pass/PassBase.td"

def LowerCoords : Pass<"attn-lower-coords"> {
  let summary = "Lower attn.coord (layout coordinates) to arith on attn.index q/k";
  let description = [{
    Row-major coordinates, last axis fastest, axis 0 unwrapped (tokens beyond the grid keep
    counting there): each `attn.coord` becomes `arith.divsi` / `arith.remsi` by the
    positive axis sizes on `attn.index q` or `k`.
  }];
  let dependentDialects = ["mlir::arith::ArithDialect"];
}

def RouteGeometry : Pass<"attn-route-geometry", "mlir::ModuleOp"> {
  let summary = "Add @attnc_route_block_of and @attnc_route_num_blocks for a routed attn.spec";
  let description = [{
    For a spec with a route region, adds `func.func @attnc_route_block_of(a, t)` (the key
    block of a token, from `route_block` / `route_grid`) and `@attnc_route_num_blocks(a)`
    (in closed form) ahead of the spec; `attn-to-emitc` lowers the route region's
    `attn.block_of` and `num_blocks` to calls of them.
  }];
  let dependentDialects = [
    "mlir::arith::ArithDialect", "mlir::func::FuncDialect", "mlir::emitc::EmitCDialect"
  ];
}

def FactorMask : Pass<"attn-factor-mask", "mlir::ModuleOp"> {
  let summary = "Split a conjunctive mask into two factors the classifier proves separately";
  let description = [{
    When the mask is a tree of `arith.andi` of at least two conjuncts, the mask region yields
    `(keep, index, data)` with `keep == index && data`, so that the classifier proves each
    factor per tile: `data` holds the conjuncts that read an input and `index` the others, or,
    when none reads an input, `index` is the first conjunct and `data` the rest. Conjunctions
    whose conjuncts all read inputs are left alone.
  }];
  let dependentDialects = ["mlir::arith::ArithDialect"];
}

def ClassifyBlocks : Pass<"attn-classify-blocks", "mlir::ModuleOp"> {
  let summary = "Generate @attnc_classify (EMPTY/PARTIAL/FULL tiles) from the mask by "
                "interval abstract interpretation";
  let description = [{
    Adds `func.func @attnc_classify` and, for a mask factored by `attn-factor-mask`,
    `@attnc_classify_factors`. Expects one `attn.spec` per module.
  }];
  let dependentDialects = [
    "mlir::arith::ArithDialect", "mlir::func::FuncDialect", "mlir::emitc::EmitCDialect"
  ];
}

def KvRanges : Pass<"attn-kv-ranges", "mlir::ModuleOp"> {
  let summary = "Generate @attnc_kv_ranges: closed-form key intervals of a query range";
  let description = [{
    Adds `func.func @attnc_kv_ranges`, with the unit attribute `attnc.bounded` when the
    intervals are tighter than all keys and `attnc.exact` when the mask is exactly their
    union.
  }];
  let dependentDialects = [
    "mlir::arith::ArithDialect", "mlir::func::FuncDialect", "mlir::emitc::EmitCDialect"
  ];
}

def Differentiate : Pass<"attn-differentiate", "mlir::ModuleOp"> {
  let summary = "Add the derivative functions of the score and out regions (reverse mode)";
  let description = [{
    For the spec's score region: `func.func @attnc_score_grad(a, s, b, h, q, k)`, the
    derivative of the yielded score with respect to the incoming one, and for each f32
    input read the yielded value depends on (a read site i, in region order)
    `@attnc_score_grad_read<i>` (same arguments: the derivative with respect to the value
    read) and `@attnc_score_read<i>_index<n>(a, b, h, q, k)` (its n-th index, unclamped);
    the same for the out region (`@attnc_out_grad(a, o, b, h, q, c)`, ...). The read-site
    functions carry `attnc.grad_of`, `attnc.site`, `attnc.slot`, `attnc.rank` and
    `attnc.in_range`. Float values carry derivatives, Int and Bool values are constants;
    floor, int() or an op without a rule on a differentiated value is an error at its
    location. Expects one `attn.spec` per module.
  }];
  let dependentDialects = [
    "mlir::arith::ArithDialect", "mlir::math::MathDialect", "mlir::func::FuncDialect",
    "mlir::emitc::EmitCDialect"
  ];
}

def QRanges : Pass<"attn-q-ranges", "mlir::ModuleOp"> {
  let summary = "Generate @attnc_q_ranges: closed-form query intervals of a key range "
                "(the transpose of @attnc_kv_ranges, for the backward)";
  let description = [{
    Adds `func.func @attnc_q_ranges(a, b, h, k_lo, k_hi, lo, hi) -> i32`: up to
    ATTNC_MAX_KV_RANGES sorted disjoint half-open query intervals outside which every query
    is masked for all keys of `[k_lo, k_hi]`. attn-kv-ranges' analysis with the query
    solved for; `attnc.bounded` and `attnc.exact` as there. Refines with
    `@attnc_classify` when present. The backward prelude (attnc_qr_*) defines its helpers.
  }];
  let dependentDialects = [
    "mlir::arith::ArithDialect", "mlir::func::FuncDialect", "mlir::emitc::EmitCDialect"
  ];
}

def SimplifyIntRanges : Pass<"attn-simplify-int-ranges", "mlir::ModuleOp"> {
  let summary = "Cheaper integer arithmetic in the hooks, proven exact by integer range analysis";
  let description = [{
    Runs upstream's integer range analysis over each `attn.spec` (indices and shapes are
    non-negative) and rewrites signed division and remainder of non-negative values by a
    positive constant into unsigned ones, and `abs(x) <= C` (and `<`, `>`, `>=`) into the
    unsigned range test `x + C <=u 2C` where x cannot be INT_MIN. Runs after the passes
    that read the mask's signed form (classification, key and query ranges).
  }];
  let dependentDialects = ["mlir::arith::ArithDialect"];
}

def LowerToEmitC : Pass<"attn-to-emitc", "mlir::ModuleOp"> {
  let summary = "Outline attn.spec regions into hook functions and lower to EmitC";
  let description = [{
    Outlines the mask, score and out regions (and the mask factors and the route region's
    values) into the hook functions of KernelArgs.h, lowers attn, math and arith to EmitC
    and marks every function `static __device__ __forceinline__`. Fails on a route without
    the functions of `attn-route-geometry`.
  }];
  let dependentDialects = [
    "mlir::arith::ArithDialect", "mlir::func::FuncDialect", "mlir::emitc::EmitCDialect"
  ];
}

def FastFloatMath : Pass<"attn-fast-float-math", "mlir::ModuleOp"> {
  let summary = "Use the prelude's fast approximate float functions in the hook functions";
  let description = [{
    In every `emitc.func` but the routing functions (`attnc_route_*`, whose float64 gate
    decides selections and stays exact): `expf`, `exp2f`, `logf`, `log2f`, `tanhf` become
    the prelude's `attnc_fexp`, ... helpers, an f32 division by a finite non-zero constant
    with a finite reciprocal a multiplication by that reciprocal, and any other f32
    division `attnc_fdiv`.
  }];
  let dependentDialects = ["mlir::emitc::EmitCDialect"];
}

#endif // ATTNC_COMPILER_PASSES_TD
