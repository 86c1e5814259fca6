//===- Source.h - Source files and locations ---------------------*- C++ -*-===//
//
// A source buffer with a line table, and the locations every token, AST node and
// diagnostic carries. Lines and columns are 1-based; columns count bytes.
//
//===----------------------------------------------------------------------===//
#ifndef ATTNC_DSL_SOURCE_H
#define ATTNC_DSL_SOURCE_H

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace attnc::dsl {

struct SourceLoc {
  uint32_t offset = 0; ///< Byte offset into the buffer.
  uint32_t line = 0;   ///< 1-based; 0 means "no location".
  uint32_t column = 0; ///< 1-based byte column.
  bool isValid() const { return line != 0; }
};

/// Half-open byte range [begin, end).
struct SourceRange {
  SourceLoc begin;
  SourceLoc end;
};

class SourceFile {
public:
  SourceFile(std::string path, std::string text);

  /// The largest source file accepted (1 MiB): attention programs are a few KiB, and the
  /// cap bounds memory and time on hostile input.
  static constexpr uint64_t kMaxBytes = 1u << 20;

  /// Reads a regular file of at most kMaxBytes (a symbolic link to one is followed);
  /// returns false and sets `error` (naming the path) when it cannot be read.
  static bool load(const std::string &path, SourceFile &out, std::string &error);

  const std::string &path() const { return path_; }
  const std::string &text() const { return text_; }
  /// Location of a byte offset (clamped to the buffer end).
  SourceLoc locOf(uint32_t offset) const;
  /// The text of a 1-based line, without its newline.
  std::string_view lineText(uint32_t line) const;
  uint32_t lineCount() const { return static_cast<uint32_t>(lineStarts_.size()); }

private:
  std::string path_;
  std::string text_;
  std::vector<uint32_t> lineStarts_;
};

} // namespace attnc::dsl

#endif // ATTNC_DSL_SOURCE_H
