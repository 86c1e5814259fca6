//===- LaunchSteps.h - Launch steps the forward and backward share -*- C++ -*-===//
//
// Binding the hook arguments, stream-ordered scratch, and the pre-passes (input summaries,
// block routing) that run before the forward kernel and before the backward's kernels alike.
// Defined in Launch.cpp.
//
//===----------------------------------------------------------------------===//
#ifndef ATTNC_RUNTIME_LIB_LAUNCHSTEPS_H
#define ATTNC_RUNTIME_LIB_LAUNCHSTEPS_H

#include "KernelState.h"

#include "attnc/abi/KernelArgs.h"

#include "attnc_forward_params.h"

#include <string>
#include <vector>

namespace attnc::runtime::launch_steps {

Status cudaFailure(const CudaDriver &d, CUresult result, const std::string &what);

/// An input the summary pre-pass reads: its slot, the product of its leading dims and the
/// blocks along its last dim.
struct SummaryJob {
  int slot;
  long long outer;
  int blocks;
};

/// Stream-ordered scratch of one launch and the pre-pass launches that use it; everything
/// allocated is freed in stream order when the launch is done (or has failed).
class LaunchScratch {
public:
  LaunchScratch(const CudaDriver &d, CUstream stream) : d_(d), stream_(stream) {}
  LaunchScratch(const LaunchScratch &) = delete;
  LaunchScratch &operator=(const LaunchScratch &) = delete;
  ~LaunchScratch() {
    for (CUdeviceptr buffer : buffers_)
      d_.cuMemFreeAsync(buffer, stream_);
  }

  Status allocate(size_t bytes, const char *what, CUdeviceptr &buffer) {
    CUresult r = d_.cuMemAllocAsync(&buffer, bytes == 0 ? 1 : bytes, stream_);
    if (r != CUDA_SUCCESS)
      return cudaFailure(d_, r, "allocating " + std::to_string(bytes) + " bytes of " + what);
    buffers_.push_back(buffer);
    return Status::success();
  }

  Status launch(CUfunction function, unsigned gx, unsigned gy, unsigned gz,
                unsigned threadsPerBlock, unsigned shared, void **params, const char *what) {
    CUresult r = d_.cuLaunchKernel(function, gx, gy, gz, threadsPerBlock, 1, 1, shared, stream_,
                                   params, nullptr);
    if (r != CUDA_SUCCESS)
      return cudaFailure(d_, r, std::string("launching ") + what);
    return Status::success();
  }

  const CudaDriver &driver() const { return d_; }
  CUstream stream() const { return stream_; }

private:
  const CudaDriver &d_;
  CUstream stream_;
  std::vector<CUdeviceptr> buffers_;
};

/// Shapes, scale, params and inputs in the slots the manifest gives them; the inputs the
/// summary pre-pass must summarize in `summaries`.
Status bindHookArgs(const KernelManifest &manifest, const Arguments &args, int summaryBlock,
                    AttncArgs &hookArgs, std::vector<SummaryJob> &summaries);

/// The pre-pass kernels of `module`: the summary kernel (entry `summaryEntry`), and the
/// routing pre-pass when the manifest has a route.
Status findPrepass(const CudaDriver &d, CUmodule module, const KernelManifest &manifest,
                   const std::string &summaryEntry, PrepassFunctions &prepass);

/// `module`'s development counters (attnc_trace, in kernels built with ATTNC_SM90_TRACE=1)
/// when ATTNC_TRACE is set, else trace 0. Looked up only on request: a failed lookup is an API
/// error under compute-sanitizer.
void findTrace(const CudaDriver &d, CUmodule module, CUdeviceptr &trace, size_t &bytes);

/// A Q/K/V-shaped tensor's batch, head and token strides (elements), as the params take them.
void fillStrides(const QkvTensor &t, long long (&stride)[3]);

/// The Q/K/V/O/LSE pointers and strides of the forward (the routing pre-pass reads Q and K).
AttncForwardParams bindForwardParams(const Arguments &args);

/// Per-block min/max of every summarized input (the layout attnc_iv_summary reads).
Status runSummaries(LaunchScratch &scratch, const PrepassFunctions &prepass,
                    const std::vector<SummaryJob> &summaries, AttncArgs &hookArgs);

/// Key pooling, query pooling and block selection; fills route_mask and route_words.
Status runRoutePrepass(LaunchScratch &scratch, const PrepassFunctions &prepass,
                       const RouteGeometry &route, const Arguments &args,
                       AttncForwardParams &forward, AttncArgs &hookArgs);

/// A 4-D tensor map {D, tokens, heads, batch} of Q, K, V or dO for the sm_90a kernels: the
/// 128-byte swizzle, boxes of 64 columns x boxRows rows.
Status encodeTmaMap(const CudaDriver &d, const QkvTensor &t, int boxRows, const char *what,
                    AttncTensorMap &map);

} // namespace attnc::runtime::launch_steps

#endif // ATTNC_RUNTIME_LIB_LAUNCHSTEPS_H
