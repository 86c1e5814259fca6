//===- Interpreter.cpp - Expression evaluation over the checked AST -----===//
#include "Interpreter.h"

#include "attnc/dsl/IntSemantics.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace attnc::reference::detail {

using dsl::BinaryOp;
using dsl::Builtin;
using dsl::Expr;
using dsl::ExprKind;
using dsl::Func;
using dsl::SymbolRef;
using dsl::Type;
using dsl::UnaryOp;

namespace {

using dsl::semantics::bitLength;
using dsl::semantics::intAbs;
using dsl::semantics::intDiv;
using dsl::semantics::intRem;
using dsl::semantics::wrap;
using dsl::semantics::wrapAdd;
using dsl::semantics::wrapMul;
using dsl::semantics::wrapSub;
constexpr auto toInt = dsl::semantics::toIntSaturating;

// Float min/max ignore a NaN operand (C's fmin/fmax, CUDA's fminf/fmaxf).
double floatMin(double a, double b) { return std::fmin(a, b); }
double floatMax(double a, double b) { return std::fmax(a, b); }

bool isFloat(const Value &v) { return v.type == Type::Float; }

const char *typeText(Type t) {
  switch (t) {
  case Type::Int:
    return "int";
  case Type::Float:
    return "float";
  case Type::Bool:
    return "bool";
  default:
    return "invalid";
  }
}

} // namespace

Value coerce(Value v, Type type) {
  if (type == Type::Float && v.type == Type::Int)
    return Value::ofFloat(static_cast<double>(v.i));
  return v;
}

//===----------------------------------------------------------------------===//
// Binding
//===----------------------------------------------------------------------===//

static Value constToValue(const dsl::ConstValue &c) {
  switch (c.type) {
  case Type::Int:
    return Value::ofInt(wrap(c.i));
  case Type::Float:
    return Value::ofFloat(c.f);
  case Type::Bool:
    return Value::ofBool(c.b);
  default:
    return Value();
  }
}

/// Whether `e` reads a per-pair value (k, score, out, c, blk, routing vectors), given the
/// flags of the lets declared before.
static bool readsPerPair(const Expr &e, const std::vector<bool> &letPerPair) {
  if (e.kind == ExprKind::Slice)
    return true;
  if (e.kind == ExprKind::Call && e.func && *e.func == Func::Dot)
    return true;
  if (e.kind == ExprKind::Member && e.ref.kind == SymbolRef::Coordinate &&
      e.ref.token == Builtin::Key)
    return true;
  if (e.kind == ExprKind::Name) {
    if (e.ref.kind == SymbolRef::Let)
      return e.ref.index >= 0 && e.ref.index < static_cast<int>(letPerPair.size())
                 ? letPerPair[e.ref.index]
                 : true;
    if (e.ref.kind == SymbolRef::Builtin) {
      switch (static_cast<Builtin>(e.ref.index)) {
      case Builtin::Key:
      case Builtin::Score:
      case Builtin::Out:
      case Builtin::Column:
      case Builtin::Causal:
      case Builtin::Block:
        return true;
      default:
        return false;
      }
    }
    if (e.ref.kind == SymbolRef::Coordinate)
      return e.ref.token == Builtin::Key;
  }
  for (const auto &op : e.operands)
    if (readsPerPair(*op, letPerPair))
      return true;
  return false;
}

