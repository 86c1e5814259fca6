//===- AttnIR.h - The attn IR as text (no MLIR types) -------------*- C++ -*-===//
//
// For tools that link only libattnc (whose MLIR symbols are hidden): the attn module
// built from a checked attention, printed as MLIR text.
//
//===----------------------------------------------------------------------===//
#ifndef ATTNC_COMPILER_ATTNIR_H
#define ATTNC_COMPILER_ATTNIR_H

#include "attnc/dsl/AST.h"

#include <string>

namespace attnc::compiler {

/// The attn module as built (before any pass). False with `error` on failure.
bool printAttnIR(const dsl::Program &program, const dsl::AttentionDecl &attention,
                 std::string &text, std::string &error);

} // namespace attnc::compiler

#endif // ATTNC_COMPILER_ATTNIR_H
