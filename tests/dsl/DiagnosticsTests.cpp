//===- DiagnosticsTests.cpp - One test per diagnostic -----------------------===//
//
// Each test feeds a program with one mistake and asserts the exact message, line and
// column of the first error (and the hint where the hint is the point).
//
//===----------------------------------------------------------------------===//
#include "TestUtil.h"

#include <catch2/catch.hpp>

using namespace attnc::dsl;
using attnc::dsl::test::checkText;

namespace {

void expectFirstError(const std::string &source, unsigned line, unsigned column,
                      const std::string &message, const char *hint = nullptr,
                      const std::vector<ConstOverride> &overrides = {}) {
  auto r = checkText(source, overrides);
  INFO(r.rendered);
  CHECK_FALSE(r.program);
  auto errors = r.errors();
  REQUIRE_FALSE(errors.empty());
  CHECK(errors[0].message == message);
  CHECK(errors[0].range.begin.line == line);
  CHECK(errors[0].range.begin.column == column);
  if (hint)
    CHECK(errors[0].hint == hint);
}

} // namespace

#define DIAG_TEST(name, ...)                                                                       \
  TEST_CASE("diagnostic: " name, "[diag]") { expectFirstError(__VA_ARGS__); }

// The clang-style rendering itself.
TEST_CASE("diagnostic: rendering with source line, caret, tildes and hint", "[diag]") {
  auto r = checkText("attention streaming {\n"
                     "  param window: int = 1024;\n"
                     "  mask = causal && q - k < windw;\n"
                     "}\n");
  CHECK(r.rendered == "test.attn:3:28: error: unknown name 'windw'\n"
                      "  mask = causal && q - k < windw;\n"
                      "                           ^~~~~\n"
                      "hint: did you mean 'window'?\n");
}

TEST_CASE("diagnostic: colour codes only when asked", "[diag]") {
  SourceFile file("c.attn", "attention a { mask = x; }");
  DiagnosticEngine diags(&file);
  CHECK_FALSE(parseAndCheck(file, diags));
  std::string plain = diags.render(diags.diagnostics()[0], false);
  std::string color = diags.render(diags.diagnostics()[0], true);
  CHECK(plain.find('\033') == std::string::npos);
  CHECK(color.find("\033[1;31merror: ") != std::string::npos);
}

TEST_CASE("diagnostic: tabs are kept so the caret lines up", "[diag]") {
  auto r = checkText("attention a {\n\tmask = zz;\n}");
  CHECK(r.rendered == "test.attn:2:9: error: unknown name 'zz'\n"
                      "\tmask = zz;\n"
                      "\t       ^~\n");
}

namespace {
/// The source and marker lines of a rendered diagnostic (its second and third lines).
std::pair<std::string, std::string> shownLines(const std::string &rendered) {
  size_t a = rendered.find('\n') + 1, b = rendered.find('\n', a) + 1, c = rendered.find('\n', b);
  return {rendered.substr(a, b - a - 1), rendered.substr(b, c - b)};
}
} // namespace

TEST_CASE("diagnostic: a long line is shown as a window around the caret", "[diag]") {
  // 100 KB of spaces on each side of the error.
  std::string pad(100000, ' ');
  auto r = checkText("attention a {" + pad + "mask = zz;" + pad + "}");
  INFO(r.rendered.substr(0, 400));
  CHECK(r.rendered.size() < 400);
  CHECK(r.rendered.rfind("test.attn:1:100021: error: unknown name 'zz'\n", 0) == 0);
  auto [line, marker] = shownLines(r.rendered);
  CHECK(line.size() == 3 + 90 + 3);
  CHECK(line.substr(0, 3) == "...");
  CHECK(line.substr(line.size() - 3) == "...");
  CHECK(marker == std::string(3 + 40, ' ') + "^~");
  CHECK(line.substr(marker.find('^'), 3) == "zz;");
}