bool Binding::bindStatic(const dsl::Program &prog, const dsl::AttentionDecl &attn,
                         const ProblemShape &shp, const std::vector<ParamBinding> &bindings,
                         std::string &error) {
  program = &prog;
  attention = &attn;
  shape = shp;
  if (shape.batch < 1 || shape.heads < 1 || shape.kvHeads < 1 || shape.qLen < 1 ||
      shape.kvLen < 1 || shape.headDim < 1) {
    error = "every shape value (batch, heads, kv_heads, q_len, kv_len, d) must be >= 1";
    return false;
  }
  if (shape.heads % shape.kvHeads != 0) {
    error = "heads (" + std::to_string(shape.heads) + ") must be a multiple of kv_heads (" +
            std::to_string(shape.kvHeads) + ")";
    return false;
  }
  consts.clear();
  for (const auto &c : attn.consts)
    consts.push_back(constToValue(c.folded));

  params.clear();
  for (const auto &p : attn.params) {
    Value value;
    bool found = false;
    for (const auto &bnd : bindings) {
      if (bnd.name != p.name)
        continue;
      found = true;
      const dsl::ConstValue &v = bnd.value;
      if (v.type == p.type) {
        value = constToValue(v);
      } else if (p.type == Type::Float && v.type == Type::Int) {
        value = Value::ofFloat(static_cast<double>(v.i));
      } else {
        error = "param '" + p.name + "' is " + typeText(p.type) + " but was given a " +
                typeText(v.type) + " value";
        return false;
      }
    }
    if (!found) {
      if (!p.folded) {
        error = "param '" + p.name + "' has no default and no value was given";
        return false;
      }
      value = constToValue(*p.folded);
      if (p.type == Type::Float)
        value = coerce(value, Type::Float);
    }
    params.push_back(value);
  }
  for (const auto &bnd : bindings) {
    bool known = std::any_of(attn.params.begin(), attn.params.end(),
                             [&](const dsl::ParamDecl &p) { return p.name == bnd.name; });
    if (!known) {
      error = "attention '" + attn.name + "' has no param named '" + bnd.name + "'";
      return false;
    }
  }

  letPerPair.clear();
  for (const auto &let : attn.lets)
    letPerPair.push_back(!let.value || readsPerPair(*let.value, letPerPair));

  axisSizes.clear();
  if (attn.layout >= 0 && attn.layout < static_cast<int>(prog.layouts.size()))
    for (const auto &axis : prog.layouts[attn.layout].axes)
      axisSizes.push_back(axis.value);

  blockShape.clear();
  tileCounts.clear();
  tiled = false;
  if (attn.route) {
    blockShape = attn.route->blockShape;
    tiled = !attn.route->tileSizes.empty();
    if (blockShape.empty() ||
        std::any_of(blockShape.begin(), blockShape.end(), [](int64_t s) { return s < 1; })) {
      error = "route block sizes must be >= 1";
      return false;
    }
    if (tiled) {
      if (blockShape.size() != axisSizes.size()) {
        error = "route tile needs one size per layout axis";
        return false;
      }
      tileCounts.assign(axisSizes.size(), 0);
      for (size_t i = 1; i < axisSizes.size(); ++i)
        tileCounts[i] = (axisSizes[i] + blockShape[i] - 1) / blockShape[i];
    }
  }
  return true;
}

int64_t Binding::coordinate(int64_t token, int axis) const {
  // Row-major, last axis fastest; axis 0 is not wrapped (tokens beyond the grid keep
  // counting in the first axis). Int semantics: 32-bit truncating division.
  int32_t t = wrap(token);
  int32_t inner = 1;
  for (size_t j = axis + 1; j < axisSizes.size(); ++j)
    inner = wrapMul(inner, wrap(axisSizes[j]));
  int32_t v = intDiv(t, inner);
  if (axis == 0)
    return v;
  return intRem(v, wrap(axisSizes[axis]));
}

int64_t Binding::blockOf(int64_t token) const {
  if (!tiled)
    return intDiv(wrap(token), wrap(blockShape[0]));
  int32_t block = 0;
  for (size_t i = 0; i < axisSizes.size(); ++i) {
    int32_t bc = intDiv(wrap(coordinate(token, static_cast<int>(i))), wrap(blockShape[i]));
    block = i == 0 ? bc : wrapAdd(wrapMul(block, wrap(tileCounts[i])), bc);
  }
  return block;
}

//===----------------------------------------------------------------------===//
// Evaluator
//===----------------------------------------------------------------------===//

Evaluator::Evaluator(const Binding &binding) : bind_(binding) {
  letStamp_.assign(binding.attention->lets.size(), 0);
  letValue_.assign(binding.attention->lets.size(), Value());
}

int32_t Evaluator::evalInt(const Expr &e) {
  Value v = eval(e);
  return v.type == Type::Int ? v.i : toInt(v.asDouble());
}

Value Evaluator::eval(const Expr &e) {
  switch (e.kind) {
  case ExprKind::IntLiteral:
    return coerce(Value::ofInt(wrap(e.intValue)), e.type);
  case ExprKind::FloatLiteral:
    return Value::ofFloat(e.floatValue);
  case ExprKind::BoolLiteral:
    return Value::ofBool(e.boolValue);
  case ExprKind::Name:
    return coerce(evalName(e), e.type);
  case ExprKind::Unary:
    return coerce(evalUnary(e), e.type);
  case ExprKind::Binary:
    return coerce(evalBinary(e), e.type);
  case ExprKind::Call:
    return coerce(evalCall(e), e.type);
  case ExprKind::Index:
    return coerce(evalIndex(e), e.type);
  case ExprKind::Member:
    return coerce(evalMember(e), e.type);
  case ExprKind::Slice:
    return coerce(Value::ofInt(c), e.type);
  }
  return Value();
}

