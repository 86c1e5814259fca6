//===- KvRanges.cpp - Closed-form key intervals from the mask -------------===//
//
// Adds
//   func.func @attnc_kv_ranges(%a, %b: i32, %h: i32, %q_lo: i32, %q_hi: i32,
//       %lo: !emitc.ptr<i32>, %hi: !emitc.ptr<i32>) -> i32
// The mask's Boolean structure (&&, ||, !) is kept symbolically; each comparison
// `L pred R` whose difference L - R is s*k + rest with s = +-1 (k enters only
// through +, -, * by a constant) is solved for k: {k : s*k + d pred 0 for some d in
// D0}, D0 = interval of L - R at k = 0 over the query range. This is exact for
// causal, sliding windows, sinks, prefix LM. It is sound only if L and R do not wrap,
// which the run-time code checks on their intervals over all keys. Any other atom
// allows no key when its interval evaluation over the query range and all keys is
// surely false, else every key. Finally, when some k-dependent atom was not solved,
// the key chunks that @attnc_classify proves EMPTY are dropped (attnc_kr_refine),
// which bounds masks without a closed form. The result is at most ATTNC_MAX_KV_RANGES sorted
// disjoint intervals.
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
#include "mlir/IR/Matchers.h"

#include <optional>

using namespace mlir;

namespace attnc::compiler {

#define GEN_PASS_DEF_KVRANGES
#include "attnc/compiler/Passes.h.inc"

namespace {

class KvRangeBuilder {
public:
  KvRangeBuilder(OpBuilder &b, Location loc, Value args, IntervalEmitter &allKeys,
                 IntervalEmitter &keyZero)
      : b(b), loc(loc), args(args), allKeys(allKeys), keyZero(keyZero) {}

  /// The key set of `v` (of !v when negated), once per (value, negated): a mask whose
  /// lets share subexpressions is a DAG, and walking it as a tree is exponential.
  Value analyze(Value v, bool negated);
  bool foundBound = false;  ///< some comparison was solved for k
  bool foundOpaque = false; ///< some k-dependent atom could not be solved

private:
  OpBuilder &b;
  Location loc;
  Value args;
  IntervalEmitter &allKeys, &keyZero;
  DenseMap<Value, std::optional<int64_t>> coefMemo;
  DenseMap<Value, bool> dependsMemo;
  DenseMap<Value, Value> analyzeMemo[2]; ///< [negated]

  Value analyzeOnce(Value v, bool negated);