TEST_CASE("diagnostic: a long line's window keeps its start or end when the caret is near",
          "[diag]") {
  std::string pad(500, ' ');
  // Near the start: no leading "...", the line from its first character.
  auto r = checkText("attention a { mask = zz;" + pad + "}");
  auto [line, marker] = shownLines(r.rendered);
  CHECK(line == "attention a { mask = zz;" + std::string(66, ' ') + "...");
  CHECK(marker == std::string(21, ' ') + "^~");
  // Near the end: no trailing "...", the window filled from the end.
  auto r2 = checkText("attention a {" + pad + "mask = zz; }");
  auto [line2, marker2] = shownLines(r2.rendered);
  CHECK(line2 == "..." + std::string(78, ' ') + "mask = zz; }");
  CHECK(marker2 == std::string(3 + 78 + 7, ' ') + "^~");
  // A line of exactly 100 characters is shown whole.
  std::string text = "attention a { mask = zz; }";
  text.insert(text.size() - 1, std::string(100 - text.size(), ' '));
  REQUIRE(text.size() == 100);
  auto r3 = checkText(text);
  CHECK(shownLines(r3.rendered).first == text);
}

TEST_CASE("diagnostic: a caret at the end of a long line stays aligned", "[diag]") {
  auto r = checkText("attention a {" + std::string(300, ' ') + "mask = causal");
  INFO(r.rendered);
  auto [line, marker] = shownLines(r.rendered);
  CHECK(line == "..." + std::string(77, ' ') + "mask = causal");
  CHECK(marker == std::string(line.size(), ' ') + "^");
}

TEST_CASE("diagnostic: multi-byte UTF-8 before the caret counts one column per character",
          "[diag]") {
  auto r = checkText("attention a {\n\t/* h\xc3\xa9llo w\xc3\xb6rld \xe2\x86\x92 */ mask = zz;\n}");
  auto [line, marker] = shownLines(r.rendered);
  CHECK(line == "\t/* h\xc3\xa9llo w\xc3\xb6rld \xe2\x86\x92 */ mask = zz;");
  CHECK(marker == "\t" + std::string(27, ' ') + "^~");
  // In a window too: the cut never splits a character.
  std::string wide;
  for (int i = 0; i < 200; ++i)
    wide += "\xc3\xa9";
  auto r2 = checkText("attention a { /*" + wide + "*/ mask = zz;" + "/*" + wide + "*/ }");
  auto [line2, marker2] = shownLines(r2.rendered);
  CHECK(line2.substr(0, 5) == "...\xc3\xa9");
  CHECK(line2.substr(line2.size() - 5) == "\xc3\xa9...");
  CHECK(marker2 == std::string(3 + 40, ' ') + "^~");
}

TEST_CASE("diagnostic: a range over several lines is underlined to the line end", "[diag]") {
  auto r = checkText("attention a {\n  mask = q +\n  k;\n}");
  CHECK(r.rendered == "test.attn:2:10: error: 'mask' must be a bool expression, not int\n"
                      "  mask = q +\n"
                      "         ^~~\n"
                      "hint: compare it, as in 'x != 0'\n");
}

TEST_CASE("diagnostic: errors without a location name only the file", "[diag]") {
  auto r = checkText("layout g = grid(x: 4);\n");
  CHECK(r.rendered == "test.attn: error: no attention is declared\n"
                      "hint: write: attention NAME { mask = causal; }\n");
}

// Lexical errors.
DIAG_TEST("unexpected character", "attention a { mask = q # k; }", 1, 24,
          "unexpected character '#'")
DIAG_TEST("unterminated block comment", "attention a { }\n/* never closed", 2, 1,
          "unterminated '/*' comment", "close it with '*/'")
DIAG_TEST("invalid number literal", "attention a { mask = q < 12ab; }", 1, 26,
          "invalid number literal '12ab'")
DIAG_TEST("float literal needs digits after the point", "attention a { score = 1.; }", 1, 23,
          "invalid number literal '1.'", "write '1.0'")
DIAG_TEST("float exponent needs digits", "attention a { score = 1e; }", 1, 23,
          "invalid number literal '1e'", "an exponent needs digits, as in '1e-3'")
DIAG_TEST("float literal out of range", "attention a { score = 1e999; }", 1, 23,
          "float literal '1e999' is out of range")
