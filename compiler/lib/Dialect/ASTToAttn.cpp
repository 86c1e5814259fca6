//===- ASTToAttn.cpp - Build the attn dialect from a checked AST ----------===//
//
// One attn.spec per attention. The language's total semantics are made explicit
// here, so later passes and the emitter only see well-defined arith ops:
// Int division/remainder guard (x / 0 = 0, INT_MIN / -1 = INT_MIN, x % 0 = 0,
// x % -1 = 0), shift counts masked with 31, Int -> Float promotion, `causal`
// expanded to q + (kv_len - q_len) >= k, bit_length = 32 - ctlz(abs(x)).
// Float is f32 in mask / score / out and f64 in the route region (the selection
// must agree with the float64 reference); f32 params and input reads are extended.
//
//===----------------------------------------------------------------------===//
#include "attnc/compiler/ASTToAttn.h"
#include "attnc/abi/KernelArgs.h"
#include "attnc/compiler/AttnIR.h"
#include "attnc/compiler/Dialect/Attn/AttnDialect.h"
#include "attnc/dsl/Limits.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/EmitC/IR/EmitC.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/Verifier.h"
#include "llvm/Support/raw_ostream.h"

#include <map>
#include <vector>

using namespace mlir;

namespace attnc::compiler {

// Every declaration the checker accepts gets a slot of the kernel ABI, and no slot is
// unreachable from the language.
static_assert(dsl::kMaxParams == ATTNC_MAX_PARAMS, "dsl/Limits.h and KernelArgs.h disagree");
static_assert(dsl::kMaxInputs == ATTNC_MAX_INPUTS, "dsl/Limits.h and KernelArgs.h disagree");
static_assert(dsl::kMaxInputRank == ATTNC_MAX_RANK, "dsl/Limits.h and KernelArgs.h disagree");

SlotPlan planSlots(const dsl::AttentionDecl &attention) {
  SlotPlan plan;
  int nextInt = 0, nextFloat = 0;
  for (const dsl::ParamDecl &p : attention.params) {
    ParamSlot slot;
    slot.name = p.name;
    slot.type = p.type;
    slot.slot = p.type == dsl::Type::Float ? nextFloat++ : nextInt++;
    slot.hasDefault = p.folded.has_value();
    if (p.folded)
      slot.defaultValue = *p.folded;
    plan.params.push_back(slot);
  }
  int index = 0;
  for (const dsl::InputDecl &in : attention.inputs) {
    InputSlot slot;
    slot.name = in.name;
    slot.elementType = in.elementType;
    slot.rank = static_cast<int>(in.dims.size());
    slot.slot = index++;
    plan.inputs.push_back(slot);
  }
  return plan;
}

void registerAttncDialects(DialectRegistry &registry) {
  registry.insert<attn::AttnDialect, arith::ArithDialect, math::MathDialect, func::FuncDialect,
                  scf::SCFDialect, emitc::EmitCDialect>();
}

namespace {

/// Thrown-free error reporting: the first problem is recorded, building goes on
/// with placeholder values so that no null Value is ever used.
class SpecBuilder {
public:
  SpecBuilder(MLIRContext &ctx, const dsl::Program &program, const dsl::AttentionDecl &attention,
              StringRef filename, std::string &error)
      : b(&ctx), program(program), attention(attention), filename(filename), error(error),
        plan(planSlots(attention)) {}

  OwningOpRef<ModuleOp> build();

private:
  OpBuilder b;
  const dsl::Program &program;
  const dsl::AttentionDecl &attention;
  StringRef filename;
  std::string &error;
  SlotPlan plan;
  /// The source position of the expression being built (file:line:col of its first token):
  /// later passes report errors there (attn-differentiate).
  Location loc = b.getUnknownLoc();
  std::map<int, Value> letValues; ///< per region
  /// The language's Float in the region being built: f32, or f64 in the route.
  FloatType floatType = b.getF32Type();

