//===- Device.h - The CUDA driver, loaded at run time -------------*- C++ -*-===//
//
// libcuda.so.1 is opened with dlopen at first use, never linked, so attnc starts on
// machines without a driver and reports that clearly; everything else (parsing,
// NVRTC compilation, the CPU reference) works there. All work uses the device's
// primary context, the one the CUDA runtime and PyTorch use, so pointers and streams
// from those interoperate.
//
//===----------------------------------------------------------------------===//
#ifndef ATTNC_RUNTIME_DEVICE_H
#define ATTNC_RUNTIME_DEVICE_H

#include <cstddef>
#include <string>

namespace attnc::runtime {

struct DeviceInfo {
  int ordinal = 0;
  std::string name;
  int computeMajor = 0;
  int computeMinor = 0;
  int multiprocessors = 0;
  int maxSharedMemoryPerBlockOptin = 0; ///< bytes of dynamic shared memory a block may opt into
  /// "sm_80", "sm_90a" (sm_90 devices get the arch-specific "a" variant), ...
  std::string arch() const;
};

/// Loads the driver (once) and makes a context current on the calling thread: the
/// current one if there is one (e.g. set by PyTorch), else the primary context of
/// device `ordinal`. Returns false and sets `error` ("no CUDA driver found
/// (libcuda.so.1): ..." or the driver's message).
bool ensureDeviceContext(int ordinal, std::string &error);

/// True when libcuda.so.1 can be loaded and reports at least one device; `error` says
/// why not otherwise. Never throws or aborts.
bool deviceAvailable(std::string &error);

/// Information about the device of the current context (after ensureDeviceContext).
bool currentDeviceInfo(DeviceInfo &info, std::string &error);

/// Small helpers over the driver for tests, tools and the C ABI.
bool deviceAlloc(void **pointer, size_t bytes, std::string &error);
bool deviceFree(void *pointer, std::string &error);
bool copyToDevice(void *device, const void *host, size_t bytes, std::string &error);
bool copyToHost(void *host, const void *device, size_t bytes, std::string &error);
/// Fills `bytes` of device memory with the byte `value`.
bool deviceMemset(void *device, unsigned char value, size_t bytes, std::string &error);
/// Waits for a stream (null: the legacy default stream) to finish.
bool streamSynchronize(void *stream, std::string &error);

} // namespace attnc::runtime

#endif // ATTNC_RUNTIME_DEVICE_H
