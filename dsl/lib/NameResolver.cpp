//===- NameResolver.cpp - Names and contexts of the checker ---------------===//
#include "NameResolver.h"

#include "SemaSupport.h"

#include "attnc/dsl/Sema.h"

#include <limits>

namespace attnc::dsl::sema {
namespace {

constexpr unsigned kHintErrorBudget = 50;
constexpr size_t kHintMaxCandidates = 4096;

std::string inputIndexExample(const InputDecl &input) {
  std::string s;
  for (size_t i = 0; i < input.dims.size(); ++i)
    s += i ? ", i" + std::to_string(i) : "i0";
  return s;
}

} // namespace

NameResolver::NameResolver(Program &program, DiagnosticEngine &diags)
    : program_(program), diags_(diags) {
  for (size_t i = 0; i < program_.layouts.size(); ++i)
    layoutByName_.emplace(program_.layouts[i].name, static_cast<int>(i));
}

int NameResolver::layoutIndex(const std::string &name) const {
  auto it = layoutByName_.find(name);
  return it == layoutByName_.end() ? -1 : it->second;
}

void NameResolver::beginAttention(AttentionDecl &attn) {
  attn_ = &attn;
  symbols_.clear();
  lets_.assign(attn.lets.size(), LetInfo{});
}

void NameResolver::defineLet(size_t index, const Context &ctx) {
  lets_[index].used = ctx.used;
  for (int f = 0; f < kNumFeatures; ++f)
    lets_[index].firstName[f] = ctx.firstName[f];
}

bool NameResolver::hintsWanted() const {
  return diags_.errorCount() < kHintErrorBudget && symbols_.size() < kHintMaxCandidates;
}

std::vector<std::string> NameResolver::visibleNames(uint32_t offset) const {
  std::vector<std::string> names;
  for (const auto &[name, sym] : symbols_)
    if (sym.declRange.end.offset <= offset)
      names.push_back(name);
  for (std::string &b : builtinNames())
    names.push_back(std::move(b));
  names.push_back(kInfName);
  return names;
}

void NameResolver::reportFeature(const Context &ctx, Feature f, const std::string &name,
                                 SourceRange r, const std::string &viaLet) {
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
      message = viaLet.empty()
                    ? "'" + name + "' is not available in " + ctx.describe()
                    : subject + " cannot be used in " + ctx.describe() + ": it uses '" + name + "'";
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

bool NameResolver::use(Context &ctx, Feature f, const std::string &name, SourceRange r) {
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

void NameResolver::declare(const std::string &name, SymbolRef::Kind kind, int index,
                           SourceRange range, const char *what) {
  if (lookupBuiltin(name) || name == kInfName) {
    diags_.error(range,
                 "cannot declare " + std::string(what) + " '" + name + "': it is a built-in name");
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

Type NameResolver::resolveName(Expr &e, Context &ctx) {
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
  std::string close = hintsWanted() ? closestName(e.name, visibleNames(e.range.begin.offset)) : "";
  diags_.error(e.range, "unknown name '" + e.name + "'",
               close.empty() ? "" : "did you mean '" + close + "'?");
  return Type::Invalid;
}

/// dot(query, key): the gate's similarity; its arguments are the two route vectors.
Type NameResolver::resolveDot(Expr &e, Context &ctx, SourceRange nameRange) {
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

std::optional<Func> NameResolver::resolveFunc(const Expr &e, SourceRange nameRange) {
  if (auto func = lookupFunc(e.name))
    return func;
  std::string close = closestName(e.name, funcNames());
  std::string hint = close.empty() ? "" : "did you mean '" + close + "'?";
  auto sym = symbols_.find(e.name);
  if (sym != symbols_.end() && sym->second.kind == SymbolRef::Input)
    hint = "inputs are read with brackets: " + e.name + "[...]";
  diags_.error(nameRange, "unknown function '" + e.name + "'", hint);
  return std::nullopt;
}

const InputDecl *NameResolver::resolveInput(Expr &e, Context &ctx, bool &unknownInput) {
  unknownInput = false;
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
    unknownInput = true;
    return nullptr;
  }
  const Symbol &sym = it->second;
  if (sym.declRange.end.offset > e.range.begin.offset) {
    diags_.error(nameRange, "'" + e.name + "' is used before its declaration",
                 "it is declared at line " + lineOf(sym.declRange));
    return nullptr;
  }
  e.ref.kind = SymbolRef::Input;
  e.ref.index = sym.index;
  const InputDecl &input = attn_->inputs[sym.index];
  if (!use(ctx, kRuntime, e.name, nameRange))
    return nullptr;
  return &input;
}

Type NameResolver::resolveMember(Expr &e, Context &ctx) {
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

} // namespace attnc::dsl::sema
