//===- producer.cuh - The sm90 forward's producer warpgroup --------------===//
//
// Warp 1 scans: it takes work units from the scheduler, walks their candidate key tiles
// (attention/range_scan.cuh) and queues the non-empty ones in chunks, one unit ahead of the
// loading. Warp 0 loads: Q once its buffer is free, then every queued key tile's K and V by
// TMA into the ring of stages, each stage's slot holding (start | class) for the consumers.
// Warps 2-3 count the tail units' tiles for the longest-first order (scheduler.cuh).
//
//===----------------------------------------------------------------------===//
#ifndef ATTNC_KERNELS_SM90_PRODUCER_CUH
#define ATTNC_KERNELS_SM90_PRODUCER_CUH

#include "primitives/hopper.cuh"
#include "primitives/trace.cuh"
#include "sm90/traits.cuh"

namespace attnc {

template <class T> struct Sm90Producer {
  using Aux = typename T::Aux;
  using Chunk = typename T::Chunk;
  using Scheduler = typename T::Scheduler;
  using Scan = typename T::Scan;
  using Tail = typename T::Tail;
  static constexpr int kStages = T::kStages, kChunks = T::kChunks, kScanners = T::kScanners;
  static constexpr int kPanels = T::kPanels, kBlockM = T::kBlockM, kBlockN = T::kBlockN;
  static constexpr int kTileBytes = T::kTileBytes, kQBytes = T::kQBytes;
  static constexpr int kQBuffers = T::kQBuffers;
  static constexpr bool kCoarseScan = T::kCoarseScan, kLptTail = T::kLptTail;
  static __device__ __forceinline__ int entryStart(int entry) { return T::Scan::entryStart(entry); }
  static __device__ __forceinline__ unsigned barrierAddress(const unsigned long long &bar) {
    return T::barrierAddress(bar);
  }

  /// Scanning warp `scanner` (producer warp 1 + scanner): takes work units (scanner 0's
  /// first is blockIdx.x, every other one gridDim.x + atomicAdd(counter, 1): dynamic
  /// persistent scheduling), calls V::kvRanges, classifies the candidate key tiles 32 at
  /// a time (one per lane) and queues the non-empty ones, in key order, for the loading
  /// warp. Each scanner runs one of its units ahead of the loader, so range analysis,
  /// classification (which may read summaries or route lists) and the scheduler's atomic
  /// stay off the consumers' critical path, but claims a unit only once the loader has
  /// started its previous one (the tail stays balanced).
  static __device__ __forceinline__ void scan(const AttncForwardParams &p, const AttncArgs &a,
                                              Aux &aux, int scanner) {
    const int lane = (int)threadIdx.x % 32;
    const int units = Scheduler::units(a);
    int chunks = 0; // chunks queued, continued across units
    [[maybe_unused]] const long long tStart = clock64();
    [[maybe_unused]] long long tWaitChunk = 0, tWaitUnit = 0;
    auto publish = [&](int u, unsigned keep, int value, int last) {
      const int c = chunks % kChunks;
      ATTNC_TIMED(tWaitChunk, hopper::barrierWait(barrierAddress(aux.chunkEmpty[scanner][c]),
                                                  ((chunks / kChunks) & 1) ^ 1));
      Chunk &chunk = aux.chunk[scanner][c];
      if (keep & (1u << lane))
        chunk.entry[__popc(keep & ((1u << lane) - 1))] = value;
      if (lane == 0) {
        chunk.unit = u;
        chunk.count = __popc(keep);
        chunk.last = last;
      }
      hopper::barrierArrive(barrierAddress(aux.chunkFull[scanner][c])); // every writer releases
      ++chunks;
    };
    const auto claim = [&] {
      int u = 0;
      if (lane == 0) {
        u = (int)gridDim.x + atomicAdd(p.tile_counter, 1);
        if constexpr (kLptTail)
          u = Tail::tailOrder(p, units, u);
      }
      return __shfl_sync(0xffffffffu, u, 0);
    };
    int u = scanner == 0 ? (int)blockIdx.x : claim();
    for (int n = 0;; ++n) {
      if (u >= units) {
        publish(-1, 0u, 0, 1);
        if (lane == 0) {
          ATTNC_TRACE_ADD(kTraceScannerCycles, clock64() - tStart);
          ATTNC_TRACE_ADD(kTraceScannerWaitChunk, tWaitChunk);
          ATTNC_TRACE_ADD(kTraceScannerWaitUnit, tWaitUnit);
        }
        return;
      }
      const WorkUnit unit = Scheduler::decode(a, u);
      typename Scan::UnitTiles tiles(a, unit);
      tiles.template forEachBatch<kCoarseScan>(a, unit, lane, [&](int start, int cls, bool last) {
        const unsigned keep = __ballot_sync(0xffffffffu, cls != ATTNC_TILE_EMPTY);
        if (keep != 0u || last)
          publish(u, keep, start | cls, last ? 1 : 0);
      });
      // The next unit, once the loader has started this one (its phase n).
      ATTNC_TIMED(tWaitUnit, hopper::barrierWait(barrierAddress(aux.unitBegun[scanner][0]), n & 1));
      u = claim();
    }
  }

  /// Loading warp (producer warp 0): for each queued unit, its Q once the consumers are done
  /// with the previous one's, then every queued key tile into the ring (waiting for a free
  /// stage, writing start | class into the stage's slot and issuing the K and V TMA
  /// copies), then the unit's end marker.
  static __device__ __forceinline__ void load(const AttncArgs &a, const AttncTmaMaps &maps,
                                              Aux &aux, unsigned sQ, unsigned sK, unsigned sV) {
    const int lane = (int)threadIdx.x % 32;
    const int groupSize = a.heads / a.kv_heads;
    if (lane == 0) {
      hopper::tmaPrefetchDescriptor(&maps.q);
      hopper::tmaPrefetchDescriptor(&maps.k);
      hopper::tmaPrefetchDescriptor(&maps.v);
    }
    int it = 0; // ring position, continued across units
    [[maybe_unused]] const long long tStart = clock64();
    [[maybe_unused]] long long tWaitChunk = 0, tWaitStage = 0, tWaitQ = 0;
    auto push = [&](int entry, int kvh, int b) {
      const int stage = it % kStages;
      ATTNC_TIMED(tWaitStage,
                  hopper::barrierWait(barrierAddress(aux.empty[stage]), ((it / kStages) & 1) ^ 1));
      if (lane == 0) {
        aux.slot[stage] = entry;
        const unsigned bar = barrierAddress(aux.full[stage]);
        if (entry < 0) {
          hopper::barrierArrive(bar);
        } else {
          const int start = entryStart(entry);
          hopper::barrierArriveExpectBytes(bar, 2 * kTileBytes);
#pragma unroll
          for (int p = 0; p < kPanels; ++p) {
            hopper::tmaLoad4d(sK + stage * kTileBytes + p * kBlockN * 128, &maps.k, bar, p * 64,
                              start, kvh, b);
            hopper::tmaLoad4d(sV + stage * kTileBytes + p * kBlockN * 128, &maps.v, bar, p * 64,
                              start, kvh, b);
          }
        }
      }
      __syncwarp();
      ++it;
    };
    // The scanners' queues are read in turn, one whole unit at a time. Per scanner: its
    // chunk count mod 2 * kChunks (queue index and phase parity) in bits 4s..4s+3, and bit
    // 16 + s once it has queued its end (-1).
    unsigned state = 0;
    int scanner = 0, begun = 0;
    for (;;) {
      int count = 0, last = 0, u = 0, c = 0;
      const auto readChunk = [&] {
        const int n = (int)(state >> (4 * scanner)) & 15;
        c = n % kChunks;
        ATTNC_TIMED(tWaitChunk, hopper::barrierWait(barrierAddress(aux.chunkFull[scanner][c]),
                                                    (n / kChunks) & 1));
        // Lane 0 reads the chunk and releases it (see consume()'s nextTile).
        const Chunk &chunk = aux.chunk[scanner][c];
        if (lane == 0) {
          u = *(volatile const int *)&chunk.unit;
          count = *(volatile const int *)&chunk.count;
          last = *(volatile const int *)&chunk.last;
        }
        u = __shfl_sync(0xffffffffu, u, 0);
        count = __shfl_sync(0xffffffffu, count, 0);
        last = __shfl_sync(0xffffffffu, last, 0);
      };
      const auto nextScanner = [&] {
        do
          scanner = scanner + 1 == kScanners ? 0 : scanner + 1;
        while (state & (0x10000u << scanner));
      };
      readChunk();
      if (u < 0) {
        state |= 0x10000u << scanner; // this scanner has ended (its chunk is not released)
        if ((state >> 16) != (1u << kScanners) - 1) {
          nextScanner();
          continue;
        }
      }
      // A new unit (or the end): the Q buffer and the unit slot are free once every
      // consumer warp has finished the previous unit's QK^T products.
      const int qBuffer = begun % kQBuffers;
      ATTNC_TIMED(tWaitQ, hopper::barrierWait(barrierAddress(aux.qEmpty[qBuffer]),
                                              ((begun / kQBuffers) & 1) ^ 1));
      ++begun;
      if (lane == 0) {
        aux.unit[qBuffer] = u;
        const unsigned bar = barrierAddress(aux.qFull[qBuffer]);
        if (u < 0) {
          hopper::barrierArrive(bar);
        } else {
          const WorkUnit unit = Scheduler::decode(a, u);
          hopper::barrierArriveExpectBytes(bar, kQBytes);
#pragma unroll
          for (int p = 0; p < kPanels; ++p)
            hopper::tmaLoad4d(sQ + qBuffer * kQBytes + p * kBlockM * 128, &maps.q, bar, p * 64,
                              unit.q0, unit.h, unit.b);
          hopper::barrierArrive(barrierAddress(aux.unitBegun[scanner][0]));
        }
      }
      __syncwarp();
      if (u < 0) {
        if (lane == 0) {
          ATTNC_TRACE_ADD(kTraceLoaderCycles, clock64() - tStart);
          ATTNC_TRACE_ADD(kTraceLoaderWaitChunk, tWaitChunk);
          ATTNC_TRACE_ADD(kTraceLoaderWaitStage, tWaitStage);
          ATTNC_TRACE_ADD(kTraceLoaderWaitQ, tWaitQ);
        }
        return;
      }
      const WorkUnit unit = Scheduler::decode(a, u);
      const int kvh = unit.h / groupSize;
      for (;;) { // the unit's chunks, all from this scanner
        const Chunk &chunk = aux.chunk[scanner][c];
        for (int i = 0; i < count; ++i) {
          int entry = 0;
          if (lane == 0)
            entry = *(volatile const int *)&chunk.entry[i];
          push(__shfl_sync(0xffffffffu, entry, 0), kvh, unit.b);
        }
        __syncwarp();
        if (lane == 0)
          hopper::barrierArrive(barrierAddress(aux.chunkEmpty[scanner][c]));
        const unsigned n = (((state >> (4 * scanner)) & 15) + 1) % (2 * kChunks);
        state = (state & ~(15u << (4 * scanner))) | (n << (4 * scanner));
        if (last)
          break;
        readChunk();
      }
      push(-1, 0, 0);
      nextScanner();
    }
  }
};

} // namespace attnc

#endif // ATTNC_KERNELS_SM90_PRODUCER_CUH
