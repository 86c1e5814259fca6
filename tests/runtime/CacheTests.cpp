//===- CacheTests.cpp - The kernel cache: memory, disk, corruption, threads ===//
#include "TestUtil.h"

#include "attnc/runtime/Hash.h"
#include "attnc/runtime/KernelCache.h"

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <iostream>
#include <optional>
#include <thread>

#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

using namespace attnc::runtime;
using attnc::test::TempDir;
namespace fs = std::filesystem;

namespace {
/// A compile callback that returns `payload` and counts its calls.
KernelCache::CompileFn producing(std::string payload, std::atomic<int> &calls) {
  return [payload, &calls](std::string &binary, std::string &log, std::string &) {
    ++calls;
    binary = payload;
    log = "compiled";
    return true;
  };
}

/// What the tests store with their binaries: a valid manifest of a small kernel.
CacheEntryMeta testMeta(const std::string &arch = "sm_90a", const std::string &name = "test") {
  CacheEntryMeta meta;
  meta.arch = arch;
  meta.name = name;
  meta.manifest.attention = name;
  meta.manifest.arch = arch;
  meta.manifest.tile.forwardEntry = "attnc_forward_sm80_d128_bf16";
  meta.manifest.tile.summaryEntry = "attnc_summarize_input";
  meta.manifest.tile.launchTable = "attnc_forward_sm80_d128_bf16_config";
  return meta;
}

/// The binary of the cached kernel (kept alive by the returned pointer).
std::shared_ptr<const std::string> fetch(KernelCache &cache, const std::string &key,
                                         const KernelCache::CompileFn &compile) {
  std::shared_ptr<const CachedKernel> kernel;
  std::string log, error;
  REQUIRE(cache.getOrCompile(key, testMeta(), compile, kernel, log, error));
  REQUIRE(kernel);
  return std::shared_ptr<const std::string>(kernel, &kernel->binary);
}

/// An entry read that blocks (a FIFO) or streams (a device) would hang or exhaust the test
/// run; SIGALRM ends the process instead, which fails the test.
struct HangGuard {
  HangGuard() { alarm(20); }
  ~HangGuard() { alarm(0); }
};

const std::string kKey = makeKernelCacheKey({"cache-test"});
const std::string kPayload = std::string("\x7f"
                                         "ELF binary with \0 bytes",
                                         24);
} // namespace

TEST_CASE("a second request is served from memory", "[cache]") {
  KernelCache cache("");
  std::atomic<int> calls{0};
  CHECK(*fetch(cache, kKey, producing(kPayload, calls)) == kPayload);
  CHECK(*fetch(cache, kKey, producing(kPayload, calls)) == kPayload);
  CHECK(calls == 1);
  CHECK(cache.stats().compilations == 1);
  CHECK(cache.stats().memoryHits == 1);
  CHECK_FALSE(cache.diskEnabled());
}

TEST_CASE("a new cache on the same directory loads from disk", "[cache]") {
  TempDir dir;
  std::atomic<int> calls{0};
  {
    KernelCache first(dir.path());
    fetch(first, kKey, producing(kPayload, calls));
    CHECK(first.stats().diskWrites == 1);
  }
  KernelCache second(dir.path());
  CHECK(*fetch(second, kKey, producing("other", calls)) == kPayload);
  CHECK(calls == 1);
  CHECK(second.stats().diskHits == 1);
  CHECK(second.stats().compilations == 0);
  // Entries carry their metadata.
  auto entries = KernelCache::listDirectory(dir.path());
  REQUIRE(entries.size() == 1);
  CHECK(entries[0].key == kKey);
  CHECK(entries[0].arch == "sm_90a");
  CHECK(entries[0].name == "test");
  CHECK(entries[0].valid);
  CHECK(entries[0].createdUnix > 0);
}

