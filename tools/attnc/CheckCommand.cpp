//===- CheckCommand.cpp - attnc check ---------------------------------------===//
// Not implemented yet: registered so the CLI's shape is fixed; it reports that plainly.
#include "Commands.h"

#include <iostream>

namespace attnc::tools {

void registerCheckCommand(CLI::App &app, int &exitCode) {
  auto *cmd = app.add_subcommand("check", "(not implemented yet)");
  cmd->allow_extras();
  cmd->callback([&exitCode] {
    std::cerr << "attnc: error: 'check' is not implemented yet\n";
    exitCode = kExitUsage;
  });
}

} // namespace attnc::tools
