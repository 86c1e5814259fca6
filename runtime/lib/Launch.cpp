//===- Launch.cpp - Context::launch: from a manifest to kernels on a stream -===//
//
// A launch reads the kernel manifest stored with the binary in use, never the program:
//
//   loadModule        the module of the binary in the current context (once), its entry
//                     points and launch table
//   bindHookArgs      AttncArgs: shapes, scale, params and inputs in their slots
//   bindForwardParams AttncForwardParams: the Q/K/V/O/LSE pointers and strides
//   runSummaries      the input summary pre-pass
//   runRoutePrepass   the routing pre-pass (planRoute over the manifest's route geometry)
//   encodeTmaMaps     the sm_90a template's tensor maps
//   launchForward     the forward kernel (persistent grid and scheduler where the table says)
//
// Scratch buffers are allocated and freed in stream order (LaunchScratch), so concurrent
// launches on other streams never share them.
//
//===----------------------------------------------------------------------===//
#include "ArgumentRules.h"
#include "KernelState.h"
#include "LaunchSteps.h"

#include "attnc/abi/KernelArgs.h"
#include "attnc/runtime/Device.h"
#include "attnc/runtime/RoutePlan.h"

#include "attnc_forward_params.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace attnc::runtime {

using namespace launch_steps;

namespace {

/// Prints the development counters of a kernel built with ATTNC_SM90_TRACE=1 (waits the
/// launch out): each role's cycles and where it waited, summed over the CTAs.
void printTrace(const CudaDriver &d, CUdeviceptr trace, size_t bytes, CUstream stream,
                const std::string &name) {
  unsigned long long c[24] = {};
  if (bytes < sizeof(c) || d.cuStreamSynchronize(stream) != CUDA_SUCCESS ||
      d.cuMemcpyDtoH(c, trace, sizeof(c)) != CUDA_SUCCESS)
    return;
  const auto pct = [](unsigned long long part, unsigned long long whole) {
    return whole ? 100.0 * double(part) / double(whole) : 0.0;
  };
  // Global-timer sums wrap modulo 2^64; the differences below are exact.
  const unsigned long long ctas = c[15], tailIdle = ctas * c[18] - c[17],
                           ctaTime = ctas * c[18] - c[16];
  std::fprintf(stderr,
               "attnc trace '%s': units %llu tiles %llu partial halves %llu | consumers: wait Q "
               "%.1f%% tile %.1f%% turn %.1f%% epilogue %.1f%% | loader: wait chunk %.1f%% stage "
               "%.1f%% Q %.1f%% | scanner: wait chunk %.1f%% unit %.1f%% | consumer cycles "
               "per unit %.0f | tail idle %.1f%% of %llu CTAs x %.1f us, %llu units ranked "
               "(order ready at %.1f us)\n",
               name.c_str(), c[12], c[13], c[14], pct(c[1], c[0]), pct(c[2], c[0]), pct(c[3], c[0]),
               pct(c[4], c[0]), pct(c[6], c[5]), pct(c[7], c[5]), pct(c[8], c[5]), pct(c[10], c[9]),
               pct(c[11], c[9]), c[12] ? double(c[0]) / 2.0 / double(c[12]) : 0.0,
               pct(tailIdle, ctaTime), ctas, ctas ? double(ctaTime) / double(ctas) / 1000.0 : 0.0,
               c[19], ctas && c[20] ? double(c[20] * ctas - c[16]) / double(ctas) / 1000.0 : 0.0);
}

/// CTAs of a persistent launch: one per SM, or fewer with ATTNC_MAX_CTAS=N (tests use it to
/// make every CTA run many work units on small shapes).
int persistentCtas(int multiprocessors) {
  static const int cap = [] {
    const char *value = std::getenv("ATTNC_MAX_CTAS");
    return value && std::atoi(value) > 0 ? std::atoi(value) : 0;
  }();
  const int ctas = std::max(1, multiprocessors);
  return cap > 0 ? std::min(cap, ctas) : ctas;
}

using Loaded = Kernel::Modules::Loaded;

/// Loads `entry`'s binary into the current context and finds what its manifest names: the
/// forward and summary entries, the routing pre-pass, the launch table. On failure the
/// module is unloaded again.
Status loadModule(const CudaDriver &d, const CachedKernel &entry, const std::string &kernelArch,
                  Loaded &loaded) {
  const KernelManifest &manifest = entry.manifest;
  const TilePolicy &tile = manifest.tile;
  std::string error;
  DeviceInfo device;
  if (!currentDeviceInfo(device, error))
    return Status(StatusCode::CudaError, error);
  CUresult r = d.cuModuleLoadData(&loaded.module, entry.binary.data());
  if (r != CUDA_SUCCESS)
    return cudaFailure(d, r,
                       "loading the kernel compiled for " + kernelArch + " on " + device.name +
                           " (" + device.arch() + ")");
  auto fail = [&](Status status) {
    d.cuModuleUnload(loaded.module);
    return status;
  };
  const std::string &name = tile.forwardEntry;
  if ((r = d.cuModuleGetFunction(&loaded.forward, loaded.module, name.c_str())) != CUDA_SUCCESS)
    return fail(cudaFailure(d, r, "finding entry '" + name + "'"));
  if (Status s = findPrepass(d, loaded.module, manifest, tile.summaryEntry, loaded.prepass);
      !s.ok())
    return fail(s);
  findTrace(d, loaded.module, loaded.trace, loaded.traceBytes);
  CUdeviceptr tableAddress = 0;
  size_t tableBytes = 0;
  if (d.cuModuleGetGlobal(&tableAddress, &tableBytes, loaded.module, tile.launchTable.c_str()) ==
      CUDA_SUCCESS) {
    if (tableBytes != 6 * sizeof(int) && tableBytes != 8 * sizeof(int))
      return fail(Status(StatusCode::Internal, "the launch table of '" + name + "' is malformed"));
    if ((r = d.cuMemcpyDtoH(loaded.config, tableAddress, tableBytes)) != CUDA_SUCCESS)
      return fail(cudaFailure(d, r, "reading the launch table of '" + name + "'"));
  } else if (tile.hopper) {
    return fail(
        Status(StatusCode::Internal, "the module has no launch table '" + tile.launchTable + "'"));
  } else {
    // The table is the template's word; if the symbol was not kept, the manifest has the
    // defaults its header documents.
    std::memcpy(loaded.config, tile.fallbackTable, sizeof(tile.fallbackTable));
  }
  if (loaded.config[0] <= 0 || loaded.config[1] <= 0 || loaded.config[2] <= 0 ||
      loaded.config[5] != manifest.headDim)
    return fail(Status(StatusCode::Internal, "the launch table of '" + name + "' is malformed"));
  const int sharedBytes = loaded.config[4];
  if (sharedBytes > device.maxSharedMemoryPerBlockOptin)
    return fail(Status(StatusCode::Unsupported,
                       "the kernel for head dim " + std::to_string(manifest.headDim) + " needs " +
                           std::to_string(sharedBytes) + " bytes of shared memory per block but " +
                           device.name + " allows " +
                           std::to_string(device.maxSharedMemoryPerBlockOptin)));
  r = d.cuFuncSetAttribute(loaded.forward, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
                           sharedBytes);
  if (r != CUDA_SUCCESS)
    return fail(cudaFailure(d, r, "setting the kernel's shared memory size"));
  loaded.multiprocessors = device.multiprocessors;
  return Status::success();
}

/// The module of the kernel's entry in use for `context`, loaded on first use (and again
/// when a tiered kernel has switched binaries); `entry` is the cached kernel it came from.
Status moduleFor(const Kernel &kernel, Kernel::Modules &modules, const CudaDriver &d,
                 CUcontext context, Loaded &loaded, std::shared_ptr<const CachedKernel> &entry) {
  std::lock_guard<std::mutex> lock(modules.mutex);
  entry = modules.entry;
  auto it = modules.byContext.find(context);
  if (it != modules.byContext.end() && it->second.generation == modules.generation) {
    loaded = it->second;
    return Status::success();
  }
  if (it != modules.byContext.end()) {
    // Replaced binary: launches in flight may still run its module, keep it loaded.
    modules.retired.push_back(it->second.module);
    modules.byContext.erase(it);
  }
  loaded.generation = modules.generation;
  if (Status s = loadModule(d, *entry, kernel.arch(), loaded); !s.ok())
    return s;
  modules.byContext[context] = loaded;
  return Status::success();
}

/// The sm_90a template loads Q, K and V through tensor maps (launch_steps::encodeTmaMap).
Status encodeTmaMaps(const CudaDriver &d, const Arguments &args, int blockM, int blockN,
                     AttncTmaMaps &maps) {
  Status s = encodeTmaMap(d, args.q, blockM, "Q", maps.q);
  if (s.ok())
    s = encodeTmaMap(d, args.k, blockN, "K", maps.k);
  if (s.ok())
    s = encodeTmaMap(d, args.v, blockN, "V", maps.v);
  return s;
}

/// The forward kernel: a grid of query tiles x heads x batch, or, for a persistent
/// template, at most one CTA per SM taking work units from a counter zeroed in stream order.
Status launchForward(LaunchScratch &scratch, const Loaded &loaded, const Arguments &args,
                     const std::string &name, AttncForwardParams &forward, AttncArgs &hookArgs,
                     AttncTmaMaps &maps) {
  const CudaDriver &d = scratch.driver();
  const int blockM = loaded.config[0], threads = loaded.config[2], sharedBytes = loaded.config[4];
  const long long qTiles = (args.q.tokens + blockM - 1) / blockM;
  unsigned grid[3] = {unsigned(qTiles), unsigned(args.q.heads), unsigned(args.q.batch)};
  if (loaded.config[7] == 1) {
    const long long units = qTiles * args.q.heads * args.q.batch;
    if (units > 0x7fffffff)
      return Status(StatusCode::InvalidArgument,
                    "too many query tiles (" + std::to_string(units) + ") for one launch");
    CUdeviceptr counter = 0;
    if (Status s = scratch.allocate(ATTNC_SCHEDULER_INTS * sizeof(int), "the scheduler workspace",
                                    counter);
        !s.ok())
      return s;
    if (CUresult r = d.cuMemsetD32Async(counter, 0, 4, scratch.stream()); r != CUDA_SUCCESS)
      return cudaFailure(d, r, "zeroing the scheduler workspace");
    forward.tile_counter = reinterpret_cast<int *>(counter);
    grid[0] = unsigned(std::min<long long>(units, persistentCtas(loaded.multiprocessors)));
    grid[1] = grid[2] = 1;
  }
  const bool trace = loaded.trace != 0 && std::getenv("ATTNC_TRACE") != nullptr;
  if (trace)
    d.cuMemsetD32Async(loaded.trace, 0, loaded.traceBytes / 4, scratch.stream());
  void *params[] = {&forward, &hookArgs, &maps};
  CUresult r = d.cuLaunchKernel(loaded.forward, grid[0], grid[1], grid[2], unsigned(threads), 1, 1,
                                unsigned(sharedBytes), scratch.stream(), params, nullptr);
  if (r != CUDA_SUCCESS)
    return cudaFailure(d, r, "launching attention '" + name + "'");
  if (trace)
    printTrace(d, loaded.trace, loaded.traceBytes, scratch.stream(), name);
  return Status::success();
}

} // namespace

