//===- sm90/forward.cuh - Block-sparse attention forward for Hopper (sm_90a) ===//
//
// FlashAttention-3 class forward pass driven by the program's variant (its hooks, KernelArgs.h),
// as sm80/forward.cuh: TMA loads into a multi-stage shared-memory ring on mbarriers, one producer
// warpgroup and two consumer warpgroups (setmaxnreg), wgmma for S = Q K^T (K in shared
// memory, Q in registers or shared memory) and O += P V (P from registers), the two
// consumers' matrix work
// interleaved by named barriers (ping-pong), and inside each consumer the QK^T of tile i
// issued together with the PV of tile i-1 so the softmax overlaps the tensor cores.
//
// HOW THE RUNTIME USES IT (NVRTC, --gpu-architecture=sm_90a)
//   source = KernelArgs.h + attnc_forward_params.h + primitives/tile.cuh + generated hooks
//            (struct AttncProgram, the program's variant) + "using AttncVariant = ...;"
//            (the program, or its routed wrapper) + this file; ATTNC_HEAD_DIM and
//            ATTNC_DTYPE_BF16 / ATTNC_DTYPE_F16 defined first. Its #includes name the
//            embedded files by their path under runtime/kernels/.
//   The roles: sm90/traits.cuh (configuration), attention/scheduler.cuh,
//   attention/range_scan.cuh, sm90/producer.cuh, sm90/mainloop.cuh (with
//   attention/score.cuh, online_softmax.cuh, epilogue.cuh). Development builds only:
//   primitives/trace.cuh's ATTNC_SM90_TRACE and ATTNC_SM90_DEV_UNMASKED.
//
// ENTRY
//   extern "C" __global__ void attnc_forward_sm90_d<D>_<bf16|f16>(
//       const AttncForwardParams p, const AttncArgs args, const AttncTmaMaps maps)
//   extern "C" __constant__ int attnc_forward_sm90_d<D>_<bf16|f16>_config[8]
//       = {block_m, block_n, threads, stages, dynamic_smem_bytes, head_dim, 1 (TMA maps),
//          1 (persistent)}
//
// LAUNCH (persistent)
//   Work units are the 128-row query tiles of every (batch, head): units = ceil(q_len / 128)
//   x heads x batch. grid = (min(units, SM count), 1, 1); p.tile_counter points to the
//   scheduler workspace (ATTNC_SCHEDULER_INTS ints, the first 4 zeroed before the launch,
//   stream-ordered). block = 384 threads, dynamic shared memory from
//   the table (set CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES first). The maps are
//   4-D views {D, tokens, heads, batch} (byte strides = the element strides of
//   AttncForwardParams x 2), CU_TENSOR_MAP_SWIZZLE_128B, box {64, 128, 1, 1} for Q and
//   {64, block_n, 1, 1} for K and V; K and V maps have kv_heads heads.
//   Requirements as sm80/forward.cuh (16-byte aligned tensors, strides multiples of 8).
//
// WARPGROUPS
//   0: producer. Warp 1 scans: it takes work units (the first is blockIdx.x, then gridDim.x
//      plus an atomicAdd on the counter; decode() orders them for L2 reuse and load
//      balance, and for data-dependent masks the last ones longest first: tailOrder),
//      calls V::kvRanges, classifies the candidate key tiles 32 at a time (one per lane,
//      ballot-compacted; long lists coarse-then-fine) and queues the non-empty ones in
//      chunks (a 4-chunk queue in shared memory on mbarriers), one unit ahead of the
//      loading. Warp 0 loads: for each queued unit it loads Q once that Q buffer is free
//      (two buffers where shared memory allows), then for every queued tile waits for a
//      free stage, writes (start | class) into the stage's slot and issues the K and V TMA
//      copies. A slot holding -1 ends the unit; a unit of -1 ends the kernel. Warps 2-3
//      count the tail units' tiles for the longest-first order (countTail) or only give
//      their registers back.
//   1, 2: consumers, 64 query rows each (block_m = 128), the same key tiles. Per unit they
//      release Q after its last QK^T and write O straight from registers, so the next
//      unit's loads overlap the last PV product and the epilogue. Per tile:
//      S = Q K^T (wgmma, async) and O += P_prev V_prev (async) issued back to back, the
//      softmax of S runs while the PV product is still in flight (128-key tiles; with
//      64-key tiles the stage is released before the exponentials instead), then O is
//      rescaled when needed and S becomes P (bf16/fp16 registers). The stage is released
//      (mbarrier arrive, one per warp) when its PV product completed. Masks of few
//      comparisons keep each warp's Q rows in registers (kQInRegisters), loaded per unit.
//   Semantics (classes, hooks, lazy rescale, empty rows) are exactly those of
//   sm80/forward.cuh; see there.
//
//===----------------------------------------------------------------------===//
#ifndef ATTNC_KERNELS_SM90_FORWARD_CUH
#define ATTNC_KERNELS_SM90_FORWARD_CUH

