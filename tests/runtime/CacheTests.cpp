//===- CacheTests.cpp - The kernel cache: memory, disk, corruption, threads ===//
#include "TestUtil.h"

#include "attnc/runtime/KernelCache.h"

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <optional>
#include <thread>

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

std::shared_ptr<const std::string> fetch(KernelCache &cache, const std::string &key,
                                         const KernelCache::CompileFn &compile) {
  std::shared_ptr<const std::string> binary;
  std::string log, error;
  REQUIRE(cache.getOrCompile(key, {"sm_90a", "test"}, compile, binary, log, error));
  REQUIRE(binary);
  return binary;
}

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
  REQUIRE(KernelCache::writeEntry(path, kKey, {"sm_80", "x"}, kPayload, reason));
  // Many writers of the same entry at once: every reader sees a complete entry.
  std::vector<std::thread> writers;
  std::atomic<int> failures{0};
  for (int t = 0; t < 8; ++t)
    writers.emplace_back([&, t] {
      std::string payload = std::string(4096 * (t + 1), char('a' + t));
      std::string why, read;
      for (int i = 0; i < 10; ++i) {
        if (!KernelCache::writeEntry(path, kKey, {"sm_80", "x"}, payload, why))
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

  SECTION("a flipped payload byte") { data[data.size() - 3] ^= 0x20; }
  SECTION("a truncated file") { data.resize(data.size() - 5); }
  SECTION("a damaged header") { data[2] = '?'; }
  SECTION("an empty file") { data.clear(); }
  attnc::test::writeFile(path, data);

  std::string payload, reason;
  CHECK_FALSE(KernelCache::readEntry(path, kKey, payload, reason));
  CHECK_FALSE(reason.empty());

  KernelCache cache(dir.path());
  CHECK(*fetch(cache, kKey, producing(kPayload, calls)) == kPayload);
  CHECK(calls == 2);
  CHECK(cache.stats().corruptEntries == 1);
  CHECK(cache.stats().compilations == 1);
  CHECK(cache.stats().diskWrites == 1);
  REQUIRE(KernelCache::readEntry(path, kKey, payload, reason));
  CHECK(payload == kPayload);
}

TEST_CASE("an entry stored under another key is rejected", "[cache]") {
  TempDir dir;
  std::string otherKey = makeKernelCacheKey({"other"});
  std::string reason, payload;
  REQUIRE(KernelCache::writeEntry(KernelCache::entryPath(dir.path(), kKey), otherKey,
                                  {"sm_80", "x"}, kPayload, reason));
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
  std::vector<std::shared_ptr<const std::string>> results(8);
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&, t] {
      std::string log, error;
      cache.getOrCompile(kKey, {"sm_90a", "test"}, slowCompile, results[t], log, error);
    });
  for (auto &thread : threads)
    thread.join();
  CHECK(calls == 1);
  CHECK(cache.stats().compilations == 1);
  CHECK(cache.stats().memoryHits == 7);
  for (const auto &result : results) {
    REQUIRE(result);
    CHECK(*result == kPayload);
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
  std::shared_ptr<const std::string> binary;
  std::string log, error;
  CHECK_FALSE(cache.getOrCompile(kKey, {"sm_80", "x"}, failing, binary, log, error));
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
  size_t removed = 0;
  std::string error;
  REQUIRE(KernelCache::clearDirectory(dir.path(), removed, error));
  CHECK(removed == 3);
  CHECK(KernelCache::listDirectory(dir.path()).empty());
  CHECK(fs::exists(dir.path() + "/unrelated.txt"));
  CHECK_FALSE(fs::exists(dir.path() + "/.tmp-stale"));
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
