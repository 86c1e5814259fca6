//===- CacheCommand.cpp - attnc cache list|clear|path ---------------------===//
//
// Inspects the on-disk kernel cache (see docs/runtime.md for its layout):
//   attnc cache path          the directory in use
//   attnc cache list          entries: key prefix, attention, arch, size, age, validity
//   attnc cache clear         deletes every entry
// `--dir DIR` overrides the directory (default: $ATTNC_CACHE_DIR, $XDG_CACHE_HOME/attnc,
// ~/.cache/attnc).
//
//===----------------------------------------------------------------------===//
#include "Commands.h"

#include "attnc/runtime/KernelCache.h"

#include <ctime>
#include <iomanip>
#include <iostream>
#include <memory>
#include <sstream>

namespace attnc::tools {

namespace {
std::string humanSize(uint64_t bytes) {
  std::ostringstream out;
  if (bytes < 1024)
    out << bytes << " B";
  else if (bytes < 1024 * 1024)
    out << std::fixed << std::setprecision(1) << double(bytes) / 1024 << " KiB";
  else
    out << std::fixed << std::setprecision(1) << double(bytes) / (1024 * 1024) << " MiB";
  return out.str();
}

std::string humanAge(int64_t createdUnix) {
  if (createdUnix <= 0)
    return "?";
  int64_t seconds = std::max<int64_t>(0, int64_t(std::time(nullptr)) - createdUnix);
  std::ostringstream out;
  if (seconds < 120)
    out << seconds << "s";
  else if (seconds < 2 * 3600)
    out << seconds / 60 << "m";
  else if (seconds < 2 * 86400)
    out << seconds / 3600 << "h";
  else
    out << seconds / 86400 << "d";
  return out.str();
}

struct CacheOptions {
  std::string directory;
};

std::string resolveDirectory(const CacheOptions &options) {
  return options.directory.empty() ? runtime::defaultCacheDirectory() : options.directory;
}
} // namespace

void registerCacheCommand(CLI::App &app, int &exitCode) {
  auto options = std::make_shared<CacheOptions>();
  auto *cmd = app.add_subcommand("cache", "Inspect or clear the on-disk kernel cache");
  cmd->require_subcommand(1);
  cmd->add_option("--dir", options->directory,
                  "Cache directory (default: $ATTNC_CACHE_DIR, $XDG_CACHE_HOME/attnc, "
                  "~/.cache/attnc)");

  auto *path = cmd->add_subcommand("path", "Print the cache directory");
  path->callback([options, &exitCode] {
    std::string directory = resolveDirectory(*options);
    if (directory.empty()) {
      std::cerr << "attnc: the disk cache is disabled (ATTNC_CACHE_DIR=off or no HOME)\n";
      exitCode = kExitRuntimeError;
      return;
    }
    std::cout << directory << "\n";
    exitCode = kExitOk;
  });

  auto *list = cmd->add_subcommand("list", "List cached kernels (size, arch, age)");
  list->callback([options, &exitCode] {
    std::string directory = resolveDirectory(*options);
    auto entries = runtime::KernelCache::listDirectory(directory);
    uint64_t total = 0;
    if (!entries.empty())
      std::cout << std::left << std::setw(18) << "KEY" << std::setw(24) << "ATTENTION"
                << std::setw(9) << "ARCH" << std::setw(12) << "SIZE" << std::setw(7) << "AGE"
                << "STATE\n";
    for (const auto &entry : entries) {
      total += entry.fileSize;
      std::cout << std::left << std::setw(18) << entry.key.substr(0, 16) << std::setw(24)
                << (entry.name.empty() ? "?" : entry.name) << std::setw(9)
                << (entry.arch.empty() ? "?" : entry.arch) << std::setw(12)
                << humanSize(entry.fileSize) << std::setw(7) << humanAge(entry.createdUnix)
                << (entry.valid ? "ok" : "corrupt (recompiled on next use)") << "\n";
    }
    std::cout << entries.size() << " entr" << (entries.size() == 1 ? "y" : "ies") << ", "
              << humanSize(total) << " in " << (directory.empty() ? "(disabled)" : directory)
              << "\n";
    exitCode = kExitOk;
  });

  auto *clear = cmd->add_subcommand("clear", "Delete every cached kernel");
  clear->callback([options, &exitCode] {
    std::string directory = resolveDirectory(*options);
    size_t removed = 0;
    std::string error;
    if (!runtime::KernelCache::clearDirectory(directory, removed, error)) {
      std::cerr << "attnc: error: " << error << "\n";
      exitCode = kExitRuntimeError;
      return;
    }
    std::cout << "removed " << removed << " entr" << (removed == 1 ? "y" : "ies") << " from "
              << (directory.empty() ? "(disabled)" : directory) << "\n";
    exitCode = kExitOk;
  });
}

} // namespace attnc::tools
