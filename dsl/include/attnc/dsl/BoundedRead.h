//===- BoundedRead.h - Read a regular file with a size limit ----*- C++ -*-===//
//
// The one way attnc reads files that a user or a cache directory hands it (source files,
// kernel cache entries). It never opens anything but a regular file (so a FIFO cannot block
// and a device cannot stream forever), checks the size before reading and reads at most
// the limit plus one byte, so a file that grows while it is read is still refused.
//
//===----------------------------------------------------------------------===//
#ifndef ATTNC_DSL_BOUNDEDREAD_H
#define ATTNC_DSL_BOUNDEDREAD_H

#include <cstdint>
#include <string>

#include <sys/types.h>

namespace attnc::dsl {

enum class ReadFailure {
  None,
  NotFound,    ///< no such file (ENOENT, or a dangling link when links are followed)
  IsDirectory, ///< "'X' is a directory"
  IsSymlink,   ///< the path is a symbolic link and links are refused
  NotRegular,  ///< a FIFO, device, socket...: "'X' is not a regular file (a FIFO)"
  TooLarge,    ///< larger than the limit (before or during the read)
  CannotOpen,  ///< permissions and other open/stat errors
  CannotRead,  ///< read(2) failed
};

struct BoundedReadOptions {
  uint64_t maxBytes = 0;
  /// False: a symbolic link as the last path component is refused (O_NOFOLLOW).
  bool followSymlinks = true;
};

/// Reads the regular file at `path` into `data`. On failure returns false, sets `error` to
/// a message that names the path and, when given, `failure` to the kind of failure.
bool readBoundedFile(const std::string &path, const BoundedReadOptions &options, std::string &data,
                     std::string &error, ReadFailure *failure = nullptr);

/// What a file of this st_mode is, for messages: "a directory", "a FIFO", "a symbolic
/// link", ... ("a regular file" for one).
const char *describeFileKind(mode_t mode);

/// "1 MiB", "64 KiB" or "1000 bytes": how limits are written in messages.
std::string formatByteLimit(uint64_t bytes);

} // namespace attnc::dsl

#endif // ATTNC_DSL_BOUNDEDREAD_H