DIAG_TEST("float literal beyond fp32", "attention a { score = score * 1e39; }", 1, 31,
          "float literal 1e+39 does not fit in fp32",
          "float is fp32 on the GPU, whose largest finite value is 3.4028235e38; write inf for "
          "infinity")
DIAG_TEST("folded const beyond fp32", "attention a { const big = 1e30 * 1e30; }", 1, 27,
          "const 'big' is 1.0000000000000001e+60, which does not fit in fp32")
DIAG_TEST("param default beyond fp32", "attention a { param p: float = 1e20 * -1e20; }", 1, 32,
          "the default of param 'p' is -1e+40, which does not fit in fp32")
DIAG_TEST("int division by zero in a constant", "attention a { const n = 1 / 0; }", 1, 25,
          "division by zero in a constant expression",
          "at run time an int division by zero is 0; write 0 if that is meant")
DIAG_TEST("int remainder by zero in a constant",
          "attention a {\n  const n = 4;\n"
          "  const r = 9 % (n - 4);\n}",
          3, 13, "remainder by zero in a constant expression")
DIAG_TEST("float division by zero in a constant", "attention a { const n = 1.0 / 0.0; }", 1, 25,
          "float division by zero in a constant expression (it is inf)", "write inf")
DIAG_TEST("inf is a built-in name", "attention a { let inf = 1.0; }", 1, 15,
          "cannot declare let 'inf': it is a built-in name")
DIAG_TEST("integer literal overflow", "attention a { mask = q < 4294967296; }", 1, 26,
          "integer literal '4294967296' does not fit in int", "the largest int is 2147483647")
DIAG_TEST("2147483648 only when negated", "attention a { mask = q < 2147483648; }", 1, 26,
          "integer literal '2147483648' does not fit in int")
DIAG_TEST("number literal too long", "attention a { mask = q < " + std::string(300, '1') + "; }", 1,
          26, "number literal is too long (more than 256 characters)")
DIAG_TEST("identifier too long", "attention a { mask = " + std::string(300, 'x') + "; }", 1, 22,
          "identifier is too long (more than 256 characters)")

// Syntax errors.
DIAG_TEST("top level expects a declaration", "mask = causal;", 1, 1,
          "expected 'layout' or 'attention', found 'mask'")
DIAG_TEST("missing semicolon points after the expression", "attention a {\n  mask = causal\n}", 2,
          16, "expected ';', found '}'")
DIAG_TEST("expected a name", "attention { }", 1, 11, "expected an attention name, found '{'")
DIAG_TEST("keyword used as a name", "attention a { const mask = 1; }", 1, 21,
          "expected a const name, found 'mask'", "'mask' is a keyword")
DIAG_TEST("layout needs grid", "layout g = tile(x: 4);", 1, 12,
          "expected 'grid' after 'layout g =', found 'tile'")
DIAG_TEST("unknown layout", "layout image = grid(y: 4);\nattention a over imag { }", 2, 18,
          "unknown layout 'imag'", "did you mean 'image'?")
DIAG_TEST("unclosed attention", "attention a { mask = causal;\nattention b { }", 1, 29,
          "expected '}' to close attention 'a'")
DIAG_TEST("bad scalar type", "attention a { param p: i32 = 1; }", 1, 24,
          "expected a type (int, float or bool), found 'i32'")
DIAG_TEST("bad element type", "attention a { input t: int[q_len]; }", 1, 24,
          "expected an element type (i32, i64, f32, f16, bf16 or u8), found 'int'")
DIAG_TEST("param needs a type", "attention a { param p = 1; }", 1, 23,
          "expected ':' and a type after 'param p'")
DIAG_TEST("duplicate mask", "attention a { mask = causal; mask = true; }", 1, 30,
          "duplicate 'mask' statement", "the first one is at line 1")
DIAG_TEST("unknown statement", "attention a { mask = causal; scroe = 1.0; }", 1, 30,
          "expected a statement (const, param, input, let, mask, score, out or route), found "
          "'scroe'",
          "did you mean 'score'?")
