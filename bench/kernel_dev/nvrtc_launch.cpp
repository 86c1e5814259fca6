// End-to-end check of the runtime path: builds the kernel source exactly as the runtime will
// (KernelArgs.h + hooks/causal.cuh + macros + #include "forward_sm80.cuh"), compiles it with
// NVRTC for the device's architecture, loads it with the driver API, finds the entry and its
// _config table by name, launches it on a causal problem with q_len != kv_len, and checks O
// and LSE against a float64 CPU reference of causal attention on sampled rows. Then times it.
//
//   g++ -std=c++17 nvrtc_launch.cpp -I$CUDA/include -L$CUDA/lib64 -lnvrtc -lcuda
//   ./nvrtc_launch <repo root> [d=128] [f16]
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <cuda.h>
#include <nvrtc.h>

#include "attnc/runtime/KernelArgs.h"
#include "attnc_forward_params.h"

#define CU(call)                                                                                   \
  do {                                                                                             \
    CUresult r_ = (call);                                                                          \
    if (r_ != CUDA_SUCCESS) {                                                                      \
      const char *msg = nullptr;                                                                   \
      cuGetErrorString(r_, &msg);                                                                  \
      std::fprintf(stderr, "driver error %d (%s) at %s:%d\n", (int)r_, msg ? msg : "?", __FILE__,  \
                   __LINE__);                                                                      \
      std::exit(2);                                                                                \
    }                                                                                              \
  } while (0)

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

