//===- IntervalEmitter.cpp - Emit interval evaluation of a mask -----------===//
#include "IntervalEmitter.h"

#include "../CodeGen/HookVocabulary.h"

#include "attnc/compiler/Dialect/Attn/AttnDialect.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/EmitC/IR/EmitC.h"
#include "mlir/Dialect/Math/IR/Math.h"

using namespace mlir;

namespace attnc::compiler {

Type IntervalEmitter::ivType(MLIRContext *ctx) { return emitc::OpaqueType::get(ctx, "AttncIv"); }
Type IntervalEmitter::tvType(MLIRContext *ctx) { return emitc::OpaqueType::get(ctx, "AttncTv"); }
Type IntervalEmitter::argsType(MLIRContext *ctx) {
  return emitc::OpaqueType::get(ctx, "const AttncArgs &");
}

Value IntervalEmitter::call(StringRef callee, Type result, ValueRange operands, ArrayAttr args) {
  return b.create<emitc::CallOpaqueOp>(loc, TypeRange{result}, callee, operands, args).getResult(0);
}

Value IntervalEmitter::i32Const(int64_t v) {
  return b.create<arith::ConstantIntOp>(loc, static_cast<int32_t>(v), 32);
}

Value IntervalEmitter::unknownOf(Type t) {
  MLIRContext *ctx = b.getContext();
  if (t.isInteger(1))
    return call(hooks::attnc_tv_unknown, tvType(ctx), {});
  if (t.isInteger(32))
    return call(hooks::attnc_iv_unknown, ivType(ctx), {});
  return nullptr;
}

bool isTokenIndexedRead(Operation *op) {
  auto read = dyn_cast<attn::InputReadOp>(op);
  if (!read || read.getResult().getType().isF32())
    return false;
  auto token = read.getIndices().back().getDefiningOp<attn::IndexOp>();
  return token && (token.getKind() == "q" || token.getKind() == "k");
}

bool dependsOnToken(Value v, StringRef kind, DenseMap<Value, bool> &memo) {
  auto it = memo.find(v);
  if (it != memo.end())
    return it->second;
  bool result = false;
  if (Operation *op = v.getDefiningOp()) {
    if (auto index = dyn_cast<attn::IndexOp>(op))
      result = index.getKind() == kind;
    else
      for (Value operand : op->getOperands())
        result = result || dependsOnToken(operand, kind, memo);
  }
  memo[v] = result;
  return result;
}

Value IntervalEmitter::eval(Value v) {
  auto it = memo.find(v);
  if (it != memo.end())
    return it->second;
  if (independentSource && !dependsOnToken(v, sharedKind, sharedKindDependent)) {
    Value shared = independentSource->eval(v);
    memo[v] = shared;
    return shared;
  }
  Value result;
  if (Operation *op = v.getDefiningOp())
    result = evalOp(op, v);
  if (!result)
    result = unknownOf(v.getType());
  memo[v] = result;
  return result;
}

Value IntervalEmitter::evalOp(Operation *op, Value v) {
  MLIRContext *ctx = b.getContext();
  Type iv = ivType(ctx), tv = tvType(ctx);
  Type type = v.getType();
  bool isInt = type.isInteger(32), isBool = type.isInteger(1);
  if (!isInt && !isBool)
    return nullptr;
  auto binaryIv = [&](StringRef callee) -> Value {
    Value x = eval(op->getOperand(0)), y = eval(op->getOperand(1));
    return call(callee, iv, {x, y});
  };
  auto binaryTv = [&](StringRef callee) -> Value {
    Value x = eval(op->getOperand(0)), y = eval(op->getOperand(1));
    return call(callee, tv, {x, y});
  };

  if (auto c = dyn_cast<arith::ConstantOp>(op)) {
    auto attr = dyn_cast<IntegerAttr>(c.getValue());
    if (!attr)
      return nullptr;
    if (isBool) {
      Value bit = b.create<arith::ConstantIntOp>(loc, attr.getValue().getBoolValue(), 1);
      return call(hooks::attnc_tv_const, tv, {bit});
    }
    return call(hooks::attnc_iv_point, iv, {i32Const(attr.getValue().getSExtValue())});
  }
  if (auto index = dyn_cast<attn::IndexOp>(op)) {
    StringRef kind = index.getKind();
    if (kind == "q")
      return env.qIv;
    if (kind == "k")
      return env.kIv;
    if (kind == "b")
      return call(hooks::attnc_iv_point, iv, {env.batch});
    if (kind == "h")
      return call(hooks::attnc_iv_point, iv, {env.head});
    if (kind == "kv_h") {
      Value kvh = call(hooks::attnc_kv_head, b.getI32Type(), {env.args, env.head});
      return call(hooks::attnc_iv_point, iv, {kvh});
    }
    return nullptr;
  }
  if (auto shape = dyn_cast<attn::ShapeOp>(op)) {
    if (shape.getKind() == "num_blocks")
      return nullptr;
    Value value = call(hooks::shape(shape.getKind()), b.getI32Type(), {env.args});
    return call(hooks::attnc_iv_point, iv, {value});
  }
  if (auto param = dyn_cast<attn::ParamOp>(op)) {
    // Params are run-time constants: exact.
    ArrayAttr args = b.getArrayAttr({b.getIndexAttr(0), b.getI32IntegerAttr(param.getSlot())});
    if (isBool) {
      Value bit = call(hooks::attnc_bparam, b.getI1Type(), {env.args}, args);
      return call(hooks::attnc_tv_const, tv, {bit});
    }
    Value value = call(hooks::attnc_iparam, b.getI32Type(), {env.args}, args);
    return call(hooks::attnc_iv_point, iv, {value});
  }
  if (auto read = dyn_cast<attn::InputReadOp>(op)) {
    if (!isTokenIndexedRead(op)) {
      // Exact when every index is a single value at run time.
      int dtype = read.getElem() == "i32" ? 0 : read.getElem() == "i64" ? 1 : 5;
      SmallVector<Value> operands{env.args};
      for (Value index : read.getIndices())
        operands.push_back(eval(index));
      while (operands.size() < 5)
        operands.push_back(operands.back()); // unused slots
      ArrayAttr args =
          b.getArrayAttr({b.getIndexAttr(0), b.getI32IntegerAttr(read.getSlot()),
                          b.getI32IntegerAttr(static_cast<int32_t>(read.getIndices().size())),
                          b.getI32IntegerAttr(dtype), b.getIndexAttr(1), b.getIndexAttr(2),
                          b.getIndexAttr(3), b.getIndexAttr(4)});
      Value value = call(hooks::attnc_iv_read, iv, operands, args);
      return isBool ? call(hooks::attnc_tv_nonzero, tv, {value}) : value;
    }
    // Per-block min/max summaries of the token range.
    SmallVector<Value> operands{env.args};
    SmallVector<Value> idx;
    for (Value index : read.getIndices())
      idx.push_back(eval(index));
    Value token = idx.back();
    SmallVector<Value> outer(idx.begin(), idx.end() - 1);
    while (outer.size() < 3)
      outer.push_back(token); // unused slots
    operands.append(outer.begin(), outer.end());
    operands.push_back(token);
    ArrayAttr args = b.getArrayAttr(
        {b.getIndexAttr(0), b.getI32IntegerAttr(read.getSlot()),
         b.getI32IntegerAttr(static_cast<int32_t>(read.getIndices().size())), b.getIndexAttr(1),
         b.getIndexAttr(2), b.getIndexAttr(3), b.getIndexAttr(4)});
    Value summary = call(hooks::attnc_iv_summary, iv, operands, args);
    if (isBool)
      return call(hooks::attnc_tv_nonzero, tv, {summary});
    return summary;
  }
  if (isa<arith::AddIOp>(op))
    return binaryIv(hooks::attnc_iv_add);
  if (isa<arith::SubIOp>(op))
    return binaryIv(hooks::attnc_iv_sub);
  if (isa<arith::MulIOp>(op))
    return binaryIv(hooks::attnc_iv_mul);
  if (isa<arith::DivSIOp>(op))
    return binaryIv(hooks::attnc_iv_div);
  if (isa<arith::RemSIOp>(op))
    return binaryIv(hooks::attnc_iv_rem);
  if (isa<arith::MinSIOp>(op))
    return binaryIv(hooks::attnc_iv_min);
  if (isa<arith::MaxSIOp>(op))
    return binaryIv(hooks::attnc_iv_max);
  if (isa<arith::ShLIOp>(op))
    return binaryIv(hooks::attnc_iv_shl);
  if (isa<arith::ShRSIOp>(op))
    return binaryIv(hooks::attnc_iv_shr);
  if (isa<math::AbsIOp>(op))
    return call(hooks::attnc_iv_abs, iv, {eval(op->getOperand(0))});
  if (isa<math::CountLeadingZerosOp>(op))
    return call(hooks::attnc_iv_clz, iv, {eval(op->getOperand(0))});
  if (isa<arith::AndIOp>(op))
    return isBool ? binaryTv(hooks::attnc_tv_and) : binaryIv(hooks::attnc_iv_and);
  if (isa<arith::OrIOp>(op))
    return isBool ? binaryTv(hooks::attnc_tv_or) : binaryIv(hooks::attnc_iv_or);
  if (isa<arith::XOrIOp>(op))
    return isBool ? binaryTv(hooks::attnc_tv_xor) : binaryIv(hooks::attnc_iv_xor);
  if (auto select = dyn_cast<arith::SelectOp>(op)) {
    Value c = eval(select.getCondition());
    Value x = eval(select.getTrueValue()), y = eval(select.getFalseValue());
    return call(isBool ? hooks::attnc_tv_select : hooks::attnc_iv_select, isBool ? tv : iv,
                {c, x, y});
  }
  if (auto cmp = dyn_cast<arith::CmpIOp>(op)) {
    bool boolOperands = cmp.getLhs().getType().isInteger(1);
    using P = arith::CmpIPredicate;
    if (boolOperands) {
      if (cmp.getPredicate() == P::eq)
        return binaryTv(hooks::attnc_tv_eq);
      if (cmp.getPredicate() == P::ne)
        return binaryTv(hooks::attnc_tv_xor);
      return nullptr;
    }
    switch (cmp.getPredicate()) {
    case P::slt:
      return binaryTv(hooks::attnc_iv_lt);
    case P::sle:
      return binaryTv(hooks::attnc_iv_le);
    case P::sgt:
      return binaryTv(hooks::attnc_iv_gt);
    case P::sge:
      return binaryTv(hooks::attnc_iv_ge);
    case P::eq:
      return binaryTv(hooks::attnc_iv_eq);
    case P::ne:
      return binaryTv(hooks::attnc_iv_ne);
    default:
      return nullptr; // unsigned predicates are not produced by the front end
    }
  }
  return nullptr;
}

} // namespace attnc::compiler
