//===- KernelCache.cpp - In-memory and on-disk kernel cache ---------------===//
#include "attnc/runtime/KernelCache.h"

#include "attnc/runtime/Hash.h"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include <unistd.h>

namespace fs = std::filesystem;

namespace attnc::runtime {

namespace {
constexpr const char *kMagic = "ATTNC-KERNEL-CACHE 1";
constexpr const char *kEntrySuffix = ".cubin";
constexpr const char *kTempPrefix = ".tmp-";

bool isHexKey(const std::string &s) {
  if (s.size() != 64)
    return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
      return false;
  return true;
}

/// A name unique across processes and threads for a temporary file.
std::string temporaryName(const std::string &key) {
  static std::atomic<uint64_t> counter{0};
  std::ostringstream name;
  name << kTempPrefix << key.substr(0, 16) << "-" << getpid() << "-"
       << std::hash<std::thread::id>()(std::this_thread::get_id()) << "-" << counter++;
  return name.str();
}

struct ParsedHeader {
  std::string key, arch, name, checksum;
  uint64_t size = 0;
  int64_t created = 0;
  size_t payloadOffset = 0;
};

/// Parses the text header; false with a reason if it is malformed.
bool parseHeader(const std::string &data, ParsedHeader &header, std::string &reason) {
  size_t pos = 0;
  auto nextLine = [&](std::string &line) {
    size_t end = data.find('\n', pos);
    if (end == std::string::npos || end - pos > 4096)
      return false;
    line = data.substr(pos, end - pos);
    pos = end + 1;
    return true;
  };
  std::string line;
  if (!nextLine(line) || line != kMagic) {
    reason = "not an attnc cache entry (bad magic)";
    return false;
  }
  bool haveSize = false;
  for (int fields = 0; fields < 16; ++fields) {
    if (!nextLine(line)) {
      reason = "truncated header";
      return false;
    }
    if (line == "end") {
      if (!haveSize || header.checksum.size() != 64 || header.key.empty()) {
        reason = "incomplete header";
        return false;
      }
      header.payloadOffset = pos;
      return true;
    }
    size_t space = line.find(' ');
    std::string field = line.substr(0, space);
    std::string value = space == std::string::npos ? "" : line.substr(space + 1);
    if (field == "key")
      header.key = value;
    else if (field == "arch")
      header.arch = value;
    else if (field == "name")
      header.name = value;
    else if (field == "sha256")
      header.checksum = value;
    else if (field == "size" || field == "created") {
      char *end = nullptr;
      errno = 0;
      long long number = std::strtoll(value.c_str(), &end, 10);
      if (value.empty() || *end != '\0' || errno != 0 || number < 0) {
        reason = "bad number in header field '" + field + "'";
        return false;
      }
      if (field == "size") {
        header.size = uint64_t(number);
        haveSize = true;
      } else {
        header.created = number;
      }
    }
  }
  reason = "header too long";
  return false;
}

bool readWholeFile(const std::string &path, std::string &data, std::string &reason) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    reason = "cannot open";
    return false;
  }
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) {
    reason = "read error";
    return false;
  }
  data = buffer.str();
  return true;
}
} // namespace

std::string makeKernelCacheKey(const std::vector<std::string> &fields) {
  Sha256 hasher;
  hasher.updateField("attnc-kernel-key-v1");
  for (const auto &field : fields)
    hasher.updateField(field);
  return hasher.finishHex();
}

std::string defaultCacheDirectory() {
  if (const char *dir = std::getenv("ATTNC_CACHE_DIR")) {
    std::string value = dir;
    if (value == "off" || value == "none" || value == "0")
      return "";
    if (!value.empty())
      return value;
  }
  if (const char *xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg)
    return std::string(xdg) + "/attnc";
  if (const char *home = std::getenv("HOME"); home && *home)
    return std::string(home) + "/.cache/attnc";
  return "";
}

std::string KernelCache::entryPath(const std::string &directory, const std::string &key) {
  return directory + "/" + key + kEntrySuffix;
}

KernelCache::KernelCache(std::string directory) : directory_(std::move(directory)) {
  diskEnabled_ = !directory_.empty();
}

bool KernelCache::diskEnabled() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return diskEnabled_;
}

std::string KernelCache::diskWarning() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return diskWarning_;
}

CacheStats KernelCache::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return stats_;
}

void KernelCache::clearMemory() {
  std::lock_guard<std::mutex> lock(mutex_);
  memory_.clear();
}

void KernelCache::disableDisk(const std::string &warning) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!diskEnabled_)
    return;
  diskEnabled_ = false;
  diskWarning_ = "kernel cache directory '" + directory_ + "' is not usable (" + warning +
                 "); caching compiled kernels in memory only";
  std::cerr << "attnc: warning: " << diskWarning_ << "\n";
}

