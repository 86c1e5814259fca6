//===- sm80/forward.cuh - Block-sparse attention forward for sm_80 and newer ===//
//
// FlashAttention-2 style forward pass driven by the program's variant (its hooks,
// KernelArgs.h). Portable tensor-core code (mma.sync m16n8k16, ldmatrix, cp.async): runs on
// sm_80, sm_86, sm_89, sm_90 and newer.
//
// HOW THE RUNTIME USES IT (NVRTC)
//   source = KernelArgs.h + attnc_forward_params.h + primitives/tile.cuh + generated hooks
//            (struct AttncProgram) + "using AttncVariant = ...;" + this file, with
//            ATTNC_HEAD_DIM (64, 128 or 256) and ATTNC_DTYPE_BF16 / ATTNC_DTYPE_F16 defined
//            first. Its #includes name the embedded files by their path under
//            runtime/kernels/. Options: --gpu-architecture=sm_XX -std=c++17.
//   Configuration lives in types: Sm80Policy<V, D, shared memory> gives the tile shapes
//   (attnc_tile_policy.h), warps and stages; a development build (ATTNC_DEV_BUILD) may
//   override the query tile rows with ATTNC_BLOCK_M. Shared with sm90/forward.cuh:
//   attention/score.cuh, online_softmax.cuh, epilogue.cuh.
//
// ENTRY (default instantiation, in sm80/forward_entry.cuh)
//   extern "C" __global__ void attnc_forward_sm80_d<D>_<bf16|f16>(
//       const AttncForwardParams p, const AttncArgs args)     (both __grid_constant__)
//   extern "C" { __constant__ int attnc_forward_sm80_d<D>_<bf16|f16>_config[6]; }
//       = {block_m, block_n, threads, stages, dynamic_smem_bytes, head_dim}
//       (readable with cuModuleGetGlobal; use it rather than re-deriving the numbers)
//
// LAUNCH
//   grid  = (ceil(q_len / block_m), heads, batch)     one CTA per (q tile, head, batch)
//   block = (threads, 1, 1)                            threads = 32 * num_warps
//   dynamic shared memory = block_m*D*2 + 4*stages*block_n*D + bookkeeping bytes
//       (Q tile + K and V stages, 16-bit elements, + the Aux struct rounded up to 128 B:
//       640 B with 4 warps and 2 stages, 1152 B with 8); the _config table holds the exact
//       total. Above 48 KB, set CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES first.
//   defaults: D=64  : block 128 x 64, 4 warps, 2 stages ->  48 KB + 640
//             D=128 : block 128 x 64, 4 warps, 2 stages ->  96 KB + 640
//             D=256 : block 128 x 64, 8 warps, 2 stages -> 192 KB + 1152  (sm_90, sm_100)
//                     block  64 x 64, 4 warps, 2 stages -> 160 KB + 640   (sm_80, sm_87)
//                     block  64 x 32, 4 warps, 2 stages ->  96 KB + 640   (99 KB parts)
//   (chosen with __CUDA_ARCH__, so compile the default entry for one architecture at a time,
//   as NVRTC does.)
//   Requirements: heads % kv_heads == 0; q, k, v, o 16-byte aligned, all their strides
//   multiples of 8 elements (see attnc_forward_params.h); heads, batch <= 65535.
//   Choice of block_m: 128 (half the shared-memory traffic per flop), and 64 for masks that
//   read token-indexed inputs (V::kHasSummaries: document masks), see below.
//
// SEMANTICS (reference/ defines them; see KernelArgs.h for the hooks)
//   One thread-0 call of V::kvRanges per CTA gives the key intervals; keys are visited in
//   block_n-aligned tiles inside them (a tile shared by two intervals is visited once), and
//   V::classify labels each (all threads classify a batch of candidate tiles in
//   parallel, one each, and keep the non-empty ones in a shared-memory list; so the kernel
//   source defines ATTNC_KERNEL_CLASSIFIES_TILES and kv_ranges need not refine its
//   intervals): EMPTY tiles are skipped before any load, FULL tiles skip the
//   per-element mask (and without V::kHasScore take the fast path: no per-element work
//   but one FFMA + EX2), PARTIAL tiles evaluate V::mask per element. Keys >= kv_len and
//   scores that come out -inf are dropped. V::mask is taken as the whole keep predicate
//   (routing included when V::kHasRoute: the template cannot evaluate route_mask itself).
//   A row with nothing kept gets O = 0 exactly and LSE = -inf, without V::out. A NaN or
//   +inf score makes the row's O and LSE NaN, without V::out (docs/runtime.md). scale <= 0
//   is allowed (the general path is then taken).
//   Hooks must be pure: in non-fast tiles V::mask and V::score are evaluated for every
//   element of the tile without branches, also for padding rows (q >= q_len) and keys
//   (k >= kv_len) whose results are then discarded; the language's clamped tensor reads make
//   that safe. V::out is evaluated branch-free too (at a valid row for padding rows); its
//   result is used only for rows q < q_len that kept something.
//   Softmax: fp32, exp2 with scale*log2(e) folded into one FFMA; the running max is updated
//   lazily (only when it grows by more than 2^8), which skips the O rescale on most tiles.
//
//===----------------------------------------------------------------------===//
#ifndef ATTNC_KERNELS_SM80_FORWARD_CUH
#define ATTNC_KERNELS_SM80_FORWARD_CUH

