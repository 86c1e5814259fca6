//===- Parser.cpp - The attnc recursive-descent parser ----------------------===//
#include "attnc/dsl/Parser.h"

#include "attnc/dsl/Sema.h"

#include <algorithm>
#include <deque>
#include <unordered_map>

namespace attnc::dsl {

namespace {

/// Binary operator precedence levels, lowest first (docs/language.md).
constexpr int kNumLevels = 10;

bool binaryOpAt(TokenKind kind, int level, BinaryOp &op) {
  switch (level) {
  case 0:
    if (kind == TokenKind::PipePipe)
      return op = BinaryOp::Or, true;
    return false;
  case 1:
    if (kind == TokenKind::AmpAmp)
      return op = BinaryOp::And, true;
    return false;
  case 2:
    if (kind == TokenKind::EqEq)
      return op = BinaryOp::Eq, true;
    if (kind == TokenKind::NotEq)
      return op = BinaryOp::Ne, true;
    return false;
  case 3:
    if (kind == TokenKind::Less)
      return op = BinaryOp::Lt, true;
    if (kind == TokenKind::LessEq)
      return op = BinaryOp::Le, true;
    if (kind == TokenKind::Greater)
      return op = BinaryOp::Gt, true;
    if (kind == TokenKind::GreaterEq)
      return op = BinaryOp::Ge, true;
    return false;
  case 4:
    if (kind == TokenKind::Pipe)
      return op = BinaryOp::BitOr, true;
    return false;
  case 5:
    if (kind == TokenKind::Caret)
      return op = BinaryOp::BitXor, true;
    return false;
  case 6:
    if (kind == TokenKind::Amp)
      return op = BinaryOp::BitAnd, true;
    return false;
  case 7:
    if (kind == TokenKind::Shl)
      return op = BinaryOp::Shl, true;
    if (kind == TokenKind::Shr)
      return op = BinaryOp::Shr, true;
    return false;
  case 8:
    if (kind == TokenKind::Plus)
      return op = BinaryOp::Add, true;
    if (kind == TokenKind::Minus)
      return op = BinaryOp::Sub, true;
    return false;
  case 9:
    if (kind == TokenKind::Star)
      return op = BinaryOp::Mul, true;
    if (kind == TokenKind::Slash)
      return op = BinaryOp::Div, true;
    if (kind == TokenKind::Percent)
      return op = BinaryOp::Rem, true;
    return false;
  default:
    return false;
  }
}

bool isStatementKeyword(TokenKind kind) {
  switch (kind) {
  case TokenKind::KwConst:
  case TokenKind::KwParam:
  case TokenKind::KwInput:
  case TokenKind::KwLet:
  case TokenKind::KwMask:
  case TokenKind::KwRoute:
  case TokenKind::KwAttention:
  case TokenKind::KwLayout:
    return true;
  default:
    return false;
  }
}

const char *const kRouteSettings[] = {"block", "per", "gate", "select", "always", "never"};

class Parser {
public:
  Parser(Lexer &lexer, DiagnosticEngine &diags) : lexer_(lexer), diags_(diags) {
    tokens_.push_back(lexer_.next());
  }

  std::unique_ptr<Program> run() {
    auto program = std::make_unique<Program>();
    while (!at(TokenKind::Eof)) {
      size_t before = pos_;
      if (at(TokenKind::KwLayout)) {
        parseLayout(*program);
      } else if (at(TokenKind::KwAttention)) {
        parseAttention(*program);
      } else {
        error(cur(), "expected 'layout' or 'attention', found " + describe(cur()));
      }
      if (panic_) {
        while (!at(TokenKind::Eof) && !at(TokenKind::KwLayout) && !at(TokenKind::KwAttention))
          advance();
        panic_ = false;
      }
      if (pos_ == before)
        advance();
    }
    return program;
  }

private:
  //===--------------------------------------------------------------------===//
  // Token helpers
  //===--------------------------------------------------------------------===//