DIAG_TEST("duplicate route",
          "attention a { route { block = 4; select = top(1); }\n"
          "  route { block = 4; select = top(1); } }",
          2, 3, "duplicate 'route' statement")
DIAG_TEST("unclosed route", "attention a { route { block = 4; select = top(1);\n mask = causal; }",
          1, 50, "expected '}' to close 'route'")
DIAG_TEST("unknown route setting", "attention a { route { blocks = 4; } }", 1, 23,
          "unknown route setting 'blocks'", "did you mean 'block'?")
DIAG_TEST("duplicate route setting", "attention a { route { block = 4; block = 8; } }", 1, 34,
          "duplicate route setting 'block'")
DIAG_TEST("unknown route unit", "attention a { route { block = 4; per = tokens; } }", 1, 40,
          "unknown route unit 'tokens'", "did you mean 'token'?")
DIAG_TEST("unknown selection", "attention a { route { block = 4; select = topk(2); } }", 1, 43,
          "unknown selection 'topk'", "did you mean 'top'?")
DIAG_TEST("tile needs a layout", "attention a { route { block = tile(x: 4); select = top(1); } }",
          1, 31, "'tile' needs a layout")
DIAG_TEST("tile axis order",
          "layout g = grid(y: 8, x: 8);\n"
          "attention a over g { route { block = tile(x: 4, y: 4); select = top(1); } }",
          2, 43, "tile axis 1 is 'x', but axis 1 of layout 'g' is 'y'", "write tile(y: N, x: N)")
DIAG_TEST("tile with too many axes",
          "layout g = grid(y: 8, x: 8);\n"
          "attention a over g { route { block = tile(y: 4, x: 4, z: 2); select = top(1); } }",
          2, 55, "layout 'g' has only 2 axes")
DIAG_TEST("tile with too few axes",
          "layout g = grid(y: 8, x: 8);\n"
          "attention a over g { route { block = tile(y: 4); select = top(1); } }",
          2, 38, "'tile' needs one size per axis of layout 'g'")
DIAG_TEST("member of an expression", "attention a { mask = (q).y > 0 && (q + 1).y > 0; }", 1, 36,
          "'.' must follow a token (q, k) or a layout name")
DIAG_TEST("call of an expression", "attention a { mask = (q + 1)(2); }", 1, 29,
          "only built-in functions can be called")
DIAG_TEST("index of an expression", "attention a { mask = (q + 1)[2]; }", 1, 29,
          "only input tensors can be indexed")
DIAG_TEST("type keyword as a value", "attention a { score = float; }", 1, 23,
          "'float' is a type; to convert, write float(x)")
DIAG_TEST("expected an expression", "attention a { mask = q < ; }", 1, 26,
          "expected an expression, found ';'")
DIAG_TEST("':' outside an index", "attention a { out = : ; }", 1, 21,
          "expected an expression, found ':'")
DIAG_TEST("nesting too deep", "attention a { mask = " + std::string(300, '-') + "q; }", 1, 277,
          "expression is nested too deeply (the limit is 256 levels)", "split it with 'let'")

// The depth limit at its boundary (docs/language.md, "Limits"): a chain of n terms is n
// levels; an enclosing operator adds one; each parenthesis opens one more.
namespace {
std::string chain(int terms) {
  std::string text = "q";
  for (int i = 1; i < terms; ++i)
    text += " + q";
  return text;
}
/// Either limit: one expression's (the parser's) or the depth counted through lets (Sema's).
bool tooDeep(const std::string &source) {
  auto r = checkText(source);
  for (const Diagnostic &d : r.errors())
    if (d.message == "expression is nested too deeply (the limit is 256 levels)" ||
        d.message.find("is nested too deeply through lets") != std::string::npos)
      return true;
  INFO(r.rendered);
  CHECK(r.program);
  return false;
}
} // namespace

