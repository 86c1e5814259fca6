// Development harness for runtime/kernels/forward_sm80.cuh (nvcc, on the GPU machine).
//
// Built once per hand-written hook set: nvcc -DATTNC_HOOKS=\"hooks/causal.cuh\" ...
// Usage (key=value arguments, any order):
//   harness mode=check|bench b=2 h=4 kvh=2 ql=127 kl=300 d=128 dt=bf16|f16
//           layout=bhsd|bshd|pad cfg=default|<name> seed=1 p0=.. p1=.. f0=.. rows=N reps=30
// check: fresh random inputs, poisoned O/LSE, one launch, a float64 GPU reference over every
// row (or `rows` sampled rows), reports max abs / relative L2 error of O and LSE, exact
// checks of empty rows, and that every O/LSE element was written.
// bench: the same check on sampled rows, then the median of `reps` timed launches
// (CUDA events, after warm-up), TFLOP/s (dense-equivalent 4*D*N*N*B*H and useful = kept
// pairs).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include "attnc/runtime/KernelArgs.h"

#ifndef ATTNC_HOOKS
#error "compile with -DATTNC_HOOKS=\"hooks/<name>.cuh\""
#endif
#include ATTNC_HOOKS

#define ATTNC_NO_DEFAULT_ENTRY 1
#include "forward_sm80.cuh"

// Default configurations (must match forward_sm80.cuh's defaults) and tuning variants.
ATTNC_DEFINE_FORWARD_KERNEL(fwd_d64_bf16, 64, BF16, 128, 64, 4, 2, 2, false)
ATTNC_DEFINE_FORWARD_KERNEL(fwd_d128_bf16, 128, BF16, 128, 64, 4, 2, 2, false)
ATTNC_DEFINE_FORWARD_KERNEL(fwd_d256_bf16, 256, BF16, 128, 64, 8, 2, 1, false)
ATTNC_DEFINE_FORWARD_KERNEL(fwd_d64_f16, 64, F16, 128, 64, 4, 2, 2, false)
ATTNC_DEFINE_FORWARD_KERNEL(fwd_d128_f16, 128, F16, 128, 64, 4, 2, 2, false)
ATTNC_DEFINE_FORWARD_KERNEL(fwd_d256_f16, 256, F16, 128, 64, 8, 2, 1, false)
#ifdef ATTNC_TUNING
ATTNC_DEFINE_FORWARD_KERNEL(fwd_d128_bf16_m64n64w4s2, 128, BF16, 64, 64, 4, 2, 2, false)
ATTNC_DEFINE_FORWARD_KERNEL(fwd_d128_bf16_m64n32w4s2b3, 128, BF16, 64, 32, 4, 2, 3, false)
ATTNC_DEFINE_FORWARD_KERNEL(fwd_d128_bf16_m128n32w4s3p, 128, BF16, 128, 32, 4, 3, 2, true)
ATTNC_DEFINE_FORWARD_KERNEL(fwd_d128_bf16_m128n64w8s3p, 128, BF16, 128, 64, 8, 3, 1, true)
ATTNC_DEFINE_FORWARD_KERNEL(fwd_d128_bf16_m64n64w4s3p, 128, BF16, 64, 64, 4, 3, 2, true)
ATTNC_DEFINE_FORWARD_KERNEL(fwd_d64_bf16_m128n128w4s2, 64, BF16, 128, 128, 4, 2, 2, false)
// The D=256 defaults for 163 KB (sm_80) and 99 KB (sm_86/89) parts.
ATTNC_DEFINE_FORWARD_KERNEL(fwd_d256_bf16_m64n64w4s2, 256, BF16, 64, 64, 4, 2, 1, false)
ATTNC_DEFINE_FORWARD_KERNEL(fwd_d256_bf16_m64n32w4s2, 256, BF16, 64, 32, 4, 2, 1, false)
#endif

