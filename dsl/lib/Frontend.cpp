//===- Frontend.cpp - Parse and check attnc programs ------------------------===//
#include "attnc/dsl/Frontend.h"

#include "attnc/dsl/Lexer.h"
#include "attnc/dsl/Parser.h"
#include "attnc/dsl/Sema.h"

namespace attnc::dsl {

std::unique_ptr<Program> parseAndCheck(const SourceFile &file, DiagnosticEngine &diags,
                                       const std::vector<ConstOverride> &overrides) {
  if (!diags.file())
    diags.setFile(&file);
  if (file.text().size() > SourceFile::kMaxBytes) {
    diags.error(SourceRange{}, "file is too large (more than " +
                                   std::to_string(SourceFile::kMaxBytes >> 20) + " MiB)");
    return nullptr;
  }
  unsigned before = diags.errorCount();
  Lexer lexer(file, diags);
  std::unique_ptr<Program> program = parseProgram(lexer, diags);
  checkProgram(*program, diags, overrides);
  if (diags.errorCount() != before)
    return nullptr;
  return program;
}

} // namespace attnc::dsl
