//===- SemaTests.cpp - Types, names, contexts and folding -------------------===//
#include "TestUtil.h"

#include "attnc/dsl/Sema.h"

#include <catch2/catch.hpp>

#include <chrono>
#include <cmath>
#include <limits>

using namespace attnc::dsl;
using attnc::dsl::test::checkText;

namespace {

/// Folds `const v = EXPR;` and returns its value; the program must check.
ConstValue fold(const std::string &expr) {
  auto r = checkText("attention a { const v = " + expr + "; }");
  INFO(expr << "\n" << r.rendered);
  REQUIRE(r.program);
  return r.program->attentions[0].consts[0].folded;
}

int64_t foldInt(const std::string &expr) {
  ConstValue v = fold(expr);
  REQUIRE(v.type == Type::Int);
  return v.i;
}

double foldFloat(const std::string &expr) {
  ConstValue v = fold(expr);
  REQUIRE(v.type == Type::Float);
  return v.f;
}

} // namespace

TEST_CASE("sema: names resolve to built-ins, consts, params, inputs and lets", "[sema]") {
  auto r = checkText("attention a {\n"
                     "  const c0 = 3; param p: int = 1; input t: i32[kv_len];\n"
                     "  let l = t[k] + p;\n"
                     "  mask = l > c0 && causal && kv_h >= 0;\n"
                     "}");
  INFO(r.rendered);
  REQUIRE(r.program);
  const AttentionDecl &a = r.program->attentions[0];
  const Expr &l = *a.lets[0].value; // t[k] + p
  CHECK(l.type == Type::Int);
  CHECK(l.operands[0]->ref.kind == SymbolRef::Input);
  CHECK(l.operands[0]->ref.index == 0);
  CHECK(l.operands[0]->operands[0]->ref.kind == SymbolRef::Builtin);
  CHECK(l.operands[0]->operands[0]->ref.index == static_cast<int>(Builtin::Key));
  CHECK(l.operands[1]->ref.kind == SymbolRef::Param);
  const Expr &mask = *a.mask; // ((l > c0) && causal) && (kv_h >= 0)
  const Expr &cmp = *mask.operands[0]->operands[0];
  CHECK(cmp.operands[0]->ref.kind == SymbolRef::Let);
  CHECK(cmp.operands[1]->ref.kind == SymbolRef::Const);
  CHECK(mask.operands[0]->operands[1]->ref.index == static_cast<int>(Builtin::Causal));
  CHECK(mask.operands[1]->operands[0]->ref.index == static_cast<int>(Builtin::KvHead));
  CHECK(mask.type == Type::Bool);
}

TEST_CASE("sema: every expression gets a type", "[sema]") {
  auto r = checkText("attention a { input g: bf16[batch, heads, q_len, d]; input f: u8[heads];\n"
                     "  mask = f[h]; score = score * 2; out = out * g[b, h, q, c]; }");
  INFO(r.rendered);
  REQUIRE(r.program);
  const AttentionDecl &a = r.program->attentions[0];
  CHECK(a.mask->type == Type::Bool);
  CHECK(a.score->type == Type::Float);
  CHECK(a.out->type == Type::Float);
  CHECK(a.out->operands[1]->type == Type::Float);
}

TEST_CASE("sema: Int operands promoted to Float get an explicit float() node", "[sema]") {
  auto r = checkText("attention a { score = score - 0.5 * (q - k); }");
  INFO(r.rendered);
  REQUIRE(r.program);
  const Expr &product = *r.program->attentions[0].score->operands[1];
  CHECK(product.type == Type::Float);
  const Expr &promoted = *product.operands[1];
  CHECK(promoted.kind == ExprKind::Call);
  REQUIRE(promoted.func);
  CHECK(*promoted.func == Func::ToFloat);
  CHECK(promoted.operands[0]->type == Type::Int);
}

