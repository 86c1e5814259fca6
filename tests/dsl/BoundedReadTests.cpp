//===- BoundedReadTests.cpp - Reading user files: types, limits, no hangs ===//
#include "attnc/dsl/BoundedRead.h"
#include "attnc/dsl/Source.h"

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <iostream>

#include <sys/stat.h>
#include <unistd.h>

using namespace attnc::dsl;
namespace fs = std::filesystem;

namespace {
class ScratchDir {
public:
  ScratchDir() {
    std::string pattern = (fs::temp_directory_path() / "attnc-read-XXXXXX").string();
    path_ = mkdtemp(pattern.data()) ? pattern : std::string();
    REQUIRE(!path_.empty());
  }
  ~ScratchDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const std::string &path() const { return path_; }
  std::string file(const std::string &name) const { return path_ + "/" + name; }

private:
  std::string path_;
};

void writeText(const std::string &path, const std::string &text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

/// A read that blocks (a FIFO opened without O_NONBLOCK) would hang the test run; SIGALRM
/// ends the process instead, which fails the test.
struct HangGuard {
  explicit HangGuard(unsigned seconds) { alarm(seconds); }
  ~HangGuard() { alarm(0); }
};

struct Outcome {
  bool ok;
  std::string data, error;
  ReadFailure failure;
};

Outcome read(const std::string &path, uint64_t limit, bool follow = true) {
  HangGuard guard(10);
  Outcome o;
  o.ok = readBoundedFile(path, {limit, follow}, o.data, o.error, &o.failure);
  return o;
}
} // namespace

TEST_CASE("bounded read: a regular file within the limit", "[read]") {
  ScratchDir dir;
  writeText(dir.file("a.attn"), std::string("abc\0def", 7));
  Outcome o = read(dir.file("a.attn"), 7);
  REQUIRE(o.ok);
  CHECK(o.data == std::string("abc\0def", 7));
  CHECK(o.failure == ReadFailure::None);
  o = read(dir.file("a.attn"), 6);
  CHECK_FALSE(o.ok);
  CHECK(o.failure == ReadFailure::TooLarge);
  CHECK(o.error == "'" + dir.file("a.attn") + "' is too large (7 bytes; the limit is 6 bytes)");
  CHECK(o.data.empty());
}

TEST_CASE("bounded read: a missing file", "[read]") {
  ScratchDir dir;
  Outcome o = read(dir.file("nope"), 100);
  CHECK_FALSE(o.ok);
  CHECK(o.failure == ReadFailure::NotFound);
  CHECK(o.error == "cannot open '" + dir.file("nope") + "': No such file or directory");
}

TEST_CASE("bounded read: a directory says so", "[read]") {
  ScratchDir dir;
  fs::create_directory(dir.file("d.attn"));
  Outcome o = read(dir.file("d.attn"), 100);
  CHECK_FALSE(o.ok);
  CHECK(o.failure == ReadFailure::IsDirectory);
  CHECK(o.error == "'" + dir.file("d.attn") + "' is a directory");
}

TEST_CASE("bounded read: a FIFO is refused without blocking", "[read]") {
  ScratchDir dir;
  REQUIRE(mkfifo(dir.file("f.attn").c_str(), 0600) == 0);
  Outcome o = read(dir.file("f.attn"), 100);
  CHECK_FALSE(o.ok);
  CHECK(o.failure == ReadFailure::NotRegular);
  CHECK(o.error == "'" + dir.file("f.attn") + "' is not a regular file (a FIFO)");
}

TEST_CASE("bounded read: devices are refused, directly or through a link", "[read]") {
  ScratchDir dir;
  Outcome o = read("/dev/zero", 100);
  CHECK_FALSE(o.ok);
  CHECK(o.failure == ReadFailure::NotRegular);
  CHECK(o.error == "'/dev/zero' is not a regular file (a character device)");
  fs::create_symlink("/dev/zero", dir.file("zero.attn"));
  o = read(dir.file("zero.attn"), 100);
  CHECK(o.failure == ReadFailure::NotRegular);
  o = read(dir.file("zero.attn"), 100, /*follow=*/false);
  CHECK(o.failure == ReadFailure::IsSymlink);
}

TEST_CASE("bounded read: links are followed only when asked", "[read]") {
  ScratchDir dir;
  writeText(dir.file("real.attn"), "attention a { }");
  fs::create_symlink(dir.file("real.attn"), dir.file("link.attn"));
  Outcome o = read(dir.file("link.attn"), 100);
  REQUIRE(o.ok);
  CHECK(o.data == "attention a { }");
  o = read(dir.file("link.attn"), 100, /*follow=*/false);
  CHECK_FALSE(o.ok);
  CHECK(o.failure == ReadFailure::IsSymlink);
  CHECK(o.error == "'" + dir.file("link.attn") + "' is a symbolic link (not followed here)");
  // A dangling link is a missing file.
  fs::create_symlink(dir.file("gone"), dir.file("dangling.attn"));
  CHECK(read(dir.file("dangling.attn"), 100).failure == ReadFailure::NotFound);
}

TEST_CASE("bounded read: an oversized file is refused before it is read", "[read]") {
  ScratchDir dir;
  // Sparse: no disk used, and a read of it would take seconds and gigabytes.
  std::string path = dir.file("huge.attn");
  writeText(path, "");
  fs::resize_file(path, uint64_t(1200) << 20);
  Outcome o = read(path, 1u << 20);
  CHECK_FALSE(o.ok);
  CHECK(o.failure == ReadFailure::TooLarge);
  CHECK(o.error == "'" + path + "' is too large (1258291200 bytes; the limit is 1 MiB)");
}

TEST_CASE("bounded read: content past the reported size is caught", "[read]") {
  // /proc files report a size of 0 and still have content: the same path as a file that
  // grows during the read.
  const char *path = "/proc/self/status";
  if (access(path, R_OK) != 0) {
    std::cout << "skipped: " << path << " is not readable here\n";
    return;
  }
  Outcome o = read(path, 16);
  CHECK_FALSE(o.ok);
  CHECK(o.failure == ReadFailure::TooLarge);
  CHECK(o.error == "'/proc/self/status' is too large (more than 16 bytes)");
  o = read(path, 1u << 20);
  REQUIRE(o.ok);
  CHECK(o.data.rfind("Name:", 0) == 0);
}

TEST_CASE("limits are written in the largest exact unit", "[read]") {
  CHECK(formatByteLimit(1u << 20) == "1 MiB");
  CHECK(formatByteLimit(uint64_t(64) << 20) == "64 MiB");
  CHECK(formatByteLimit(2048) == "2 KiB");
  CHECK(formatByteLimit(1000) == "1000 bytes");
}

TEST_CASE("source files: the limit is 1 MiB and non-files say what they are", "[read]") {
  ScratchDir dir;
  SourceFile file("", "");
  std::string error;
  std::string path = dir.file("limit.attn");
  writeText(path, "");
  fs::resize_file(path, SourceFile::kMaxBytes);
  CHECK(SourceFile::load(path, file, error));
  CHECK(file.text().size() == SourceFile::kMaxBytes);
  fs::resize_file(path, SourceFile::kMaxBytes + 1);
  CHECK_FALSE(SourceFile::load(path, file, error));
  CHECK(error == "'" + path + "' is too large (1048577 bytes; the limit is 1 MiB)");
  CHECK_FALSE(SourceFile::load(dir.path(), file, error));
  CHECK(error == "'" + dir.path() + "' is a directory");
}
