//===- CompileCommand.cpp - attnc compile ---------------------------------------===//
// Not implemented yet: registered so the CLI's shape is fixed; it reports that plainly.
#include "Commands.h"

#include <iostream>

namespace attnc::tools {

void registerCompileCommand(CLI::App &app, int &exitCode) {
  auto *cmd = app.add_subcommand("compile", "(not implemented yet)");
  cmd->allow_extras();
  cmd->callback([&exitCode] {
    std::cerr << "attnc: error: 'compile' is not implemented yet\n";
    exitCode = kExitUsage;
  });
}

} // namespace attnc::tools
