//===- int_semantics.cuh - The language's Int arithmetic, host and device -===//
//
// The one definition of Int (docs/language.md, "Semantics"): 32-bit two's complement that
// wraps, division and remainder that never trap (x / 0 = 0, INT_MIN / -1 = INT_MIN,
// x % 0 = x % -1 = 0), shift counts taken `& 31` with `>>` arithmetic, abs(INT_MIN) =
// INT_MIN, and int() of a float truncating, saturating and mapping NaN to 0.
//
// Dependency-free C++ that NVRTC and a host compiler both accept: the checker's constant
// folding, the CPU reference and the test oracles include it (through IntSemantics.h),
// and the hook prelude embeds this very text (compiler/cmake/EmbedText.cmake), so the
// generated code's helpers (attnc_imin, attnc_iabs, attnc_clz, attnc_f2i, ...) are these
// functions. The code generator lowers + - * / % << >> to arith operations instead; the
// golden, soundness and IntSemanticsTests checks compare those with these.
//
//===----------------------------------------------------------------------===//
#ifndef ATTNC_DSL_INT_SEMANTICS_CUH
#define ATTNC_DSL_INT_SEMANTICS_CUH

// Device: internal and inlined, like every prelude helper (no symbol reaches the PTX).
// Host: an ordinary inline function, one definition across translation units.
#if defined(__CUDACC__) || defined(__CUDACC_RTC__)
#define ATTNC_INT_FN static __host__ __device__ __forceinline__
#else
#define ATTNC_INT_FN inline
#endif

#define ATTNC_I32_MIN (-2147483647 - 1)
#define ATTNC_I32_MAX 2147483647

// `int` is 32 bits and `unsigned` arithmetic wraps modulo 2^32 on every target attnc
// supports; the signed results are the two's complement reading of the unsigned ones.
ATTNC_INT_FN int attnc_wrap_add(int x, int y) { return (int)((unsigned)x + (unsigned)y); }
ATTNC_INT_FN int attnc_wrap_sub(int x, int y) { return (int)((unsigned)x - (unsigned)y); }
ATTNC_INT_FN int attnc_wrap_mul(int x, int y) { return (int)((unsigned)x * (unsigned)y); }
ATTNC_INT_FN int attnc_wrap_neg(int x) { return (int)(0u - (unsigned)x); }
/// Truncating division; x / 0 = 0 and INT_MIN / -1 = INT_MIN (the wrapped negation).
ATTNC_INT_FN int attnc_idiv(int x, int y) {
  if (y == 0)
    return 0;
  if (y == -1)
    return attnc_wrap_neg(x);
  return x / y;
}
/// Remainder with the sign of the dividend; x % 0 = 0 and x % -1 = 0.
ATTNC_INT_FN int attnc_irem(int x, int y) {
  if (y == 0 || y == -1)
    return 0;
  return x % y;
}
ATTNC_INT_FN int attnc_ishl(int x, int count) { return (int)((unsigned)x << (count & 31)); }
/// Arithmetic (sign-filling) right shift, written out: C++17 leaves `>>` of a negative
/// value implementation-defined.
ATTNC_INT_FN int attnc_ishr(int x, int count) {
  int s = count & 31;
  unsigned u = (unsigned)x >> s;
  if (x < 0 && s > 0)
    u |= ~(0xffffffffu >> s);
  return (int)u;
}
ATTNC_INT_FN int attnc_imin(int x, int y) { return x < y ? x : y; }
ATTNC_INT_FN int attnc_imax(int x, int y) { return x > y ? x : y; }
/// abs(INT_MIN) wraps to INT_MIN.
ATTNC_INT_FN int attnc_iabs(int x) { return x < 0 ? (int)(0u - (unsigned)x) : x; }
/// Leading zeros of the 32-bit pattern; 32 for 0.
ATTNC_INT_FN int attnc_clz(int x) {
  unsigned u = (unsigned)x;
  int n = 0;
  if (u == 0)
    return 32;
#if defined(__CUDA_ARCH__) || defined(__CUDACC_RTC__)
  n = __clz((int)u);
#else
  n = __builtin_clz(u);
#endif
  return n;
}
/// bit_length(x): bits of |x| as unsigned (0 for 0, 32 for INT_MIN), as the code
/// generator computes it: 32 - clz(abs(x)).
ATTNC_INT_FN int attnc_bit_length(int x) { return 32 - attnc_clz(attnc_iabs(x)); }
/// int(x) of a float: truncation toward zero, saturating to the Int range, NaN -> 0.
ATTNC_INT_FN int attnc_f2i(float x) {
  if (x != x)
    return 0;
  if (x >= 2147483648.0f)
    return ATTNC_I32_MAX;
  if (x <= -2147483648.0f)
    return ATTNC_I32_MIN;
  return (int)x;
}
/// int(x) of a float64 (the route's and the CPU reference's floats): the same rule.
ATTNC_INT_FN int attnc_d2i(double x) {
  if (x != x)
    return 0;
  if (x >= 2147483648.0)
    return ATTNC_I32_MAX;
  if (x <= -2147483648.0)
    return ATTNC_I32_MIN;
  return (int)x;
}

#endif // ATTNC_DSL_INT_SEMANTICS_CUH
