//===- Parser.h - The attnc recursive-descent parser -------------*- C++ -*-===//
//
// Builds the AST of AST.h from tokens. Names are left unresolved and types unset: the
// checker (Sema.h) does that. On a syntax error the parser reports it, skips to the next
// `;` or `}` and goes on, so one run reports several errors.
//
//===----------------------------------------------------------------------===//
#ifndef ATTNC_DSL_PARSER_H
#define ATTNC_DSL_PARSER_H

#include "attnc/dsl/AST.h"
#include "attnc/dsl/Diagnostics.h"
#include "attnc/dsl/Lexer.h"

#include <memory>
#include <vector>

namespace attnc::dsl {

/// Deepest expression tree accepted (parentheses, unary chains, operator chains); deeper
/// input is an error, so that no later recursive walk can overflow the stack.
constexpr unsigned kMaxExprDepth = 256;

/// Parses a whole file. Always returns a program (possibly partial); errors go to `diags`.
/// Tokens are pulled from `lexer` on demand.
std::unique_ptr<Program> parseProgram(Lexer &lexer, DiagnosticEngine &diags);

} // namespace attnc::dsl

#endif // ATTNC_DSL_PARSER_H
