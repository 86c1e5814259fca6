#!/usr/bin/env python3
"""Writes runtime/kernels/primitives/wgmma.cuh: the wgmma.mma_async wrappers the sm_90a forward
template uses. Inline PTX needs every accumulator register spelled out as an operand, so the
wrappers are generated rather than written by hand. Run from the repository root:
    python3 scripts/gen_wgmma.py            # rewrite the header
    python3 scripts/gen_wgmma.py --check    # exit 1 if the committed header is stale (CI)
"""
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "runtime" / "kernels" / "primitives" / "wgmma.cuh"
KINDS = [("BF16", "bf16"), ("F16", "f16")]
SS_N = [64, 128]        # S = Q K^T: both operands from shared memory, K-major
RSK_N = [64, 128]       # S = Q K^T: Q from registers, K from shared memory (K-major)
RS_N = [64, 128, 256]   # O += P V: P from registers, V from shared memory (MN-major)
SST_N = [32, 64]        # backward dQ = dS K: both in shared memory, both MN-major
SSTB_N = [64, 128]      # backward dK += dS^T Q: dS^T K-major, Q MN-major, both in shared memory


def regs(n, first):
    return ", ".join(f"%{first + i}" for i in range(n))


def outs(n):
    return ", ".join(f'"+f"(d[{i}])' for i in range(n))


def ss(kind, ptx, n):
    m = n // 2
    return f"""
/// D[64 x {n}] (+)= A[64 x 16] * B[16 x {n}]; A and B in shared memory (K-major descriptors).
static __device__ __forceinline__ void mmaSS(tile::{kind}, float (&d)[{m}], unsigned long long descA,
                                             unsigned long long descB, int accumulate) {{
  asm volatile("{{\\n.reg .pred p;\\nsetp.ne.b32 p, %{m + 2}, 0;\\n"
               "wgmma.mma_async.sync.aligned.m64n{n}k16.f32.{ptx}.{ptx} {{{regs(m, 0)}}}, "
               "%{m}, %{m + 1}, p, 1, 1, 0, 0;\\n}}\\n"
               : {outs(m)}
               : "l"(descA), "l"(descB), "r"(accumulate));
}}
"""


def rs(kind, ptx, n):
    m = n // 2
    return f"""
/// D[64 x {n}] += A[64 x 16] * B[16 x {n}]; A from registers (the m16n8k16 A fragment of each
/// warp's 16 rows), B in shared memory, MN-major (transposed) descriptor.
static __device__ __forceinline__ void mmaRS(tile::{kind}, float (&d)[{m}], const unsigned (&a)[4],
                                             unsigned long long descB) {{
  asm volatile("{{\\n.reg .pred p;\\nsetp.eq.u32 p, 1, 1;\\n"
               "wgmma.mma_async.sync.aligned.m64n{n}k16.f32.{ptx}.{ptx} {{{regs(m, 0)}}}, "
               "{{%{m}, %{m + 1}, %{m + 2}, %{m + 3}}}, %{m + 4}, p, 1, 1, 1;\\n}}\\n"
               : {outs(m)}
               : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(descB));
}}
"""


def sst(kind, ptx, n):
    m = n // 2
    return f"""
/// D[64 x {n}] (+)= A[64 x 16] * B[16 x {n}]; A and B in shared memory, both MN-major
/// (transposed) descriptors: A stored [k][m], B stored [k][n].
static __device__ __forceinline__ void mmaSSTransposed(tile::{kind}, float (&d)[{m}],
                                                       unsigned long long descA,
                                                       unsigned long long descB, int accumulate) {{
  asm volatile("{{\\n.reg .pred p;\\nsetp.ne.b32 p, %{m + 2}, 0;\\n"
               "wgmma.mma_async.sync.aligned.m64n{n}k16.f32.{ptx}.{ptx} {{{regs(m, 0)}}}, "
               "%{m}, %{m + 1}, p, 1, 1, 1, 1;\\n}}\\n"
               : {outs(m)}
               : "l"(descA), "l"(descB), "r"(accumulate));
}}
"""


