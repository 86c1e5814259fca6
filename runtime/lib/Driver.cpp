//===- Driver.cpp - libcuda loaded with dlopen ----------------------------===//
#include "CudaDriver.h"
#include "attnc/runtime/Device.h"

#include <mutex>

#include <dlfcn.h>

namespace attnc::runtime {

namespace {
struct DriverState {
  CudaDriver driver;
  bool loaded = false;
  std::string error;
};

DriverState &loadDriverOnce() {
  static DriverState state;
  static std::once_flag once;
  std::call_once(once, [] {
    void *library = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!library) {
      const char *reason = dlerror();
      state.error = std::string("no CUDA driver found (libcuda.so.1): ") +
                    (reason ? reason : "dlopen failed");
      return;
    }
    CudaDriver &d = state.driver;
#define ATTNC_RESOLVE(member, symbol)                                                              \
  d.member = reinterpret_cast<decltype(d.member)>(dlsym(library, symbol));                         \
  if (!d.member) {                                                                                 \
    state.error =                                                                                  \
        std::string("the CUDA driver (libcuda.so.1) lacks ") + symbol + ": the driver is too old"; \
    return;                                                                                        \
  }
    ATTNC_CUDA_DRIVER_FUNCTIONS(ATTNC_RESOLVE)
#undef ATTNC_RESOLVE
    CUresult result = d.cuInit(0);
    if (result != CUDA_SUCCESS) {
      state.error = cudaErrorText(d, result, "no usable CUDA device: cuInit");
      return;
    }
    d.cuDriverGetVersion(&d.driverVersion);
    state.loaded = true;
  });
  return state;
}

/// Primary contexts retained per device (released at exit by the driver itself).
std::mutex primaryMutex;
CUcontext primaryContexts[64] = {};
} // namespace

const CudaDriver *cudaDriver(std::string &error) {
  DriverState &state = loadDriverOnce();
  if (!state.loaded) {
    error = state.error;
    return nullptr;
  }
  return &state.driver;
}

std::string cudaErrorText(const CudaDriver &driver, CUresult result, const std::string &what) {
  const char *name = nullptr;
  const char *message = nullptr;
  if (driver.cuGetErrorName)
    driver.cuGetErrorName(result, &name);
  if (driver.cuGetErrorString)
    driver.cuGetErrorString(result, &message);
  return what + " failed: " + (name ? name : "CUDA error " + std::to_string(int(result))) +
         (message ? std::string(" (") + message + ")" : std::string());
}

std::string DeviceInfo::arch() const {
  std::string arch = "sm_" + std::to_string(computeMajor) + std::to_string(computeMinor);
  // Hopper's wgmma and setmaxnreg need the arch-specific target.
  if (computeMajor == 9 && computeMinor == 0)
    arch += "a";
  return arch;
}

bool deviceAvailable(std::string &error) {
  const CudaDriver *d = cudaDriver(error);
  if (!d)
    return false;
  int count = 0;
  CUresult result = d->cuDeviceGetCount(&count);
  if (result != CUDA_SUCCESS) {
    error = cudaErrorText(*d, result, "cuDeviceGetCount");
    return false;
  }
  if (count == 0) {
    error = "the CUDA driver reports no GPU";
    return false;
  }
  return true;
}

bool ensureDeviceContext(int ordinal, std::string &error) {
  const CudaDriver *d = cudaDriver(error);
  if (!d)
    return false;
  CUcontext current = nullptr;
  CUresult result = d->cuCtxGetCurrent(&current);
  if (result != CUDA_SUCCESS) {
    error = cudaErrorText(*d, result, "cuCtxGetCurrent");
    return false;
  }
  if (current)
    return true;
  int count = 0;
  result = d->cuDeviceGetCount(&count);
  if (result != CUDA_SUCCESS || count == 0) {
    error = result != CUDA_SUCCESS ? cudaErrorText(*d, result, "cuDeviceGetCount")
                                   : "the CUDA driver reports no GPU";
    return false;
  }
  if (ordinal < 0 || ordinal >= count || ordinal >= 64) {
    error = "no CUDA device " + std::to_string(ordinal) + " (the driver reports " +
            std::to_string(count) + ")";
    return false;
  }
  std::lock_guard<std::mutex> lock(primaryMutex);
  if (!primaryContexts[ordinal]) {
    CUdevice device = 0;
    result = d->cuDeviceGet(&device, ordinal);
    if (result == CUDA_SUCCESS)
      result = d->cuDevicePrimaryCtxRetain(&primaryContexts[ordinal], device);
    if (result != CUDA_SUCCESS) {
      error = cudaErrorText(*d, result, "retaining the primary context");
      return false;
    }
  }
  result = d->cuCtxSetCurrent(primaryContexts[ordinal]);
  if (result != CUDA_SUCCESS) {
    error = cudaErrorText(*d, result, "cuCtxSetCurrent");
    return false;
  }
  return true;
}