  const Token &cur() const { return tokens_[pos_]; }
  const Token &peek(size_t ahead) {
    while (pos_ + ahead >= tokens_.size() && tokens_.back().kind != TokenKind::Eof)
      tokens_.push_back(lexer_.next());
    return tokens_[std::min(pos_ + ahead, tokens_.size() - 1)];
  }
  const Token &prev() const { return tokens_[pos_ > 0 ? pos_ - 1 : 0]; }
  bool at(TokenKind kind) const { return cur().kind == kind; }
  /// Tokens live in a deque, so references to earlier tokens stay valid as it grows.
  const Token &advance() {
    const Token &t = tokens_[pos_];
    if (t.kind == TokenKind::Eof)
      return t;
    if (pos_ + 1 >= tokens_.size())
      tokens_.push_back(lexer_.next());
    ++pos_;
    return t;
  }
  bool accept(TokenKind kind) {
    if (!at(kind))
      return false;
    advance();
    return true;
  }

  static std::string describe(const Token &t) {
    if (t.kind == TokenKind::Eof)
      return "end of file";
    std::string text(t.text.substr(0, 32));
    if (t.text.size() > 32)
      text += "...";
    return "'" + text + "'";
  }

  /// Reports one error per statement: after the first, the parser is "panicking" and
  /// stays quiet until it re-synchronises at a `;` or `}`.
  void error(SourceRange range, std::string message, std::string hint = {}) {
    if (panic_)
      return;
    panic_ = true;
    diags_.error(range, std::move(message), std::move(hint));
  }
  void error(const Token &t, std::string message, std::string hint = {}) {
    // The lexer already reported bad tokens.
    if (t.kind == TokenKind::Error) {
      panic_ = true;
      return;
    }
    error(t.range, std::move(message), std::move(hint));
  }

  /// Points just after the previous token: where a missing `;` or `)` belongs.
  SourceRange afterPrev() const {
    SourceLoc end = prev().range.end;
    return SourceRange{end, end};
  }

  bool expect(TokenKind kind, const char *context = nullptr) {
    if (accept(kind))
      return true;
    std::string message = std::string("expected ") + tokenKindSpelling(kind);
    if (context)
      message += std::string(" ") + context;
    message += ", found " + describe(cur());
    bool pointAfter = kind == TokenKind::Semicolon || kind == TokenKind::RParen ||
                      kind == TokenKind::RBracket || kind == TokenKind::RBrace;
    if (pointAfter && pos_ > 0 && prev().range.end.line != cur().range.begin.line)
      error(afterPrev(), message);
    else
      error(cur(), message);
    return false;
  }

  bool expectIdentifier(std::string &name, SourceRange &range, const char *what) {
    if (at(TokenKind::Identifier)) {
      name = std::string(cur().text);
      range = cur().range;
      advance();
      return true;
    }
    std::string hint;
    if (cur().kind >= TokenKind::KwAttention && cur().kind <= TokenKind::KwFalse)
      hint = describe(cur()) + " is a keyword";
    error(cur(), std::string("expected ") + what + ", found " + describe(cur()), hint);
    return false;
  }

  /// Skips to the end of the broken statement: past a `;`, or up to a `}` or the next
  /// statement keyword.
  void syncStatement() {
    while (!at(TokenKind::Eof)) {
      if (accept(TokenKind::Semicolon))
        break;
      if (at(TokenKind::RBrace) || isStatementKeyword(cur().kind))
        break;
      advance();
    }
    panic_ = false;
  }

  static SourceRange join(SourceRange a, SourceRange b) { return SourceRange{a.begin, b.end}; }

  //===--------------------------------------------------------------------===//
  // Declarations
  //===--------------------------------------------------------------------===//

