// Compiles the forward template the way the runtime does (NVRTC, source = KernelArgs.h +
// hooks + macros + #include "forward_sm80.cuh"), for every head dim and dtype, for the given
// architectures. Needs no GPU. Prints one line per compile and the ptxas resource report.
//
//   g++ -std=c++17 nvrtc_check.cpp -I/usr/local/cuda/include -L/usr/local/cuda/lib64 -lnvrtc
//   ./nvrtc_check <repo root> <hooks file> [arch ...]      (archs default: sm_80 sm_90a)
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nvrtc.h>

static std::string readFile(const std::string &path) {
  std::ifstream in(path);
  if (!in) {
    std::fprintf(stderr, "cannot read %s\n", path.c_str());
    std::exit(2);
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

int main(int argc, char **argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s <repo root> <hooks file> [arch ...]\n", argv[0]);
    return 2;
  }
  const std::string root = argv[1], hooksPath = argv[2];
  std::vector<std::string> archs;
  for (int i = 3; i < argc; ++i)
    archs.push_back(argv[i]);
  if (archs.empty())
    archs = {"sm_80", "sm_90a"};
  const std::string contract = readFile(root + "/runtime/include/attnc/runtime/KernelArgs.h");
  const std::string hooks = readFile(hooksPath);
  const std::string hooksDir = hooksPath.substr(0, hooksPath.find_last_of('/'));
  int failures = 0;
  for (const std::string &arch : archs)
    for (int d : {64, 128, 256})
      for (const char *dt : {"BF16", "F16"}) {
        std::string src = contract + "\n" + hooks + "\n#define ATTNC_HEAD_DIM " +
                          std::to_string(d) + "\n#define ATTNC_DTYPE_" + dt +
                          " 1\n#include \"forward_sm80.cuh\"\n";
        nvrtcProgram prog;
        nvrtcCreateProgram(&prog, src.c_str(), "attnc_kernel.cu", 0, nullptr, nullptr);
        std::string archOpt = "--gpu-architecture=" + arch;
        std::string inc1 = "-I" + root + "/runtime/kernels", inc2 = "-I" + hooksDir;
        const char *opts[] = {archOpt.c_str(), "-std=c++17", inc1.c_str(), inc2.c_str(),
                              "--ptxas-options=-v"};
        nvrtcResult res = nvrtcCompileProgram(prog, 5, opts);
        size_t logSize = 0;
        nvrtcGetProgramLogSize(prog, &logSize);
        std::string log(logSize, '\0');
        nvrtcGetProgramLog(prog, &log[0]);
        size_t cubinSize = 0;
        if (res == NVRTC_SUCCESS)
          nvrtcGetCUBINSize(prog, &cubinSize);
        std::printf("NVRTC %s d=%d %s: %s cubin=%zu bytes\n", arch.c_str(), d, dt,
                    nvrtcGetErrorString(res), cubinSize);
        // Keep only the resource lines of the log, or all of it on failure.
        std::istringstream lines(log);
        for (std::string line; std::getline(lines, line);)
          if (res != NVRTC_SUCCESS || line.find("registers") != std::string::npos ||
              line.find("spill") != std::string::npos || line.find("warning") != std::string::npos)
            std::printf("  %s\n", line.c_str());
        failures += res == NVRTC_SUCCESS ? 0 : 1;
        nvrtcDestroyProgram(&prog);
      }
  std::printf("NVRTC failures: %d\n", failures);
  return failures == 0 ? 0 : 1;
}
