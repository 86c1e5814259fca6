//===- Frontend.h - Parse and check attnc programs ---------------*- C++ -*-===//
#ifndef ATTNC_DSL_FRONTEND_H
#define ATTNC_DSL_FRONTEND_H

#include "attnc/dsl/AST.h"
#include "attnc/dsl/Diagnostics.h"

#include <memory>
#include <string>
#include <vector>

namespace attnc::dsl {

/// `-D name=value`: replaces the value of `const name` in every attention before checking.
struct ConstOverride {
  std::string name;
  std::string value; ///< source text of a literal: 12, 0.5, true
};

/// Parses and checks `file`. Returns the checked program, or null when any error was
/// reported to `diags` (every error found is reported, not only the first).
std::unique_ptr<Program> parseAndCheck(const SourceFile &file, DiagnosticEngine &diags,
                                       const std::vector<ConstOverride> &overrides = {});

} // namespace attnc::dsl

#endif // ATTNC_DSL_FRONTEND_H
