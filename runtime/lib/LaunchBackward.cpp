//===- LaunchBackward.cpp - Context::launchBackward -----------------------===//
//
// The backward on a stream, from the kernel's backward module (compiled on first use):
//
//   validateBackward   the forward's rules and the gradients' (ValidateBackward.cpp)
//   moduleFor          the backward module in the current context, its entries and table
//   bindHookArgs       AttncArgs as the forward binds them (LaunchSteps.h)
//   runSummaries, runRoutePrepass
//                      the pre-passes, as forward: routed programs see the blocks the
//                      forward selected (the same kernels on the same Q and K)
//   prepare            delta = rowsum(dO * O)
//   key tiles          dK, dV per key tile; dQ accumulated in fp32 scratch
//   store dQ           dQ in the kernel's dtype
//
//===----------------------------------------------------------------------===//
#include "ArgumentRules.h"
#include "KernelState.h"
#include "LaunchSteps.h"

#include "attnc/runtime/Device.h"
#include "attnc/runtime/KernelSource.h"

#include "attnc_backward_params.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

namespace attnc::runtime {

using namespace launch_steps;

namespace {

using BackwardLoaded = Kernel::Backward::Loaded;
using DeterministicLoaded = Kernel::Backward::Deterministic::Loaded;

/// The sm_90a key-tile kernel's development counters (built with ATTNC_SM90_TRACE=1;
/// primitives/trace.cuh's AttncBackwardTraceCounter, in that order).
struct BackwardTrace {
  static constexpr const char *kPhases[] = {"wait tile",   "issue S dP", "wait S",   "P",
                                            "wait dP",     "dS",         "issue dV", "barrier",
                                            "issue dQ dK", "wait dQ",    "store dQ"};
  static constexpr int kPhaseCount = int(sizeof(kPhases) / sizeof(kPhases[0]));
  /// Phases, tiles, consumer cycles, epilogue, producer cycles, producer waits, CTAs.
  using Counters = unsigned long long[kPhaseCount + 6];