TEST_CASE("diagnostic: depth limit boundaries (255, 256, 257)", "[diag]") {
  // The let itself may hold 256 terms (the parser's limit), but its use counts through it:
  // `s > 0` is one level above s, so 255 terms are the most a comparison can use.
  auto inLet = [](int n) { return "attention a { let s = " + chain(n) + "; mask = s > 0; }"; };
  CHECK_FALSE(tooDeep(inLet(255)));
  CHECK(tooDeep(inLet(256)));
  CHECK(checkText(inLet(256))
            .rendered.find("'mask' is nested too deeply through lets (depth "
                           "257; the limit is 256)") != std::string::npos);
  CHECK(tooDeep(inLet(257)));
  auto compared = [](int n) { return "attention a { mask = 0 < " + chain(n) + "; }"; };
  CHECK_FALSE(tooDeep(compared(255)));
  CHECK(tooDeep(compared(256)));
  auto parens = [](int n) {
    return "attention a { mask = " + std::string(n, '(') + "causal" + std::string(n, ')') + "; }";
  };
  CHECK_FALSE(tooDeep(parens(254)));
  CHECK_FALSE(tooDeep(parens(255)));
  CHECK(tooDeep(parens(256)));
  auto negations = [](int n) {
    return "attention a { mask = " + std::string(n, '!') + "causal; }";
  };
  CHECK_FALSE(tooDeep(negations(255)));
  CHECK(tooDeep(negations(256)));
}

TEST_CASE("diagnostic: name and number length boundaries (256, 257)", "[diag]") {
  CHECK(checkText("attention a { const " + std::string(256, 'x') + " = 1; }").program);
  CHECK(checkText("attention a { const x = " + std::string(256, '1').replace(0, 255, 255, '0') +
                  "; }")
            .program);
  auto longName = checkText("attention a { const " + std::string(257, 'x') + " = 1; }");
  REQUIRE_FALSE(longName.errors().empty());
  CHECK(longName.errors()[0].message == "identifier is too long (more than 256 characters)");
  auto longNumber = checkText("attention a { const x = " + std::string(257, '0') + "; }");
  REQUIRE_FALSE(longNumber.errors().empty());
  CHECK(longNumber.errors()[0].message == "number literal is too long (more than 256 characters)");
}

// Declarations.
DIAG_TEST("no attention", "", 0, 0, "no attention is declared")
DIAG_TEST("duplicate attention", "attention a { }\nattention a { }", 2, 1,
          "redefinition of attention 'a'", "the first one is at line 1")
DIAG_TEST("duplicate layout", "layout g = grid(x: 2);\nlayout g = grid(x: 4);\nattention a { }", 2,
          1, "redefinition of layout 'g'")
DIAG_TEST("too many layout axes", "layout g = grid(a: 2, b: 2, c: 2, d: 2, e: 2);\nattention a { }",
          1, 41, "layout 'g' has 5 axes; at most 4 are supported")
DIAG_TEST("duplicate layout axis", "layout g = grid(x: 2, x: 4);\nattention a { }", 1, 23,
          "layout 'g' has two axes named 'x'")
DIAG_TEST("layout axis must be an int", "layout g = grid(x: 2.0);\nattention a { }", 1, 20,
          "a layout axis size must be an int, not float")
DIAG_TEST("layout axis must be positive", "layout g = grid(x: 4 - 4);\nattention a { }", 1, 20,
          "layout axis 'x' must have a positive size, not 0")
DIAG_TEST("layout too large", "layout g = grid(y: 65536, x: 65536);\nattention a { }", 1, 1,
          "layout 'g' has more than 2147483647 tokens")
DIAG_TEST("layout axis size is not constant", "layout g = grid(x: q_len);\nattention a { }", 1, 20,
          "'q_len' is not a compile-time constant",
          "layout axis sizes are integer literals and arithmetic on them")
DIAG_TEST("declaring a built-in name", "attention a { let q = 1; }", 1, 15,
          "cannot declare let 'q': it is a built-in name")
DIAG_TEST("declaring query or key", "attention a { const key = 1; }", 1, 15,
          "cannot declare const 'key': it is reserved for dot(query, key)")
DIAG_TEST("declaring a function name", "attention a { param exp: float; }", 1, 15,
          "cannot declare param 'exp': it is a built-in function")
