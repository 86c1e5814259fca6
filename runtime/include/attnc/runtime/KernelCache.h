//===- KernelCache.h - In-memory and on-disk cache of compiled kernels -*- C++ -*-===//
//
// Compiled kernels (a cubin and its KernelManifest) are cached in memory per process and
// on disk across processes. Keys are SHA-256 hashes of everything that determines the binary
// (makeKernelCacheKey). Disk entries are written atomically (temporary file + rename)
// and carry a checksum over the manifest and the binary, and the manifest is read back
// strictly, so a torn or corrupted entry is detected, recompiled and rewritten. Entries are read
// only when they are regular files (never through a symbolic link) of at most kMaxEntryBytes. When
// the directory is missing and cannot be created, the cache keeps working in memory only and warns
// once; when entries cannot be written (a read-only directory, a full disk) the existing entries
// are still served and new kernels stay in memory, with one note. Threads asking for the same key
// at the same time compile it once; the others wait for that result.
//
// Disk layout: <dir>/<key>.cubin, each a text header, the manifest, then the binary:
//   ATTNC-KERNEL-CACHE 2\n key <64 hex>\n arch <sm_XX>\n name <attention>\n
//   manifest <bytes>\n size <bytes of the binary>\n sha256 <64 hex of manifest + binary>\n
//   created <unix seconds>\n end\n <manifest text> <binary>
//
//===----------------------------------------------------------------------===//
#ifndef ATTNC_RUNTIME_KERNELCACHE_H
#define ATTNC_RUNTIME_KERNELCACHE_H

#include "attnc/runtime/KernelManifest.h"

#include <cstdint>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace attnc::runtime {

/// Counters for tests and `attnc cache`; they only ever grow.
struct CacheStats {
  uint64_t compilations = 0;   ///< the compile callback ran (successfully or not)
  uint64_t memoryHits = 0;     ///< found in memory (including waiting for another thread)
  uint64_t diskHits = 0;       ///< loaded from a valid disk entry
  uint64_t diskWrites = 0;     ///< entries written to disk
  uint64_t corruptEntries = 0; ///< disk entries rejected (bad header, size or checksum)
};

/// One item named like an entry (`*.cubin`) in a cache directory, as listed by
/// `attnc cache list`.
struct CacheEntryInfo {
  std::string path;
  std::string key;
  std::string arch;
  std::string name;
  uint64_t fileSize = 0;   ///< 0 for an item that is not an entry
  int64_t createdUnix = 0; ///< from the header; 0 when unreadable
  bool valid = false;      ///< header and checksum verified
  /// Empty for a regular file; otherwise what the item is ("a directory", "a symbolic
  /// link", "a FIFO"...): it is not an entry, is never opened, and readers skip it.
  std::string notEntry;
  /// Why a regular file is not valid (empty when valid).
  std::string problem;
};

/// What `KernelCache::clearDirectory` did.
struct CacheClearResult {
  size_t entries = 0;    ///< regular files named like entries that were removed
  size_t otherItems = 0; ///< links, FIFOs, empty directories... named like entries, removed
  std::vector<std::string> errors; ///< one message per item that could not be removed
};

/// What a cache entry describes: arch and name go into its header, the manifest is stored
/// with the binary. The caller makes the manifest part of the key (makeKernelCacheKey), so
/// one key always has one manifest.
struct CacheEntryMeta {
  std::string arch;
  std::string name;
  KernelManifest manifest;
};

/// One cached kernel: the binary and the manifest its launches read.
struct CachedKernel {
  std::string binary;
  KernelManifest manifest;
};

/// Hashes the fields that determine a compiled kernel (generated source, options, arch,
/// NVRTC version, attnc version...). Every field is length-prefixed.
std::string makeKernelCacheKey(const std::vector<std::string> &fields);

/// The default directory: $ATTNC_CACHE_DIR, else $XDG_CACHE_HOME/attnc, else
/// $HOME/.cache/attnc. ATTNC_CACHE_DIR=off (or an empty HOME and no other variable)
/// gives "" (memory only).
std::string defaultCacheDirectory();

class KernelCache {
public:
  /// The largest entry file read or written (header included). Cubins are far smaller;
  /// the cap keeps a damaged or hostile entry from exhausting memory.
  static constexpr uint64_t kMaxEntryBytes = uint64_t(64) << 20;