typedef void (*KernelFn)(const AttncForwardParams, const AttncArgs);
struct KernelEntry {
  const char *name;
  int d;
  bool f16;
  const char *cfg;
  KernelFn fn;
  const int *configSymbol;
};
#define ENTRY(NAME, D, F16, CFG)                                                                   \
  { #NAME, D, F16, CFG, NAME, NAME##_config }
static const KernelEntry kKernels[] = {
    ENTRY(fwd_d64_bf16, 64, false, "default"),
    ENTRY(fwd_d128_bf16, 128, false, "default"),
    ENTRY(fwd_d256_bf16, 256, false, "default"),
    ENTRY(fwd_d64_f16, 64, true, "default"),
    ENTRY(fwd_d128_f16, 128, true, "default"),
    ENTRY(fwd_d256_f16, 256, true, "default"),
#ifdef ATTNC_TUNING
    ENTRY(fwd_d128_bf16_m64n64w4s2, 128, false, "m64n64w4s2"),
    ENTRY(fwd_d128_bf16_m64n32w4s2b3, 128, false, "m64n32w4s2b3"),
    ENTRY(fwd_d128_bf16_m128n32w4s3p, 128, false, "m128n32w4s3p"),
    ENTRY(fwd_d128_bf16_m128n64w8s3p, 128, false, "m128n64w8s3p"),
    ENTRY(fwd_d128_bf16_m64n64w4s3p, 128, false, "m64n64w4s3p"),
    ENTRY(fwd_d64_bf16_m128n128w4s2, 64, false, "m128n128w4s2"),
    ENTRY(fwd_d256_bf16_m64n64w4s2, 256, false, "m64n64w4s2"),
    ENTRY(fwd_d256_bf16_m64n32w4s2, 256, false, "m64n32w4s2"),
#endif
};

#define CHECK(call)                                                                                \
  do {                                                                                             \
    cudaError_t err_ = (call);                                                                     \
    if (err_ != cudaSuccess) {                                                                     \
      std::fprintf(stderr, "CUDA error %s at %s:%d: %s\n", cudaGetErrorName(err_), __FILE__,       \
                   __LINE__, cudaGetErrorString(err_));                                            \
      std::exit(2);                                                                                \
    }                                                                                              \
  } while (0)

//===-- Device helpers ----------------------------------------------------===//

__device__ __forceinline__ float loadElem(const unsigned short *p, long long i, bool f16) {
  unsigned short bits = p[i];
  if (f16)
    return __half2float(*reinterpret_cast<__half *>(&bits));
  return __uint_as_float(static_cast<unsigned>(bits) << 16);
}

/// Random 16-bit values with |x| in [1/16, 1): never zero, fresh per seed.
__global__ void fillRandom(unsigned short *p, long long n, unsigned seed, bool f16) {
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
       i += (long long)gridDim.x * blockDim.x) {
    unsigned x = (unsigned)i * 0x9E3779B1u ^ (unsigned)(i >> 32) * 0x85EBCA77u ^ seed * 0xC2B2AE3Du;
    x ^= x >> 15;
    x *= 0x2C1B3C6Du;
    x ^= x >> 12;
    x *= 0x297A2D39u;
    x ^= x >> 15;
    float mag = 0.0625f + 0.9375f * (float)(x >> 8) * (1.f / 16777216.f);
    float v = (x & 1u) ? -mag : mag;
    if (f16) {
      __half hv = __float2half_rn(v);
      p[i] = *reinterpret_cast<unsigned short *>(&hv);
    } else {
      unsigned bits = __float_as_uint(v);
      bits += 0x7fffu + ((bits >> 16) & 1u);
      p[i] = (unsigned short)(bits >> 16);
    }
  }
}

__global__ void fillBits16(unsigned short *p, long long n, unsigned short bits) {
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
       i += (long long)gridDim.x * blockDim.x)
    p[i] = bits;
}
__global__ void fillBits32(unsigned *p, long long n, unsigned bits) {
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
       i += (long long)gridDim.x * blockDim.x)
    p[i] = bits;
}

struct Tensor4 {
  const unsigned short *data;
  long long stride[3]; // batch, head, token
};

