//===- main.cpp - The attnc command-line compiler -------------------------===//
#include "Commands.h"

#include <iostream>

int main(int argc, char **argv) {
  CLI::App app{"attnc: JIT compiler for attention patterns"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("attnc ") + ATTNC_VERSION_STRING);
  // Usage errors take the same form as every other error of the tool (docs/cli.md).
  app.failure_message([](const CLI::App *, const CLI::Error &e) {
    return std::string("attnc: error: ") + e.what() + "\nRun with --help for more information.\n";
  });
  int exitCode = attnc::tools::kExitOk;
  attnc::tools::registerCheckCommand(app, exitCode);
  attnc::tools::registerCompileCommand(app, exitCode);
  attnc::tools::registerRunCommand(app, exitCode);
  attnc::tools::registerExplainCommand(app, exitCode);
  attnc::tools::registerVizCommand(app, exitCode);
  attnc::tools::registerCacheCommand(app, exitCode);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError &e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : attnc::tools::kExitUsage;
  }
  return exitCode;
}