TEST_CASE("writes are atomic and leave no temporary files", "[cache]") {
  TempDir dir;
  std::string path = KernelCache::entryPath(dir.path(), kKey);
  std::string reason;
  REQUIRE(KernelCache::writeEntry(path, kKey, testMeta("sm_80", "x"), kPayload, reason));
  // Many writers of the same entry at once: every reader sees a complete entry.
  std::vector<std::thread> writers;
  std::atomic<int> failures{0};
  for (int t = 0; t < 8; ++t)
    writers.emplace_back([&, t] {
      std::string payload = std::string(4096 * (t + 1), char('a' + t));
      std::string why;
      CachedKernel read;
      for (int i = 0; i < 10; ++i) {
        if (!KernelCache::writeEntry(path, kKey, testMeta("sm_80", "x"), payload, why))
          ++failures;
        if (!KernelCache::readEntry(path, kKey, read, why))
          ++failures;
      }
    });
  for (auto &w : writers)
    w.join();
  CHECK(failures == 0);
  size_t files = 0;
  for (const auto &item : fs::directory_iterator(dir.path())) {
    ++files;
    CHECK(item.path().filename().string().rfind(".tmp-", 0) != 0);
  }
  CHECK(files == 1);
}

TEST_CASE("a corrupted entry is detected, recompiled and rewritten", "[cache]") {
  TempDir dir;
  std::atomic<int> calls{0};
  std::string path = KernelCache::entryPath(dir.path(), kKey);
  {
    KernelCache cache(dir.path());
    fetch(cache, kKey, producing(kPayload, calls));
  }
  std::string data = attnc::test::readFile(path);
  REQUIRE(data.size() > kPayload.size());

  bool oversized = false;
  SECTION("a flipped payload byte") { data[data.size() - 3] ^= 0x20; }
  SECTION("a truncated file") { data.resize(data.size() - 5); }
  SECTION("a damaged header") { data[2] = '?'; }
  SECTION("a file past the entry size limit") { oversized = true; }
  SECTION("an empty file") { data.clear(); }
  attnc::test::writeFile(path, data);
  if (oversized) // sparse: the size check must refuse it before reading
    fs::resize_file(path, KernelCache::kMaxEntryBytes + 1);

  CachedKernel payload;
  std::string reason;
  CHECK_FALSE(KernelCache::readEntry(path, kKey, payload, reason));
  CHECK_FALSE(reason.empty());

  KernelCache cache(dir.path());
  CHECK(*fetch(cache, kKey, producing(kPayload, calls)) == kPayload);
  CHECK(calls == 2);
  CHECK(cache.stats().corruptEntries == 1);
  CHECK(cache.stats().compilations == 1);
  CHECK(cache.stats().diskWrites == 1);
  REQUIRE(KernelCache::readEntry(path, kKey, payload, reason));
  CHECK(payload.binary == kPayload);
}

TEST_CASE("an entry stored under another key is rejected", "[cache]") {
  TempDir dir;
  std::string otherKey = makeKernelCacheKey({"other"});
  CachedKernel payload;
  std::string reason;
  REQUIRE(KernelCache::writeEntry(KernelCache::entryPath(dir.path(), kKey), otherKey,
                                  testMeta("sm_80", "x"), kPayload, reason));
  CHECK_FALSE(
      KernelCache::readEntry(KernelCache::entryPath(dir.path(), kKey), kKey, payload, reason));
  CHECK(reason == "key mismatch");
}

TEST_CASE("an unusable directory falls back to memory with one warning", "[cache]") {
  TempDir dir;
  // A path below a regular file can never be created, whatever the user's rights.
  attnc::test::writeFile(dir.path() + "/file", "x");
  KernelCache cache(dir.path() + "/file/cache");
  std::atomic<int> calls{0};
  CHECK(*fetch(cache, kKey, producing(kPayload, calls)) == kPayload);
  CHECK_FALSE(cache.diskEnabled());
  CHECK(cache.diskWarning().find("in memory only") != std::string::npos);
  std::string warning = cache.diskWarning();
  CHECK(*fetch(cache, makeKernelCacheKey({"second"}), producing(kPayload, calls)) == kPayload);
  CHECK(cache.diskWarning() == warning);
  CHECK(*fetch(cache, kKey, producing(kPayload, calls)) == kPayload);
  CHECK(calls == 2);
  CHECK(cache.stats().memoryHits == 1);
  CHECK(cache.stats().diskWrites == 0);
}