TEST_CASE("sema: an Int score or out statement is promoted", "[sema]") {
  auto r = checkText("attention a { score = q - k; out = c; }");
  INFO(r.rendered);
  REQUIRE(r.program);
  CHECK(r.program->attentions[0].score->type == Type::Float);
  CHECK(*r.program->attentions[0].score->func == Func::ToFloat);
  CHECK(*r.program->attentions[0].out->func == Func::ToFloat);
}

TEST_CASE("sema: built-in function typing", "[sema]") {
  auto r = checkText("attention a { let i = abs(q - k) + min(q, k) + clamp(q, 0, 4) + "
                     "bit_length(q) + int(2.5);\n"
                     "  let f = exp(q) + floor(1.5) + max(q, 1.5) + select(q > k, 1, 2.0);\n"
                     "  let z = select(q > k, true, false);\n"
                     "  mask = float(i) < f && z; }");
  INFO(r.rendered);
  REQUIRE(r.program);
  const AttentionDecl &a = r.program->attentions[0];
  CHECK(a.lets[0].value->type == Type::Int);
  CHECK(a.lets[1].value->type == Type::Float);
  CHECK(a.lets[2].value->type == Type::Bool);
}

TEST_CASE("sema: Int constant arithmetic wraps and never traps", "[sema][fold]") {
  CHECK(foldInt("2147483647 + 1") == -2147483648LL);
  CHECK(foldInt("-2147483648 / -1") == -2147483648LL);
  CHECK(foldInt("-2147483648 % -1") == 0);
  CHECK(foldInt("-7 / 2") == -3);
  CHECK(foldInt("-7 % 2") == -1);
  CHECK(foldInt("7 % -2") == 1);
  CHECK(foldInt("1 << 33") == 2);
  CHECK(foldInt("-8 >> 1") == -4);
  CHECK(foldInt("-1 >> 40") == -1);
  CHECK(foldInt("65536 * 65536") == 0);
  CHECK(foldInt("~0") == -1);
  CHECK(foldInt("6 & 3 | 8 ^ 1") == 11);
  CHECK(foldInt("abs(-2147483648)") == -2147483648LL);
}

TEST_CASE("sema: bit_length and int() follow the reference semantics", "[sema][fold]") {
  CHECK(foldInt("bit_length(0)") == 0);
  CHECK(foldInt("bit_length(1)") == 1);
  CHECK(foldInt("bit_length(2)") == 2);
  CHECK(foldInt("bit_length(3)") == 2);
  CHECK(foldInt("bit_length(4)") == 3);
  CHECK(foldInt("bit_length(-4)") == 3);
  CHECK(foldInt("bit_length(-2147483648)") == 32);
  CHECK(foldInt("int(2.9)") == 2);
  CHECK(foldInt("int(-2.9)") == -2);
  CHECK(foldInt("int(1e30)") == 2147483647);
  CHECK(foldInt("int(-1e30)") == -2147483648LL);
  CHECK(foldInt("int(sqrt(-1.0))") == 0);
}

TEST_CASE("sema: Float constant folding", "[sema][fold]") {
  CHECK(foldFloat("1 + 0.5") == 1.5);
  CHECK(foldFloat("sigmoid(0)") == 0.5);
  CHECK(foldFloat("floor(-1.5)") == -2.0);
  CHECK(foldFloat("exp2(-8.0 * 2 / 16)") == 0.5);
  CHECK(foldFloat("30.0 * tanh(0.0)") == 0.0);
  CHECK(std::isinf(foldFloat("log(0.0)")));
  CHECK(fold("3 > 2.5").type == Type::Bool);
  CHECK(fold("3 > 2.5").b);
}