static unsigned short toBits(float v, bool f16) {
  if (!f16) {
    unsigned u;
    std::memcpy(&u, &v, 4);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (unsigned short)(u >> 16);
  }
  // fp16 round to nearest even; inputs here are normal and |v| < 1.
  int e;
  float m = std::frexp(std::fabs(v), &e); // v = m * 2^e, m in [0.5, 1)
  int exp = e - 1 + 15;
  long mant = std::lrint((m * 2 - 1) * 1024.0);
  if (mant == 1024) {
    mant = 0;
    ++exp;
  }
  return (unsigned short)((v < 0 ? 0x8000 : 0) | (exp << 10) | mant);
}
static double fromBits(unsigned short b, bool f16) {
  if (!f16) {
    unsigned u = (unsigned)b << 16;
    float f;
    std::memcpy(&f, &u, 4);
    return f;
  }
  int sign = b >> 15, exp = (b >> 10) & 31, man = b & 1023;
  double v = exp == 0 ? std::ldexp((double)man, -24) : std::ldexp(1.0 + man / 1024.0, exp - 15);
  return sign ? -v : v;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s <repo root> [d] [f16]\n", argv[0]);
    return 2;
  }
  const std::string root = argv[1];
  const int D = argc > 2 ? std::atoi(argv[2]) : 128;
  const bool f16 = argc > 3 && std::string(argv[3]) == "f16";
  const char *dt = f16 ? "f16" : "bf16";

  CU(cuInit(0));
  CUdevice dev;
  CU(cuDeviceGet(&dev, 0));
  int major = 0, minor = 0;
  CU(cuDeviceGetAttribute(&major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, dev));
  CU(cuDeviceGetAttribute(&minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, dev));
  CUcontext ctx;
  CU(cuDevicePrimaryCtxRetain(&ctx, dev));
  CU(cuCtxSetCurrent(ctx));

  // ---- source and NVRTC ----
  std::string src =
      readFile(root + "/runtime/include/attnc/runtime/KernelArgs.h") + "\n" +
      readFile(root + "/bench/kernel_dev/hooks/causal_common.cuh") + "\n" +
      "#define ATTNC_HAS_SCORE 0\n#define ATTNC_HAS_OUT 0\n#define ATTNC_HAS_ROUTE 0\n"
      "#define ATTNC_MASK_ALWAYS_TRUE 0\n#define ATTNC_HAS_SUMMARIES 0\n"
      "static __device__ __forceinline__ float attnc_score(const AttncArgs &, "
      "float s, int, int, int, int) { return s; }\n"
      "static __device__ __forceinline__ float attnc_out(const AttncArgs &, "
      "float o, int, int, int, int) { return o; }\n"
      "#define ATTNC_HEAD_DIM " +
      std::to_string(D) + "\n#define ATTNC_DTYPE_" + (f16 ? "F16" : "BF16") +
      " 1\n#include \"forward_sm80.cuh\"\n";
  const std::string arch =
      "--gpu-architecture=sm_" + std::to_string(major * 10 + minor) + (major == 9 ? "a" : "");
  const std::string inc = "-I" + root + "/runtime/kernels";
  const char *opts[] = {arch.c_str(), "-std=c++17", inc.c_str()};
  nvrtcProgram prog;
  nvrtcCreateProgram(&prog, src.c_str(), "attnc_kernel.cu", 0, nullptr, nullptr);
  nvrtcResult res = nvrtcCompileProgram(prog, 3, opts);
  if (res != NVRTC_SUCCESS) {
    size_t n;
    nvrtcGetProgramLogSize(prog, &n);
    std::string log(n, '\0');
    nvrtcGetProgramLog(prog, &log[0]);
    std::fprintf(stderr, "NVRTC failed: %s\n%s\n", nvrtcGetErrorString(res), log.c_str());
    return 1;
  }
  size_t cubinSize;
  nvrtcGetCUBINSize(prog, &cubinSize);
  std::vector<char> cubin(cubinSize);
  nvrtcGetCUBIN(prog, cubin.data());
  nvrtcDestroyProgram(&prog);

  CUmodule mod;
  CU(cuModuleLoadData(&mod, cubin.data()));
  const std::string name = "attnc_forward_sm80_d" + std::to_string(D) + "_" + dt;
  CUfunction fn;
  CU(cuModuleGetFunction(&fn, mod, name.c_str()));
  CUdeviceptr cfgPtr;
  size_t cfgBytes;
  CU(cuModuleGetGlobal(&cfgPtr, &cfgBytes, mod, (name + "_config").c_str()));
  int cfg[6];
  CU(cuMemcpyDtoH(cfg, cfgPtr, sizeof(cfg)));
  CU(cuFuncSetAttribute(fn, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, cfg[4]));

  // ---- problem: causal, q_len != kv_len, GQA, BSHD layout ----
  const int B = 2, H = 4, KVH = 2, QL = 1000, KL = 1500;
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> uni(0.0625f, 1.f);
  auto fill = [&](std::vector<unsigned short> &v) {
    for (auto &x : v)
      x = toBits((rng() & 1) ? -uni(rng) : uni(rng), f16);
  };
  std::vector<unsigned short> hq((size_t)B * QL * H * D), hk((size_t)B * KL * KVH * D),
      hv(hk.size()), ho(hq.size(), 0xFFFF);
  fill(hq);
  fill(hk);
  fill(hv);
  std::vector<float> hl((size_t)B * H * QL, NAN);
  CUdeviceptr dq, dk, dv, dO, dl;
  CU(cuMemAlloc(&dq, hq.size() * 2));
  CU(cuMemAlloc(&dk, hk.size() * 2));
  CU(cuMemAlloc(&dv, hv.size() * 2));
  CU(cuMemAlloc(&dO, ho.size() * 2));
  CU(cuMemAlloc(&dl, hl.size() * 4));
  CU(cuMemcpyHtoD(dq, hq.data(), hq.size() * 2));
  CU(cuMemcpyHtoD(dk, hk.data(), hk.size() * 2));
  CU(cuMemcpyHtoD(dv, hv.data(), hv.size() * 2));
  CU(cuMemcpyHtoD(dO, ho.data(), ho.size() * 2)); // NaN poison
  CU(cuMemcpyHtoD(dl, hl.data(), hl.size() * 4));

  AttncForwardParams p;
  std::memset(&p, 0, sizeof(p));
  p.q = (const void *)dq;
  p.k = (const void *)dk;
  p.v = (const void *)dv;
  p.o = (void *)dO;
  p.lse = (float *)dl;
  const long long qs[3] = {(long long)QL * H * D, D, (long long)H * D}; // BSHD
  const long long ks[3] = {(long long)KL * KVH * D, D, (long long)KVH * D};
  for (int i = 0; i < 3; ++i) {
    p.q_stride[i] = qs[i];
    p.o_stride[i] = qs[i];
    p.k_stride[i] = ks[i];
    p.v_stride[i] = ks[i];
  }
  p.lse_stride[0] = (long long)H * QL;
  p.lse_stride[1] = QL;
  AttncArgs a;
  std::memset(&a, 0, sizeof(a));
  a.batch = B;
  a.heads = H;
  a.kv_heads = KVH;
  a.q_len = QL;
  a.kv_len = KL;
  a.head_dim = D;
  a.scale = (float)(1.0 / std::sqrt((double)D));
  void *params[] = {&p, &a};
  const unsigned gridX = (QL + cfg[0] - 1) / cfg[0];
  CU(cuLaunchKernel(fn, gridX, H, B, cfg[2], 1, 1, cfg[4], nullptr, params, nullptr));
  CU(cuCtxSynchronize());
  CU(cuMemcpyDtoH(ho.data(), dO, ho.size() * 2));
  CU(cuMemcpyDtoH(hl.data(), dl, hl.size() * 4));

  // ---- float64 reference on sampled rows ----
  long long nanCount = 0;
  for (unsigned short x : ho)
    nanCount += std::isnan(fromBits(x, f16)) ? 1 : 0;
  double errSq = 0, refSq = 0, maxAbs = 0, lseErr = 0;
  for (int b = 0; b < B; ++b)
    for (int h = 0; h < H; ++h)
      for (int q = 0; q < QL; q += 37) {
        const int kvh = h / (H / KVH);
        std::vector<double> s(KL);
        double mx = -INFINITY;
        for (int k = 0; k < KL; ++k) {
          s[k] = -INFINITY;
          if (q + (KL - QL) < k)
            continue;
          double dot = 0;
          for (int c = 0; c < D; ++c)
            dot += fromBits(hq[(size_t)b * qs[0] + h * qs[1] + q * qs[2] + c], f16) *
                   fromBits(hk[(size_t)b * ks[0] + kvh * ks[1] + k * ks[2] + c], f16);
          s[k] = dot * a.scale;
          mx = std::max(mx, s[k]);
        }
        double sum = 0;
        for (int k = 0; k < KL; ++k)
          sum += s[k] == -INFINITY ? 0 : std::exp(s[k] - mx);
        lseErr =
            std::max(lseErr, std::fabs(hl[((size_t)b * H + h) * QL + q] - (mx + std::log(sum))));
        for (int c = 0; c < D; ++c) {
          double o = 0;
          for (int k = 0; k < KL; ++k)
            if (s[k] != -INFINITY)
              o += std::exp(s[k] - mx) / sum *
                   fromBits(hv[(size_t)b * ks[0] + kvh * ks[1] + k * ks[2] + c], f16);
          const double got = fromBits(ho[(size_t)b * qs[0] + h * qs[1] + q * qs[2] + c], f16);
          errSq += (got - o) * (got - o);
          refSq += o * o;
          maxAbs = std::max(maxAbs, std::fabs(got - o));
        }
      }
  const double rel = std::sqrt(errSq / refSq);
  const bool pass = nanCount == 0 && rel < (f16 ? 4e-3 : 1.6e-2) && lseErr < 2e-3;

  // ---- timing of the NVRTC-built kernel on the same small problem ----
  CUevent e0, e1;
  CU(cuEventCreate(&e0, 0));
  CU(cuEventCreate(&e1, 0));
  for (int i = 0; i < 3; ++i)
    CU(cuLaunchKernel(fn, gridX, H, B, cfg[2], 1, 1, cfg[4], nullptr, params, nullptr));
  std::vector<float> ms;
  for (int i = 0; i < 20; ++i) {
    CU(cuEventRecord(e0, nullptr));
    CU(cuLaunchKernel(fn, gridX, H, B, cfg[2], 1, 1, cfg[4], nullptr, params, nullptr));
    CU(cuEventRecord(e1, nullptr));
    CU(cuEventSynchronize(e1));
    float t;
    CU(cuEventElapsedTime(&t, e0, e1));
    ms.push_back(t);
  }
  std::sort(ms.begin(), ms.end());
  std::printf("NVRTC_LAUNCH %s entry=%s config={%d,%d,%d,%d,%d,%d} cubin=%zu B unwritten=%lld "
              "max_abs=%.3e rel_l2=%.3e lse_max_err=%.3e median_ms=%.4f %s\n",
              arch.c_str(), name.c_str(), cfg[0], cfg[1], cfg[2], cfg[3], cfg[4], cfg[5], cubinSize,
              nanCount, maxAbs, rel, lseErr, ms[ms.size() / 2], pass ? "PASS" : "FAIL");
  return pass ? 0 : 1;
}
