//===- IntSemanticsTests.cpp - Int arithmetic is the documented one ---------===//
//
// The edge cases of docs/language.md ("Exact int semantics", int(), abs, bit_length),
// written out as values: int_semantics.cuh (which the checker, the CPU reference, route
// planning and the prelude share) must give them, and so must the checker's constant
// folding and the generated hooks run on the host (HookHarness), whose + - * / % << >>
// are lowered to arith operations, not calls of int_semantics.cuh.
//
//===----------------------------------------------------------------------===//
#include "HookHarness.h"

#include "attnc/dsl/IntSemantics.h"
#include "attnc/dsl/Sema.h"

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <iterator>
#include <limits>
#include <map>
#include <sstream>

using namespace attnc;
using namespace attnc::test;

namespace {

constexpr int32_t kMin = std::numeric_limits<int32_t>::min();
constexpr int32_t kMax = std::numeric_limits<int32_t>::max();

struct BinaryCase {
  dsl::BinaryOp op;
  const char *spelling;
  int32_t x, y, want;
};

const BinaryCase kBinary[] = {
    // + - * wrap modulo 2^32.
    {dsl::BinaryOp::Add, "+", kMax, 1, kMin},
    {dsl::BinaryOp::Add, "+", kMin, -1, kMax},
    {dsl::BinaryOp::Sub, "-", kMin, 1, kMax},
    {dsl::BinaryOp::Sub, "-", 0, kMin, kMin},
    {dsl::BinaryOp::Mul, "*", 65536, 65536, 0},
    {dsl::BinaryOp::Mul, "*", kMax, 2, -2},
    {dsl::BinaryOp::Mul, "*", kMin, -1, kMin},
    {dsl::BinaryOp::Mul, "*", 46341, 46341, -2147479015},
    // / truncates toward zero; x / 0 = 0; INT_MIN / -1 = INT_MIN.
    {dsl::BinaryOp::Div, "/", 7, 2, 3},
    {dsl::BinaryOp::Div, "/", -7, 2, -3},
    {dsl::BinaryOp::Div, "/", 7, -2, -3},
    {dsl::BinaryOp::Div, "/", -7, -2, 3},
    {dsl::BinaryOp::Div, "/", 5, 0, 0},
    {dsl::BinaryOp::Div, "/", kMin, 0, 0},
    {dsl::BinaryOp::Div, "/", kMin, -1, kMin},
    {dsl::BinaryOp::Div, "/", kMax, -1, -kMax},
    {dsl::BinaryOp::Div, "/", kMin, 2, -1073741824},
    {dsl::BinaryOp::Div, "/", kMin, kMin, 1},
    {dsl::BinaryOp::Div, "/", kMax, kMin, 0},
    // % has the sign of the dividend; x % 0 = 0; x % -1 = 0.
    {dsl::BinaryOp::Rem, "%", 7, 2, 1},
    {dsl::BinaryOp::Rem, "%", -7, 2, -1},
    {dsl::BinaryOp::Rem, "%", 7, -2, 1},
    {dsl::BinaryOp::Rem, "%", -7, -2, -1},
    {dsl::BinaryOp::Rem, "%", 5, 0, 0},
    {dsl::BinaryOp::Rem, "%", kMin, -1, 0},
    {dsl::BinaryOp::Rem, "%", 7, -1, 0},
    {dsl::BinaryOp::Rem, "%", kMin, kMax, -1},
    {dsl::BinaryOp::Rem, "%", kMax, kMin, kMax},
    // Shift counts are taken & 31; >> fills with the sign.
    {dsl::BinaryOp::Shl, "<<", 1, 31, kMin},
    {dsl::BinaryOp::Shl, "<<", 1, 32, 1},
    {dsl::BinaryOp::Shl, "<<", 1, 33, 2},
    {dsl::BinaryOp::Shl, "<<", 3, -1, kMin},
    {dsl::BinaryOp::Shl, "<<", kMax, 1, -2},
    {dsl::BinaryOp::Shl, "<<", 5, 64, 5},
    {dsl::BinaryOp::Shr, ">>", kMin, 31, -1},
    {dsl::BinaryOp::Shr, ">>", kMin, 32, kMin},
    {dsl::BinaryOp::Shr, ">>", -1, 100, -1},
    {dsl::BinaryOp::Shr, ">>", -8, 1, -4},
    {dsl::BinaryOp::Shr, ">>", -7, 1, -4},
    {dsl::BinaryOp::Shr, ">>", kMax, 31, 0},
    {dsl::BinaryOp::Shr, ">>", 16, 36, 1},
    {dsl::BinaryOp::Shr, ">>", 16, -28, 1},
    {dsl::BinaryOp::BitAnd, "&", -1, kMin, kMin},
    {dsl::BinaryOp::BitOr, "|", kMin, 1, kMin + 1},
    {dsl::BinaryOp::BitXor, "^", -1, kMax, kMin},
};

/// A unary form, written as DSL text around `x`, with its int_semantics.cuh function.
struct UnaryCase {
  const char *form; ///< "%" stands for the operand
  int32_t (*host)(int32_t);
  int32_t x, want;
};

int32_t neg(int32_t x) { return dsl::semantics::wrapNeg(x); }
int32_t bitNot(int32_t x) { return ~x; }

const UnaryCase kUnary[] = {
    {"-%", neg, kMin, kMin},
    {"-%", neg, kMax, -kMax},
    {"~%", bitNot, kMax, kMin},
    {"abs(%)", dsl::semantics::intAbs, kMin, kMin},
    {"abs(%)", dsl::semantics::intAbs, -5, 5},
    {"abs(%)", dsl::semantics::intAbs, kMax, kMax},
    {"bit_length(%)", dsl::semantics::bitLength, 0, 0},
    {"bit_length(%)", dsl::semantics::bitLength, 1, 1},
    {"bit_length(%)", dsl::semantics::bitLength, 3, 2},
    {"bit_length(%)", dsl::semantics::bitLength, -1, 1},
    {"bit_length(%)", dsl::semantics::bitLength, -4, 3},
    {"bit_length(%)", dsl::semantics::bitLength, kMax, 31},
    {"bit_length(%)", dsl::semantics::bitLength, kMin, 32},
};

struct ToIntCase {
  double x;
  int32_t want;
};

const ToIntCase kToInt[] = {
    {2.7, 2},
    {-2.7, -2},
    {3e9, kMax},
    {-3e9, kMin},
    {2147483520.0, 2147483520}, // the largest fp32 below 2^31
    {-2147483648.0, kMin},
    {std::numeric_limits<double>::infinity(), kMax},
    {-std::numeric_limits<double>::infinity(), kMin},
    {std::numeric_limits<double>::quiet_NaN(), 0},
};

/// An Int as DSL text: INT_MIN has no literal (2147483648 does not fit).
std::string literal(int32_t v) {
  if (v == kMin)
    return "(-2147483647 - 1)";
  return v < 0 ? "(" + std::to_string(v) + ")" : std::to_string(v);
}

std::string fill(const char *form, const std::string &x) {
  std::string s = form;
  return s.replace(s.find('%'), 1, x);
}

/// Folds `const v = <expr>;` with the checker; nothing when the checker rejects it.
std::optional<dsl::ConstValue> fold(const std::string &expr, std::string &diagnostics) {
  std::string text = "attention t {\n  const v = " + expr + ";\n  mask = true;\n}\n";
  dsl::SourceFile file("fold.attn", text);
  dsl::DiagnosticEngine diags(&file);
  std::unique_ptr<dsl::Program> program = dsl::parseAndCheck(file, diags);
  std::ostringstream os;
  diags.print(os);
  diagnostics = os.str();
  if (!program)
    return std::nullopt;
  return program->attentions.at(0).consts.at(0).folded;
}

int paramSlot(const compiler::GeneratedHooks &hooks, const std::string &name) {
  for (const compiler::ParamSlot &p : hooks.params)
    if (p.name == name)
      return p.slot;
  FAIL("no param " << name);
  return -1;
}

} // namespace

