//===- CheckCommand.cpp - attnc check ---------------------------------------===//
//
// `attnc check FILE...`: parses and checks each file. Exit 0 when all are valid, silent
// unless there are warnings; otherwise the diagnostics go to stderr and the exit code is
// kExitInputError.
//
//===----------------------------------------------------------------------===//
#include "Commands.h"

#include "attnc/dsl/Frontend.h"

#include <iostream>
#include <unistd.h>

namespace attnc::tools {

namespace {

/// Splits `NAME=VALUE`; false when there is no '=' or no name.
bool parseDefine(const std::string &text, dsl::ConstOverride &out) {
  size_t eq = text.find('=');
  if (eq == std::string::npos || eq == 0)
    return false;
  out.name = text.substr(0, eq);
  out.value = text.substr(eq + 1);
  return true;
}

} // namespace

void registerCheckCommand(CLI::App &app, int &exitCode) {
  auto *cmd = app.add_subcommand(
      "check", "Parse and type-check .attn files (silent when valid but for warnings)");
  static std::vector<std::string> files;
  static std::vector<std::string> defines;
  cmd->add_option("files", files, "Files to check")->required();
  cmd->add_option("-D,--define", defines, "Override a const: -D NAME=VALUE");
  cmd->callback([&exitCode] {
    bool color = isatty(STDERR_FILENO) != 0;
    std::vector<dsl::ConstOverride> overrides;
    for (const std::string &text : defines) {
      dsl::ConstOverride o;
      if (!parseDefine(text, o)) {
        std::cerr << "attnc: error: -D expects NAME=VALUE, got '" << text << "'\n";
        exitCode = kExitUsage;
        return;
      }
      overrides.push_back(o);
    }
    bool ok = true;
    for (const std::string &path : files) {
      dsl::SourceFile file(path, "");
      std::string error;
      if (!dsl::SourceFile::load(path, file, error)) {
        std::cerr << "attnc: error: " << error << '\n';
        ok = false;
        continue;
      }
      dsl::DiagnosticEngine diags(&file);
      // Warnings (e.g. a division by a constant zero) are printed for valid files too.
      if (!dsl::parseAndCheck(file, diags, overrides))
        ok = false;
      diags.print(std::cerr, color);
    }
    exitCode = ok ? kExitOk : kExitInputError;
  });
}

} // namespace attnc::tools
