//===- QRanges.cpp - Closed-form query intervals of a key range -----------===//
//
// Adds
//   func.func @attnc_q_ranges(%a, %b: i32, %h: i32, %k_lo: i32, %k_hi: i32,
//       %lo: !emitc.ptr<i32>, %hi: !emitc.ptr<i32>) -> i32
// the transpose of @attnc_kv_ranges: up to ATTNC_MAX_KV_RANGES sorted disjoint half-open
// query intervals outside which every query is masked for all keys of [k_lo, k_hi], so the
// backward's dK/dV pass visits, per key tile, only the query tiles the mask can keep. It is
// attn-kv-ranges' analysis with q solved for (TokenRanges.h): the interval sets are the
// forward's (attnc_kr_*) over the universe [0, q_len) (attnc_qr_args), and masks without a
// closed form in q are refined with @attnc_classify over query chunks (attnc_qr_refine).
//
//===----------------------------------------------------------------------===//
#include "TokenRanges.h"

#include "attnc/compiler/Dialect/Attn/AttnDialect.h"
#include "attnc/compiler/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/EmitC/IR/EmitC.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"

namespace attnc::compiler {

#define GEN_PASS_DEF_QRANGES
#include "attnc/compiler/Passes.h.inc"

namespace {

struct QRangesPass : impl::QRangesBase<QRangesPass> {
  void runOnOperation() final {
    if (failed(addTokenRanges(getOperation(), SolvedToken::Query, getArgument())))
      signalPassFailure();
  }
};

} // namespace

} // namespace attnc::compiler
