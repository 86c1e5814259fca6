//===- ExprChecker.h - Types of the checker's expressions --------*- C++ -*-===//
//
// Internal to dsl/lib: types an expression tree in a context, with the names in it
// resolved by the NameResolver; makes the one implicit conversion explicit (Int operands
// promoted to Float are wrapped in float(...)); reports divisions by a constant zero
// and expressions nested too deeply through lets.
//
//===----------------------------------------------------------------------===//
#ifndef ATTNC_DSL_LIB_EXPRCHECKER_H
#define ATTNC_DSL_LIB_EXPRCHECKER_H

#include "ConstEval.h"
#include "NameResolver.h"

#include "attnc/dsl/AST.h"
#include "attnc/dsl/Diagnostics.h"

#include <string>
#include <vector>

namespace attnc::dsl::sema {

class ExprChecker {
public:
  ExprChecker(Program &program, DiagnosticEngine &diags, NameResolver &names);

  /// Starts checking `attn` (after NameResolver::beginAttention).
  void beginAttention(const AttentionDecl &attn);

  /// Types `e` (and everything under it) in `ctx`; Invalid after an error.
  Type check(ExprPtr &e, Context &ctx);
  /// Float statements accept Int (promoted); anything else is an error.
  void requireFloat(ExprPtr &e, Type t, const char *what);
  /// Wraps an Int expression in float(...): the one implicit conversion, made explicit.
  static void promote(ExprPtr &e);

  /// Reports `e` (the value of `what`) when it is deeper than kMaxDepthThroughLets;
  /// returns its depth, or 0 after an error.
  unsigned limitDepth(const ExprPtr &e, SourceRange range, const std::string &what);
  /// Records the depth of let `index`'s value (limitDepth's result).
  void setLetDepth(size_t index, unsigned depth) { letDepth_[index] = depth; }

private:
  /// The depth of a checked expression where each let use counts as the depth of that
  /// let's expression (memoised in letDepth_, so linear however the lets share). 0 when
  /// it uses a let already reported too deep, so that one chain gives one error.
  /// Recurses only through one expression, which the parser bounds.
  unsigned depthThroughLets(const Expr &e) const;

  Type checkImpl(ExprPtr &ep, Context &ctx);
  Type checkUnary(Expr &e, Context &ctx);
  bool checkDivisor(const Expr &e, const Context &ctx);
  Type checkBinary(Expr &e, Context &ctx);
  Type checkCall(Expr &e, Context &ctx);
  Type checkIndex(Expr &e, Context &ctx);

  Program &program_;
  DiagnosticEngine &diags_;
  NameResolver &names_;
  std::vector<unsigned> letDepth_; ///< per let: depthThroughLets of its value, 0 if too deep
  ConstMemo divisorMemo_;          ///< see check()
  int checkDepth_ = 0;
};

} // namespace attnc::dsl::sema

#endif // ATTNC_DSL_LIB_EXPRCHECKER_H
