//===- KernelCache.cpp - In-memory and on-disk kernel cache ---------------===//
#include "attnc/runtime/KernelCache.h"

#include "attnc/dsl/BoundedRead.h"
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
#include <iostream>
#include <sstream>
#include <thread>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace fs = std::filesystem;

namespace attnc::runtime {

namespace {
constexpr const char *kMagic = "ATTNC-KERNEL-CACHE 2";
/// Entries of the format before manifests: listed with their header, never used.
constexpr const char *kMagicV1 = "ATTNC-KERNEL-CACHE 1";
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
  int version = 2;
  uint64_t manifestSize = 0; ///< the manifest's bytes, ahead of the binary
  uint64_t size = 0;         ///< the binary's bytes
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
  if (!nextLine(line) || (line != kMagic && line != kMagicV1)) {
    reason = "not an attnc cache entry (bad magic)";
    return false;
  }
  header.version = line == kMagic ? 2 : 1;
  bool haveSize = false, haveManifest = header.version == 1;
  for (int fields = 0; fields < 16; ++fields) {
    if (!nextLine(line)) {
      reason = "truncated header";
      return false;
    }
    if (line == "end") {
      if (!haveSize || !haveManifest || header.checksum.size() != 64 || header.key.empty()) {
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
    else if (field == "size" || field == "created" || field == "manifest") {
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
      } else if (field == "manifest") {
        header.manifestSize = uint64_t(number);
        haveManifest = true;
      } else {
        header.created = number;
      }
    }
  }
  reason = "header too long";
  return false;
}

/// Reads an entry file: a regular file (a symbolic link is refused, a FIFO or device is
/// never opened) of at most kMaxEntryBytes.
bool readEntryFile(const std::string &path, std::string &data, std::string &reason,
                   dsl::ReadFailure *failure = nullptr) {
  return dsl::readBoundedFile(path, {KernelCache::kMaxEntryBytes, /*followSymlinks=*/false}, data,
                              reason, failure);
}

/// Checks a whole entry file against its header (and key, when given); on success
/// `entry` holds the binary and its manifest, read back strictly.
bool verifyEntry(const std::string &data, const std::string &expectedKey,
                 const ParsedHeader &header, CachedKernel &entry, std::string &reason) {
  if (header.version != 2) {
    reason = "written in cache format " + std::to_string(header.version) + " by an older attnc";
    return false;
  }
  if (!expectedKey.empty() && header.key != expectedKey) {
    reason = "key mismatch";
    return false;
  }
  const uint64_t payloadSize = data.size() - header.payloadOffset;
  if (header.manifestSize > KernelManifest::kMaxManifestBytes ||
      payloadSize != header.manifestSize + header.size) {
    reason = "size mismatch (header says " + std::to_string(header.manifestSize) + " + " +
             std::to_string(header.size) + ", file has " + std::to_string(payloadSize) + ")";
    return false;
  }
  // The checksum covers the manifest and the binary.
  if (sha256Hex(std::string_view(data).substr(header.payloadOffset)) != header.checksum) {
    reason = "checksum mismatch";
    return false;
  }
  std::string why;
  if (!KernelManifest::parse(data.substr(header.payloadOffset, header.manifestSize), entry.manifest,
                             why)) {
    reason = "bad manifest (" + why + ")";
    return false;
  }
  if (entry.manifest.arch != header.arch) {
    reason = "the manifest's arch differs from the header's";
    return false;
  }
  entry.binary = data.substr(header.payloadOffset + header.manifestSize);
  return true;
}

bool hasSuffix(const std::string &name, const std::string &suffix) {
  return name.size() > suffix.size() &&
         name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
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
  diskWritable_ = diskEnabled_;
}

bool KernelCache::diskEnabled() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return diskEnabled_;
}

bool KernelCache::diskWritable() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return diskEnabled_ && diskWritable_;
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

void KernelCache::disableWrites(const std::string &reason) {
  // A read-only directory is a deployment choice (a prebuilt cache): a note, not a warning.
  bool readOnly = ::faccessat(AT_FDCWD, directory_.c_str(), W_OK, AT_EACCESS) != 0;
  std::lock_guard<std::mutex> lock(mutex_);
  if (!diskWritable_)
    return;
  diskWritable_ = false;
  diskWarning_ = (readOnly ? "kernel cache directory '" + directory_ + "' is read-only"
                           : "cannot write to kernel cache directory '" + directory_ + "'") +
                 " (" + reason + "); using its entries, keeping new kernels in memory only";
  std::cerr << "attnc: " << (readOnly ? "note: " : "warning: ") << diskWarning_ << "\n";
}

/// Creates the directory once. Writability is not probed: a read-only directory still
/// serves its entries, and the first failed write turns writing off (disableWrites).
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
  if (fs::is_directory(directory_, ec))
    return true;
  fs::create_directories(directory_, ec);
  if (ec || !fs::is_directory(directory_, ec)) {
    disableDisk(ec ? "cannot create it: " + ec.message() : "not a directory");
    return false;
  }
  return true;
}