/// float64 reference for one (b, h, q) row per block, straight from the semantics: every key
/// k < kv_len through attnc_mask (no ranges, no classification), score hook, softmax, out hook.
__global__ void referenceRows(AttncArgs a, Tensor4 Q, Tensor4 K, Tensor4 V, const int *rows,
                              double *scratch, double *outO, double *outLse, bool f16) {
  const int r = blockIdx.x;
  const int b = rows[3 * r], h = rows[3 * r + 1], q = rows[3 * r + 2];
  const int kvh = h / (a.heads / a.kv_heads);
  const int D = a.head_dim;
  double *sc = scratch + (long long)r * a.kv_len;
  const unsigned short *qp = Q.data + b * Q.stride[0] + h * Q.stride[1] + q * Q.stride[2];
  __shared__ double red[256];
  double mx = -INFINITY;
  for (int k = threadIdx.x; k < a.kv_len; k += blockDim.x) {
    double s = -INFINITY;
    if (attnc_mask(a, b, h, q, k)) {
      const unsigned short *kp = K.data + b * K.stride[0] + kvh * K.stride[1] + k * K.stride[2];
      double dot = 0;
      for (int c = 0; c < D; ++c)
        dot += (double)loadElem(qp, c, f16) * (double)loadElem(kp, c, f16);
      double sd = (double)a.scale * dot;
#if ATTNC_HAS_SCORE
      sd = (double)attnc_score(a, (float)sd, b, h, q, k);
#endif
      s = sd;
    }
    sc[k] = s;
    mx = fmax(mx, s);
  }
  red[threadIdx.x] = mx;
  __syncthreads();
  for (int w = blockDim.x / 2; w > 0; w /= 2) {
    if ((int)threadIdx.x < w)
      red[threadIdx.x] = fmax(red[threadIdx.x], red[threadIdx.x + w]);
    __syncthreads();
  }
  mx = red[0];
  for (int c = threadIdx.x; c < D; c += blockDim.x) {
    double sum = 0, acc = 0;
    if (mx != -INFINITY) {
      for (int k = 0; k < a.kv_len; ++k) {
        double s = sc[k];
        if (s == -INFINITY)
          continue;
        double p = exp(s - mx);
        sum += p;
        acc += p * (double)loadElem(V.data,
                                    b * V.stride[0] + kvh * V.stride[1] + k * V.stride[2] + c, f16);
      }
    }
    double o = 0;
    if (mx != -INFINITY) {
      o = acc / sum;
#if ATTNC_HAS_OUT
      o = (double)attnc_out(a, (float)o, b, h, q, c);
#endif
    }
    outO[(long long)r * D + c] = o;
    if (c == 0)
      outLse[r] = mx == -INFINITY ? -INFINITY : mx + log(sum);
  }
}

/// Kept (q, k) pairs, summed over all (b, h, q) rows, by the mask hook alone.
__global__ void countKept(AttncArgs a, unsigned long long *count) {
  const long long rowsTotal = (long long)a.batch * a.heads * a.q_len;
  unsigned long long local = 0;
  for (long long r = blockIdx.x * (long long)blockDim.x + threadIdx.x; r < rowsTotal;
       r += (long long)gridDim.x * blockDim.x) {
    int q = (int)(r % a.q_len), h = (int)(r / a.q_len % a.heads), b = (int)(r / a.q_len / a.heads);
    for (int k = 0; k < a.kv_len; ++k)
      local += attnc_mask(a, b, h, q, k) ? 1 : 0;
  }
  atomicAdd(count, local);
}

//===-- Host ----------------------------------------------------------------===//

static double hostElem(unsigned short bits, bool f16) {
  if (!f16) {
    unsigned u = (unsigned)bits << 16;
    float f;
    std::memcpy(&f, &u, 4);
    return f;
  }
  int sign = bits >> 15, exp = (bits >> 10) & 31, man = bits & 1023;
  double v = exp == 0    ? std::ldexp((double)man, -24)
             : exp == 31 ? (man ? NAN : INFINITY)
                         : std::ldexp(1.0 + man / 1024.0, exp - 15);
  return sign ? -v : v;
}

struct Options {
  std::map<std::string, std::string> kv;
  std::string str(const char *k, const char *def) const {
    auto it = kv.find(k);
    return it == kv.end() ? def : it->second;
  }
  long long num(const char *k, long long def) const {
    auto it = kv.find(k);
    return it == kv.end() ? def : std::atoll(it->second.c_str());
  }
  double real(const char *k, double def) const {
    auto it = kv.find(k);
    return it == kv.end() ? def : std::atof(it->second.c_str());
  }
};

struct Layout {
  long long stride[3];
  long long elems;
};
static Layout makeLayout(const std::string &kind, int B, int H, int S, int D) {
  Layout l;
  if (kind == "bshd") {
    l.stride[0] = (long long)S * H * D;
    l.stride[1] = D;
    l.stride[2] = (long long)H * D;
  } else if (kind == "pad") { // BHSD with padded tokens and heads: exercises general strides
    long long tok = D + 8, head = (long long)S * tok + 64;
    l.stride[2] = tok;
    l.stride[1] = head;
    l.stride[0] = head * H + 128;
  } else {
    l.stride[0] = (long long)H * S * D;
    l.stride[1] = (long long)S * D;
    l.stride[2] = D;
  }
  l.elems = l.stride[0] * B;
  return l;
}