  void parseLayout(Program &program) {
    const Token &kw = advance();
    LayoutDecl layout;
    SourceRange nameRange;
    if (!expectIdentifier(layout.name, nameRange, "a layout name"))
      return;
    if (!expect(TokenKind::Assign, "after the layout name"))
      return;
    if (!at(TokenKind::KwGrid)) {
      error(cur(), "expected 'grid' after 'layout " + layout.name + " =', found " + describe(cur()),
            "write: layout " + layout.name + " = grid(y: 128, x: 128);");
      return;
    }
    advance();
    if (!expect(TokenKind::LParen, "after 'grid'"))
      return;
    do {
      LayoutDecl::Axis axis;
      SourceRange axisRange;
      if (!expectIdentifier(axis.name, axisRange, "an axis name"))
        return;
      if (!expect(TokenKind::Colon, "after the axis name"))
        return;
      axis.size = parseExpr();
      if (!axis.size)
        return;
      axis.range = join(axisRange, axis.size->range);
      layout.axes.push_back(std::move(axis));
    } while (accept(TokenKind::Comma) && !at(TokenKind::RParen));
    if (!expect(TokenKind::RParen, "after the layout axes"))
      return;
    if (!expect(TokenKind::Semicolon, "after the layout"))
      return;
    layout.range = join(kw.range, prev().range);
    layoutIndex_.emplace(layout.name, program.layouts.size());
    program.layouts.push_back(std::move(layout));
  }

  void parseAttention(Program &program) {
    const Token &kw = advance();
    AttentionDecl attn;
    SourceRange nameRange;
    if (!expectIdentifier(attn.name, nameRange, "an attention name"))
      return;
    seenMask_ = seenScore_ = seenOut_ = false;
    layout_ = nullptr;
    currentHasLayoutName_ = at(TokenKind::KwOver);
    if (accept(TokenKind::KwOver)) {
      SourceRange layoutRange;
      if (!expectIdentifier(attn.layoutName, layoutRange, "a layout name after 'over'"))
        return;
      // Layouts must be declared before the attentions that use them.
      auto found = layoutIndex_.find(attn.layoutName);
      if (found != layoutIndex_.end())
        layout_ = &program.layouts[found->second];
      if (!layout_) {
        std::string close;
        if (diags_.errorCount() < 50) {
          std::vector<std::string> known;
          for (const LayoutDecl &l : program.layouts)
            known.push_back(l.name);
          close = closestName(attn.layoutName, known);
        }
        diags_.error(layoutRange, "unknown layout '" + attn.layoutName + "'",
                     close.empty() ? "declare it before the attention: layout " + attn.layoutName +
                                         " = grid(y: 128, x: 128);"
                                   : "did you mean '" + close + "'?");
      }
    }
    if (!expect(TokenKind::LBrace, "to open the attention body"))
      return;
    while (!at(TokenKind::RBrace) && !at(TokenKind::Eof)) {
      if (at(TokenKind::KwAttention) || at(TokenKind::KwLayout))
        break;
      size_t before = pos_;
      parseStatement(attn);
      if (panic_)
        syncStatement();
      if (pos_ == before)
        advance();
    }
    if (!at(TokenKind::RBrace)) {
      error(afterPrev(), "expected '}' to close attention '" + attn.name + "'");
      panic_ = false;
    } else {
      advance();
    }
    attn.range = join(kw.range, prev().range);
    program.attentions.push_back(std::move(attn));
  }

  bool parseScalarType(Type &type) {
    switch (cur().kind) {
    case TokenKind::KwInt:
      type = Type::Int;
      break;
    case TokenKind::KwFloat:
      type = Type::Float;
      break;
    case TokenKind::KwBool:
      type = Type::Bool;
      break;
    default:
      error(cur(), "expected a type (int, float or bool), found " + describe(cur()));
      return false;
    }
    advance();
    return true;
  }

  bool parseElementType(ElementType &type) {
    switch (cur().kind) {
    case TokenKind::KwI32:
      type = ElementType::I32;
      break;
    case TokenKind::KwI64:
      type = ElementType::I64;
      break;
    case TokenKind::KwF32:
      type = ElementType::F32;
      break;
    case TokenKind::KwF16:
      type = ElementType::F16;
      break;
    case TokenKind::KwBF16:
      type = ElementType::BF16;
      break;
    case TokenKind::KwU8:
      type = ElementType::U8;
      break;
    default:
      error(cur(),
            "expected an element type (i32, i64, f32, f16, bf16 or u8), found " + describe(cur()));
      return false;
    }
    advance();
    return true;
  }