  /// Waits the launch out and prints each consumer phase's cycles per query tile and warpgroup.
  static void print(const CudaDriver &d, CUdeviceptr trace, CUstream stream) {
    Counters c = {};
    if (d.cuStreamSynchronize(stream) != CUDA_SUCCESS ||
        d.cuMemcpyDtoH(c, trace, sizeof(c)) != CUDA_SUCCESS)
      return;
    const unsigned long long tiles = c[kPhaseCount], cycles = c[kPhaseCount + 1];
    const unsigned long long producer = c[kPhaseCount + 3], ctas = c[kPhaseCount + 5];
    const auto perTile = [&](unsigned long long v) {
      return tiles ? double(v) / double(tiles) : 0.0;
    };
    std::string line = "attnc backward trace: " + std::to_string(ctas) + " CTAs, " +
                       std::to_string(tiles) + " warpgroup tiles, cycles per tile " +
                       std::to_string(int(perTile(cycles))) + ":";
    for (int i = 0; i < kPhaseCount; ++i)
      line += std::string(i ? ", " : " ") + kPhases[i] + " " + std::to_string(int(perTile(c[i])));
    line +=
        " | epilogue " + std::to_string(int(perTile(c[kPhaseCount + 2]))) +
        " | producer waits for a stage " +
        std::to_string(producer ? int(100.0 * double(c[kPhaseCount + 4]) / double(producer)) : 0) +
        "% of its cycles\n";
    std::fputs(line.c_str(), stderr);
  }
};

/// Copies a backward module's __constant__ int table `name` into `table`.
template <size_t kSize>
Status readTable(const CudaDriver &d, CUmodule module, const char *name, int (&table)[kSize]) {
  CUdeviceptr address = 0;
  size_t bytes = 0;
  if (d.cuModuleGetGlobal(&address, &bytes, module, name) != CUDA_SUCCESS ||
      bytes != sizeof(table) || d.cuMemcpyDtoH(table, address, sizeof(table)) != CUDA_SUCCESS)
    return Status(StatusCode::Internal,
                  std::string("the backward module has no readable launch table ") + name);
  return Status::success();
}

/// Reads a backward module's launch table `name` ({block_m, block_n, threads, stages, dynamic
/// smem, head dim, ...}) into `config` and lets `function` have that shared memory. A table
/// that is not `required` may be empty (block_m 0).
template <size_t kSize>
Status readLaunchTable(const CudaDriver &d, CUmodule module, const char *name, CUfunction function,
                       int (&config)[kSize], bool required, int headDim, const DeviceInfo &device) {
  if (Status s = readTable(d, module, name, config); !s.ok())
    return s;
  if (config[0] == 0 && !required)
    return Status::success();
  if (config[0] <= 0 || config[1] <= 0 || config[2] <= 0 || config[5] != headDim)
    return Status(StatusCode::Internal,
                  std::string("the launch table ") + name + " of the backward is malformed");
  if (config[4] > device.maxSharedMemoryPerBlockOptin)
    return Status(StatusCode::Unsupported, "the backward for head dim " + std::to_string(headDim) +
                                               " needs " + std::to_string(config[4]) +
                                               " bytes of shared memory per block but " +
                                               device.name + " allows " +
                                               std::to_string(device.maxSharedMemoryPerBlockOptin));
  if (CUresult set = d.cuFuncSetAttribute(function, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
                                          config[4]);
      set != CUDA_SUCCESS)
    return cudaFailure(d, set, "setting the backward's shared memory size");
  return Status::success();
}

/// Loads a backward module's binary (`what`, for errors) into the current context, whose
/// device it describes in `device`.
Status loadBinary(const CudaDriver &d, const CachedKernel &entry, const char *what,
                  CUmodule &module, DeviceInfo &device) {
  std::string error;
  if (!currentDeviceInfo(device, error))
    return Status(StatusCode::CudaError, error);
  if (CUresult r = d.cuModuleLoadData(&module, entry.binary.data()); r != CUDA_SUCCESS)
    return cudaFailure(d, r, std::string("loading ") + what + " on " + device.name);
  return Status::success();
}

Status loadBackwardModule(const CudaDriver &d, const CachedKernel &entry, BackwardLoaded &loaded) {
  const KernelManifest &manifest = entry.manifest;
  DeviceInfo device;
  if (Status s = loadBinary(d, entry, "the backward kernels", loaded.module, device); !s.ok())
    return s;
  CUresult r = CUDA_SUCCESS;
  auto fail = [&](Status status) {
    d.cuModuleUnload(loaded.module);
    return status;
  };
  struct Lookup {
    CUfunction *function;
    const char *name;
  };
  const Lookup lookups[] = {{&loaded.prepare, kBackwardPrepareName},
                            {&loaded.keyTiles, kBackwardKeyTilesName},
                            {&loaded.storeDq, kBackwardStoreDqName},
                            {&loaded.recompute, kBackwardRecomputeName}};
  for (const Lookup &lookup : lookups)
    if ((r = d.cuModuleGetFunction(lookup.function, loaded.module, lookup.name)) != CUDA_SUCCESS)
      return fail(cudaFailure(d, r, std::string("finding entry '") + lookup.name + "'"));
  if (Status s = findPrepass(d, loaded.module, manifest, kSummaryKernelName, loaded.prepass);
      !s.ok())
    return fail(s);
  // The launch tables: the key-tile kernel's, and the recompute's (block_m 0 without `out`).
  if (Status s = readLaunchTable(d, loaded.module, kBackwardConfigName, loaded.keyTiles,
                                 loaded.config, true, manifest.headDim, device);
      !s.ok())
    return fail(s);
  if (Status s = readLaunchTable(d, loaded.module, kBackwardRecomputeConfigName, loaded.recompute,
                                 loaded.recomputeConfig, false, manifest.headDim, device);
      !s.ok())
    return fail(s);
  // The row passes' tables: {rows per CTA, threads}, and the dQ store's grid form (0 or 1).
  const auto malformed = [&](const char *table) {
    return fail(Status(StatusCode::Internal,
                       std::string("the launch table ") + table + " of the backward is malformed"));
  };
  const int(&prepare)[2] = loaded.prepareConfig;
  if (Status s = readTable(d, loaded.module, kBackwardPrepareConfigName, loaded.prepareConfig);
      !s.ok())
    return fail(s);
  if (prepare[0] <= 0 || prepare[1] <= 0)
    return malformed(kBackwardPrepareConfigName);
  const int(&store)[3] = loaded.storeDqConfig;
  if (Status s = readTable(d, loaded.module, kBackwardStoreDqConfigName, loaded.storeDqConfig);
      !s.ok())
    return fail(s);
  if (store[0] <= 0 || store[1] <= 0 || (store[2] != 0 && store[2] != 1))
    return malformed(kBackwardStoreDqConfigName);
  // sm_90a (tensor maps): the query intervals, the key tiles' blocks, the units' query tiles
  // and the launch order.
  const Lookup tmaLookups[] = {{&loaded.queryIntervals, kBackwardQueryIntervalsName},
                               {&loaded.pairKeyBlocks, kBackwardPairKeyBlocksName},
                               {&loaded.countQueryTiles, kBackwardCountQueryTilesName},
                               {&loaded.keyTileOrder, kBackwardKeyTileOrderName}};
  if (loaded.config[6] == 1)
    for (const Lookup &lookup : tmaLookups)
      if ((r = d.cuModuleGetFunction(lookup.function, loaded.module, lookup.name)) != CUDA_SUCCESS)
        return fail(cudaFailure(d, r, std::string("finding entry '") + lookup.name + "'"));
  findTrace(d, loaded.module, loaded.trace, loaded.traceBytes);
  return Status::success();
}

/// The deterministic mode's dQ module: its kernel and launch table.
Status loadDeterministicDq(const CudaDriver &d, const CachedKernel &entry,
                           DeterministicLoaded &loaded) {
  DeviceInfo device;
  Status s = loadBinary(d, entry, "the deterministic dQ kernel", loaded.module, device);
  if (!s.ok())
    return s;
  if (CUresult r = d.cuModuleGetFunction(&loaded.dq, loaded.module, kBackwardDqName);
      r != CUDA_SUCCESS)
    s = cudaFailure(d, r, std::string("finding entry '") + kBackwardDqName + "'");
  else
    s = readLaunchTable(d, loaded.module, kBackwardDqConfigName, loaded.dq, loaded.config, true,
                        entry.manifest.headDim, device);
  if (!s.ok())
    d.cuModuleUnload(loaded.module);
  return s;
}

AttncBackwardParams bindBackwardParams(const Arguments &args) {
  AttncBackwardParams p;
  std::memset(&p, 0, sizeof(p));
  p.q = args.q.data;
  p.k = args.k.data;
  p.v = args.v.data;
  p.o = args.o.data;
  p.d_o = args.dO.data;
  p.lse = args.lse.data;
  p.dq = args.dQ.data;
  p.dk = args.dK.data;
  p.dv = args.dV.data;
  fillStrides(args.q, p.q_stride);
  fillStrides(args.k, p.k_stride);
  fillStrides(args.v, p.v_stride);
  fillStrides(args.o, p.o_stride);
  fillStrides(args.dO, p.do_stride);
  fillStrides(args.dQ, p.dq_stride);
  fillStrides(args.dK, p.dk_stride);
  fillStrides(args.dV, p.dv_stride);
  p.lse_stride[0] = args.lse.strideBatch;
  p.lse_stride[1] = args.lse.strideHead;
  p.d_lse = args.dLse.data;
  p.dlse_stride[0] = args.dLse.strideBatch;
  p.dlse_stride[1] = args.dLse.strideHead;
  return p;
}

} // namespace

Status Context::launchBackward(const Kernel &kernel, const Arguments &args, void *stream) {
  if (Status s = validateBackward(kernel, args, true); !s.ok())
    return s;
  if (Status s = compileBackward(kernel, args.deterministic); !s.ok())
    return s;

  std::string error;
  if (!ensureDeviceContext(kernel.options().device, error))
    return Status(StatusCode::NoDevice, error);
  const CudaDriver *d = cudaDriver(error);
  CUcontext context = nullptr;
  if (CUresult r = d->cuCtxGetCurrent(&context); r != CUDA_SUCCESS)
    return cudaFailure(*d, r, "cuCtxGetCurrent");

  Kernel::Backward &backward = *kernel.backward_;
  BackwardLoaded loaded;
  DeterministicLoaded deterministic;
  std::shared_ptr<const CachedKernel> entry;
  {
    std::lock_guard<std::mutex> lock(backward.mutex);
    entry = backward.entry;
    auto it = backward.byContext.find(context);
    if (it != backward.byContext.end()) {
      loaded = it->second;
    } else {
      if (Status s = loadBackwardModule(*d, *entry, loaded); !s.ok())
        return s;
      backward.byContext[context] = loaded;
    }
    if (args.deterministic) {
      Kernel::Backward::Deterministic &dq = backward.deterministic;
      auto found = dq.byContext.find(context);
      if (found != dq.byContext.end()) {
        deterministic = found->second;
      } else {
        if (Status s = loadDeterministicDq(*d, *dq.entry, deterministic); !s.ok())
          return s;
        dq.byContext[context] = deterministic;
      }
    }
  }
  const KernelManifest &manifest = entry->manifest;
  const int blockM = loaded.config[0], blockN = loaded.config[1], threads = loaded.config[2],
            sharedBytes = loaded.config[4];

  AttncArgs hookArgs;
  std::vector<SummaryJob> summaries;
  if (Status s = bindHookArgs(manifest, args, std::min(blockM, blockN), hookArgs, summaries);
      !s.ok())
    return s;
  AttncBackwardParams params = bindBackwardParams(args);

  LaunchScratch scratch(*d, static_cast<CUstream>(stream));
  if (Status s = runSummaries(scratch, loaded.prepass, summaries, hookArgs); !s.ok())
    return s;
  if (manifest.route.present) {
    AttncForwardParams forward = bindForwardParams(args);
    if (Status s =
            runRoutePrepass(scratch, loaded.prepass, manifest.route, args, forward, hookArgs);
        !s.ok())
      return s;
  }

  // Input gradients: zeroed here, then added to by the kernels' read sites.
  params.input_grads.any = 0;
  for (const auto &[name, grad] : args.inputGrads) {
    const ManifestInput *input = nullptr;
    for (const ManifestInput &candidate : manifest.inputs)
      input = candidate.name == name ? &candidate : input;
    if (!input)
      return invalid("attention '" + kernel.name() + "' has no input '" + name + "'");
    if (!(backward.differentiableInputs & (1u << input->slot)))
      return invalid("input '" + name + "' of attention '" + kernel.name() +
                     "' is not read by its score or out expression: it has no gradient");
    const std::vector<int64_t> &dims = args.inputs.at(name).dims;
    std::vector<int64_t> contiguous(dims.size(), 1);
    for (size_t n = dims.size(); n-- > 1;)
      contiguous[n - 1] = contiguous[n] * dims[n];
    if (!grad.strides.empty() && grad.strides != contiguous)
      return Status(StatusCode::Unsupported,
                    "the GPU backward writes input gradients contiguously; the gradient of '" +
                        name + "' has other strides");
    size_t elements = 1;
    for (int64_t dim : dims)
      elements *= size_t(dim);
    if (CUresult r = d->cuMemsetD32Async(reinterpret_cast<CUdeviceptr>(grad.data), 0, elements,
                                         scratch.stream());
        r != CUDA_SUCCESS)
      return cudaFailure(*d, r, "zeroing the gradient of input '" + name + "'");
    params.input_grads.data[input->slot] = grad.data;
    for (size_t n = 0; n < contiguous.size(); ++n)
      params.input_grads.stride[input->slot][n] = contiguous[n];
    params.input_grads.any = 1;
  }

  const long long rows = (long long)args.q.batch * args.q.heads * args.q.tokens;
  CUdeviceptr delta = 0, dqAccum = 0;
  if (Status s = scratch.allocate(size_t(rows) * sizeof(float), "the backward's row sums", delta);
      !s.ok())
    return s;
  const size_t accumWords = size_t(rows) * size_t(args.q.headDim);
  // dQ: accumulated with atomics by the key-tile kernel, or, deterministic, by a kernel of its
  // own without them (no accumulator then). The key-tile kernel lays dq_accum out in tiles of
  // config[7] query rows per (batch, head).
  const long long accumTileRows = std::max(1, loaded.config[7]);
  const long long tileRows = (args.q.tokens + accumTileRows - 1) / accumTileRows * accumTileRows;
  const auto allocateZeroed = [&](size_t words, const char *what, CUdeviceptr &pointer) {
    if (Status s = scratch.allocate(words * sizeof(float), what, pointer); !s.ok())
      return s;
    if (CUresult r = d->cuMemsetD32Async(pointer, 0, words, scratch.stream()); r != CUDA_SUCCESS)
      return cudaFailure(*d, r, std::string("zeroing ") + what);
    return Status::success();
  };
  const size_t headRows = size_t(args.q.batch) * size_t(args.q.heads) * size_t(tileRows);
  if (!args.deterministic)
    if (Status s = scratch.allocate(headRows * size_t(args.q.headDim) * sizeof(float),
                                    "the dQ accumulator", dqAccum);
        !s.ok())
      return s;
  params.dq_accum_rows = tileRows; // zeroed by the preparation (attention/backward_rows.cuh)
  params.delta = reinterpret_cast<float *>(delta);
  params.dq_accum = reinterpret_cast<float *>(dqAccum);
  // The sm_90a key-tile kernel (config[6] == 1) loads each query tile's (LSE * log2 e, delta)
  // by one bulk copy: the preparation writes them in tiles of config[7] rows per (batch,
  // head); the rows past q_len stay zero. Its producer reads each key tile's query intervals:
  // a kernel writes each 64-key block's (sm90/backward.cuh, writeQueryIntervals), another
  // pairs the blocks into key tiles and unites their intervals (attention/key_block_pairs.cuh).
  const unsigned keyTiles = unsigned((args.k.tokens + blockN - 1) / blockN);
  const int keyBlock = blockN / 2; // two blocks per key tile
  constexpr int kPairWindow = 32;  // blocks paired together: one warp's lanes
  const long long keyBlocks = (args.k.tokens + keyBlock - 1) / keyBlock;
  const long long intervalTiles = (long long)args.q.batch * args.q.heads * keyTiles;
  const long long intervalBlocks = (long long)args.q.batch * args.q.heads * keyBlocks;
  const long long pairWarps =
      (keyBlocks + kPairWindow - 1) / kPairWindow * args.k.heads * args.q.batch;
  const long long keyTileUnits = (long long)args.q.batch * args.k.heads * keyTiles;
  if (loaded.config[6] == 1) {
    CUdeviceptr rowStats = 0, intervals = 0, blockIntervals = 0, pairs = 0, order = 0;
    if (Status s = allocateZeroed(headRows * 2, "the backward's row statistics", rowStats); !s.ok())
      return s;
    params.row_stats = reinterpret_cast<float *>(rowStats);
    params.row_stats_rows = tileRows;
    if ((intervalBlocks + 127) / 128 > 0x7fffffff || (pairWarps + 7) / 8 > 0x7fffffff)
      return invalid("too many key tiles (" + std::to_string(intervalTiles) + ") for one backward");
    if (Status s = scratch.allocate(size_t(intervalBlocks) * sizeof(AttncQueryIntervals),
                                    "the key blocks' query intervals", blockIntervals);
        !s.ok())
      return s;
    if (Status s = scratch.allocate(size_t(intervalTiles) * sizeof(AttncQueryIntervals),
                                    "the key tiles' query intervals", intervals);
        !s.ok())
      return s;
    params.block_intervals = reinterpret_cast<AttncQueryIntervals *>(blockIntervals);
    params.q_intervals = reinterpret_cast<AttncQueryIntervals *>(intervals);
    // One CTA per unit in a 1-D grid, launched in the order attnc_backward_key_tile_order
    // writes (longest first when a few units are far longer than the rest).
    if (keyTileUnits > 0x7fffffff)
      return invalid("too many key tiles (" + std::to_string(keyTileUnits) + ") for one backward");
    if (Status s = scratch.allocate(size_t(keyTileUnits) * 2 * sizeof(int),
                                    "the key-tile kernel's launch order", order);
        !s.ok())
      return s;
    params.key_tile_order = reinterpret_cast<int *>(order);
    params.key_tile_lengths = params.key_tile_order + keyTileUnits;
    if (Status s = scratch.allocate(size_t(keyTileUnits) * 2 * sizeof(int), "the key tiles' blocks",
                                    pairs);
        !s.ok())
      return s;
    params.key_blocks = reinterpret_cast<int *>(pairs);
  }

  const int rowsPerCta = loaded.prepareConfig[0]; // attention/backward_rows.cuh
  const long long rowCtas = (rows + rowsPerCta - 1) / rowsPerCta;
  if (rowCtas > 0x7fffffff)
    return invalid("too many query rows (" + std::to_string(rows) + ") for one backward");
  // With `out`: the output before it (the forward's, when bound, else recomputed into
  // scratch) and dL/d(that output); the kernels after the preparation read those instead of O
  // and dO.
  AttncBackwardParams keyTileParams = params;
  if (loaded.recomputeConfig[0] > 0) {
    const size_t bytes = accumWords * 2;
    CUdeviceptr dBefore = 0;
    if (Status s = scratch.allocate(bytes, "the gradient of the output before `out`", dBefore);
        !s.ok())
      return s;
    const long long d64 = args.q.headDim, qLen = args.q.tokens;
    const long long contiguous[3] = {args.q.heads * qLen * d64, qLen * d64, d64};
    if (args.oBeforeOut.data != nullptr) {
      params.o = args.oBeforeOut.data;
      fillStrides(args.oBeforeOut, params.o_stride);
    } else {
      CUdeviceptr before = 0;
      if (Status s = scratch.allocate(bytes, "the output before `out`", before); !s.ok())
        return s;
      AttncForwardParams forward = bindForwardParams(args);
      forward.o = reinterpret_cast<void *>(before);
      forward.lse = nullptr;
      forward.o_before_out = nullptr;
      std::copy(contiguous, contiguous + 3, forward.o_stride);
      const int recomputeM = loaded.recomputeConfig[0];
      void *recomputeParams[] = {&forward, &hookArgs};
      if (Status s = scratch.launch(
              loaded.recompute, unsigned((args.q.tokens + recomputeM - 1) / recomputeM),
              unsigned(args.q.heads), unsigned(args.q.batch), unsigned(loaded.recomputeConfig[2]),
              unsigned(loaded.recomputeConfig[4]), recomputeParams,
              "the recompute of the output before `out`");
          !s.ok())
        return s;
      params.o = reinterpret_cast<const void *>(before);
      std::copy(contiguous, contiguous + 3, params.o_stride);
    }
    params.d_o_attn = reinterpret_cast<void *>(dBefore);
    keyTileParams = params;
    keyTileParams.d_o = params.d_o_attn;
    std::copy(contiguous, contiguous + 3, keyTileParams.do_stride);
  }
  void *kernelParams[] = {&params, &hookArgs};
  void *keyTileKernelParams[] = {&keyTileParams, &hookArgs};
  if (Status s =
          scratch.launch(loaded.prepare, unsigned(rowCtas), 1, 1, unsigned(loaded.prepareConfig[1]),
                         0, kernelParams, "the backward's preparation");
      !s.ok())
    return s;
  if (params.q_intervals != nullptr) {
    if (Status s = scratch.launch(loaded.queryIntervals, unsigned((intervalBlocks + 127) / 128), 1,
                                  1, 128, 0, kernelParams, "the key blocks' query intervals");
        !s.ok())
      return s;
    if (Status s = scratch.launch(loaded.pairKeyBlocks, unsigned((pairWarps + 7) / 8), 1, 1, 256, 0,
                                  kernelParams, "the key tiles' blocks");
        !s.ok())
      return s;
  }
  if (params.key_tile_order != nullptr) {
    if (Status s = scratch.launch(loaded.countQueryTiles, unsigned((keyTileUnits + 7) / 8), 1, 1,
                                  256, 0, kernelParams, "the key-tile units' query tiles");
        !s.ok())
      return s;
    if (Status s = scratch.launch(loaded.keyTileOrder, 1, 1, 1, 1024, 0, kernelParams,
                                  "the key-tile kernel's launch order");
        !s.ok())
      return s;
  }
  // The sm_90a key-tile kernel loads Q, K, V and dO (the one it reads: dL/d(output before
  // `out`) with `out`) through tensor maps.
  AttncBackwardTmaMaps maps;
  std::memset(&maps, 0, sizeof(maps));
  void *keyTileMapParams[] = {&keyTileParams, &hookArgs, &maps};
  if (loaded.config[6] == 1) {
    QkvTensor dO = args.dO;
    if (keyTileParams.d_o != params.d_o) {
      dO.data = const_cast<void *>(keyTileParams.d_o);
      dO.strideBatch = keyTileParams.do_stride[0];
      dO.strideHead = keyTileParams.do_stride[1];
      dO.strideToken = keyTileParams.do_stride[2];
    }
    Status s = encodeTmaMap(*d, args.q, blockM, "Q", maps.q);
    if (s.ok())
      s = encodeTmaMap(*d, args.k, keyBlock, "K", maps.k); // a block at a time
    if (s.ok())
      s = encodeTmaMap(*d, args.v, keyBlock, "V", maps.v);
    if (s.ok())
      s = encodeTmaMap(*d, dO, blockM, "dO", maps.d_o);
    if (!s.ok())
      return s;
  }
  const bool trace = loaded.trace != 0 && loaded.traceBytes >= sizeof(BackwardTrace::Counters);
  if (trace)
    d->cuMemsetD32Async(loaded.trace, 0, loaded.traceBytes / 4, scratch.stream());
  const bool ordered = params.key_tile_order != nullptr;
  if (Status s = scratch.launch(loaded.keyTiles, ordered ? unsigned(keyTileUnits) : keyTiles,
                                ordered ? 1u : unsigned(args.k.heads),
                                ordered ? 1u : unsigned(args.q.batch), unsigned(threads),
                                unsigned(sharedBytes),
                                loaded.config[6] == 1 ? keyTileMapParams : keyTileKernelParams,
                                "the backward's key-tile kernel");
      !s.ok())
    return s;
  if (trace)
    BackwardTrace::print(*d, loaded.trace, scratch.stream());
  if (args.deterministic) {
    const int dqM = deterministic.config[0];
    return scratch.launch(deterministic.dq, unsigned((args.q.tokens + dqM - 1) / dqM),
                          unsigned(args.q.heads), unsigned(args.q.batch),
                          unsigned(deterministic.config[2]), unsigned(deterministic.config[4]),
                          keyTileKernelParams, "the backward's deterministic dQ kernel");
  }
  const int(&store)[3] = loaded.storeDqConfig;
  if (store[2] == 1)
    return scratch.launch(loaded.storeDq, unsigned((args.q.tokens + store[0] - 1) / store[0]),
                          unsigned(args.q.heads), unsigned(args.q.batch), unsigned(store[1]), 0,
                          kernelParams, "the backward's dQ store");
  const long long storeCtas = (rows + store[0] - 1) / store[0];
  return scratch.launch(loaded.storeDq, unsigned(storeCtas), 1, 1, unsigned(store[1]), 0,
                        kernelParams, "the backward's dQ store");
}

} // namespace attnc::runtime