TEST_CASE("threads asking for the same key compile it once", "[cache]") {
  TempDir dir;
  KernelCache cache(dir.path());
  std::atomic<int> calls{0};
  auto slowCompile = [&calls](std::string &binary, std::string &, std::string &) {
    ++calls;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    binary = kPayload;
    return true;
  };
  std::vector<std::thread> threads;
  std::vector<std::shared_ptr<const CachedKernel>> results(8);
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&, t] {
      std::string log, error;
      cache.getOrCompile(kKey, testMeta(), slowCompile, results[t], log, error);
    });
  for (auto &thread : threads)
    thread.join();
  CHECK(calls == 1);
  CHECK(cache.stats().compilations == 1);
  CHECK(cache.stats().memoryHits == 7);
  for (const auto &result : results) {
    REQUIRE(result);
    CHECK(result->binary == kPayload);
  }
}

TEST_CASE("failures are reported to every waiter and not cached", "[cache]") {
  KernelCache cache("");
  std::atomic<int> calls{0};
  auto failing = [&calls](std::string &, std::string &log, std::string &error) {
    ++calls;
    log = "line 1: error";
    error = "it failed";
    return false;
  };
  std::shared_ptr<const CachedKernel> binary;
  std::string log, error;
  CHECK_FALSE(cache.getOrCompile(kKey, testMeta("sm_80", "x"), failing, binary, log, error));
  CHECK(error == "it failed");
  CHECK(log == "line 1: error");
  CHECK_FALSE(binary);
  CHECK(*fetch(cache, kKey, producing(kPayload, calls)) == kPayload);
  CHECK(calls == 2);
}

TEST_CASE("cache directories can be listed and cleared", "[cache]") {
  TempDir dir;
  KernelCache cache(dir.path());
  std::atomic<int> calls{0};
  for (int i = 0; i < 3; ++i)
    fetch(cache, makeKernelCacheKey({"entry", std::to_string(i)}), producing(kPayload, calls));
  attnc::test::writeFile(dir.path() + "/unrelated.txt", "keep me");
  attnc::test::writeFile(dir.path() + "/.tmp-stale", "torn");
  CHECK(KernelCache::listDirectory(dir.path()).size() == 3);
  CacheClearResult cleared;
  REQUIRE(KernelCache::clearDirectory(dir.path(), cleared));
  CHECK(cleared.entries == 3);
  CHECK(cleared.otherItems == 0);
  CHECK(cleared.errors.empty());
  CHECK(KernelCache::listDirectory(dir.path()).empty());
  CHECK(fs::exists(dir.path() + "/unrelated.txt"));
  CHECK_FALSE(fs::exists(dir.path() + "/.tmp-stale"));
}

TEST_CASE("an entry that is a link to /dev/zero is refused, recompiled and replaced", "[cache]") {
  TempDir dir;
  std::string path = KernelCache::entryPath(dir.path(), kKey);
  fs::create_symlink("/dev/zero", path);
  HangGuard guard;
  CachedKernel payload;
  std::string reason;
  CHECK_FALSE(KernelCache::readEntry(path, kKey, payload, reason));
  CHECK(reason == "'" + path + "' is a symbolic link (not followed here)");
  auto items = KernelCache::listDirectory(dir.path());
  REQUIRE(items.size() == 1);
  CHECK(items[0].notEntry == "a symbolic link");
  CHECK(items[0].fileSize == 0);

  KernelCache cache(dir.path());
  std::atomic<int> calls{0};
  CHECK(*fetch(cache, kKey, producing(kPayload, calls)) == kPayload);
  CHECK(calls == 1);
  CHECK(cache.stats().corruptEntries == 1);
  CHECK(cache.stats().diskWrites == 1);
  // The rename replaced the link itself, not /dev/zero.
  CHECK(fs::is_regular_file(fs::symlink_status(path)));
  REQUIRE(KernelCache::readEntry(path, kKey, payload, reason));
  CHECK(payload.binary == kPayload);
}