bool KernelCache::readEntry(const std::string &path, const std::string &expectedKey,
                            CachedKernel &entry, std::string &reason) {
  std::string data;
  if (!readEntryFile(path, data, reason))
    return false;
  ParsedHeader header;
  return parseHeader(data, header, reason) && verifyEntry(data, expectedKey, header, entry, reason);
}

bool KernelCache::writeEntry(const std::string &path, const std::string &key,
                             const CacheEntryMeta &meta, const std::string &binary,
                             std::string &reason) {
  const std::string manifest = meta.manifest.serialize();
  Sha256 checksum;
  checksum.update(manifest);
  checksum.update(binary);
  std::ostringstream header;
  header << kMagic << "\n"
         << "key " << key << "\n"
         << "arch " << meta.arch << "\n"
         << "name " << meta.name << "\n"
         << "manifest " << manifest.size() << "\n"
         << "size " << binary.size() << "\n"
         << "sha256 " << checksum.finishHex() << "\n"
         << "created " << static_cast<long long>(std::time(nullptr)) << "\n"
         << "end\n";
  std::string text = header.str() + manifest;
  if (text.size() + binary.size() > kMaxEntryBytes) {
    reason = "the entry would be larger than " + dsl::formatByteLimit(kMaxEntryBytes);
    return false;
  }
  std::string directory = fs::path(path).parent_path().string();
  std::string temp = (directory.empty() ? "." : directory) + "/" + temporaryName(key);
  // A new file only: never write through a link or into a file someone placed there.
  int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
  FILE *file = fd >= 0 ? ::fdopen(fd, "wb") : nullptr;
  if (!file) {
    reason = std::string("cannot create '") + temp + "': " + std::strerror(errno);
    if (fd >= 0) {
      ::close(fd);
      std::remove(temp.c_str());
    }
    return false;
  }
  bool ok = std::fwrite(text.data(), 1, text.size(), file) == text.size() &&
            std::fwrite(binary.data(), 1, binary.size(), file) == binary.size();
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
                               const CompileFn &compile,
                               std::shared_ptr<const CachedKernel> &binary, std::string &log,
                               std::string &error) {
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
      outcome.binary =
          std::make_shared<const CachedKernel>(CachedKernel{std::move(produced), meta.manifest});
      // A binary too large for an entry (the header takes well under 4 KiB) stays in
      // memory; that says nothing about the directory, so writing stays on.
      bool fits = outcome.binary->binary.size() <= kMaxEntryBytes - 4096;
      if (useDisk && fits && diskWritable()) {
        std::string reason;
        if (writeEntry(path, key, meta, outcome.binary->binary, reason)) {
          std::lock_guard<std::mutex> lock(mutex_);
          ++stats_.diskWrites;
        } else {
          disableWrites(reason);
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
                                                std::shared_ptr<const CachedKernel> &binary) {
  std::string path = entryPath(directory_, key), data, reason;
  dsl::ReadFailure failure = dsl::ReadFailure::None;
  if (!readEntryFile(path, data, reason, &failure))
    return failure == dsl::ReadFailure::NotFound ? DiskRead::Missing : DiskRead::Corrupt;
  ParsedHeader header;
  CachedKernel entry;
  if (!parseHeader(data, header, reason) || !verifyEntry(data, key, header, entry, reason))
    return DiskRead::Corrupt;
  binary = std::make_shared<const CachedKernel>(std::move(entry));
  std::lock_guard<std::mutex> lock(mutex_);
  ++stats_.diskHits;
  return DiskRead::Hit;
}

bool KernelCache::lookup(const std::string &key, std::shared_ptr<const CachedKernel> &binary) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (auto it = memory_.find(key); it != memory_.end()) {
      ++stats_.memoryHits;
      binary = it->second;
      return true;
    }
  }
  // A corrupt entry is left to getOrCompile, which counts, recompiles and rewrites it.
  std::shared_ptr<const CachedKernel> loaded;
  if (!ensureDirectory() || readFromDisk(key, loaded) != DiskRead::Hit)
    return false;
  std::lock_guard<std::mutex> lock(mutex_);
  auto &slot = memory_[key];
  if (!slot)
    slot = std::move(loaded);
  binary = slot;
  return true;
}

