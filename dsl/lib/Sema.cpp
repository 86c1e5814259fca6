//===- Sema.cpp - The attnc checker -----------------------------------------===//
#include "attnc/dsl/Sema.h"

#include "attnc/dsl/IntSemantics.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <limits>
#include <map>
#include <set>
#include <tuple>
#include <unordered_map>

namespace attnc::dsl {

//===----------------------------------------------------------------------===//
// Names
//===----------------------------------------------------------------------===//

std::string closestName(std::string_view name, const std::vector<std::string> &candidates) {
  // Guard the quadratic distance against pathological lengths.
  if (name.empty() || name.size() > 64)
    return {};
  std::string best;
  size_t bestDistance = std::numeric_limits<size_t>::max();
  std::vector<size_t> row;
  for (const std::string &candidate : candidates) {
    if (candidate.empty() || candidate.size() > 64 || candidate == name)
      continue;
    // Lengths differing by more than the allowed distance cannot match.
    size_t lengthGap = candidate.size() > name.size() ? candidate.size() - name.size()
                                                      : name.size() - candidate.size();
    if (lengthGap > std::max<size_t>(1, (name.size() + 1) / 3))
      continue;
    // Levenshtein distance, one row at a time.
    row.assign(candidate.size() + 1, 0);
    for (size_t j = 0; j <= candidate.size(); ++j)
      row[j] = j;
    for (size_t i = 1; i <= name.size(); ++i) {
      size_t diagonal = row[0];
      row[0] = i;
      for (size_t j = 1; j <= candidate.size(); ++j) {
        size_t up = row[j];
        size_t cost = name[i - 1] == candidate[j - 1] ? 0 : 1;
        row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + cost});
        diagonal = up;
      }
    }
    size_t distance = row[candidate.size()];
    if (distance < bestDistance) {
      bestDistance = distance;
      best = candidate;
    }
  }
  // A typo changes about a third of a name at most; single letters match nothing.
  size_t allowed = std::max<size_t>(1, (name.size() + 1) / 3);
  if (best.empty() || bestDistance > allowed || (name.size() == 1 && best.size() == 1))
    return {};
  return best;
}

namespace {

struct BuiltinName {
  const char *name;
  Builtin builtin;
};

constexpr BuiltinName kBuiltinNames[] = {
    {"b", Builtin::Batch},
    {"h", Builtin::Head},
    {"kv_h", Builtin::KvHead},
    {"q", Builtin::Query},
    {"k", Builtin::Key},
    {"score", Builtin::Score},
    {"out", Builtin::Out},
    {"c", Builtin::Column},
    {"causal", Builtin::Causal},
    {"batch", Builtin::NumBatch},
    {"heads", Builtin::NumHeads},
    {"kv_heads", Builtin::NumKvHeads},
    {"q_len", Builtin::QLen},
    {"kv_len", Builtin::KvLen},
    {"d", Builtin::HeadDim},
    {"blk", Builtin::Block},
    {"num_blocks", Builtin::NumBlocks},
};

struct FuncName {
  const char *name;
  Func func;
};

constexpr FuncName kFuncNames[] = {
    {"abs", Func::Abs},
    {"min", Func::Min},
    {"max", Func::Max},
    {"clamp", Func::Clamp},
    {"exp", Func::Exp},
    {"exp2", Func::Exp2},
    {"log", Func::Log},
    {"log2", Func::Log2},
    {"tanh", Func::Tanh},
    {"sigmoid", Func::Sigmoid},
    {"sqrt", Func::Sqrt},
    {"floor", Func::Floor},
    {"bit_length", Func::BitLength},
    {"select", Func::Select},
    {"float", Func::ToFloat},
    {"int", Func::ToInt},
    {"block_of", Func::BlockOf},
    {"dot", Func::Dot},
};

std::optional<Builtin> lookupBuiltin(std::string_view name) {
  for (const BuiltinName &b : kBuiltinNames)
    if (name == b.name)
      return b.builtin;
  return std::nullopt;
}

std::optional<Func> lookupFunc(std::string_view name) {
  for (const FuncName &f : kFuncNames)
    if (name == f.name)
      return f.func;
  return std::nullopt;
}

const char *binaryOpSpelling(BinaryOp op) {
  switch (op) {
  case BinaryOp::Add:
    return "+";
  case BinaryOp::Sub:
    return "-";
  case BinaryOp::Mul:
    return "*";
  case BinaryOp::Div:
    return "/";
  case BinaryOp::Rem:
    return "%";
  case BinaryOp::Shl:
    return "<<";
  case BinaryOp::Shr:
    return ">>";
  case BinaryOp::BitAnd:
    return "&";
  case BinaryOp::BitOr:
    return "|";
  case BinaryOp::BitXor:
    return "^";
  case BinaryOp::Lt:
    return "<";
  case BinaryOp::Le:
    return "<=";
  case BinaryOp::Gt:
    return ">";
  case BinaryOp::Ge:
    return ">=";
  case BinaryOp::Eq:
    return "==";
  case BinaryOp::Ne:
    return "!=";
  case BinaryOp::And:
    return "&&";
  case BinaryOp::Or:
    return "||";
  }
  return "?";
}

std::string lineOf(SourceRange r) { return std::to_string(r.begin.line); }

/// Shortest round-trip-ish spelling of a float for messages: 1.5, not 1.500000.
std::string formatFloat(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  for (int precision = 1; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof buf, "%.*g", precision, v);
    if (std::strtod(buf, nullptr) == v)
      break;
  }
  return buf;
}

/// The built-in float constant: positive infinity (`-inf` is its negation).
constexpr const char *kInfName = "inf";

/// Float is fp32 on the GPU: a constant whose magnitude is beyond the largest fp32 would be
/// inf there and finite in the float64 reference, so such constants are rejected.
/// Infinities and NaN mean the same in both.
bool fitsFp32(double v) {
  // Below 2^128 - 2^103 (the largest fp32 plus half its ulp) a value rounds to a finite fp32.
  return !std::isfinite(v) || std::fabs(v) < 0x1.ffffffp127;
}
constexpr const char *kFp32RangeHint =
    "float is fp32 on the GPU, whose largest finite value is 3.4028235e38; write inf for "
    "infinity";

