//===- Lexer.h - Tokens and the attnc lexer ----------------------*- C++ -*-===//
//
// The lexer turns a source buffer into tokens. It never fails: bad input becomes an error
// diagnostic plus an `Error` token, so the parser can keep going.
//
//===----------------------------------------------------------------------===//
#ifndef ATTNC_DSL_LEXER_H
#define ATTNC_DSL_LEXER_H

#include "attnc/dsl/Diagnostics.h"
#include "attnc/dsl/Source.h"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace attnc::dsl {

enum class TokenKind : uint8_t {
  Eof,
  Error,
  Identifier,
  IntLiteral,
  FloatLiteral,
  // Keywords.
  KwAttention,
  KwLayout,
  KwOver,
  KwGrid,
  KwTile,
  KwConst,
  KwParam,
  KwInput,
  KwLet,
  KwMask,
  KwScore,
  KwOut,
  KwRoute,
  KwInt,
  KwFloat,
  KwBool,
  KwI32,
  KwI64,
  KwF32,
  KwF16,
  KwBF16,
  KwU8,
  KwTrue,
  KwFalse,
  // Punctuation and operators.
  LBrace,
  RBrace,
  LParen,
  RParen,
  LBracket,
  RBracket,
  Comma,
  Semicolon,
  Colon,
  Dot,
  Assign,
  Plus,
  Minus,
  Star,
  Slash,
  Percent,
  Shl,
  Shr,
  Amp,
  Pipe,
  Caret,
  Tilde,
  Bang,
  AmpAmp,
  PipePipe,
  EqEq,
  NotEq,
  Less,
  LessEq,
  Greater,
  GreaterEq,
};

/// How a token kind is spelled in messages: "'{'", "identifier", "end of file".
const char *tokenKindSpelling(TokenKind kind);

struct Token {
  TokenKind kind = TokenKind::Eof;
  SourceRange range;
  std::string_view text;
  int64_t intValue = 0;    ///< IntLiteral
  double floatValue = 0.0; ///< FloatLiteral

  bool is(TokenKind k) const { return kind == k; }
};

/// Longest identifier or number accepted; longer ones are an error (bounds memory and
/// keeps messages readable).
constexpr size_t kMaxTokenLength = 256;

/// Produces tokens one at a time, so that lexical and syntax errors are reported in
/// source order. After the end it keeps returning Eof.
class Lexer {
public:
  Lexer(const SourceFile &file, DiagnosticEngine &diags);
  Token next();

private:
  SourceRange rangeOf(size_t begin, size_t end) const;
  Token make(TokenKind kind, size_t begin, size_t end) const;
  void skipTrivia();
  Token lexNumber(size_t begin);

  const SourceFile &file_;
  DiagnosticEngine &diags_;
  const std::string &text_;
  size_t pos_ = 0;
};

/// Lexes `file` completely. The result always ends with an Eof token.
std::vector<Token> lex(const SourceFile &file, DiagnosticEngine &diags);

} // namespace attnc::dsl

#endif // ATTNC_DSL_LEXER_H