TEST_CASE("a FIFO entry neither blocks readers nor the listing", "[cache]") {
  TempDir dir;
  std::string path = KernelCache::entryPath(dir.path(), kKey);
  REQUIRE(mkfifo(path.c_str(), 0600) == 0);
  HangGuard guard;
  CachedKernel payload;
  std::string reason;
  CHECK_FALSE(KernelCache::readEntry(path, kKey, payload, reason));
  CHECK(reason == "'" + path + "' is not a regular file (a FIFO)");
  auto items = KernelCache::listDirectory(dir.path());
  REQUIRE(items.size() == 1);
  CHECK(items[0].notEntry == "a FIFO");

  KernelCache cache(dir.path());
  std::atomic<int> calls{0};
  std::shared_ptr<const CachedKernel> binary;
  CHECK_FALSE(cache.lookup(kKey, binary));
  CHECK(*fetch(cache, kKey, producing(kPayload, calls)) == kPayload);
  CHECK(cache.stats().corruptEntries == 1);
  CHECK(fs::is_regular_file(fs::symlink_status(path)));
}

TEST_CASE("a directory in the cache directory is listed as not an entry", "[cache]") {
  TempDir dir;
  std::atomic<int> calls{0};
  std::string otherKey = makeKernelCacheKey({"other"});
  {
    KernelCache cache(dir.path());
    fetch(cache, otherKey, producing(kPayload, calls));
  }
  std::string path = KernelCache::entryPath(dir.path(), kKey);
  fs::create_directories(path + "/inside");
  auto items = KernelCache::listDirectory(dir.path());
  REQUIRE(items.size() == 2);
  size_t directories = 0;
  for (const auto &item : items) {
    if (item.path == path) {
      ++directories;
      CHECK(item.notEntry == "a directory");
      CHECK(item.fileSize == 0);
      CHECK_FALSE(item.valid);
    } else {
      CHECK(item.notEntry.empty());
      CHECK(item.valid);
    }
  }
  CHECK(directories == 1);

  // The directory blocks that entry's write: the kernel is still served, from memory, and
  // the other entry still comes from disk.
  KernelCache cache(dir.path());
  CHECK(*fetch(cache, kKey, producing(kPayload, calls)) == kPayload);
  CHECK(cache.stats().diskWrites == 0);
  CHECK(cache.diskEnabled());
  CHECK_FALSE(cache.diskWritable());
  CHECK(*fetch(cache, otherKey, producing("other", calls)) == kPayload);
  CHECK(cache.stats().diskHits == 1);
}

namespace {
/// A cache directory holding one valid entry for kKey.
void fillCache(const std::string &directory) {
  std::atomic<int> calls{0};
  KernelCache cache(directory);
  fetch(cache, kKey, producing(kPayload, calls));
  REQUIRE(cache.stats().diskWrites == 1);
}

/// Its entries are served, misses compile and stay in memory, and nothing fails.
void checkServesWithoutWriting(const std::string &directory, const std::string &expectedWord) {
  KernelCache cache(directory);
  std::atomic<int> calls{0};
  CHECK(*fetch(cache, kKey, producing("recompiled", calls)) == kPayload);
  CHECK(calls == 0);
  CHECK(cache.stats().diskHits == 1);
  std::string newKey = makeKernelCacheKey({"new"});
  CHECK(*fetch(cache, newKey, producing("fresh", calls)) == "fresh");
  CHECK(calls == 1);
  CHECK(cache.stats().diskWrites == 0);
  CHECK(cache.diskEnabled());
  CHECK_FALSE(cache.diskWritable());
  CHECK(cache.diskWarning().find(expectedWord) != std::string::npos);
  CHECK(cache.diskWarning().find("using its entries") != std::string::npos);
  // After the failed write, entries are still read from disk.
  cache.clearMemory();
  CHECK(*fetch(cache, kKey, producing("recompiled", calls)) == kPayload);
  CHECK(cache.stats().diskHits == 2);
  CHECK(*fetch(cache, newKey, producing("fresh", calls)) == "fresh");
  CHECK(calls == 2);
  CHECK_FALSE(fs::exists(KernelCache::entryPath(directory, newKey)));
}
} // namespace