TEST_CASE("sema: inf is the built-in float constant", "[sema][fold][nonfinite]") {
  CHECK(foldFloat("inf") == std::numeric_limits<double>::infinity());
  CHECK(foldFloat("-inf") == -std::numeric_limits<double>::infinity());
  CHECK(std::isnan(foldFloat("inf - inf")));
  CHECK(std::isnan(foldFloat("0.0 * inf")));
  CHECK(foldFloat("log(0.0)") == -std::numeric_limits<double>::infinity());
  CHECK(foldFloat("1.0 / inf") == 0.0);
  CHECK(foldFloat("max(-inf, 2)") == 2.0);
  CHECK(foldInt("int(inf)") == 2147483647);
  CHECK(foldInt("int(-inf)") == -2147483648LL);
  CHECK(fold("-inf < -3.4e38").b);

  // In a statement it is a float literal: nothing downstream sees a name.
  auto r = checkText("attention a { score = select(k <= q, score, -inf); }");
  INFO(r.rendered);
  REQUIRE(r.program);
  CHECK(r.diags.empty());
  const Expr &select = *r.program->attentions[0].score;
  REQUIRE(select.operands.size() == 3);
  const Expr &negated = *select.operands[2];
  REQUIRE(negated.kind == ExprKind::Unary);
  CHECK(negated.operands[0]->kind == ExprKind::FloatLiteral);
  CHECK(negated.operands[0]->floatValue == std::numeric_limits<double>::infinity());
  CHECK(negated.type == Type::Float);

  // It cannot be redeclared, and a near miss suggests it.
  for (const char *decl :
       {"const inf = 1;", "param inf: float;", "let inf = 2.0;", "input inf: f32[q_len];"}) {
    auto bad = checkText(std::string("attention a { ") + decl + " }");
    INFO(bad.rendered);
    CHECK_FALSE(bad.program);
    CHECK(bad.rendered.find("'inf': it is a built-in name") != std::string::npos);
  }
  auto typo = checkText("attention a { score = score - Inf; }");
  CHECK(typo.rendered.find("did you mean 'inf'?") != std::string::npos);

  // -D takes inf and -inf.
  auto d =
      checkText("attention a { const cap = 1.0; score = min(score, cap); }", {{"cap", "-inf"}});
  INFO(d.rendered);
  REQUIRE(d.program);
  CHECK(d.program->attentions[0].consts[0].folded.f == -std::numeric_limits<double>::infinity());
}

TEST_CASE("sema: division by zero in constants is an error, at run time a warning",
          "[sema][nonfinite]") {
  // Constant contexts: const values, param defaults, route settings, layout sizes.
  for (const char *source :
       {"attention a { const v = 1 / 0; }", "attention a { const v = 7 % (3 - 3); }",
        "attention a { const z = 0; const v = 8 / z; }", "attention a { const v = 1.0 / 0.0; }",
        "attention a { const v = -1 / 0.0; }", "attention a { param p: float = 0.0 / 0.0; }",
        "attention a { route { block = 512 / 0; select = top(1); } }",
        "attention a { route { block = 64; select = threshold(1.0 / (1 - 1)); } }",
        "layout g = grid(x: 4 / 0); attention a over g { }"}) {
    auto r = checkText(source);
    INFO(source << "\n" << r.rendered);
    CHECK_FALSE(r.program);
    REQUIRE_FALSE(r.errors().empty());
    CHECK(r.errors()[0].message.find("by zero in a constant expression") != std::string::npos);
  }
  auto f = checkText("attention a { const v = -1.0 / 0.0; }");
  REQUIRE_FALSE(f.errors().empty());
  CHECK(f.errors()[0].message == "float division by zero in a constant expression (it is -inf)");
  CHECK(f.errors()[0].hint == "write -inf");

  // Run-time expressions keep their defined values (int: 0; float: IEEE) with a warning.
  struct Warned {
    const char *source, *message;
  } warned[] = {
      {"attention a { mask = q / 0 == 0; }", "int division by zero: the result is always 0"},
      {"attention a { mask = q % (2 - 2) == 0; }", "int remainder by zero: the result is always 0"},
      {"attention a { score = select(k <= q, score, -1.0 / 0.0); }",
       "float division by zero: the result is -inf"},
      {"attention a { score = score / 0; }",
       "float division by zero: the result is inf, -inf or NaN"},
      {"attention a { out = out + 0.0 / 0.0; }", "float division by zero: the result is NaN"},
      {"attention a { input t: i32[q_len / 0]; mask = t[q] == 0; }",
       "int division by zero: the result is always 0"},
  };
  for (const Warned &w : warned) {
    auto r = checkText(w.source);
    INFO(w.source << "\n" << r.rendered);
    REQUIRE(r.program);
    REQUIRE(r.diags.size() == 1);
    CHECK(r.diags[0].severity == Severity::Warning);
    CHECK(r.diags[0].message == w.message);
    CHECK(r.rendered.find("warning: ") != std::string::npos);
  }
  // A divisor that is not a constant is not diagnosed.
  auto quiet = checkText("attention a { mask = q / (k - q) == 0; score = score / float(k); }");
  CHECK(quiet.program);
  CHECK(quiet.diags.empty());
}

