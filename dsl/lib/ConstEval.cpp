//===- ConstEval.cpp - Constant evaluation of the checker -----------------===//
#include "ConstEval.h"

#include "attnc/dsl/IntSemantics.h"
#include "attnc/dsl/Sema.h"

#include <algorithm>
#include <cmath>

namespace attnc::dsl {
namespace sema {

using semantics::bitLength;
using semantics::intAbs;
using semantics::intMax;
using semantics::intMin;
using semantics::toIntSaturating;
using semantics::wrap;
using semantics::wrapNeg;

ConstValue makeInt(int64_t v) {
  ConstValue c;
  c.type = Type::Int;
  c.i = wrap(v);
  return c;
}
ConstValue makeFloat(double v) {
  ConstValue c;
  c.type = Type::Float;
  c.f = v;
  return c;
}
ConstValue makeBool(bool v) {
  ConstValue c;
  c.type = Type::Bool;
  c.b = v;
  return c;
}

namespace {

std::optional<ConstValue> evalConstNode(const Expr &e, const Program &program,
                                        const AttentionDecl *attn, ConstMemo *memo) {
  auto operand = [&](size_t i) -> std::optional<ConstValue> {
    if (i >= e.operands.size() || !e.operands[i])
      return std::nullopt;
    return evalConst(*e.operands[i], program, attn, memo);
  };
  switch (e.kind) {
  case ExprKind::IntLiteral:
    return makeInt(e.intValue);
  case ExprKind::FloatLiteral:
    return makeFloat(e.floatValue);
  case ExprKind::BoolLiteral:
    return makeBool(e.boolValue);
  case ExprKind::Name:
    if (attn && e.ref.kind == SymbolRef::Const && e.ref.index >= 0 &&
        e.ref.index < static_cast<int>(attn->consts.size())) {
      const ConstValue &v = attn->consts[e.ref.index].folded;
      if (v.type == Type::Invalid)
        return std::nullopt;
      return v;
    }
    return std::nullopt;
  case ExprKind::Member:
    if (attn && e.ref.kind == SymbolRef::AxisSize && attn->layout >= 0 &&
        attn->layout < static_cast<int>(program.layouts.size())) {
      const LayoutDecl &layout = program.layouts[attn->layout];
      if (e.ref.index >= 0 && e.ref.index < static_cast<int>(layout.axes.size()))
        return makeInt(layout.axes[e.ref.index].value);
    }
    return std::nullopt;
  case ExprKind::Unary: {
    auto a = operand(0);
    if (!a)
      return std::nullopt;
    switch (e.unaryOp) {
    case UnaryOp::Neg:
      if (a->type == Type::Int)
        return makeInt(wrapNeg(static_cast<int32_t>(a->i)));
      if (a->type == Type::Float)
        return makeFloat(-a->f);
      return std::nullopt;
    case UnaryOp::Not:
      if (a->type == Type::Bool)
        return makeBool(!a->b);
      return std::nullopt;
    case UnaryOp::BitNot:
      if (a->type == Type::Int)
        return makeInt(~static_cast<int32_t>(a->i));
      return std::nullopt;
    }
    return std::nullopt;
  }
  case ExprKind::Binary: {
    auto a = operand(0);
    auto b = operand(1);
    if (!a || !b)
      return std::nullopt;
    if (e.binaryOp == BinaryOp::And || e.binaryOp == BinaryOp::Or) {
      if (a->type != Type::Bool || b->type != Type::Bool)
        return std::nullopt;
      return makeBool(e.binaryOp == BinaryOp::And ? (a->b && b->b) : (a->b || b->b));
    }
    if (a->type == Type::Bool && b->type == Type::Bool) {
      if (e.binaryOp == BinaryOp::Eq)
        return makeBool(a->b == b->b);
      if (e.binaryOp == BinaryOp::Ne)
        return makeBool(a->b != b->b);
      return std::nullopt;
    }
    if (a->type == Type::Int && b->type == Type::Int) {
      int32_t x = static_cast<int32_t>(a->i), y = static_cast<int32_t>(b->i);
      if (auto v = semantics::intArithmetic(e.binaryOp, x, y))
        return makeInt(*v);
      if (auto c = semantics::compare(e.binaryOp, x, y))
        return makeBool(*c);
      return std::nullopt;
    }
    if (a->type == Type::Float && b->type == Type::Float) {
      double x = a->f, y = b->f;
      switch (e.binaryOp) {
      case BinaryOp::Add:
        return makeFloat(x + y);
      case BinaryOp::Sub:
        return makeFloat(x - y);
      case BinaryOp::Mul:
        return makeFloat(x * y);
      case BinaryOp::Div:
        return makeFloat(x / y);
      default:
        break;
      }
      if (auto c = semantics::compare(e.binaryOp, x, y))
        return makeBool(*c);
      return std::nullopt;
    }
    return std::nullopt;
  }
  case ExprKind::Call: {
    if (!e.func)
      return std::nullopt;
    std::vector<ConstValue> args;
    for (size_t i = 0; i < e.operands.size(); ++i) {
      auto v = operand(i);
      if (!v)
        return std::nullopt;
      args.push_back(*v);
    }
    auto floatArg = [&](size_t i) { return args[i].type == Type::Float ? args[i].f : NAN; };
    auto allInt = [&] {
      return std::all_of(args.begin(), args.end(),
                         [](const ConstValue &v) { return v.type == Type::Int; });
    };
    auto allFloat = [&] {
      return std::all_of(args.begin(), args.end(),
                         [](const ConstValue &v) { return v.type == Type::Float; });
    };
    switch (*e.func) {
    case Func::Abs:
      if (args.size() != 1)
        return std::nullopt;
      if (allInt())
        return makeInt(intAbs(static_cast<int32_t>(args[0].i)));
      if (allFloat())
        return makeFloat(std::fabs(args[0].f));
      return std::nullopt;
    case Func::Min:
    case Func::Max: {
      if (args.size() != 2)
        return std::nullopt;
      bool isMin = *e.func == Func::Min;
      if (allInt()) {
        int32_t x = static_cast<int32_t>(args[0].i), y = static_cast<int32_t>(args[1].i);
        return makeInt(isMin ? intMin(x, y) : intMax(x, y));
      }
      if (allFloat())
        return makeFloat(isMin ? std::fmin(args[0].f, args[1].f) : std::fmax(args[0].f, args[1].f));
      return std::nullopt;
    }
    case Func::Clamp:
      if (args.size() != 3)
        return std::nullopt;
      if (allInt())
        return makeInt(
            intMin(intMax(static_cast<int32_t>(args[0].i), static_cast<int32_t>(args[1].i)),
                   static_cast<int32_t>(args[2].i)));
      if (allFloat())
        return makeFloat(std::fmin(std::fmax(args[0].f, args[1].f), args[2].f));
      return std::nullopt;
    case Func::Exp:
    case Func::Exp2:
    case Func::Log:
    case Func::Log2:
    case Func::Tanh:
    case Func::Sigmoid:
    case Func::Sqrt:
    case Func::Floor: {
      if (args.size() != 1 || !allFloat())
        return std::nullopt;
      double x = floatArg(0);
      switch (*e.func) {
      case Func::Exp:
        return makeFloat(std::exp(x));
      case Func::Exp2:
        return makeFloat(std::exp2(x));
      case Func::Log:
        return makeFloat(std::log(x));
      case Func::Log2:
        return makeFloat(std::log2(x));
      case Func::Tanh:
        return makeFloat(std::tanh(x));
      case Func::Sigmoid:
        return makeFloat(1.0 / (1.0 + std::exp(-x)));
      case Func::Sqrt:
        return makeFloat(std::sqrt(x));
      default:
        return makeFloat(std::floor(x));
      }
    }
    case Func::BitLength:
      if (args.size() != 1 || !allInt())
        return std::nullopt;
      return makeInt(bitLength(static_cast<int32_t>(args[0].i)));
    case Func::Select:
      if (args.size() != 3 || args[0].type != Type::Bool)
        return std::nullopt;
      return args[0].b ? args[1] : args[2];
    case Func::ToFloat:
      if (args.size() != 1)
        return std::nullopt;
      if (args[0].type == Type::Int)
        return makeFloat(static_cast<double>(args[0].i));
      if (args[0].type == Type::Float)
        return args[0];
      return std::nullopt;
    case Func::ToInt:
      if (args.size() != 1)
        return std::nullopt;
      if (args[0].type == Type::Float)
        return makeInt(toIntSaturating(args[0].f));
      if (args[0].type == Type::Int)
        return args[0];
      return std::nullopt;
    case Func::BlockOf:
    case Func::Dot:
      return std::nullopt;
    }
    return std::nullopt;
  }
  case ExprKind::Index:
  case ExprKind::Slice:
    return std::nullopt;
  }
  return std::nullopt;
}

} // namespace

std::optional<ConstValue> evalConst(const Expr &e, const Program &program,
                                    const AttentionDecl *attn, ConstMemo *memo) {
  if (!memo)
    return evalConstNode(e, program, attn, nullptr);
  if (auto it = memo->find(&e); it != memo->end())
    return it->second;
  std::optional<ConstValue> value = evalConstNode(e, program, attn, memo);
  memo->emplace(&e, value);
  return value;
}

bool convertConst(ConstValue &v, Type type) {
  if (v.type == type)
    return true;
  if (v.type == Type::Int && type == Type::Float) {
    v = makeFloat(static_cast<double>(v.i));
    return true;
  }
  return false;
}

ExprPtr literalOf(const ConstValue &v, SourceRange range) {
  auto e = std::make_unique<Expr>();
  e->range = range;
  e->type = v.type;
  switch (v.type) {
  case Type::Int:
    e->kind = ExprKind::IntLiteral;
    e->intValue = v.i;
    break;
  case Type::Float:
    e->kind = ExprKind::FloatLiteral;
    e->floatValue = v.f;
    break;
  default:
    e->kind = ExprKind::BoolLiteral;
    e->boolValue = v.b;
    break;
  }
  return e;
}

} // namespace sema

std::optional<ConstValue> foldConstant(const Expr &expr, const Program &program,
                                       const AttentionDecl *attention) {
  return sema::evalConst(expr, program, attention);
}

} // namespace attnc::dsl
