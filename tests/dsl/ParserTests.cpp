//===- ParserTests.cpp - Syntax of the attnc language -----------------------===//
#include "TestUtil.h"

#include <catch2/catch.hpp>

using namespace attnc::dsl;
using attnc::dsl::test::checkText;

namespace {

/// Parenthesised rendering of an expression tree, to test precedence and associativity.
std::string show(const Expr &e) {
  static const char *binary[] = {"+", "-", "*",  "/", "%",  "<<", ">>", "&",  "|",
                                 "^", "<", "<=", ">", ">=", "==", "!=", "&&", "||"};
  static const char *unary[] = {"-", "!", "~"};
  switch (e.kind) {
  case ExprKind::IntLiteral:
    return std::to_string(e.intValue);
  case ExprKind::FloatLiteral:
    return std::to_string(e.floatValue);
  case ExprKind::BoolLiteral:
    return e.boolValue ? "true" : "false";
  case ExprKind::Name:
    return e.name;
  case ExprKind::Slice:
    return ":";
  case ExprKind::Unary:
    return std::string("(") + unary[static_cast<int>(e.unaryOp)] + show(*e.operands[0]) + ")";
  case ExprKind::Binary:
    return "(" + show(*e.operands[0]) + " " + binary[static_cast<int>(e.binaryOp)] + " " +
           show(*e.operands[1]) + ")";
  case ExprKind::Member:
    return show(*e.operands[0]) + "." + e.name;
  case ExprKind::Call:
  case ExprKind::Index: {
    std::string s = e.name + (e.kind == ExprKind::Call ? "(" : "[");
    for (size_t i = 0; i < e.operands.size(); ++i)
      s += (i ? ", " : "") + show(*e.operands[i]);
    return s + (e.kind == ExprKind::Call ? ")" : "]");
  }
  }
  return "?";
}

/// The mask of a one-attention program, shown; the program must check.
std::string maskOf(const std::string &expr, const std::string &decls = "") {
  auto r = checkText("attention a { " + decls + " mask = " + expr + "; }");
  INFO(r.rendered);
  REQUIRE(r.program);
  return show(*r.program->attentions[0].mask);
}

} // namespace

TEST_CASE("parser: precedence from || down to unary", "[parser]") {
  CHECK(maskOf("q < k || q > k && k == 0") == "((q < k) || ((q > k) && (k == 0)))");
  CHECK(maskOf("q + k * 2 - 1 > 3") == "(((q + (k * 2)) - 1) > 3)");
  CHECK(maskOf("-q % 3 == 0") == "(((-q) % 3) == 0)");
  CHECK(maskOf("!(q < k)") == "(!(q < k))");
}

TEST_CASE("parser: bitwise operators bind tighter than comparisons", "[parser]") {
  CHECK(maskOf("q & 1 == 0") == "((q & 1) == 0)");
  CHECK(maskOf("q | k ^ 3 & 4 != 0") == "((q | (k ^ (3 & 4))) != 0)");
  CHECK(maskOf("q << 1 + 2 > k") == "((q << (1 + 2)) > k)");
}

TEST_CASE("parser: binary operators are left-associative", "[parser]") {
  CHECK(maskOf("q - k - 1 < 10 / 2 / 3") == "(((q - k) - 1) < ((10 / 2) / 3))");
}

TEST_CASE("parser: calls, indexing, members and the ':' index", "[parser]") {
  auto r = checkText("layout g = grid(y: 4, x: 8);\n"
                     "attention a over g { input t: f32[batch, heads, q_len, d];\n"
                     "  mask = max(q.y, k.x) < g.x; out = out * t[b, h, q, :]; }");
  INFO(r.rendered);
  REQUIRE(r.program);
  const AttentionDecl &a = r.program->attentions[0];
  CHECK(show(*a.mask) == "(max(q.y, k.x) < g.x)");
  CHECK(show(*a.out) == "(out * t[b, h, q, :])");
  CHECK(a.out->operands[1]->operands[3]->kind == ExprKind::Slice);
}