TEST_CASE("sema: float constants must fit in fp32", "[sema][nonfinite]") {
  // The largest fp32 (3.4028235e38 rounds to it) is fine, and so is underflow to 0.
  CHECK(foldFloat("3.4028235e38") == 3.4028235e38);
  CHECK(foldFloat("-3.4028235e38") == -3.4028235e38);
  CHECK(foldFloat("1e-50") == 1e-50);
  for (const char *source :
       {"attention a { score = score * 1e39; }", "attention a { const big = 3.4028236e38; }",
        "attention a { mask = float(q) < -1e300; }",
        "attention a { route { block = 64; gate = dot(query, key) * 1e200; select = top(1); } }"}) {
    auto r = checkText(source);
    INFO(source << "\n" << r.rendered);
    CHECK_FALSE(r.program);
    REQUIRE_FALSE(r.errors().empty());
    CHECK(r.errors()[0].message.find("does not fit in fp32") != std::string::npos);
  }
  // Folded values too: each literal fits, the product does not.
  for (const char *source : {"attention a { const big = 1e30 * 1e30; }",
                             "attention a { param p: float = -exp(100.0); }"}) {
    auto r = checkText(source);
    INFO(source << "\n" << r.rendered);
    CHECK_FALSE(r.program);
    REQUIRE_FALSE(r.errors().empty());
    CHECK(r.errors()[0].message.find("which does not fit in fp32") != std::string::npos);
  }
  auto d = checkText("attention a { const big = 1.0; score = score * big; }", {{"big", "1e39"}});
  CHECK_FALSE(d.program);
  CHECK(d.rendered.find("-D big=1e39: the value does not fit in fp32") != std::string::npos);
  // Non-finite constants are the same in fp32 and float64: allowed.
  auto ok = checkText("attention a { const n = log(0.0); const m = sqrt(-1.0); const i = -inf;\n"
                      "  score = score + n + i; out = out + m; }");
  INFO(ok.rendered);
  CHECK(ok.program);
  CHECK(ok.diags.empty());
}

TEST_CASE("sema: consts see earlier consts and layout axis sizes", "[sema][fold]") {
  auto r = checkText("layout g = grid(y: 4 * 8, x: 16);\n"
                     "attention a over g { const n = g.y * g.x; const half: float = n / 2;\n"
                     "  mask = q < n; }");
  INFO(r.rendered);
  REQUIRE(r.program);
  CHECK(r.program->layouts[0].axes[0].value == 32);
  const AttentionDecl &a = r.program->attentions[0];
  CHECK(a.consts[0].folded.i == 512);
  CHECK(a.consts[1].folded.type == Type::Float);
  CHECK(a.consts[1].folded.f == 256.0);
}

TEST_CASE("sema: param defaults are folded and converted", "[sema][fold]") {
  auto r = checkText("attention a { const w = 512; param p: float = w * 2; param on: bool = true;\n"
                     "  param n: int; mask = on && q - k < p; }");
  INFO(r.rendered);
  REQUIRE(r.program);
  const AttentionDecl &a = r.program->attentions[0];
  REQUIRE(a.params[0].folded);
  CHECK(a.params[0].folded->type == Type::Float);
  CHECK(a.params[0].folded->f == 1024.0);
  CHECK(a.params[1].folded->b);
  CHECK_FALSE(a.params[2].folded);
}

