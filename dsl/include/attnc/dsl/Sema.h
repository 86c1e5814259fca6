//===- Sema.h - The attnc checker --------------------------------*- C++ -*-===//
//
// Types every expression, resolves every name into `Expr::ref` / `Expr::func`, checks
// that each name is used only where it is defined (see "Contexts" in docs/language.md),
// and folds the compile-time values: consts, param defaults, layout axis sizes and the
// route's block shape, query block and selection argument.
//
// After checking, the tree needs no name lookups and has no implicit conversions: every
// Int operand that is promoted to Float is wrapped in an explicit `float(...)` Call
// (func = ToFloat), so each Binary/Call node's operands already have the types the
// operation works in.
//
//===----------------------------------------------------------------------===//
#ifndef ATTNC_DSL_SEMA_H
#define ATTNC_DSL_SEMA_H

#include "attnc/dsl/AST.h"
#include "attnc/dsl/Diagnostics.h"
#include "attnc/dsl/Frontend.h"
#include "attnc/dsl/Limits.h"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace attnc::dsl {

/// The deepest expression accepted when lets are counted through: each use of a let counts
/// as the depth of the let's own expression. The same bound as the parser's kMaxExprDepth
/// for one expression, so lets never make anything deeper than one expression can be. Every
/// later stage (MLIR building and passes, code generation, the reference interpreter)
/// recurses at most about this deep, which fits a 1 MiB thread stack with room to spare.
constexpr unsigned kMaxDepthThroughLets = 256;

/// Checks `program` in place. Returns true when no error was found. `overrides`
/// replace the values of consts (-D NAME=VALUE).
bool checkProgram(Program &program, DiagnosticEngine &diags,
                  const std::vector<ConstOverride> &overrides = {});

/// Evaluates a checked constant expression (literals, consts of `attention`, its layout's
/// axis sizes, operators and pure built-in functions) with the language's exact
/// semantics. Returns nothing for anything that is not constant.
std::optional<ConstValue> foldConstant(const Expr &expr, const Program &program,
                                       const AttentionDecl *attention);

/// The candidate closest to `name` by edit distance, or "" when none is close enough to
/// be a plausible typo.
std::string closestName(std::string_view name, const std::vector<std::string> &candidates);

} // namespace attnc::dsl

#endif // ATTNC_DSL_SEMA_H
