//===- Nvrtc.cpp - Run-time CUDA compilation ------------------------------===//
#include "attnc/runtime/Nvrtc.h"

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <regex>

#include <dlfcn.h>
#include <nvrtc.h>

namespace fs = std::filesystem;

namespace attnc::runtime {

namespace {
/// libnvrtc, opened with dlopen on first use: libattnc then loads without a CUDA toolkit
/// (the CPU reference needs none), and NVRTC may come from the toolkit or from the
/// nvidia-cuda-nvrtc wheel that PyTorch installs (the Python package preloads it).
struct NvrtcApi {
  decltype(&::nvrtcVersion) version = nullptr;
  decltype(&::nvrtcGetErrorString) errorString = nullptr;
  decltype(&::nvrtcCreateProgram) createProgram = nullptr;
  decltype(&::nvrtcCompileProgram) compileProgram = nullptr;
  decltype(&::nvrtcDestroyProgram) destroyProgram = nullptr;
  decltype(&::nvrtcGetProgramLogSize) programLogSize = nullptr;
  decltype(&::nvrtcGetProgramLog) programLog = nullptr;
  decltype(&::nvrtcGetCUBINSize) cubinSize = nullptr;
  decltype(&::nvrtcGetCUBIN) cubin = nullptr;
  decltype(&::nvrtcGetPTXSize) ptxSize = nullptr;
  decltype(&::nvrtcGetPTX) ptx = nullptr;
  std::string error; ///< why it is not loaded (empty when it is)
};

/// The places searched, in order: ATTNC_NVRTC_LIBRARY alone when set; else the soname
/// through the dynamic loader (LD_LIBRARY_PATH, a library already loaded, the ld cache), then
/// the toolkit's lib64 under CUDA_HOME, CUDA_PATH, /usr/local/cuda and the one attnc was built
/// with.
std::vector<std::string> nvrtcCandidates() {
  const std::string soname = ATTNC_NVRTC_SONAME;
  if (const char *path = std::getenv("ATTNC_NVRTC_LIBRARY"); path && *path)
    return {path};
  std::vector<std::string> candidates = {soname};
  for (const char *variable : {"CUDA_HOME", "CUDA_PATH"})
    if (const char *value = std::getenv(variable); value && *value)
      candidates.push_back(std::string(value) + "/lib64/" + soname);
  candidates.push_back("/usr/local/cuda/lib64/" + soname);
#ifdef ATTNC_CUDA_LIBRARY_FALLBACK
  candidates.push_back(std::string(ATTNC_CUDA_LIBRARY_FALLBACK) + "/" + soname);
#endif
  return candidates;
}

const NvrtcApi &nvrtc() {
  static NvrtcApi api;
  static std::once_flag once;
  std::call_once(once, [] {
    void *library = nullptr;
    std::string tried;
    for (const std::string &candidate : nvrtcCandidates()) {
      library = dlopen(candidate.c_str(), RTLD_NOW | RTLD_LOCAL);
      if (library)
        break;
      tried += (tried.empty() ? "" : ", ") + candidate;
    }
    if (!library) {
      api.error = std::string("NVRTC (") + ATTNC_NVRTC_SONAME + ") not found; tried " + tried +
                  ". Install the CUDA toolkit or the nvidia-cuda-nvrtc wheel (Python's attnc "
                  "loads it from there), or set ATTNC_NVRTC_LIBRARY to the library's path";
      return;
    }
    bool complete = true;
    const auto bind = [&](auto &function, const char *name) {
      function =
          reinterpret_cast<std::remove_reference_t<decltype(function)>>(dlsym(library, name));
      complete = complete && function != nullptr;
    };
    bind(api.version, "nvrtcVersion");
    bind(api.errorString, "nvrtcGetErrorString");
    bind(api.createProgram, "nvrtcCreateProgram");
    bind(api.compileProgram, "nvrtcCompileProgram");
    bind(api.destroyProgram, "nvrtcDestroyProgram");
    bind(api.programLogSize, "nvrtcGetProgramLogSize");
    bind(api.programLog, "nvrtcGetProgramLog");
    bind(api.cubinSize, "nvrtcGetCUBINSize");
    bind(api.cubin, "nvrtcGetCUBIN");
    bind(api.ptxSize, "nvrtcGetPTXSize");
    bind(api.ptx, "nvrtcGetPTX");
    if (!complete)
      api.error = "the NVRTC library found lacks the functions attnc calls (an NVRTC older than "
                  "the CUDA attnc was built with?)";
  });
  return api;
}

std::string nvrtcError(const char *what, nvrtcResult result) {
  return std::string(what) + " failed: " + nvrtc().errorString(result);
}
} // namespace

std::string nvrtcVersionString() {
  int major = 0, minor = 0;
  if (!nvrtc().error.empty() || nvrtc().version(&major, &minor) != NVRTC_SUCCESS)
    return "unknown";
  return std::to_string(major) + "." + std::to_string(minor);
}

std::string nvrtcLoadError() { return nvrtc().error; }

bool findCudaIncludeDirectory(std::string &directory, std::string &error) {
  std::vector<std::string> candidates;
  for (const char *variable : {"CUDA_HOME", "CUDA_PATH"})
    if (const char *value = std::getenv(variable); value && *value)
      candidates.push_back(std::string(value) + "/include");
  candidates.push_back("/usr/local/cuda/include");
#ifdef ATTNC_CUDA_INCLUDE_FALLBACK
  candidates.push_back(ATTNC_CUDA_INCLUDE_FALLBACK);
#endif
  std::string searched;
  for (const auto &candidate : candidates) {
    std::error_code ec;
    if (fs::exists(candidate + "/cuda_bf16.h", ec)) {
      directory = candidate;
      return true;
    }
    searched += (searched.empty() ? "" : ", ") + candidate;
  }
  error = "CUDA headers not found (cuda_bf16.h is needed by NVRTC); searched " + searched +
          "; set CUDA_HOME to the CUDA toolkit";
  return false;
}

bool isValidArch(const std::string &arch) {
  static const std::regex pattern("sm_(8[0-9]|9[0-9]|1[0-9][0-9])a?");
  return std::regex_match(arch, pattern);
}

NvrtcResult compileCuda(const std::string &source, const std::string &programName,
                        const std::string &arch, NvrtcOutput output,
                        const std::vector<std::string> &extraOptions,
                        const std::vector<NvrtcHeader> &headers) {
  NvrtcResult result;
  if (!isValidArch(arch)) {
    result.error =
        "unsupported GPU architecture '" + arch + "' (expected sm_80 or newer, e.g. sm_80, sm_90a)";
    return result;
  }
  const NvrtcApi &api = nvrtc();
  if (!api.error.empty()) {
    result.error = api.error;
    return result;
  }
  // The kernel templates need no CUDA header, so a missing toolkit is reported only if
  // the compilation then fails (user code may include cuda_bf16.h).
  std::string includeDirectory, includeError;
  bool haveIncludes = findCudaIncludeDirectory(includeDirectory, includeError);

  auto start = std::chrono::steady_clock::now();
  std::vector<const char *> headerTexts, headerNames;
  for (const auto &header : headers) {
    headerTexts.push_back(header.text.c_str());
    headerNames.push_back(header.name.c_str());
  }
  nvrtcProgram program = nullptr;
  nvrtcResult status =
      api.createProgram(&program, source.c_str(), programName.c_str(), int(headers.size()),
                        headers.empty() ? nullptr : headerTexts.data(),
                        headers.empty() ? nullptr : headerNames.data());
  if (status != NVRTC_SUCCESS) {
    result.error = nvrtcError("nvrtcCreateProgram", status);
    return result;
  }
  // PTX targets the virtual architecture; a cubin needs the real one.
  std::string archOption = output == NvrtcOutput::Cubin
                               ? "--gpu-architecture=" + arch
                               : "--gpu-architecture=compute_" + arch.substr(3);
  result.options = {"-std=c++17", archOption, "-default-device"};
  if (haveIncludes)
    result.options.push_back("-I" + includeDirectory);
  for (const auto &option : extraOptions)
    result.options.push_back(option);
  std::vector<const char *> optionPointers;
  for (const auto &option : result.options)
    optionPointers.push_back(option.c_str());

  status = api.compileProgram(program, int(optionPointers.size()), optionPointers.data());
  size_t logSize = 0;
  if (api.programLogSize(program, &logSize) == NVRTC_SUCCESS && logSize > 1) {
    result.log.resize(logSize);
    api.programLog(program, result.log.data());
    result.log.resize(logSize - 1); // drop the terminating NUL
  }
  if (status != NVRTC_SUCCESS) {
    result.error = "NVRTC compilation for " + arch + " failed: " + api.errorString(status);
    if (!haveIncludes)
      result.error += " (note: " + includeError + ")";
    api.destroyProgram(&program);
    return result;
  }
  size_t size = 0;
  if (output == NvrtcOutput::Cubin) {
    status = api.cubinSize(program, &size);
    if (status == NVRTC_SUCCESS) {
      result.binary.resize(size);
      status = api.cubin(program, result.binary.data());
    }
  } else {
    status = api.ptxSize(program, &size);
    if (status == NVRTC_SUCCESS) {
      result.binary.resize(size);
      status = api.ptx(program, result.binary.data());
      if (!result.binary.empty() && result.binary.back() == '\0')
        result.binary.pop_back();
    }
  }
  api.destroyProgram(&program);
  if (status != NVRTC_SUCCESS) {
    result.error = nvrtcError("retrieving the compiled code", status);
    return result;
  }
  result.ok = true;
  result.milliseconds =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  return result;
}

NvrtcResult compileToCubin(const std::string &source, const std::string &arch) {
  return compileCuda(source, "attnc_kernel.cu", arch, NvrtcOutput::Cubin);
}

} // namespace attnc::runtime