DIAG_TEST("declaring a layout name", "layout g = grid(x: 4);\nattention a { const g = 1; }", 2, 15,
          "cannot declare const 'g': it is the name of a layout")
DIAG_TEST("redefinition", "attention a { const w = 1;\n  param w: int; }", 2, 3,
          "redefinition of 'w'", "it was first declared at line 1")
DIAG_TEST("too many params",
          "attention a { param p0: int; param p1: int; param p2: int; param p3: int; "
          "param p4: int; param p5: int; param p6: int; param p7: int; param p8: int; "
          "param p9: int; param p10: int; param p11: int; param p12: int; param p13: int; "
          "param p14: int; param p15: int;\nparam p16: int; }",
          2, 1, "too many params: at most 16 are supported")
DIAG_TEST("too many inputs",
          "attention a { input t0: u8[q_len]; input t1: u8[q_len]; input t2: u8[q_len]; "
          "input t3: u8[q_len]; input t4: u8[q_len]; input t5: u8[q_len]; input t6: u8[q_len]; "
          "input t7: u8[q_len];\ninput t8: u8[q_len]; }",
          2, 1, "too many inputs: at most 8 are supported")
DIAG_TEST("input rank above 4", "attention a { input t: f32[1, 2, 3, 4, 5]; }", 1, 40,
          "input 't' has 5 dimensions; at most 4 are supported")
DIAG_TEST("input dimension must be int", "attention a { input t: f32[2.0]; }", 1, 28,
          "an input dimension must be an int, not float")
DIAG_TEST("input dimension uses a run-time name", "attention a { input t: f32[q]; }", 1, 28,
          "'q' cannot be used in an input dimension")
DIAG_TEST("const type mismatch", "attention a { const n: int = 1.5; }", 1, 30,
          "const 'n' is declared int but its value is float")
DIAG_TEST("const is not constant", "attention a { param p: int = 1; const n = p * 2; }", 1, 43,
          "'p' is not a compile-time constant",
          "constant expressions use literals, consts and layout axis sizes")
DIAG_TEST("param default type mismatch", "attention a { param on: bool = 1; }", 1, 32,
          "param 'on' has type bool but its default is int")
DIAG_TEST("-D names no const", "attention a { }", 0, 0, "-D w: no attention declares 'const w'",
          nullptr, {{"w", "3"}})
DIAG_TEST("-D value is not a literal", "attention a { const w = 1; }", 0, 0,
          "-D w=1+2: the value must be an int, float or bool literal", nullptr, {{"w", "1+2"}})
DIAG_TEST("-D value has the wrong type", "attention a { const w = 1; }", 0, 0,
          "-D w=0.5: const 'w' has type int, the value has type float", nullptr, {{"w", "0.5"}})

// Statement types.
DIAG_TEST("mask must be bool", "attention a { mask = q - k; }", 1, 22,
          "'mask' must be a bool expression, not int", "compare it, as in 'x != 0'")
DIAG_TEST("score must be float", "attention a { score = q > k; }", 1, 23,
          "'score' must be a float expression, not bool")

// Routes.
DIAG_TEST("route needs block", "attention a { route { select = top(1); } }", 1, 15,
          "the route needs a 'block' setting")
DIAG_TEST("route needs select", "attention a { route { block = 64; } }", 1, 15,
          "the route needs a 'select' setting")
DIAG_TEST("route block must be an int", "attention a { route { block = 1.5; select = top(1); } }",
          1, 31, "the route block size must be an int, not float")
DIAG_TEST("route block must be positive", "attention a { route { block = -4; select = top(1); } }",
          1, 31, "the route block size must be positive, not -4")
DIAG_TEST("route block must be constant",
          "attention a { param p: int = 4; route { block = p; select = top(1); } }", 1, 49,
          "'p' is not a compile-time constant")
DIAG_TEST("top needs an int", "attention a { route { block = 4; select = top(1.5); } }", 1, 47,
          "top(n) needs an int, not float")
DIAG_TEST("top needs n >= 1", "attention a { route { block = 4; select = top(0); } }", 1, 47,
          "top(n) needs n >= 1, not 0")
