//===- sm90_q80_layout_check.cu - The 80-query tile's operand layouts on a GPU ---===//
//
// A standalone check, on one H100/H200, of the shared-memory layouts and wgmma descriptors
// that sm90/backward.cuh uses with 80-query tiles (kQueryTile = 80, D = 128), with the same
// expressions as its consumer, outside the kernel (no TMA, no ring, no hooks):
//   S^T = K_c Q^T        m64n80k16, both K-major; Q as two 64-column panels of 80 rows
//   dV  = P^T dO         m64n128k16, P^T from registers in 5 steps of 16 queries, dO MN-major
//                        (80-row panels: leading byte offset 80 * 128)
//   dS by query          stmatrix .trans of the A fragment into one panel per 64 keys
//   dQ^T = K^T dS^T      m64n80k16, K^T MN-major, dS K-major (mmaSSTransposedA)
// with dS = P (bf16 of S) for the check. Two warpgroups, as the kernel's consumers; the
// results are compared with a host reference. Build and run (from the repository root):
//   nvcc -gencode arch=compute_90a,code=sm_90a -std=c++17 -I runtime/kernels \
//     scripts/sm90_q80_layout_check.cu -o /tmp/q80_layout_check && /tmp/q80_layout_check
// Prints the largest relative error of each product and exits 1 if one exceeds 1e-2.
//
//===----------------------------------------------------------------------===//
#include "primitives/hopper.cuh"
#include "primitives/wgmma.cuh"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <vector>

