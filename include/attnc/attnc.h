/*===- attnc.h - The stable C ABI of attnc ---------------------------------===*
 *
 * Compile attention programs written in the attnc language and run them on a CUDA GPU
 * (or on the float64 CPU reference). Plain C; every object is an opaque handle; every
 * function returns an attnc_status, or a value where noted (never throws, never aborts:
 * an exception inside, even std::bad_alloc, becomes ATTNC_ERROR_INTERNAL with its message,
 * or the function's empty value). On failure the message is available from
 * attnc_last_error() (per thread) and, for functions taking a context,
 * attnc_context_last_error(). docs/api.md has a complete example.
 *
 * Thread safety: a context may be used from several threads at once; a kernel is
 * immutable; an attnc_args object must not be modified while another thread uses it.
 *
 *===----------------------------------------------------------------------===*/
#ifndef ATTNC_ATTNC_H
#define ATTNC_ATTNC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define ATTNC_API __attribute__((visibility("default")))
#else
#define ATTNC_API
#endif

/** Version of this ABI; bumped on incompatible changes. */
#define ATTNC_ABI_VERSION 1

typedef enum attnc_status {
  ATTNC_OK = 0,
  ATTNC_ERROR_INVALID_ARGUMENT = 1, /**< null handle/pointer, bad shape, stride, dtype, name */
  ATTNC_ERROR_PARSE = 2,            /**< the program has errors: see attnc_context_diagnostics */
  ATTNC_ERROR_COMPILE = 3,          /**< code generation or NVRTC failed */
  ATTNC_ERROR_NO_DEVICE = 4,        /**< no CUDA driver (libcuda.so.1) or no GPU */
  ATTNC_ERROR_CUDA = 5,             /**< a CUDA driver call failed */
  ATTNC_ERROR_UNSUPPORTED = 6,      /**< valid, but not supported (yet) */
  ATTNC_ERROR_IO = 7,               /**< a file could not be read */
  ATTNC_ERROR_INTERNAL = 8          /**< a bug in attnc: please report it */
} attnc_status;

/** Element types (the ATTNC_DT_* codes of KernelArgs.h). */
typedef enum attnc_dtype {
  ATTNC_I32 = 0,
  ATTNC_I64 = 1,
  ATTNC_F32 = 2,
  ATTNC_F16 = 3,
  ATTNC_BF16 = 4,
  ATTNC_U8 = 5
} attnc_dtype;

/** The attention tensors bound by attnc_args_set_tensor. DO, DQ, DK and DV are the
 *  backward's (attnc_run_backward): dO has O's shape, dQ, dK, dV those of Q, K, V. */
typedef enum attnc_tensor_role {
  ATTNC_Q = 0,
  ATTNC_K = 1,
  ATTNC_V = 2,
  ATTNC_O = 3,
  ATTNC_DO = 4,
  ATTNC_DQ = 5,
  ATTNC_DK = 6,
  ATTNC_DV = 7,
  /** Optional, for programs with an `out` expression: the output before it, O's shape and
   *  dtype. attnc_run writes it when bound; attnc_run_backward then reads it instead of
   *  recomputing it (which costs about a forward). */
  ATTNC_O_BEFORE_OUT = 8
} attnc_tensor_role;

typedef struct attnc_context attnc_context; /**< kernel cache and device state */
typedef struct attnc_options attnc_options; /**< compile options */
typedef struct attnc_kernel attnc_kernel;   /**< a compiled attention (ref-counted) */
typedef struct attnc_args attnc_args;       /**< tensors, params and scale of a call */

/* ---- Library ---------------------------------------------------------- */

ATTNC_API const char *attnc_version(void); /**< "0.1.0" */
ATTNC_API int attnc_abi_version(void);     /**< ATTNC_ABI_VERSION */
ATTNC_API const char *attnc_status_string(attnc_status status);
/** The message of the last failed call on this thread ("" if none). Valid until the next
 *  call on this thread. */
ATTNC_API const char *attnc_last_error(void);

/* ---- Context ---------------------------------------------------------- */

/** Creates a context. `cache_dir`: NULL for the default ($ATTNC_CACHE_DIR, else
 *  $XDG_CACHE_HOME/attnc, else ~/.cache/attnc), "" for an in-memory cache only. */
