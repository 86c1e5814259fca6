//===- FrontendFuzzer.cpp - libFuzzer target for the lexer, parser, checker ===//
//
// Any input must be either accepted or rejected with diagnostics: never a crash, a hang,
// a sanitizer report or unbounded memory. Accepted programs are also cloned and their
// diagnostics rendered, to cover those paths.
//
//===----------------------------------------------------------------------===//
#include "attnc/dsl/Frontend.h"

#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  using namespace attnc::dsl;
  SourceFile file("fuzz.attn", std::string(reinterpret_cast<const char *>(data), size));
  DiagnosticEngine diags(&file);
  // Exercise the -D path on a name the seeds use.
  std::vector<ConstOverride> overrides;
  if (size > 0 && data[0] % 4 == 0)
    overrides.push_back({"radius", "3"});
  std::unique_ptr<Program> program = parseAndCheck(file, diags, overrides);
  std::ostringstream rendered;
  diags.print(rendered, size % 2 == 0);
  if (program) {
    for (const AttentionDecl &attention : program->attentions) {
      if (attention.mask)
        (void)attention.mask->clone();
      (void)program->find(attention.name);
    }
    if (diags.hasErrors())
      __builtin_trap(); // a program is returned only when there were no errors
  } else if (!diags.hasErrors()) {
    __builtin_trap(); // a rejected program must say why
  }
  return 0;
}
