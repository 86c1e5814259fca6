//===- Lexer.cpp - The attnc lexer ------------------------------------------===//
#include "attnc/dsl/Lexer.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace attnc::dsl {

namespace {

struct Keyword {
  const char *text;
  TokenKind kind;
};

constexpr Keyword kKeywords[] = {
    {"attention", TokenKind::KwAttention},
    {"layout", TokenKind::KwLayout},
    {"over", TokenKind::KwOver},
    {"grid", TokenKind::KwGrid},
    {"tile", TokenKind::KwTile},
    {"const", TokenKind::KwConst},
    {"param", TokenKind::KwParam},
    {"input", TokenKind::KwInput},
    {"let", TokenKind::KwLet},
    {"mask", TokenKind::KwMask},
    {"score", TokenKind::KwScore},
    {"out", TokenKind::KwOut},
    {"route", TokenKind::KwRoute},
    {"int", TokenKind::KwInt},
    {"float", TokenKind::KwFloat},
    {"bool", TokenKind::KwBool},
    {"i32", TokenKind::KwI32},
    {"i64", TokenKind::KwI64},
    {"f32", TokenKind::KwF32},
    {"f16", TokenKind::KwF16},
    {"bf16", TokenKind::KwBF16},
    {"u8", TokenKind::KwU8},
    {"true", TokenKind::KwTrue},
    {"false", TokenKind::KwFalse},
};

bool isIdentStart(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool isDigit(char c) { return c >= '0' && c <= '9'; }
bool isIdentChar(char c) { return isIdentStart(c) || isDigit(c); }

std::string printableChar(unsigned char c) {
  if (c >= 0x20 && c < 0x7f)
    return std::string("'") + static_cast<char>(c) + "'";
  char buf[16];
  std::snprintf(buf, sizeof buf, "'\\x%02x'", c);
  return buf;
}

} // namespace

Lexer::Lexer(const SourceFile &file, DiagnosticEngine &diags)
    : file_(file), diags_(diags), text_(file.text()) {}

SourceRange Lexer::rangeOf(size_t begin, size_t end) const {
  return SourceRange{file_.locOf(static_cast<uint32_t>(begin)),
                     file_.locOf(static_cast<uint32_t>(end))};
}

Token Lexer::make(TokenKind kind, size_t begin, size_t end) const {
  Token t;
  t.kind = kind;
  t.range = rangeOf(begin, end);
  t.text = std::string_view(text_).substr(begin, end - begin);
  return t;
}

/// Skips whitespace and comments; reports an unterminated block comment.
void Lexer::skipTrivia() {
  while (pos_ < text_.size()) {
    char c = text_[pos_];
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
      ++pos_;
    } else if (c == '/' && pos_ + 1 < text_.size() && text_[pos_ + 1] == '/') {
      while (pos_ < text_.size() && text_[pos_] != '\n')
        ++pos_;
    } else if (c == '/' && pos_ + 1 < text_.size() && text_[pos_ + 1] == '*') {
      size_t start = pos_;
      size_t close = text_.find("*/", pos_ + 2);
      if (close == std::string::npos) {
        diags_.error(rangeOf(start, start + 2), "unterminated '/*' comment", "close it with '*/'");
        pos_ = text_.size();
      } else {
        pos_ = close + 2;
      }
    } else {
      break;
    }
  }
}