Value Evaluator::builtin(Builtin which) {
  const ProblemShape &s = bind_.shape;
  switch (which) {
  case Builtin::Batch:
    return Value::ofInt(b);
  case Builtin::Head:
    return Value::ofInt(h);
  case Builtin::KvHead:
    return Value::ofInt(kvh);
  case Builtin::Query:
    return Value::ofInt(q);
  case Builtin::Key:
    return Value::ofInt(k);
  case Builtin::Score:
    return Value::ofFloat(score);
  case Builtin::Out:
    return Value::ofFloat(out);
  case Builtin::Column:
    return Value::ofInt(c);
  case Builtin::Causal:
    return Value::ofBool(static_cast<int64_t>(q) + (s.kvLen - s.qLen) >= k);
  case Builtin::NumBatch:
    return Value::ofInt(s.batch);
  case Builtin::NumHeads:
    return Value::ofInt(s.heads);
  case Builtin::NumKvHeads:
    return Value::ofInt(s.kvHeads);
  case Builtin::QLen:
    return Value::ofInt(s.qLen);
  case Builtin::KvLen:
    return Value::ofInt(s.kvLen);
  case Builtin::HeadDim:
    return Value::ofInt(s.headDim);
  case Builtin::Block:
    return Value::ofInt(blk);
  case Builtin::NumBlocks:
    return Value::ofInt(numBlocks);
  }
  return Value();
}

Value Evaluator::evalName(const Expr &e) {
  switch (e.ref.kind) {
  case SymbolRef::Builtin:
    return builtin(static_cast<Builtin>(e.ref.index));
  case SymbolRef::Const:
    return bind_.consts[e.ref.index];
  case SymbolRef::Param:
    return bind_.params[e.ref.index];
  case SymbolRef::Let: {
    int i = e.ref.index;
    uint64_t current = bind_.letPerPair[i] ? pairStamp_ : rowStamp_;
    if (letStamp_[i] != current) {
      // Mark before evaluating so a (checker-rejected) cycle cannot recurse forever.
      letStamp_[i] = current;
      letValue_[i] = Value();
      letValue_[i] = eval(*bind_.attention->lets[i].value);
    }
    return letValue_[i];
  }
  case SymbolRef::Coordinate:
  case SymbolRef::AxisSize:
    return evalMember(e);
  default:
    return Value();
  }
}

Value Evaluator::evalMember(const Expr &e) {
  if (e.ref.kind == SymbolRef::Coordinate) {
    int64_t token = e.ref.token == Builtin::Key ? k : q;
    return Value::ofInt(wrap(bind_.coordinate(token, e.ref.index)));
  }
  if (e.ref.kind == SymbolRef::AxisSize)
    return Value::ofInt(wrap(bind_.axisSizes[e.ref.index]));
  return Value();
}

Value Evaluator::evalUnary(const Expr &e) {
  Value v = eval(*e.operands[0]);
  switch (e.unaryOp) {
  case UnaryOp::Neg:
    return isFloat(v) ? Value::ofFloat(-v.f) : Value::ofInt(wrapSub(0, v.i));
  case UnaryOp::Not:
    return Value::ofBool(!v.b);
  case UnaryOp::BitNot:
    return Value::ofInt(~v.i);
  }
  return Value();
}

Value Evaluator::evalBinary(const Expr &e) {
  BinaryOp op = e.binaryOp;
  // && and || short-circuit (no side effects, so this only saves time).
  if (op == BinaryOp::And)
    return Value::ofBool(eval(*e.operands[0]).b && eval(*e.operands[1]).b);
  if (op == BinaryOp::Or)
    return Value::ofBool(eval(*e.operands[0]).b || eval(*e.operands[1]).b);

  Value l = eval(*e.operands[0]);
  Value r = eval(*e.operands[1]);
  bool useFloat = isFloat(l) || isFloat(r);
  if (l.type == Type::Bool && r.type == Type::Bool) {
    if (op == BinaryOp::Eq)
      return Value::ofBool(l.b == r.b);
    if (op == BinaryOp::Ne)
      return Value::ofBool(l.b != r.b);
  }
  if (useFloat) {
    double a = l.asDouble(), c2 = r.asDouble();
    switch (op) {
    case BinaryOp::Add:
      return Value::ofFloat(a + c2);
    case BinaryOp::Sub:
      return Value::ofFloat(a - c2);
    case BinaryOp::Mul:
      return Value::ofFloat(a * c2);
    case BinaryOp::Div:
      return Value::ofFloat(a / c2);
    case BinaryOp::Rem:
      return Value::ofFloat(std::fmod(a, c2));
    default:
      break;
    }
    if (auto c = dsl::semantics::compare(op, a, c2))
      return Value::ofBool(*c);
    return Value(); // bitwise ops on Float are rejected by the checker
  }
  int32_t a = l.i, c2 = r.i;
  if (auto v = dsl::semantics::intArithmetic(op, a, c2))
    return Value::ofInt(*v);
  if (auto c = dsl::semantics::compare(op, a, c2))
    return Value::ofBool(*c);
  return Value();
}