  /// `mask = expr;`, `score = expr;`, `out = expr;`
  void parseBodyAssign(ExprPtr &slot, const Token &kw, const char *what, bool &seen,
                       SourceRange &firstRange) {
    if (!expect(TokenKind::Assign, (std::string("after '") + what + "'").c_str()))
      return;
    ExprPtr value = parseExpr();
    if (!value)
      return;
    if (!expect(TokenKind::Semicolon))
      return;
    SourceRange range = join(kw.range, prev().range);
    if (seen) {
      error(kw.range, std::string("duplicate '") + what + "' statement",
            "the first one is at line " + std::to_string(firstRange.begin.line));
      panic_ = false; // the statement itself is complete
      return;
    }
    seen = true;
    firstRange = range;
    slot = std::move(value);
  }

  void parseStatement(AttentionDecl &attn) {
    const Token &kw = cur();
    switch (kw.kind) {
    case TokenKind::KwConst: {
      advance();
      ConstDecl decl;
      SourceRange nameRange;
      if (!expectIdentifier(decl.name, nameRange, "a const name"))
        return;
      if (accept(TokenKind::Colon)) {
        Type type;
        if (!parseScalarType(type))
          return;
        decl.declaredType = type;
      }
      if (!expect(TokenKind::Assign, ("after 'const " + decl.name + "'").c_str()))
        return;
      decl.value = parseExpr();
      if (!decl.value || !expect(TokenKind::Semicolon))
        return;
      decl.range = join(kw.range, prev().range);
      attn.consts.push_back(std::move(decl));
      return;
    }
    case TokenKind::KwParam: {
      advance();
      ParamDecl decl;
      SourceRange nameRange;
      if (!expectIdentifier(decl.name, nameRange, "a param name"))
        return;
      if (!at(TokenKind::Colon)) {
        error(cur(), "expected ':' and a type after 'param " + decl.name + "'",
              "params are typed: param " + decl.name + ": int = 1024;");
        return;
      }
      advance();
      if (!parseScalarType(decl.type))
        return;
      if (accept(TokenKind::Assign)) {
        decl.defaultValue = parseExpr();
        if (!decl.defaultValue)
          return;
      }
      if (!expect(TokenKind::Semicolon))
        return;
      decl.range = join(kw.range, prev().range);
      attn.params.push_back(std::move(decl));
      return;
    }
    case TokenKind::KwInput: {
      advance();
      InputDecl decl;
      SourceRange nameRange;
      if (!expectIdentifier(decl.name, nameRange, "an input name"))
        return;
      if (!expect(TokenKind::Colon, ("after 'input " + decl.name + "'").c_str()))
        return;
      if (!parseElementType(decl.elementType))
        return;
      if (!expect(TokenKind::LBracket, "before the input's dimensions"))
        return;
      do {
        ExprPtr dim = parseExpr();
        if (!dim)
          return;
        decl.dims.push_back(std::move(dim));
      } while (accept(TokenKind::Comma) && !at(TokenKind::RBracket));
      if (!expect(TokenKind::RBracket, "after the input's dimensions") ||
          !expect(TokenKind::Semicolon))
        return;
      decl.range = join(kw.range, prev().range);
      attn.inputs.push_back(std::move(decl));
      return;
    }
    case TokenKind::KwLet: {
      advance();
      LetDecl decl;
      SourceRange nameRange;
      if (!expectIdentifier(decl.name, nameRange, "a let name"))
        return;
      if (!expect(TokenKind::Assign, ("after 'let " + decl.name + "'").c_str()))
        return;
      decl.value = parseExpr();
      if (!decl.value || !expect(TokenKind::Semicolon))
        return;
      decl.range = join(kw.range, prev().range);
      attn.lets.push_back(std::move(decl));
      return;
    }
    case TokenKind::KwMask:
      advance();
      return parseBodyAssign(attn.mask, kw, "mask", seenMask_, maskRange_);
    case TokenKind::KwScore:
      advance();
      return parseBodyAssign(attn.score, kw, "score", seenScore_, scoreRange_);
    case TokenKind::KwOut:
      advance();
      return parseBodyAssign(attn.out, kw, "out", seenOut_, outRange_);
    case TokenKind::KwRoute:
      advance();
      return parseRoute(attn, kw);
    default:
      break;
    }
    std::string hint;
    if (kw.kind == TokenKind::Identifier && peek(1).kind == TokenKind::Assign) {
      hint = "declare it with 'let " + std::string(kw.text) + " = ...;' or 'const " +
             std::string(kw.text) + " = ...;'";
      std::string close =
          closestName(kw.text, {"mask", "score", "out", "route", "const", "param", "input", "let"});
      if (!close.empty())
        hint = "did you mean '" + close + "'?";
    }
    error(kw,
          "expected a statement (const, param, input, let, mask, score, out or route), "
          "found " +
              describe(kw),
          hint);
    advance();
  }