#include "attnc_forward_params.h"
#include "attnc_tile_policy.h"
#include "primitives/hopper.cuh"
#include "primitives/tile.cuh"
#include "primitives/trace.cuh"
#include "sm90/mainloop.cuh"
#include "sm90/producer.cuh"
#include "sm90/traits.cuh"

namespace attnc {

/// The key tile (attnc_tile_policy.h) and pipeline depth for a program and head dim. Shared
/// memory (227 KB per block): Q 128 x D plus `stages` K and V tiles of block_n x D.
///   D=64:  128-key tiles, 4 stages -> 16 + 128 KB;  D=128: 128-key tiles, 3 stages -> 32 + 192 KB
///   D=256: 64-key tiles, 2 stages  -> 64 + 128 KB (O takes 128 registers per thread)
template <class V, int kHeadDim> struct Sm90Policy {
  static constexpr int kBlockN =
      tile_policy::sm90KeyTile(kHeadDim, V::kKvRangesExact, V::kHasRoute);
  static constexpr int kStages = kHeadDim == 256 ? 2 : kHeadDim == 64 || kBlockN == 64 ? 4 : 3;
};

template <class V, int kHeadDim, class Kind,
          class T = Sm90Traits<V, kHeadDim, Kind, Sm90Policy<V, kHeadDim>::kBlockN,
                               Sm90Policy<V, kHeadDim>::kStages>>
struct ForwardSm90 {
  using Traits = T;
  using Aux = typename T::Aux;
  using Producer = Sm90Producer<T>;
  using Mainloop = Sm90Mainloop<T>;
  using Tail = typename T::Tail;
  static constexpr int kBlockM = T::kBlockM, kBlockN = T::kBlockN, kThreads = T::kThreads;
  static constexpr int kStages = T::kStages, kScanners = T::kScanners, kChunks = T::kChunks;
  static constexpr int kQBuffers = T::kQBuffers, kSmemBytes = T::kSmemBytes;
  static constexpr int kKOffset = T::kKOffset, kVOffset = T::kVOffset, kAuxOffset = T::kAuxOffset;
  static constexpr int kProducerRegs = T::kProducerRegs, kConsumerRegs = T::kConsumerRegs;
  static constexpr bool kLptTail = T::kLptTail;
  static __device__ __forceinline__ unsigned barrierAddress(const unsigned long long &bar) {
    return T::barrierAddress(bar);
  }