Token Lexer::lexNumber(size_t begin) {
  size_t p = begin;
  bool isFloat = false;
  while (p < text_.size() && isDigit(text_[p]))
    ++p;
  bool badFloat = false;
  if (p < text_.size() && text_[p] == '.') {
    isFloat = true;
    ++p;
    if (p >= text_.size() || !isDigit(text_[p]))
      badFloat = true;
    while (p < text_.size() && isDigit(text_[p]))
      ++p;
  }
  if (p < text_.size() && (text_[p] == 'e' || text_[p] == 'E')) {
    isFloat = true;
    ++p;
    if (p < text_.size() && (text_[p] == '+' || text_[p] == '-'))
      ++p;
    if (p >= text_.size() || !isDigit(text_[p]))
      badFloat = true;
    while (p < text_.size() && isDigit(text_[p]))
      ++p;
  }
  // A number running into letters (`12ab`, `1.5x`) is one bad token, not two.
  bool trailing = false;
  while (p < text_.size() && (isIdentChar(text_[p]) || text_[p] == '.')) {
    trailing = true;
    ++p;
  }
  pos_ = p;
  Token t = make(isFloat ? TokenKind::FloatLiteral : TokenKind::IntLiteral, begin, p);
  if (p - begin > kMaxTokenLength) {
    diags_.error(t.range, "number literal is too long (more than " +
                              std::to_string(kMaxTokenLength) + " characters)");
    t.kind = TokenKind::Error;
    return t;
  }
  std::string spelling(t.text);
  if (trailing || badFloat) {
    std::string hint;
    if (badFloat && !trailing && spelling.back() == '.')
      hint = "write '" + spelling + "0'";
    else if (badFloat && !trailing)
      hint = "an exponent needs digits, as in '1e-3'";
    diags_.error(t.range, "invalid number literal '" + spelling + "'", hint);
    t.kind = TokenKind::Error;
    return t;
  }
  if (isFloat) {
    errno = 0;
    double v = std::strtod(spelling.c_str(), nullptr);
    if (!std::isfinite(v)) {
      diags_.error(t.range, "float literal '" + spelling + "' is out of range");
      t.kind = TokenKind::Error;
      return t;
    }
    t.floatValue = v;
    return t;
  }
  // Int literals may reach 2^31 so that `-2147483648` can be written; the parser
  // rejects 2^31 when it is not negated.
  constexpr int64_t kLimit = int64_t(1) << 31;
  int64_t v = 0;
  for (char c : spelling) {
    v = v * 10 + (c - '0');
    if (v > kLimit) {
      diags_.error(t.range, "integer literal '" + spelling + "' does not fit in int",
                   "the largest int is 2147483647");
      t.kind = TokenKind::Error;
      return t;
    }
  }
  t.intValue = v;
  return t;
}

Token Lexer::next() {
  skipTrivia();
  size_t begin = pos_;
  if (pos_ >= text_.size())
    return make(TokenKind::Eof, text_.size(), text_.size());
  char c = text_[pos_];
  if (isIdentStart(c)) {
    size_t p = pos_;
    while (p < text_.size() && isIdentChar(text_[p]))
      ++p;
    pos_ = p;
    Token t = make(TokenKind::Identifier, begin, p);
    if (p - begin > kMaxTokenLength) {
      diags_.error(t.range, "identifier is too long (more than " + std::to_string(kMaxTokenLength) +
                                " characters)");
      t.kind = TokenKind::Error;
      return t;
    }
    for (const Keyword &kw : kKeywords)
      if (t.text == kw.text) {
        t.kind = kw.kind;
        break;
      }
    return t;
  }
  if (isDigit(c) || (c == '.' && pos_ + 1 < text_.size() && isDigit(text_[pos_ + 1])))
    return lexNumber(begin);

  auto peek = [&](size_t ahead) -> char {
    return pos_ + ahead < text_.size() ? text_[pos_ + ahead] : '\0';
  };
  auto single = [&](TokenKind kind) {
    pos_ += 1;
    return make(kind, begin, pos_);
  };
  auto twoOr = [&](char second, TokenKind both, TokenKind one) {
    if (peek(1) == second) {
      pos_ += 2;
      return make(both, begin, pos_);
    }
    pos_ += 1;
    return make(one, begin, pos_);
  };
  switch (c) {
  case '{':
    return single(TokenKind::LBrace);
  case '}':
    return single(TokenKind::RBrace);
  case '(':
    return single(TokenKind::LParen);
  case ')':
    return single(TokenKind::RParen);
  case '[':
    return single(TokenKind::LBracket);
  case ']':
    return single(TokenKind::RBracket);
  case ',':
    return single(TokenKind::Comma);
  case ';':
    return single(TokenKind::Semicolon);
  case ':':
    return single(TokenKind::Colon);
  case '.':
    return single(TokenKind::Dot);
  case '+':
    return single(TokenKind::Plus);
  case '-':
    return single(TokenKind::Minus);
  case '*':
    return single(TokenKind::Star);
  case '/':
    return single(TokenKind::Slash);
  case '%':
    return single(TokenKind::Percent);
  case '^':
    return single(TokenKind::Caret);
  case '~':
    return single(TokenKind::Tilde);
  case '=':
    return twoOr('=', TokenKind::EqEq, TokenKind::Assign);
  case '!':
    return twoOr('=', TokenKind::NotEq, TokenKind::Bang);
  case '&':
    return twoOr('&', TokenKind::AmpAmp, TokenKind::Amp);
  case '|':
    return twoOr('|', TokenKind::PipePipe, TokenKind::Pipe);
  case '<':
    if (peek(1) == '<') {
      pos_ += 2;
      return make(TokenKind::Shl, begin, pos_);
    }
    return twoOr('=', TokenKind::LessEq, TokenKind::Less);
  case '>':
    if (peek(1) == '>') {
      pos_ += 2;
      return make(TokenKind::Shr, begin, pos_);
    }
    return twoOr('=', TokenKind::GreaterEq, TokenKind::Greater);
  default:
    break;
  }
  // Skip a whole UTF-8 sequence so one stray character gives one error.
  size_t end = pos_ + 1;
  if (static_cast<unsigned char>(c) >= 0xc0)
    while (end < text_.size() && (static_cast<unsigned char>(text_[end]) & 0xc0) == 0x80 &&
           end - pos_ < 4)
      ++end;
  pos_ = end;
  Token t = make(TokenKind::Error, begin, end);
  diags_.error(t.range, "unexpected character " + printableChar(c));
  return t;
}