TEST_CASE("int_semantics.cuh gives the documented values", "[int-semantics]") {
  for (const BinaryCase &c : kBinary) {
    INFO(c.x << " " << c.spelling << " " << c.y);
    std::optional<int32_t> got = dsl::semantics::intArithmetic(c.op, c.x, c.y);
    REQUIRE(got);
    CHECK(*got == c.want);
  }
  for (const UnaryCase &c : kUnary) {
    INFO(fill(c.form, std::to_string(c.x)));
    CHECK(c.host(c.x) == c.want);
  }
  for (const ToIntCase &c : kToInt) {
    INFO("int(" << c.x << ")");
    CHECK(dsl::semantics::toIntSaturating(c.x) == c.want);
    CHECK(attnc_f2i(static_cast<float>(c.x)) == c.want);
  }
  CHECK(dsl::semantics::intMin(kMin, kMax) == kMin);
  CHECK(dsl::semantics::intMax(kMin, kMax) == kMax);
}

TEST_CASE("constant folding gives the documented values", "[int-semantics]") {
  std::string diagnostics;
  for (const BinaryCase &c : kBinary) {
    std::string expr = literal(c.x) + " " + c.spelling + " " + literal(c.y);
    std::optional<dsl::ConstValue> v = fold(expr, diagnostics);
    INFO(expr << "\n" << diagnostics);
    if (c.y == 0 && (c.op == dsl::BinaryOp::Div || c.op == dsl::BinaryOp::Rem)) {
      // In a constant expression a zero divisor is an error (docs/language.md).
      CHECK_FALSE(v);
      CHECK(diagnostics.find("by zero in a constant expression") != std::string::npos);
      continue;
    }
    REQUIRE(v);
    CHECK(v->type == dsl::Type::Int);
    CHECK(v->i == c.want);
  }
  for (const UnaryCase &c : kUnary) {
    std::string expr = fill(c.form, literal(c.x));
    std::optional<dsl::ConstValue> v = fold(expr, diagnostics);
    INFO(expr << "\n" << diagnostics);
    REQUIRE(v);
    CHECK(v->i == c.want);
  }
  for (const ToIntCase &c : kToInt) {
    std::string arg = std::isnan(c.x)   ? "inf - inf"
                      : std::isinf(c.x) ? (c.x < 0 ? "-inf" : "inf")
                                        : std::to_string(c.x);
    std::optional<dsl::ConstValue> v = fold("int(" + arg + ")", diagnostics);
    INFO("int(" << arg << ")\n" << diagnostics);
    REQUIRE(v);
    CHECK(v->i == c.want);
  }
}

