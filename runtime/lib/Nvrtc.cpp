//===- Nvrtc.cpp - Run-time CUDA compilation ------------------------------===//
#include "attnc/runtime/Nvrtc.h"

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <regex>

#include <nvrtc.h>

namespace fs = std::filesystem;

namespace attnc::runtime {

namespace {
std::string nvrtcError(const char *what, nvrtcResult result) {
  return std::string(what) + " failed: " + nvrtcGetErrorString(result);
}
} // namespace

std::string nvrtcVersionString() {
  int major = 0, minor = 0;
  if (::nvrtcVersion(&major, &minor) != NVRTC_SUCCESS)
    return "unknown";
  return std::to_string(major) + "." + std::to_string(minor);
}

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
      nvrtcCreateProgram(&program, source.c_str(), programName.c_str(), int(headers.size()),
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

  status = nvrtcCompileProgram(program, int(optionPointers.size()), optionPointers.data());
  size_t logSize = 0;
  if (nvrtcGetProgramLogSize(program, &logSize) == NVRTC_SUCCESS && logSize > 1) {
    result.log.resize(logSize);
    nvrtcGetProgramLog(program, result.log.data());
    result.log.resize(logSize - 1); // drop the terminating NUL
  }
  if (status != NVRTC_SUCCESS) {
    result.error = "NVRTC compilation for " + arch + " failed: " + nvrtcGetErrorString(status);
    if (!haveIncludes)
      result.error += " (note: " + includeError + ")";
    nvrtcDestroyProgram(&program);
    return result;
  }
  size_t size = 0;
  if (output == NvrtcOutput::Cubin) {
    status = nvrtcGetCUBINSize(program, &size);
    if (status == NVRTC_SUCCESS) {
      result.binary.resize(size);
      status = nvrtcGetCUBIN(program, result.binary.data());
    }
  } else {
    status = nvrtcGetPTXSize(program, &size);
    if (status == NVRTC_SUCCESS) {
      result.binary.resize(size);
      status = nvrtcGetPTX(program, result.binary.data());
      if (!result.binary.empty() && result.binary.back() == '\0')
        result.binary.pop_back();
    }
  }
  nvrtcDestroyProgram(&program);
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