const char *tokenKindSpelling(TokenKind kind) {
  switch (kind) {
  case TokenKind::Eof:
    return "end of file";
  case TokenKind::Error:
    return "invalid token";
  case TokenKind::Identifier:
    return "identifier";
  case TokenKind::IntLiteral:
    return "integer literal";
  case TokenKind::FloatLiteral:
    return "float literal";
  case TokenKind::LBrace:
    return "'{'";
  case TokenKind::RBrace:
    return "'}'";
  case TokenKind::LParen:
    return "'('";
  case TokenKind::RParen:
    return "')'";
  case TokenKind::LBracket:
    return "'['";
  case TokenKind::RBracket:
    return "']'";
  case TokenKind::Comma:
    return "','";
  case TokenKind::Semicolon:
    return "';'";
  case TokenKind::Colon:
    return "':'";
  case TokenKind::Dot:
    return "'.'";
  case TokenKind::Assign:
    return "'='";
  case TokenKind::Plus:
    return "'+'";
  case TokenKind::Minus:
    return "'-'";
  case TokenKind::Star:
    return "'*'";
  case TokenKind::Slash:
    return "'/'";
  case TokenKind::Percent:
    return "'%'";
  case TokenKind::Shl:
    return "'<<'";
  case TokenKind::Shr:
    return "'>>'";
  case TokenKind::Amp:
    return "'&'";
  case TokenKind::Pipe:
    return "'|'";
  case TokenKind::Caret:
    return "'^'";
  case TokenKind::Tilde:
    return "'~'";
  case TokenKind::Bang:
    return "'!'";
  case TokenKind::AmpAmp:
    return "'&&'";
  case TokenKind::PipePipe:
    return "'||'";
  case TokenKind::EqEq:
    return "'=='";
  case TokenKind::NotEq:
    return "'!='";
  case TokenKind::Less:
    return "'<'";
  case TokenKind::LessEq:
    return "'<='";
  case TokenKind::Greater:
    return "'>'";
  case TokenKind::GreaterEq:
    return "'>='";
  default:
    break;
  }
  for (const Keyword &kw : kKeywords)
    if (kw.kind == kind)
      return kw.text;
  return "token";
}

std::vector<Token> lex(const SourceFile &file, DiagnosticEngine &diags) {
  Lexer lexer(file, diags);
  std::vector<Token> tokens;
  do
    tokens.push_back(lexer.next());
  while (tokens.back().kind != TokenKind::Eof);
  return tokens;
}

} // namespace attnc::dsl