  Type krType() { return emitc::OpaqueType::get(b.getContext(), "AttncKr"); }
  bool dependsOnKey(Value v) { return compiler::dependsOnKey(v, dependsMemo); }
  std::optional<int64_t> keyCoefficient(Value v);
  Value generic(Value v, bool negated);
};

std::optional<int64_t> KvRangeBuilder::keyCoefficient(Value v) {
  if (!dependsOnKey(v))
    return 0;
  auto it = coefMemo.find(v);
  if (it != coefMemo.end())
    return it->second;
  std::optional<int64_t> result;
  Operation *op = v.getDefiningOp();
  if (auto index = dyn_cast_or_null<attn::IndexOp>(op)) {
    result = 1;
  } else if (isa_and_nonnull<arith::AddIOp, arith::SubIOp>(op)) {
    auto x = keyCoefficient(op->getOperand(0)), y = keyCoefficient(op->getOperand(1));
    if (x && y)
      result = isa<arith::AddIOp>(op) ? *x + *y : *x - *y;
  } else if (isa_and_nonnull<arith::MulIOp>(op)) {
    APInt c;
    for (int i = 0; i < 2 && !result; ++i)
      if (matchPattern(op->getOperand(i), m_ConstantInt(&c)))
        if (auto other = keyCoefficient(op->getOperand(1 - i)))
          result = c.getSExtValue() * *other;
  }
  // Only +-1 is ever solved; large coefficients are dropped before they can overflow.
  if (result && (*result > (int64_t(1) << 31) || *result < -(int64_t(1) << 31)))
    result.reset();
  coefMemo[v] = result;
  return result;
}

Value KvRangeBuilder::generic(Value v, bool negated) {
  // Sound for any Bool: when it is surely false over the query range and all keys,
  // no key is kept; otherwise nothing is known.
  foundOpaque = foundOpaque || dependsOnKey(v);
  Value truth = allKeys.eval(v);
  if (negated) {
    Value t = allKeys.call(hooks::attnc_tv_const, truth.getType(),
                           {b.create<arith::ConstantIntOp>(loc, 1, 1)});
    truth = allKeys.call(hooks::attnc_tv_xor, truth.getType(), {truth, t});
  }
  return allKeys.call(hooks::attnc_kr_from_tv, krType(), {args, truth});
}

Value KvRangeBuilder::analyze(Value v, bool negated) {
  DenseMap<Value, Value> &memo = analyzeMemo[negated ? 1 : 0];
  if (auto it = memo.find(v); it != memo.end())
    return it->second;
  Value result = analyzeOnce(v, negated);
  memo[v] = result;
  return result;
}

Value KvRangeBuilder::analyzeOnce(Value v, bool negated) {
  Operation *op = v.getDefiningOp();
  if (!op)
    return generic(v, negated);
  if (isa<arith::AndIOp, arith::OrIOp>(op)) {
    bool isAnd = isa<arith::AndIOp>(op) != negated; // De Morgan under negation
    Value x = analyze(op->getOperand(0), negated);
    Value y = analyze(op->getOperand(1), negated);
    return allKeys.call(isAnd ? hooks::attnc_kr_and : hooks::attnc_kr_or, krType(), {x, y});
  }
  if (isa<arith::XOrIOp>(op)) {
    for (int i = 0; i < 2; ++i)
      if (matchPattern(op->getOperand(i), m_One()))
        return analyze(op->getOperand(1 - i), !negated);
    return generic(v, negated);
  }
  auto cmp = dyn_cast<arith::CmpIOp>(op);
  if (!cmp || !cmp.getLhs().getType().isInteger(32) || !dependsOnKey(v))
    return generic(v, negated);
  auto coefL = keyCoefficient(cmp.getLhs()), coefR = keyCoefficient(cmp.getRhs());
  if (!coefL || !coefR)
    return generic(v, negated);
  int64_t s = *coefL - *coefR;
  if (s != 1 && s != -1)
    return generic(v, negated);
  using P = arith::CmpIPredicate;
  P pred = negated ? arith::invertPredicate(cmp.getPredicate()) : cmp.getPredicate();
  int code;
  switch (pred) {
  case P::slt:
    code = 0;
    break;
  case P::sle:
    code = 1;
    break;
  case P::sgt:
    code = 2;
    break;
  case P::sge:
    code = 3;
    break;
  case P::eq:
    code = 4;
    break;
  case P::ne:
    code = 5;
    break;
  default:
    return generic(v, negated);
  }
  foundBound = foundBound || code != 5;
  Type i1 = b.getI1Type();
  Value lhsAll = allKeys.eval(cmp.getLhs()), rhsAll = allKeys.eval(cmp.getRhs());
  Value noWrap = allKeys.call(hooks::attnc_iv_nowrap2, i1, {lhsAll, rhsAll});
  Value lhs0 = keyZero.eval(cmp.getLhs()), rhs0 = keyZero.eval(cmp.getRhs());
  Value d0 = keyZero.call(hooks::attnc_iv_sub, lhs0.getType(), {lhs0, rhs0});
  ArrayAttr callArgs =
      b.getArrayAttr({b.getIndexAttr(0), b.getI32IntegerAttr(static_cast<int32_t>(s)),
                      b.getI32IntegerAttr(code), b.getIndexAttr(1), b.getIndexAttr(2)});
  return allKeys.call(hooks::attnc_kr_atom, krType(), {args, d0, noWrap}, callArgs);
}

struct KvRangesPass : impl::KvRangesBase<KvRangesPass> {
  void runOnOperation() final {
    ModuleOp module = getOperation();
    SmallVector<attn::SpecOp> specs(module.getOps<attn::SpecOp>());
    if (specs.size() > 1) {
      module.emitError("attn-kv-ranges expects one attn.spec per module");
      return signalPassFailure();
    }
    for (attn::SpecOp spec : specs) {
      MLIRContext *ctx = &getContext();
      OpBuilder b(ctx);
      b.setInsertionPointToEnd(module.getBody());
      Location loc = spec.getLoc();
      Type i32 = b.getI32Type();
      Type ptr = emitc::PointerType::get(i32);
      auto type =
          b.getFunctionType({IntervalEmitter::argsType(ctx), i32, i32, i32, i32, ptr, ptr}, {i32});
      auto func = b.create<func::FuncOp>(loc, "attnc_kv_ranges", type);
      Block *entry = func.addEntryBlock();
      b.setInsertionPointToStart(entry);
      Value args = entry->getArgument(0);
      Type iv = IntervalEmitter::ivType(ctx);
      IntervalEnv env;
      env.args = args;
      env.batch = entry->getArgument(1);
      env.head = entry->getArgument(2);
      IntervalEmitter setup(b, loc, env);
      Value qLen = setup.call(hooks::attnc_q_len, i32, {args});
      env.qIv = setup.call(hooks::attnc_iv_tokens, iv,
                           {entry->getArgument(3), entry->getArgument(4), qLen});
      IntervalEnv allEnv = env, zeroEnv = env;
      allEnv.kIv = setup.call(hooks::attnc_iv_all_keys, iv, {args});
      zeroEnv.kIv = setup.call(hooks::attnc_iv_point, iv, {setup.i32Const(0)});
      IntervalEmitter allKeys(b, loc, allEnv), keyZero(b, loc, zeroEnv);
      keyZero.shareKeyIndependent(&allKeys);
      KvRangeBuilder ranges(b, loc, args, allKeys, keyZero);
      auto yield = cast<attn::YieldOp>(spec.getMask().front().getTerminator());
      Value set = ranges.analyze(yield.getValues()[0], /*negated=*/false);
      // When some k-dependent atom had no closed form, drop the key chunks the tile
      // classifier proves empty (needs @attnc_classify from attn-classify-blocks).
      bool refined = ranges.foundOpaque && module.lookupSymbol<func::FuncOp>("attnc_classify");
      if (refined) {
        ArrayAttr refineArgs = b.getArrayAttr(
            {b.getIndexAttr(0), b.getIndexAttr(1), b.getIndexAttr(2), b.getIndexAttr(3),
             b.getIndexAttr(4), b.getIndexAttr(5), emitc::OpaqueAttr::get(ctx, "attnc_classify")});
        set = setup.call(hooks::attnc_kr_refine, set.getType(),
                         {args, entry->getArgument(1), entry->getArgument(2), entry->getArgument(3),
                          entry->getArgument(4), set},
                         refineArgs);
      }
      Value count = setup.call(hooks::attnc_kr_store, i32,
                               {args, set, entry->getArgument(5), entry->getArgument(6)});
      b.create<func::ReturnOp>(loc, count);
      if (ranges.foundBound || refined)
        func->setAttr("attnc.bounded", b.getUnitAttr());
      // Every key-dependent atom was solved: the mask is a union of key intervals per
      // query, so only tiles at interval edges are PARTIAL (kernels pick larger key tiles).
      if (!ranges.foundOpaque)
        func->setAttr("attnc.exact", b.getUnitAttr());
    }
  }
};

} // namespace

} // namespace attnc::compiler
