//===- hopper.cuh - Hopper (sm_90a) primitives: mbarrier, TMA, descriptors ===//
//
// Small inline-PTX wrappers for the sm_90a forward template: shared-memory mbarriers, bulk
// tensor copies (TMA) completing on them, wgmma shared-memory matrix descriptors, named
// barriers and warpgroup register reallocation. Plain C types only (NVRTC, no headers).
//
//===----------------------------------------------------------------------===//
#ifndef ATTNC_KERNELS_PRIMITIVES_HOPPER_CUH
#define ATTNC_KERNELS_PRIMITIVES_HOPPER_CUH

namespace attnc {
namespace hopper {

//===--- mbarrier --------------------------------------------------------===//

static __device__ __forceinline__ void barrierInit(unsigned bar, unsigned count) {
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(bar), "r"(count) : "memory");
}
/// Makes the initialised barriers visible to the async proxy (TMA) and the other threads
/// (a __syncthreads must follow).
static __device__ __forceinline__ void barrierInitFence() {
  asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
}
static __device__ __forceinline__ void barrierArrive(unsigned bar) {
  asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];\n" ::"r"(bar) : "memory");
}
/// Arrives and announces `bytes` of asynchronous copies that complete on this barrier.
static __device__ __forceinline__ void barrierArriveExpectBytes(unsigned bar, unsigned bytes) {
  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(bar), "r"(bytes)
               : "memory");
}
/// Blocks until the phase of the given parity has completed.
static __device__ __forceinline__ void barrierWait(unsigned bar, unsigned parity) {
  asm volatile("{\n"
               ".reg .pred done;\n"
               "WAIT_%=:\n"
               "mbarrier.try_wait.parity.shared::cta.b64 done, [%0], %1;\n"
               "@!done bra WAIT_%=;\n"
               "}\n" ::"r"(bar),
               "r"(parity)
               : "memory");
}

//===--- TMA -------------------------------------------------------------===//

/// Copies the box at coordinates (c0, c1, c2, c3) of a 4-D tensor map into shared memory at
/// `dst`, completing `bar`'s transaction count. Out-of-range elements are zero-filled.
static __device__ __forceinline__ void tmaLoad4d(unsigned dst, const void *map, unsigned bar,
                                                 int c0, int c1, int c2, int c3) {
  asm volatile("cp.async.bulk.tensor.4d.shared::cluster.global.mbarrier::complete_tx::bytes"
               " [%0], [%1, {%3, %4, %5, %6}], [%2];\n" ::"r"(dst),
               "l"(map), "r"(bar), "r"(c0), "r"(c1), "r"(c2), "r"(c3)
               : "memory");
}
/// Copies `bytes` (a multiple of 16; both addresses 16-byte aligned) from global memory into
/// shared memory at `dst`, completing `bar`'s transaction count.
static __device__ __forceinline__ void bulkLoad(unsigned dst, const void *src, unsigned bytes,
                                                unsigned bar) {
  asm volatile("cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes"
               " [%0], [%1], %2, [%3];\n" ::"r"(dst),
               "l"(src), "r"(bytes), "r"(bar)
               : "memory");
}
static __device__ __forceinline__ void tmaPrefetchDescriptor(const void *map) {
  asm volatile("prefetch.tensormap [%0];\n" ::"l"(map) : "memory");
}

/// Orders this thread's earlier generic-proxy writes to shared memory before later
/// async-proxy reads of it (wgmma operands or bulk copies written with st.shared).
static __device__ __forceinline__ void fenceAsyncShared() {
  asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
}

/// global[i] += shared[i] for `bytes` / 4 floats (a multiple of 16 bytes, both 16-byte
/// aligned), each element added atomically, as one asynchronous bulk copy of this thread's
/// current bulk group.
static __device__ __forceinline__ void bulkReduceAddF32(float *global, unsigned shared,
                                                        unsigned bytes) {
  asm volatile(
      "cp.reduce.async.bulk.global.shared::cta.bulk_group.add.f32 [%0], [%1], %2;\n" ::"l"(global),
      "r"(shared), "r"(bytes)
      : "memory");
}
static __device__ __forceinline__ void bulkCommit() {
  asm volatile("cp.async.bulk.commit_group;\n" ::: "memory");
}
/// Waits until this thread's bulk groups but the newest kPending have read their sources.
template <int kPending> static __device__ __forceinline__ void bulkWaitRead() {
  asm volatile("cp.async.bulk.wait_group.read %0;\n" ::"n"(kPending) : "memory");
}
/// Waits until this thread's bulk groups are complete (their writes done).
static __device__ __forceinline__ void bulkWaitAll() {
  asm volatile("cp.async.bulk.wait_group 0;\n" ::: "memory");
}

//===--- wgmma shared-memory matrix descriptors --------------------------===//

/// Descriptor of a tile stored as 128-byte rows with the 128-byte swizzle (what TMA writes
/// with CU_TENSOR_MAP_SWIZZLE_128B): 8-row groups of 1024 bytes (stride byte offset), and
/// `leadingBytes` between 64-column panels (used by MN-major operands spanning several
/// panels; ignored for K-major ones). The tile must start 1024-byte aligned; the start may
/// then move by multiples of 32 bytes inside a row (K steps) and of 1024 bytes across rows.
///
/// Built in two words. The low word (descriptorLow128B) holds the start address (bits 0-13,
/// in 16-byte units) and the leading byte offset; the high word is the same for every tile.
/// Byte offsets inside shared memory may be added to the low word in 16-byte units: the
/// address field spans 256 KB, more than a block's shared memory, so the sum never carries
/// out of it. A loop of wgmma products then adds one constant per product instead of
/// rebuilding each descriptor (four dependent uniform-datapath operations).
static __device__ __forceinline__ unsigned descriptorLow128B(unsigned address,
                                                             unsigned leadingBytes) {
  return ((address & 0x3FFFFu) >> 4) | (((leadingBytes >> 4) & 0x3FFFu) << 16);
}
static __device__ __forceinline__ unsigned long long descriptorFromLow128B(unsigned low) {
  return (unsigned long long)low | ((unsigned long long)(1024u >> 4) << 32) | (1ull << 62);
}
/// The byte offset of K step kk (16 columns of 16-bit elements) of a K-major operand of
/// `rows` rows stored in 64-column panels with the 128-byte swizzle: its panel, then 32 bytes
/// per step inside the rows.
static __device__ __forceinline__ unsigned kMajorStepOffset(int kk, int rows) {
  return (unsigned)((kk / 4) * rows * 128 + (kk % 4) * 32);
}

//===--- warpgroups ------------------------------------------------------===//

/// Named barrier over `threads` threads (a multiple of 32); id 0 is __syncthreads'.
static __device__ __forceinline__ void namedSync(int id, int threads) {
  asm volatile("bar.sync %0, %1;\n" ::"r"(id), "r"(threads) : "memory");
}
static __device__ __forceinline__ void namedArrive(int id, int threads) {
  asm volatile("bar.arrive %0, %1;\n" ::"r"(id), "r"(threads) : "memory");
}
template <int kRegs> static __device__ __forceinline__ void releaseRegisters() {
  asm volatile("setmaxnreg.dec.sync.aligned.u32 %0;\n" ::"n"(kRegs));
}
template <int kRegs> static __device__ __forceinline__ void claimRegisters() {
  asm volatile("setmaxnreg.inc.sync.aligned.u32 %0;\n" ::"n"(kRegs));
}

} // namespace hopper
} // namespace attnc

#endif // ATTNC_KERNELS_PRIMITIVES_HOPPER_CUH
