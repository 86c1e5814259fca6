//===- SemaSupport.h - Names and message helpers of the checker -*- C++ -*-===//
//
// Internal to dsl/lib: the built-in names and functions, and the spelling helpers that
// the checker's parts (Sema.cpp, NameResolver.cpp, ExprChecker.cpp, ConstEval.cpp) share.
//
//===----------------------------------------------------------------------===//
#ifndef ATTNC_DSL_LIB_SEMASUPPORT_H
#define ATTNC_DSL_LIB_SEMASUPPORT_H

#include "attnc/dsl/AST.h"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace attnc::dsl::sema {

std::optional<Builtin> lookupBuiltin(std::string_view name);
std::optional<Func> lookupFunc(std::string_view name);
/// Every built-in value name (b, h, q, k, ...), for typo hints.
std::vector<std::string> builtinNames();
/// Every built-in function name (abs, min, ...), for typo hints.
std::vector<std::string> funcNames();

const char *binaryOpSpelling(BinaryOp op);
std::string lineOf(SourceRange r);
/// Shortest round-trip-ish spelling of a float for messages: 1.5, not 1.500000.
std::string formatFloat(double v);
/// The range of a Call's or Index's name (the first token of the node).
SourceRange nameRangeOf(const Expr &e);

/// The built-in float constant: positive infinity (`-inf` is its negation).
constexpr const char *kInfName = "inf";

/// Float is fp32 on the GPU: a constant whose magnitude is beyond the largest fp32 would be
/// inf there and finite in the float64 reference, so such constants are rejected.
/// Infinities and NaN mean the same in both.
bool fitsFp32(double v);
constexpr const char *kFp32RangeHint =
    "float is fp32 on the GPU, whose largest finite value is 3.4028235e38; write inf for "
    "infinity";

} // namespace attnc::dsl::sema

#endif // ATTNC_DSL_LIB_SEMASUPPORT_H
