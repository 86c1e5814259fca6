//===- Frontend.cpp - Parse and check attnc programs ------------------------===//
#include "attnc/dsl/Frontend.h"

#include "attnc/dsl/Lexer.h"
#include "attnc/dsl/Parser.h"
#include "attnc/dsl/Sema.h"

namespace attnc::dsl {

namespace {
/// Attention programs are a few KiB; the cap bounds memory and time on hostile input.
constexpr size_t kMaxSourceBytes = 1u << 20;
} // namespace

std::unique_ptr<Program> parseAndCheck(const SourceFile &file, DiagnosticEngine &diags,
                                       const std::vector<ConstOverride> &overrides) {
  if (!diags.file())
    diags.setFile(&file);
  if (file.text().size() > kMaxSourceBytes) {
    diags.error(SourceRange{},
                "file is too large (more than " + std::to_string(kMaxSourceBytes >> 20) + " MiB)");
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