/// The range of a Call's or Index's name (the first token of the node).
SourceRange nameRangeOf(const Expr &e) {
  SourceRange r = e.range;
  r.end = r.begin;
  r.end.offset += static_cast<uint32_t>(e.name.size());
  r.end.column += static_cast<uint32_t>(e.name.size());
  return r;
}

//===----------------------------------------------------------------------===//
// Constant evaluation (exact language semantics)
//===----------------------------------------------------------------------===//

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

/// Values of subexpressions already folded while checking one statement, so that nested
/// divisions (each folding its divisor) fold every node once.
using ConstMemo = std::unordered_map<const Expr *, std::optional<ConstValue>>;

std::optional<ConstValue> evalConst(const Expr &e, const Program &program,
                                    const AttentionDecl *attn, ConstMemo *memo = nullptr);

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

//===----------------------------------------------------------------------===//
// The checker
//===----------------------------------------------------------------------===//

/// What an expression depends on; decides where it (or a let holding it) may be used.
enum Feature : unsigned {
  kKey = 1u << 0,     ///< k, causal, k.axis
  kQuery = 1u << 1,   ///< q, q.axis
  kScore = 1u << 2,   ///< score
  kOut = 1u << 3,     ///< out, c, ':'
  kBlock = 1u << 4,   ///< blk, num_blocks, block_of()
  kDot = 1u << 5,     ///< dot()
  kRuntime = 1u << 6, ///< b, h, kv_h, params, inputs
  kShape = 1u << 7,   ///< batch, heads, kv_heads, q_len, kv_len, d
};
constexpr int kNumFeatures = 8;

constexpr unsigned kHintErrorBudget = 50;
constexpr size_t kHintMaxCandidates = 4096;

enum class Where { Mask, Score, Out, Gate, Always, Never, Let, Const, InputDim, Layout };

struct Context {
  Where where;
  unsigned allowed = 0;
  /// Why `q` is missing from a gate (per query block or head).
  bool gateWithoutQuery = false;
  /// Features seen, and the first name that brought each in (for lets).
  unsigned used = 0;
  std::string firstName[kNumFeatures];

  explicit Context(Where w) : where(w) {
    switch (w) {
    case Where::Mask:
      allowed = kKey | kQuery | kRuntime | kShape;
      break;
    case Where::Score:
      allowed = kKey | kQuery | kRuntime | kShape | kScore;
      break;
    case Where::Out:
      allowed = kQuery | kRuntime | kShape | kOut;
      break;
    case Where::Gate:
      allowed = kQuery | kRuntime | kShape | kBlock | kDot;
      break;
    case Where::Always:
    case Where::Never:
      allowed = kQuery | kRuntime | kShape | kBlock;
      break;
    case Where::Let:
      allowed = ~0u;
      break;
    case Where::InputDim:
      allowed = kShape;
      break;
    case Where::Const:
    case Where::Layout:
      allowed = 0;
      break;
    }
  }

  bool isConstant() const { return where == Where::Const || where == Where::Layout; }

  const char *describe() const {
    switch (where) {
    case Where::Mask:
      return "'mask'";
    case Where::Score:
      return "'score'";
    case Where::Out:
      return "'out'";
    case Where::Gate:
      return "the route 'gate'";
    case Where::Always:
      return "the route's 'always'";
    case Where::Never:
      return "the route's 'never'";
    case Where::Let:
      return "a let";
    case Where::Const:
      return "a constant expression";
    case Where::InputDim:
      return "an input dimension";
    case Where::Layout:
      return "a layout axis size";
    }
    return "?";
  }
};

int featureIndex(Feature f) {
  int i = 0;
  while ((1u << i) != static_cast<unsigned>(f))
    ++i;
  return i;
}

struct Symbol {
  SymbolRef::Kind kind;
  int index;
  SourceRange declRange;
};

struct LetInfo {
  unsigned used = 0;
  std::string firstName[kNumFeatures];
};

class Sema {
public:
  Sema(Program &program, DiagnosticEngine &diags, const std::vector<ConstOverride> &overrides)
      : program_(program), diags_(diags), overrides_(overrides) {}

  void run() {
    checkLayouts();
    std::map<std::string, SourceRange> attentionNames;
    for (AttentionDecl &attn : program_.attentions) {
      auto [it, inserted] = attentionNames.emplace(attn.name, attn.range);
      if (!inserted)
        diags_.error(attn.range, "redefinition of attention '" + attn.name + "'",
                     "the first one is at line " + lineOf(it->second));
      checkAttention(attn);
    }
    if (program_.attentions.empty() && !diags_.hasErrors())
      diags_.error(SourceRange{}, "no attention is declared",
                   "write: attention NAME { mask = causal; }");
    for (const ConstOverride &o : overrides_)
      if (!overrideUsed_.count(o.name))
        diags_.error(SourceRange{},
                     "-D " + o.name + ": no attention declares 'const " + o.name + "'");
  }

private:
  //===--------------------------------------------------------------------===//
  // Diagnostics helpers
  //===--------------------------------------------------------------------===//

  /// Edit-distance hints cost time per error; past the error limit nobody reads them.
  bool hintsWanted() const {
    return diags_.errorCount() < kHintErrorBudget && symbols_.size() < kHintMaxCandidates;
  }

  std::vector<std::string> visibleNames(uint32_t offset) const {
    std::vector<std::string> names;
    for (const auto &[name, sym] : symbols_)
      if (sym.declRange.end.offset <= offset)
        names.push_back(name);
    for (const BuiltinName &b : kBuiltinNames)
      names.push_back(b.name);
    names.push_back(kInfName);
    return names;
  }

