//===- CApi.cpp - The C ABI over the C++ runtime --------------------------===//
//
// Every entry point catches all exceptions (nothing crosses the ABI) and records the
// message of a failure per thread and, when a context is involved, per context.
//
//===----------------------------------------------------------------------===//
#include "attnc/attnc.h"

#include "attnc/runtime/Device.h"
#include "attnc/runtime/Runtime.h"

#include <atomic>
#include <cmath>
#include <mutex>
#include <new>
#include <string>

using namespace attnc;
using namespace attnc::runtime;

struct attnc_context {
  Context context;
  mutable std::mutex mutex; ///< guards the strings below
  std::string lastError;
  std::string diagnostics;
  std::string cacheDirectory;
  explicit attnc_context(ContextOptions options) : context(std::move(options)) {}
};

struct attnc_options {
  CompileOptions options;
};

struct attnc_kernel {
  std::shared_ptr<Kernel> kernel;
  std::atomic<int> references{1};
};

struct attnc_args {
  Arguments args;
};

namespace {
thread_local std::string lastErrorMessage;

attnc_status fail(attnc_status status, std::string message, attnc_context *ctx = nullptr) {
  if (ctx) {
    std::lock_guard<std::mutex> lock(ctx->mutex);
    ctx->lastError = message;
  }
  lastErrorMessage = std::move(message);
  return status;
}

attnc_status report(const Status &status, attnc_context *ctx) {
  if (status.ok())
    return ATTNC_OK;
  return fail(static_cast<attnc_status>(status.code()), status.message(), ctx);
}

attnc_status nullArgument(const char *function, const char *what, attnc_context *ctx = nullptr) {
  return fail(ATTNC_ERROR_INVALID_ARGUMENT,
              std::string(function) + ": " + what + " must not be null", ctx);
}

/// fail() for the exception handlers: never throws (without memory for the message, the
/// message is a fixed one).
attnc_status failNoThrow(attnc_status status, const char *message, attnc_context *ctx) noexcept {
  try {
    return fail(status, message, ctx);
  } catch (...) {
    lastErrorMessage.clear();
    return status;
  }
}

/// Runs `body`, turning exceptions into ATTNC_ERROR_INTERNAL (or out of memory): every entry
/// point that returns a status runs inside it, so no exception crosses the C ABI.
template <class Body> attnc_status guarded(attnc_context *ctx, Body &&body) noexcept {
  try {
    return body();
  } catch (const std::bad_alloc &) {
    return failNoThrow(ATTNC_ERROR_INTERNAL, "out of host memory", ctx);
  } catch (const std::exception &e) {
    try {
      return fail(ATTNC_ERROR_INTERNAL, std::string("internal error: ") + e.what(), ctx);
    } catch (...) {
      return failNoThrow(ATTNC_ERROR_INTERNAL, "internal error", ctx);
    }
  } catch (...) {
    return failNoThrow(ATTNC_ERROR_INTERNAL, "internal error: unknown exception", ctx);
  }
}

/// For the entry points that return a value rather than a status: `fallback` on an exception.
template <class T, class Body> T guardedValue(T fallback, Body &&body) noexcept {
  try {
    return body();
  } catch (...) {
    return fallback;
  }
}

bool validDtype(int dtype) { return dtype >= ATTNC_I32 && dtype <= ATTNC_U8; }
} // namespace

