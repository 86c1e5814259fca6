// ---- attnc runtime: summary pre-pass ----
static __device__ __forceinline__ int attnc_summary_load(const AttncTensor &t, long long offset) {
  switch (t.dtype) {
  case ATTNC_DT_I32:
    return ((const int *)t.data)[offset];
  case ATTNC_DT_I64:
    return (int)(((const long long *)t.data)[offset]);
  case ATTNC_DT_U8:
    return ((const unsigned char *)t.data)[offset] != 0;
  case ATTNC_DT_F32: {
    float f = ((const float *)t.data)[offset];
    return f != f ? 0
                  : (f >= 2147483647.0f ? 2147483647
                                        : (f <= -2147483648.0f ? (-2147483647 - 1) : (int)f));
  }
  default: {
    unsigned short bits = ((const unsigned short *)t.data)[offset];
    float f;
    if (t.dtype == ATTNC_DT_BF16)
      f = __uint_as_float(((unsigned)bits) << 16);
    else
      asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(bits));
    return f != f ? 0
                  : (f >= 2147483647.0f ? 2147483647
                                        : (f <= -2147483648.0f ? (-2147483647 - 1) : (int)f));
  }
  }
}

extern "C" __global__ void attnc_summarize_input(AttncTensor t, int *summary, int blockTokens,
                                                 int numBlocks, long long outerCount) {
  __shared__ int lows[32], highs[32];
  const int last = t.rank - 1;
  const int block = blockIdx.x;
  for (long long outer = blockIdx.y; outer < outerCount; outer += gridDim.y) {
    long long base = 0, rest = outer;
    for (int n = last - 1; n >= 0; --n) {
      base += (rest % t.dim[n]) * t.stride[n];
      rest /= t.dim[n];
    }
    int lo = 2147483647, hi = -2147483647 - 1;
    int begin = block * blockTokens;
    int end = min(begin + blockTokens, t.dim[last]);
    for (int i = begin + (int)threadIdx.x; i < end; i += blockDim.x) {
      int v = attnc_summary_load(t, base + (long long)i * t.stride[last]);
      lo = min(lo, v);
      hi = max(hi, v);
    }
    for (int offset = 16; offset > 0; offset >>= 1) {
      lo = min(lo, __shfl_xor_sync(0xffffffffu, lo, offset));
      hi = max(hi, __shfl_xor_sync(0xffffffffu, hi, offset));
    }
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    if (lane == 0) {
      lows[warp] = lo;
      highs[warp] = hi;
    }
    __syncthreads();
    if (threadIdx.x == 0) {
      for (int w = 1; w < (int)(blockDim.x / 32); ++w) {
        lo = min(lo, lows[w]);
        hi = max(hi, highs[w]);
      }
      summary[(outer * numBlocks + block) * 2] = lo;
      summary[(outer * numBlocks + block) * 2 + 1] = hi;
    }
    __syncthreads();
  }
}