/// Creates the directory and proves it writable with a probe file, once.
bool KernelCache::ensureDirectory() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!diskEnabled_)
      return false;
    if (directoryChecked_)
      return true;
    directoryChecked_ = true;
  }
  std::error_code ec;
  fs::create_directories(directory_, ec);
  if (ec || !fs::is_directory(directory_, ec)) {
    disableDisk(ec ? "cannot create it: " + ec.message() : "not a directory");
    return false;
  }
  std::string probe = directory_ + "/" + temporaryName("probe");
  FILE *file = std::fopen(probe.c_str(), "wb");
  if (!file) {
    disableDisk(std::string("cannot write to it: ") + std::strerror(errno));
    return false;
  }
  std::fclose(file);
  std::remove(probe.c_str());
  return true;
}

bool KernelCache::readEntry(const std::string &path, const std::string &expectedKey,
                            std::string &payload, std::string &reason) {
  std::string data;
  if (!readWholeFile(path, data, reason))
    return false;
  ParsedHeader header;
  if (!parseHeader(data, header, reason))
    return false;
  if (!expectedKey.empty() && header.key != expectedKey) {
    reason = "key mismatch";
    return false;
  }
  if (data.size() - header.payloadOffset != header.size) {
    reason = "size mismatch (header says " + std::to_string(header.size) + ", file has " +
             std::to_string(data.size() - header.payloadOffset) + ")";
    return false;
  }
  payload = data.substr(header.payloadOffset);
  if (sha256Hex(payload) != header.checksum) {
    reason = "checksum mismatch";
    return false;
  }
  return true;
}

bool KernelCache::writeEntry(const std::string &path, const std::string &key,
                             const CacheEntryMeta &meta, const std::string &payload,
                             std::string &reason) {
  std::ostringstream header;
  header << kMagic << "\n"
         << "key " << key << "\n"
         << "arch " << meta.arch << "\n"
         << "name " << meta.name << "\n"
         << "size " << payload.size() << "\n"
         << "sha256 " << sha256Hex(payload) << "\n"
         << "created " << static_cast<long long>(std::time(nullptr)) << "\n"
         << "end\n";
  std::string directory = fs::path(path).parent_path().string();
  std::string temp = (directory.empty() ? "." : directory) + "/" + temporaryName(key);
  FILE *file = std::fopen(temp.c_str(), "wb");
  if (!file) {
    reason = std::string("cannot create '") + temp + "': " + std::strerror(errno);
    return false;
  }
  std::string text = header.str();
  bool ok = std::fwrite(text.data(), 1, text.size(), file) == text.size() &&
            std::fwrite(payload.data(), 1, payload.size(), file) == payload.size();
  ok = (std::fflush(file) == 0) && ok;
  ok = (fsync(fileno(file)) == 0) && ok;
  ok = (std::fclose(file) == 0) && ok;
  if (!ok) {
    reason = std::string("cannot write '") + temp + "': " + std::strerror(errno);
    std::remove(temp.c_str());
    return false;
  }
  // rename() is atomic within a file system: readers see the old entry or the new one.
  if (std::rename(temp.c_str(), path.c_str()) != 0) {
    reason = std::string("cannot rename to '") + path + "': " + std::strerror(errno);
    std::remove(temp.c_str());
    return false;
  }
  return true;
}

bool KernelCache::getOrCompile(const std::string &key, const CacheEntryMeta &meta,
                               const CompileFn &compile, std::shared_ptr<const std::string> &binary,
                               std::string &log, std::string &error) {
  std::promise<Outcome> promise;
  {
    std::unique_lock<std::mutex> lock(mutex_);
    if (auto it = memory_.find(key); it != memory_.end()) {
      ++stats_.memoryHits;
      binary = it->second;
      return true;
    }
    if (auto it = inFlight_.find(key); it != inFlight_.end()) {
      // Another thread compiles this key: wait for its result instead of compiling again.
      std::shared_future<Outcome> pending = it->second;
      lock.unlock();
      const Outcome &outcome = pending.get();
      lock.lock();
      if (outcome.ok)
        ++stats_.memoryHits;
      binary = outcome.binary;
      log = outcome.log;
      error = outcome.error;
      return outcome.ok;
    }
    inFlight_.emplace(key, promise.get_future().share());
  }

  Outcome outcome;
  bool useDisk = ensureDirectory();
  std::string path = useDisk ? entryPath(directory_, key) : std::string();
  if (useDisk) {
    DiskRead read = readFromDisk(key, outcome.binary);
    outcome.ok = read == DiskRead::Hit;
    if (read == DiskRead::Corrupt) {
      // A corrupted entry is recompiled and rewritten below.
      std::lock_guard<std::mutex> lock(mutex_);
      ++stats_.corruptEntries;
    }
  }
  if (!outcome.ok) {
    std::string produced;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      ++stats_.compilations;
    }
    try {
      outcome.ok = compile(produced, outcome.log, outcome.error);
    } catch (const std::exception &e) {
      outcome.ok = false;
      outcome.error = std::string("internal error while compiling: ") + e.what();
    }
    if (outcome.ok) {
      outcome.binary = std::make_shared<const std::string>(std::move(produced));
      std::string reason;
      if (useDisk) {
        if (writeEntry(path, key, meta, *outcome.binary, reason)) {
          std::lock_guard<std::mutex> lock(mutex_);
          ++stats_.diskWrites;
        } else {
          disableDisk(reason);
        }
      }
    }
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (outcome.ok)
      memory_[key] = outcome.binary;
    inFlight_.erase(key);
  }
  binary = outcome.binary;
  log = outcome.log;
  error = outcome.error;
  promise.set_value(std::move(outcome));
  return binary != nullptr;
}