  static __device__ __forceinline__ void run(const AttncForwardParams &p, const AttncArgs &a,
                                             const AttncTmaMaps &maps, unsigned char *smemRaw) {
    const Kind kind{};
    const int tid = (int)threadIdx.x;
    const int warpgroup = tid / 128;

    const unsigned base = (tile::sharedAddress(smemRaw) + 1023u) & ~1023u;
    unsigned char *smem = smemRaw + (base - tile::sharedAddress(smemRaw));
    const unsigned sQ = base, sK = base + kKOffset, sV = base + kVOffset;
    Aux &aux = *reinterpret_cast<Aux *>(smem + kAuxOffset);

#if ATTNC_SM90_TRACE
    if (tid == 0) {
      ATTNC_TRACE_ADD(kTraceCtas, 1);
      ATTNC_TRACE_ADD(kTraceStartSum, attncGlobalTimer());
    }
#endif
    if (tid == 0) {
#pragma unroll
      for (int i = 0; i < kQBuffers; ++i) {
        hopper::barrierInit(barrierAddress(aux.qFull[i]), 1);
        hopper::barrierInit(barrierAddress(aux.qEmpty[i]), 8); // one arrive per consumer warp
      }
#pragma unroll
      for (int s = 0; s < kStages; ++s) {
        hopper::barrierInit(barrierAddress(aux.full[s]), 1);
        hopper::barrierInit(barrierAddress(aux.empty[s]), 8);
      }
#pragma unroll
      for (int s = 0; s < kScanners; ++s) {
#pragma unroll
        for (int c = 0; c < kChunks; ++c) {
          hopper::barrierInit(barrierAddress(aux.chunkFull[s][c]), 32); // every scanning lane
          hopper::barrierInit(barrierAddress(aux.chunkEmpty[s][c]), 1);
        }
        hopper::barrierInit(barrierAddress(aux.unitBegun[s][0]), 1);
        hopper::barrierInit(barrierAddress(aux.unitBegun[s][1]), 1);
      }
      hopper::barrierInitFence();
    }
    __syncthreads();

    if (warpgroup == 0) {
      hopper::releaseRegisters<kProducerRegs>();
      if (tid < 32)
        Producer::load(a, maps, aux, sQ, sK, sV);
      else if (tid / 32 - 1 < kScanners)
        Producer::scan(p, a, aux, tid / 32 - 1);
      else if (kLptTail)
        Tail::countTail(p, a, tid / 32 - 1 - kScanners, 3 - kScanners);
      return;
    }
    hopper::claimRegisters<kConsumerRegs>();
    Mainloop::consume(p, a, aux, sQ, sK, sV, warpgroup - 1, kind);
  }
};

} // namespace attnc

#ifndef ATTNC_HEAD_DIM
#error "define ATTNC_HEAD_DIM (64, 128 or 256) before including sm90/forward.cuh"
#endif
// The entry's name: attnc_forward_sm90_d<D>_<bf16|f16> (and its _config table).
#if defined(ATTNC_DTYPE_F16) && ATTNC_DTYPE_F16
#define ATTNC_FWD90_SUFFIX f16
using AttncForwardKind = attnc::tile::F16;
#else
#define ATTNC_FWD90_SUFFIX bf16
using AttncForwardKind = attnc::tile::BF16;
#endif
#define ATTNC_FWD90_NAME_(D, S, X) attnc_forward_sm90_d##D##_##S##X
#define ATTNC_FWD90_EXPAND_(D, S, X) ATTNC_FWD90_NAME_(D, S, X)
#define ATTNC_FWD90_NAME(X) ATTNC_FWD90_EXPAND_(ATTNC_HEAD_DIM, ATTNC_FWD90_SUFFIX, X)
using AttncForwardSm90 = attnc::ForwardSm90<AttncVariant, ATTNC_HEAD_DIM, AttncForwardKind>;
extern "C" {
__constant__ int ATTNC_FWD90_NAME(_config)[8] = {AttncForwardSm90::kBlockM,
                                                 AttncForwardSm90::kBlockN,
                                                 AttncForwardSm90::kThreads,
                                                 AttncForwardSm90::kStages,
                                                 AttncForwardSm90::kSmemBytes,
                                                 ATTNC_HEAD_DIM,
                                                 1,
                                                 1};
}
extern "C" __global__ void __launch_bounds__(384, 1)
    ATTNC_FWD90_NAME()(const __grid_constant__ AttncForwardParams p,
                       const __grid_constant__ AttncArgs a,
                       const __grid_constant__ AttncTmaMaps maps) {
  extern __shared__ __align__(1024) unsigned char attnc_smem[];
  AttncForwardSm90::run(p, a, maps, attnc_smem);
}

#endif // ATTNC_KERNELS_SM90_FORWARD_CUH