  void fail(const std::string &message) {
    if (error.empty())
      error = message;
  }
  Type i1() { return b.getI1Type(); }
  Type i32() { return b.getI32Type(); }
  Type f32() { return b.getF32Type(); }
  Value constInt(int64_t v) {
    return b.create<arith::ConstantIntOp>(loc, static_cast<int32_t>(v), 32);
  }
  Value constBool(bool v) { return b.create<arith::ConstantIntOp>(loc, v, 1); }
  Value constFloat(double v) {
    if (floatType.isF64())
      return b.create<arith::ConstantFloatOp>(loc, APFloat(v), floatType);
    return b.create<arith::ConstantFloatOp>(loc, APFloat(static_cast<float>(v)), floatType);
  }
  static bool isFloat(Value v) { return isa<FloatType>(v.getType()); }
  Value constant(const dsl::ConstValue &v) {
    switch (v.type) {
    case dsl::Type::Bool:
      return constBool(v.b);
    case dsl::Type::Float:
      return constFloat(v.f);
    default:
      return constInt(v.i);
    }
  }
  Value index(StringRef kind) { return b.create<attn::IndexOp>(loc, i32(), kind); }
  Value shape(StringRef kind) { return b.create<attn::ShapeOp>(loc, i32(), kind); }
  /// Int -> Float, and an f32 storage value (param, input) -> the region's Float.
  Value toFloat(Value v) {
    if (v.getType() == floatType)
      return v;
    if (isFloat(v))
      return b.create<arith::ExtFOp>(loc, floatType, v);
    return b.create<arith::SIToFPOp>(loc, floatType, v);
  }
  /// Promotes both to Float when either is Float.
  void unify(Value &x, Value &y) {
    if (isFloat(x) || isFloat(y)) {
      x = toFloat(x);
      y = toFloat(y);
    }
  }