TEST_CASE("parser: declarations land in the AST", "[parser]") {
  auto r = checkText("layout vid = grid(t: 2, y: 3, x: 4,);\n"
                     "attention a over vid {\n"
                     "  const r: float = 2;\n"
                     "  param w: int = 16;\n"
                     "  param on: bool;\n"
                     "  input doc: i64[batch, kv_len];\n"
                     "  let near = q - k < w;\n"
                     "  mask = near && on;\n"
                     "}\n");
  INFO(r.rendered);
  REQUIRE(r.program);
  REQUIRE(r.program->layouts.size() == 1);
  const LayoutDecl &l = r.program->layouts[0];
  REQUIRE(l.axes.size() == 3);
  CHECK(l.axes[2].name == "x");
  CHECK(l.axes[2].value == 4);
  const AttentionDecl &a = r.program->attentions[0];
  CHECK(a.layoutName == "vid");
  CHECK(a.layout == 0);
  REQUIRE(a.consts.size() == 1);
  CHECK(a.consts[0].declaredType == Type::Float);
  REQUIRE(a.params.size() == 2);
  CHECK(a.params[0].type == Type::Int);
  CHECK_FALSE(a.params[1].defaultValue);
  REQUIRE(a.inputs.size() == 1);
  CHECK(a.inputs[0].elementType == ElementType::I64);
  CHECK(a.inputs[0].dims.size() == 2);
  REQUIRE(a.lets.size() == 1);
  CHECK(a.lets[0].name == "near");
  CHECK_FALSE(a.score);
  CHECK_FALSE(a.out);
  CHECK_FALSE(a.route);
  CHECK(a.range.begin.line == 2);
  CHECK(a.range.end.line == 9);
}

TEST_CASE("parser: route settings", "[parser]") {
  auto r = checkText("layout g = grid(y: 64, x: 64);\n"
                     "attention a over g { route { block = tile(y: 8, x: 16); per = head;\n"
                     "  select = threshold(0.5); never = blk > num_blocks - 2; } }");
  INFO(r.rendered);
  REQUIRE(r.program);
  const RouteSpec &route = *r.program->attentions[0].route;
  CHECK_FALSE(route.blockSize);
  CHECK(route.tileSizes.size() == 2);
  CHECK(route.blockShape == std::vector<int64_t>{8, 16});
  CHECK(route.per == RouteSpec::Granularity::Head);
  CHECK(route.select == RouteSpec::Selection::Threshold);
  REQUIRE(route.selectArg);
  CHECK(route.selectArg->kind == ExprKind::FloatLiteral);
  CHECK(route.selectArg->floatValue == 0.5);
  CHECK_FALSE(route.always);
  CHECK(route.never);
}

TEST_CASE("parser: -2147483648 is one literal", "[parser]") {
  auto r = checkText("attention a { const m = -2147483648; mask = q > m; }");
  INFO(r.rendered);
  REQUIRE(r.program);
  const Expr &value = *r.program->attentions[0].consts[0].value;
  CHECK(value.kind == ExprKind::IntLiteral);
  CHECK(value.intValue == -2147483648LL);
}

TEST_CASE("parser: several errors are reported, recovering at ';' and '}'", "[parser]") {
  auto r = checkText("attention a {\n"
                     "  const x = 1 +;\n"
                     "  param p: int = ;\n"
                     "  mask = q < ;\n"
                     "}\n"
                     "attention b { mask = ) ; }\n");
  CHECK_FALSE(r.program);
  auto errors = r.errors();
  REQUIRE(errors.size() == 4);
  CHECK(errors[0].range.begin.line == 2);
  CHECK(errors[1].range.begin.line == 3);
  CHECK(errors[2].range.begin.line == 4);
  CHECK(errors[3].range.begin.line == 6);
}

TEST_CASE("parser: deep nesting is an error, not a crash", "[parser]") {
  std::string deep(5000, '(');
  auto r = checkText("attention a { mask = " + deep + "q; }");
  CHECK_FALSE(r.program);
  REQUIRE_FALSE(r.errors().empty());
  CHECK(r.errors()[0].message == "expression is nested too deeply (the limit is 256 levels)");
}

TEST_CASE("parser: long operator chains are bounded like nesting", "[parser]") {
  std::string chain = "q";
  for (int i = 0; i < 300; ++i)
    chain += " + 1";
  auto r = checkText("attention a { mask = " + chain + " > k; }");
  CHECK_FALSE(r.program);
  REQUIRE_FALSE(r.errors().empty());
  CHECK(r.errors()[0].message == "expression is nested too deeply (the limit is 256 levels)");
  std::string shortChain = "q";
  for (int i = 0; i < 200; ++i)
    shortChain += " + 1";
  CHECK(checkText("attention a { mask = " + shortChain + " > k; }").program);
}

TEST_CASE("parser: the error limit bounds the output", "[parser]") {
  std::string garbage;
  for (int i = 0; i < 500; ++i)
    garbage += "@ ";
  auto r = checkText(garbage);
  CHECK_FALSE(r.program);
  CHECK(r.diags.size() == 51);
  CHECK(r.diags.back().message == "too many errors emitted, stopping now");
}