bool currentDeviceInfo(DeviceInfo &info, std::string &error) {
  const CudaDriver *d = cudaDriver(error);
  if (!d)
    return false;
  CUdevice device = 0;
  CUresult result = d->cuCtxGetDevice(&device);
  if (result != CUDA_SUCCESS) {
    error = cudaErrorText(*d, result, "cuCtxGetDevice");
    return false;
  }
  char name[256] = {};
  d->cuDeviceGetName(name, sizeof(name) - 1, device);
  info.ordinal = int(device);
  info.name = name;
  struct {
    CUdevice_attribute attribute;
    int *target;
  } queries[] = {
      {CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, &info.computeMajor},
      {CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, &info.computeMinor},
      {CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, &info.multiprocessors},
      {CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN, &info.maxSharedMemoryPerBlockOptin},
  };
  for (auto &query : queries) {
    result = d->cuDeviceGetAttribute(query.target, query.attribute, device);
    if (result != CUDA_SUCCESS) {
      error = cudaErrorText(*d, result, "cuDeviceGetAttribute");
      return false;
    }
  }
  return true;
}

namespace {
/// The driver with a current context, or null with `error` set.
const CudaDriver *readyDriver(std::string &error) {
  if (!ensureDeviceContext(0, error))
    return nullptr;
  return cudaDriver(error);
}
} // namespace

bool deviceAlloc(void **pointer, size_t bytes, std::string &error) {
  const CudaDriver *d = readyDriver(error);
  if (!d)
    return false;
  CUdeviceptr device = 0;
  CUresult result = d->cuMemAlloc(&device, bytes == 0 ? 1 : bytes);
  if (result != CUDA_SUCCESS) {
    error = cudaErrorText(*d, result, "cuMemAlloc of " + std::to_string(bytes) + " bytes");
    return false;
  }
  *pointer = reinterpret_cast<void *>(device);
  return true;
}

bool deviceFree(void *pointer, std::string &error) {
  if (!pointer)
    return true;
  const CudaDriver *d = readyDriver(error);
  if (!d)
    return false;
  CUresult result = d->cuMemFree(reinterpret_cast<CUdeviceptr>(pointer));
  if (result != CUDA_SUCCESS) {
    error = cudaErrorText(*d, result, "cuMemFree");
    return false;
  }
  return true;
}

bool copyToDevice(void *device, const void *host, size_t bytes, std::string &error) {
  const CudaDriver *d = readyDriver(error);
  if (!d)
    return false;
  CUresult result = d->cuMemcpyHtoD(reinterpret_cast<CUdeviceptr>(device), host, bytes);
  if (result != CUDA_SUCCESS) {
    error = cudaErrorText(*d, result, "cuMemcpyHtoD");
    return false;
  }
  return true;
}

bool copyToHost(void *host, const void *device, size_t bytes, std::string &error) {
  const CudaDriver *d = readyDriver(error);
  if (!d)
    return false;
  CUresult result = d->cuMemcpyDtoH(host, reinterpret_cast<CUdeviceptr>(device), bytes);
  if (result != CUDA_SUCCESS) {
    error = cudaErrorText(*d, result, "cuMemcpyDtoH");
    return false;
  }
  return true;
}

bool deviceMemset(void *device, unsigned char value, size_t bytes, std::string &error) {
  const CudaDriver *d = readyDriver(error);
  if (!d)
    return false;
  CUresult result = d->cuMemsetD8(reinterpret_cast<CUdeviceptr>(device), value, bytes);
  if (result != CUDA_SUCCESS) {
    error = cudaErrorText(*d, result, "cuMemsetD8");
    return false;
  }
  return true;
}

bool streamSynchronize(void *stream, std::string &error) {
  const CudaDriver *d = readyDriver(error);
  if (!d)
    return false;
  CUresult result = d->cuStreamSynchronize(static_cast<CUstream>(stream));
  if (result != CUDA_SUCCESS) {
    error = cudaErrorText(*d, result, "cuStreamSynchronize");
    return false;
  }
  return true;
}

} // namespace attnc::runtime