TEST_CASE("sema: -D overrides replace const values", "[sema][overrides]") {
  auto r = checkText("attention a { const w = 1024; const s: float = 1; const on = true;\n"
                     "  const n = w * 2; mask = on && q - k < n; }",
                     {{"w", "64"}, {"s", "3"}, {"on", "false"}});
  INFO(r.rendered);
  REQUIRE(r.program);
  const AttentionDecl &a = r.program->attentions[0];
  CHECK(a.consts[0].folded.i == 64);
  CHECK(a.consts[1].folded.type == Type::Float);
  CHECK(a.consts[1].folded.f == 3.0);
  CHECK_FALSE(a.consts[2].folded.b);
  CHECK(a.consts[3].folded.i == 128);
  CHECK(a.consts[0].value->kind == ExprKind::IntLiteral);
  CHECK(a.consts[0].value->intValue == 64);
}

TEST_CASE("sema: -D accepts negative and float literals", "[sema][overrides]") {
  auto r = checkText("attention a { const x = 1.0; const y = 2; mask = x > 0.0 && y < 0; }",
                     {{"x", "-2.5e-1"}, {"y", "-3"}});
  INFO(r.rendered);
  REQUIRE(r.program);
  CHECK(r.program->attentions[0].consts[0].folded.f == -0.25);
  CHECK(r.program->attentions[0].consts[1].folded.i == -3);
}

TEST_CASE("sema: lets are usable where everything they use is available", "[sema][context]") {
  auto ok = checkText("attention a { input g: f32[heads]; let gh = sigmoid(g[h]);\n"
                      "  let near = q - k < 8; mask = near; out = out * gh; }");
  INFO(ok.rendered);
  CHECK(ok.program);
  auto bad = checkText("attention a { let s = score * 2; mask = s > 0.0; }");
  REQUIRE(bad.errors().size() == 1);
  CHECK(bad.errors()[0].message ==
        "let 's' uses 'score', which is only available in 'score = ...'");
}

TEST_CASE("sema: a let using another let inherits what it uses", "[sema][context]") {
  auto r = checkText("attention a { let x = k + 1; let y = x * 2; out = out * y; }");
  REQUIRE(r.errors().size() == 1);
  CHECK(r.errors()[0].message == "let 'y' cannot be used in 'out': it uses 'k'");
}

TEST_CASE("sema: route defaults and folding", "[sema][route]") {
  auto r = checkText("attention a { route { block = 256; per = query_block(64); select = top(2); }"
                     " mask = causal; }");
  INFO(r.rendered);
  REQUIRE(r.program);
  const RouteSpec &route = *r.program->attentions[0].route;
  CHECK(route.blockShape == std::vector<int64_t>{256});
  CHECK(route.per == RouteSpec::Granularity::QueryBlock);
  CHECK(route.queryBlock == 64);
  REQUIRE(route.gate);
  CHECK(route.gate->kind == ExprKind::Call);
  CHECK(*route.gate->func == Func::Dot);
  CHECK(route.gate->operands[0]->ref.kind == SymbolRef::RouteQuery);
  CHECK(route.gate->operands[1]->ref.kind == SymbolRef::RouteKey);
  CHECK(route.gate->type == Type::Float);
  CHECK(route.selectArg->kind == ExprKind::IntLiteral);
  CHECK(route.selectArg->intValue == 2);
}

TEST_CASE("sema: route conditions use blk, num_blocks and block_of", "[sema][route]") {
  auto r = checkText("attention a { const bs = 128; route { block = bs; select = threshold(1);\n"
                     "  always = blk == block_of(q) || blk == 0; never = blk >= num_blocks; }"
                     " }");
  INFO(r.rendered);
  REQUIRE(r.program);
  const RouteSpec &route = *r.program->attentions[0].route;
  CHECK(route.blockShape == std::vector<int64_t>{128});
  CHECK(route.selectArg->kind == ExprKind::FloatLiteral);
  CHECK(route.selectArg->floatValue == 1.0);
  const Expr &call = *route.always->operands[0]->operands[1];
  CHECK(*call.func == Func::BlockOf);
  CHECK(route.never->operands[1]->ref.index == static_cast<int>(Builtin::NumBlocks));
}

