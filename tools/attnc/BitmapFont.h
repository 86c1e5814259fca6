//===- BitmapFont.h - A tiny built-in 5x7 font for viz labels ---*- C++ -*-===//
#ifndef ATTNC_TOOLS_BITMAPFONT_H
#define ATTNC_TOOLS_BITMAPFONT_H

#include <cstdint>

namespace attnc::tools {

/// Glyphs are kGlyphWidth columns by kGlyphRows rows: a 5x7 body and two rows of
/// descenders. Digits, letters, space and . , : ; - _ = + * / % # ( ) [ ] < > ! ? ' " |.
constexpr int kGlyphWidth = 5;
constexpr int kGlyphRows = 9;

/// The rows of the glyph of `c` (bit kGlyphWidth-1 is the leftmost column); characters
/// without a glyph get the glyph of '?'.
const uint8_t *glyphRows(char c);

} // namespace attnc::tools

#endif // ATTNC_TOOLS_BITMAPFONT_H