extern "C" {

const char *attnc_version(void) { return ATTNC_VERSION_STRING; }
int attnc_abi_version(void) { return ATTNC_ABI_VERSION; }

const char *attnc_status_string(attnc_status status) {
  if (status < ATTNC_OK || status > ATTNC_ERROR_INTERNAL)
    return "unknown status";
  return statusCodeName(static_cast<StatusCode>(status));
}

const char *attnc_last_error(void) { return lastErrorMessage.c_str(); }

//===-- Context -----------------------------------------------------------===//

attnc_status attnc_context_create(const char *cache_dir, attnc_context **out) {
  return guarded(nullptr, [&]() -> attnc_status {
    if (!out)
      return nullArgument("attnc_context_create", "out");
    *out = nullptr;
    ContextOptions options;
    if (cache_dir)
      options.cacheDirectory = std::string(cache_dir);
    auto *ctx = new attnc_context(std::move(options));
    ctx->cacheDirectory = ctx->context.cache().directory();
    *out = ctx;
    return ATTNC_OK;
  });
}

void attnc_context_destroy(attnc_context *ctx) { delete ctx; }

const char *attnc_context_last_error(const attnc_context *ctx) {
  if (!ctx)
    return "attnc_context_last_error: ctx must not be null";
  return guardedValue<const char *>("", [&] {
    std::lock_guard<std::mutex> lock(ctx->mutex);
    return ctx->lastError.c_str();
  });
}

const char *attnc_context_diagnostics(const attnc_context *ctx) {
  if (!ctx)
    return "";
  return guardedValue<const char *>("", [&] {
    std::lock_guard<std::mutex> lock(ctx->mutex);
    return ctx->diagnostics.c_str();
  });
}

attnc_status attnc_context_cache_stats(const attnc_context *ctx, uint64_t *compilations,
                                       uint64_t *memory_hits, uint64_t *disk_hits) {
  return guarded(nullptr, [&]() -> attnc_status {
    if (!ctx)
      return nullArgument("attnc_context_cache_stats", "ctx");
    CacheStats stats = const_cast<attnc_context *>(ctx)->context.cache().stats();
    if (compilations)
      *compilations = stats.compilations;
    if (memory_hits)
      *memory_hits = stats.memoryHits;
    if (disk_hits)
      *disk_hits = stats.diskHits;
    return ATTNC_OK;
  });
}

const char *attnc_context_cache_dir(const attnc_context *ctx) {
  return ctx ? ctx->cacheDirectory.c_str() : "";
}

//===-- Options -----------------------------------------------------------===//

attnc_status attnc_options_create(attnc_options **out) {
  return guarded(nullptr, [&]() -> attnc_status {
    if (!out)
      return nullArgument("attnc_options_create", "out");
    *out = nullptr;
    *out = new attnc_options();
    return ATTNC_OK;
  });
}

void attnc_options_destroy(attnc_options *options) { delete options; }

attnc_status attnc_options_set_dtype(attnc_options *options, attnc_dtype dtype) {
  return guarded(nullptr, [&]() -> attnc_status {
    if (!options)
      return nullArgument("attnc_options_set_dtype", "options");
    if (dtype != ATTNC_BF16 && dtype != ATTNC_F16)
      return fail(ATTNC_ERROR_INVALID_ARGUMENT,
                  "attnc_options_set_dtype: the kernels compute in ATTNC_BF16 or ATTNC_F16 (got " +
                      std::to_string(int(dtype)) + ")");
    options->options.dtype = dtype == ATTNC_BF16 ? DataType::BF16 : DataType::F16;
    return ATTNC_OK;
  });
}

attnc_status attnc_options_set_dtype_name(attnc_options *options, const char *name) {
  if (!options || !name)
    return nullArgument("attnc_options_set_dtype_name", "options and name");
  return guarded(nullptr, [&] {
    DataType type = DataType::BF16;
    if (Status s = parseDataType(name, type); !s.ok())
      return fail(ATTNC_ERROR_INVALID_ARGUMENT, "attnc_options_set_dtype_name: " + s.message());
    options->options.dtype = type;
    return ATTNC_OK;
  });
}

attnc_status attnc_options_set_head_dim(attnc_options *options, int head_dim) {
  return guarded(nullptr, [&]() -> attnc_status {
    if (!options)
      return nullArgument("attnc_options_set_head_dim", "options");
    if (Status st = checkHeadDim(head_dim); !st.ok())
      return fail(ATTNC_ERROR_INVALID_ARGUMENT, "attnc_options_set_head_dim: " + st.message());
    options->options.headDim = head_dim;
    return ATTNC_OK;
  });
}

attnc_status attnc_options_set_arch(attnc_options *options, const char *arch) {
  return guarded(nullptr, [&]() -> attnc_status {
    if (!options)
      return nullArgument("attnc_options_set_arch", "options");
    if (!arch)
      return nullArgument("attnc_options_set_arch", "arch");
    options->options.arch = arch;
    return ATTNC_OK;
  });
}

attnc_status attnc_options_define(attnc_options *options, const char *name, const char *value) {
  return guarded(nullptr, [&]() -> attnc_status {
    if (!options)
      return nullArgument("attnc_options_define", "options");
    if (!name || !value)
      return nullArgument("attnc_options_define", "name and value");
    options->options.defines.push_back({name, value});
    return ATTNC_OK;
  });
}

attnc_status attnc_options_set_attention(attnc_options *options, const char *name) {
  return guarded(nullptr, [&]() -> attnc_status {
    if (!options)
      return nullArgument("attnc_options_set_attention", "options");
    options->options.attention = name ? name : "";
    return ATTNC_OK;
  });
}

attnc_status attnc_options_set_device(attnc_options *options, int device) {
  return guarded(nullptr, [&]() -> attnc_status {
    if (!options)
      return nullArgument("attnc_options_set_device", "options");
    if (device < 0)
      return fail(ATTNC_ERROR_INVALID_ARGUMENT, "attnc_options_set_device: negative device");
    options->options.device = device;
    return ATTNC_OK;
  });
}

attnc_status attnc_options_set_tiering(attnc_options *options, attnc_tiering tiering) {
  return guarded(nullptr, [&]() -> attnc_status {
    if (!options)
      return nullArgument("attnc_options_set_tiering", "options");
    switch (tiering) {
    case ATTNC_TIERING_AUTO:
      options->options.tiering = CompileOptions::Tiering::Auto;
      return ATTNC_OK;
    case ATTNC_TIERING_OFF:
      options->options.tiering = CompileOptions::Tiering::Off;
      return ATTNC_OK;
    case ATTNC_TIERING_ON:
      options->options.tiering = CompileOptions::Tiering::On;
      return ATTNC_OK;
    }
    return fail(ATTNC_ERROR_INVALID_ARGUMENT,
                "attnc_options_set_tiering: unknown mode " + std::to_string(int(tiering)));
  });
}

//===-- Compile -----------------------------------------------------------===//

namespace {
attnc_status finishCompile(attnc_context *ctx, const Status &status, std::shared_ptr<Kernel> kernel,
                           std::string diagnostics, attnc_kernel **out) {
  {
    std::lock_guard<std::mutex> lock(ctx->mutex);
    ctx->diagnostics = std::move(diagnostics);
  }
  if (!status.ok())
    return report(status, ctx);
  *out = new attnc_kernel{std::move(kernel)};
  return ATTNC_OK;
}
} // namespace

attnc_status attnc_compile(attnc_context *ctx, const char *source, const char *file_name,
                           const attnc_options *options, attnc_kernel **out) {
  return guarded(ctx, [&]() -> attnc_status {
    if (!ctx)
      return nullArgument("attnc_compile", "ctx");
    if (!out)
      return nullArgument("attnc_compile", "out", ctx);
    *out = nullptr;
    if (!source)
      return nullArgument("attnc_compile", "source", ctx);
    std::shared_ptr<Kernel> kernel;
    std::string diagnostics;
    Status status =
        ctx->context.compile(source, file_name ? file_name : "<input>",
                             options ? options->options : CompileOptions(), kernel, diagnostics);
    return finishCompile(ctx, status, std::move(kernel), std::move(diagnostics), out);
  });
}

attnc_status attnc_compile_file(attnc_context *ctx, const char *path, const attnc_options *options,
                                attnc_kernel **out) {
  return guarded(ctx, [&]() -> attnc_status {
    if (!ctx)
      return nullArgument("attnc_compile_file", "ctx");
    if (!out)
      return nullArgument("attnc_compile_file", "out", ctx);
    *out = nullptr;
    if (!path)
      return nullArgument("attnc_compile_file", "path", ctx);
    std::shared_ptr<Kernel> kernel;
    std::string diagnostics;
    Status status = ctx->context.compileFile(path, options ? options->options : CompileOptions(),
                                             kernel, diagnostics);
    return finishCompile(ctx, status, std::move(kernel), std::move(diagnostics), out);
  });
}

void attnc_kernel_retain(attnc_kernel *kernel) {
  if (kernel)
    kernel->references.fetch_add(1);
}

void attnc_kernel_release(attnc_kernel *kernel) {
  if (kernel && kernel->references.fetch_sub(1) == 1)
    delete kernel;
}

const char *attnc_kernel_name(const attnc_kernel *kernel) {
  return kernel ? kernel->kernel->name().c_str() : "";
}

const char *attnc_kernel_arch(const attnc_kernel *kernel) {
  return kernel ? kernel->kernel->arch().c_str() : "";
}

const char *attnc_kernel_cuda_source(const attnc_kernel *kernel) {
  return kernel ? kernel->kernel->cudaSource().c_str() : "";
}

const void *attnc_kernel_cubin(const attnc_kernel *kernel, size_t *size) {
  if (size)
    *size = 0;
  return guardedValue<const void *>(nullptr, [&]() -> const void * {
    const std::string *binary =
        kernel && kernel->kernel->hasBinary() ? &kernel->kernel->cubin() : nullptr;
    if (size)
      *size = binary ? binary->size() : 0;
    return binary ? binary->data() : nullptr;
  });
}

int attnc_kernel_is_optimized(const attnc_kernel *kernel) {
  return guardedValue(0, [&] { return kernel && kernel->kernel->optimized() ? 1 : 0; });
}

attnc_status attnc_kernel_wait_optimized(const attnc_kernel *kernel) {
  return guarded(nullptr, [&]() -> attnc_status {
    if (!kernel)
      return nullArgument("attnc_kernel_wait_optimized", "kernel");
    return report(kernel->kernel->waitUntilOptimized(), nullptr);
  });
}

double attnc_kernel_optimized_ms(const attnc_kernel *kernel) {
  return guardedValue(-1.0,
                      [&] { return kernel ? kernel->kernel->optimizedMilliseconds() : -1.0; });
}

int attnc_kernel_has_out(const attnc_kernel *kernel) {
  return kernel && kernel->kernel->attention().out ? 1 : 0;
}

int attnc_kernel_param_count(const attnc_kernel *kernel) {
  return kernel ? int(kernel->kernel->manifest().params.size()) : 0;
}

const char *attnc_kernel_param_name(const attnc_kernel *kernel, int index, int *kind) {
  if (!kernel || index < 0 || index >= attnc_kernel_param_count(kernel))
    return nullptr;
  const ManifestParam &param = kernel->kernel->manifest().params[size_t(index)];
  if (kind)
    *kind = param.type == dsl::Type::Float ? 1 : param.type == dsl::Type::Bool ? 2 : 0;
  return param.name.c_str();
}

int attnc_kernel_input_count(const attnc_kernel *kernel) {
  return kernel ? int(kernel->kernel->manifest().inputs.size()) : 0;
}

const char *attnc_kernel_input_name(const attnc_kernel *kernel, int index, attnc_dtype *dtype,
                                    int *rank) {
  if (!kernel || index < 0 || index >= attnc_kernel_input_count(kernel))
    return nullptr;
  const ManifestInput &input = kernel->kernel->manifest().inputs[size_t(index)];
  if (dtype)
    *dtype = static_cast<attnc_dtype>(input.elementType);
  if (rank)
    *rank = int(input.dims.size());
  return input.name.c_str();
}

//===-- Arguments ---------------------------------------------------------===//

attnc_status attnc_args_create(attnc_args **out) {
  return guarded(nullptr, [&]() -> attnc_status {
    if (!out)
      return nullArgument("attnc_args_create", "out");
    *out = nullptr;
    *out = new attnc_args();
    return ATTNC_OK;
  });
}

void attnc_args_destroy(attnc_args *args) { delete args; }

attnc_status attnc_args_set_tensor(attnc_args *args, attnc_tensor_role role, void *data,
                                   attnc_dtype dtype, int batch, int heads, int tokens,
                                   int head_dim, int64_t stride_batch, int64_t stride_head,
                                   int64_t stride_token) {
  return guarded(nullptr, [&]() -> attnc_status {
    if (!args)
      return nullArgument("attnc_args_set_tensor", "args");
    if (role < ATTNC_Q || role > ATTNC_O_BEFORE_OUT)
      return fail(ATTNC_ERROR_INVALID_ARGUMENT,
                  "attnc_args_set_tensor: role must be ATTNC_Q, ATTNC_K, ATTNC_V, ATTNC_O, "
                  "ATTNC_DO, ATTNC_DQ, ATTNC_DK, ATTNC_DV or ATTNC_O_BEFORE_OUT (got " +
                      std::to_string(int(role)) + ")");
    if (!validDtype(dtype))
      return fail(ATTNC_ERROR_INVALID_ARGUMENT,
                  "attnc_args_set_tensor: unknown dtype " + std::to_string(int(dtype)));
    QkvTensor tensor;
    tensor.data = data;
    tensor.dtype = static_cast<dsl::ElementType>(dtype);
    tensor.batch = batch;
    tensor.heads = heads;
    tensor.tokens = tokens;
    tensor.headDim = head_dim;
    tensor.strideBatch = stride_batch;
    tensor.strideHead = stride_head;
    tensor.strideToken = stride_token;
    Arguments &a = args->args;
    QkvTensor *targets[] = {&a.q, &a.k, &a.v, &a.o, &a.dO, &a.dQ, &a.dK, &a.dV, &a.oBeforeOut};
    *targets[role] = tensor;
    return ATTNC_OK;
  });
}

attnc_status attnc_args_set_lse(attnc_args *args, float *data, int64_t stride_batch,
                                int64_t stride_head, int64_t stride_token) {
  return guarded(nullptr, [&]() -> attnc_status {
    if (!args)
      return nullArgument("attnc_args_set_lse", "args");
    args->args.lse.data = data;
    args->args.lse.strideBatch = stride_batch;
    args->args.lse.strideHead = stride_head;
    args->args.lse.strideToken = stride_token;
    return ATTNC_OK;
  });
}

attnc_status attnc_args_set_dlse(attnc_args *args, const float *data, int64_t stride_batch,
                                 int64_t stride_head, int64_t stride_token) {
  return guarded(nullptr, [&]() -> attnc_status {
    if (!args)
      return nullArgument("attnc_args_set_dlse", "args");
    args->args.dLse.data = const_cast<float *>(data);
    args->args.dLse.strideBatch = stride_batch;
    args->args.dLse.strideHead = stride_head;
    args->args.dLse.strideToken = stride_token;
    return ATTNC_OK;
  });
}

attnc_status attnc_args_set_input(attnc_args *args, const char *name, const void *data,
                                  attnc_dtype dtype, int rank, const int64_t *dims,
                                  const int64_t *strides) {
  return guarded(nullptr, [&]() -> attnc_status {
    if (!args)
      return nullArgument("attnc_args_set_input", "args");
    if (!name)
      return nullArgument("attnc_args_set_input", "name");
    if (!dims)
      return nullArgument("attnc_args_set_input", "dims");
    if (!validDtype(dtype))
      return fail(ATTNC_ERROR_INVALID_ARGUMENT, std::string("attnc_args_set_input: input '") +
                                                    name + "' has an unknown dtype " +
                                                    std::to_string(int(dtype)));
    if (rank < 1 || rank > 4)
      return fail(ATTNC_ERROR_INVALID_ARGUMENT, std::string("attnc_args_set_input: input '") +
                                                    name + "' has rank " + std::to_string(rank) +
                                                    " (1 to 4 supported)");
    InputTensor tensor;
    tensor.data = data;
    tensor.dtype = static_cast<dsl::ElementType>(dtype);
    tensor.dims.assign(dims, dims + rank);
    if (strides)
      tensor.strides.assign(strides, strides + rank);
    args->args.inputs[name] = std::move(tensor);
    return ATTNC_OK;
  });
}

attnc_status attnc_args_set_input_grad(attnc_args *args, const char *name, float *data, int rank,
                                       const int64_t *strides) {
  return guarded(nullptr, [&]() -> attnc_status {
    if (!args)
      return nullArgument("attnc_args_set_input_grad", "args");
    if (!name)
      return nullArgument("attnc_args_set_input_grad", "name");
    if (!data) {
      args->args.inputGrads.erase(name);
      return ATTNC_OK;
    }
    if (rank < 1 || rank > 4)
      return fail(ATTNC_ERROR_INVALID_ARGUMENT,
                  std::string("attnc_args_set_input_grad: the gradient of input '") + name +
                      "' has rank " + std::to_string(rank) + " (1 to 4 supported)");
    InputGradTensor tensor;
    tensor.data = data;
    if (strides)
      tensor.strides.assign(strides, strides + rank);
    args->args.inputGrads[name] = std::move(tensor);
    return ATTNC_OK;
  });
}

attnc_status attnc_args_set_deterministic(attnc_args *args, int deterministic) {
  return guarded(nullptr, [&]() -> attnc_status {
    if (!args)
      return nullArgument("attnc_args_set_deterministic", "args");
    args->args.deterministic = deterministic != 0;
    return ATTNC_OK;
  });
}

attnc_status attnc_args_set_param_int(attnc_args *args, const char *name, int64_t value) {
  return guarded(nullptr, [&]() -> attnc_status {
    if (!args || !name)
      return nullArgument("attnc_args_set_param_int", "args and name");
    dsl::ConstValue v;
    v.type = dsl::Type::Int;
    v.i = value;
    args->args.params[name] = v;
    return ATTNC_OK;
  });
}

attnc_status attnc_args_set_param_float(attnc_args *args, const char *name, double value) {
  return guarded(nullptr, [&]() -> attnc_status {
    if (!args || !name)
      return nullArgument("attnc_args_set_param_float", "args and name");
    args->args.setParam(name, value);
    return ATTNC_OK;
  });
}

attnc_status attnc_args_set_param_bool(attnc_args *args, const char *name, int value) {
  return guarded(nullptr, [&]() -> attnc_status {
    if (!args || !name)
      return nullArgument("attnc_args_set_param_bool", "args and name");
    args->args.setParam(name, value != 0);
    return ATTNC_OK;
  });
}

attnc_status attnc_args_set_scale(attnc_args *args, float scale) {
  return guarded(nullptr, [&]() -> attnc_status {
    if (!args)
      return nullArgument("attnc_args_set_scale", "args");
    if (!std::isfinite(scale))
      return fail(ATTNC_ERROR_INVALID_ARGUMENT, "attnc_args_set_scale: the scale must be finite");
    args->args.scale = scale;
    return ATTNC_OK;
  });
}

attnc_status attnc_args_clear_scale(attnc_args *args) {
  return guarded(nullptr, [&]() -> attnc_status {
    if (!args)
      return nullArgument("attnc_args_clear_scale", "args");
    args->args.scale.reset();
    return ATTNC_OK;
  });
}

//===-- Run ---------------------------------------------------------------===//

attnc_status attnc_run(attnc_context *ctx, const attnc_kernel *kernel, const attnc_args *args,
                       void *stream) {
  return guarded(ctx, [&]() -> attnc_status {
    if (!ctx)
      return nullArgument("attnc_run", "ctx");
    if (!kernel || !args)
      return nullArgument("attnc_run", "kernel and args", ctx);
    return guarded(
        ctx, [&] { return report(ctx->context.launch(*kernel->kernel, args->args, stream), ctx); });
  });
}

attnc_status attnc_run_reference(attnc_context *ctx, const attnc_kernel *kernel,
                                 const attnc_args *args, int threads) {
  return guarded(ctx, [&]() -> attnc_status {
    if (!ctx)
      return nullArgument("attnc_run_reference", "ctx");
    if (!kernel || !args)
      return nullArgument("attnc_run_reference", "kernel and args", ctx);
    return report(ctx->context.runReference(*kernel->kernel, args->args, threads), ctx);
  });
}

attnc_status attnc_run_backward(attnc_context *ctx, const attnc_kernel *kernel,
                                const attnc_args *args, void *stream) {
  return guarded(ctx, [&]() -> attnc_status {
    if (!ctx)
      return nullArgument("attnc_run_backward", "ctx");
    if (!kernel || !args)
      return nullArgument("attnc_run_backward", "kernel and args", ctx);
    return report(ctx->context.launchBackward(*kernel->kernel, args->args, stream), ctx);
  });
}

attnc_status attnc_run_reference_backward(attnc_context *ctx, const attnc_kernel *kernel,
                                          const attnc_args *args, int threads) {
  return guarded(ctx, [&]() -> attnc_status {
    if (!ctx)
      return nullArgument("attnc_run_reference_backward", "ctx");
    if (!kernel || !args)
      return nullArgument("attnc_run_reference_backward", "kernel and args", ctx);
    return report(ctx->context.runReferenceBackward(*kernel->kernel, args->args, threads), ctx);
  });
}

attnc_status attnc_validate(attnc_context *ctx, const attnc_kernel *kernel, const attnc_args *args,
                            int for_gpu) {
  return guarded(ctx, [&]() -> attnc_status {
    if (!ctx)
      return nullArgument("attnc_validate", "ctx");
    if (!kernel || !args)
      return nullArgument("attnc_validate", "kernel and args", ctx);
    return report(ctx->context.validate(*kernel->kernel, args->args, for_gpu != 0), ctx);
  });
}

//===-- Device helpers ----------------------------------------------------===//

namespace {
attnc_status deviceResult(bool ok, const std::string &error) {
  if (ok)
    return ATTNC_OK;
  bool noDriver = error.find("no CUDA driver") != std::string::npos ||
                  error.find("no usable CUDA device") != std::string::npos ||
                  error.find("reports no GPU") != std::string::npos;
  return fail(noDriver ? ATTNC_ERROR_NO_DEVICE : ATTNC_ERROR_CUDA, error);
}
} // namespace

attnc_status attnc_device_available(void) {
  return guarded(nullptr, [&] {
    std::string error;
    bool ok = deviceAvailable(error);
    return ok ? ATTNC_OK : fail(ATTNC_ERROR_NO_DEVICE, error);
  });
}

attnc_status attnc_device_malloc(void **ptr, size_t bytes) {
  return guarded(nullptr, [&]() -> attnc_status {
    if (!ptr)
      return nullArgument("attnc_device_malloc", "ptr");
    *ptr = nullptr;
    std::string error;
    bool ok = deviceAlloc(ptr, bytes, error);
    return deviceResult(ok, error);
  });
}

attnc_status attnc_device_free(void *ptr) {
  return guarded(nullptr, [&] {
    std::string error;
    bool ok = deviceFree(ptr, error);
    return deviceResult(ok, error);
  });
}

attnc_status attnc_memcpy_to_device(void *device_dst, const void *host_src, size_t bytes) {
  return guarded(nullptr, [&]() -> attnc_status {
    if (!device_dst || !host_src)
      return nullArgument("attnc_memcpy_to_device", "pointers");
    std::string error;
    bool ok = copyToDevice(device_dst, host_src, bytes, error);
    return deviceResult(ok, error);
  });
}

attnc_status attnc_memcpy_to_host(void *host_dst, const void *device_src, size_t bytes) {
  return guarded(nullptr, [&]() -> attnc_status {
    if (!host_dst || !device_src)
      return nullArgument("attnc_memcpy_to_host", "pointers");
    std::string error;
    bool ok = copyToHost(host_dst, device_src, bytes, error);
    return deviceResult(ok, error);
  });
}

attnc_status attnc_device_memset(void *device_dst, int byte_value, size_t bytes) {
  return guarded(nullptr, [&]() -> attnc_status {
    if (!device_dst)
      return nullArgument("attnc_device_memset", "device_dst");
    std::string error;
    bool ok = deviceMemset(device_dst, static_cast<unsigned char>(byte_value), bytes, error);
    return deviceResult(ok, error);
  });
}

attnc_status attnc_stream_synchronize(void *stream) {
  return guarded(nullptr, [&] {
    std::string error;
    bool ok = streamSynchronize(stream, error);
    return deviceResult(ok, error);
  });
}

} // extern "C"