TEST_CASE("a read-only cache directory still serves its entries", "[cache]") {
  if (geteuid() == 0) {
    // Root writes through mode bits; the next test fails the write another way.
    std::cout << "skipped: running as root, where chmod does not make a directory read-only\n";
    return;
  }
  TempDir dir;
  fillCache(dir.path());
  struct Restore {
    std::string path;
    ~Restore() { fs::permissions(path, fs::perms::owner_all); } // so TempDir can remove it
  } restore{dir.path()};
  fs::permissions(dir.path(), fs::perms::owner_read | fs::perms::owner_exec);
  checkServesWithoutWriting(dir.path(), "read-only");
}

TEST_CASE("a cache whose writes fail still serves its entries", "[cache]") {
  TempDir dir;
  fillCache(dir.path());
  // A file size limit of 0 fails every write (EFBIG), for root too.
  struct Restore {
    struct rlimit limit;
    void (*handler)(int);
    ~Restore() {
      setrlimit(RLIMIT_FSIZE, &limit);
      std::signal(SIGXFSZ, handler);
    }
  };
  struct rlimit saved;
  REQUIRE(getrlimit(RLIMIT_FSIZE, &saved) == 0);
  Restore restore{saved, std::signal(SIGXFSZ, SIG_IGN)};
  struct rlimit none = saved;
  none.rlim_cur = 0;
  REQUIRE(setrlimit(RLIMIT_FSIZE, &none) == 0);
  checkServesWithoutWriting(dir.path(), "cannot write to");
}

TEST_CASE("clearing goes on past an item it cannot remove", "[cache]") {
  TempDir dir;
  KernelCache cache(dir.path());
  std::atomic<int> calls{0};
  for (int i = 0; i < 3; ++i)
    fetch(cache, makeKernelCacheKey({"entry", std::to_string(i)}), producing(kPayload, calls));
  // rmdir cannot remove a non-empty directory, whoever runs the test.
  std::string blocked = KernelCache::entryPath(dir.path(), kKey);
  fs::create_directories(blocked + "/inside");
  fs::create_symlink("/dev/zero", dir.path() + "/link.cubin");
  CacheClearResult cleared;
  CHECK_FALSE(KernelCache::clearDirectory(dir.path(), cleared));
  CHECK(cleared.entries == 3);
  CHECK(cleared.otherItems == 1);
  REQUIRE(cleared.errors.size() == 1);
  CHECK(cleared.errors[0] == "cannot remove '" + blocked + "': Directory not empty");
  CHECK(fs::exists(blocked + "/inside"));
  CHECK(fs::exists("/dev/zero"));
  auto items = KernelCache::listDirectory(dir.path());
  REQUIRE(items.size() == 1);
  CHECK(items[0].path == blocked);
}

TEST_CASE("the default directory follows ATTNC_CACHE_DIR, XDG_CACHE_HOME, HOME", "[cache]") {
  auto saved = [](const char *name) {
    const char *value = std::getenv(name);
    return value ? std::optional<std::string>(value) : std::nullopt;
  };
  auto restore = [](const char *name, const std::optional<std::string> &value) {
    if (value)
      setenv(name, value->c_str(), 1);
    else
      unsetenv(name);
  };
  auto cacheDir = saved("ATTNC_CACHE_DIR"), xdg = saved("XDG_CACHE_HOME"), home = saved("HOME");
  setenv("ATTNC_CACHE_DIR", "/a/b", 1);
  setenv("XDG_CACHE_HOME", "/x", 1);
  setenv("HOME", "/home/u", 1);
  CHECK(defaultCacheDirectory() == "/a/b");
  setenv("ATTNC_CACHE_DIR", "off", 1);
  CHECK(defaultCacheDirectory().empty());
  unsetenv("ATTNC_CACHE_DIR");
  CHECK(defaultCacheDirectory() == "/x/attnc");
  unsetenv("XDG_CACHE_HOME");
  CHECK(defaultCacheDirectory() == "/home/u/.cache/attnc");
  restore("ATTNC_CACHE_DIR", cacheDir);
  restore("XDG_CACHE_HOME", xdg);
  restore("HOME", home);
}

