//===- Source.cpp - Source files and locations ----------------------------===//
#include "attnc/dsl/Source.h"

#include "attnc/dsl/BoundedRead.h"

#include <algorithm>

namespace attnc::dsl {

SourceFile::SourceFile(std::string path, std::string text)
    : path_(std::move(path)), text_(std::move(text)) {
  lineStarts_.push_back(0);
  for (uint32_t i = 0; i < text_.size(); ++i)
    if (text_[i] == '\n')
      lineStarts_.push_back(i + 1);
}

bool SourceFile::load(const std::string &path, SourceFile &out, std::string &error) {
  std::string text;
  if (!readBoundedFile(path, {kMaxBytes, /*followSymlinks=*/true}, text, error))
    return false;
  out = SourceFile(path, std::move(text));
  return true;
}

SourceLoc SourceFile::locOf(uint32_t offset) const {
  offset = std::min<uint32_t>(offset, static_cast<uint32_t>(text_.size()));
  auto it = std::upper_bound(lineStarts_.begin(), lineStarts_.end(), offset);
  uint32_t line = static_cast<uint32_t>(it - lineStarts_.begin());
  return SourceLoc{offset, line, offset - lineStarts_[line - 1] + 1};
}

std::string_view SourceFile::lineText(uint32_t line) const {
  if (line == 0 || line > lineStarts_.size())
    return {};
  uint32_t begin = lineStarts_[line - 1];
  uint32_t end = line < lineStarts_.size() ? lineStarts_[line] : text_.size();
  std::string_view view(text_.data() + begin, end - begin);
  while (!view.empty() && (view.back() == '\n' || view.back() == '\r'))
    view.remove_suffix(1);
  return view;
}

} // namespace attnc::dsl
