//===- Dual.cpp - Forward-mode derivatives of score and out expressions ----===//
#include "Dual.h"

#include <cmath>
#include <functional>
#include <limits>

namespace attnc::reference::detail {

using dsl::BinaryOp;
using dsl::Builtin;
using dsl::Expr;
using dsl::ExprKind;
using dsl::Func;
using dsl::SymbolRef;
using dsl::Type;

namespace {

constexpr double kLn2 = 0.693147180559945309417232121458176568;

/// f(a) with f'(a) = `slope`.
Dual unary(double value, const Dual &a, double slope) {
  Dual r;
  r.value = value;
  r.seed = chain(a.seed, slope);
  r.partials = a.partials;
  for (Partial &p : r.partials)
    p.coef = chain(p.coef, slope);
  return r;
}

/// f(a, b) with partial derivatives `da` and `db`.
Dual binary(double value, const Dual &a, double da, const Dual &b, double db) {
  Dual r;
  r.value = value;
  r.seed = chain(a.seed, da) + chain(b.seed, db);
  r.partials.reserve(a.partials.size() + b.partials.size());
  for (const Partial &p : a.partials)
    r.partials.push_back({p.input, p.element, chain(p.coef, da)});
  for (const Partial &p : b.partials)
    r.partials.push_back({p.input, p.element, chain(p.coef, db)});
  return r;
}

/// The operand a min/max returns carries the derivative: fmin/fmax return the non-NaN
/// operand, and a tie goes to the first operand.
Dual pick(double value, const Dual &a, const Dual &b, bool first) {
  Dual r = first ? a : b;
  r.value = value;
  return r;
}

Dual floatMin(const Dual &a, const Dual &b) {
  bool first = std::isnan(b.value) || (!std::isnan(a.value) && a.value <= b.value);
  return pick(std::fmin(a.value, b.value), a, b, first);
}

Dual floatMax(const Dual &a, const Dual &b) {
  bool first = std::isnan(b.value) || (!std::isnan(a.value) && a.value >= b.value);
  return pick(std::fmax(a.value, b.value), a, b, first);
}

bool isFloat(const Expr &e) { return e.type == Type::Float; }

bool anyFloatOperand(const Expr &e, size_t from = 0) {
  for (size_t i = from; i < e.operands.size(); ++i)
    if (isFloat(*e.operands[i]))
      return true;
  return false;
}

/// Whether a call of `f` has a derivative rule (or yields no Float that could carry one).
bool hasDerivativeRule(Func f) {
  switch (f) {
  case Func::Abs:
  case Func::Min:
  case Func::Max:
  case Func::Clamp:
  case Func::Exp:
  case Func::Exp2:
  case Func::Log:
  case Func::Log2:
  case Func::Tanh:
  case Func::Sigmoid:
  case Func::Sqrt:
  case Func::Floor:
  case Func::Select:
  case Func::ToFloat:
  case Func::BitLength: // Int results: nothing to differentiate
  case Func::ToInt:
  case Func::BlockOf:
    return true;
  case Func::Dot: // route gates only; routing is not differentiated
    return false;
  }
  return false;
}

/// Visits `e` and, once each, the values of the lets it reads.
void walk(const dsl::AttentionDecl &attention, const Expr &e, std::vector<bool> &seenLets,
          const std::function<bool(const Expr &)> &visit) {
  if (!visit(e))
    return;
  if (e.kind == ExprKind::Name && e.ref.kind == SymbolRef::Let && e.ref.index >= 0 &&
      e.ref.index < static_cast<int>(attention.lets.size()) && !seenLets[e.ref.index]) {
    seenLets[e.ref.index] = true;
    if (const Expr *value = attention.lets[e.ref.index].value.get())
      walk(attention, *value, seenLets, visit);
  }
  for (const auto &op : e.operands)
    walk(attention, *op, seenLets, visit);
}

} // namespace

DualEvaluator::DualEvaluator(Evaluator &ev, const Binding &binding, std::vector<bool> tracked)
    : ev_(ev), bind_(binding), tracked_(std::move(tracked)) {
  tracked_.resize(binding.attention->inputs.size(), false);
  letDone_.assign(binding.attention->lets.size(), 0);
  letValue_.assign(binding.attention->lets.size(), Dual());
}

Dual DualEvaluator::eval(const Expr &e, Builtin seed) {
  seed_ = seed;
  std::fill(letDone_.begin(), letDone_.end(), 0);
  return node(e);
}

Dual DualEvaluator::constant(const Expr &e) {
  Dual r;
  r.value = ev_.eval(e).asDouble();
  return r;
}

Dual DualEvaluator::node(const Expr &e) {
  // Int and Bool values carry no derivative (and Float nodes computed from them only
  // convert): evaluate them as the forward does.
  if (!isFloat(e))
    return constant(e);
  switch (e.kind) {
  case ExprKind::Name:
    if (e.ref.kind == SymbolRef::Builtin) {
      auto which = static_cast<Builtin>(e.ref.index);
      if (which != Builtin::Score && which != Builtin::Out)
        return constant(e);
      Dual r;
      r.value = which == Builtin::Score ? ev_.score : ev_.out;
      r.seed = which == seed_ ? 1.0 : 0.0;
      return r;
    }
    if (e.ref.kind == SymbolRef::Let) {
      int i = e.ref.index;
      const Expr *value = bind_.attention->lets[i].value.get();
      if (!value || !isFloat(*value))
        return constant(e);
      if (!letDone_[i]) {
        letValue_[i] = node(*value);
        letDone_[i] = 1;
      }
      return letValue_[i];
    }
    return constant(e);
  case ExprKind::Index: {
    int i = e.ref.index;
    if (dsl::scalarTypeOf(bind_.attention->inputs[i].elementType) != Type::Float)
      return constant(e);
    int64_t element = 0;
    int64_t offset = ev_.indexOffset(e, &element);
    Dual r;
    r.value = bind_.inputs[i].loadDouble(offset);
    if (tracked_[i])
      r.partials.push_back({i, element, 1.0});
    return r;
  }
  case ExprKind::Unary:
    if (e.unaryOp == dsl::UnaryOp::Neg && isFloat(*e.operands[0])) {
      Dual a = node(*e.operands[0]);
      return unary(-a.value, a, -1.0);
    }
    return constant(e);
  case ExprKind::Binary: {
    if (!anyFloatOperand(e))
      return constant(e);
    Dual a = node(*e.operands[0]);
    Dual b = node(*e.operands[1]);
    switch (e.binaryOp) {
    case BinaryOp::Add:
      return binary(a.value + b.value, a, 1.0, b, 1.0);
    case BinaryOp::Sub:
      return binary(a.value - b.value, a, 1.0, b, -1.0);
    case BinaryOp::Mul:
      return binary(a.value * b.value, a, b.value, b, a.value);
    case BinaryOp::Div: {
      double y = a.value / b.value;
      return binary(y, a, 1.0 / b.value, b, -y / b.value);
    }
    default: {
      // No rule (float `%` is rejected by the checker; checkDifferentiable refuses it).
      double nan = std::numeric_limits<double>::quiet_NaN();
      return binary(constant(e).value, a, nan, b, nan);
    }
    }
  }
  case ExprKind::Call:
    return call(e);
  default:
    return constant(e);
  }
}

Dual DualEvaluator::call(const Expr &e) {
  if (!e.func)
    return constant(e);
  Func f = *e.func;
  if (f == Func::Select) {
    if (!anyFloatOperand(e, 1))
      return constant(e);
    // Both branches are pure, so evaluating only the chosen one gives the same value.
    bool cond = ev_.eval(*e.operands[0]).b;
    return node(*e.operands[cond ? 1 : 2]);
  }
  if (!anyFloatOperand(e) || !hasDerivativeRule(f) || e.operands.empty())
    return constant(e);
  Dual x = node(*e.operands[0]);
  switch (f) {
  case Func::Abs: {
    double slope = std::isnan(x.value) ? x.value : x.value > 0.0 ? 1.0 : x.value < 0.0 ? -1.0 : 0.0;
    return unary(std::fabs(x.value), x, slope);
  }
  case Func::Min:
    return floatMin(x, node(*e.operands[1]));
  case Func::Max:
    return floatMax(x, node(*e.operands[1]));
  case Func::Clamp:
    return floatMin(floatMax(x, node(*e.operands[1])), node(*e.operands[2]));
  case Func::Exp: {
    double y = std::exp(x.value);
    return unary(y, x, y);
  }
  case Func::Exp2: {
    double y = std::exp2(x.value);
    return unary(y, x, y * kLn2);
  }
  case Func::Log:
    return unary(std::log(x.value), x, 1.0 / x.value);
  case Func::Log2:
    return unary(std::log2(x.value), x, 1.0 / (x.value * kLn2));
  case Func::Tanh: {
    double y = std::tanh(x.value);
    return unary(y, x, 1.0 - y * y);
  }
  case Func::Sigmoid: {
    double y = 1.0 / (1.0 + std::exp(-x.value));
    return unary(y, x, y * (1.0 - y));
  }
  case Func::Sqrt: {
    double y = std::sqrt(x.value);
    return unary(y, x, 0.5 / y);
  }
  case Func::Floor: { // piecewise constant: derivative 0 wherever it exists
    Dual r;
    r.value = std::floor(x.value);
    return r;
  }
  case Func::ToFloat:
    return x;
  default:
    return constant(e);
  }
}

/// Whether `e`'s operands depend on what the backward differentiates: the incoming score or
/// output, or a float input read.
bool carriesDerivative(const dsl::AttentionDecl &attention, const Expr &e) {
  std::vector<bool> seen(attention.lets.size(), false);
  bool found = false;
  for (const auto &op : e.operands)
    walk(attention, *op, seen, [&](const Expr &x) {
      if (x.kind == ExprKind::Name && x.ref.kind == SymbolRef::Builtin &&
          (x.ref.index == static_cast<int>(dsl::Builtin::Score) ||
           x.ref.index == static_cast<int>(dsl::Builtin::Out)))
        found = true;
      if (x.kind == ExprKind::Index && x.ref.index >= 0 &&
          x.ref.index < static_cast<int>(attention.inputs.size()) &&
          dsl::scalarTypeOf(attention.inputs[x.ref.index].elementType) == Type::Float)
        found = true;
      return !found;
    });
  return found;
}

bool checkDifferentiable(const dsl::AttentionDecl &attention, const Expr &root, const char *what,
                         std::string &error) {
  std::vector<bool> seen(attention.lets.size(), false);
  const Expr *bad = nullptr;
  std::string why;
  walk(attention, root, seen, [&](const Expr &e) {
    if (bad)
      return false;
    if (e.kind == ExprKind::Call && e.func && !hasDerivativeRule(*e.func)) {
      bad = &e;
      why = "'" + e.name + "(...)' has no derivative rule";
    } else if (e.kind == ExprKind::Call && e.func &&
               (*e.func == Func::Floor || *e.func == Func::ToInt) &&
               carriesDerivative(attention, e)) {
      // Piecewise constant: a zero gradient almost everywhere would train silently wrong,
      // so, as the compiler's attn-differentiate, the reference refuses it.
      bad = &e;
      why = "'" + e.name + "(...)' of a value that depends on " +
            (std::string(what) == "score" ? "the score" : "the output") +
            " or a float input has no derivative";
    } else if (e.kind == ExprKind::Binary && e.binaryOp == BinaryOp::Rem && anyFloatOperand(e)) {
      bad = &e;
      why = "'%' on floats has no derivative rule";
    }
    return !bad;
  });
  if (!bad)
    return true;
  error = std::to_string(bad->range.begin.line) + ":" + std::to_string(bad->range.begin.column) +
          ": the " + what + " expression of attention '" + attention.name +
          "' cannot be differentiated: " + why;
  return false;
}

void floatInputsRead(const dsl::AttentionDecl &attention, const Expr &root,
                     std::vector<bool> &reads) {
  reads.resize(attention.inputs.size(), false);
  std::vector<bool> seen(attention.lets.size(), false);
  walk(attention, root, seen, [&](const Expr &e) {
    if (e.kind == ExprKind::Index && e.ref.index >= 0 &&
        e.ref.index < static_cast<int>(attention.inputs.size()) &&
        dsl::scalarTypeOf(attention.inputs[e.ref.index].elementType) == Type::Float)
      reads[e.ref.index] = true;
    return true;
  });
}

} // namespace attnc::reference::detail