KernelCache::DiskRead KernelCache::readFromDisk(const std::string &key,
                                                std::shared_ptr<const std::string> &binary) {
  std::string path = entryPath(directory_, key), payload, reason;
  std::error_code ec;
  if (!fs::exists(path, ec))
    return DiskRead::Missing;
  if (!readEntry(path, key, payload, reason))
    return DiskRead::Corrupt;
  binary = std::make_shared<const std::string>(std::move(payload));
  std::lock_guard<std::mutex> lock(mutex_);
  ++stats_.diskHits;
  return DiskRead::Hit;
}

bool KernelCache::lookup(const std::string &key, std::shared_ptr<const std::string> &binary) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (auto it = memory_.find(key); it != memory_.end()) {
      ++stats_.memoryHits;
      binary = it->second;
      return true;
    }
  }
  // A corrupt entry is left to getOrCompile, which counts, recompiles and rewrites it.
  std::shared_ptr<const std::string> loaded;
  if (!ensureDirectory() || readFromDisk(key, loaded) != DiskRead::Hit)
    return false;
  std::lock_guard<std::mutex> lock(mutex_);
  auto &slot = memory_[key];
  if (!slot)
    slot = std::move(loaded);
  binary = slot;
  return true;
}

std::vector<CacheEntryInfo> KernelCache::listDirectory(const std::string &directory) {
  std::vector<CacheEntryInfo> entries;
  std::error_code ec;
  if (directory.empty() || !fs::is_directory(directory, ec))
    return entries;
  for (const auto &item : fs::directory_iterator(directory, ec)) {
    std::string fileName = item.path().filename().string();
    size_t suffixLength = std::strlen(kEntrySuffix);
    if (fileName.size() <= suffixLength ||
        fileName.compare(fileName.size() - suffixLength, suffixLength, kEntrySuffix) != 0)
      continue;
    CacheEntryInfo info;
    info.path = item.path().string();
    info.key = fileName.substr(0, fileName.size() - suffixLength);
    std::error_code sizeError;
    info.fileSize = fs::file_size(item.path(), sizeError);
    std::string data, reason, payload;
    if (readWholeFile(info.path, data, reason)) {
      ParsedHeader header;
      if (parseHeader(data, header, reason)) {
        info.arch = header.arch;
        info.name = header.name;
        info.createdUnix = header.created;
      }
      info.valid = isHexKey(info.key) && readEntry(info.path, info.key, payload, reason);
    }
    entries.push_back(std::move(info));
  }
  std::sort(entries.begin(), entries.end(),
            [](const CacheEntryInfo &a, const CacheEntryInfo &b) { return a.path < b.path; });
  return entries;
}

bool KernelCache::clearDirectory(const std::string &directory, size_t &removed,
                                 std::string &error) {
  removed = 0;
  std::error_code ec;
  if (directory.empty() || !fs::exists(directory, ec))
    return true;
  if (!fs::is_directory(directory, ec)) {
    error = "'" + directory + "' is not a directory";
    return false;
  }
  for (const auto &item : fs::directory_iterator(directory, ec)) {
    std::string fileName = item.path().filename().string();
    bool isEntry = fileName.size() > 6 && fileName.compare(fileName.size() - 6, 6, ".cubin") == 0;
    bool isTemp = fileName.rfind(kTempPrefix, 0) == 0;
    if (!isEntry && !isTemp)
      continue;
    std::error_code removeError;
    if (!fs::remove(item.path(), removeError)) {
      error = "cannot remove '" + item.path().string() + "': " + removeError.message();
      return false;
    }
    if (isEntry)
      ++removed;
  }
  if (ec) {
    error = "cannot read '" + directory + "': " + ec.message();
    return false;
  }
  return true;
}

} // namespace attnc::runtime
