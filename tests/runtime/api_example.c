/* api_example.c - the complete example of docs/api.md (kept in sync by hand; ctest runs it).
 *
 * Compiles a sliding-window attention, runs it on the GPU when there is one, and always
 * runs the CPU reference on the same inputs; prints the largest difference.
 * Build: cc -std=c99 api_example.c -I<prefix>/include -L<prefix>/lib -lattnc -lm */
#include <attnc/attnc.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *kProgram = "attention sliding {\n"
                              "  param window: int = 256;\n"
                              "  mask = causal && q - k < window;\n"
                              "}\n";

/* float -> bf16 bits, round to nearest even (inputs here are finite). */
static uint16_t to_bf16(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  u += 0x7fff + ((u >> 16) & 1);
  return (uint16_t)(u >> 16);
}
static float from_bf16(uint16_t h) {
  uint32_t u = (uint32_t)h << 16;
  float f;
  memcpy(&f, &u, 4);
  return f;
}

#define CHECK(call)                                                                                \
  do {                                                                                             \
    attnc_status status_ = (call);                                                                 \
    if (status_ != ATTNC_OK) {                                                                     \
      fprintf(stderr, "%s failed: %s: %s\n", #call, attnc_status_string(status_),                  \
              attnc_last_error());                                                                 \
      exit(1);                                                                                     \
    }                                                                                              \
  } while (0)

int main(void) {
  const int B = 1, H = 4, KV = 2, N = 300, D = 64; /* GQA: 4 query heads, 2 kv heads */
  const size_t qElems = (size_t)B * H * N * D, kvElems = (size_t)B * KV * N * D;
  int gpu = attnc_device_available() == ATTNC_OK;
  if (!gpu)
    printf("no GPU (%s): running the CPU reference only\n", attnc_last_error());

  attnc_context *ctx;
  CHECK(attnc_context_create(NULL, &ctx)); /* default disk cache directory */
  attnc_options *options;
  CHECK(attnc_options_create(&options));
  CHECK(attnc_options_set_dtype(options, ATTNC_BF16));
  CHECK(attnc_options_set_head_dim(options, D));
  /* "auto" compiles for the current GPU; without one, parse and check only. */
  CHECK(attnc_options_set_arch(options, gpu ? "auto" : "none"));
  attnc_kernel *kernel;
  if (attnc_compile(ctx, kProgram, "sliding.attn", options, &kernel) != ATTNC_OK) {
    fprintf(stderr, "%s\n%s", attnc_last_error(), attnc_context_diagnostics(ctx));
    return 1;
  }

  /* Host data: Q, K, V in float (for the reference) and bf16 (for the GPU), BHSD. */
  float *q = malloc(qElems * 4), *k = malloc(kvElems * 4), *v = malloc(kvElems * 4);
  float *oRef = malloc(qElems * 4);
  for (size_t i = 0; i < qElems; ++i)
    q[i] = from_bf16(to_bf16((float)sin(0.1 * (double)i)));
  for (size_t i = 0; i < kvElems; ++i) {
    k[i] = from_bf16(to_bf16((float)cos(0.07 * (double)i)));
    v[i] = from_bf16(to_bf16((float)sin(0.013 * (double)i)));
  }

  attnc_args *args;
  CHECK(attnc_args_create(&args));
  CHECK(attnc_args_set_param_int(args, "window", 100)); /* run-time: no recompile */

  /* The CPU reference reads host buffers (f32 here). Strides are in elements. */
  CHECK(attnc_args_set_tensor(args, ATTNC_Q, q, ATTNC_F32, B, H, N, D, (int64_t)H * N * D,
                              (int64_t)N * D, D));
  CHECK(attnc_args_set_tensor(args, ATTNC_K, k, ATTNC_F32, B, KV, N, D, (int64_t)KV * N * D,
                              (int64_t)N * D, D));
  CHECK(attnc_args_set_tensor(args, ATTNC_V, v, ATTNC_F32, B, KV, N, D, (int64_t)KV * N * D,
                              (int64_t)N * D, D));
  CHECK(attnc_args_set_tensor(args, ATTNC_O, oRef, ATTNC_F32, B, H, N, D, (int64_t)H * N * D,
                              (int64_t)N * D, D));
  CHECK(attnc_run_reference(ctx, kernel, args, 0));
  printf("reference: O[0,0,5,0] = %f\n", oRef[5 * D]);

  if (gpu) {
    uint16_t *host16 = malloc(qElems * 2);
    void *dq, *dk, *dv, *dout;
    CHECK(attnc_device_malloc(&dq, qElems * 2));
    CHECK(attnc_device_malloc(&dk, kvElems * 2));
    CHECK(attnc_device_malloc(&dv, kvElems * 2));
    CHECK(attnc_device_malloc(&dout, qElems * 2));
    for (size_t i = 0; i < qElems; ++i)
      host16[i] = to_bf16(q[i]);
    CHECK(attnc_memcpy_to_device(dq, host16, qElems * 2));
    for (size_t i = 0; i < kvElems; ++i)
      host16[i] = to_bf16(k[i]);
    CHECK(attnc_memcpy_to_device(dk, host16, kvElems * 2));
    for (size_t i = 0; i < kvElems; ++i)
      host16[i] = to_bf16(v[i]);
    CHECK(attnc_memcpy_to_device(dv, host16, kvElems * 2));

    /* Same args object, now with device pointers in bf16. */
    CHECK(attnc_args_set_tensor(args, ATTNC_Q, dq, ATTNC_BF16, B, H, N, D, (int64_t)H * N * D,
                                (int64_t)N * D, D));
    CHECK(attnc_args_set_tensor(args, ATTNC_K, dk, ATTNC_BF16, B, KV, N, D, (int64_t)KV * N * D,
                                (int64_t)N * D, D));
    CHECK(attnc_args_set_tensor(args, ATTNC_V, dv, ATTNC_BF16, B, KV, N, D, (int64_t)KV * N * D,
                                (int64_t)N * D, D));
    CHECK(attnc_args_set_tensor(args, ATTNC_O, dout, ATTNC_BF16, B, H, N, D, (int64_t)H * N * D,
                                (int64_t)N * D, D));
    CHECK(attnc_run(ctx, kernel, args, NULL)); /* NULL: the default stream */
    CHECK(attnc_stream_synchronize(NULL));
    CHECK(attnc_memcpy_to_host(host16, dout, qElems * 2));
    double worst = 0;
    for (size_t i = 0; i < qElems; ++i)
      worst = fmax(worst, fabs((double)from_bf16(host16[i]) - (double)oRef[i]));
    printf("GPU (%s) vs reference: max |difference| = %g\n", attnc_kernel_arch(kernel), worst);
    attnc_device_free(dq);
    attnc_device_free(dk);
    attnc_device_free(dv);
    attnc_device_free(dout);
    free(host16);
    if (worst > 0.05)
      return 1;
  }

  attnc_args_destroy(args);
  attnc_kernel_release(kernel);
  attnc_options_destroy(options);
  attnc_context_destroy(ctx);
  free(q);
  free(k);
  free(v);
  free(oRef);
  return 0;
}
