//===- TestUtil.h - Helpers for the language tests ---------------*- C++ -*-===//
#ifndef ATTNC_TESTS_DSL_TESTUTIL_H
#define ATTNC_TESTS_DSL_TESTUTIL_H

#include "attnc/dsl/Frontend.h"

#include <memory>
#include <sstream>
#include <string>
#include <vector>

namespace attnc::dsl::test {

/// The outcome of parsing and checking one source text.
struct CheckResult {
  std::unique_ptr<SourceFile> file;
  std::unique_ptr<Program> program;
  std::vector<Diagnostic> diags;
  std::string rendered;

  std::vector<Diagnostic> errors() const {
    std::vector<Diagnostic> out;
    for (const Diagnostic &d : diags)
      if (d.severity == Severity::Error)
        out.push_back(d);
    return out;
  }
};

inline CheckResult checkText(const std::string &text,
                             const std::vector<ConstOverride> &overrides = {}) {
  CheckResult result;
  result.file = std::make_unique<SourceFile>("test.attn", text);
  DiagnosticEngine diags(result.file.get());
  result.program = parseAndCheck(*result.file, diags, overrides);
  result.diags = diags.diagnostics();
  std::ostringstream os;
  diags.print(os);
  result.rendered = os.str();
  return result;
}

} // namespace attnc::dsl::test

#endif // ATTNC_TESTS_DSL_TESTUTIL_H
