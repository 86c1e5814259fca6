//===- Nvrtc.h - Run-time CUDA compilation with NVRTC ------------*- C++ -*-===//
//
// Compiles CUDA C++ source to a cubin (or PTX) for one GPU architecture. Works without
// a GPU or driver: only libnvrtc (opened with dlopen on first use) and the CUDA headers are
// needed. The headers
// (cuda_bf16.h, cuda_fp16.h, ...) are found at run time in $CUDA_HOME/include, else
// $CUDA_PATH/include, else /usr/local/cuda/include, else the toolkit attnc was built with.
//
//===----------------------------------------------------------------------===//
#ifndef ATTNC_RUNTIME_NVRTC_H
#define ATTNC_RUNTIME_NVRTC_H

#include <string>
#include <vector>

namespace attnc::runtime {

/// A header made available to `#include "name"` inside the compiled source.
struct NvrtcHeader {
  std::string name;
  std::string text;
};

enum class NvrtcOutput { Cubin, Ptx };

struct NvrtcResult {
  bool ok = false;
  std::string binary;               ///< the cubin or the PTX text
  std::string log;                  ///< NVRTC's log (warnings and errors)
  std::string error;                ///< why it failed (empty when ok)
  std::vector<std::string> options; ///< the options passed to NVRTC
  double milliseconds = 0;
};

/// "13.0": the version of the NVRTC library loaded ("unknown" when none could be).
std::string nvrtcVersionString();

/// Empty when libnvrtc is loaded (dlopen on first use); else why not, naming the places
/// searched: ATTNC_NVRTC_LIBRARY alone when set, else the soname through the dynamic loader,
/// then lib64 under CUDA_HOME, CUDA_PATH, /usr/local/cuda and the build's toolkit.
std::string nvrtcLoadError();

/// Finds the CUDA include directory (it must hold cuda_bf16.h); false with a clear
/// message naming the places searched when none is found.
bool findCudaIncludeDirectory(std::string &directory, std::string &error);

/// True for the architectures the kernels support: "sm_80", "sm_86", "sm_89", "sm_90",
/// "sm_90a", and later "sm_1xx"/"sm_1xxa" names.
bool isValidArch(const std::string &arch);

/// Compiles `source` for `arch` (e.g. "sm_90a") with -std=c++17 and -default-device,
/// plus `extraOptions` (e.g. "-DNAME=1").
NvrtcResult compileCuda(const std::string &source, const std::string &programName,
                        const std::string &arch, NvrtcOutput output,
                        const std::vector<std::string> &extraOptions = {},
                        const std::vector<NvrtcHeader> &headers = {});

/// Shorthand: a cubin for `arch`. Needs no GPU.
NvrtcResult compileToCubin(const std::string &source, const std::string &arch);

} // namespace attnc::runtime

#endif // ATTNC_RUNTIME_NVRTC_H