TEST_CASE("generated code gives the documented values", "[int-semantics]") {
  // One program per operation: mask = (FORM) == r, with x, y, f and r params, so that
  // nothing is folded and each case is one host call of the generated mask.
  std::vector<std::string> forms;
  std::map<std::string, size_t> formIndex;
  auto program = [&](const std::string &form) {
    auto [it, fresh] = formIndex.emplace(form, forms.size());
    if (fresh)
      forms.push_back(form);
    return it->second;
  };
  std::vector<size_t> binaryProgram, unaryProgram;
  for (const BinaryCase &c : kBinary)
    binaryProgram.push_back(program(std::string("x ") + c.spelling + " y"));
  for (const UnaryCase &c : kUnary)
    unaryProgram.push_back(program(fill(c.form, "x")));
  const size_t toIntProgram = program("int(f)");
  std::vector<CompiledProgram> programs;
  std::vector<const compiler::GeneratedHooks *> hooks;
  for (const std::string &form : forms)
    programs.push_back(compileSource(form, "attention t {\n  param x: int = 0;\n"
                                           "  param y: int = 0;\n  param r: int = 0;\n"
                                           "  param f: float = 0.0;\n  mask = (" +
                                               form + ") == r;\n}\n"));
  for (const CompiledProgram &p : programs)
    hooks.push_back(&p.hooks);
  HostHooks host;
  std::string error;
  const bool built = host.build(hooks, error);
  INFO(error);
  REQUIRE(built);

  // Program i on (x, y, f): true exactly when the result is `want`.
  auto check = [&](size_t i, int32_t x, int32_t y, float f, int32_t want) {
    const compiler::GeneratedHooks &h = programs[i].hooks;
    AttncArgs a = makeArgs(h, 1, 1, 1, 16, 16);
    a.iparam[paramSlot(h, "x")] = x;
    a.iparam[paramSlot(h, "y")] = y;
    a.fparam[paramSlot(h, "f")] = f;
    a.iparam[paramSlot(h, "r")] = want;
    INFO(forms[i] << " with x = " << x << ", y = " << y << ", f = " << f << ": want " << want);
    CHECK(host[i].mask(a, 0, 0, 0, 0));
    a.iparam[paramSlot(h, "r")] = dsl::semantics::wrapAdd(want, 1);
    CHECK_FALSE(host[i].mask(a, 0, 0, 0, 0));
  };
  for (size_t n = 0; n < std::size(kBinary); ++n)
    check(binaryProgram[n], kBinary[n].x, kBinary[n].y, 0.0f, kBinary[n].want);
  for (size_t n = 0; n < std::size(kUnary); ++n)
    check(unaryProgram[n], kUnary[n].x, 0, 0.0f, kUnary[n].want);
  for (const ToIntCase &c : kToInt)
    check(toIntProgram, 0, 0, static_cast<float>(c.x), c.want);
}

TEST_CASE("the prelude embeds int_semantics.cuh verbatim", "[int-semantics]") {
  // Device code compiles the very text the host includes.
  CompiledProgram p = compileSource("causal.attn", "attention t { mask = causal; }\n");
  std::string core =
      readFile(std::string(ATTNC_SOURCE_DIR) + "/dsl/include/attnc/dsl/int_semantics.cuh");
  REQUIRE_FALSE(core.empty());
  CHECK(hookPreludeText(p.hooks.source).find(core) != std::string::npos);
}