  void parseRoute(AttentionDecl &attn, const Token &kw) {
    if (attn.route) {
      error(kw.range, "duplicate 'route' statement",
            "the first one is at line " + std::to_string(attn.route->range.begin.line));
      // Parse it anyway (into a scratch spec) to find errors inside.
    }
    RouteSpec scratch;
    RouteSpec &spec = attn.route ? scratch : attn.route.emplace();
    bool duplicateRoute = &spec == &scratch;
    if (!expect(TokenKind::LBrace, "after 'route'")) {
      if (!duplicateRoute)
        attn.route.reset();
      return;
    }
    bool seen[6] = {};
    while (!at(TokenKind::RBrace) && !at(TokenKind::Eof)) {
      if (cur().kind != TokenKind::Identifier && isStatementKeyword(cur().kind))
        break;
      size_t before = pos_;
      parseRouteSetting(spec, seen);
      if (panic_)
        syncStatement();
      if (pos_ == before)
        advance();
    }
    if (!at(TokenKind::RBrace)) {
      error(afterPrev(), "expected '}' to close 'route'");
      panic_ = false;
    } else {
      advance();
    }
    spec.range = join(kw.range, prev().range);
    if (duplicateRoute)
      panic_ = false;
  }

  void parseRouteSetting(RouteSpec &spec, bool *seen) {
    const Token &key = cur();
    int which = -1;
    for (int i = 0; i < 6; ++i)
      if (key.kind == TokenKind::Identifier && key.text == kRouteSettings[i])
        which = i;
    if (which < 0) {
      std::string hint = "route settings are block, per, gate, select, always and never";
      std::string close = closestName(
          key.text, std::vector<std::string>(std::begin(kRouteSettings), std::end(kRouteSettings)));
      if (!close.empty())
        hint = "did you mean '" + close + "'?";
      error(key, "unknown route setting " + describe(key), hint);
      advance();
      return;
    }
    advance();
    std::string setting = kRouteSettings[which];
    if (!expect(TokenKind::Assign, ("after '" + setting + "'").c_str()))
      return;
    if (seen[which]) {
      error(key.range, "duplicate route setting '" + setting + "'");
      return;
    }
    seen[which] = true;
    switch (which) {
    case 0: // block
      if (accept(TokenKind::KwTile)) {
        SourceRange tileRange = prev().range;
        if (!expect(TokenKind::LParen, "after 'tile'"))
          return;
        std::vector<std::pair<std::string, SourceRange>> names;
        do {
          std::string axis;
          SourceRange axisRange;
          if (!expectIdentifier(axis, axisRange, "an axis name"))
            return;
          if (!expect(TokenKind::Colon, "after the axis name"))
            return;
          ExprPtr size = parseExpr();
          if (!size)
            return;
          names.emplace_back(axis, axisRange);
          spec.tileSizes.push_back(std::move(size));
        } while (accept(TokenKind::Comma) && !at(TokenKind::RParen));
        if (!expect(TokenKind::RParen, "after the tile sizes"))
          return;
        if (!checkTileAxes(names, join(tileRange, prev().range)))
          return;
      } else {
        spec.blockSize = parseExpr();
        if (!spec.blockSize)
          return;
      }
      break;
    case 1: { // per
      std::string unit;
      SourceRange unitRange;
      const Token &unitTok = cur();
      if (!expectIdentifier(unit, unitRange, "token, query_block(N) or head"))
        return;
      if (unit == "token") {
        spec.per = RouteSpec::Granularity::Token;
      } else if (unit == "head") {
        spec.per = RouteSpec::Granularity::Head;
      } else if (unit == "query_block") {
        spec.per = RouteSpec::Granularity::QueryBlock;
        if (!expect(TokenKind::LParen, "after 'query_block'"))
          return;
        spec.queryBlockSize = parseExpr();
        if (!spec.queryBlockSize || !expect(TokenKind::RParen, "after the query block size"))
          return;
      } else {
        std::string close = closestName(unit, {"token", "query_block", "head"});
        error(unitTok, "unknown route unit '" + unit + "'",
              close.empty() ? "use token, query_block(N) or head"
                            : "did you mean '" + close + "'?");
        return;
      }
      break;
    }
    case 2: // gate
      spec.gate = parseExpr();
      if (!spec.gate)
        return;
      break;
    case 3: { // select
      std::string how;
      SourceRange howRange;
      const Token &howTok = cur();
      if (!expectIdentifier(how, howRange, "top(N) or threshold(M)"))
        return;
      if (how == "top") {
        spec.select = RouteSpec::Selection::TopK;
      } else if (how == "threshold") {
        spec.select = RouteSpec::Selection::Threshold;
      } else {
        std::string close = closestName(how, {"top", "threshold"});
        error(howTok, "unknown selection '" + how + "'",
              close.empty() ? "use top(N) or threshold(M)" : "did you mean '" + close + "'?");
        return;
      }
      if (!expect(TokenKind::LParen, ("after '" + how + "'").c_str()))
        return;
      spec.selectArg = parseExpr();
      if (!spec.selectArg || !expect(TokenKind::RParen, ("after the " + how + " argument").c_str()))
        return;
      break;
    }
    case 4: // always
      spec.always = parseExpr();
      if (!spec.always)
        return;
      break;
    case 5: // never
      spec.never = parseExpr();
      if (!spec.never)
        return;
      break;
    }
    expect(TokenKind::Semicolon);
  }

