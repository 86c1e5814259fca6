//===- LexerTests.cpp - Tokens of the attnc language ------------------------===//
#include "attnc/dsl/Lexer.h"

#include <catch2/catch.hpp>

using namespace attnc::dsl;

namespace {

std::vector<Token> lexText(const std::string &text, DiagnosticEngine &diags,
                           std::unique_ptr<SourceFile> &keep) {
  keep = std::make_unique<SourceFile>("lex.attn", text);
  diags.setFile(keep.get());
  return lex(*keep, diags);
}

std::vector<TokenKind> kindsOf(const std::vector<Token> &tokens) {
  std::vector<TokenKind> kinds;
  for (const Token &t : tokens)
    kinds.push_back(t.kind);
  return kinds;
}

} // namespace

TEST_CASE("lexer: keywords, identifiers and punctuation", "[lexer]") {
  DiagnosticEngine diags;
  std::unique_ptr<SourceFile> file;
  auto tokens = lexText("attention a over img { mask = q.y <= k_2 && !x; }", diags, file);
  CHECK_FALSE(diags.hasErrors());
  std::vector<TokenKind> expected = {
      TokenKind::KwAttention, TokenKind::Identifier, TokenKind::KwOver,     TokenKind::Identifier,
      TokenKind::LBrace,      TokenKind::KwMask,     TokenKind::Assign,     TokenKind::Identifier,
      TokenKind::Dot,         TokenKind::Identifier, TokenKind::LessEq,     TokenKind::Identifier,
      TokenKind::AmpAmp,      TokenKind::Bang,       TokenKind::Identifier, TokenKind::Semicolon,
      TokenKind::RBrace,      TokenKind::Eof};
  CHECK(kindsOf(tokens) == expected);
  CHECK(tokens[11].text == "k_2");
}

TEST_CASE("lexer: every keyword is recognised", "[lexer]") {
  DiagnosticEngine diags;
  std::unique_ptr<SourceFile> file;
  auto tokens = lexText("attention layout over grid tile const param input let mask score out "
                        "route int float bool i32 i64 f32 f16 bf16 u8 true false",
                        diags, file);
  REQUIRE(tokens.size() == 25);
  for (size_t i = 0; i + 1 < tokens.size(); ++i)
    CHECK(tokens[i].kind == static_cast<TokenKind>(static_cast<int>(TokenKind::KwAttention) + i));
}

TEST_CASE("lexer: two-character operators", "[lexer]") {
  DiagnosticEngine diags;
  std::unique_ptr<SourceFile> file;
  auto tokens = lexText("<< >> <= >= == != && || < > = & | ^ ~ ! % : ,", diags, file);
  std::vector<TokenKind> expected = {
      TokenKind::Shl,     TokenKind::Shr,     TokenKind::LessEq, TokenKind::GreaterEq,
      TokenKind::EqEq,    TokenKind::NotEq,   TokenKind::AmpAmp, TokenKind::PipePipe,
      TokenKind::Less,    TokenKind::Greater, TokenKind::Assign, TokenKind::Amp,
      TokenKind::Pipe,    TokenKind::Caret,   TokenKind::Tilde,  TokenKind::Bang,
      TokenKind::Percent, TokenKind::Colon,   TokenKind::Comma,  TokenKind::Eof};
  CHECK(kindsOf(tokens) == expected);
}

TEST_CASE("lexer: integer and float literals", "[lexer]") {
  DiagnosticEngine diags;
  std::unique_ptr<SourceFile> file;
  auto tokens = lexText("0 42 2147483647 1.0 .5 1e-3 2.5e3 7E+2", diags, file);
  CHECK_FALSE(diags.hasErrors());
  REQUIRE(tokens.size() == 9);
  CHECK(tokens[0].kind == TokenKind::IntLiteral);
  CHECK(tokens[1].intValue == 42);
  CHECK(tokens[2].intValue == 2147483647);
  CHECK(tokens[3].kind == TokenKind::FloatLiteral);
  CHECK(tokens[3].floatValue == 1.0);
  CHECK(tokens[4].floatValue == 0.5);
  CHECK(tokens[5].floatValue == Approx(1e-3));
  CHECK(tokens[6].floatValue == 2500.0);
  CHECK(tokens[7].floatValue == 700.0);
}

TEST_CASE("lexer: comments are skipped and locations are 1-based", "[lexer]") {
  DiagnosticEngine diags;
  std::unique_ptr<SourceFile> file;
  auto tokens = lexText("// line comment\n  /* block\n comment */ mask", diags, file);
  CHECK_FALSE(diags.hasErrors());
  REQUIRE(tokens.size() == 2);
  CHECK(tokens[0].kind == TokenKind::KwMask);
  CHECK(tokens[0].range.begin.line == 3);
  CHECK(tokens[0].range.begin.column == 13);
  CHECK(tokens[0].range.end.column == 17);
}

TEST_CASE("lexer: a bad character becomes an Error token and lexing goes on", "[lexer]") {
  DiagnosticEngine diags;
  std::unique_ptr<SourceFile> file;
  auto tokens = lexText("a @ b", diags, file);
  REQUIRE(tokens.size() == 4);
  CHECK(tokens[1].kind == TokenKind::Error);
  CHECK(tokens[2].kind == TokenKind::Identifier);
  CHECK(diags.errorCount() == 1);
}

TEST_CASE("lexer: a multi-byte UTF-8 character is one error", "[lexer]") {
  DiagnosticEngine diags;
  std::unique_ptr<SourceFile> file;
  auto tokens = lexText("a \xc3\xa9 b", diags, file);
  REQUIRE(tokens.size() == 4);
  CHECK(diags.errorCount() == 1);
  CHECK(diags.diagnostics()[0].message == "unexpected character '\\xc3'");
}
