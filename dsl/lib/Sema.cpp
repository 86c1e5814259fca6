//===- Sema.cpp - The attnc checker -----------------------------------------===//
//
// The driver: checks layouts, then each attention's declarations and statements in
// source order, folds the compile-time values and applies -D overrides. Names and their
// contexts are NameResolver's, expression types ExprChecker's, constant evaluation
// ConstEval's and the -D value syntax ConstOverride's.
//
//===----------------------------------------------------------------------===//
#include "attnc/dsl/Sema.h"

#include "ConstEval.h"
#include "ConstOverride.h"
#include "ExprChecker.h"
#include "NameResolver.h"
#include "SemaSupport.h"

#include <algorithm>
#include <functional>
#include <limits>
#include <map>
#include <set>
#include <tuple>

namespace attnc::dsl {
namespace sema {
namespace {

class Sema {
public:
  Sema(Program &program, DiagnosticEngine &diags, const std::vector<ConstOverride> &overrides)
      : program_(program), diags_(diags), overrides_(overrides), names_(program, diags),
        exprs_(program, diags, names_) {}

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
  // Layouts
  //===--------------------------------------------------------------------===//

  void checkLayouts() {
    std::map<std::string, SourceRange> seen;
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

  void checkAttention(AttentionDecl &attn) {
    attn_ = &attn;
    names_.beginAttention(attn);
    exprs_.beginAttention(attn);
    if (!attn.layoutName.empty()) {
      int layout = names_.layoutIndex(attn.layoutName);
      if (layout >= 0 && program_.layouts[layout].range.end.offset <= attn.range.begin.offset)
        attn.layout = layout;
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
      names_.declare(*d.name, d.kind, d.index, d.range, d.what);

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
        exprs_.check(attn.lets[i].value, ctx);
        exprs_.setLetDepth(i, exprs_.limitDepth(attn.lets[i].value, attn.lets[i].range,
                                                "let '" + attn.lets[i].name + "'"));
        names_.defineLet(i, ctx);
      });
    if (attn.mask)
      steps.emplace_back(attn.mask->range.begin.offset, [this, &attn] {
        Context ctx(Where::Mask);
        Type t = exprs_.check(attn.mask, ctx);
        exprs_.limitDepth(attn.mask, attn.mask->range, "'mask'");
        if (t != Type::Invalid && t != Type::Bool)
          diags_.error(attn.mask->range,
                       "'mask' must be a bool expression, not " + std::string(typeName(t)),
                       t == Type::Int ? "compare it, as in 'x != 0'" : "");
      });
    if (attn.score)
      steps.emplace_back(attn.score->range.begin.offset, [this, &attn] {
        Context ctx(Where::Score);
        exprs_.requireFloat(attn.score, exprs_.check(attn.score, ctx), "'score'");
        exprs_.limitDepth(attn.score, attn.score->range, "'score'");
      });
    if (attn.out)
      steps.emplace_back(attn.out->range.begin.offset, [this, &attn] {
        Context ctx(Where::Out);
        exprs_.requireFloat(attn.out, exprs_.check(attn.out, ctx), "'out'");
        exprs_.limitDepth(attn.out, attn.out->range, "'out'");
      });
    if (attn.route)
      steps.emplace_back(attn.route->range.begin.offset,
                         [this, &attn] { checkRoute(*attn.route); });
    std::stable_sort(steps.begin(), steps.end(),
                     [](const auto &a, const auto &b) { return a.first < b.first; });
    for (auto &step : steps)
      step.second();
    names_.endAttention();
    attn_ = nullptr;
  }
  /// Checks an expression in a constant context and folds it.
  std::optional<ConstValue> checkConstantExpr(ExprPtr &e, Context &ctx, const AttentionDecl *attn) {
    Type t = exprs_.check(e, ctx);
    if (t == Type::Invalid)
      return std::nullopt;
    auto value = evalConst(*e, program_, attn);
    if (!value)
      diags_.error(e->range, "this expression is not a compile-time constant");
    return value;
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
      ExprChecker::promote(decl.value);
    // -D NAME=VALUE: the override must have the const's type (int may become float).
    for (const ConstOverride &o : overrides_) {
      if (o.name != decl.name)
        continue;
      ExprPtr literal = parseOverride(o.value, decl.value->range);
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
      exprs_.check(literal, litCtx);
      auto overridden = evalConst(*literal, program_, attn_);
      if (!overridden || !convertConst(*overridden, type)) {
        diags_.error(SourceRange{}, "-D " + o.name + "=" + o.value + ": const '" + decl.name +
                                        "' has type " + typeName(type) + ", the value has type " +
                                        typeName(literal->type));
        return;
      }
      if (type == Type::Float && literal->type == Type::Int)
        ExprChecker::promote(literal);
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
      ExprChecker::promote(decl.defaultValue);
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
      Type t = exprs_.check(dim, ctx);
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
      exprs_.requireFloat(route.gate, exprs_.check(route.gate, ctx), "the route 'gate'");
      exprs_.limitDepth(route.gate, route.gate->range, "the route 'gate'");
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
      Type t = exprs_.check(*slot, ctx);
      exprs_.limitDepth(*slot, (*slot)->range, what);
      if (t != Type::Invalid && t != Type::Bool)
        diags_.error((*slot)->range,
                     std::string(what) + " must be a bool expression, not " + typeName(t));
    }
  }

  Program &program_;
  DiagnosticEngine &diags_;
  const std::vector<ConstOverride> &overrides_;
  std::set<std::string> overrideUsed_;
  NameResolver names_;
  ExprChecker exprs_;
  AttentionDecl *attn_ = nullptr;
};

} // namespace
} // namespace sema

bool checkProgram(Program &program, DiagnosticEngine &diags,
                  const std::vector<ConstOverride> &overrides) {
  unsigned before = diags.errorCount();
  sema::Sema(program, diags, overrides).run();
  return diags.errorCount() == before;
}

} // namespace attnc::dsl