TEST_CASE("an entry keeps its manifest across processes", "[cache]") {
  TempDir dir;
  CacheEntryMeta meta = testMeta("sm_80", "doc");
  meta.manifest.params.push_back({"window", attnc::dsl::Type::Int, 0, std::nullopt});
  std::atomic<int> calls{0};
  {
    KernelCache first(dir.path());
    std::shared_ptr<const CachedKernel> kernel;
    std::string log, error;
    REQUIRE(first.getOrCompile(kKey, meta, producing(kPayload, calls), kernel, log, error));
  }
  KernelCache second(dir.path());
  std::shared_ptr<const CachedKernel> restored;
  REQUIRE(second.lookup(kKey, restored));
  CHECK(calls == 1);
  CHECK(restored->binary == kPayload);
  CHECK(restored->manifest.serialize() == meta.manifest.serialize());
  CHECK(restored->manifest.params.at(0).name == "window");
}

namespace {
/// An entry in the runtime's format around any manifest text, with a matching checksum.
std::string entryText(const std::string &key, const std::string &manifest,
                      const std::string &binary, const char *magic = "ATTNC-KERNEL-CACHE 2") {
  return std::string(magic) + "\nkey " + key + "\narch sm_80\nname x\nmanifest " +
         std::to_string(manifest.size()) + "\nsize " + std::to_string(binary.size()) + "\nsha256 " +
         sha256Hex(manifest + binary) + "\ncreated 1\nend\n" + manifest + binary;
}
} // namespace

TEST_CASE("an entry whose manifest does not read back is corrupt and recompiled", "[cache]") {
  TempDir dir;
  std::string path = KernelCache::entryPath(dir.path(), kKey);
  std::string manifest = testMeta("sm_80", "x").manifest.serialize();
  SECTION("an unknown field") { manifest.insert(manifest.find("dtype"), "colour blue\n"); }
  SECTION("a slot out of range") { manifest.insert(manifest.find("route"), "param p int 99\n"); }
  SECTION("a dimension that is not an int") {
    manifest.insert(manifest.find("route"), "input t f32 0 plain 1\ndim f:0x1p+0\n");
  }
  SECTION("a dimension that lacks operands") {
    manifest.insert(manifest.find("route"), "input t f32 0 plain 1\ndim s:q_len add\n");
  }
  SECTION("another arch than the header's") {
    manifest.replace(manifest.find("arch sm_80"), 10, "arch sm_90");
  }
  SECTION("text after the end") { manifest += "more\n"; }
  attnc::test::writeFile(path, entryText(kKey, manifest, kPayload));
  CachedKernel entry;
  std::string reason;
  CHECK_FALSE(KernelCache::readEntry(path, kKey, entry, reason));
  INFO(reason);
  CHECK((reason.rfind("bad manifest (", 0) == 0 ||
         reason == "the manifest's arch differs from the header's"));
  std::atomic<int> calls{0};
  KernelCache cache(dir.path());
  CHECK(*fetch(cache, kKey, producing(kPayload, calls)) == kPayload);
  CHECK(calls == 1);
  CHECK(cache.stats().corruptEntries == 1);
}

TEST_CASE("an entry of the format before manifests is listed, never used", "[cache]") {
  TempDir dir;
  std::string path = KernelCache::entryPath(dir.path(), kKey);
  attnc::test::writeFile(path, "ATTNC-KERNEL-CACHE 1\nkey " + kKey +
                                   "\narch sm_80\nname old\nsize 3\nsha256 " + sha256Hex("abc") +
                                   "\ncreated 1\nend\nabc");
  auto items = KernelCache::listDirectory(dir.path());
  REQUIRE(items.size() == 1);
  CHECK(items[0].name == "old");
  CHECK_FALSE(items[0].valid);
  CHECK(items[0].problem == "written in cache format 1 by an older attnc");
}
