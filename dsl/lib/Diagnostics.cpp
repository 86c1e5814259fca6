//===- Diagnostics.cpp - clang-style diagnostics ----------------------------===//
#include "attnc/dsl/Diagnostics.h"

#include <algorithm>
#include <sstream>

namespace attnc::dsl {

namespace {
const char *kBold = "\033[1m";
const char *kRed = "\033[1;31m";
const char *kMagenta = "\033[1;35m";
const char *kCyan = "\033[1;36m";
const char *kGreen = "\033[1;32m";
const char *kReset = "\033[0m";

/// Source lines of more characters than this are shown as a window around the caret,
/// so that a diagnostic on a huge line stays readable (and small).
constexpr size_t kMaxShownChars = 100;
/// A window shows this many characters, with `...` on each cut side...
constexpr size_t kWindowChars = 90;
/// ...of which at most this many before the caret.
constexpr size_t kCharsBeforeCaret = 40;

/// A UTF-8 continuation byte: not the start of a character.
bool isContinuation(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

/// The byte offset `count` characters before `at` (or 0).
size_t backChars(std::string_view line, size_t at, size_t count) {
  while (at > 0 && count > 0) {
    --at;
    while (at > 0 && isContinuation(line[at]))
      --at;
    --count;
  }
  return at;
}

/// The byte offset `count` characters after `at` (or the line's end).
size_t forwardChars(std::string_view line, size_t at, size_t count) {
  while (at < line.size() && count > 0) {
    ++at;
    while (at < line.size() && isContinuation(line[at]))
      ++at;
    --count;
  }
  return at;
}
} // namespace

void DiagnosticEngine::error(SourceRange range, std::string message, std::string hint) {
  ++errorCount_;
  if (errorCount_ > errorLimit_) {
    // One closing note, then silence: garbage input must not produce unbounded output.
    if (errorCount_ == errorLimit_ + 1)
      diags_.push_back(
          Diagnostic{Severity::Note, SourceRange{}, "too many errors emitted, stopping now", {}});
    return;
  }
  diags_.push_back(Diagnostic{Severity::Error, range, std::move(message), std::move(hint)});
}

void DiagnosticEngine::warning(SourceRange range, std::string message, std::string hint) {
  if (errorCount_ > errorLimit_ || diags_.size() > 2 * size_t(errorLimit_))
    return;
  diags_.push_back(Diagnostic{Severity::Warning, range, std::move(message), std::move(hint)});
}

void DiagnosticEngine::note(SourceRange range, std::string message) {
  if (errorCount_ > errorLimit_ || diags_.size() > 2 * size_t(errorLimit_))
    return;
  diags_.push_back(Diagnostic{Severity::Note, range, std::move(message), {}});
}

std::string DiagnosticEngine::render(const Diagnostic &d, bool color) const {
  std::ostringstream os;
  auto paint = [&](const char *code) {
    if (color)
      os << code;
  };
  bool located = file_ && d.range.begin.isValid();
  paint(kBold);
  if (file_) {
    os << file_->path();
    if (located)
      os << ':' << d.range.begin.line << ':' << d.range.begin.column;
    os << ": ";
  } else {
    os << "attnc: ";
  }
  switch (d.severity) {
  case Severity::Error:
    paint(kRed);
    os << "error: ";
    break;
  case Severity::Warning:
    paint(kMagenta);
    os << "warning: ";
    break;
  case Severity::Note:
    paint(kCyan);
    os << "note: ";
    break;
  }
  paint(kReset);
  paint(kBold);
  os << d.message;
  paint(kReset);
  os << '\n';

  if (located && d.range.begin.line <= file_->lineCount()) {
    std::string_view line = file_->lineText(d.range.begin.line);
    // Byte offsets of the caret and of the end of the underlined range (clipped to this
    // line); the caret may sit just past the end (a missing ';').
    size_t caret = d.range.begin.column - 1;
    size_t rangeEnd = d.range.end.line == d.range.begin.line ? d.range.end.column - 1 : line.size();
    rangeEnd = std::min(rangeEnd, line.size());
    size_t first = 0, last = line.size();
    if (forwardChars(line, 0, kMaxShownChars) < line.size()) {
      first = backChars(line, std::min(caret, line.size()), kCharsBeforeCaret);
      last = forwardChars(line, first, kWindowChars);
      if (last == line.size())
        first = backChars(line, last, kWindowChars);
    }
    const char *ellipsis = "...";
    std::string shown;
    if (first > 0)
      shown = ellipsis;
    shown.append(line.substr(first, last - first));
    if (last < line.size())
      shown += ellipsis;
    os << shown << '\n';
    // One marker column per character; tabs are kept so the caret lines up under
    // tab-indented code.
    std::string marker(first > 0 ? 3 : 0, ' ');
    for (size_t i = first; i < caret && i < last; ++i)
      if (!isContinuation(line[i]))
        marker += line[i] == '\t' ? '\t' : ' ';
    if (caret > line.size())
      marker.append(caret - line.size(), ' ');
    marker += '^';
    // Tildes under the rest of the range, clipped to what is shown.
    for (size_t i = caret + 1; i < rangeEnd && i < last; ++i)
      if (!isContinuation(line[i]))
        marker += '~';
    paint(kGreen);
    os << marker;
    paint(kReset);
    os << '\n';
  }
  if (!d.hint.empty()) {
    paint(kCyan);
    os << "hint: ";
    paint(kReset);
    os << d.hint << '\n';
  }
  return os.str();
}

void DiagnosticEngine::print(std::ostream &os, bool color) const {
  for (const Diagnostic &d : diags_)
    os << render(d, color);
}

} // namespace attnc::dsl