  /// A tile names the layout's axes, all of them, in order. Checked here because the
  /// AST keeps only the sizes.
  bool checkTileAxes(const std::vector<std::pair<std::string, SourceRange>> &names,
                     SourceRange tileRange) {
    if (!layout_) {
      if (!currentHasLayoutName_)
        error(tileRange, "'tile' needs a layout",
              "declare the attention with 'over LAYOUT', or use a 1-D block: block = 512;");
      return currentHasLayoutName_ ? true : false;
    }
    std::string expected;
    for (const LayoutDecl::Axis &axis : layout_->axes)
      expected += (expected.empty() ? "" : ", ") + axis.name + ": N";
    expected = "write tile(" + expected + ")";
    for (size_t i = 0; i < names.size(); ++i) {
      if (i >= layout_->axes.size()) {
        error(names[i].second,
              "layout '" + layout_->name + "' has only " + std::to_string(layout_->axes.size()) +
                  " axes",
              expected);
        return false;
      }
      if (names[i].first != layout_->axes[i].name) {
        error(names[i].second,
              "tile axis " + std::to_string(i + 1) + " is '" + names[i].first + "', but axis " +
                  std::to_string(i + 1) + " of layout '" + layout_->name + "' is '" +
                  layout_->axes[i].name + "'",
              expected);
        return false;
      }
    }
    if (names.size() < layout_->axes.size()) {
      error(tileRange, "'tile' needs one size per axis of layout '" + layout_->name + "'",
            expected);
      return false;
    }
    return true;
  }

  //===--------------------------------------------------------------------===//
  // Expressions
  //===--------------------------------------------------------------------===//

  unsigned depthOf(const Expr *e) const {
    auto it = depth_.find(e);
    return it == depth_.end() ? 1 : it->second;
  }

  /// Records the tree depth of a new node; reports and fails when it is too deep.
  bool noteDepth(const Expr &node) {
    unsigned depth = 0;
    for (const ExprPtr &operand : node.operands)
      if (operand)
        depth = std::max(depth, depthOf(operand.get()));
    depth += 1;
    if (depth > kMaxExprDepth) {
      error(node.range,
            "expression is nested too deeply (the limit is " + std::to_string(kMaxExprDepth) +
                " levels)",
            "split it with 'let'");
      return false;
    }
    if (depth > 1)
      depth_[&node] = depth;
    return true;
  }