std::vector<CacheEntryInfo> KernelCache::listDirectory(const std::string &directory,
                                                       std::string *error) {
  std::vector<CacheEntryInfo> entries;
  std::error_code ec;
  if (directory.empty() || !fs::is_directory(directory, ec))
    return entries;
  fs::directory_iterator it(directory, ec), end;
  for (; !ec && it != end; it.increment(ec)) {
    std::string fileName = it->path().filename().string();
    if (!hasSuffix(fileName, kEntrySuffix))
      continue;
    CacheEntryInfo info;
    info.path = it->path().string();
    info.key = fileName.substr(0, fileName.size() - std::strlen(kEntrySuffix));
    // The item itself, not a link's target: only regular files are ever opened.
    struct stat st;
    if (lstat(info.path.c_str(), &st) != 0) {
      info.notEntry = std::string("cannot stat: ") + std::strerror(errno);
      entries.push_back(std::move(info));
      continue;
    }
    if (!S_ISREG(st.st_mode)) {
      info.notEntry = dsl::describeFileKind(st.st_mode);
      entries.push_back(std::move(info));
      continue;
    }
    std::string data;
    CachedKernel payload;
    if (readEntryFile(info.path, data, info.problem)) {
      info.fileSize = data.size();
      ParsedHeader header;
      if (parseHeader(data, header, info.problem)) {
        info.arch = header.arch;
        info.name = header.name;
        info.createdUnix = header.created;
        if (!isHexKey(info.key))
          info.problem = "the file name is not a key";
        else
          info.valid = verifyEntry(data, info.key, header, payload, info.problem);
      }
    } else {
      info.fileSize = static_cast<uint64_t>(st.st_size);
    }
    entries.push_back(std::move(info));
  }
  if (ec && error)
    *error = "cannot read '" + directory + "': " + ec.message();
  std::sort(entries.begin(), entries.end(),
            [](const CacheEntryInfo &a, const CacheEntryInfo &b) { return a.path < b.path; });
  return entries;
}

bool KernelCache::clearDirectory(const std::string &directory, CacheClearResult &result) {
  result = CacheClearResult();
  std::error_code ec;
  if (directory.empty() || !fs::exists(directory, ec))
    return true;
  if (!fs::is_directory(directory, ec)) {
    result.errors.push_back("'" + directory + "' is not a directory");
    return false;
  }
  fs::directory_iterator it(directory, ec), end;
  for (; !ec && it != end; it.increment(ec)) {
    std::string fileName = it->path().filename().string();
    bool isEntry = hasSuffix(fileName, kEntrySuffix);
    bool isTemp = fileName.rfind(kTempPrefix, 0) == 0;
    if (!isEntry && !isTemp)
      continue;
    std::error_code statError;
    bool regular = it->symlink_status(statError).type() == fs::file_type::regular;
    // remove() unlinks a file or link (never its target) or removes an empty directory;
    // it never recurses, so nothing but the item itself can be lost.
    if (std::remove(it->path().c_str()) != 0) {
      result.errors.push_back("cannot remove '" + it->path().string() +
                              "': " + std::strerror(errno));
      continue;
    }
    if (isEntry && regular)
      ++result.entries;
    else if (isEntry)
      ++result.otherItems;
  }
  if (ec)
    result.errors.push_back("cannot read '" + directory + "': " + ec.message());
  return result.errors.empty();
}

} // namespace attnc::runtime