ATTNC_API attnc_status attnc_context_create(const char *cache_dir, attnc_context **out);
ATTNC_API void attnc_context_destroy(attnc_context *ctx); /**< NULL is ignored */
/** The message of the last failed call that used this context (per context). */
ATTNC_API const char *attnc_context_last_error(const attnc_context *ctx);
/** Rendered diagnostics (errors with file:line:col and carets, warnings) of the last
 *  compile on this context; "" when there were none. */
ATTNC_API const char *attnc_context_diagnostics(const attnc_context *ctx);
/** Cache counters: compilations, memory hits, disk hits (any pointer may be NULL). */
ATTNC_API attnc_status attnc_context_cache_stats(const attnc_context *ctx, uint64_t *compilations,
                                                 uint64_t *memory_hits, uint64_t *disk_hits);
/** The disk cache directory ("" when memory only). */
ATTNC_API const char *attnc_context_cache_dir(const attnc_context *ctx);

/* ---- Compile options -------------------------------------------------- */

/** Defaults: bf16, head dim 128, arch "auto", no defines, the only attention. */
ATTNC_API attnc_status attnc_options_create(attnc_options **out);
ATTNC_API void attnc_options_destroy(attnc_options *options);
/** ATTNC_BF16 or ATTNC_F16: the element type of Q, K, V, O on the GPU. */
ATTNC_API attnc_status attnc_options_set_dtype(attnc_options *options, attnc_dtype dtype);
/** The same by name, as every attnc surface spells it: "bf16" or "bfloat16" (ATTNC_BF16);
 *  "fp16", "f16", "float16" or "half" (ATTNC_F16). Any other text (case matters) is
 *  ATTNC_ERROR_INVALID_ARGUMENT, the message listing the spellings. */
ATTNC_API attnc_status attnc_options_set_dtype_name(attnc_options *options, const char *name);
/** 64, 128 or 256. */
ATTNC_API attnc_status attnc_options_set_head_dim(attnc_options *options, int head_dim);
/** "auto" (current device), "sm_80", "sm_90a", ..., or "none" (CPU reference only). */
ATTNC_API attnc_status attnc_options_set_arch(attnc_options *options, const char *arch);
/** -D NAME=VALUE: overrides `const NAME` (VALUE is literal source text: 12, 0.5, true). */
ATTNC_API attnc_status attnc_options_define(attnc_options *options, const char *name,
                                            const char *value);
/** Which attention of the program to compile (NULL or "": the only one). */
ATTNC_API attnc_status attnc_options_set_attention(attnc_options *options, const char *name);
/** CUDA device whose primary context is used when no context is current (default 0). */
ATTNC_API attnc_status attnc_options_set_device(attnc_options *options, int device);

/** Tiered compilation (docs/api.md): on a cache miss a tiered compile returns a quick
 *  kernel (3-5x less compile time, 20-50x slower to run) and compiles the optimized one
 *  on a background thread; launches switch to it once it is ready.
 *  AUTO (default): tiered when arch is "auto", unless the environment sets ATTNC_TIERED=0. */
typedef enum attnc_tiering {
  ATTNC_TIERING_AUTO = 0,
  ATTNC_TIERING_OFF = 1,
  ATTNC_TIERING_ON = 2
} attnc_tiering;
ATTNC_API attnc_status attnc_options_set_tiering(attnc_options *options, attnc_tiering tiering);

/* ---- Compile ---------------------------------------------------------- */

/** Compiles program text. `file_name` names it in diagnostics (NULL: "<input>");
 *  `options` may be NULL (defaults). On ATTNC_ERROR_PARSE see attnc_context_diagnostics. */
ATTNC_API attnc_status attnc_compile(attnc_context *ctx, const char *source, const char *file_name,
                                     const attnc_options *options, attnc_kernel **out);
ATTNC_API attnc_status attnc_compile_file(attnc_context *ctx, const char *path,
                                          const attnc_options *options, attnc_kernel **out);
/** Kernels are reference-counted: compile returns one reference; retain adds one,
 *  release drops one (the last frees it). NULL is ignored. */
