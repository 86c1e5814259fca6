//===- CacheCommand.cpp - attnc cache list|clear|path ---------------------===//
//
// Inspects the on-disk kernel cache (see docs/runtime.md for its layout):
//   attnc cache path          the directory in use
//   attnc cache list          entries: key prefix, attention, arch, size, age, validity
//   attnc cache clear         deletes every entry
// `--dir DIR` (before or after the subcommand) overrides the directory (default:
// $ATTNC_CACHE_DIR, $XDG_CACHE_HOME/attnc, ~/.cache/attnc).
//
//===----------------------------------------------------------------------===//
#include "Commands.h"

#include "attnc/runtime/KernelCache.h"

#include <ctime>
#include <iomanip>
#include <iostream>
#include <memory>
#include <sstream>
#include <vector>

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
  // `attnc cache --dir D list` and `attnc cache list --dir D` both work.
  auto addDirOption = [&options](CLI::App *command) {
    command->add_option("--dir", options->directory,
                        "Cache directory (default: $ATTNC_CACHE_DIR, $XDG_CACHE_HOME/attnc, "
                        "~/.cache/attnc)");
  };
  addDirOption(cmd);

  auto *path = cmd->add_subcommand("path", "Print the cache directory");
  addDirOption(path);
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
  addDirOption(list);
  list->callback([options, &exitCode] {
    std::string directory = resolveDirectory(*options);
    std::string error;
    auto items = runtime::KernelCache::listDirectory(directory, &error);
    if (!error.empty()) {
      std::cerr << "attnc: error: " << error << "\n";
      exitCode = kExitRuntimeError;
      return;
    }
    uint64_t total = 0;
    size_t entries = 0;
    if (!items.empty())
      std::cout << std::left << std::setw(18) << "KEY" << std::setw(24) << "ATTENTION"
                << std::setw(9) << "ARCH" << std::setw(12) << "SIZE" << std::setw(7) << "AGE"
                << "STATE\n";
    for (const auto &item : items) {
      std::cout << std::left << std::setw(18) << item.key.substr(0, 16);
      if (!item.notEntry.empty()) {
        // Never opened: its size and contents mean nothing to the cache.
        std::cout << std::setw(24) << "-" << std::setw(9) << "-" << std::setw(12) << "-"
                  << std::setw(7) << "-"
                  << "not an entry (" << item.notEntry << "; ignored)\n";
        continue;
      }
      ++entries;
      total += item.fileSize;
      std::cout << std::setw(24) << (item.name.empty() ? "?" : item.name) << std::setw(9)
                << (item.arch.empty() ? "?" : item.arch) << std::setw(12)
                << humanSize(item.fileSize) << std::setw(7) << humanAge(item.createdUnix)
                << (item.valid ? "ok" : "corrupt: " + item.problem + " (recompiled on next use)")
                << "\n";
    }
    std::cout << entries << " entr" << (entries == 1 ? "y" : "ies") << ", " << humanSize(total)
              << " in " << (directory.empty() ? "(disabled)" : directory);
    if (items.size() != entries)
      std::cout << "; " << items.size() - entries << " other item"
                << (items.size() - entries == 1 ? "" : "s") << " ignored";
    std::cout << "\n";
    exitCode = kExitOk;
  });

  auto *clear = cmd->add_subcommand("clear", "Delete every cached kernel");
  addDirOption(clear);
  clear->callback([options, &exitCode] {
    std::string directory = resolveDirectory(*options);
    runtime::CacheClearResult result;
    bool ok = runtime::KernelCache::clearDirectory(directory, result);
    std::cout << "removed " << result.entries << " entr" << (result.entries == 1 ? "y" : "ies");
    if (result.otherItems)
      std::cout << " and " << result.otherItems << " other item"
                << (result.otherItems == 1 ? "" : "s");
    std::cout << " from " << (directory.empty() ? "(disabled)" : directory) << "\n";
    for (const auto &error : result.errors)
      std::cerr << "attnc: error: " << error << "\n";
    exitCode = ok ? kExitOk : kExitRuntimeError;
  });
}

} // namespace attnc::tools