Value Evaluator::evalCall(const Expr &e) {
  if (!e.func)
    return Value();
  Func f = *e.func;
  if (f == Func::Dot) {
    double sum = 0.0;
    if (routeQuery && routeKey)
      for (int i = 0; i < bind_.shape.headDim; ++i)
        sum += routeQuery[i] * routeKey[i];
    return Value::ofFloat(sum);
  }
  Value args[3]; // every function takes at most 3 arguments (checked by Sema)
  size_t numArgs = std::min<size_t>(e.operands.size(), 3);
  for (size_t i = 0; i < numArgs; ++i)
    args[i] = eval(*e.operands[i]);
  auto anyFloat = [&](size_t from) {
    for (size_t i = from; i < numArgs; ++i)
      if (isFloat(args[i]))
        return true;
    return false;
  };
  switch (f) {
  case Func::Abs:
    return isFloat(args[0]) ? Value::ofFloat(std::fabs(args[0].f))
                            : Value::ofInt(intAbs(args[0].i));
  case Func::Min:
    if (anyFloat(0))
      return Value::ofFloat(floatMin(args[0].asDouble(), args[1].asDouble()));
    return Value::ofInt(std::min(args[0].i, args[1].i));
  case Func::Max:
    if (anyFloat(0))
      return Value::ofFloat(floatMax(args[0].asDouble(), args[1].asDouble()));
    return Value::ofInt(std::max(args[0].i, args[1].i));
  case Func::Clamp: // min(max(x, lo), hi): hi wins when lo > hi
    if (anyFloat(0))
      return Value::ofFloat(
          floatMin(floatMax(args[0].asDouble(), args[1].asDouble()), args[2].asDouble()));
    return Value::ofInt(std::min(std::max(args[0].i, args[1].i), args[2].i));
  case Func::Exp:
    return Value::ofFloat(std::exp(args[0].asDouble()));
  case Func::Exp2:
    return Value::ofFloat(std::exp2(args[0].asDouble()));
  case Func::Log:
    return Value::ofFloat(std::log(args[0].asDouble()));
  case Func::Log2:
    return Value::ofFloat(std::log2(args[0].asDouble()));
  case Func::Tanh:
    return Value::ofFloat(std::tanh(args[0].asDouble()));
  case Func::Sigmoid:
    return Value::ofFloat(1.0 / (1.0 + std::exp(-args[0].asDouble())));
  case Func::Sqrt:
    return Value::ofFloat(std::sqrt(args[0].asDouble()));
  case Func::Floor:
    return Value::ofFloat(std::floor(args[0].asDouble()));
  case Func::BitLength:
    return Value::ofInt(bitLength(args[0].i));
  case Func::Select:
    if (anyFloat(1))
      return Value::ofFloat(args[0].b ? args[1].asDouble() : args[2].asDouble());
    return args[0].b ? args[1] : args[2];
  case Func::ToFloat:
    return Value::ofFloat(args[0].asDouble());
  case Func::ToInt:
    return Value::ofInt(args[0].type == Type::Int ? args[0].i : toInt(args[0].asDouble()));
  case Func::BlockOf:
    return Value::ofInt(wrap(bind_.blockOf(args[0].i)));
  case Func::Dot:
    break;
  }
  return Value();
}

int64_t Evaluator::indexOffset(const Expr &e, int64_t *logical) {
  const TensorView &t = bind_.inputs[e.ref.index];
  int64_t offset = 0, flat = 0;
  for (size_t n = 0; n < e.operands.size() && n < t.dims.size(); ++n) {
    int64_t index = e.operands[n]->kind == ExprKind::Slice ? c : eval(*e.operands[n]).i;
    index = std::clamp<int64_t>(index, 0, t.dims[n] - 1); // defined, never out of bounds
    offset += index * t.strides[n];
    flat = flat * t.dims[n] + index;
  }
  if (logical)
    *logical = flat;
  return offset;
}

Value Evaluator::evalIndex(const Expr &e) {
  const TensorView &t = bind_.inputs[e.ref.index];
  int64_t offset = indexOffset(e);
  dsl::ElementType et = bind_.attention->inputs[e.ref.index].elementType;
  switch (et) {
  case dsl::ElementType::I32:
  case dsl::ElementType::I64: // narrowed with wrap-around
    return Value::ofInt(wrap(t.loadInt(offset)));
  case dsl::ElementType::U8:
    return Value::ofBool(t.loadInt(offset) != 0);
  default:
    return Value::ofFloat(t.loadDouble(offset));
  }
}

} // namespace attnc::reference::detail
