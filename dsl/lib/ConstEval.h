//===- ConstEval.h - Constant evaluation of the checker ----------*- C++ -*-===//
//
// Internal to dsl/lib: evaluates constant expressions with the language's exact semantics
// (Int through attnc/dsl/IntSemantics.h), converts folded values and turns them back into
// literals. `foldConstant` (Sema.h) is the public entry.
//
//===----------------------------------------------------------------------===//
#ifndef ATTNC_DSL_LIB_CONSTEVAL_H
#define ATTNC_DSL_LIB_CONSTEVAL_H

#include "attnc/dsl/AST.h"

#include <optional>
#include <unordered_map>

namespace attnc::dsl::sema {

/// An Int value (wrapped to 32 bits), a Float, a Bool.
ConstValue makeInt(int64_t v);
ConstValue makeFloat(double v);
ConstValue makeBool(bool v);

/// Values of subexpressions already folded while checking one statement, so that nested
/// divisions (each folding its divisor) fold every node once.
using ConstMemo = std::unordered_map<const Expr *, std::optional<ConstValue>>;

/// The value of a checked expression made of literals, consts of `attn`, its layout's axis
/// sizes, operators and pure built-in functions; nothing for anything else.
std::optional<ConstValue> evalConst(const Expr &e, const Program &program,
                                    const AttentionDecl *attn, ConstMemo *memo = nullptr);

/// Converts a folded value to `type` (only int -> float is implicit).
bool convertConst(ConstValue &v, Type type);

/// A literal of `v`'s type and value.
ExprPtr literalOf(const ConstValue &v, SourceRange range);

} // namespace attnc::dsl::sema

#endif // ATTNC_DSL_LIB_CONSTEVAL_H