  /// Reports a name used where its context does not define it.
  void reportFeature(const Context &ctx, Feature f, const std::string &name, SourceRange r,
                     const std::string &viaLet = {}) {
    std::string subject = viaLet.empty() ? "'" + name + "'" : "let '" + viaLet + "'";
    std::string message;
    std::string hint;
    if (ctx.isConstant()) {
      message = subject + " is not a compile-time constant";
      if (!viaLet.empty())
        message = "let '" + viaLet + "' is not a compile-time constant";
      hint = ctx.where == Where::Layout
                 ? "layout axis sizes are integer literals and arithmetic on them"
                 : "constant expressions use literals, consts and layout axis sizes";
    } else if (ctx.where == Where::InputDim) {
      message = subject + " cannot be used in an input dimension";
      hint = "dimensions use shapes (batch, heads, kv_heads, q_len, kv_len, d), consts and "
             "literals";
    } else {
      switch (f) {
      case kScore:
        message = viaLet.empty() ? "'score' is only available in 'score = ...'"
                                 : subject + " uses 'score', which is only available in "
                                             "'score = ...'";
        break;
      case kOut:
        message = viaLet.empty()
                      ? "'" + name + "' is only available in 'out = ...'"
                      : subject + " uses '" + name + "', which is only available in 'out = ...'";
        if (name == ":")
          hint = "':' means the output column c; it cannot be used elsewhere";
        break;
      case kBlock:
        message = viaLet.empty()
                      ? "'" + name + "' is only available inside 'route'"
                      : subject + " uses '" + name + "', which is only available inside 'route'";
        break;
      case kDot:
        message = viaLet.empty() ? "'dot' is only available in the route 'gate'"
                                 : subject + " uses 'dot', which is only available in the "
                                             "route 'gate'";
        break;
      default:
        message = viaLet.empty() ? "'" + name + "' is not available in " + ctx.describe()
                                 : subject + " cannot be used in " + ctx.describe() +
                                       ": it uses '" + name + "'";
        if (f == kKey && ctx.where == Where::Out)
          hint = "'out' is applied once per output element, after the sum over keys, so it "
                 "cannot depend on the key";
        else if (f == kKey)
          hint = "routing works on KV blocks: use 'blk' and block_of(...)";
        else if (f == kQuery && ctx.gateWithoutQuery)
          hint = "the gate is computed once per unit of several queries; use 'per = token' "
                 "to refer to q";
        break;
      }
    }
    diags_.error(r, message, hint);
  }

  /// Records feature `f` brought in by `name`; false (after an error) where not allowed.
  bool use(Context &ctx, Feature f, const std::string &name, SourceRange r) {
    if (!(ctx.allowed & f)) {
      reportFeature(ctx, f, name, r);
      return false;
    }
    int i = featureIndex(f);
    if (!(ctx.used & f))
      ctx.firstName[i] = name;
    ctx.used |= f;
    return true;
  }

  //===--------------------------------------------------------------------===//
  // Layouts
  //===--------------------------------------------------------------------===//

  void checkLayouts() {
    std::map<std::string, SourceRange> seen;
    for (size_t i = 0; i < program_.layouts.size(); ++i)
      layoutByName_.emplace(program_.layouts[i].name, static_cast<int>(i));
    for (LayoutDecl &layout : program_.layouts) {
      auto [it, inserted] = seen.emplace(layout.name, layout.range);
      if (!inserted)
        diags_.error(layout.range, "redefinition of layout '" + layout.name + "'",
                     "the first one is at line " + lineOf(it->second));
      if (layout.axes.size() > kMaxLayoutAxes)
        diags_.error(layout.axes[kMaxLayoutAxes].range,
                     "layout '" + layout.name + "' has " + std::to_string(layout.axes.size()) +
                         " axes; at most " + std::to_string(kMaxLayoutAxes) + " are supported");
      std::map<std::string, SourceRange> axisNames;
      int64_t tokens = 1;
      bool allValid = true;
      for (LayoutDecl::Axis &axis : layout.axes) {
        auto [ait, fresh] = axisNames.emplace(axis.name, axis.range);
        if (!fresh)
          diags_.error(axis.range,
                       "layout '" + layout.name + "' has two axes named '" + axis.name + "'");
        Context ctx(Where::Layout);
        auto value = checkConstantExpr(axis.size, ctx, nullptr);
        if (!value) {
          allValid = false;
          continue;
        }
        if (value->type != Type::Int) {
          diags_.error(axis.size->range, "a layout axis size must be an int, not " +
                                             std::string(typeName(value->type)));
          allValid = false;
          continue;
        }
        if (value->i <= 0) {
          diags_.error(axis.size->range, "layout axis '" + axis.name +
                                             "' must have a positive size, not " +
                                             std::to_string(value->i));
          allValid = false;
          continue;
        }
        axis.value = value->i;
        tokens *= axis.value;
        if (tokens > std::numeric_limits<int32_t>::max()) {
          diags_.error(layout.range,
                       "layout '" + layout.name + "' has more than 2147483647 tokens");
          allValid = false;
          break;
        }
      }
      (void)allValid;
    }
  }

  //===--------------------------------------------------------------------===//
  // Attentions
  //===--------------------------------------------------------------------===//

  void declare(const std::string &name, SymbolRef::Kind kind, int index, SourceRange range,
               const char *what) {
    if (lookupBuiltin(name) || name == kInfName) {
      diags_.error(range, "cannot declare " + std::string(what) + " '" + name +
                              "': it is a built-in name");
      return;
    }
    if (name == "query" || name == "key") {
      diags_.error(range, "cannot declare " + std::string(what) + " '" + name +
                              "': it is reserved for dot(query, key)");
      return;
    }
    if (lookupFunc(name)) {
      diags_.error(range, "cannot declare " + std::string(what) + " '" + name +
                              "': it is a built-in function");
      return;
    }
    if (layoutByName_.count(name)) {
      diags_.error(range, "cannot declare " + std::string(what) + " '" + name +
                              "': it is the name of a layout");
      return;
    }
    auto [it, inserted] = symbols_.emplace(name, Symbol{kind, index, range});
    if (!inserted)
      diags_.error(range, "redefinition of '" + name + "'",
                   "it was first declared at line " + lineOf(it->second.declRange));
  }

