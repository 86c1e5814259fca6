//===- ClassifyBlocks.cpp - Derive the tile classifier from the mask ------===//
//
// Adds
//   func.func @attnc_classify(%a: !emitc.opaque<"const AttncArgs &">, %b: i32,
//       %h: i32, %q_lo: i32, %q_hi: i32, %k_lo: i32, %k_hi: i32) -> i32
// which evaluates the mask by interval abstract interpretation over the tile
// [q_lo, q_hi] x [k_lo, k_hi] (clipped to the sequence lengths) with b, h, params and
// shapes exact, and returns ATTNC_TILE_EMPTY / _FULL only when the three-valued
// result is definitely false / true. Each mask op becomes one call of an
// attnc_iv_* / attnc_tv_* prelude helper (see IntervalEmitter and HookPrelude).
//
// For a factored mask (attn-factor-mask: the region yields keep, index, data) the two
// factors are evaluated separately into
//   func.func @attnc_classify_factors(<same arguments>) -> i32
// (the class, plus ATTNC_TILE_INDEX_PROVEN / _DATA_PROVEN on PARTIAL tiles), and
// @attnc_classify returns its class bits. Kleene conjunction is associative and
// commutative, so the class equals the unfactored one.
//
//===----------------------------------------------------------------------===//
#include "../CodeGen/HookVocabulary.h"
#include "IntervalEmitter.h"

#include "attnc/compiler/Dialect/Attn/AttnDialect.h"
#include "attnc/compiler/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/EmitC/IR/EmitC.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"

using namespace mlir;

namespace attnc::compiler {

#define GEN_PASS_DEF_CLASSIFYBLOCKS
#include "attnc/compiler/Passes.h.inc"

namespace {

struct ClassifyBlocksPass : impl::ClassifyBlocksBase<ClassifyBlocksPass> {
  void runOnOperation() final {
    ModuleOp module = getOperation();
    SmallVector<attn::SpecOp> specs(module.getOps<attn::SpecOp>());
    if (specs.size() > 1) {
      module.emitError("attn-classify-blocks expects one attn.spec per module");
      return signalPassFailure();
    }
    for (attn::SpecOp spec : specs) {
      MLIRContext *ctx = &getContext();
      OpBuilder b(ctx);
      b.setInsertionPointAfter(spec);
      Location loc = spec.getLoc();
      Type i32 = b.getI32Type();
      auto type =
          b.getFunctionType({IntervalEmitter::argsType(ctx), i32, i32, i32, i32, i32, i32}, {i32});
      auto yield = cast<attn::YieldOp>(spec.getMask().front().getTerminator());
      const bool factored = yield.getValues().size() == 3;
      auto func =
          b.create<func::FuncOp>(loc, factored ? "attnc_classify_factors" : "attnc_classify", type);
      Block *entry = func.addEntryBlock();
      b.setInsertionPointToStart(entry);
      Value args = entry->getArgument(0);
      Type iv = IntervalEmitter::ivType(ctx);
      IntervalEnv env;
      env.args = args;
      env.batch = entry->getArgument(1);
      env.head = entry->getArgument(2);
      IntervalEmitter emitter(b, loc, env);
      Value qLen = emitter.call(hooks::attnc_q_len, i32, {args});
      Value kvLen = emitter.call(hooks::attnc_kv_len, i32, {args});
      env.qIv = emitter.call(hooks::attnc_iv_tokens, iv,
                             {entry->getArgument(3), entry->getArgument(4), qLen});
      env.kIv = emitter.call(hooks::attnc_iv_tokens, iv,
                             {entry->getArgument(5), entry->getArgument(6), kvLen});
      IntervalEmitter tileEmitter(b, loc, env);
      if (!factored) {
        Value truth = tileEmitter.eval(yield.getValues()[0]);
        Value tile = tileEmitter.call(hooks::attnc_tv_tile, i32, {truth});
        b.create<func::ReturnOp>(loc, tile);
        continue;
      }
      Value indexTruth = tileEmitter.eval(yield.getValues()[1]);
      Value dataTruth = tileEmitter.eval(yield.getValues()[2]);
      Value tile = tileEmitter.call(hooks::attnc_tv_tile_factors, i32, {indexTruth, dataTruth});
      b.create<func::ReturnOp>(loc, tile);

      // @attnc_classify: the class bits of @attnc_classify_factors.
      b.setInsertionPointAfter(func);
      auto classify = b.create<func::FuncOp>(loc, "attnc_classify", type);
      Block *classifyEntry = classify.addEntryBlock();
      b.setInsertionPointToStart(classifyEntry);
      Value factors = b.create<func::CallOp>(loc, func, classifyEntry->getArguments()).getResult(0);
      Value classBits = b.create<arith::ConstantIntOp>(loc, 3, 32);
      b.create<func::ReturnOp>(loc, b.create<arith::AndIOp>(loc, factors, classBits).getResult());
    }
  }
};

} // namespace

} // namespace attnc::compiler
