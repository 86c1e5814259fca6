//===- IntSemantics.h - The language's scalar arithmetic ---------*- C++ -*-===//
//
// The exact meaning of Int arithmetic and conversions (docs/language.md): 32-bit two's
// complement that wraps, division and remainder that never trap, saturating int(). The
// checker's constant folding and the CPU reference both evaluate with these; the GPU code
// generator encodes the same rules independently (compiler/), and the golden and
// soundness tests compare the two.
//
//===----------------------------------------------------------------------===//
#ifndef ATTNC_DSL_INTSEMANTICS_H
#define ATTNC_DSL_INTSEMANTICS_H

#include "attnc/dsl/AST.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>

namespace attnc::dsl::semantics {

inline int32_t wrap(int64_t v) { return static_cast<int32_t>(static_cast<uint32_t>(v)); }
inline int32_t wrapAdd(int32_t a, int32_t b) {
  return static_cast<int32_t>(static_cast<uint32_t>(a) + static_cast<uint32_t>(b));
}
inline int32_t wrapSub(int32_t a, int32_t b) {
  return static_cast<int32_t>(static_cast<uint32_t>(a) - static_cast<uint32_t>(b));
}
inline int32_t wrapMul(int32_t a, int32_t b) {
  return static_cast<int32_t>(static_cast<uint32_t>(a) * static_cast<uint32_t>(b));
}
/// C division, truncating toward zero; x / 0 = 0; INT_MIN / -1 = INT_MIN.
inline int32_t intDiv(int32_t a, int32_t b) {
  if (b == 0)
    return 0;
  if (a == std::numeric_limits<int32_t>::min() && b == -1)
    return a;
  return a / b;
}
/// C remainder, with the sign of the dividend; x % 0 = 0; INT_MIN % -1 = 0.
inline int32_t intRem(int32_t a, int32_t b) {
  if (b == 0 || b == -1)
    return 0;
  return a % b;
}
inline int32_t intAbs(int32_t a) { return a < 0 ? wrapSub(0, a) : a; }
/// Bits needed for |x| as unsigned: 0 for 0, 1 for 1, 2 for 2 and 3, 32 for INT_MIN.
inline int32_t bitLength(int32_t x) {
  uint32_t magnitude = x < 0 ? 0u - static_cast<uint32_t>(x) : static_cast<uint32_t>(x);
  int32_t bits = 0;
  while (magnitude) {
    ++bits;
    magnitude >>= 1;
  }
  return bits;
}
/// int(x): truncation toward zero, saturating to the Int range, NaN -> 0.
inline int32_t toIntSaturating(double x) {
  if (std::isnan(x))
    return 0;
  if (x >= 2147483647.0)
    return std::numeric_limits<int32_t>::max();
  if (x <= -2147483648.0)
    return std::numeric_limits<int32_t>::min();
  return static_cast<int32_t>(x);
}

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
    return static_cast<int32_t>(static_cast<uint32_t>(a) << (b & 31));
  case BinaryOp::Shr: {
    // Written out: a right shift of a negative value is implementation-defined in C++17.
    int s = b & 31;
    uint32_t u = static_cast<uint32_t>(a) >> s;
    if (a < 0 && s > 0)
      u |= ~(0xffffffffu >> s);
    return static_cast<int32_t>(u);
  }
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