  void checkAttention(AttentionDecl &attn) {
    attn_ = &attn;
    symbols_.clear();
    lets_.assign(attn.lets.size(), LetInfo{});
    letDepth_.assign(attn.lets.size(), 1);
    if (!attn.layoutName.empty()) {
      auto it = layoutByName_.find(attn.layoutName);
      if (it != layoutByName_.end() &&
          program_.layouts[it->second].range.end.offset <= attn.range.begin.offset)
        attn.layout = it->second;
    }

    // Declare in source order so that the later of two clashing names is the one blamed.
    struct Decl {
      uint32_t offset;
      const std::string *name;
      SymbolRef::Kind kind;
      int index;
      SourceRange range;
      const char *what;
    };
    std::vector<Decl> decls;
    for (size_t i = 0; i < attn.consts.size(); ++i)
      decls.push_back({attn.consts[i].range.begin.offset, &attn.consts[i].name, SymbolRef::Const,
                       int(i), attn.consts[i].range, "const"});
    for (size_t i = 0; i < attn.params.size(); ++i)
      decls.push_back({attn.params[i].range.begin.offset, &attn.params[i].name, SymbolRef::Param,
                       int(i), attn.params[i].range, "param"});
    for (size_t i = 0; i < attn.inputs.size(); ++i)
      decls.push_back({attn.inputs[i].range.begin.offset, &attn.inputs[i].name, SymbolRef::Input,
                       int(i), attn.inputs[i].range, "input"});
    for (size_t i = 0; i < attn.lets.size(); ++i)
      decls.push_back({attn.lets[i].range.begin.offset, &attn.lets[i].name, SymbolRef::Let, int(i),
                       attn.lets[i].range, "let"});
    std::sort(decls.begin(), decls.end(),
              [](const Decl &a, const Decl &b) { return a.offset < b.offset; });
    for (const Decl &d : decls)
      declare(*d.name, d.kind, d.index, d.range, d.what);

    if (attn.params.size() > kMaxParams)
      diags_.error(attn.params[kMaxParams].range,
                   "too many params: at most " + std::to_string(kMaxParams) + " are supported");
    if (attn.inputs.size() > kMaxInputs)
      diags_.error(attn.inputs[kMaxInputs].range,
                   "too many inputs: at most " + std::to_string(kMaxInputs) + " are supported");

    // Check statements in source order, so that diagnostics come out in that order and
    // every declaration is checked before any (legal) use of it.
    std::vector<std::pair<uint32_t, std::function<void()>>> steps;
    for (ConstDecl &decl : attn.consts)
      steps.emplace_back(decl.range.begin.offset, [this, &decl] { checkConst(decl); });
    for (ParamDecl &decl : attn.params)
      steps.emplace_back(decl.range.begin.offset, [this, &decl] { checkParam(decl); });
    for (InputDecl &decl : attn.inputs)
      steps.emplace_back(decl.range.begin.offset, [this, &decl] { checkInput(decl); });
    for (size_t i = 0; i < attn.lets.size(); ++i)
      steps.emplace_back(attn.lets[i].range.begin.offset, [this, &attn, i] {
        Context ctx(Where::Let);
        check(attn.lets[i].value, ctx);
        letDepth_[i] =
            limitDepth(attn.lets[i].value, attn.lets[i].range, "let '" + attn.lets[i].name + "'");
        lets_[i].used = ctx.used;
        for (int f = 0; f < kNumFeatures; ++f)
          lets_[i].firstName[f] = ctx.firstName[f];
      });
    if (attn.mask)
      steps.emplace_back(attn.mask->range.begin.offset, [this, &attn] {
        Context ctx(Where::Mask);
        Type t = check(attn.mask, ctx);
        limitDepth(attn.mask, attn.mask->range, "'mask'");
        if (t != Type::Invalid && t != Type::Bool)
          diags_.error(attn.mask->range,
                       "'mask' must be a bool expression, not " + std::string(typeName(t)),
                       t == Type::Int ? "compare it, as in 'x != 0'" : "");
      });
    if (attn.score)
      steps.emplace_back(attn.score->range.begin.offset, [this, &attn] {
        Context ctx(Where::Score);
        requireFloat(attn.score, check(attn.score, ctx), "'score'");
        limitDepth(attn.score, attn.score->range, "'score'");
      });
    if (attn.out)
      steps.emplace_back(attn.out->range.begin.offset, [this, &attn] {
        Context ctx(Where::Out);
        requireFloat(attn.out, check(attn.out, ctx), "'out'");
        limitDepth(attn.out, attn.out->range, "'out'");
      });
    if (attn.route)
      steps.emplace_back(attn.route->range.begin.offset,
                         [this, &attn] { checkRoute(*attn.route); });
    std::stable_sort(steps.begin(), steps.end(),
                     [](const auto &a, const auto &b) { return a.first < b.first; });
    for (auto &step : steps)
      step.second();
    attn_ = nullptr;
  }

  /// Float statements accept Int (promoted); anything else is an error.
  void requireFloat(ExprPtr &e, Type t, const char *what) {
    if (t == Type::Int) {
      promote(e);
    } else if (t != Type::Invalid && t != Type::Float) {
      diags_.error(e->range, std::string(what) + " must be a float expression, not " + typeName(t));
    }
  }

  /// Checks an expression in a constant context and folds it.
  std::optional<ConstValue> checkConstantExpr(ExprPtr &e, Context &ctx, const AttentionDecl *attn) {
    Type t = check(e, ctx);
    if (t == Type::Invalid)
      return std::nullopt;
    auto value = evalConst(*e, program_, attn);
    if (!value)
      diags_.error(e->range, "this expression is not a compile-time constant");
    return value;
  }

