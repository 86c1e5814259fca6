//===- tile.cuh - Warp-level tile primitives for sm_80+ -------------===//
//
// Small, math-like building blocks for the attention templates, in the spirit of
// ThunderKittens: a 16-byte asynchronous copy, an XOR-swizzled shared-memory tile
// address, ldmatrix loads, the m16n8k16 tensor-core product, fp32 -> 16-bit packing and
// quad (4-lane) reductions. Everything is inline PTX on plain C types, so the header
// compiles with NVRTC without any host or CUDA header (no cuda_bf16.h needed).
//
// Fragment layouts (PTX ISA, mma.m16n8k16, g = lane / 4, t = lane % 4):
//   A (16x16, row-major), 4 x b32: a0 = (g, 2t..2t+1), a1 = (g+8, 2t..), a2 = (g, 2t+8..),
//                                   a3 = (g+8, 2t+8..)
//   B (16x8, k x n), 2 x b32:       b0 = (k 2t..2t+1, n g), b1 = (k 2t+8.., n g)
//   C (16x8, fp32), 4 floats:       c0,c1 = (g, 2t..2t+1), c2,c3 = (g+8, 2t..2t+1)
//
//===----------------------------------------------------------------------===//
#ifndef ATTNC_KERNELS_PRIMITIVES_TILE_CUH
#define ATTNC_KERNELS_PRIMITIVES_TILE_CUH

namespace attnc {
namespace tile {

/// The two 16-bit input formats; `Kind` selects the mma and the packing instruction.
struct BF16 {};
struct F16 {};

static __device__ __forceinline__ float negInf() { return __int_as_float(0xff800000u); }

//===-- Shared memory addressing ------------------------------------------===//

/// Byte offset of the 16-byte chunk `chunk` of row `row` in a row-major tile of
/// `kChunksPerRow` chunks (rows of 64/128/256 16-bit elements). Chunks are XOR-swizzled
/// with the row's low 3 bits so that the 8 rows an ldmatrix phase reads, and the 8 chunks
/// a quarter-warp writes, fall into 8 distinct 16-byte bank groups: no bank conflicts.
template <int kChunksPerRow>
static __device__ __forceinline__ unsigned swizzledOffset(int row, int chunk) {
  static_assert(kChunksPerRow % 8 == 0, "rows must be a multiple of 128 bytes");
  return (unsigned)(row * kChunksPerRow + (chunk ^ (row & 7))) * 16u;
}

/// Swizzled byte offset, within a row, of logical chunk 2*j + c (j = 0..3, c = 0/1) for a
/// row whose low 3 bits are `row7`, written as (32*j) ^ pairXor(row7, c): since 2*j + c ==
/// (2*j) | c, ((2*j + c) ^ row7) * 16 == (32*j) ^ ((c ^ row7) * 16). Chunk 2*kk + c of such
/// a row is at ((32 * (kk % 4)) ^ x) + (kk / 4) * 128: the XOR only touches the low 3 chunk
/// bits, so one register per operand addresses a whole row.
static __device__ __forceinline__ unsigned pairXor(int row7, int c) {
  return (unsigned)((c ^ row7) * 16);
}
static __device__ __forceinline__ unsigned pairChunkOffset(int kk, unsigned x) {
  return ((unsigned)(32 * (kk % 4)) ^ x) + (unsigned)(kk / 4) * 128u;
}

/// The bytes of head h of batch b of a 16-bit tensor with element strides (batch, head,
/// token), as the launch parameters hold them.
static __device__ __forceinline__ const unsigned char *
headBase(const void *t, const long long (&stride)[3], int b, int h) {
  return (const unsigned char *)t + (b * stride[0] + h * stride[1]) * 2;
}
static __device__ __forceinline__ unsigned char *headBase(void *t, const long long (&stride)[3],
                                                          int b, int h) {
  return (unsigned char *)t + (b * stride[0] + h * stride[1]) * 2;
}

static __device__ __forceinline__ unsigned sharedAddress(const void *p) {
  return (unsigned)__cvta_generic_to_shared(p);
}

//===-- cp.async ----------------------------------------------------------===//

/// Copies 16 bytes global -> shared without going through registers; when `valid` is
/// false the destination is zero-filled and nothing is read (src-size 0).
static __device__ __forceinline__ void copyAsync16(unsigned dst, const void *src, bool valid) {
  int srcBytes = valid ? 16 : 0;
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src), "r"(srcBytes)
               : "memory");
}
static __device__ __forceinline__ void copyAsyncCommit() {
  asm volatile("cp.async.commit_group;\n" ::: "memory");
}
/// Waits until at most `kPending` committed groups of this thread are still in flight.
template <int kPending> static __device__ __forceinline__ void copyAsyncWait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(kPending) : "memory");
}