DIAG_TEST("threshold needs a float",
          "attention a { route { block = 4; select = threshold(true); } }", 1, 53,
          "threshold(m) needs a float, not bool")
DIAG_TEST("threshold range", "attention a { route { block = 4; select = threshold(1.5); } }", 1, 53,
          "threshold(m) needs 0 < m <= 1, not 1.5")
DIAG_TEST("route condition must be bool",
          "attention a { route { block = 4; select = top(1); never = blk; } }", 1, 59,
          "the route's 'never' must be a bool expression, not int")
DIAG_TEST("gate must be float",
          "attention a { route { block = 4; select = top(1); gate = blk > 0; } }", 1, 58,
          "the route 'gate' must be a float expression, not bool")

// Contexts.
DIAG_TEST("score outside score", "attention a { mask = score > 0.0; }", 1, 22,
          "'score' is only available in 'score = ...'")
DIAG_TEST("out outside out", "attention a { score = out; }", 1, 23,
          "'out' is only available in 'out = ...'")
DIAG_TEST("slice outside out", "attention a { input t: f32[d]; score = t[:]; }", 1, 42,
          "':' is only available in 'out = ...'")
DIAG_TEST("key in out", "attention a { out = out * k; }", 1, 27, "'k' is not available in 'out'",
          "'out' is applied once per output element, after the sum over keys, so it cannot "
          "depend on the key")
DIAG_TEST("causal in a route condition",
          "attention a { route { block = 4; select = top(1); always = causal; } }", 1, 60,
          "'causal' is not available in the route's 'always'",
          "routing works on KV blocks: use 'blk' and block_of(...)")
DIAG_TEST("query in a pooled gate",
          "attention a { route { block = 4; per = head; select = top(1); gate = float(q); } }", 1,
          76, "'q' is not available in the route 'gate'")
DIAG_TEST("blk outside route", "attention a { mask = blk == 0; }", 1, 22,
          "'blk' is only available inside 'route'")
DIAG_TEST("block_of outside route", "attention a { mask = block_of(q) == 0; }", 1, 22,
          "'block_of' is only available inside 'route'")
DIAG_TEST("dot outside the gate",
          "attention a { route { block = 4; select = top(1); always = dot(query, key) > 0.0; } }",
          1, 60, "'dot' is only available in the route 'gate'")
DIAG_TEST("let used out of context", "attention a { let near = q - k; out = out * near; }", 1, 45,
          "let 'near' cannot be used in 'out': it uses 'k'")
DIAG_TEST("let in a constant", "attention a { let x = 1; const y = x; }", 1, 36,
          "let 'x' is not a compile-time constant")

// Names.
DIAG_TEST("unknown name", "attention a { param window: int = 8; mask = q - k < windw; }", 1, 53,
          "unknown name 'windw'", "did you mean 'window'?")
DIAG_TEST("use before declaration", "attention a { mask = q < n;\n  const n = 4; }", 1, 26,
          "'n' is used before its declaration", "it is declared at line 2")
DIAG_TEST("input without index", "attention a { input t: u8[q_len]; mask = t; }", 1, 42,
          "input 't' must be indexed", "read one element, as in t[i0]")
DIAG_TEST("query outside dot", "attention a { mask = query > 0; }", 1, 22,
          "'query' is only available as an argument of dot()")
DIAG_TEST("function used as a value", "attention a { score = exp; }", 1, 23, "'exp' is a function",
          "call it: exp(...)")
DIAG_TEST("layout used as a value", "layout g = grid(x: 4);\nattention a over g { mask = g > 0; }",
          2, 29, "'g' is a layout, not a value", "use one of its axis sizes, as in g.x")

// Operators.
DIAG_TEST("negating a bool", "attention a { mask = -causal; }", 1, 22,
          "operator '-' needs an int or float operand, not bool")
DIAG_TEST("not on an int", "attention a { mask = !q; }", 1, 22,
          "operator '!' needs a bool operand, not int")
DIAG_TEST("bitwise not on a float", "attention a { score = ~score; }", 1, 23,
          "operator '~' needs an int operand, not float")