  /// Parses the text of a -D value: an optionally negated literal.
  ExprPtr parseOverride(const ConstOverride &o, SourceRange range) {
    std::string text = o.value;
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back())))
      text.pop_back();
    size_t start = 0;
    while (start < text.size() && std::isspace(static_cast<unsigned char>(text[start])))
      ++start;
    text = text.substr(start);
    auto e = std::make_unique<Expr>();
    e->range = range;
    if (text == "true" || text == "false") {
      e->kind = ExprKind::BoolLiteral;
      e->boolValue = text == "true";
      return e;
    }
    bool negative = !text.empty() && text[0] == '-';
    std::string digits = negative ? text.substr(1) : text;
    if (digits == kInfName) {
      e->kind = ExprKind::FloatLiteral;
      e->floatValue = negative ? -std::numeric_limits<double>::infinity()
                               : std::numeric_limits<double>::infinity();
      return e;
    }
    if (digits.empty() || digits.size() > 64)
      return nullptr;
    bool isInt =
        std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (isInt) {
      int64_t v = 0;
      for (char c : digits) {
        v = v * 10 + (c - '0');
        if (v > (int64_t(1) << 31))
          return nullptr;
      }
      v = negative ? -v : v;
      if (v > std::numeric_limits<int32_t>::max())
        return nullptr;
      e->kind = ExprKind::IntLiteral;
      e->intValue = v;
      return e;
    }
    // A float literal as the language spells it: digits, '.', digits, exponent.
    size_t i = 0;
    bool mantissa = false;
    while (i < digits.size() && std::isdigit(static_cast<unsigned char>(digits[i])))
      ++i, mantissa = true;
    if (i < digits.size() && digits[i] == '.') {
      ++i;
      bool frac = false;
      while (i < digits.size() && std::isdigit(static_cast<unsigned char>(digits[i])))
        ++i, frac = true;
      if (!frac)
        return nullptr;
      mantissa = true;
    }
    if (!mantissa)
      return nullptr;
    if (i < digits.size() && (digits[i] == 'e' || digits[i] == 'E')) {
      ++i;
      if (i < digits.size() && (digits[i] == '+' || digits[i] == '-'))
        ++i;
      bool exp = false;
      while (i < digits.size() && std::isdigit(static_cast<unsigned char>(digits[i])))
        ++i, exp = true;
      if (!exp)
        return nullptr;
    }
    if (i != digits.size())
      return nullptr;
    double v = std::strtod(text.c_str(), nullptr);
    if (!std::isfinite(v))
      return nullptr;
    e->kind = ExprKind::FloatLiteral;
    e->floatValue = v;
    return e;
  }

  void checkConst(ConstDecl &decl) {
    for (const ConstOverride &o : overrides_)
      if (o.name == decl.name)
        overrideUsed_.insert(o.name);
    Context ctx(Where::Const);
    auto value = checkConstantExpr(decl.value, ctx, attn_);
    if (!value)
      return;
    Type type = decl.declaredType.value_or(value->type);
    if (!convertConst(*value, type)) {
      diags_.error(decl.value->range, "const '" + decl.name + "' is declared " + typeName(type) +
                                          " but its value is " + typeName(value->type));
      return;
    }
    if (type == Type::Float && decl.value->type == Type::Int)
      promote(decl.value);
    // -D NAME=VALUE: the override must have the const's type (int may become float).
    for (const ConstOverride &o : overrides_) {
      if (o.name != decl.name)
        continue;
      ExprPtr literal = parseOverride(o, decl.value->range);
      if (!literal) {
        diags_.error(SourceRange{}, "-D " + o.name + "=" + o.value +
                                        ": the value must be an int, float or bool literal");
        return;
      }
      if (literal->kind == ExprKind::FloatLiteral && !fitsFp32(literal->floatValue)) {
        diags_.error(SourceRange{},
                     "-D " + o.name + "=" + o.value + ": the value does not fit in fp32",
                     kFp32RangeHint);
        return;
      }
      Context litCtx(Where::Const);
      check(literal, litCtx);
      auto overridden = evalConst(*literal, program_, attn_);
      if (!overridden || !convertConst(*overridden, type)) {
        diags_.error(SourceRange{}, "-D " + o.name + "=" + o.value + ": const '" + decl.name +
                                        "' has type " + typeName(type) + ", the value has type " +
                                        typeName(literal->type));
        return;
      }
      if (type == Type::Float && literal->type == Type::Int)
        promote(literal);
      decl.value = std::move(literal);
      value = overridden;
    }
    if (!constFitsFp32(*value, decl.value->range, "const '" + decl.name + "'"))
      return;
    decl.folded = *value;
  }

  /// A folded float (of literals that each fit) can still leave the fp32 range: 1e30 * 1e30.
  bool constFitsFp32(const ConstValue &v, SourceRange range, const std::string &what) {
    if (v.type != Type::Float || fitsFp32(v.f))
      return true;
    diags_.error(range, what + " is " + formatFloat(v.f) + ", which does not fit in fp32",
                 kFp32RangeHint);
    return false;
  }

  /// Converts a folded value to `type` (only int -> float is implicit).
  static bool convertConst(ConstValue &v, Type type) {
    if (v.type == type)
      return true;
    if (v.type == Type::Int && type == Type::Float) {
      v = makeFloat(static_cast<double>(v.i));
      return true;
    }
    return false;
  }

  void checkParam(ParamDecl &decl) {
    if (!decl.defaultValue)
      return;
    Context ctx(Where::Const);
    auto value = checkConstantExpr(decl.defaultValue, ctx, attn_);
    if (!value)
      return;
    if (!convertConst(*value, decl.type)) {
      diags_.error(decl.defaultValue->range, "param '" + decl.name + "' has type " +
                                                 typeName(decl.type) + " but its default is " +
                                                 typeName(value->type));
      return;
    }
    if (decl.type == Type::Float && decl.defaultValue->type == Type::Int)
      promote(decl.defaultValue);
    if (!constFitsFp32(*value, decl.defaultValue->range,
                       "the default of param '" + decl.name + "'"))
      return;
    decl.folded = *value;
  }

  void checkInput(InputDecl &decl) {
    if (decl.dims.size() > kMaxInputRank)
      diags_.error(decl.dims[kMaxInputRank]->range,
                   "input '" + decl.name + "' has " + std::to_string(decl.dims.size()) +
                       " dimensions; at most " + std::to_string(kMaxInputRank) + " are supported");
    for (ExprPtr &dim : decl.dims) {
      Context ctx(Where::InputDim);
      Type t = check(dim, ctx);
      if (t != Type::Invalid && t != Type::Int)
        diags_.error(dim->range,
                     "an input dimension must be an int, not " + std::string(typeName(t)));
    }
  }

  //===--------------------------------------------------------------------===//
  // Routes
  //===--------------------------------------------------------------------===//

  std::optional<int64_t> positiveConstInt(ExprPtr &e, const char *what) {
    Context ctx(Where::Const);
    auto value = checkConstantExpr(e, ctx, attn_);
    if (!value)
      return std::nullopt;
    if (value->type != Type::Int) {
      diags_.error(e->range, std::string(what) + " must be an int, not " + typeName(value->type));
      return std::nullopt;
    }
    if (value->i <= 0) {
      diags_.error(e->range,
                   std::string(what) + " must be positive, not " + std::to_string(value->i));
      return std::nullopt;
    }
    return value->i;
  }

  void checkRoute(RouteSpec &route) {
    route.blockShape.clear();
    if (route.blockSize) {
      if (auto v = positiveConstInt(route.blockSize, "the route block size"))
        route.blockShape.push_back(*v);
    } else if (!route.tileSizes.empty()) {
      for (ExprPtr &size : route.tileSizes)
        if (auto v = positiveConstInt(size, "a tile size"))
          route.blockShape.push_back(*v);
      if (route.blockShape.size() != route.tileSizes.size())
        route.blockShape.clear();
    } else {
      diags_.error(route.range, "the route needs a 'block' setting",
                   "add 'block = 512;' (or 'block = tile(...)' over a layout)");
    }
    route.queryBlock = 1;
    if (route.per == RouteSpec::Granularity::QueryBlock && route.queryBlockSize) {
      if (auto v = positiveConstInt(route.queryBlockSize, "the query block size"))
        route.queryBlock = *v;
    }
    if (!route.gate) {
      // The default gate, spelled out so that downstream code never special-cases it.
      auto gate = std::make_unique<Expr>();
      gate->kind = ExprKind::Call;
      gate->name = "dot";
      gate->range = route.range;
      for (const char *arg : {"query", "key"}) {
        auto name = std::make_unique<Expr>();
        name->kind = ExprKind::Name;
        name->name = arg;
        name->range = route.range;
        gate->operands.push_back(std::move(name));
      }
      route.gate = std::move(gate);
    }
    {
      Context ctx(Where::Gate);
      if (route.per != RouteSpec::Granularity::Token) {
        ctx.allowed &= ~kQuery;
        ctx.gateWithoutQuery = true;
      }
      requireFloat(route.gate, check(route.gate, ctx), "the route 'gate'");
      limitDepth(route.gate, route.gate->range, "the route 'gate'");
    }
    if (!route.selectArg) {
      diags_.error(route.range, "the route needs a 'select' setting",
                   "add 'select = top(3);' or 'select = threshold(0.5);'");
    } else {
      Context ctx(Where::Const);
      auto value = checkConstantExpr(route.selectArg, ctx, attn_);
      if (value && route.select == RouteSpec::Selection::TopK) {
        if (value->type != Type::Int)
          diags_.error(route.selectArg->range,
                       std::string("top(n) needs an int, not ") + typeName(value->type));
        else if (value->i < 1)
          diags_.error(route.selectArg->range,
                       "top(n) needs n >= 1, not " + std::to_string(value->i));
        else
          route.selectArg = literalOf(*value, route.selectArg->range);
      } else if (value) {
        ConstValue m = *value;
        if (!convertConst(m, Type::Float))
          diags_.error(route.selectArg->range,
                       std::string("threshold(m) needs a float, not ") + typeName(value->type));
        else if (!(m.f > 0.0 && m.f <= 1.0))
          diags_.error(route.selectArg->range,
                       "threshold(m) needs 0 < m <= 1, not " + formatFloat(m.f));
        else
          route.selectArg = literalOf(m, route.selectArg->range);
      }
    }
    for (auto [slot, where, what] :
         {std::tuple{&route.always, Where::Always, "the route's 'always'"},
          std::tuple{&route.never, Where::Never, "the route's 'never'"}}) {
      if (!*slot)
        continue;
      Context ctx(where);
      Type t = check(*slot, ctx);
      limitDepth(*slot, (*slot)->range, what);
      if (t != Type::Invalid && t != Type::Bool)
        diags_.error((*slot)->range,
                     std::string(what) + " must be a bool expression, not " + typeName(t));
    }
  }

  //===--------------------------------------------------------------------===//
  // Depth through lets
  //===--------------------------------------------------------------------===//

  /// The depth of a checked expression where each let use counts as the depth of that
  /// let's expression (memoised in letDepth_, so linear however the lets share). 0 when
  /// it uses a let already reported too deep, so that one chain gives one error.
  /// Recurses only through one expression, which the parser bounds.
  unsigned depthThroughLets(const Expr &e) const {
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

  /// Reports `e` (the value of `what`) when it is deeper than kMaxDepthThroughLets;
  /// returns its depth, or 0 after an error.
  unsigned limitDepth(const ExprPtr &e, SourceRange range, const std::string &what) {
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

  static ExprPtr literalOf(const ConstValue &v, SourceRange range) {
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

  //===--------------------------------------------------------------------===//
  // Expressions
  //===--------------------------------------------------------------------===//

  /// Wraps an Int expression in float(...): the one implicit conversion, made explicit.
  static void promote(ExprPtr &e) {
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

  static bool isNumeric(Type t) { return t == Type::Int || t == Type::Float; }

  Type check(ExprPtr &e, Context &ctx) {
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

  Type checkImpl(ExprPtr &ep, Context &ctx) {
    Expr &e = *ep;
    switch (e.kind) {
    case ExprKind::IntLiteral:
      return Type::Int;
    case ExprKind::FloatLiteral:
      if (!fitsFp32(e.floatValue)) {
        diags_.error(e.range,
                     "float literal " + formatFloat(e.floatValue) + " does not fit in fp32",
                     kFp32RangeHint);
        return Type::Invalid;
      }
      return Type::Float;
    case ExprKind::BoolLiteral:
      return Type::Bool;
    case ExprKind::Name:
      return checkName(e, ctx);
    case ExprKind::Slice:
      e.ref.kind = SymbolRef::Builtin;
      e.ref.index = static_cast<int>(Builtin::Column);
      if (!use(ctx, kOut, ":", e.range))
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
      return checkMember(e, ctx);
    }
    return Type::Invalid;
  }

  Type checkName(Expr &e, Context &ctx) {
    auto it = symbols_.find(e.name);
    if (it != symbols_.end() && attn_) {
      const Symbol &sym = it->second;
      if (sym.declRange.end.offset > e.range.begin.offset) {
        diags_.error(e.range, "'" + e.name + "' is used before its declaration",
                     "it is declared at line " + lineOf(sym.declRange));
        return Type::Invalid;
      }
      e.ref.kind = sym.kind;
      e.ref.index = sym.index;
      switch (sym.kind) {
      case SymbolRef::Const: {
        const ConstDecl &decl = attn_->consts[sym.index];
        if (ctx.where == Where::Layout) {
          reportFeature(ctx, kRuntime, e.name, e.range);
          return Type::Invalid;
        }
        return decl.folded.type;
      }
      case SymbolRef::Param:
        if (!use(ctx, kRuntime, e.name, e.range))
          return Type::Invalid;
        return attn_->params[sym.index].type;
      case SymbolRef::Input:
        diags_.error(e.range, "input '" + e.name + "' must be indexed",
                     "read one element, as in " + e.name + "[" +
                         inputIndexExample(attn_->inputs[sym.index]) + "]");
        return Type::Invalid;
      case SymbolRef::Let: {
        if (ctx.isConstant() || ctx.where == Where::InputDim) {
          reportFeature(ctx, kRuntime, e.name, e.range, e.name);
          return Type::Invalid;
        }
        const LetInfo &info = lets_[sym.index];
        for (int f = 0; f < kNumFeatures; ++f) {
          Feature feature = static_cast<Feature>(1u << f);
          if (!(info.used & feature))
            continue;
          if (!(ctx.allowed & feature)) {
            reportFeature(ctx, feature, info.firstName[f], e.range, e.name);
            return Type::Invalid;
          }
          if (!(ctx.used & feature))
            ctx.firstName[f] = info.firstName[f];
          ctx.used |= feature;
        }
        const ExprPtr &value = attn_->lets[sym.index].value;
        return value ? value->type : Type::Invalid;
      }
      default:
        return Type::Invalid;
      }
    }
    if (e.name == kInfName) {
      // A constant, not a run-time value: downstream it is the literal +inf.
      e.kind = ExprKind::FloatLiteral;
      e.floatValue = std::numeric_limits<double>::infinity();
      return Type::Float;
    }
    if (auto builtin = lookupBuiltin(e.name)) {
      e.ref.kind = SymbolRef::Builtin;
      e.ref.index = static_cast<int>(*builtin);
      switch (*builtin) {
      case Builtin::Batch:
      case Builtin::Head:
      case Builtin::KvHead:
        return use(ctx, kRuntime, e.name, e.range) ? Type::Int : Type::Invalid;
      case Builtin::Query:
        return use(ctx, kQuery, e.name, e.range) ? Type::Int : Type::Invalid;
      case Builtin::Key:
        return use(ctx, kKey, e.name, e.range) ? Type::Int : Type::Invalid;
      case Builtin::Causal:
        return use(ctx, kKey, e.name, e.range) ? Type::Bool : Type::Invalid;
      case Builtin::Score:
        return use(ctx, kScore, e.name, e.range) ? Type::Float : Type::Invalid;
      case Builtin::Out:
        return use(ctx, kOut, e.name, e.range) ? Type::Float : Type::Invalid;
      case Builtin::Column:
        return use(ctx, kOut, e.name, e.range) ? Type::Int : Type::Invalid;
      case Builtin::NumBatch:
      case Builtin::NumHeads:
      case Builtin::NumKvHeads:
      case Builtin::QLen:
      case Builtin::KvLen:
      case Builtin::HeadDim:
        return use(ctx, kShape, e.name, e.range) ? Type::Int : Type::Invalid;
      case Builtin::Block:
      case Builtin::NumBlocks:
        return use(ctx, kBlock, e.name, e.range) ? Type::Int : Type::Invalid;
      }
      return Type::Invalid;
    }
    if (e.name == "query" || e.name == "key") {
      diags_.error(e.range, "'" + e.name + "' is only available as an argument of dot()",
                   "the route gate is written 'gate = dot(query, key);'");
      return Type::Invalid;
    }
    if (lookupFunc(e.name)) {
      diags_.error(e.range, "'" + e.name + "' is a function", "call it: " + e.name + "(...)");
      return Type::Invalid;
    }
    if (auto it = layoutByName_.find(e.name); it != layoutByName_.end()) {
      const LayoutDecl &layout = program_.layouts[it->second];
      diags_.error(e.range, "'" + e.name + "' is a layout, not a value",
                   layout.axes.empty() ? ""
                                       : "use one of its axis sizes, as in " + e.name + "." +
                                             layout.axes.front().name);
      return Type::Invalid;
    }
    std::string close =
        hintsWanted() ? closestName(e.name, visibleNames(e.range.begin.offset)) : "";
    diags_.error(e.range, "unknown name '" + e.name + "'",
                 close.empty() ? "" : "did you mean '" + close + "'?");
    return Type::Invalid;
  }

  static std::string inputIndexExample(const InputDecl &input) {
    std::string s;
    for (size_t i = 0; i < input.dims.size(); ++i)
      s += i ? ", i" + std::to_string(i) : "i0";
    return s;
  }

  Type checkUnary(Expr &e, Context &ctx) {
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
  bool checkDivisor(const Expr &e, const Context &ctx) {
    const Expr *dividend = e.operands[0].get(), *divisor = e.operands[1].get();
    if (!dividend || !divisor)
      return true;
    std::optional<ConstValue> d = evalConst(*divisor, program_, attn_, &divisorMemo_);
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
    std::optional<ConstValue> n = evalConst(*dividend, program_, attn_, &divisorMemo_);
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

  Type checkBinary(Expr &e, Context &ctx) {
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

  Type checkCall(Expr &e, Context &ctx) {
    SourceRange nameRange = nameRangeOf(e);
    auto func = lookupFunc(e.name);
    if (!func) {
      std::vector<std::string> names;
      for (const FuncName &f : kFuncNames)
        names.push_back(f.name);
      std::string close = closestName(e.name, names);
      std::string hint = close.empty() ? "" : "did you mean '" + close + "'?";
      auto sym = symbols_.find(e.name);
      if (sym != symbols_.end() && sym->second.kind == SymbolRef::Input)
        hint = "inputs are read with brackets: " + e.name + "[...]";
      diags_.error(nameRange, "unknown function '" + e.name + "'", hint);
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
      return checkDot(e, ctx, nameRange);
    if (*func == Func::BlockOf && !use(ctx, kBlock, "block_of", nameRange))
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
                                             "' must be " + expected + ", not " +
                                             typeName(types[i]));
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

  /// dot(query, key): the gate's similarity; its arguments are the two route vectors.
  Type checkDot(Expr &e, Context &ctx, SourceRange nameRange) {
    if (!use(ctx, kDot, "dot", nameRange))
      return Type::Invalid;
    bool ok = e.operands.size() == 2;
    bool seenQuery = false, seenKey = false;
    for (ExprPtr &arg : e.operands) {
      if (!ok)
        break;
      if (arg->kind == ExprKind::Name && arg->name == "query" && !seenQuery) {
        seenQuery = true;
        arg->ref.kind = SymbolRef::RouteQuery;
      } else if (arg->kind == ExprKind::Name && arg->name == "key" && !seenKey) {
        seenKey = true;
        arg->ref.kind = SymbolRef::RouteKey;
      } else {
        ok = false;
      }
      arg->type = Type::Float;
    }
    if (!ok) {
      diags_.error(e.range, "dot() takes exactly the arguments 'query' and 'key'",
                   "write dot(query, key): the (pooled) query and the block's mean key");
      return Type::Invalid;
    }
    return Type::Float;
  }

  Type checkIndex(Expr &e, Context &ctx) {
    SourceRange nameRange = nameRangeOf(e);
    auto it = symbols_.find(e.name);
    if (it == symbols_.end() || it->second.kind != SymbolRef::Input) {
      std::string message;
      std::string hint;
      if (it != symbols_.end()) {
        message = "'" + e.name + "' is not an input tensor; only inputs can be indexed";
      } else {
        message = "unknown input '" + e.name + "'";
        std::vector<std::string> inputs;
        if (attn_ && hintsWanted())
          for (const InputDecl &input : attn_->inputs)
            inputs.push_back(input.name);
        std::string close = closestName(e.name, inputs);
        hint = close.empty() ? "declare it: input " + e.name + ": f32[...];"
                             : "did you mean '" + close + "'?";
      }
      diags_.error(nameRange, message, hint);
      for (ExprPtr &arg : e.operands)
        if (arg->kind != ExprKind::Slice)
          check(arg, ctx);
      return Type::Invalid;
    }
    const Symbol &sym = it->second;
    if (sym.declRange.end.offset > e.range.begin.offset) {
      diags_.error(nameRange, "'" + e.name + "' is used before its declaration",
                   "it is declared at line " + lineOf(sym.declRange));
      return Type::Invalid;
    }
    e.ref.kind = SymbolRef::Input;
    e.ref.index = sym.index;
    const InputDecl &input = attn_->inputs[sym.index];
    if (!use(ctx, kRuntime, e.name, nameRange))
      return Type::Invalid;
    bool valid = true;
    for (size_t i = 0; i < e.operands.size(); ++i) {
      Type t = check(e.operands[i], ctx);
      if (t == Type::Invalid) {
        valid = false;
      } else if (t != Type::Int) {
        diags_.error(e.operands[i]->range,
                     "index " + std::to_string(i + 1) + " of '" + e.name +
                         "' must be an int, not " + typeName(t),
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

  Type checkMember(Expr &e, Context &ctx) {
    Expr &base = *e.operands[0];
    if (ctx.where == Where::Layout) {
      reportFeature(ctx, kRuntime, base.name + "." + e.name, e.range);
      return Type::Invalid;
    }
    const LayoutDecl *layout = nullptr;
    if (attn_ && attn_->layout >= 0)
      layout = &program_.layouts[attn_->layout];
    auto axisIndex = [&](const LayoutDecl &l) -> int {
      for (size_t i = 0; i < l.axes.size(); ++i)
        if (l.axes[i].name == e.name)
          return static_cast<int>(i);
      std::vector<std::string> names;
      std::string list;
      for (const LayoutDecl::Axis &axis : l.axes) {
        if (hintsWanted())
          names.push_back(axis.name);
        list += (list.empty() ? "" : ", ") + axis.name;
      }
      std::string close = closestName(e.name, names);
      diags_.error(e.range, "layout '" + l.name + "' has no axis '" + e.name + "'",
                   close.empty() ? "its axes are " + list : "did you mean '" + close + "'?");
      return -1;
    };
    bool isToken = base.name == "q" || base.name == "k";
    if (isToken && !symbols_.count(base.name)) {
      if (!layout) {
        // An attention naming an unknown layout was already reported.
        if (attn_ && attn_->layoutName.empty())
          diags_.error(e.range, "'" + base.name + "." + e.name + "' needs a layout",
                       "declare the attention with 'over LAYOUT'");
        return Type::Invalid;
      }
      bool query = base.name == "q";
      base.ref.kind = SymbolRef::Builtin;
      base.ref.index = static_cast<int>(query ? Builtin::Query : Builtin::Key);
      base.type = Type::Int;
      if (!use(ctx, query ? kQuery : kKey, base.name + "." + e.name, e.range))
        return Type::Invalid;
      int axis = axisIndex(*layout);
      if (axis < 0)
        return Type::Invalid;
      e.ref.kind = SymbolRef::Coordinate;
      e.ref.index = axis;
      e.ref.token = query ? Builtin::Query : Builtin::Key;
      return Type::Int;
    }
    if (layout && base.name == layout->name) {
      int axis = axisIndex(*layout);
      if (axis < 0)
        return Type::Invalid;
      if (ctx.where == Where::Layout) {
        reportFeature(ctx, kRuntime, base.name + "." + e.name, e.range);
        return Type::Invalid;
      }
      e.ref.kind = SymbolRef::AxisSize;
      e.ref.index = axis;
      return Type::Int;
    }
    if (layoutByName_.count(base.name)) {
      diags_.error(base.range, "layout '" + base.name + "' is not the layout of this attention",
                   attn_ && !attn_->layoutName.empty()
                       ? "this attention is over '" + attn_->layoutName + "'"
                       : "declare the attention with 'over " + base.name + "'");
      return Type::Invalid;
    }
    diags_.error(e.range, "'" + base.name + "." + e.name + "': only q, k and the layout have axes",
                 "write q.AXIS, k.AXIS or LAYOUT.AXIS");
    return Type::Invalid;
  }

  Program &program_;
  DiagnosticEngine &diags_;
  const std::vector<ConstOverride> &overrides_;
  AttentionDecl *attn_ = nullptr;
  std::unordered_map<std::string, Symbol> symbols_;
  std::vector<LetInfo> lets_;
  std::vector<unsigned> letDepth_; ///< per let: depthThroughLets of its value, 0 if too deep
  std::set<std::string> overrideUsed_;
  std::unordered_map<std::string, int> layoutByName_; ///< first layout of each name
  ConstMemo divisorMemo_;                             ///< see check()
  int checkDepth_ = 0;
};

} // namespace

std::optional<ConstValue> foldConstant(const Expr &expr, const Program &program,
                                       const AttentionDecl *attention) {
  return evalConst(expr, program, attention);
}

bool checkProgram(Program &program, DiagnosticEngine &diags,
                  const std::vector<ConstOverride> &overrides) {
  unsigned before = diags.errorCount();
  Sema(program, diags, overrides).run();
  return diags.errorCount() == before;
}

} // namespace attnc::dsl