int main(int argc, char **argv) {
  Options opt;
  for (int i = 1; i < argc; ++i) {
    const char *eq = std::strchr(argv[i], '=');
    if (!eq) {
      std::fprintf(stderr, "bad argument %s (want key=value)\n", argv[i]);
      return 2;
    }
    opt.kv[std::string(argv[i], eq - argv[i])] = eq + 1;
  }
  const std::string mode = opt.str("mode", "check");
  const int B = (int)opt.num("b", 2), H = (int)opt.num("h", 4), KVH = (int)opt.num("kvh", H);
  const int QL = (int)opt.num("ql", 127), KL = (int)opt.num("kl", QL), D = (int)opt.num("d", 128);
  const bool f16 = opt.str("dt", "bf16") == "f16";
  const std::string layoutKind = opt.str("layout", "bhsd"), cfg = opt.str("cfg", "default");
  const unsigned seed = (unsigned)opt.num("seed", 1);

  const KernelEntry *kern = nullptr;
  for (const KernelEntry &e : kKernels)
    if (e.d == D && e.f16 == f16 && cfg == e.cfg)
      kern = &e;
  if (!kern) {
    std::fprintf(stderr, "no kernel for d=%d dt=%s cfg=%s\n", D, f16 ? "f16" : "bf16", cfg.c_str());
    return 2;
  }
  int config[6];
  // The cast selects the C overload (symbol address); the template overload would take the
  // address of the pointer variable itself.
  CHECK(
      cudaMemcpyFromSymbol(config, static_cast<const void *>(kern->configSymbol), sizeof(config)));
  const int blockM = config[0], threads = config[2], smem = config[4];
  CHECK(cudaFuncSetAttribute(kern->fn, cudaFuncAttributeMaxDynamicSharedMemorySize, smem));
  cudaFuncAttributes fa;
  CHECK(cudaFuncGetAttributes(&fa, kern->fn));

  AttncArgs args;
  std::memset(&args, 0, sizeof(args));
  args.batch = B;
  args.heads = H;
  args.kv_heads = KVH;
  args.q_len = QL;
  args.kv_len = KL;
  args.head_dim = D;
  args.scale = (float)opt.real("scale", 1.0 / std::sqrt((double)D));
  args.iparam[0] = (int)opt.num("p0", 1024);
  args.iparam[1] = (int)opt.num("p1", 0);
  args.fparam[0] = (float)opt.real("f0", 30.0);

  Layout lq = makeLayout(layoutKind, B, H, QL, D), lk = makeLayout(layoutKind, B, KVH, KL, D);
  Layout lo = makeLayout(layoutKind, B, H, QL, D);
  unsigned short *dQ, *dK, *dV, *dO, *dG;
  float *dL;
  CHECK(cudaMalloc(&dQ, lq.elems * 2));
  CHECK(cudaMalloc(&dK, lk.elems * 2));
  CHECK(cudaMalloc(&dV, lk.elems * 2));
  CHECK(cudaMalloc(&dO, lo.elems * 2));
  const long long gElems = (long long)B * H * QL * D;
  CHECK(cudaMalloc(&dG, gElems * 2));
  const long long lseElems = (long long)B * H * QL;
  CHECK(cudaMalloc(&dL, lseElems * 4));
  fillRandom<<<1024, 256>>>(dQ, lq.elems, seed * 4 + 1, f16);
  fillRandom<<<1024, 256>>>(dK, lk.elems, seed * 4 + 2, f16);
  fillRandom<<<1024, 256>>>(dV, lk.elems, seed * 4 + 3, f16);
  fillRandom<<<1024, 256>>>(dG, gElems, seed * 4 + 4, false); // the gate is bf16 always
  fillBits16<<<1024, 256>>>(dO, lo.elems, 0xFFFF);            // NaN poison, also in the padding
  fillBits32<<<1024, 256>>>(reinterpret_cast<unsigned *>(dL), lseElems, 0x7FC00001u);
  CHECK(cudaGetLastError());
  args.input[0].data = dG;
  args.input[0].rank = 4;
  args.input[0].dtype = ATTNC_DT_BF16;
  args.input[0].dim[0] = B;
  args.input[0].dim[1] = H;
  args.input[0].dim[2] = QL;
  args.input[0].dim[3] = D;
  args.input[0].stride[0] = (long long)H * QL * D;
  args.input[0].stride[1] = (long long)QL * D;
  args.input[0].stride[2] = D;
  args.input[0].stride[3] = 1;

  AttncForwardParams p;
  std::memset(&p, 0, sizeof(p));
  p.q = dQ;
  p.k = dK;
  p.v = dV;
  p.o = dO;
  p.lse = dL;
  for (int i = 0; i < 3; ++i) {
    p.q_stride[i] = lq.stride[i];
    p.k_stride[i] = lk.stride[i];
    p.v_stride[i] = lk.stride[i];
    p.o_stride[i] = lo.stride[i];
  }
  p.lse_stride[0] = (long long)H * QL;
  p.lse_stride[1] = QL;

  dim3 grid((QL + blockM - 1) / blockM, H, B);
  kern->fn<<<grid, threads, smem>>>(p, args);
  CHECK(cudaGetLastError());
  CHECK(cudaDeviceSynchronize());

  // Rows to check: all of them, or an even sample with the first and last rows included.
  const long long allRows = (long long)B * H * QL;
  const long long maxRows = opt.num("rows", 4096);
  std::vector<int> rows;
  for (long long r = 0, n = std::min(allRows, maxRows); r < n; ++r) {
    long long idx = n == allRows ? r : (n == 1 ? 0 : r * (allRows - 1) / (n - 1));
    rows.push_back((int)(idx / QL / H));
    rows.push_back((int)(idx / QL % H));
    rows.push_back((int)(idx % QL));
  }
  const int nRows = (int)rows.size() / 3;
  int *dRows;
  double *dScratch, *dRefO, *dRefL;
  CHECK(cudaMalloc(&dRows, rows.size() * sizeof(int)));
  CHECK(cudaMemcpy(dRows, rows.data(), rows.size() * sizeof(int), cudaMemcpyHostToDevice));
  CHECK(cudaMalloc(&dScratch, (size_t)nRows * KL * sizeof(double)));
  CHECK(cudaMalloc(&dRefO, (size_t)nRows * D * sizeof(double)));
  CHECK(cudaMalloc(&dRefL, (size_t)nRows * sizeof(double)));
  Tensor4 tq{dQ, {lq.stride[0], lq.stride[1], lq.stride[2]}};
  Tensor4 tk{dK, {lk.stride[0], lk.stride[1], lk.stride[2]}};
  Tensor4 tv{dV, {lk.stride[0], lk.stride[1], lk.stride[2]}};
  referenceRows<<<nRows, 256>>>(args, tq, tk, tv, dRows, dScratch, dRefO, dRefL, f16);
  CHECK(cudaGetLastError());
  CHECK(cudaDeviceSynchronize());

  std::vector<unsigned short> hO(lo.elems);
  std::vector<float> hL(lseElems);
  std::vector<double> refO((size_t)nRows * D), refL(nRows);
  CHECK(cudaMemcpy(hO.data(), dO, lo.elems * 2, cudaMemcpyDeviceToHost));
  CHECK(cudaMemcpy(hL.data(), dL, lseElems * 4, cudaMemcpyDeviceToHost));
  CHECK(cudaMemcpy(refO.data(), dRefO, refO.size() * 8, cudaMemcpyDeviceToHost));
  CHECK(cudaMemcpy(refL.data(), dRefL, refL.size() * 8, cudaMemcpyDeviceToHost));

  // Every logical O / LSE element written (poison was NaN; the kernel never makes NaN).
  long long unwritten = 0, lseUnwritten = 0;
  for (int b = 0; b < B; ++b)
    for (int h = 0; h < H; ++h)
      for (int q = 0; q < QL; ++q) {
        const long long base = b * lo.stride[0] + h * lo.stride[1] + q * lo.stride[2];
        for (int c = 0; c < D; ++c)
          unwritten += std::isnan(hostElem(hO[base + c], f16)) ? 1 : 0;
        lseUnwritten += std::isnan(hL[((long long)b * H + h) * QL + q]) ? 1 : 0;
      }
  double maxAbs = 0, errSq = 0, refSq = 0, lseMaxErr = 0;
  long long emptyRows = 0, emptyBad = 0;
  for (int r = 0; r < nRows; ++r) {
    const int b = rows[3 * r], h = rows[3 * r + 1], q = rows[3 * r + 2];
    const long long base = b * lo.stride[0] + h * lo.stride[1] + q * lo.stride[2];
    const float lse = hL[((long long)b * H + h) * QL + q];
    if (std::isinf(refL[r])) {
      ++emptyRows;
      bool ok = std::isinf(lse) && lse < 0;
      for (int c = 0; c < D; ++c)
        ok = ok && hO[base + c] == 0; // +0.0 exactly
      emptyBad += ok ? 0 : 1;
      continue;
    }
    lseMaxErr = std::max(lseMaxErr, std::isfinite(lse) ? std::fabs(lse - refL[r]) : INFINITY);
    for (int c = 0; c < D; ++c) {
      const double got = hostElem(hO[base + c], f16), want = refO[(size_t)r * D + c];
      const double e = std::isfinite(got) ? std::fabs(got - want) : INFINITY;
      maxAbs = std::max(maxAbs, e);
      errSq += e * e;
      refSq += want * want;
    }
  }
  const double relL2 = refSq > 0 ? std::sqrt(errSq / refSq) : (errSq > 0 ? INFINITY : 0);
  const double tol = f16 ? 4e-3 : 1.6e-2;
  const bool pass = unwritten == 0 && lseUnwritten == 0 && emptyBad == 0 && relL2 < tol &&
                    maxAbs < 8 * tol && lseMaxErr < 2e-3;
  std::printf("RESULT hooks=%s kernel=%s b=%d h=%d kvh=%d ql=%d kl=%d d=%d dt=%s layout=%s "
              "rows=%d/%lld empty_rows=%lld max_abs=%.3e rel_l2=%.3e lse_max_err=%.3e "
              "unwritten=%lld/%lld empty_bad=%lld regs=%d local=%zu smem=%d %s\n",
              ATTNC_HOOKS_NAME, kern->name, B, H, KVH, QL, KL, D, f16 ? "f16" : "bf16",
              layoutKind.c_str(), nRows, allRows, emptyRows, maxAbs, relL2, lseMaxErr, unwritten,
              lseUnwritten, emptyBad, fa.numRegs, fa.localSizeBytes, smem, pass ? "PASS" : "FAIL");
  int rc = pass ? 0 : 1;

  if (mode == "bench") {
    unsigned long long *dCount, kept = 0;
    CHECK(cudaMalloc(&dCount, sizeof(unsigned long long)));
    CHECK(cudaMemset(dCount, 0, sizeof(unsigned long long)));
    countKept<<<2048, 256>>>(args, dCount);
    CHECK(cudaGetLastError());
    CHECK(cudaMemcpy(&kept, dCount, sizeof(kept), cudaMemcpyDeviceToHost));
    const int reps = (int)opt.num("reps", 30);
    cudaEvent_t e0, e1;
    CHECK(cudaEventCreate(&e0));
    CHECK(cudaEventCreate(&e1));
    for (int i = 0; i < 3; ++i)
      kern->fn<<<grid, threads, smem>>>(p, args);
    CHECK(cudaGetLastError());
    std::vector<float> ms;
    for (int i = 0; i < reps; ++i) {
      CHECK(cudaEventRecord(e0));
      kern->fn<<<grid, threads, smem>>>(p, args);
      CHECK(cudaEventRecord(e1));
      CHECK(cudaEventSynchronize(e1));
      CHECK(cudaGetLastError());
      float t;
      CHECK(cudaEventElapsedTime(&t, e0, e1));
      ms.push_back(t);
    }
    std::sort(ms.begin(), ms.end());
    const double med = ms[ms.size() / 2];
    const double denseFlops = 4.0 * D * (double)QL * KL * B * H;
    const double usefulFlops = 4.0 * D * (double)kept;
    std::printf("BENCH hooks=%s kernel=%s b=%d h=%d n=%d d=%d median_ms=%.4f min_ms=%.4f "
                "max_ms=%.4f density=%.4f dense_tflops=%.1f useful_tflops=%.1f\n",
                ATTNC_HOOKS_NAME, kern->name, B, H, QL, D, med, ms.front(), ms.back(),
                (double)kept / ((double)QL * KL * B * H), denseFlops / med * 1e-9,
                usefulFlops / med * 1e-9);
  }
  return rc;
}