  ExprPtr parseExpr() {
    if (nesting_ >= kMaxExprDepth) {
      error(cur(),
            "expression is nested too deeply (the limit is " + std::to_string(kMaxExprDepth) +
                " levels)",
            "split it with 'let'");
      return nullptr;
    }
    ++nesting_;
    ExprPtr e = parseBinary(0);
    --nesting_;
    // Depth bookkeeping is only needed while the enclosing statement is parsed.
    // (Swapping, not clear(): clear() costs the bucket count, which only ever grows.)
    if (nesting_ == 0 && !depth_.empty())
      std::unordered_map<const Expr *, unsigned>().swap(depth_);
    return e;
  }

  ExprPtr parseBinary(int level) {
    if (level == kNumLevels)
      return parseUnary();
    ExprPtr lhs = parseBinary(level + 1);
    if (!lhs)
      return nullptr;
    BinaryOp op;
    while (binaryOpAt(cur().kind, level, op)) {
      advance();
      ExprPtr rhs = parseBinary(level + 1);
      if (!rhs)
        return nullptr;
      auto node = std::make_unique<Expr>();
      node->kind = ExprKind::Binary;
      node->binaryOp = op;
      node->range = join(lhs->range, rhs->range);
      node->operands.push_back(std::move(lhs));
      node->operands.push_back(std::move(rhs));
      if (!noteDepth(*node))
        return nullptr;
      lhs = std::move(node);
    }
    return lhs;
  }

  ExprPtr parseUnary() {
    UnaryOp op;
    switch (cur().kind) {
    case TokenKind::Minus:
      op = UnaryOp::Neg;
      break;
    case TokenKind::Bang:
      op = UnaryOp::Not;
      break;
    case TokenKind::Tilde:
      op = UnaryOp::BitNot;
      break;
    default:
      return parsePostfix();
    }
    const Token &opTok = advance();
    // `-2147483648` is the one place the literal 2^31 is allowed.
    if (op == UnaryOp::Neg && at(TokenKind::IntLiteral) && cur().intValue == (int64_t(1) << 31) &&
        !isPostfixStart(peek(1).kind)) {
      auto lit = std::make_unique<Expr>();
      lit->kind = ExprKind::IntLiteral;
      lit->intValue = -(int64_t(1) << 31);
      lit->range = join(opTok.range, cur().range);
      advance();
      return lit;
    }
    if (nesting_ >= kMaxExprDepth) {
      error(opTok,
            "expression is nested too deeply (the limit is " + std::to_string(kMaxExprDepth) +
                " levels)",
            "split it with 'let'");
      return nullptr;
    }
    ++nesting_;
    ExprPtr operand = parseUnary();
    --nesting_;
    if (!operand)
      return nullptr;
    auto node = std::make_unique<Expr>();
    node->kind = ExprKind::Unary;
    node->unaryOp = op;
    node->range = join(opTok.range, operand->range);
    node->operands.push_back(std::move(operand));
    if (!noteDepth(*node))
      return nullptr;
    return node;
  }

  static bool isPostfixStart(TokenKind kind) {
    return kind == TokenKind::LParen || kind == TokenKind::LBracket || kind == TokenKind::Dot;
  }

  /// Arguments of a call or indices of a read, up to the closing bracket.
  bool parseArguments(Expr &node, TokenKind close, bool allowSlice) {
    if (accept(close))
      return true;
    do {
      if (allowSlice && at(TokenKind::Colon)) {
        auto slice = std::make_unique<Expr>();
        slice->kind = ExprKind::Slice;
        slice->range = cur().range;
        advance();
        node.operands.push_back(std::move(slice));
        continue;
      }
      ExprPtr arg = parseExpr();
      if (!arg)
        return false;
      node.operands.push_back(std::move(arg));
    } while (accept(TokenKind::Comma));
    return expect(close, close == TokenKind::RParen ? "after the arguments" : "after the indices");
  }

