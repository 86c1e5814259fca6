//===- IntSemantics.h - The language's scalar arithmetic ---------*- C++ -*-===//
//
// The exact meaning of Int arithmetic and conversions (docs/language.md) for host C++:
// the checker's constant folding, the CPU reference, route planning and the test
// oracles. Every function is one of int_semantics.cuh, the definition the hook prelude
// embeds for the GPU, so host and device compile the same source.
//
//===----------------------------------------------------------------------===//
#ifndef ATTNC_DSL_INTSEMANTICS_H
#define ATTNC_DSL_INTSEMANTICS_H

#include "attnc/dsl/AST.h"
#include "attnc/dsl/int_semantics.cuh"

#include <cstdint>
#include <optional>
#include <type_traits>

static_assert(std::is_same_v<int32_t, int>, "int_semantics.cuh computes Int in `int`");

namespace attnc::dsl::semantics {

/// The low 32 bits of `v`, read as two's complement.
inline int32_t wrap(int64_t v) { return static_cast<int32_t>(static_cast<uint32_t>(v)); }
inline int32_t wrapAdd(int32_t a, int32_t b) { return attnc_wrap_add(a, b); }
inline int32_t wrapSub(int32_t a, int32_t b) { return attnc_wrap_sub(a, b); }
inline int32_t wrapMul(int32_t a, int32_t b) { return attnc_wrap_mul(a, b); }
inline int32_t wrapNeg(int32_t a) { return attnc_wrap_neg(a); }
/// C division, truncating toward zero; x / 0 = 0; INT_MIN / -1 = INT_MIN.
inline int32_t intDiv(int32_t a, int32_t b) { return attnc_idiv(a, b); }
/// C remainder, with the sign of the dividend; x % 0 = 0; INT_MIN % -1 = 0.
inline int32_t intRem(int32_t a, int32_t b) { return attnc_irem(a, b); }
/// a << (count & 31), the shifted-out bits dropped.
inline int32_t shiftLeft(int32_t a, int32_t count) { return attnc_ishl(a, count); }
/// a >> (count & 31), sign-filling.
inline int32_t shiftRight(int32_t a, int32_t count) { return attnc_ishr(a, count); }
inline int32_t intAbs(int32_t a) { return attnc_iabs(a); }
inline int32_t intMin(int32_t a, int32_t b) { return attnc_imin(a, b); }
inline int32_t intMax(int32_t a, int32_t b) { return attnc_imax(a, b); }
/// Bits needed for |x| as unsigned: 0 for 0, 1 for 1, 2 for 2 and 3, 32 for INT_MIN.
inline int32_t bitLength(int32_t x) { return attnc_bit_length(x); }
/// int(x): truncation toward zero, saturating to the Int range, NaN -> 0.
inline int32_t toIntSaturating(double x) { return attnc_d2i(x); }

/// Int `op` Int for the arithmetic, shift and bitwise operators (shift counts `& 31`, `>>`
/// arithmetic); nullopt for the other operators.
inline std::optional<int32_t> intArithmetic(BinaryOp op, int32_t a, int32_t b) {
  switch (op) {
  case BinaryOp::Add:
    return wrapAdd(a, b);
  case BinaryOp::Sub:
    return wrapSub(a, b);
  case BinaryOp::Mul:
    return wrapMul(a, b);
  case BinaryOp::Div:
    return intDiv(a, b);
  case BinaryOp::Rem:
    return intRem(a, b);
  case BinaryOp::Shl:
    return shiftLeft(a, b);
  case BinaryOp::Shr:
    return shiftRight(a, b);
  case BinaryOp::BitAnd:
    return a & b;
  case BinaryOp::BitOr:
    return a | b;
  case BinaryOp::BitXor:
    return a ^ b;
  default:
    return std::nullopt;
  }
}

/// A comparison of two Ints or two Floats; nullopt when `op` is not a comparison.
template <typename T> std::optional<bool> compare(BinaryOp op, T a, T b) {
  switch (op) {
  case BinaryOp::Lt:
    return a < b;
  case BinaryOp::Le:
    return a <= b;
  case BinaryOp::Gt:
    return a > b;
  case BinaryOp::Ge:
    return a >= b;
  case BinaryOp::Eq:
    return a == b;
  case BinaryOp::Ne:
    return a != b;
  default:
    return std::nullopt;
  }
}

} // namespace attnc::dsl::semantics

#endif // ATTNC_DSL_INTSEMANTICS_H