ATTNC_API void attnc_kernel_retain(attnc_kernel *kernel);
ATTNC_API void attnc_kernel_release(attnc_kernel *kernel);
ATTNC_API const char *attnc_kernel_name(const attnc_kernel *kernel);
/** The target ("sm_90a", or "none"). */
ATTNC_API const char *attnc_kernel_arch(const attnc_kernel *kernel);
/** The full CUDA source given to NVRTC ("" for arch "none"). */
ATTNC_API const char *attnc_kernel_cuda_source(const attnc_kernel *kernel);
/** The cubin in use (NULL and 0 for arch "none"); a tiered kernel's quick one until the
 *  optimized one is installed. Valid while the kernel lives. */
ATTNC_API const void *attnc_kernel_cubin(const attnc_kernel *kernel, size_t *size);
/** 1 when the kernel runs its optimized binary; 0 while a tiered kernel is still quick. */
ATTNC_API int attnc_kernel_is_optimized(const attnc_kernel *kernel);
/** Waits for a tiered kernel's background compile and installs the optimized binary.
 *  ATTNC_OK at once for kernels that are not tiered; on failure (message in
 *  attnc_last_error) the quick kernel stays in use. */
ATTNC_API attnc_status attnc_kernel_wait_optimized(const attnc_kernel *kernel);
/** Milliseconds from the start of the compile call until the optimized binary was ready
 *  (the compile call itself when not tiered); negative while it is not ready. */
ATTNC_API double attnc_kernel_optimized_ms(const attnc_kernel *kernel);
/** 1 when the program has an `out` expression (so ATTNC_O_BEFORE_OUT applies), else 0. */
ATTNC_API int attnc_kernel_has_out(const attnc_kernel *kernel);
/** Declared params and inputs, in declaration order (index < count). Names stay valid
 *  while the kernel lives. Param kinds: 0 int, 1 float, 2 bool. */
ATTNC_API int attnc_kernel_param_count(const attnc_kernel *kernel);
ATTNC_API const char *attnc_kernel_param_name(const attnc_kernel *kernel, int index, int *kind);
ATTNC_API int attnc_kernel_input_count(const attnc_kernel *kernel);
ATTNC_API const char *attnc_kernel_input_name(const attnc_kernel *kernel, int index,
                                              attnc_dtype *dtype, int *rank);

/* ---- Arguments -------------------------------------------------------- */

ATTNC_API attnc_status attnc_args_create(attnc_args **out);
ATTNC_API void attnc_args_destroy(attnc_args *args);
/** Binds Q, K, V or O: logical dims [batch, heads, tokens, head_dim], the last dim
 *  contiguous, the others at element strides (BHSD: stride_batch = H*S*D, stride_head =
 *  S*D, stride_token = D; BSHD: S*H*D, D, H*D). K and V have kv_heads heads and kv_len
 *  tokens. `dtype`: the kernel's dtype for the GPU; the CPU reference also takes F32. */
ATTNC_API attnc_status attnc_args_set_tensor(attnc_args *args, attnc_tensor_role role, void *data,
                                             attnc_dtype dtype, int batch, int heads, int tokens,
                                             int head_dim, int64_t stride_batch,
                                             int64_t stride_head, int64_t stride_token);
/** Optional float32 log-sum-exp output [batch, heads, q_len] (NULL unbinds). The GPU
 *  needs stride_token == 1. */
ATTNC_API attnc_status attnc_args_set_lse(attnc_args *args, float *data, int64_t stride_batch,
                                          int64_t stride_head, int64_t stride_token);
/** Backward only, optional: dL/dLSE, float32 [batch, heads, q_len] (NULL unbinds), for a loss
 *  that also reads the forward's LSE. The GPU needs stride_token == 1. */
ATTNC_API attnc_status attnc_args_set_dlse(attnc_args *args, const float *data,
                                           int64_t stride_batch, int64_t stride_head,
                                           int64_t stride_token);
/** Binds a declared `input` by name. `strides` in elements; NULL: contiguous. */
ATTNC_API attnc_status attnc_args_set_input(attnc_args *args, const char *name, const void *data,
                                            attnc_dtype dtype, int rank, const int64_t *dims,
                                            const int64_t *strides);