DIAG_TEST("arithmetic on bool", "attention a { mask = causal + 1 > 0; }", 1, 22,
          "invalid operands to '+': bool and int",
          "bool does not convert to a number; use select(cond, 1, 0)")
DIAG_TEST("remainder of floats", "attention a { score = score % 2; }", 1, 23,
          "operator '%' needs int operands, not float and int", "convert with int(...)")
DIAG_TEST("bitwise and on bools", "attention a { mask = causal & true; }", 1, 22,
          "operator '&' needs int operands, not bool and bool", "for bools use '&&'")
DIAG_TEST("ordering bools", "attention a { mask = causal < true; }", 1, 22,
          "operator '<' cannot compare bool and bool")
DIAG_TEST("equality of bool and int", "attention a { mask = causal == 1; }", 1, 22,
          "operator '==' cannot compare bool and int")
DIAG_TEST("logical and on ints", "attention a { mask = q && k; }", 1, 22,
          "operator '&&' needs bool operands, not int and int")

// Calls and indexing.
DIAG_TEST("unknown function", "attention a { score = sigmod(score); }", 1, 23,
          "unknown function 'sigmod'", "did you mean 'sigmoid'?")
DIAG_TEST("wrong argument count", "attention a { mask = clamp(q, 0) > 1; }", 1, 22,
          "'clamp' takes 3 arguments, but 2 were given")
DIAG_TEST("wrong argument type", "attention a { mask = bit_length(1.5) > 1; }", 1, 33,
          "argument 1 of 'bit_length' must be int, not float")
DIAG_TEST("select branches differ", "attention a { mask = select(causal, true, 1); }", 1, 22,
          "the branches of 'select' have different types: bool and int")
DIAG_TEST("dot arguments",
          "attention a { route { block = 4; select = top(1); gate = dot(q, k); } }", 1, 58,
          "dot() takes exactly the arguments 'query' and 'key'")
DIAG_TEST("indexing a non-input", "attention a { const t = 1; mask = t[q] > 0; }", 1, 35,
          "'t' is not an input tensor; only inputs can be indexed")
DIAG_TEST("unknown input", "attention a { input doc: i32[q_len]; mask = dc[q] == 0; }", 1, 45,
          "unknown input 'dc'", "did you mean 'doc'?")
DIAG_TEST("wrong index count", "attention a { input doc: i32[batch, q_len]; mask = doc[q] == 0; }",
          1, 52, "input 'doc' has 2 dimensions, but 1 index was given")
DIAG_TEST("index must be int", "attention a { input doc: i32[q_len]; mask = doc[1.5] == 0; }", 1,
          49, "index 1 of 'doc' must be an int, not float", "convert with int(...)")

// Layout members.
DIAG_TEST("unknown axis", "layout g = grid(y: 4, x: 4);\nattention a over g { mask = q.z > 0; }", 2,
          29, "layout 'g' has no axis 'z'", "its axes are y, x")
DIAG_TEST("coordinates need a layout", "attention a { mask = q.y > 0; }", 1, 22,
          "'q.y' needs a layout", "declare the attention with 'over LAYOUT'")
DIAG_TEST(
    "another attention's layout",
    "layout g = grid(x: 4);\nlayout h2 = grid(x: 8);\nattention a over g { mask = h2.x > 0; }", 3,
    29, "layout 'h2' is not the layout of this attention", "this attention is over 'g'")
DIAG_TEST("member of a non-layout", "attention a { const w = 2; mask = w.x > 0; }", 1, 35,
          "'w.x': only q, k and the layout have axes")

TEST_CASE("diagnostic: file too large", "[diag]") {
  SourceFile file("big.attn", std::string((1u << 20) + 1, ' '));
  DiagnosticEngine diags(&file);
  CHECK_FALSE(parseAndCheck(file, diags));
  REQUIRE(diags.diagnostics().size() == 1);
  CHECK(diags.diagnostics()[0].message == "file is too large (more than 1 MiB)");
}

DIAG_TEST("out must be float", "attention a { out = out > 0.0; }", 1, 21,
          "'out' must be a float expression, not bool")