  Value expr(const dsl::Expr &e);
  Value exprHere(const dsl::Expr &e);
  Value statement(const dsl::Expr &e);
  Value name(const dsl::Expr &e);
  Value unary(const dsl::Expr &e);
  Value binary(const dsl::Expr &e);
  Value call(const dsl::Expr &e);
  Value inputRead(const dsl::Expr &e);
  Value intDivRem(Value x, Value y, bool rem);
};

Value SpecBuilder::name(const dsl::Expr &e) {
  const dsl::SymbolRef &ref = e.ref;
  switch (ref.kind) {
  case dsl::SymbolRef::Builtin:
    switch (static_cast<dsl::Builtin>(ref.index)) {
    case dsl::Builtin::Batch:
      return index("b");
    case dsl::Builtin::Head:
      return index("h");
    case dsl::Builtin::KvHead:
      return index("kv_h");
    case dsl::Builtin::Query:
      return index("q");
    case dsl::Builtin::Key:
      return index("k");
    case dsl::Builtin::Column:
      return index("c");
    case dsl::Builtin::Block:
      return index("blk");
    case dsl::Builtin::Score:
      return b.create<attn::ScoreOp>(loc, f32());
    case dsl::Builtin::Out:
      return b.create<attn::OutOp>(loc, f32());
    case dsl::Builtin::Causal: {
      // Bottom-right aligned: q + (kv_len - q_len) >= k.
      Value offset = b.create<arith::SubIOp>(loc, shape("kv_len"), shape("q_len"));
      Value shifted = b.create<arith::AddIOp>(loc, index("q"), offset);
      return b.create<arith::CmpIOp>(loc, arith::CmpIPredicate::sge, shifted, index("k"));
    }
    case dsl::Builtin::NumBatch:
      return shape("batch");
    case dsl::Builtin::NumHeads:
      return shape("heads");
    case dsl::Builtin::NumKvHeads:
      return shape("kv_heads");
    case dsl::Builtin::QLen:
      return shape("q_len");
    case dsl::Builtin::KvLen:
      return shape("kv_len");
    case dsl::Builtin::HeadDim:
      return shape("d");
    case dsl::Builtin::NumBlocks:
      return shape("num_blocks");
    }
    break;
  case dsl::SymbolRef::Const:
    if (ref.index >= 0 && ref.index < static_cast<int>(attention.consts.size()))
      return constant(attention.consts[ref.index].folded);
    break;
  case dsl::SymbolRef::Param:
    if (ref.index >= 0 && ref.index < static_cast<int>(plan.params.size())) {
      const ParamSlot &slot = plan.params[ref.index];
      Type t = slot.type == dsl::Type::Float ? f32() : slot.type == dsl::Type::Bool ? i1() : i32();
      Value param = b.create<attn::ParamOp>(loc, t, slot.name, slot.slot);
      return slot.type == dsl::Type::Float ? toFloat(param) : param;
    }
    break;
  case dsl::SymbolRef::Let:
    if (ref.index >= 0 && ref.index < static_cast<int>(attention.lets.size())) {
      auto it = letValues.find(ref.index);
      if (it != letValues.end())
        return it->second;
      Value v = expr(*attention.lets[ref.index].value);
      letValues[ref.index] = v;
      return v;
    }
    break;
  case dsl::SymbolRef::Coordinate:
  case dsl::SymbolRef::AxisSize: {
    if (attention.layout < 0 || attention.layout >= static_cast<int>(program.layouts.size()))
      break;
    const dsl::LayoutDecl &layout = program.layouts[attention.layout];
    if (ref.index < 0 || ref.index >= static_cast<int>(layout.axes.size()))
      break;
    if (ref.kind == dsl::SymbolRef::AxisSize)
      return constInt(layout.axes[ref.index].value);
    SmallVector<int64_t> sizes;
    for (const auto &axis : layout.axes)
      sizes.push_back(axis.value);
    return b.create<attn::CoordOp>(loc, i32(), ref.token == dsl::Builtin::Key ? "k" : "q",
                                   static_cast<uint64_t>(ref.index), sizes);
  }
  case dsl::SymbolRef::RouteQuery:
  case dsl::SymbolRef::RouteKey:
  case dsl::SymbolRef::Input:
  case dsl::SymbolRef::None:
    break;
  }
  fail("unresolved name '" + e.name + "'");
  return constInt(0);
}

Value SpecBuilder::intDivRem(Value x, Value y, bool rem) {
  // x / 0 = 0, x % 0 = 0, INT_MIN / -1 = INT_MIN (= 0 - x wrapping), x % -1 = 0.
  Value zero = constInt(0), one = constInt(1), minusOne = constInt(-1);
  Value isZero = b.create<arith::CmpIOp>(loc, arith::CmpIPredicate::eq, y, zero);
  Value isMinusOne = b.create<arith::CmpIOp>(loc, arith::CmpIPredicate::eq, y, minusOne);
  Value special = b.create<arith::OrIOp>(loc, isZero, isMinusOne);
  Value safe = b.create<arith::SelectOp>(loc, special, one, y);
  Value plain = rem ? b.create<arith::RemSIOp>(loc, x, safe).getResult()
                    : b.create<arith::DivSIOp>(loc, x, safe).getResult();
  Value byMinusOne = rem ? zero : b.create<arith::SubIOp>(loc, zero, x).getResult();
  Value nonZero = b.create<arith::SelectOp>(loc, isMinusOne, byMinusOne, plain);
  return b.create<arith::SelectOp>(loc, isZero, zero, nonZero);
}

Value SpecBuilder::unary(const dsl::Expr &e) {
  Value x = expr(*e.operands[0]);
  switch (e.unaryOp) {
  case dsl::UnaryOp::Neg:
    if (isFloat(x))
      return b.create<arith::NegFOp>(loc, x);
    return b.create<arith::SubIOp>(loc, constInt(0), x);
  case dsl::UnaryOp::Not:
    return b.create<arith::XOrIOp>(loc, x, constBool(true));
  case dsl::UnaryOp::BitNot:
    return b.create<arith::XOrIOp>(loc, x, constInt(-1));
  }
  return x;
}

Value SpecBuilder::binary(const dsl::Expr &e) {
  Value x = expr(*e.operands[0]);
  Value y = expr(*e.operands[1]);
  using P = arith::CmpIPredicate;
  using F = arith::CmpFPredicate;
  auto compare = [&](P ip, F fp) -> Value {
    unify(x, y);
    if (isFloat(x))
      return b.create<arith::CmpFOp>(loc, fp, x, y);
    return b.create<arith::CmpIOp>(loc, ip, x, y);
  };
  switch (e.binaryOp) {
  case dsl::BinaryOp::Add:
  case dsl::BinaryOp::Sub:
  case dsl::BinaryOp::Mul:
  case dsl::BinaryOp::Div:
  case dsl::BinaryOp::Rem: {
    unify(x, y);
    bool floatMath = isFloat(x);
    switch (e.binaryOp) {
    case dsl::BinaryOp::Add:
      return floatMath ? b.create<arith::AddFOp>(loc, x, y).getResult()
                       : b.create<arith::AddIOp>(loc, x, y).getResult();
    case dsl::BinaryOp::Sub:
      return floatMath ? b.create<arith::SubFOp>(loc, x, y).getResult()
                       : b.create<arith::SubIOp>(loc, x, y).getResult();
    case dsl::BinaryOp::Mul:
      return floatMath ? b.create<arith::MulFOp>(loc, x, y).getResult()
                       : b.create<arith::MulIOp>(loc, x, y).getResult();
    case dsl::BinaryOp::Div:
      return floatMath ? b.create<arith::DivFOp>(loc, x, y).getResult()
                       : intDivRem(x, y, /*rem=*/false);
    default:
      return floatMath ? b.create<arith::RemFOp>(loc, x, y).getResult()
                       : intDivRem(x, y, /*rem=*/true);
    }
  }
  case dsl::BinaryOp::Shl:
  case dsl::BinaryOp::Shr: {
    Value count = b.create<arith::AndIOp>(loc, y, constInt(31));
    if (e.binaryOp == dsl::BinaryOp::Shl)
      return b.create<arith::ShLIOp>(loc, x, count);
    return b.create<arith::ShRSIOp>(loc, x, count);
  }
  case dsl::BinaryOp::BitAnd:
    return b.create<arith::AndIOp>(loc, x, y);
  case dsl::BinaryOp::BitOr:
    return b.create<arith::OrIOp>(loc, x, y);
  case dsl::BinaryOp::BitXor:
    return b.create<arith::XOrIOp>(loc, x, y);
  case dsl::BinaryOp::Lt:
    return compare(P::slt, F::OLT);
  case dsl::BinaryOp::Le:
    return compare(P::sle, F::OLE);
  case dsl::BinaryOp::Gt:
    return compare(P::sgt, F::OGT);
  case dsl::BinaryOp::Ge:
    return compare(P::sge, F::OGE);
  case dsl::BinaryOp::Eq:
    return compare(P::eq, F::OEQ);
  case dsl::BinaryOp::Ne:
    return compare(P::ne, F::UNE);
  case dsl::BinaryOp::And:
    return b.create<arith::AndIOp>(loc, x, y);
  case dsl::BinaryOp::Or:
    return b.create<arith::OrIOp>(loc, x, y);
  }
  return x;
}

Value SpecBuilder::call(const dsl::Expr &e) {
  if (!e.func) {
    fail("unresolved call '" + e.name + "'");
    return constInt(0);
  }
  SmallVector<Value> args;
  if (*e.func != dsl::Func::Dot)
    for (const auto &operand : e.operands)
      args.push_back(expr(*operand));
  auto need = [&](size_t n) {
    if (args.size() == n)
      return true;
    fail("wrong number of arguments to '" + e.name + "'");
    return false;
  };
  auto minMax = [&](Value x, Value y, bool isMax) -> Value {
    unify(x, y);
    if (isFloat(x))
      return isMax ? b.create<arith::MaxNumFOp>(loc, x, y).getResult()
                   : b.create<arith::MinNumFOp>(loc, x, y).getResult();
    return isMax ? b.create<arith::MaxSIOp>(loc, x, y).getResult()
                 : b.create<arith::MinSIOp>(loc, x, y).getResult();
  };
  switch (*e.func) {
  case dsl::Func::Abs:
    if (!need(1))
      break;
    if (isFloat(args[0]))
      return b.create<math::AbsFOp>(loc, args[0]);
    return b.create<math::AbsIOp>(loc, args[0]);
  case dsl::Func::Min:
  case dsl::Func::Max:
    if (!need(2))
      break;
    return minMax(args[0], args[1], *e.func == dsl::Func::Max);
  case dsl::Func::Clamp: {
    if (!need(3))
      break;
    Value x = args[0], lo = args[1], hi = args[2];
    if (isFloat(x) || isFloat(lo) || isFloat(hi)) {
      x = toFloat(x);
      lo = toFloat(lo);
      hi = toFloat(hi);
    }
    return minMax(minMax(x, lo, true), hi, false);
  }
  case dsl::Func::Exp:
    if (need(1))
      return b.create<math::ExpOp>(loc, toFloat(args[0]));
    break;
  case dsl::Func::Exp2:
    if (need(1))
      return b.create<math::Exp2Op>(loc, toFloat(args[0]));
    break;
  case dsl::Func::Log:
    if (need(1))
      return b.create<math::LogOp>(loc, toFloat(args[0]));
    break;
  case dsl::Func::Log2:
    if (need(1))
      return b.create<math::Log2Op>(loc, toFloat(args[0]));
    break;
  case dsl::Func::Tanh:
    if (need(1))
      return b.create<math::TanhOp>(loc, toFloat(args[0]));
    break;
  case dsl::Func::Sqrt:
    if (need(1))
      return b.create<math::SqrtOp>(loc, toFloat(args[0]));
    break;
  case dsl::Func::Floor:
    if (need(1))
      return b.create<math::FloorOp>(loc, toFloat(args[0]));
    break;
  case dsl::Func::Sigmoid: {
    if (!need(1))
      break;
    // sigmoid(x) = 1 / (1 + exp(-x)).
    Value negated = b.create<arith::NegFOp>(loc, toFloat(args[0]));
    Value denom =
        b.create<arith::AddFOp>(loc, constFloat(1.0), b.create<math::ExpOp>(loc, negated));
    return b.create<arith::DivFOp>(loc, constFloat(1.0), denom);
  }
  case dsl::Func::BitLength: {
    if (!need(1))
      break;
    // 32 - clz(|x| as unsigned): abs wraps INT_MIN to itself, whose clz is 0.
    Value magnitude = b.create<math::AbsIOp>(loc, args[0]);
    Value leading = b.create<math::CountLeadingZerosOp>(loc, magnitude);
    return b.create<arith::SubIOp>(loc, constInt(32), leading);
  }
  case dsl::Func::Select: {
    if (!need(3))
      break;
    Value x = args[1], y = args[2];
    unify(x, y);
    return b.create<arith::SelectOp>(loc, args[0], x, y);
  }
  case dsl::Func::ToFloat:
    if (need(1))
      return toFloat(args[0]);
    break;
  case dsl::Func::ToInt:
    if (!need(1))
      break;
    if (isFloat(args[0]))
      return b.create<attn::ToIntOp>(loc, i32(), args[0]);
    return args[0];
  case dsl::Func::BlockOf:
    if (need(1))
      return b.create<attn::BlockOfOp>(loc, i32(), args[0]);
    break;
  case dsl::Func::Dot:
    return b.create<attn::RouteDotOp>(loc, b.getF64Type());
  }
  return constInt(0);
}

/// Whether the index expression `index` lies in [0, extent) of a dimension declared as `dim`
/// wherever the mask, score and out hooks run: a coordinate (b, h, kv_h, q, k, c) on a
/// dimension declared with its own extent (batch, heads, kv_heads or heads, q_len, kv_len,
/// d). The runtime checks every input's shape against its declaration, and the kernels call
/// those hooks with coordinates inside the problem only, so such reads need no clamp.
static bool coordinateInRange(const dsl::Expr &index, const dsl::Expr &dim) {
  auto builtin = [](const dsl::Expr &e) -> std::optional<dsl::Builtin> {
    if (e.kind != dsl::ExprKind::Name || e.ref.kind != dsl::SymbolRef::Builtin)
      return std::nullopt;
    return static_cast<dsl::Builtin>(e.ref.index);
  };
  std::optional<dsl::Builtin> i =
      index.kind == dsl::ExprKind::Slice ? dsl::Builtin::Column : builtin(index);
  std::optional<dsl::Builtin> d = builtin(dim);
  if (!i || !d)
    return false;
  switch (*i) {
  case dsl::Builtin::Batch:
    return *d == dsl::Builtin::NumBatch;
  case dsl::Builtin::Head:
    return *d == dsl::Builtin::NumHeads;
  case dsl::Builtin::KvHead:
    return *d == dsl::Builtin::NumKvHeads || *d == dsl::Builtin::NumHeads;
  case dsl::Builtin::Query:
    return *d == dsl::Builtin::QLen;
  case dsl::Builtin::Key:
    return *d == dsl::Builtin::KvLen;
  case dsl::Builtin::Column:
    return *d == dsl::Builtin::HeadDim;
  default:
    return false;
  }
}

Value SpecBuilder::inputRead(const dsl::Expr &e) {
  if (e.ref.kind != dsl::SymbolRef::Input || e.ref.index < 0 ||
      e.ref.index >= static_cast<int>(plan.inputs.size())) {
    fail("unresolved input '" + e.name + "'");
    return constInt(0);
  }
  const InputSlot &slot = plan.inputs[e.ref.index];
  SmallVector<Value> indices;
  for (const auto &operand : e.operands)
    indices.push_back(expr(*operand));
  Type t = dsl::scalarTypeOf(slot.elementType) == dsl::Type::Float ? f32()
           : slot.elementType == dsl::ElementType::U8              ? i1()
                                                                   : i32();
  if (indices.empty() || indices.size() > 4) {
    fail("input '" + e.name + "' must have rank 1 to 4");
    return constInt(0);
  }
  // In the route region (f64) coordinates are those of routing units and blocks: keep the
  // clamps there.
  const dsl::InputDecl &decl = attention.inputs[e.ref.index];
  int32_t inRange = 0;
  for (size_t i = 0; i < e.operands.size() && i < decl.dims.size(); ++i)
    if (!floatType.isF64() && coordinateInRange(*e.operands[i], *decl.dims[i]))
      inRange |= 1 << i;
  auto read = b.create<attn::InputReadOp>(loc, t, slot.name, slot.slot,
                                          dsl::elementTypeName(slot.elementType), indices,
                                          inRange ? b.getI32IntegerAttr(inRange) : IntegerAttr());
  return isFloat(read.getResult()) ? toFloat(read.getResult()) : read.getResult();
}

/// Builds a statement's expression. The lets it uses (transitively) are built first, in
/// declaration order, so that expr() never recurses from a let into another let: the
/// recursion depth is that of one expression, however long a chain of lets is.
Value SpecBuilder::statement(const dsl::Expr &e) {
  const int numLets = static_cast<int>(attention.lets.size());
  std::vector<bool> used(numLets, false);
  std::vector<const dsl::Expr *> work{&e};
  while (!work.empty()) {
    const dsl::Expr *node = work.back();
    work.pop_back();
    if (node->kind == dsl::ExprKind::Name && node->ref.kind == dsl::SymbolRef::Let &&
        node->ref.index >= 0 && node->ref.index < numLets && !used[node->ref.index]) {
      used[node->ref.index] = true;
      if (const auto &value = attention.lets[node->ref.index].value)
        work.push_back(value.get());
    }
    for (const auto &operand : node->operands)
      if (operand)
        work.push_back(operand.get());
  }
  for (int i = 0; i < numLets; ++i)
    if (used[i] && !letValues.count(i) && attention.lets[i].value)
      letValues[i] = expr(*attention.lets[i].value);
  return expr(e);
}

Value SpecBuilder::expr(const dsl::Expr &e) {
  Location outer = loc;
  if (e.range.begin.isValid())
    loc = FileLineColLoc::get(b.getContext(), filename, e.range.begin.line, e.range.begin.column);
  Value value = exprHere(e);
  loc = outer;
  return value;
}

Value SpecBuilder::exprHere(const dsl::Expr &e) {
  switch (e.kind) {
  case dsl::ExprKind::IntLiteral:
    return constInt(e.intValue);
  case dsl::ExprKind::FloatLiteral:
    return constFloat(e.floatValue);
  case dsl::ExprKind::BoolLiteral:
    return constBool(e.boolValue);
  case dsl::ExprKind::Name:
  case dsl::ExprKind::Member:
    return name(e);
  case dsl::ExprKind::Slice:
    return index("c");
  case dsl::ExprKind::Unary:
    if (e.operands.size() == 1)
      return unary(e);
    break;
  case dsl::ExprKind::Binary:
    if (e.operands.size() == 2)
      return binary(e);
    break;
  case dsl::ExprKind::Call:
    return call(e);
  case dsl::ExprKind::Index:
    return inputRead(e);
  }
  fail("malformed expression");
  return constInt(0);
}

/// Evaluates a constant route argument (a literal or a folded const), or 0.
double routeConstant(const dsl::AttentionDecl &attention, const dsl::Expr *e) {
  if (!e)
    return 0;
  if (e->kind == dsl::ExprKind::IntLiteral)
    return static_cast<double>(e->intValue);
  if (e->kind == dsl::ExprKind::FloatLiteral)
    return e->floatValue;
  if (e->kind == dsl::ExprKind::Name && e->ref.kind == dsl::SymbolRef::Const && e->ref.index >= 0 &&
      e->ref.index < static_cast<int>(attention.consts.size())) {
    const dsl::ConstValue &v = attention.consts[e->ref.index].folded;
    return v.type == dsl::Type::Float ? v.f : static_cast<double>(v.i);
  }
  return 0;
}

OwningOpRef<ModuleOp> SpecBuilder::build() {
  OwningOpRef<ModuleOp> module = ModuleOp::create(loc);
  b.setInsertionPointToEnd(module->getBody());
  auto spec = b.create<attn::SpecOp>(loc, b.getStringAttr(attention.name), nullptr, nullptr,
                                     nullptr, nullptr, nullptr, nullptr);

  auto emitRegion = [&](Region &region, auto body) {
    letValues.clear();
    Block *block = b.createBlock(&region);
    b.setInsertionPointToStart(block);
    SmallVector<Value> results = body();
    b.create<attn::YieldOp>(loc, results);
  };
  emitRegion(spec.getMask(), [&]() -> SmallVector<Value> {
    Value v = attention.mask ? statement(*attention.mask) : constBool(true);
    if (!v.getType().isInteger(1)) {
      fail("the mask is not Bool");
      v = constBool(true);
    }
    return {v};
  });
  auto floatRegion = [&](const dsl::ExprPtr &e, bool isScore) -> SmallVector<Value> {
    Value v;
    if (e)
      v = toFloat(statement(*e));
    else if (isScore)
      v = b.create<attn::ScoreOp>(loc, f32());
    else
      v = b.create<attn::OutOp>(loc, f32());
    if (!v.getType().isF32()) {
      fail("a score or out expression is not Float");
      v = constFloat(0);
    }
    return {v};
  };
  emitRegion(spec.getScore(), [&] { return floatRegion(attention.score, true); });
  emitRegion(spec.getOut(), [&] { return floatRegion(attention.out, false); });

  if (attention.route) {
    const dsl::RouteSpec &route = *attention.route;
    spec.setRouteBlockAttr(b.getDenseI64ArrayAttr(route.blockShape));
    if (!route.tileSizes.empty()) {
      if (attention.layout < 0 || attention.layout >= static_cast<int>(program.layouts.size())) {
        fail("route tiles need a layout");
        return module;
      }
      SmallVector<int64_t> grid;
      for (const auto &axis : program.layouts[attention.layout].axes)
        grid.push_back(axis.value);
      spec.setRouteGridAttr(b.getDenseI64ArrayAttr(grid));
    }
    const char *per = route.per == dsl::RouteSpec::Granularity::Token  ? "token"
                      : route.per == dsl::RouteSpec::Granularity::Head ? "head"
                                                                       : "query_block";
    spec.setRoutePerAttr(b.getStringAttr(per));
    spec.setRouteQueryBlockAttr(b.getI64IntegerAttr(route.queryBlock));
    spec.setRouteSelectAttr(
        b.getStringAttr(route.select == dsl::RouteSpec::Selection::TopK ? "top" : "threshold"));
    spec.setRouteSelectArgAttr(b.getF64FloatAttr(routeConstant(attention, route.selectArg.get())));
    floatType = b.getF64Type();
    emitRegion(spec.getRoute(), [&]() -> SmallVector<Value> {
      Value gate = route.gate ? toFloat(statement(*route.gate))
                              : b.create<attn::RouteDotOp>(loc, floatType).getResult();
      Value always = route.always ? statement(*route.always) : constBool(false);
      Value never = route.never ? statement(*route.never) : constBool(false);
      return {gate, always, never};
    });
    floatType = b.getF32Type();
  }
  return module;
}

} // namespace

OwningOpRef<ModuleOp> buildAttnModule(MLIRContext &context, const dsl::Program &program,
                                      const dsl::AttentionDecl &attention, std::string &error,
                                      const std::string &filename) {
  DialectRegistry registry;
  registerAttncDialects(registry);
  context.appendDialectRegistry(registry);
  context.loadAllAvailableDialects();
  SpecBuilder builder(context, program, attention, filename, error);
  OwningOpRef<ModuleOp> module = builder.build();
  if (!error.empty())
    return nullptr;
  if (failed(mlir::verify(*module))) {
    error = "internal error: the built attn module does not verify";
    return nullptr;
  }
  return module;
}

bool printAttnIR(const dsl::Program &program, const dsl::AttentionDecl &attention,
                 std::string &text, std::string &error) {
  MLIRContext context(MLIRContext::Threading::DISABLED);
  OwningOpRef<ModuleOp> module = buildAttnModule(context, program, attention, error);
  if (!module)
    return false;
  llvm::raw_string_ostream os(text);
  module->print(os);
  return true;
}

} // namespace attnc::compiler