//===-- ldmatrix ----------------------------------------------------------===//

/// Four 8x8 matrices of 16-bit elements; lane i supplies the row address of row i % 8 of
/// matrix i / 8; register j receives this lane's pair of matrix j.
static __device__ __forceinline__ void loadMatrixX4(unsigned (&r)[4], unsigned addr) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(addr));
}
/// As loadMatrixX4, each 8x8 matrix transposed (the B operand from a row-major [k][n] tile).
static __device__ __forceinline__ void loadMatrixX4Trans(unsigned (&r)[4], unsigned addr) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(addr));
}

/// The inverse of loadMatrixX4: register j holds this lane's pair of matrix j (the pair an
/// m16n8k16 accumulator fragment holds: row lane / 4, columns 2 (lane % 4) and the next), lane
/// i supplies the address of row i % 8 of matrix i / 8, stored at `addr` ^ `swizzle`. The
/// warp must be converged. The XOR happens inside the asm, so that a loop storing with
/// several swizzles (a 128-byte swizzle's chunk bits) keeps one address live: XORed outside,
/// the compiler hoists one address per swizzle out of the loop as invariants.
static __device__ __forceinline__ void storeMatrixX4(unsigned addr, const unsigned (&r)[4],
                                                     unsigned swizzle = 0) {
  asm volatile("{\n .reg .b32 a;\n xor.b32 a, %0, %1;\n"
               " stmatrix.sync.aligned.m8n8.x4.shared.b16 [a], {%2, %3, %4, %5};\n}\n" ::"r"(addr),
               "r"(swizzle), "r"(r[0]), "r"(r[1]), "r"(r[2]), "r"(r[3])
               : "memory");
}
/// As storeMatrixX4, each 8x8 matrix transposed: the row lane i addresses receives column i %
/// 8 of matrix i / 8 (an accumulator fragment stored column by column).
static __device__ __forceinline__ void storeMatrixX4Trans(unsigned addr, const unsigned (&r)[4]) {
  asm volatile(
      "stmatrix.sync.aligned.m8n8.x4.trans.shared.b16 [%0], {%1, %2, %3, %4};\n" ::"r"(addr),
      "r"(r[0]), "r"(r[1]), "r"(r[2]), "r"(r[3])
      : "memory");
}

//===-- Tensor-core product -----------------------------------------------===//

/// d += a * b for one 16x8x16 tile, fp32 accumulate.
static __device__ __forceinline__ void mma16816(BF16, float (&d)[4], const unsigned (&a)[4],
                                                unsigned b0, unsigned b1) {
  asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 "
               "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};\n"
               : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
               : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}