#include "attention/epilogue.cuh"
#include "attention/online_softmax.cuh"
#include "attention/score.cuh"
#include "attnc_forward_params.h"
#include "attnc_tile_policy.h"
#include "primitives/fragment.cuh"
#include "primitives/tile.cuh"
#include "sm80/producer.cuh"

namespace attnc {

/// One instantiation of the forward kernel: kBlockM query rows per CTA, split over kWarps
/// warps (16 or 32 rows each), keys streamed in tiles of kBlockN through kStages
/// shared-memory stages.
template <class V, int kHeadDim, class Kind, int kBlockM, int kBlockN, int kWarps, int kStages>
struct ForwardSm80 {
  static constexpr int kThreads = kWarps * 32;
  static constexpr int kWarpM = kBlockM / kWarps;
  static constexpr int kMTiles = kWarpM / 16;  // 16-row mma tiles per warp
  static constexpr int kNTiles = kBlockN / 8;  // 8-key score tiles
  static constexpr int kDTiles = kHeadDim / 8; // 8-column output tiles
  static constexpr int kChunks = kHeadDim / 8; // 16-byte chunks per row
  static constexpr bool kQInRegisters = kMTiles == 1 && kHeadDim <= 128;
  static constexpr int kQBytes = kBlockM * kHeadDim * 2;
  static constexpr int kTileBytes = kBlockN * kHeadDim * 2;
  static constexpr int kAuxOffset = kQBytes + 2 * kStages * kTileBytes;

  static_assert(kHeadDim == 64 || kHeadDim == 128 || kHeadDim == 256, "head dim 64/128/256");
  static_assert(kWarpM == 16 || kWarpM == 32, "16 or 32 query rows per warp");
  static_assert(kBlockM % kWarps == 0, "rows split evenly over warps");
  static_assert(kBlockN % 16 == 0, "key tile a multiple of 16");
  static_assert(kStages >= 2 && kStages <= 8, "2..8 pipeline stages");
  static_assert(kWarps <= 8, "at most 8 warps (tile-list compaction)");

  using Producer = Sm80Producer<V, kBlockN, kThreads, kChunks>;
  /// Bookkeeping in shared memory after the tiles (the pipeline ring, the kv intervals of this
  /// q tile, the batch of classified key tiles).
  using Aux = typename Producer::template Bookkeeping<kStages>;
  static constexpr int kSmemBytes = kAuxOffset + ((int)sizeof(Aux) + 127) / 128 * 128;

  using TileCursor = typename Producer::template TileCursor<Aux>;
  template <int kRows>
  static __device__ __forceinline__ void loadTile(unsigned dst, const unsigned char *base,
                                                  long long stride, int row0, int limit) {
    Producer::template loadTile<kRows>(dst, base, stride, row0, limit);
  }