def sstb(kind, ptx, n):
    m = n // 2
    return f"""
/// D[64 x {n}] (+)= A[64 x 16] * B[16 x {n}]; A and B in shared memory, A K-major, B MN-major
/// (transposed, stored [k][n]).
static __device__ __forceinline__ void mmaSSTransposedB(tile::{kind}, float (&d)[{m}],
                                                        unsigned long long descA,
                                                        unsigned long long descB, int accumulate) {{
  asm volatile("{{\\n.reg .pred p;\\nsetp.ne.b32 p, %{m + 2}, 0;\\n"
               "wgmma.mma_async.sync.aligned.m64n{n}k16.f32.{ptx}.{ptx} {{{regs(m, 0)}}}, "
               "%{m}, %{m + 1}, p, 1, 1, 0, 1;\\n}}\\n"
               : {outs(m)}
               : "l"(descA), "l"(descB), "r"(accumulate));
}}
"""


def rsk(kind, ptx, n):
    m = n // 2
    return f"""
/// D[64 x {n}] (+)= A[64 x 16] * B[16 x {n}]; A from registers (the m16n8k16 A fragment of
/// each warp's 16 rows), B in shared memory, K-major descriptor.
static __device__ __forceinline__ void mmaRSKMajor(tile::{kind}, float (&d)[{m}], const unsigned (&a)[4],
                                                   unsigned long long descB, int accumulate) {{
  asm volatile("{{\\n.reg .pred p;\\nsetp.ne.b32 p, %{m + 5}, 0;\\n"
               "wgmma.mma_async.sync.aligned.m64n{n}k16.f32.{ptx}.{ptx} {{{regs(m, 0)}}}, "
               "{{%{m}, %{m + 1}, %{m + 2}, %{m + 3}}}, %{m + 4}, p, 1, 1, 0;\\n}}\\n"
               : {outs(m)}
               : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(descB), "r"(accumulate));
}}
"""


def render():
    parts = ["""//===- wgmma.cuh - Hopper warpgroup matrix instructions --------------===//
//
// GENERATED by scripts/gen_wgmma.py; do not edit. wgmma.mma_async wrappers (sm_90a) with fp32
// accumulators for bf16 and fp16 inputs, plus the fence/commit/wait instructions around them.
// Accumulator layout (per thread of the warpgroup, warp w, lane l, g = l / 4, t = l % 4):
//   d[4*j + 0, 1] = D[16*w + g,     8*j + 2*t + {0, 1}]
//   d[4*j + 2, 3] = D[16*w + g + 8, 8*j + 2*t + {0, 1}]
// i.e. the mma.sync m16n8 C fragment of each warp's 16 rows, repeated along N.
//
//===----------------------------------------------------------------------===//
#ifndef ATTNC_KERNELS_PRIMITIVES_WGMMA_CUH
#define ATTNC_KERNELS_PRIMITIVES_WGMMA_CUH

#include "primitives/tile.cuh"

// clang-format off
namespace attnc {
namespace wgmma {

/// Orders this thread's register accesses before the wgmma instructions that follow.
static __device__ __forceinline__ void fence() {
  asm volatile("wgmma.fence.sync.aligned;\\n" ::: "memory");
}
/// Closes the group of wgmma instructions issued since the last commit.
static __device__ __forceinline__ void commit() {
  asm volatile("wgmma.commit_group.sync.aligned;\\n" ::: "memory");
}
/// Waits until at most kPending committed groups are still running.
template <int kPending> static __device__ __forceinline__ void wait() {
  asm volatile("wgmma.wait_group.sync.aligned %0;\\n" ::"n"(kPending) : "memory");
}
/// Keeps the compiler from moving accesses of accumulator registers across wgmma issue/wait.
template <int kN> static __device__ __forceinline__ void fenceOperands(float (&d)[kN]) {
#pragma unroll
  for (int i = 0; i < kN; ++i)
    asm volatile("" : "+f"(d[i])::"memory");
}
"""]
    for kind, ptx in KINDS:
        for n in SS_N:
            parts.append(ss(kind, ptx, n))
        for n in RSK_N:
            parts.append(rsk(kind, ptx, n))
        for n in RS_N:
            parts.append(rs(kind, ptx, n))
        for n in SST_N:
            parts.append(sst(kind, ptx, n))
        for n in SSTB_N:
            parts.append(sstb(kind, ptx, n))
    parts.append("""
} // namespace wgmma
} // namespace attnc
// clang-format on

#endif // ATTNC_KERNELS_PRIMITIVES_WGMMA_CUH
""")
    return "".join(parts)


def main():
    text = render()
    if "--check" in sys.argv:
        if not OUT.exists() or OUT.read_text() != text:
            print(f"{OUT} is stale: run python3 scripts/gen_wgmma.py", file=sys.stderr)
            return 1
        return 0
    OUT.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
