//===- CudaDriver.h - Entry points of libcuda, resolved with dlsym -*- C++ -*-===//
//
// Internal to the runtime. The table holds the driver functions attnc uses; the
// types come from cuda.h (the header only, the library is never linked).
//
//===----------------------------------------------------------------------===//
#ifndef ATTNC_RUNTIME_LIB_CUDADRIVER_H
#define ATTNC_RUNTIME_LIB_CUDADRIVER_H

#include <cuda.h>

#include <string>

namespace attnc::runtime {

// X(member, symbol): cuda.h maps several names to versioned symbols (cuMemAlloc ->
// cuMemAlloc_v2), so the member type is taken from the macro-expanded name and the
// symbol is looked up explicitly.
#define ATTNC_CUDA_DRIVER_FUNCTIONS(X)                                                             \
  X(cuInit, "cuInit")                                                                              \
  X(cuDriverGetVersion, "cuDriverGetVersion")                                                      \
  X(cuGetErrorString, "cuGetErrorString")                                                          \
  X(cuGetErrorName, "cuGetErrorName")                                                              \
  X(cuDeviceGetCount, "cuDeviceGetCount")                                                          \
  X(cuDeviceGet, "cuDeviceGet")                                                                    \
  X(cuDeviceGetName, "cuDeviceGetName")                                                            \
  X(cuDeviceGetAttribute, "cuDeviceGetAttribute")                                                  \
  X(cuDevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain")                                          \
  X(cuCtxGetCurrent, "cuCtxGetCurrent")                                                            \
  X(cuCtxSetCurrent, "cuCtxSetCurrent")                                                            \
  X(cuCtxGetDevice, "cuCtxGetDevice")                                                              \
  X(cuModuleLoadData, "cuModuleLoadData")                                                          \
  X(cuModuleUnload, "cuModuleUnload")                                                              \
  X(cuModuleGetFunction, "cuModuleGetFunction")                                                    \
  X(cuModuleGetGlobal, "cuModuleGetGlobal_v2")                                                     \
  X(cuFuncSetAttribute, "cuFuncSetAttribute")                                                      \
  X(cuFuncGetAttribute, "cuFuncGetAttribute")                                                      \
  X(cuLaunchKernel, "cuLaunchKernel")                                                              \
  X(cuMemAlloc, "cuMemAlloc_v2")                                                                   \
  X(cuMemFree, "cuMemFree_v2")                                                                     \
  X(cuMemAllocAsync, "cuMemAllocAsync")                                                            \
  X(cuMemFreeAsync, "cuMemFreeAsync")                                                              \
  X(cuMemcpyHtoD, "cuMemcpyHtoD_v2")                                                               \
  X(cuMemcpyDtoH, "cuMemcpyDtoH_v2")                                                               \
  X(cuMemsetD8, "cuMemsetD8_v2")                                                                   \
  X(cuMemsetD32Async, "cuMemsetD32Async")                                                          \
  X(cuStreamSynchronize, "cuStreamSynchronize")                                                    \
  X(cuCtxSynchronize, "cuCtxSynchronize")                                                          \
  X(cuTensorMapEncodeTiled, "cuTensorMapEncodeTiled")

struct CudaDriver {
#define ATTNC_DECLARE_MEMBER(member, symbol) decltype(&::member) member = nullptr;
  ATTNC_CUDA_DRIVER_FUNCTIONS(ATTNC_DECLARE_MEMBER)
#undef ATTNC_DECLARE_MEMBER
  int driverVersion = 0;
};

/// The loaded and initialised driver (cuInit done), or null with `error` set. Loading
/// is attempted once per process; the outcome is remembered.
const CudaDriver *cudaDriver(std::string &error);

/// "what: CUDA_ERROR_X (message)".
std::string cudaErrorText(const CudaDriver &driver, CUresult result, const std::string &what);

} // namespace attnc::runtime

#endif // ATTNC_RUNTIME_LIB_CUDADRIVER_H