  static __device__ __forceinline__ void run(const AttncForwardParams &p, const AttncArgs &a,
                                             unsigned char *smem) {
    const Kind kind{};
    const int qTiles = (a.q_len + kBlockM - 1) / kBlockM;
    // Highest q tiles first: under causal-like masks they carry the most keys.
    const int qTile = qTiles - 1 - (int)blockIdx.x;
    const int h = (int)blockIdx.y, b = (int)blockIdx.z;
    const int kvh = h / (a.heads / a.kv_heads);
    const int q0 = qTile * kBlockM;
    const int qHi = min(q0 + kBlockM, a.q_len) - 1;
    const int tid = (int)threadIdx.x, warp = tid / 32, lane = tid % 32;
    const int g = lane / 4, t = lane % 4;

    const unsigned char *qBase = tile::headBase(p.q, p.q_stride, b, h);
    const unsigned char *kBase = tile::headBase(p.k, p.k_stride, b, kvh);
    const unsigned char *vBase = tile::headBase(p.v, p.v_stride, b, kvh);

    const unsigned sQ = tile::sharedAddress(smem);
    const unsigned sK = sQ + kQBytes;
    const unsigned sV = sK + kStages * kTileBytes;
    Aux &aux = *reinterpret_cast<Aux *>(smem + kAuxOffset);

    if (tid == 0) {
      int lo[ATTNC_MAX_KV_RANGES] = {}, hi[ATTNC_MAX_KV_RANGES] = {};
      aux.setIntervals(V::kvRanges(a, b, h, q0, qHi, lo, hi), lo, hi, a.kv_len);
    }
    loadTile<kBlockM>(sQ, qBase, p.q_stride[2], q0, a.q_len);
    __syncthreads(); // the intervals

    // Prologue: the first kStages-1 tiles, one commit group each (Q rides in group 0).
    TileCursor producer;
    int produced = 0;
    bool producerDone = false;
    auto produce = [&](int stage) {
      int start, cls;
      if (!producerDone && producer.advance(aux, a, b, h, q0, qHi, start, cls)) {
        loadTile<kBlockN>(sK + stage * kTileBytes, kBase, p.k_stride[2], start, a.kv_len);
        loadTile<kBlockN>(sV + stage * kTileBytes, vBase, p.v_stride[2], start, a.kv_len);
        if (tid == 0) {
          aux.tileStart[stage] = start;
          aux.tileClass[stage] = cls;
        }
        ++produced;
      } else {
        producerDone = true;
      }
      tile::copyAsyncCommit(); // always, so group counting stays uniform
    };
#pragma unroll
    for (int s = 0; s < kStages - 1; ++s)
      produce(s);

    const int warpRow0 = warp * kWarpM; // first row of this warp inside the tile
    tile::copyAsyncWait<kStages - 2>();
    __syncthreads();

    // ldmatrix lane addresses. Q (A operand) and V (.trans B operand): lane supplies row
    // lane % 16, chunk half lane / 16; K (B operand): row lane % 8 + 8 * (lane / 16), chunk
    // half (lane / 8) % 2. Rows advance in multiples of 16, which keeps the swizzle.
    constexpr unsigned kRowBytes = kChunks * 16;
    const unsigned qvXor = tile::pairXor(lane & 7, lane >> 4);
    const unsigned kXor = tile::pairXor(lane & 7, (lane >> 3) & 1);
    const unsigned qRowAddr = sQ + (warpRow0 + (lane & 15)) * kRowBytes;
    const unsigned kRowOff = ((lane & 7) + ((lane >> 4) << 3)) * kRowBytes;
    const unsigned vRowOff = (lane & 15) * kRowBytes;

    // Q fragments stay in registers when a warp owns 16 rows and D <= 128.
    unsigned qFrag[kQInRegisters ? kHeadDim / 16 : 1][4];
    if (kQInRegisters) {
#pragma unroll
      for (int kk = 0; kk < kHeadDim / 16; ++kk)
        tile::loadMatrixX4(qFrag[kk], qRowAddr + tile::pairChunkOffset(kk, qvXor));
    }

    float o[kMTiles][kDTiles][4];
    OnlineSoftmax<kMTiles> rows; // the running max and sum of this thread's rows
    rows.reset();
#pragma unroll
    for (int mt = 0; mt < kMTiles; ++mt)
#pragma unroll
      for (int dt = 0; dt < kDTiles; ++dt)
#pragma unroll
        for (int j = 0; j < 4; ++j)
          o[mt][dt][j] = 0.f;

    const float scaleLog2 = a.scale * score::kLog2e;

    using ScoreTile = float[kMTiles][kNTiles][4];
    // S = Q K^T for the key tile in shared memory at tK (raw dot products, fp32).
    auto computeScores = [&](ScoreTile &s, unsigned tK) {
#pragma unroll
      for (int mt = 0; mt < kMTiles; ++mt)
#pragma unroll
        for (int nt = 0; nt < kNTiles; ++nt)
#pragma unroll
          for (int j = 0; j < 4; ++j)
            s[mt][nt][j] = 0.f;
#pragma unroll
      for (int kk = 0; kk < kHeadDim / 16; ++kk) {
        unsigned qa[kMTiles][4];
#pragma unroll
        for (int mt = 0; mt < kMTiles; ++mt) {
          if (kQInRegisters) {
#pragma unroll
            for (int j = 0; j < 4; ++j)
              qa[mt][j] = qFrag[kQInRegisters ? kk : 0][j];
          } else {
            tile::loadMatrixX4(qa[mt],
                               qRowAddr + mt * 16 * kRowBytes + tile::pairChunkOffset(kk, qvXor));
          }
        }
#pragma unroll
        for (int nn = 0; nn < kBlockN / 16; ++nn) {
          unsigned kb[4];
          tile::loadMatrixX4(kb,
                             tK + kRowOff + nn * 16 * kRowBytes + tile::pairChunkOffset(kk, kXor));
#pragma unroll
          for (int mt = 0; mt < kMTiles; ++mt) {
            tile::mma16816(kind, s[mt][2 * nn], qa[mt], kb[0], kb[1]);
            tile::mma16816(kind, s[mt][2 * nn + 1], qa[mt], kb[2], kb[3]);
          }
        }
      }
    };
    // Scores (attention/score.cuh) and online softmax (attention/online_softmax.cuh) of one
    // tile: s becomes P (unnormalised, fp32) and O is rescaled when the row max moved.
    const float factor = score::scoreFactor<V>(a); // applied in the exponent's FFMA
    auto softmaxTile = [&](ScoreTile &s, int k0, int cls) {
      score::scoreStep<V, kBlockM, kBlockN, false>(s, a, b, h, q0, k0, cls, 0, q0 + warpRow0 + g,
                                                   k0 + 2 * t, scaleLog2);
      float alpha[kMTiles][2];
      if (rows.update(s, factor, alpha))
        OnlineSoftmax<kMTiles>::rescale(o, alpha);
    };
    auto accumulatePV = [&](ScoreTile &s, unsigned tV) {
    // O += P V: P straight from the score accumulators (C layout == A layout per k16).
#pragma unroll
      for (int kk = 0; kk < kBlockN / 16; ++kk) {
        unsigned pa[kMTiles][4];
#pragma unroll
        for (int mt = 0; mt < kMTiles; ++mt) {
          pa[mt][0] = tile::pack2(kind, s[mt][2 * kk][0], s[mt][2 * kk][1]);
          pa[mt][1] = tile::pack2(kind, s[mt][2 * kk][2], s[mt][2 * kk][3]);
          pa[mt][2] = tile::pack2(kind, s[mt][2 * kk + 1][0], s[mt][2 * kk + 1][1]);
          pa[mt][3] = tile::pack2(kind, s[mt][2 * kk + 1][2], s[mt][2 * kk + 1][3]);
        }
#pragma unroll
        for (int dd = 0; dd < kHeadDim / 16; ++dd) {
          unsigned vb[4];
          tile::loadMatrixX4Trans(vb, tV + vRowOff + kk * 16 * kRowBytes +
                                          tile::pairChunkOffset(dd, qvXor));
#pragma unroll
          for (int mt = 0; mt < kMTiles; ++mt) {
            tile::mma16816(kind, o[mt][2 * dd], pa[mt], vb[0], vb[1]);
            tile::mma16816(kind, o[mt][2 * dd + 1], pa[mt], vb[2], vb[3]);
          }
        }
      }
    };

    for (int i = 0; i < produced; ++i) {
      tile::copyAsyncWait<kStages - 2>();
      __syncthreads(); // tile i landed; everyone is done with the stage refilled next
      const int stage = i % kStages;
      const int k0 = aux.tileStart[stage];
      const int cls = aux.tileClass[stage];
      produce((i + kStages - 1) % kStages);
      ScoreTile s;
      computeScores(s, sK + stage * kTileBytes);
      softmaxTile(s, k0, cls);
      accumulatePV(s, sV + stage * kTileBytes);
    }

    // Epilogue: normalise, LSE, optional out hook; stage O through this warp's own Q rows
    // (only this warp ever read them) for 16-byte coalesced stores.
    tile::copyAsyncWait<0>();
    __syncthreads(); // with no tile at all, Q copies may still have been in flight
#pragma unroll
    for (int mt = 0; mt < kMTiles; ++mt)
#pragma unroll
      for (int half = 0; half < 2; ++half) {
        const int row = warpRow0 + mt * 16 + g + half * 8;
        const int q = q0 + row;
        const bool rowIn = q < a.q_len;
        const epilogue::RowTotal total(rows.rowSum[mt][half], rows.rowMax[mt][half]);
        epilogue::storeLse(p, b, h, q, total, rowIn && t == 0);
#pragma unroll
        for (int dt = 0; dt < kDTiles; ++dt) {
          float v0 = total.normalise(o[mt][dt][half * 2]);
          float v1 = total.normalise(o[mt][dt][half * 2 + 1]);
          epilogue::storeBeforeOut<V>(p, tile::pack2(kind, v0, v1), b, h, q, dt * 8 + 2 * t, rowIn);
          epilogue::applyOut<V>(a, total, v0, v1, b, h, q, q0, dt * 8 + 2 * t, rowIn);
          const unsigned addr = sQ + tile::swizzledOffset<kChunks>(row, dt) + 4 * t;
          asm volatile("st.shared.b32 [%0], %1;\n" ::"r"(addr), "r"(tile::pack2(kind, v0, v1)));
        }
      }
    __syncwarp();
    unsigned char *oBase = tile::headBase(p.o, p.o_stride, b, h);
#pragma unroll
    for (int i = 0; i < kWarpM * kChunks / 32; ++i) {
      const int idx = i * 32 + lane;
      const int row = warpRow0 + idx / kChunks, chunk = idx % kChunks;
      const int q = q0 + row;
      if (q < a.q_len) {
        unsigned v0, v1, v2, v3;
        asm volatile("ld.shared.v4.b32 {%0, %1, %2, %3}, [%4];\n"
                     : "=r"(v0), "=r"(v1), "=r"(v2), "=r"(v3)
                     : "r"(sQ + tile::swizzledOffset<kChunks>(row, chunk)));
        unsigned char *dst = oBase + ((long long)q * p.o_stride[2] + chunk * 8) * 2;
        asm volatile("st.global.v4.b32 [%0], {%1, %2, %3, %4};\n" ::"l"(dst), "r"(v0), "r"(v1),
                     "r"(v2), "r"(v3)
                     : "memory");
      }
    }
  }
};

/// The default configuration for a program and head dim on a target with kSmemKB of shared
/// memory per block (the tile shapes: attnc_tile_policy.h). D = 256 shrinks below 227 KB:
/// 128x64 on 8 warps (192 KB), 64x64 on 4 warps (160 KB) or 64x32 on 4 warps (96 KB).
template <class V, int kHeadDim, int kSmemKB> struct Sm80Policy {
  static constexpr bool kD256Small = kHeadDim == 256 && kSmemKB < 227;
  static constexpr int kBlockM = tile_policy::sm80QueryTile(kHeadDim, kSmemKB, V::kHasSummaries);
  static constexpr int kBlockN = tile_policy::sm80KeyTile(kHeadDim, kSmemKB);
  static constexpr int kWarps = kHeadDim == 256 && !kD256Small ? 8 : 4;
  static constexpr int kStages = 2;
  static constexpr int kMinBlocks = kHeadDim == 256 ? 1 : 2;
};

/// The target's shared memory per block in KB (see Sm80Policy): one architecture per compile.
#if defined(__CUDA_ARCH__) &&                                                                      \
    (__CUDA_ARCH__ == 900 || __CUDA_ARCH__ == 1000 || __CUDA_ARCH__ == 1030)
constexpr int kSm80TargetSharedKB = 227;
#elif defined(__CUDA_ARCH__) && (__CUDA_ARCH__ == 800 || __CUDA_ARCH__ == 870)
constexpr int kSm80TargetSharedKB = 163;
#else
constexpr int kSm80TargetSharedKB = 99;
#endif

} // namespace attnc

#endif // ATTNC_KERNELS_SM80_FORWARD_CUH
