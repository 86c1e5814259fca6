//===- TestUtil.h - Helpers shared by the runtime tests ---------*- C++ -*-===//
#ifndef ATTNC_TESTS_RUNTIME_TESTUTIL_H
#define ATTNC_TESTS_RUNTIME_TESTUTIL_H

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <unistd.h>

namespace attnc::test {

/// A fresh directory under $TMPDIR, removed with everything in it on destruction.
class TempDir {
public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "attnc-test-XXXXXX").string();
    path_ = mkdtemp(pattern.data()) ? pattern : std::string();
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string &path() const { return path_; }

private:
  std::string path_;
};

inline std::string readFile(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

inline void writeFile(const std::string &path, const std::string &data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << data;
}

/// The examples folder: $ATTNC_EXAMPLES_DIR, else <exe>/../share/attnc/examples (an
/// installed tree), else the source tree's examples/.
inline std::string examplesDirectory() {
  if (const char *dir = std::getenv("ATTNC_EXAMPLES_DIR"); dir && *dir)
    return dir;
  std::error_code ec;
  auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    auto installed = exe.parent_path().parent_path() / "share" / "attnc" / "examples";
    if (std::filesystem::is_directory(installed, ec))
      return installed.string();
  }
  return ATTNC_TEST_EXAMPLES_DIR;
}

} // namespace attnc::test

#endif // ATTNC_TESTS_RUNTIME_TESTUTIL_H