TEST_CASE("sema: layout coordinates and axis sizes", "[sema]") {
  auto r = checkText("layout v = grid(t: 2, y: 3, x: 4);\n"
                     "attention a over v { mask = q.t == k.x && v.y > 0; }");
  INFO(r.rendered);
  REQUIRE(r.program);
  const Expr &mask = *r.program->attentions[0].mask;
  const Expr &qt = *mask.operands[0]->operands[0];
  CHECK(qt.ref.kind == SymbolRef::Coordinate);
  CHECK(qt.ref.index == 0);
  CHECK(qt.ref.token == Builtin::Query);
  const Expr &kx = *mask.operands[0]->operands[1];
  CHECK(kx.ref.index == 2);
  CHECK(kx.ref.token == Builtin::Key);
  const Expr &vy = *mask.operands[1]->operands[0];
  CHECK(vy.ref.kind == SymbolRef::AxisSize);
  CHECK(vy.ref.index == 1);
}

TEST_CASE("sema: clone copies the whole checked tree", "[ast]") {
  auto r = checkText("attention a { let x = q - k; mask = abs(x) < 4 || causal; }");
  REQUIRE(r.program);
  ExprPtr copy = r.program->attentions[0].mask->clone();
  const Expr &original = *r.program->attentions[0].mask;
  CHECK(copy.get() != &original);
  CHECK(copy->type == Type::Bool);
  CHECK(copy->operands[0]->operands[0]->func == original.operands[0]->operands[0]->func);
  CHECK(copy->operands[0]->operands[0]->operands[0]->ref.kind == SymbolRef::Let);
}

TEST_CASE("sema: Program::find", "[ast]") {
  auto r = checkText("attention a { } attention b { mask = causal; }");
  REQUIRE(r.program);
  CHECK(r.program->find("b") == &r.program->attentions[1]);
  CHECK(r.program->find("c") == nullptr);
  CHECK(r.program->find("") == nullptr);
  auto one = checkText("attention only { }");
  REQUIRE(one.program);
  CHECK(one.program->find("") == &one.program->attentions[0]);
}

TEST_CASE("ast: type names", "[ast]") {
  CHECK(std::string(typeName(Type::Float)) == "float");
  CHECK(std::string(elementTypeName(ElementType::BF16)) == "bf16");
  CHECK(scalarTypeOf(ElementType::I64) == Type::Int);
  CHECK(scalarTypeOf(ElementType::U8) == Type::Bool);
  CHECK(scalarTypeOf(ElementType::F16) == Type::Float);
}

TEST_CASE("sema: closestName suggests plausible typos only", "[sema]") {
  CHECK(closestName("windw", {"window", "sinks"}) == "window");
  CHECK(closestName("xyz", {"window", "sinks"}).empty());
  CHECK(closestName("k", {"q"}).empty());
}

TEST_CASE("sema: a per-token gate may use q, lets and inputs", "[sema][route]") {
  auto r = checkText("attention a { input bias: f32[heads, kv_len]; let own = block_of(q);\n"
                     "  route { block = 64; gate = dot(query, key) + bias[h, blk] - float(own);\n"
                     "          select = top(2); always = blk == own; } mask = causal; }");
  INFO(r.rendered);
  REQUIRE(r.program);
  CHECK(r.program->attentions[0].route->gate->type == Type::Float);
}

TEST_CASE("sema: several errors in one run, each reported once", "[sema]") {
  auto r = checkText("attention a {\n"
                     "  mask = q < windw;\n"
                     "  score = score + causal;\n"
                     "  out = out * k;\n"
                     "}\n");
  auto errors = r.errors();
  REQUIRE(errors.size() == 3);
  CHECK(errors[0].range.begin.line == 2);
  CHECK(errors[1].range.begin.line == 3);
  CHECK(errors[2].range.begin.line == 4);
}

