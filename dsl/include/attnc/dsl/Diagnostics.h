//===- Diagnostics.h - clang-style diagnostics -------------------*- C++ -*-===//
//
// Every error names file:line:col, shows the source line with a caret (and tildes under
// the range), and may carry a hint:
//
//   streaming.attn:4:22: error: unknown name 'windw'
//     mask = causal && q - k < windw;
//                              ^~~~~
//   hint: did you mean 'window'?
//
//===----------------------------------------------------------------------===//
#ifndef ATTNC_DSL_DIAGNOSTICS_H
#define ATTNC_DSL_DIAGNOSTICS_H

#include "attnc/dsl/Source.h"

#include <ostream>
#include <string>
#include <vector>

namespace attnc::dsl {

enum class Severity { Error, Warning, Note };

struct Diagnostic {
  Severity severity = Severity::Error;
  SourceRange range;
  std::string message;
  std::string hint; ///< empty when none
};

class DiagnosticEngine {
public:
  explicit DiagnosticEngine(const SourceFile *file = nullptr) : file_(file) {}
  void setFile(const SourceFile *file) { file_ = file; }
  const SourceFile *file() const { return file_; }

  void error(SourceRange range, std::string message, std::string hint = {});
  void warning(SourceRange range, std::string message, std::string hint = {});
  void note(SourceRange range, std::string message);

  bool hasErrors() const { return errorCount_ > 0; }
  unsigned errorCount() const { return errorCount_; }
  const std::vector<Diagnostic> &diagnostics() const { return diags_; }

  /// Stops recording after this many errors (avoids unbounded output on garbage input).
  void setErrorLimit(unsigned limit) { errorLimit_ = limit; }

  /// Renders one diagnostic in the clang style; `color` adds ANSI colours.
  std::string render(const Diagnostic &d, bool color = false) const;
  /// Renders all diagnostics.
  void print(std::ostream &os, bool color = false) const;

private:
  const SourceFile *file_;
  std::vector<Diagnostic> diags_;
  unsigned errorCount_ = 0;
  unsigned errorLimit_ = 50;
};

} // namespace attnc::dsl

#endif // ATTNC_DSL_DIAGNOSTICS_H