  ExprPtr parsePostfix() {
    ExprPtr e = parsePrimary();
    if (!e)
      return nullptr;
    while (isPostfixStart(cur().kind)) {
      const Token &opTok = advance();
      auto node = std::make_unique<Expr>();
      if (opTok.kind == TokenKind::Dot) {
        node->kind = ExprKind::Member;
        SourceRange fieldRange;
        if (!expectIdentifier(node->name, fieldRange, "an axis name after '.'"))
          return nullptr;
        if (e->kind != ExprKind::Name) {
          error(join(e->range, fieldRange), "'.' must follow a token (q, k) or a layout name",
                "write q.y, k.x or image.y");
          return nullptr;
        }
        node->range = join(e->range, fieldRange);
        node->operands.push_back(std::move(e));
      } else {
        bool call = opTok.kind == TokenKind::LParen;
        if (e->kind != ExprKind::Name) {
          error(opTok, call ? "only built-in functions can be called"
                            : "only input tensors can be indexed");
          return nullptr;
        }
        node->kind = call ? ExprKind::Call : ExprKind::Index;
        node->name = e->name;
        SourceRange begin = e->range;
        if (nesting_ >= kMaxExprDepth) {
          error(opTok,
                "expression is nested too deeply (the limit is " + std::to_string(kMaxExprDepth) +
                    " levels)",
                "split it with 'let'");
          return nullptr;
        }
        ++nesting_;
        bool ok = parseArguments(*node, call ? TokenKind::RParen : TokenKind::RBracket, !call);
        --nesting_;
        if (!ok)
          return nullptr;
        node->range = join(begin, prev().range);
      }
      if (!noteDepth(*node))
        return nullptr;
      e = std::move(node);
    }
    return e;
  }

  ExprPtr parsePrimary() {
    const Token &t = cur();
    auto node = std::make_unique<Expr>();
    node->range = t.range;
    switch (t.kind) {
    case TokenKind::IntLiteral:
      if (t.intValue > 2147483647) {
        error(t, "integer literal '" + std::string(t.text) + "' does not fit in int",
              "the largest int is 2147483647");
        return nullptr;
      }
      node->kind = ExprKind::IntLiteral;
      node->intValue = t.intValue;
      advance();
      return node;
    case TokenKind::FloatLiteral:
      node->kind = ExprKind::FloatLiteral;
      node->floatValue = t.floatValue;
      advance();
      return node;
    case TokenKind::KwTrue:
    case TokenKind::KwFalse:
      node->kind = ExprKind::BoolLiteral;
      node->boolValue = t.kind == TokenKind::KwTrue;
      advance();
      return node;
    case TokenKind::Identifier:
    case TokenKind::KwScore:
    case TokenKind::KwOut:
      node->kind = ExprKind::Name;
      node->name = std::string(t.text);
      advance();
      return node;
    case TokenKind::KwInt:
    case TokenKind::KwFloat:
      // Conversions are spelled like calls: float(x), int(x).
      if (peek(1).kind != TokenKind::LParen) {
        error(t, std::string("'") + std::string(t.text) + "' is a type; to convert, write " +
                     std::string(t.text) + "(x)");
        return nullptr;
      }
      node->kind = ExprKind::Name;
      node->name = std::string(t.text);
      advance();
      return node;
    case TokenKind::LParen: {
      advance();
      ExprPtr inner = parseExpr();
      if (!inner)
        return nullptr;
      if (!expect(TokenKind::RParen, "to close '('"))
        return nullptr;
      return inner;
    }
    default:
      break;
    }
    std::string hint;
    if (t.kind == TokenKind::Colon)
      hint = "':' stands for the output column only as an index inside 'out', as in "
             "gate[b, h, q, :]";
    error(t, "expected an expression, found " + describe(t), hint);
    return nullptr;
  }

  Lexer &lexer_;
  std::deque<Token> tokens_;
  DiagnosticEngine &diags_;
  size_t pos_ = 0;
  bool panic_ = false;
  unsigned nesting_ = 0;
  std::unordered_map<const Expr *, unsigned> depth_;
  const LayoutDecl *layout_ = nullptr;
  std::unordered_map<std::string, size_t> layoutIndex_;
  bool currentHasLayoutName_ = false;
  bool seenMask_ = false, seenScore_ = false, seenOut_ = false;
  SourceRange maskRange_, scoreRange_, outRange_;
};

} // namespace

std::unique_ptr<Program> parseProgram(Lexer &lexer, DiagnosticEngine &diags) {
  return Parser(lexer, diags).run();
}

} // namespace attnc::dsl
