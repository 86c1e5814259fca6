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
    os << line << '\n';
    // Keep tabs so the caret lines up under tab-indented code.
    std::string marker;
    uint32_t column = d.range.begin.column;
    for (uint32_t i = 1; i < column && i - 1 < line.size(); ++i)
      marker += line[i - 1] == '\t' ? '\t' : ' ';
    if (column > line.size() + 1)
      marker.append(column - 1 - line.size(), ' ');
    marker += '^';
    // Tildes under the rest of the range, clipped to this line.
    uint32_t endColumn = d.range.end.line == d.range.begin.line
                             ? d.range.end.column
                             : static_cast<uint32_t>(line.size()) + 1;
    endColumn = std::min<uint32_t>(endColumn, static_cast<uint32_t>(line.size()) + 1);
    if (endColumn > column + 1)
      marker.append(endColumn - column - 1, '~');
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