namespace launch_steps {

Status cudaFailure(const CudaDriver &d, CUresult result, const std::string &what) {
  return Status(StatusCode::CudaError, cudaErrorText(d, result, what));
}

void findTrace(const CudaDriver &d, CUmodule module, CUdeviceptr &trace, size_t &bytes) {
  trace = 0;
  if (std::getenv("ATTNC_TRACE") != nullptr &&
      d.cuModuleGetGlobal(&trace, &bytes, module, "attnc_trace") != CUDA_SUCCESS)
    trace = 0;
}

/// Shapes, scale, params and inputs in the slots the manifest gives them.
Status bindHookArgs(const KernelManifest &manifest, const Arguments &args, int summaryBlock,
                    AttncArgs &hookArgs, std::vector<SummaryJob> &summaries) {
  std::memset(&hookArgs, 0, sizeof(hookArgs));
  hookArgs.batch = args.q.batch;
  hookArgs.heads = args.q.heads;
  hookArgs.kv_heads = args.k.heads;
  hookArgs.q_len = args.q.tokens;
  hookArgs.kv_len = args.k.tokens;
  hookArgs.head_dim = args.q.headDim;
  hookArgs.scale = args.scale ? *args.scale : float(1.0 / std::sqrt(double(args.q.headDim)));
  hookArgs.summary_block = summaryBlock;

  std::vector<dsl::ConstValue> values;
  if (Status s = resolveParams(manifest, args, values); !s.ok())
    return s;
  for (size_t i = 0; i < manifest.params.size(); ++i) {
    const ManifestParam &param = manifest.params[i];
    if (param.slot < 0 || param.slot >= ATTNC_MAX_PARAMS)
      return Status(StatusCode::Internal,
                    "param slot table does not match param '" + param.name + "'");
    const dsl::ConstValue &value = values[i];
    if (param.type == dsl::Type::Float)
      hookArgs.fparam[param.slot] = float(value.f);
    else if (param.type == dsl::Type::Bool)
      hookArgs.iparam[param.slot] = value.b ? 1 : 0;
    else
      hookArgs.iparam[param.slot] = int32_t(value.i);
  }

  summaries.clear();
  for (const ManifestInput &input : manifest.inputs) {
    if (input.slot < 0 || input.slot >= ATTNC_MAX_INPUTS)
      return Status(StatusCode::Internal, "input slot out of range for '" + input.name + "'");
    const InputTensor &tensor = args.inputs.at(input.name);
    if (tensor.dims.size() > ATTNC_MAX_RANK)
      return Status(StatusCode::Internal, "input '" + input.name + "' has rank above 4");
    AttncTensor &target = hookArgs.input[input.slot];
    std::vector<int64_t> strides = stridesOf(tensor);
    target.data = tensor.data;
    target.rank = int(tensor.dims.size());
    target.dtype = int(tensor.dtype);
    for (size_t n = 0; n < tensor.dims.size(); ++n) {
      target.dim[n] = int(tensor.dims[n]);
      target.stride[n] = strides[n];
    }
    if (input.summarized) {
      long long outer = 1;
      for (size_t n = 0; n + 1 < tensor.dims.size(); ++n)
        outer *= tensor.dims[n];
      int last = int(tensor.dims.back());
      summaries.push_back({input.slot, outer, (last + summaryBlock - 1) / summaryBlock});
    }
  }
  return Status::success();
}

Status findPrepass(const CudaDriver &d, CUmodule module, const KernelManifest &manifest,
                   const std::string &summaryEntry, PrepassFunctions &prepass) {
  CUresult r = d.cuModuleGetFunction(&prepass.summarize, module, summaryEntry.c_str());
  if (r != CUDA_SUCCESS)
    return cudaFailure(d, r, "finding entry '" + summaryEntry + "'");
  if (manifest.route.present &&
      ((r = d.cuModuleGetFunction(&prepass.routePoolKeys, module,
                                  manifest.routePoolKeysEntry.c_str())) != CUDA_SUCCESS ||
       (r = d.cuModuleGetFunction(&prepass.routePoolQueries, module,
                                  manifest.routePoolQueriesEntry.c_str())) != CUDA_SUCCESS ||
       (r = d.cuModuleGetFunction(&prepass.routeSelect, module,
                                  manifest.routeSelectEntry.c_str())) != CUDA_SUCCESS))
    return cudaFailure(d, r, "finding the routing pre-pass kernels");
  return Status::success();
}

void fillStrides(const QkvTensor &t, long long (&stride)[3]) {
  stride[0] = t.strideBatch;
  stride[1] = t.strideHead;
  stride[2] = t.strideToken;
}

AttncForwardParams bindForwardParams(const Arguments &args) {
  AttncForwardParams forward;
  std::memset(&forward, 0, sizeof(forward));
  forward.q = args.q.data;
  forward.k = args.k.data;
  forward.v = args.v.data;
  forward.o = args.o.data;
  forward.lse = args.lse.data;
  fillStrides(args.q, forward.q_stride);
  fillStrides(args.k, forward.k_stride);
  fillStrides(args.v, forward.v_stride);
  fillStrides(args.o, forward.o_stride);
  forward.lse_stride[0] = args.lse.strideBatch;
  forward.lse_stride[1] = args.lse.strideHead;
  forward.o_before_out = args.oBeforeOut.data;
  fillStrides(args.oBeforeOut, forward.o_before_out_stride);
  return forward;
}

/// Per-block min/max of every summarized input (the layout attnc_iv_summary reads).
Status runSummaries(LaunchScratch &scratch, const PrepassFunctions &prepass,
                    const std::vector<SummaryJob> &summaries, AttncArgs &hookArgs) {
  for (const SummaryJob &job : summaries) {
    size_t bytes = size_t(job.outer) * size_t(job.blocks) * 2 * sizeof(int);
    CUdeviceptr buffer = 0;
    if (Status s = scratch.allocate(bytes, "input summaries", buffer); !s.ok())
      return s;
    hookArgs.summary[job.slot] = reinterpret_cast<const int *>(buffer);
    AttncTensor tensor = hookArgs.input[job.slot];
    int *summary = reinterpret_cast<int *>(buffer);
    int blockTokens = hookArgs.summary_block;
    int blocks = job.blocks;
    long long outer = job.outer;
    void *params[] = {&tensor, &summary, &blockTokens, &blocks, &outer};
    unsigned gridY = unsigned(std::min<long long>(job.outer, 65535));
    if (Status s = scratch.launch(prepass.summarize, unsigned(job.blocks), gridY, 1, 128, 0, params,
                                  "the input summary pre-pass");
        !s.ok())
      return s;
  }
  return Status::success();
}

/// Key pooling, query pooling and block selection; fills route_mask and route_words.
Status runRoutePrepass(LaunchScratch &scratch, const PrepassFunctions &prepass,
                       const RouteGeometry &route, const Arguments &args,
                       AttncForwardParams &forward, AttncArgs &hookArgs) {
  const RoutePlan plan = planRoute(route, args.q.tokens, args.k.tokens);
  // attnc_route_select: 4 warps of 4 units per CTA where the shared memory allows
  // (warps * units per warp * numBlocks * 9 bytes within 48 KB), fewer with many blocks.
  auto selectBytes = [&](int units) { return (size_t(units) * plan.numBlocks * 9 + 15) / 16 * 16; };
  int selectWarps = 4, unitsPerWarp = 4;
  while (selectWarps * unitsPerWarp > 1 && selectBytes(selectWarps * unitsPerWarp) > 48 * 1024) {
    if (selectWarps > 1)
      selectWarps /= 2;
    else
      unitsPerWarp /= 2;
  }
  const size_t selectShared = selectBytes(selectWarps * unitsPerWarp);
  if (selectShared > 48 * 1024)
    return Status(StatusCode::Unsupported,
                  "block routing over " + std::to_string(plan.numBlocks) +
                      " KV blocks is more than the GPU selection supports (5400)");
  const size_t d64 = size_t(args.q.headDim);
  CUdeviceptr keyMean = 0, counts = 0, queryMean = 0, mask = 0;
  if (Status s = scratch.allocate(size_t(args.q.batch) * args.k.heads * plan.numBlocks * d64 * 8,
                                  "route key means", keyMean);
      !s.ok())
    return s;
  if (Status s =
          scratch.allocate(size_t(plan.numBlocks) * sizeof(int), "route block sizes", counts);
      !s.ok())
    return s;
  if (plan.pooledQueries) {
    if (Status s = scratch.allocate(size_t(args.q.batch) * args.q.heads * plan.units * d64 * 8,
                                    "route query means", queryMean);
        !s.ok())
      return s;
  }
  if (Status s = scratch.allocate(size_t(args.q.batch) * args.q.heads * plan.units * plan.words * 4,
                                  "route masks", mask);
      !s.ok())
    return s;
  hookArgs.route_mask = reinterpret_cast<const unsigned *>(mask);
  hookArgs.route_words = plan.words;
  double *keyMeanPtr = reinterpret_cast<double *>(keyMean);
  int *countsPtr = reinterpret_cast<int *>(counts);
  double *queryMeanPtr = reinterpret_cast<double *>(queryMean);
  unsigned *maskPtr = reinterpret_cast<unsigned *>(mask);
  int numBlocks = plan.numBlocks, units = plan.units;
  void *poolKeys[] = {&forward, &hookArgs, &keyMeanPtr, &countsPtr, &numBlocks};
  if (Status s =
          scratch.launch(prepass.routePoolKeys, unsigned(numBlocks), unsigned(args.k.heads),
                         unsigned(args.q.batch), 128, 0, poolKeys, "the routing key pooling");
      !s.ok())
    return s;
  if (plan.pooledQueries) {
    void *poolQueries[] = {&forward, &hookArgs, &queryMeanPtr, &units};
    if (Status s = scratch.launch(prepass.routePoolQueries, unsigned(units), unsigned(args.q.heads),
                                  unsigned(args.q.batch), 128, 0, poolQueries,
                                  "the routing query pooling");
        !s.ok())
      return s;
  }
  void *select[] = {&forward, &hookArgs,  &keyMeanPtr, &countsPtr,   &queryMeanPtr,
                    &maskPtr, &numBlocks, &units,      &unitsPerWarp};
  const int unitsPerCta = selectWarps * unitsPerWarp;
  return scratch.launch(prepass.routeSelect, unsigned((units + unitsPerCta - 1) / unitsPerCta),
                        unsigned(args.q.heads), unsigned(args.q.batch), unsigned(32 * selectWarps),
                        unsigned(selectShared), select, "the routing block selection");
}

Status encodeTmaMap(const CudaDriver &d, const QkvTensor &t, int boxRows, const char *what,
                    AttncTensorMap &map) {
  const CUtensorMapDataType type = t.dtype == dsl::ElementType::BF16
                                       ? CU_TENSOR_MAP_DATA_TYPE_BFLOAT16
                                       : CU_TENSOR_MAP_DATA_TYPE_FLOAT16;
  cuuint64_t dims[4] = {cuuint64_t(t.headDim), cuuint64_t(t.tokens), cuuint64_t(t.heads),
                        cuuint64_t(t.batch)};
  cuuint64_t strides[3] = {cuuint64_t(t.strideToken) * 2, cuuint64_t(t.strideHead) * 2,
                           cuuint64_t(t.strideBatch) * 2};
  // A dim of extent 1 may carry any stride; give the driver a valid one.
  for (int i = 0; i < 3; ++i)
    if (dims[i + 1] == 1 || strides[i] == 0)
      strides[i] = 16;
  cuuint32_t box[4] = {64, cuuint32_t(boxRows), 1, 1};
  cuuint32_t elementStrides[4] = {1, 1, 1, 1};
  static_assert(sizeof(CUtensorMap) == sizeof(AttncTensorMap), "tensor map size");
  CUresult r = d.cuTensorMapEncodeTiled(
      reinterpret_cast<CUtensorMap *>(&map), type, 4, const_cast<void *>(t.data), dims, strides,
      box, elementStrides, CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_128B,
      CU_TENSOR_MAP_L2_PROMOTION_L2_256B, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
  if (r != CUDA_SUCCESS)
    return cudaFailure(d, r, std::string("building the TMA descriptor of ") + what);
  return Status::success();
}

} // namespace launch_steps

Status Context::launch(const Kernel &kernel, const Arguments &args, void *stream) {
  if (!kernel.hasBinary())
    return invalid("kernel '" + kernel.name() + "' was compiled with arch '" + kernel.arch() +
                   "' and has no GPU binary (only the CPU reference can run it)");
  // A tiered kernel switches to its optimized binary as soon as it is ready.
  kernel.installOptimized();
  if (Status s = validate(kernel, args, true); !s.ok())
    return s;

  std::string error;
  if (!ensureDeviceContext(kernel.options().device, error))
    return Status(StatusCode::NoDevice, error);
  const CudaDriver *d = cudaDriver(error);
  CUcontext context = nullptr;
  if (CUresult r = d->cuCtxGetCurrent(&context); r != CUDA_SUCCESS)
    return cudaFailure(*d, r, "cuCtxGetCurrent");

  Loaded loaded;
  std::shared_ptr<const CachedKernel> entry;
  if (Status s = moduleFor(kernel, *kernel.modules_, *d, context, loaded, entry); !s.ok())
    return s;
  const KernelManifest &manifest = entry->manifest;
  const int blockM = loaded.config[0], blockN = loaded.config[1];

  AttncArgs hookArgs;
  std::vector<SummaryJob> summaries;
  if (Status s = bindHookArgs(manifest, args, std::min(blockM, blockN), hookArgs, summaries);
      !s.ok())
    return s;
  AttncForwardParams forward = bindForwardParams(args);

  LaunchScratch scratch(*d, static_cast<CUstream>(stream));
  if (Status s = runSummaries(scratch, loaded.prepass, summaries, hookArgs); !s.ok())
    return s;
  if (manifest.route.present)
    if (Status s =
            runRoutePrepass(scratch, loaded.prepass, manifest.route, args, forward, hookArgs);
        !s.ok())
      return s;
  AttncTmaMaps maps;
  std::memset(&maps, 0, sizeof(maps));
  if (loaded.config[6] == 1)
    if (Status s = encodeTmaMaps(*d, args, blockM, blockN, maps); !s.ok())
      return s;
  return launchForward(scratch, loaded, args, manifest.attention, forward, hookArgs, maps);
}

} // namespace attnc::runtime