  /// Produces the binary for a key on a miss. Returns false and sets `error` on failure;
  /// `log` receives diagnostics (NVRTC's log) either way.
  using CompileFn = std::function<bool(std::string &binary, std::string &log, std::string &error)>;

  /// `directory` empty: memory only.
  explicit KernelCache(std::string directory);
  KernelCache(const KernelCache &) = delete;
  KernelCache &operator=(const KernelCache &) = delete;

  /// Returns the kernel for `key`, from memory, disk (with the manifest stored there), or by
  /// calling `compile` (once per key at a time across threads; the new entry gets
  /// `meta.manifest`). Failures are not cached: a later call retries.
  bool getOrCompile(const std::string &key, const CacheEntryMeta &meta, const CompileFn &compile,
                    std::shared_ptr<const CachedKernel> &kernel, std::string &log,
                    std::string &error);

  /// Returns the kernel for `key` if it is in memory or in a valid disk entry, without
  /// compiling and without waiting for a compile in flight (counted as a memory or disk
  /// hit). Used to decide whether a quick first kernel is worth compiling.
  bool lookup(const std::string &key, std::shared_ptr<const CachedKernel> &kernel);

  CacheStats stats() const;
  const std::string &directory() const { return directory_; }
  /// False when entries are kept in memory only (no directory, or it cannot be created).
  bool diskEnabled() const;
  /// False once writing an entry failed (a read-only directory, a full disk): existing
  /// entries are still served, new kernels are kept in memory only.
  bool diskWritable() const;
  /// The warning or note issued when the disk cache was disabled or stopped writing
  /// (empty if it never was).
  std::string diskWarning() const;
  /// Drops the in-memory entries (disk entries stay); for tests.
  void clearMemory();

  /// Items named like entries in a cache directory, sorted by path. Only regular files are
  /// opened (see CacheEntryInfo::notEntry). `error` (when given) is set when the directory
  /// exists but cannot be read.
  static std::vector<CacheEntryInfo> listDirectory(const std::string &directory,
                                                   std::string *error = nullptr);
  /// Deletes every cache entry (and stale temporary file) in a directory, never following
  /// a link and never recursing (an empty directory named like an entry is removed, a
  /// non-empty one is not). Goes on past items it cannot remove: returns false when any
  /// could not be removed (or the directory cannot be read), with the reasons in `result`.
  static bool clearDirectory(const std::string &directory, CacheClearResult &result);
  /// Reads and verifies one entry; false (with a reason) when missing, not a regular file,
  /// larger than kMaxEntryBytes, corrupted, of an older format or with a bad manifest.
  static bool readEntry(const std::string &path, const std::string &expectedKey,
                        CachedKernel &entry, std::string &reason);
  /// Writes one entry (`meta.manifest` and `binary`) atomically; false (with a reason) when
  /// it cannot.
  static bool writeEntry(const std::string &path, const std::string &key,
                         const CacheEntryMeta &meta, const std::string &binary,
                         std::string &reason);
  /// The path of a key's entry inside a directory.
  static std::string entryPath(const std::string &directory, const std::string &key);

private:
  struct Outcome {
    bool ok = false;
    std::shared_ptr<const CachedKernel> binary;
    std::string log;
    std::string error;
  };
  enum class DiskRead { Missing, Hit, Corrupt };
  /// Reads and verifies the key's entry (the directory must be usable); counts a hit.
  DiskRead readFromDisk(const std::string &key, std::shared_ptr<const CachedKernel> &binary);
  void disableDisk(const std::string &warning);
  void disableWrites(const std::string &reason);
  bool ensureDirectory();

  std::string directory_;
  mutable std::mutex mutex_;
  bool diskEnabled_ = false;
  bool diskWritable_ = false;
  bool directoryChecked_ = false;
  std::string diskWarning_;
  std::map<std::string, std::shared_ptr<const CachedKernel>> memory_;
  std::map<std::string, std::shared_future<Outcome>> inFlight_;
  CacheStats stats_;
};

} // namespace attnc::runtime

#endif // ATTNC_RUNTIME_KERNELCACHE_H
