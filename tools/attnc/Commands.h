//===- Commands.h - attnc subcommands ----------------------------*- C++ -*-===//
//
// Each subcommand lives in its own file and registers itself on the CLI11 app. The
// callback it installs sets `exitCode` (see docs/cli.md for the meaning of each code).
//
//===----------------------------------------------------------------------===//
#ifndef ATTNC_TOOLS_COMMANDS_H
#define ATTNC_TOOLS_COMMANDS_H

#include <CLI/CLI.hpp>

namespace attnc::tools {

/// Exit codes shared by every subcommand.
enum ExitCode : int {
  kExitOk = 0,
  kExitInputError = 1,   ///< diagnostics in the user's program or bad input files
  kExitUsage = 2,        ///< bad command-line usage (CLI11 errors too)
  kExitCompileError = 3, ///< NVRTC or internal compiler failure
  kExitRuntimeError = 4, ///< no GPU / driver, launch failure, cache failure
  kExitCheckFailed = 5,  ///< `run --check` found a mismatch
};

void registerCheckCommand(CLI::App &app, int &exitCode);
void registerCompileCommand(CLI::App &app, int &exitCode);
void registerRunCommand(CLI::App &app, int &exitCode);
void registerExplainCommand(CLI::App &app, int &exitCode);
void registerVizCommand(CLI::App &app, int &exitCode);
void registerCacheCommand(CLI::App &app, int &exitCode);

} // namespace attnc::tools

#endif // ATTNC_TOOLS_COMMANDS_H