ATTNC_API attnc_status attnc_args_set_param_int(attnc_args *args, const char *name, int64_t value);
ATTNC_API attnc_status attnc_args_set_param_float(attnc_args *args, const char *name, double value);
ATTNC_API attnc_status attnc_args_set_param_bool(attnc_args *args, const char *name, int value);
/** Backward only: where the gradient of the declared float input `name` is written:
 *  float32 over the input's dims, `rank` strides in elements (the input's rank; NULL:
 *  contiguous). Written, not accumulated. NULL `data` unbinds it (no gradient). */
ATTNC_API attnc_status attnc_args_set_input_grad(attnc_args *args, const char *name, float *data,
                                                 int rank, const int64_t *strides);
/** Backward only: nonzero asks for bit-identical results from run to run (no
 *  order-dependent atomics; docs/runtime.md, "Backward", gives the cost). Default 0. */
ATTNC_API attnc_status attnc_args_set_deterministic(attnc_args *args, int deterministic);
/** Softmax scale; the default is 1/sqrt(head_dim). */
ATTNC_API attnc_status attnc_args_set_scale(attnc_args *args, float scale);
ATTNC_API attnc_status attnc_args_clear_scale(attnc_args *args);

/* ---- Run -------------------------------------------------------------- */

/** Validates and launches on `stream` (a CUstream; NULL: the legacy default stream).
 *  Asynchronous; tensors are device pointers. */
ATTNC_API attnc_status attnc_run(attnc_context *ctx, const attnc_kernel *kernel,
                                 const attnc_args *args, void *stream);
/** Runs the float64 CPU reference on host buffers (O in F32, F16 or BF16). Needs no GPU.
 *  `threads`: 0 for all cores. */
ATTNC_API attnc_status attnc_run_reference(attnc_context *ctx, const attnc_kernel *kernel,
                                           const attnc_args *args, int threads);
/** The backward pass on `stream`: from the forward's Q, K, V, inputs, params and scale,
 *  its outputs O and LSE (required), and dO (ATTNC_DO), writes dQ, dK, dV and the input
 *  gradients bound with attnc_args_set_input_grad. Tensors are device pointers, with the
 *  forward's device rules. Asynchronous. The first call compiles the kernel's backward
 *  module, and the first with attnc_args_set_deterministic the deterministic mode's dQ module
 *  (docs/runtime.md, "The GPU backward"). */
ATTNC_API attnc_status attnc_run_backward(attnc_context *ctx, const attnc_kernel *kernel,
                                          const attnc_args *args, void *stream);
/** The float64 CPU reference backward on host buffers (gradients converted to their
 *  tensors' dtypes: F32, F16 or BF16; input gradients float32). A program whose score or
 *  out expression has no derivative is ATTNC_ERROR_INVALID_ARGUMENT with
 *  "LINE:COL: ..." naming the operation. `threads`: 0 for all cores. */
ATTNC_API attnc_status attnc_run_reference_backward(attnc_context *ctx, const attnc_kernel *kernel,
                                                    const attnc_args *args, int threads);
/** Checks arguments without running (`for_gpu`: also alignment, dtype, head dim). */
ATTNC_API attnc_status attnc_validate(attnc_context *ctx, const attnc_kernel *kernel,
                                      const attnc_args *args, int for_gpu);

/* ---- Device helpers (driver API, primary context of device 0) ---------- */

/** ATTNC_OK when a CUDA driver and GPU are present; otherwise why not. */
ATTNC_API attnc_status attnc_device_available(void);
ATTNC_API attnc_status attnc_device_malloc(void **ptr, size_t bytes);
ATTNC_API attnc_status attnc_device_free(void *ptr);
ATTNC_API attnc_status attnc_memcpy_to_device(void *device_dst, const void *host_src, size_t bytes);
ATTNC_API attnc_status attnc_memcpy_to_host(void *host_dst, const void *device_src, size_t bytes);
ATTNC_API attnc_status attnc_device_memset(void *device_dst, int byte_value, size_t bytes);
ATTNC_API attnc_status attnc_stream_synchronize(void *stream);

#ifdef __cplusplus
}
#endif

#endif /* ATTNC_ATTNC_H */
