//===- ConstOverride.h - The values of -D NAME=VALUE -------------*- C++ -*-===//
//
// Internal to dsl/lib: `-D` values are literals, spelled as in the language, optionally
// negated (and `true`, `false`, `inf`, `-inf`). The checker (Sema.cpp) types them against
// the const they replace.
//
//===----------------------------------------------------------------------===//
#ifndef ATTNC_DSL_LIB_CONSTOVERRIDE_H
#define ATTNC_DSL_LIB_CONSTOVERRIDE_H

#include "attnc/dsl/AST.h"

#include <string>

namespace attnc::dsl::sema {

/// The literal `value` spells, placed at `range`; null when it is not one (or an Int
/// literal beyond the Int range, or a float literal that overflows).
ExprPtr parseOverride(const std::string &value, SourceRange range);

} // namespace attnc::dsl::sema

#endif // ATTNC_DSL_LIB_CONSTOVERRIDE_H