namespace {

constexpr int kKeys = 128, kQueries = 80, kDim = 128;
constexpr int kKOffset = 0, kQOffset = kKeys * kDim * 2, kDoOffset = kQOffset + kQueries * kDim * 2,
              kDsOffset = kDoOffset + kQueries * kDim * 2,
              kSmemBytes = kDsOffset + kKeys * kQueries * 2;

using attnc::tile::BF16;
namespace hopper = attnc::hopper;
namespace wgmma = attnc::wgmma;
namespace tile = attnc::tile;

/// Byte offset of element (row, col) of a rows x 128 tile stored as TMA writes it with the
/// 128-byte swizzle and 64-column boxes: panel col / 64 of rows x 128 bytes.
__host__ __device__ int swizzled(int rows, int row, int col) {
  const int chunk = (col % 64) / 8;
  return (col / 64) * rows * 128 + row * 128 + ((chunk ^ (row % 8)) * 16) + (col % 8) * 2;
}

__global__ void __launch_bounds__(256, 1)
    check(const unsigned short *k, const unsigned short *q, const unsigned short *dO, float *sOut,
          float *dvOut, float *dqOut) {
  extern __shared__ __align__(1024) unsigned char smemRaw[];
  const unsigned raw = tile::sharedAddress(smemRaw);
  const unsigned base = (raw + 1023u) & ~1023u;
  unsigned char *smem = smemRaw + (base - raw);
  for (int i = threadIdx.x; i < kKeys * kDim; i += blockDim.x)
    *(unsigned short *)(smem + kKOffset + swizzled(kKeys, i / kDim, i % kDim)) = k[i];
  for (int i = threadIdx.x; i < kQueries * kDim; i += blockDim.x) {
    *(unsigned short *)(smem + kQOffset + swizzled(kQueries, i / kDim, i % kDim)) = q[i];
    *(unsigned short *)(smem + kDoOffset + swizzled(kQueries, i / kDim, i % kDim)) = dO[i];
  }
  hopper::fenceAsyncShared();
  __syncthreads();

  const BF16 kind{};
  const int c = threadIdx.x / 128, tid = threadIdx.x % 128, warp = tid / 32, lane = tid % 32;
  const int g = lane / 4, t = lane % 4;
  const unsigned sK = base + kKOffset, sQ = base + kQOffset, sDo = base + kDoOffset,
                 sDs = base + kDsOffset;

  float s[kQueries / 2];
  wgmma::fence();
#pragma unroll
  for (int kk = 0; kk < kDim / 16; ++kk)
    wgmma::mmaSS(kind, s,
                 hopper::descriptorFromLow128B(hopper::descriptorLow128B(
                     sK + c * 64 * 128 + hopper::kMajorStepOffset(kk, kKeys), 16)),
                 hopper::descriptorFromLow128B(
                     hopper::descriptorLow128B(sQ + hopper::kMajorStepOffset(kk, kQueries), 16)),
                 kk > 0 ? 1 : 0);
  wgmma::commit();
  wgmma::wait<0>();
  wgmma::fenceOperands(s);
  for (int col = 0; col < kQueries / 8; ++col)
    for (int half = 0; half < 2; ++half)
      for (int j = 0; j < 2; ++j)
        sOut[(c * 64 + warp * 16 + g + 8 * half) * kQueries + col * 8 + 2 * t + j] =
            s[col * 4 + half * 2 + j];

  unsigned frag[kQueries / 16][4];
#pragma unroll
  for (int kk = 0; kk < kQueries / 16; ++kk)
#pragma unroll
    for (int r = 0; r < 4; ++r)
      frag[kk][r] = tile::pack2(kind, s[8 * kk + 2 * r], s[8 * kk + 2 * r + 1]);

  float dv[kDim / 2];
#pragma unroll
  for (int i = 0; i < kDim / 2; ++i)
    dv[i] = 0.f;
  const unsigned doLow = hopper::descriptorLow128B(sDo, kQueries * 128);
  wgmma::fence();
#pragma unroll
  for (int kk = 0; kk < kQueries / 16; ++kk)
    wgmma::mmaRS(kind, dv, frag[kk], hopper::descriptorFromLow128B(doLow + kk * 16 * 128 / 16));
  wgmma::commit();
  wgmma::wait<0>();
  wgmma::fenceOperands(dv);
  for (int col = 0; col < kDim / 8; ++col)
    for (int half = 0; half < 2; ++half)
      for (int j = 0; j < 2; ++j)
        dvOut[(c * 64 + warp * 16 + g + 8 * half) * kDim + col * 8 + 2 * t + j] =
            dv[col * 4 + half * 2 + j];

  // dS (= P here) by query, as the kernel's kDsByQuery store.
  {
    const int m = lane / 8, r = lane % 8;
    const unsigned rowAddr =
        sDs + c * kQueries * 128 + ((m / 2) * 8 + r) * 128 + (((2 * warp + (m & 1)) ^ r) * 16);
#pragma unroll
    for (int kk = 0; kk < kQueries / 16; ++kk)
      tile::storeMatrixX4Trans(rowAddr + kk * 16 * 128, frag[kk]);
  }
  hopper::fenceAsyncShared();
  hopper::namedSync(1, 256);

  float dq[kQueries / 2];
  const unsigned kLow = hopper::descriptorLow128B(sK + c * kKeys * 128, kKeys * 128);
  wgmma::fence();
#pragma unroll
  for (int kk = 0; kk < kKeys / 16; ++kk)
    wgmma::mmaSSTransposedA(kind, dq, hopper::descriptorFromLow128B(kLow + kk * 16 * 128 / 16),
                            hopper::descriptorFromLow128B(hopper::descriptorLow128B(
                                sDs + hopper::kMajorStepOffset(kk, kQueries), 16)),
                            kk > 0 ? 1 : 0);
  wgmma::commit();
  wgmma::wait<0>();
  wgmma::fenceOperands(dq);
  for (int col = 0; col < kQueries / 8; ++col)
    for (int half = 0; half < 2; ++half)
      for (int j = 0; j < 2; ++j)
        dqOut[(c * 64 + warp * 16 + g + 8 * half) * kQueries + col * 8 + 2 * t + j] =
            dq[col * 4 + half * 2 + j];
}

float bf16ToFloat(unsigned short b) {
  const unsigned bits = unsigned(b) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}
unsigned short floatToBf16(float f) { // round to nearest even (finite values)
  unsigned bits;
  std::memcpy(&bits, &f, 4);
  return (unsigned short)((bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16);
}

double maxRelativeError(const std::vector<float> &got, const std::vector<double> &want) {
  double scale = 1e-6, worst = 0;
  for (double w : want)
    scale = std::fmax(scale, std::fabs(w));
  for (size_t i = 0; i < got.size(); ++i)
    worst = std::fmax(worst, std::fabs(got[i] - want[i]) / scale);
  return worst;
}

} // namespace

int main() {
  std::vector<unsigned short> k(kKeys * kDim), q(kQueries * kDim), dO(kQueries * kDim);
  unsigned state = 12345u;
  const auto next = [&] {
    state = state * 1664525u + 1013904223u;
    return floatToBf16(float(int(state >> 24) - 128) / 256.f);
  };
  for (auto &x : k)
    x = next();
  for (auto &x : q)
    x = next();
  for (auto &x : dO)
    x = next();

  // Host reference: S^T [key][query], P = bf16(S^T), dV = P dO, dQ^T [dim][query] = K^T P.
  std::vector<double> s(kKeys * kQueries), dv(kKeys * kDim, 0.0), dq(kDim * kQueries, 0.0);
  std::vector<float> p(kKeys * kQueries);
  for (int key = 0; key < kKeys; ++key)
    for (int query = 0; query < kQueries; ++query) {
      double sum = 0;
      for (int d = 0; d < kDim; ++d)
        sum += double(bf16ToFloat(k[key * kDim + d])) * bf16ToFloat(q[query * kDim + d]);
      s[key * kQueries + query] = sum;
      p[key * kQueries + query] = bf16ToFloat(floatToBf16(float(sum)));
    }
  for (int key = 0; key < kKeys; ++key)
    for (int query = 0; query < kQueries; ++query)
      for (int d = 0; d < kDim; ++d) {
        dv[key * kDim + d] += double(p[key * kQueries + query]) * bf16ToFloat(dO[query * kDim + d]);
        dq[d * kQueries + query] +=
            double(bf16ToFloat(k[key * kDim + d])) * p[key * kQueries + query];
      }

  unsigned short *dK, *dQ, *dDo;
  float *dS, *dDv, *dDq;
  cudaMalloc(&dK, k.size() * 2);
  cudaMalloc(&dQ, q.size() * 2);
  cudaMalloc(&dDo, dO.size() * 2);
  cudaMalloc(&dS, s.size() * 4);
  cudaMalloc(&dDv, dv.size() * 4);
  cudaMalloc(&dDq, dq.size() * 4);
  cudaMemcpy(dK, k.data(), k.size() * 2, cudaMemcpyHostToDevice);
  cudaMemcpy(dQ, q.data(), q.size() * 2, cudaMemcpyHostToDevice);
  cudaMemcpy(dDo, dO.data(), dO.size() * 2, cudaMemcpyHostToDevice);
  const int smem = kSmemBytes + 1024;
  cudaFuncSetAttribute(check, cudaFuncAttributeMaxDynamicSharedMemorySize, smem);
  check<<<1, 256, smem>>>(dK, dQ, dDo, dS, dDv, dDq);
  if (cudaError_t e = cudaDeviceSynchronize(); e != cudaSuccess) {
    std::printf("kernel failed: %s\n", cudaGetErrorString(e));
    return 1;
  }
  std::vector<float> gotS(s.size()), gotDv(dv.size()), gotDq(dq.size());
  cudaMemcpy(gotS.data(), dS, gotS.size() * 4, cudaMemcpyDeviceToHost);
  cudaMemcpy(gotDv.data(), dDv, gotDv.size() * 4, cudaMemcpyDeviceToHost);
  cudaMemcpy(gotDq.data(), dDq, gotDq.size() * 4, cudaMemcpyDeviceToHost);
  const double errors[3] = {maxRelativeError(gotS, s), maxRelativeError(gotDv, dv),
                            maxRelativeError(gotDq, dq)};
  const char *names[3] = {"S^T = K Q^T (m64n80k16)", "dV = P^T dO (5 steps, 80-row panels)",
                          "dQ^T = K^T dS^T (dS by query, stmatrix.trans)"};
  bool ok = true;
  for (int i = 0; i < 3; ++i) {
    std::printf("%-48s max relative error %.3g\n", names[i], errors[i]);
    ok = ok && errors[i] < 1e-2;
  }
  std::printf("%s\n", ok ? "ok" : "MISMATCH");
  return ok ? 0 : 1;
}
