//===- KernelState.h - A kernel's binaries, modules and tier -----*- C++ -*-===//
//
// The mutable state behind the immutable Kernel: the cached kernels it has used (binary and
// manifest), the modules loaded from them per CUDA context, and the background compile of a
// tiered kernel. Shared by Kernel.cpp, Compile.cpp and Launch.cpp.
//
//===----------------------------------------------------------------------===//
#ifndef ATTNC_RUNTIME_LIB_KERNELSTATE_H
#define ATTNC_RUNTIME_LIB_KERNELSTATE_H

#include "CudaDriver.h"
#include "attnc/runtime/Runtime.h"

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

namespace attnc::runtime {

/// The pre-pass kernels a module holds (the input summaries; the routing pre-pass for
/// attentions with a route), shared by the forward's and the backward's modules.
struct PrepassFunctions {
  CUfunction summarize = nullptr;
  CUfunction routePoolKeys = nullptr, routePoolQueries = nullptr, routeSelect = nullptr;
};

/// GPU modules of one kernel, loaded once per CUDA context, and the entry they come from.
struct Kernel::Modules {
  struct Loaded {
    CUmodule module = nullptr;
    CUfunction forward = nullptr;
    PrepassFunctions prepass;
    /// block_m, block_n, threads, stages, dynamic smem, head dim, 1 = TMA template,
    /// 1 = persistent (grid of at most one CTA per SM taking units from a counter)
    int config[8] = {};
    int multiprocessors = 0;
    /// The kernel's development counters (built with ATTNC_SM90_TRACE=1), else 0.
    CUdeviceptr trace = 0;
    size_t traceBytes = 0;
    unsigned generation = 0; ///< of the entry this module was loaded from
  };
  std::mutex mutex;
  std::map<CUcontext, Loaded> byContext;
  /// The cached kernel in use (binary and manifest); `generation` counts its replacements
  /// (a tiered kernel's quick binary is generation 0, the optimized one 1).
  std::shared_ptr<const CachedKernel> entry;
  unsigned generation = 0;
  /// Every entry the kernel has used (cubin() and manifest() references stay valid) and the
  /// modules of replaced binaries (a launch in flight may still run them; unloaded with the
  /// kernel).
  std::vector<std::shared_ptr<const CachedKernel>> entries;
  std::vector<CUmodule> retired;

  /// Makes `next` the entry in use (the caller holds `mutex` once the kernel is shared).
  void use(std::shared_ptr<const CachedKernel> next) {
    if (entry)
      ++generation;
    entry = next;
    entries.push_back(std::move(next));
  }
};

/// The backward module of a kernel, compiled on its first use (Context::compileBackward)
/// and loaded once per CUDA context.
struct Kernel::Backward {
  struct Loaded {
    CUmodule module = nullptr;
    CUfunction prepare = nullptr, keyTiles = nullptr, storeDq = nullptr, recompute = nullptr;
    CUfunction queryIntervals = nullptr;  ///< sm_90a: the key blocks' query intervals
    CUfunction pairKeyBlocks = nullptr;   ///< sm_90a: the key tiles' blocks and query intervals
    CUfunction countQueryTiles = nullptr; ///< sm_90a: the query tiles each key-tile unit visits
    CUfunction keyTileOrder = nullptr;    ///< sm_90a: the key-tile kernel's launch order
    PrepassFunctions prepass;
    /// block_m, block_n, threads, stages, dynamic smem, head dim of the key-tile kernel, 1 =
    /// it takes AttncBackwardTmaMaps (sm_90a), 0
    int config[8] = {};
    /// The same for the recompute of the output before `out` (block_m 0: no `out`).
    int recomputeConfig[6] = {};
    /// The preparation's: query rows per CTA, threads.
    int prepareConfig[2] = {};
    /// The dQ store's: query rows per CTA, threads, 1 = one CTA per (row tile, head, batch).
    int storeDqConfig[3] = {};
    /// The key-tile kernel's development counters (built with ATTNC_SM90_TRACE=1), else 0.
    CUdeviceptr trace = 0;
    size_t traceBytes = 0;
  };
  /// The deterministic mode's dQ module (sm80/backward_dq_entry.cuh), compiled on the first
  /// deterministic backward and loaded once per CUDA context.
  struct Deterministic {
    struct Loaded {
      CUmodule module = nullptr;
      CUfunction dq = nullptr;
      int config[6] = {}; ///< block_m, block_n, threads, stages, dynamic smem, head dim
    };
    bool compiled = false; ///< attempted; `status` says how it went
    Status status;
    std::shared_ptr<const CachedKernel> entry;
    std::map<CUcontext, Loaded> byContext;
  };
  std::mutex mutex;
  bool compiled = false; ///< attempted; `status` says how it went
  Status status;
  std::string cudaSource;
  /// The derivative hooks and the routing source (RouteSource::afterHooks, with hasRoute),
  /// generated once for both modules.
  std::string hooksSource, routeAfterHooks;
  bool hasRoute = false;
  std::shared_ptr<const CachedKernel> entry;
  std::map<CUcontext, Loaded> byContext;
  Deterministic deterministic;
  /// Bit s: input slot s is read by the score or out expression (it has a gradient).
  unsigned differentiableInputs = 0;
};

/// The background compile of a tiered kernel's optimized binary.
struct Kernel::Tier {
  std::mutex mutex;
  std::condition_variable finished;
  bool done = false;
  Status status;
  std::shared_ptr<const CachedKernel> entry;
  std::chrono::steady_clock::time_point started; ///< when compile() began
  double milliseconds = -1;                      ///< until the optimized binary was ready
};

} // namespace attnc::runtime

#endif // ATTNC_RUNTIME_LIB_KERNELSTATE_H
