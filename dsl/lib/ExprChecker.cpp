//===- ExprChecker.cpp - Types of the checker's expressions ---------------===//
#include "ExprChecker.h"

#include "ConstEval.h"
#include "SemaSupport.h"

#include "attnc/dsl/Sema.h"

#include <cmath>

namespace attnc::dsl::sema {
namespace {

bool isNumeric(Type t) { return t == Type::Int || t == Type::Float; }

} // namespace

ExprChecker::ExprChecker(Program &program, DiagnosticEngine &diags, NameResolver &names)
    : program_(program), diags_(diags), names_(names) {}

void ExprChecker::beginAttention(const AttentionDecl &attn) {
  letDepth_.assign(attn.lets.size(), 1);
}

void ExprChecker::requireFloat(ExprPtr &e, Type t, const char *what) {
  if (t == Type::Int) {
    promote(e);
  } else if (t != Type::Invalid && t != Type::Float) {
    diags_.error(e->range, std::string(what) + " must be a float expression, not " + typeName(t));
  }
}

unsigned ExprChecker::depthThroughLets(const Expr &e) const {
  if (e.kind == ExprKind::Name && e.ref.kind == SymbolRef::Let && e.ref.index >= 0 &&
      e.ref.index < static_cast<int>(letDepth_.size()))
    return letDepth_[e.ref.index];
  unsigned deepest = 0;
  for (const ExprPtr &operand : e.operands) {
    if (!operand)
      continue;
    unsigned d = depthThroughLets(*operand);
    if (d == 0)
      return 0;
    deepest = std::max(deepest, d);
  }
  return deepest + 1;
}

unsigned ExprChecker::limitDepth(const ExprPtr &e, SourceRange range, const std::string &what) {
  if (!e)
    return 1;
  unsigned depth = depthThroughLets(*e);
  if (depth > kMaxDepthThroughLets) {
    diags_.error(range,
                 what + " is nested too deeply through lets (depth " + std::to_string(depth) +
                     "; the limit is " + std::to_string(kMaxDepthThroughLets) + ")",
                 "each use of a let counts as the depth of the let's expression; shorten the "
                 "chain of lets");
    return 0;
  }
  return depth;
}

void ExprChecker::promote(ExprPtr &e) {
  if (!e || e->type != Type::Int)
    return;
  auto call = std::make_unique<Expr>();
  call->kind = ExprKind::Call;
  call->name = "float";
  call->func = Func::ToFloat;
  call->type = Type::Float;
  call->range = e->range;
  call->operands.push_back(std::move(e));
  e = std::move(call);
}

Type ExprChecker::check(ExprPtr &e, Context &ctx) {
  if (!e)
    return Type::Invalid;
  // The fold memo is valid within one statement's tree (no node is freed while it is
  // checked; -D replaces a const's tree only between checks).
  if (checkDepth_ == 0)
    divisorMemo_.clear();
  ++checkDepth_;
  e->type = checkImpl(e, ctx);
  --checkDepth_;
  return e->type;
}

Type ExprChecker::checkImpl(ExprPtr &ep, Context &ctx) {
  Expr &e = *ep;
  switch (e.kind) {
  case ExprKind::IntLiteral:
    return Type::Int;
  case ExprKind::FloatLiteral:
    if (!fitsFp32(e.floatValue)) {
      diags_.error(e.range, "float literal " + formatFloat(e.floatValue) + " does not fit in fp32",
                   kFp32RangeHint);
      return Type::Invalid;
    }
    return Type::Float;
  case ExprKind::BoolLiteral:
    return Type::Bool;
  case ExprKind::Name:
    return names_.resolveName(e, ctx);
  case ExprKind::Slice:
    e.ref.kind = SymbolRef::Builtin;
    e.ref.index = static_cast<int>(Builtin::Column);
    if (!names_.use(ctx, kOut, ":", e.range))
      return Type::Invalid;
    return Type::Int;
  case ExprKind::Unary:
    return checkUnary(e, ctx);
  case ExprKind::Binary:
    return checkBinary(e, ctx);
  case ExprKind::Call:
    return checkCall(e, ctx);
  case ExprKind::Index:
    return checkIndex(e, ctx);
  case ExprKind::Member:
    return names_.resolveMember(e, ctx);
  }
  return Type::Invalid;
}

Type ExprChecker::checkUnary(Expr &e, Context &ctx) {
  Type t = check(e.operands[0], ctx);
  if (t == Type::Invalid)
    return Type::Invalid;
  switch (e.unaryOp) {
  case UnaryOp::Neg:
    if (isNumeric(t))
      return t;
    diags_.error(e.range, "operator '-' needs an int or float operand, not bool",
                 "use '!' to negate a bool");
    return Type::Invalid;
  case UnaryOp::Not:
    if (t == Type::Bool)
      return t;
    diags_.error(e.range, std::string("operator '!' needs a bool operand, not ") + typeName(t),
                 t == Type::Int ? "compare with 0 ('x == 0'), or use '~' for bitwise not" : "");
    return Type::Invalid;
  case UnaryOp::BitNot:
    if (t == Type::Int)
      return t;
    diags_.error(e.range, std::string("operator '~' needs an int operand, not ") + typeName(t),
                 t == Type::Bool ? "use '!' to negate a bool" : "");
    return Type::Invalid;
  }
  return Type::Invalid;
}

/// A `/` or `%` whose divisor folds to zero. In a constant context (const values, param
/// defaults, route settings, layout sizes) that is an error; elsewhere the operation has
/// its defined value (int: 0; float: IEEE inf, -inf or NaN) and gets a warning. Returns
/// false after an error.
bool ExprChecker::checkDivisor(const Expr &e, const Context &ctx) {
  const Expr *dividend = e.operands[0].get(), *divisor = e.operands[1].get();
  if (!dividend || !divisor)
    return true;
  std::optional<ConstValue> d = evalConst(*divisor, program_, names_.attention(), &divisorMemo_);
  if (!d || !((d->type == Type::Int && d->i == 0) || (d->type == Type::Float && d->f == 0.0)))
    return true;
  const char *what = e.binaryOp == BinaryOp::Rem ? "remainder" : "division";
  if (d->type == Type::Int) {
    std::string hint = std::string("at run time an int ") + what + " by zero is 0";
    if (ctx.isConstant()) {
      diags_.error(e.range, std::string(what) + " by zero in a constant expression",
                   hint + "; write 0 if that is meant");
      return false;
    }
    diags_.warning(e.range, std::string("int ") + what + " by zero: the result is always 0");
    return true;
  }
  std::optional<ConstValue> n = evalConst(*dividend, program_, names_.attention(), &divisorMemo_);
  std::string value = "inf, -inf or NaN", hint = "write inf or -inf for an infinity";
  if (n && n->type == Type::Float) {
    double v = n->f / d->f;
    value = std::isnan(v) ? "NaN" : (v < 0 ? "-inf" : "inf");
    hint = std::isnan(v) ? "" : "write " + value;
  }
  if (ctx.isConstant()) {
    diags_.error(e.range, "float division by zero in a constant expression (it is " + value + ")",
                 hint);
    return false;
  }
  diags_.warning(e.range, "float division by zero: the result is " + value, hint);
  return true;
}

Type ExprChecker::checkBinary(Expr &e, Context &ctx) {
  Type lt = check(e.operands[0], ctx);
  Type rt = check(e.operands[1], ctx);
  if (lt == Type::Invalid || rt == Type::Invalid)
    return Type::Invalid;
  std::string op = binaryOpSpelling(e.binaryOp);
  auto mismatch = [&](const std::string &message, const std::string &hint = {}) {
    diags_.error(e.range, message, hint);
    return Type::Invalid;
  };
  auto promoteBoth = [&]() {
    if (lt == Type::Int && rt == Type::Float)
      promote(e.operands[0]);
    else if (lt == Type::Float && rt == Type::Int)
      promote(e.operands[1]);
    return lt == Type::Float || rt == Type::Float ? Type::Float : Type::Int;
  };
  const std::string operands = std::string(typeName(lt)) + " and " + typeName(rt);
  switch (e.binaryOp) {
  case BinaryOp::Add:
  case BinaryOp::Sub:
  case BinaryOp::Mul:
  case BinaryOp::Div: {
    if (!isNumeric(lt) || !isNumeric(rt))
      return mismatch("invalid operands to '" + op + "': " + operands,
                      "bool does not convert to a number; use select(cond, 1, 0)");
    Type result = promoteBoth();
    if (e.binaryOp == BinaryOp::Div && !checkDivisor(e, ctx))
      return Type::Invalid;
    return result;
  }
  case BinaryOp::Rem:
  case BinaryOp::Shl:
  case BinaryOp::Shr:
  case BinaryOp::BitAnd:
  case BinaryOp::BitOr:
  case BinaryOp::BitXor:
    if (lt != Type::Int || rt != Type::Int) {
      std::string hint;
      if (lt == Type::Float || rt == Type::Float)
        hint = "convert with int(...)";
      if ((lt == Type::Bool || rt == Type::Bool) &&
          (e.binaryOp == BinaryOp::BitAnd || e.binaryOp == BinaryOp::BitOr))
        hint = "for bools use '" + op + op + "'";
      return mismatch("operator '" + op + "' needs int operands, not " + operands, hint);
    }
    if (e.binaryOp == BinaryOp::Rem && !checkDivisor(e, ctx))
      return Type::Invalid;
    return Type::Int;
  case BinaryOp::Lt:
  case BinaryOp::Le:
  case BinaryOp::Gt:
  case BinaryOp::Ge:
    if (!isNumeric(lt) || !isNumeric(rt))
      return mismatch("operator '" + op + "' cannot compare " + operands);
    promoteBoth();
    return Type::Bool;
  case BinaryOp::Eq:
  case BinaryOp::Ne:
    if (lt == Type::Bool && rt == Type::Bool)
      return Type::Bool;
    if (!isNumeric(lt) || !isNumeric(rt))
      return mismatch("operator '" + op + "' cannot compare " + operands,
                      "bool and numbers do not convert into each other");
    promoteBoth();
    return Type::Bool;
  case BinaryOp::And:
  case BinaryOp::Or:
    if (lt != Type::Bool || rt != Type::Bool) {
      std::string hint;
      if (lt == Type::Int || rt == Type::Int)
        hint = std::string("compare ints with 0, or use '") + op[0] + "' for a bitwise operation";
      return mismatch("operator '" + op + "' needs bool operands, not " + operands, hint);
    }
    return Type::Bool;
  }
  return Type::Invalid;
}

Type ExprChecker::checkCall(Expr &e, Context &ctx) {
  SourceRange nameRange = nameRangeOf(e);
  auto func = names_.resolveFunc(e, nameRange);
  if (!func) {
    // Still check the arguments, to report what is wrong inside them too.
    for (ExprPtr &arg : e.operands)
      check(arg, ctx);
    return Type::Invalid;
  }
  e.func = func;
  size_t arity = 1;
  switch (*func) {
  case Func::Min:
  case Func::Max:
  case Func::Dot:
    arity = 2;
    break;
  case Func::Clamp:
  case Func::Select:
    arity = 3;
    break;
  default:
    break;
  }
  if (*func == Func::Dot)
    return names_.resolveDot(e, ctx, nameRange);
  if (*func == Func::BlockOf && !names_.use(ctx, kBlock, "block_of", nameRange))
    return Type::Invalid;
  if (e.operands.size() != arity) {
    diags_.error(e.range, "'" + e.name + "' takes " + std::to_string(arity) + " argument" +
                              (arity == 1 ? "" : "s") + ", but " +
                              std::to_string(e.operands.size()) +
                              (e.operands.size() == 1 ? " was" : " were") + " given");
    for (ExprPtr &arg : e.operands)
      check(arg, ctx);
    return Type::Invalid;
  }
  std::vector<Type> types;
  bool valid = true;
  for (ExprPtr &arg : e.operands) {
    types.push_back(check(arg, ctx));
    valid = valid && types.back() != Type::Invalid;
  }
  if (!valid)
    return Type::Invalid;
  auto argError = [&](size_t i, const std::string &expected) {
    diags_.error(e.operands[i]->range, "argument " + std::to_string(i + 1) + " of '" + e.name +
                                           "' must be " + expected + ", not " + typeName(types[i]));
    return Type::Invalid;
  };
  /// Numeric arguments [from, to): Int, or all promoted to Float when any is Float.
  auto unify = [&](size_t from, size_t to) -> Type {
    bool anyFloat = false;
    for (size_t i = from; i < to; ++i) {
      if (!isNumeric(types[i]))
        return argError(i, "int or float");
      anyFloat = anyFloat || types[i] == Type::Float;
    }
    if (anyFloat)
      for (size_t i = from; i < to; ++i)
        promote(e.operands[i]);
    return anyFloat ? Type::Float : Type::Int;
  };
  switch (*func) {
  case Func::Abs:
  case Func::Min:
  case Func::Max:
  case Func::Clamp:
    return unify(0, arity);
  case Func::Exp:
  case Func::Exp2:
  case Func::Log:
  case Func::Log2:
  case Func::Tanh:
  case Func::Sigmoid:
  case Func::Sqrt:
  case Func::Floor:
    if (!isNumeric(types[0]))
      return argError(0, "int or float");
    promote(e.operands[0]);
    return Type::Float;
  case Func::BitLength:
    if (types[0] != Type::Int)
      return argError(0, "int");
    return Type::Int;
  case Func::BlockOf:
    if (types[0] != Type::Int)
      return argError(0, "int");
    return Type::Int;
  case Func::Select:
    if (types[0] != Type::Bool)
      return argError(0, "bool");
    if (types[1] == Type::Bool && types[2] == Type::Bool)
      return Type::Bool;
    if (isNumeric(types[1]) && isNumeric(types[2]))
      return unify(1, 3);
    diags_.error(e.range, std::string("the branches of 'select' have different types: ") +
                              typeName(types[1]) + " and " + typeName(types[2]));
    return Type::Invalid;
  case Func::ToFloat:
    if (!isNumeric(types[0]))
      return argError(0, "int or float");
    return Type::Float;
  case Func::ToInt:
    if (!isNumeric(types[0]))
      return argError(0, "int or float");
    return Type::Int;
  case Func::Dot:
    break;
  }
  return Type::Invalid;
}

Type ExprChecker::checkIndex(Expr &e, Context &ctx) {
  bool unknownInput = false;
  const InputDecl *found = names_.resolveInput(e, ctx, unknownInput);
  if (!found) {
    if (unknownInput)
      for (ExprPtr &arg : e.operands)
        if (arg->kind != ExprKind::Slice)
          check(arg, ctx);
    return Type::Invalid;
  }
  const InputDecl &input = *found;
  bool valid = true;
  for (size_t i = 0; i < e.operands.size(); ++i) {
    Type t = check(e.operands[i], ctx);
    if (t == Type::Invalid) {
      valid = false;
    } else if (t != Type::Int) {
      diags_.error(e.operands[i]->range,
                   "index " + std::to_string(i + 1) + " of '" + e.name + "' must be an int, not " +
                       typeName(t),
                   t == Type::Float ? "convert with int(...)" : "");
      valid = false;
    }
  }
  if (e.operands.size() != input.dims.size()) {
    diags_.error(e.range, "input '" + e.name + "' has " + std::to_string(input.dims.size()) +
                              " dimension" + (input.dims.size() == 1 ? "" : "s") + ", but " +
                              std::to_string(e.operands.size()) + " ind" +
                              (e.operands.size() == 1 ? "ex was" : "ices were") + " given");
    return Type::Invalid;
  }
  if (!valid)
    return Type::Invalid;
  return scalarTypeOf(input.elementType);
}

} // namespace attnc::dsl::sema