static __device__ __forceinline__ void mma16816(F16, float (&d)[4], const unsigned (&a)[4],
                                                unsigned b0, unsigned b1) {
  asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 "
               "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};\n"
               : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
               : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

//===-- Conversions -------------------------------------------------------===//

/// Packs (lo, hi) into one b32 of two 16-bit values, round to nearest even; `lo` lands in
/// the low half (the lower column of a fragment pair).
static __device__ __forceinline__ unsigned pack2(BF16, float lo, float hi) {
  unsigned r;
  asm("cvt.rn.bf16x2.f32 %0, %1, %2;\n" : "=r"(r) : "f"(hi), "f"(lo));
  return r;
}
static __device__ __forceinline__ unsigned pack2(F16, float lo, float hi) {
  unsigned r;
  asm("cvt.rn.f16x2.f32 %0, %1, %2;\n" : "=r"(r) : "f"(hi), "f"(lo));
  return r;
}
static __device__ __forceinline__ float unpackLo(BF16, unsigned v) {
  return __uint_as_float(v << 16);
}
static __device__ __forceinline__ float unpackHi(BF16, unsigned v) {
  return __uint_as_float(v & 0xffff0000u);
}
static __device__ __forceinline__ float halfToFloat(unsigned short h) {
  float f;
  asm("cvt.f32.f16 %0, %1;\n" : "=f"(f) : "h"(h));
  return f;
}
static __device__ __forceinline__ float unpackLo(F16, unsigned v) {
  return halfToFloat((unsigned short)(v & 0xffffu));
}
static __device__ __forceinline__ float unpackHi(F16, unsigned v) {
  return halfToFloat((unsigned short)(v >> 16));
}

//===-- Math --------------------------------------------------------------===//

/// 2^x with the MUFU unit (ex2.approx.ftz: 2^-inf = +0, about 2 ulp).
static __device__ __forceinline__ float fastExp2(float x) {
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;\n" : "=f"(y) : "f"(x));
  return y;
}

/// Max / sum over the 4 lanes of a quad (the lanes that share one accumulator row).
static __device__ __forceinline__ float quadMax(float x) {
  x = fmaxf(x, __shfl_xor_sync(0xffffffffu, x, 1));
  return fmaxf(x, __shfl_xor_sync(0xffffffffu, x, 2));
}
static __device__ __forceinline__ float quadSum(float x) {
  x += __shfl_xor_sync(0xffffffffu, x, 1);
  return x + __shfl_xor_sync(0xffffffffu, x, 2);
}

/// Swaps across lanes t and t ^ s of a quad: the lower lane keeps a and receives the upper
/// lane's a into b, the upper lane keeps b and receives the lower lane's b into a.
static __device__ __forceinline__ void quadExchange(unsigned &a, unsigned &b, bool upper, int s) {
  const unsigned received = __shfl_xor_sync(0xffffffffu, upper ? a : b, s);
  a = upper ? received : a;
  b = upper ? b : received;
}

/// Transposes a 4 x 4 matrix of words spread over the 4 lanes of a quad (lane t holds row
/// t in x0..x3): afterwards lane t holds column t, xi = what lane i held in x<t>. Two
/// exchange stages (xor 1, then xor 2), every lane of the warp taking part. Scalars, not an
/// array: ptxas kept an array operand in local memory.
static __device__ __forceinline__ void quadTranspose(unsigned &x0, unsigned &x1, unsigned &x2,
                                                     unsigned &x3, int t) {
  quadExchange(x0, x1, (t & 1) != 0, 1);
  quadExchange(x2, x3, (t & 1) != 0, 1);
  quadExchange(x0, x2, (t & 2) != 0, 2);
  quadExchange(x1, x3, (t & 2) != 0, 2);
}

/// Walks the kBlockN-aligned key tiles that meet the kv intervals of attnc_kv_ranges in
/// order, each tile once: moves the cursor (r = interval, nx = first key not yet passed)
/// forward by j candidate tiles. Then nx is the start of that tile, or r == n when there
/// are no more than j candidates. `interval(i, lo, hi)` reads interval i (the templates keep
/// the intervals in shared memory or in registers).
template <int kBlockN, class Interval>
static __device__ __forceinline__ void walkKeyTiles(const Interval &interval, int n, int j, int &r,
                                                    int &nx) {
  while (r < n) {
    int lo = 0, hi = 0;
    interval(r, lo, hi);
    const int first = max(lo / kBlockN * kBlockN, nx);
    const int count = first < hi ? (hi - first + kBlockN - 1) / kBlockN : 0;
    if (j < count) {
      nx = first + j * kBlockN;
      return;
    }
    j -= count;
    nx = max(nx, first + count * kBlockN);
    ++r;
  }
}

} // namespace tile
} // namespace attnc

#endif // ATTNC_KERNELS_PRIMITIVES_TILE_CUH
