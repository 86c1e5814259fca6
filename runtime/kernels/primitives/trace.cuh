//===- trace.cuh - Development instruments of the sm90 kernel -------------===//
//
// Compiled only in a development build of attnc (cmake -DATTNC_DEV_BUILD=ON, whose runtime
// defines ATTNC_DEV_BUILD and passes ATTNC_KERNEL_DEFINES on): ATTNC_SM90_TRACE=1 adds
// counters (clock64 cycles each role spends waiting, summed over all CTAs; ATTNC_TRACE=1
// makes the runtime print them after each launch); ATTNC_SM90_DEV_UNMASKED=1 runs PARTIAL
// tiles as FULL ones (WRONG results: what the per-element mask costs). In a release build
// both are 0 and the macros below compile to nothing.
//
//===----------------------------------------------------------------------===//
#ifndef ATTNC_KERNELS_PRIMITIVES_TRACE_CUH
#define ATTNC_KERNELS_PRIMITIVES_TRACE_CUH

#ifndef ATTNC_SM90_TRACE
#define ATTNC_SM90_TRACE 0
#endif
#ifndef ATTNC_SM90_DEV_UNMASKED
#define ATTNC_SM90_DEV_UNMASKED 0
#endif
#if (ATTNC_SM90_TRACE || ATTNC_SM90_DEV_UNMASKED) && !defined(ATTNC_DEV_BUILD)
#error "ATTNC_SM90_TRACE and ATTNC_SM90_DEV_UNMASKED need a development build (ATTNC_DEV_BUILD)"
#endif
/// The backward key-tile kernel's counters (sm90/backward.cuh): cycles of each consumer phase
/// summed over both consumer warpgroups of every CTA, the query tiles they ran, the producer's
/// cycles and its waits for a free stage.
enum AttncBackwardTraceCounter {
  kBwdTraceWaitTile,
  kBwdTraceIssueScores,
  kBwdTraceWaitS,
  kBwdTraceProbabilities,
  kBwdTraceWaitDp,
  kBwdTraceScoreGradients,
  kBwdTraceIssueDv,
  kBwdTraceBarrier,
  kBwdTraceIssueDqDk,
  kBwdTraceWaitDq,
  kBwdTraceStoreDq,
  kBwdTracePhases,
  kBwdTraceTiles = kBwdTracePhases,
  kBwdTraceConsumerCycles,
  kBwdTraceEpilogue,
  kBwdTraceProducerCycles,
  kBwdTraceProducerWaitStage,
  kBwdTraceCtas,
  kBwdTraceCounters
};

#if ATTNC_SM90_TRACE
enum AttncTraceCounter {
  kTraceConsumerCycles,
  kTraceConsumerWaitQ,
  kTraceConsumerWaitTile,
  kTraceConsumerWaitTurn,
  kTraceConsumerEpilogue,
  kTraceLoaderCycles,
  kTraceLoaderWaitChunk,
  kTraceLoaderWaitStage,
  kTraceLoaderWaitQ,
  kTraceScannerCycles,
  kTraceScannerWaitChunk,
  kTraceScannerWaitUnit,
  kTraceUnits,
  kTraceTiles,
  kTracePartialHalves, ///< each consumer's PARTIAL tiles, summed over both
  kTraceCtas,
  kTraceStartSum,   ///< %globaltimer (ns) at each CTA's start, summed (mod 2^64)
  kTraceEndSum,     ///< ... at each CTA's end (consumer 0's last epilogue)
  kTraceEndMax,     ///< the last CTA's end: CTAs x max - sum = the tail's idle time
  kTraceTailRanked, ///< units handed out in the ranked (longest-first) tail order
  kTraceRankedAt,   ///< %globaltimer when the tail's order was ready (0: never)
  kTraceCounters
};
extern "C" {
__device__ unsigned long long attnc_trace[24];
}
#define ATTNC_TIMED(acc, stmt)                                                                     \
  do {                                                                                             \
    const long long t0_ = clock64();                                                               \
    stmt;                                                                                          \
    acc += clock64() - t0_;                                                                        \
  } while (0)
#define ATTNC_TRACE_ADD(counter, value)                                                            \
  atomicAdd(&attnc_trace[counter], (unsigned long long)(value))
static __device__ __forceinline__ unsigned long long attncGlobalTimer() {
  unsigned long long t;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
  return t;
}
/// Sums the cycles between laps per phase in 32-bit shared memory (a warpgroup's share of a
/// CTA fits; registers are what the timed kernels lack). Threads given no sums only read the
/// clock, so that every thread runs the same code.
struct AttncPhaseClock {
  unsigned *sums; ///< kBwdTracePhases counters in shared memory, zeroed, or null
  long long mark;
  __device__ __forceinline__ explicit AttncPhaseClock(unsigned *sums_)
      : sums(sums_), mark(clock64()) {}
  __device__ __forceinline__ void lap(int phase) {
    const long long now = clock64();
    if (sums != nullptr)
      sums[phase] += (unsigned)(now - mark);
    mark = now;
  }
};
#else
#define ATTNC_TIMED(acc, stmt) stmt
#define ATTNC_TRACE_ADD(counter, value) ((void)0)
struct AttncPhaseClock {
  __device__ __forceinline__ explicit AttncPhaseClock(unsigned *) {}
  __device__ __forceinline__ void lap(int) {}
};
#endif

#endif // ATTNC_KERNELS_PRIMITIVES_TRACE_CUH