namespace {

/// An attention of `n` lets: `let a0 = FIRST;`, then `let a{i} = STEP` with '@' standing for
/// a{i-1}, one per line (let a{i} is on line i + 2), then LAST with '@' for the last let.
std::string letChain(int n, const std::string &first, const std::string &step,
                     const std::string &last) {
  auto subst = [](std::string text, const std::string &name) {
    for (size_t at; (at = text.find('@')) != std::string::npos;)
      text.replace(at, 1, name);
    return text;
  };
  std::string s = "attention a {\n  let a0 = " + first + ";\n";
  for (int i = 1; i < n; ++i)
    s += "  let a" + std::to_string(i) + " = " + subst(step, "a" + std::to_string(i - 1)) + ";\n";
  return s + "  " + subst(last, "a" + std::to_string(n - 1)) + "\n}\n";
}

} // namespace

TEST_CASE("sema: the depth through lets is limited, with one positioned error per chain",
          "[sema][limits]") {
  static_assert(kMaxDepthThroughLets == 256);
  // a0 = q - k has depth 2 and each `a{i} = a{i-1} + 1` adds one: a{i} has depth i + 2.
  SECTION("the deepest accepted chain") {
    auto r = checkText(letChain(254, "q - k", "@ + 1", "mask = @ >= 0;")); // mask: depth 256
    INFO(r.rendered);
    CHECK(r.program);
  }
  SECTION("one level more is an error at the statement") {
    auto r = checkText(letChain(255, "q - k", "@ + 1", "mask = @ >= 0;"));
    REQUIRE(r.errors().size() == 1);
    CHECK(r.errors()[0].message ==
          "'mask' is nested too deeply through lets (depth 257; the limit is 256)");
    CHECK(r.errors()[0].range.begin.line == 257);
    CHECK(r.errors()[0].range.begin.column == 10);
  }
  SECTION("a long chain: the first let past the limit, and nothing after it") {
    auto r = checkText(letChain(8000, "q - k", "@ + 1", "mask = @ >= 0;"));
    REQUIRE(r.errors().size() == 1);
    CHECK(r.errors()[0].message ==
          "let 'a255' is nested too deeply through lets (depth 257; the limit is 256)");
    CHECK(r.errors()[0].range.begin.line == 257);
    CHECK(r.errors()[0].range.begin.column == 3);
    CHECK_FALSE(r.errors()[0].hint.empty());
  }
  SECTION("score, out and the route are limited too") {
    auto score = checkText(letChain(256, "score", "tanh(@)", "score = @ + 1.0;"));
    REQUIRE(score.errors().size() == 1);
    CHECK(score.errors()[0].message.rfind("'score' is nested too deeply through lets", 0) == 0);
    auto out = checkText(letChain(256, "out", "@ * 0.5", "out = -@;"));
    REQUIRE(out.errors().size() == 1);
    CHECK(out.errors()[0].message.rfind("'out' is nested too deeply through lets", 0) == 0);
    auto never = checkText(
        letChain(256, "blk", "@ + 1", "route { block = 8; select = top(1); never = @ > 3; }"));
    REQUIRE(never.errors().size() == 1);
    CHECK(never.errors()[0].message.rfind("the route's 'never' is nested too deeply", 0) == 0);
  }
  SECTION("the depth is the longest path, not the number of uses") {
    // Each let uses the previous one twice: depth grows by one per let.
    auto r = checkText(letChain(200, "q - k", "@ + @", "mask = @ >= 0;"));
    INFO(r.rendered);
    CHECK(r.program);
  }
}

TEST_CASE("sema: shared lets are checked in linear time", "[sema][limits]") {
  // 60 lets that each use the previous one twice: 2^60 paths through the tree.
  auto start = std::chrono::steady_clock::now();
  auto ints = checkText(letChain(60, "q - k", "@ + @ * @", "mask = @ >= 0;"));
  auto bools = checkText(letChain(60, "q >= k", "@ && (@ || q > 3)", "mask = @;"));
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  CHECK(ints.program);
  CHECK(bools.program);
  CHECK(seconds < 2.0);
}
