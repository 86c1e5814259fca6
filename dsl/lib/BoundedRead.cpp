//===- BoundedRead.cpp - Read a regular file with a size limit ------------===//
#include "attnc/dsl/BoundedRead.h"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace attnc::dsl {

namespace {
/// Classifies a stat result; false (with the failure) for anything but a regular file of
/// at most `maxBytes`.
bool acceptable(const std::string &path, const struct stat &st, uint64_t maxBytes,
                std::string &error, ReadFailure &failure) {
  if (S_ISDIR(st.st_mode)) {
    error = "'" + path + "' is a directory";
    failure = ReadFailure::IsDirectory;
    return false;
  }
  if (S_ISLNK(st.st_mode)) {
    error = "'" + path + "' is a symbolic link (not followed here)";
    failure = ReadFailure::IsSymlink;
    return false;
  }
  if (!S_ISREG(st.st_mode)) {
    error = "'" + path + "' is not a regular file (" + describeFileKind(st.st_mode) + ")";
    failure = ReadFailure::NotRegular;
    return false;
  }
  if (st.st_size < 0 || uint64_t(st.st_size) > maxBytes) {
    error = "'" + path + "' is too large (" + std::to_string(uint64_t(st.st_size)) +
            " bytes; the limit is " + formatByteLimit(maxBytes) + ")";
    failure = ReadFailure::TooLarge;
    return false;
  }
  return true;
}

struct FdCloser {
  int fd;
  ~FdCloser() {
    if (fd >= 0)
      ::close(fd);
  }
};
} // namespace

std::string formatByteLimit(uint64_t bytes) {
  if (bytes >= (1u << 20) && bytes % (1u << 20) == 0)
    return std::to_string(bytes >> 20) + " MiB";
  if (bytes >= 1024 && bytes % 1024 == 0)
    return std::to_string(bytes >> 10) + " KiB";
  return std::to_string(bytes) + " bytes";
}

bool readBoundedFile(const std::string &path, const BoundedReadOptions &options, std::string &data,
                     std::string &error, ReadFailure *failureOut) {
  ReadFailure ignored;
  ReadFailure &failure = failureOut ? *failureOut : ignored;
  failure = ReadFailure::None;
  // Keep limit + 1 representable: the read asks for one byte past the limit.
  const uint64_t maxBytes = std::min<uint64_t>(options.maxBytes, uint64_t(SIZE_MAX / 2));
  auto openError = [&](const char *what, int err) {
    error = std::string("cannot ") + what + " '" + path + "': " + std::strerror(err);
    failure = err == ENOENT ? ReadFailure::NotFound : ReadFailure::CannotOpen;
    return false;
  };

  // Look before opening: opening a device or FIFO can block or have side effects.
  struct stat st;
  int rc = options.followSymlinks ? ::stat(path.c_str(), &st) : ::lstat(path.c_str(), &st);
  if (rc != 0)
    return openError("open", errno);
  if (!acceptable(path, st, maxBytes, error, failure))
    return false;

  // The path may have been replaced since the stat: O_NONBLOCK keeps a FIFO from blocking
  // the open, O_NOFOLLOW refuses a link, and the fstat below decides on what was opened.
  int flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
  if (!options.followSymlinks)
    flags |= O_NOFOLLOW;
  FdCloser file{::open(path.c_str(), flags)};
  if (file.fd < 0) {
    int err = errno;
    if (err == ELOOP && !options.followSymlinks) {
      error = "'" + path + "' is a symbolic link (not followed here)";
      failure = ReadFailure::IsSymlink;
      return false;
    }
    return openError("open", err);
  }
  if (::fstat(file.fd, &st) != 0)
    return openError("stat", errno);
  if (!acceptable(path, st, maxBytes, error, failure))
    return false;

  // Read at most limit + 1 bytes: a file that grows (or a /proc file reporting size 0) is
  // caught without reading more than that.
  const size_t cap = size_t(maxBytes) + 1;
  std::string buffer;
  buffer.resize(std::min<size_t>(cap, size_t(st.st_size) + 1));
  size_t used = 0;
  for (;;) {
    if (used == buffer.size()) {
      if (buffer.size() >= cap)
        break;
      buffer.resize(std::min<size_t>(cap, std::max<size_t>(buffer.size() * 2, 64 * 1024)));
    }
    ssize_t got = ::read(file.fd, &buffer[used], buffer.size() - used);
    if (got < 0) {
      if (errno == EINTR)
        continue;
      error = std::string("cannot read '") + path + "': " + std::strerror(errno);
      failure = ReadFailure::CannotRead;
      return false;
    }
    if (got == 0)
      break;
    used += size_t(got);
  }
  if (used > maxBytes) {
    error = "'" + path + "' is too large (more than " + formatByteLimit(maxBytes) + ")";
    failure = ReadFailure::TooLarge;
    return false;
  }
  buffer.resize(used);
  data = std::move(buffer);
  return true;
}

const char *describeFileKind(mode_t mode) {
  if (S_ISREG(mode))
    return "a regular file";
  if (S_ISDIR(mode))
    return "a directory";
  if (S_ISLNK(mode))
    return "a symbolic link";
  if (S_ISFIFO(mode))
    return "a FIFO";
  if (S_ISCHR(mode))
    return "a character device";
  if (S_ISBLK(mode))
    return "a block device";
  if (S_ISSOCK(mode))
    return "a socket";
  return "not a regular file";
}

} // namespace attnc::dsl
