//===- Runtime.h - Compile and run attention programs (C++ API) --*- C++ -*-===//
//
// The embeddable C++ API; include/attnc/attnc.h is the stable C ABI over it.
//
//   attnc::runtime::Context context;                      // cache, device
//   attnc::runtime::CompileOptions options;               // bf16, d = 128, arch auto
//   std::shared_ptr<attnc::runtime::Kernel> kernel;
//   std::string diagnostics;
//   Status status = context.compile(sourceText, "mine.attn", options, kernel, diagnostics);
//   attnc::runtime::Arguments args;
//   args.q = QkvTensor::bhsd(q, B, H, N, 128);  ...  args.setParam("window", 1024);
//   status = context.launch(*kernel, args, stream);       // CUstream as void*
//
// Sequence lengths, batch, heads, strides, params and the scale are run-time arguments:
// changing them never recompiles. The dtype, head dim, arch, -D constants and the
// source do (each combination is one cache entry). docs/api.md has the full reference.
//
//===----------------------------------------------------------------------===//
#ifndef ATTNC_RUNTIME_RUNTIME_H
#define ATTNC_RUNTIME_RUNTIME_H

#include "attnc/compiler/Codegen.h"
#include "attnc/dsl/AST.h"
#include "attnc/dsl/Frontend.h"
#include "attnc/runtime/KernelCache.h"
#include "attnc/runtime/KernelManifest.h"

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace attnc::runtime {

/// Error codes; the numeric values are the C ABI's attnc_status values.
enum class StatusCode : int {
  Ok = 0,
  InvalidArgument = 1, ///< null pointers, bad shapes/strides/dtypes, unknown names
  ParseError = 2,      ///< the program has errors (see the diagnostics text)
  CompileError = 3,    ///< code generation or NVRTC failed
  NoDevice = 4,        ///< no CUDA driver or GPU
  CudaError = 5,       ///< a driver call failed (module load, launch, ...)
  Unsupported = 6,     ///< valid request the runtime cannot serve (yet)
  IoError = 7,         ///< a file could not be read
  Internal = 8,        ///< a bug in attnc
};

const char *statusCodeName(StatusCode code);

/// The outcome of an operation: a code and, on failure, a message for the user.
class Status {
public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}
  static Status success() { return Status(); }
  bool ok() const { return code_ == StatusCode::Ok; }
  StatusCode code() const { return code_; }
  const std::string &message() const { return message_; }

private:
  StatusCode code_ = StatusCode::Ok;
  std::string message_;
};

/// Element type of Q, K, V and O on the GPU.
enum class DataType { BF16, F16 };
/// The canonical name: "bf16" or "fp16".
const char *dataTypeName(DataType type);
/// Parses a dtype as every user surface spells it (the CLI's --dtype, the C ABI's
/// attnc_options_set_dtype_name, hence Python): "bf16", "bfloat16"; "fp16", "f16",
/// "float16", "half" (exactly, lower case). InvalidArgument naming them otherwise.
Status parseDataType(std::string_view text, DataType &type);
/// The accepted spellings in that order, comma-separated (for messages and docs).
const char *dataTypeSpellings();

/// The head dims the kernel templates are built for (64, 128, 256): InvalidArgument with
/// "head dim N is not supported (...)" otherwise. Checked before any code generation.
Status checkHeadDim(int headDim);

struct CompileOptions {
  DataType dtype = DataType::BF16;
  int headDim = 128; ///< 64, 128 or 256
  /// "auto" (the current device), "sm_80", "sm_90a", ... or "none": parse, check and
  /// generate only, for the CPU reference on machines without NVRTC use.
  std::string arch = "auto";
  std::vector<dsl::ConstOverride> defines; ///< -D NAME=VALUE
  std::string attention;                   ///< which attention; empty: the only one
  int device = 0; ///< device whose primary context is used when none is current
  /// Tiered compilation, for a short first use. On a cache miss, a tiered compile first
  /// builds a quick kernel (the portable template at NVRTC's fast-compile settings: 3-5x
  /// less compile time, 20-50x slower to run) and returns it; the optimized kernel
  /// compiles on a background thread of the context and replaces the quick one at a later
  /// launch (Kernel::waitUntilOptimized waits for it). A cache hit of the optimized
  /// kernel is returned directly. Auto: tiered when arch is "auto" (compiling to run here
  /// and now) unless the environment sets ATTNC_TIERED=0. ATTNC_TIERED=quick makes every
  /// tiered compile stop at the quick kernel (for testing it).
  enum class Tiering { Auto, Off, On };
  Tiering tiering = Tiering::Auto;
};

/// A compiled attention: the checked program, its hooks, the full CUDA source, the cubin
/// and its manifest. Immutable and shareable across threads; GPU modules are loaded lazily,
/// once per CUDA context. Validation and launch read the manifest only; the program and
/// hooks are for tools and the CPU reference.
class Kernel {
public:
  ~Kernel();
  const std::string &name() const { return attention_->name; }
  const dsl::Program &program() const { return *program_; }
  const dsl::AttentionDecl &attention() const { return *attention_; }
  const compiler::GeneratedHooks &hooks() const { return hooks_; }
  const CompileOptions &options() const { return options_; }
  const std::string &arch() const { return arch_; }
  /// The full CUDA source given to NVRTC (empty when arch is "none").
  const std::string &cudaSource() const { return cudaSource_; }
  /// The cubin in use: a tiered kernel's quick one until the optimized one is installed
  /// (every binary stays alive as long as the kernel, so the reference stays valid).
  const std::string &cubin() const;
  /// What validation and launch read: the manifest stored with the binary in use (a tiered
  /// kernel's quick one until the optimized one is installed; the reference stays valid),
  /// or the compile's own for arch "none".
  const KernelManifest &manifest() const;
  /// The cache key of the optimized kernel.
  const std::string &cacheKey() const { return cacheKey_; }
  /// NVRTC's log (warnings), if any.
  const std::string &compileLog() const { return compileLog_; }
  bool hasBinary() const;
  /// False while a tiered kernel still runs its quick binary.
  bool optimized() const;
  /// Waits for a tiered kernel's background compile and installs its result (launches
  /// install it too, as soon as it is ready). Returns that compile's status; success at
  /// once for a kernel that is not tiered. On failure the quick kernel stays in use.
  Status waitUntilOptimized() const;
  /// Milliseconds from the start of compile() until the optimized binary was ready
  /// (the compile call itself when not tiered); negative while it is not ready.
  double optimizedMilliseconds() const;

  /// The kernel's binaries and loaded modules, and its background compile: defined in the
  /// runtime's sources (runtime/lib/KernelState.h), opaque here.
  struct Modules;
  struct Tier;
  struct Backward;

  /// The backward module's CUDA source, once Context::compileBackward has built it (empty
  /// before).
  std::string backwardCudaSource() const;

private:
  friend class Context;
  Kernel();
  std::unique_ptr<dsl::SourceFile> source_;
  std::unique_ptr<dsl::Program> program_;
  const dsl::AttentionDecl *attention_ = nullptr;
  compiler::GeneratedHooks hooks_;
  KernelManifest manifest_;
  CompileOptions options_;
  std::string arch_;
  std::string cudaSource_;
  std::string cacheKey_;
  std::string compileLog_;
  double compileMilliseconds_ = -1;
  std::unique_ptr<Modules> modules_;
  std::shared_ptr<Tier> tier_; ///< the background compile of a tiered kernel, else null
  std::unique_ptr<Backward> backward_;
  /// Installs a finished optimized binary (idempotent); returns true when it is in use.
  bool installOptimized() const;
};

/// Q, K, V or O: logical dims [batch, heads, tokens, headDim], the last dim contiguous,
/// the others at any element strides (BHSD and BSHD are both just strides).
struct QkvTensor {
  void *data = nullptr;
  int batch = 0, heads = 0, tokens = 0, headDim = 0;
  int64_t strideBatch = 0, strideHead = 0, strideToken = 0; ///< in elements
  /// Element type: for the GPU it must be the compiled dtype; the CPU reference also
  /// accepts F32 (and F64) host buffers. Codes are dsl::ElementType values.
  dsl::ElementType dtype = dsl::ElementType::BF16;
  bool isSet() const { return data != nullptr; }
  /// [batch, heads, tokens, d] contiguous.
  static QkvTensor bhsd(void *data, int batch, int heads, int tokens, int headDim,
                        dsl::ElementType dtype = dsl::ElementType::BF16);
  /// [batch, tokens, heads, d] contiguous.
  static QkvTensor bshd(void *data, int batch, int heads, int tokens, int headDim,
                        dsl::ElementType dtype = dsl::ElementType::BF16);
};

/// Optional log-sum-exp output, float32 [batch, heads, q_len] at element strides.
struct LseTensor {
  float *data = nullptr;
  int64_t strideBatch = 0, strideHead = 0, strideToken = 1;
};

/// A tensor bound to a declared `input`.
struct InputTensor {
  const void *data = nullptr;
  dsl::ElementType dtype = dsl::ElementType::F32;
  std::vector<int64_t> dims;
  std::vector<int64_t> strides; ///< in elements; empty: contiguous (row-major)
};

/// A gradient output for a declared float `input` (backward only): float32, the input's
/// dims, written (not accumulated) by the backward.
struct InputGradTensor {
  float *data = nullptr;
  std::vector<int64_t> strides; ///< in elements; empty: contiguous (row-major)
};

/// Everything one launch reads. For the GPU the pointers are device pointers; for
/// Context::runReference they are host pointers.
struct Arguments {
  QkvTensor q, k, v, o;
  LseTensor lse;
  std::map<std::string, InputTensor> inputs;
  std::map<std::string, dsl::ConstValue> params;
  std::optional<float> scale; ///< default 1/sqrt(head dim)
  /// Optional, for programs with an `out` expression: the output before it (O's shape and
  /// dtype). The forward writes it when bound; the backward then reads it instead of
  /// recomputing it (a forward's worth of work: docs/runtime.md, "The GPU backward").
  QkvTensor oBeforeOut;

  /// Backward only (Context::launchBackward, runReferenceBackward). q, k, v, inputs, params
  /// and scale are the forward's; o and lse its outputs (lse is required); dO has O's shape;
  /// dQ, dK, dV have Q's, K's and V's shapes and are written. inputGrads names the float
  /// inputs whose gradients are wanted.
  QkvTensor dO, dQ, dK, dV;
  /// Optional dL/dLSE (float32 [batch, heads, q_len]; the GPU needs token stride 1), for a
  /// loss that also reads the forward's LSE.
  LseTensor dLse;
  std::map<std::string, InputGradTensor> inputGrads;
  /// No order-dependent atomics: bit-identical results from run to run (docs/runtime.md,
  /// "Backward", gives its cost).
  bool deterministic = false;

  void setParam(const std::string &name, int value);
  void setParam(const std::string &name, double value);
  void setParam(const std::string &name, bool value);
};

struct ContextOptions {
  /// Disk cache directory; unset: defaultCacheDirectory(); "": memory only.
  std::optional<std::string> cacheDirectory;
};

/// Holds the kernel cache. Thread-safe: compile and launch may be called from several
/// threads. Scratch memory (input summaries) is allocated stream-ordered per launch.
class Context {
public:
  explicit Context(ContextOptions options = {});
  ~Context();
  Context(const Context &) = delete;
  Context &operator=(const Context &) = delete;

  /// Parses, checks, generates and compiles (or fetches from the cache). On a parse
  /// error returns ParseError with the rendered diagnostics in `diagnostics` (warnings
  /// are rendered there too on success).
  Status compile(const std::string &sourceText, const std::string &fileName,
                 const CompileOptions &options, std::shared_ptr<Kernel> &kernel,
                 std::string &diagnostics);
  Status compileFile(const std::string &path, const CompileOptions &options,
                     std::shared_ptr<Kernel> &kernel, std::string &diagnostics);

  /// Validates `args` against the kernel and launches it on `stream` (a CUstream; null
  /// is the legacy default stream). Asynchronous: errors of the kernel itself appear at
  /// the next synchronisation.
  Status launch(const Kernel &kernel, const Arguments &args, void *stream);

  /// Runs the float64 CPU reference on host buffers bound in `args` (O gets the result
  /// converted to its dtype: F32, F64, F16 or BF16; LSE as float32).
  Status runReference(const Kernel &kernel, const Arguments &args, int threads = 0);

  /// Checks `args` against the kernel without launching (`forGpu`: also device rules:
  /// dtype, head dim, alignment).
  Status validate(const Kernel &kernel, const Arguments &args, bool forGpu) const;

  /// The backward pass on `stream`: from the forward's Q, K, V, O, LSE (and inputs, params,
  /// scale) and dO, writes dQ, dK, dV and the requested input gradients. The first call
  /// compiles the kernel's backward module (cached like the forward). Asynchronous.
  Status launchBackward(const Kernel &kernel, const Arguments &args, void *stream);
  /// Compiles (or fetches from the cache) the kernel's backward module: the derivative hooks
  /// and the backward kernels; with `deterministic`, also the deterministic mode's dQ module,
  /// which launchBackward otherwise compiles on the first deterministic backward (it costs
  /// about as much as the rest). launchBackward calls it on first use; calling it first moves
  /// the compile out of the first backward. The outcome is kept: a failed compile fails every
  /// later backward of the kernel with the same status.
  Status compileBackward(const Kernel &kernel, bool deterministic = false);
  /// The float64 CPU reference backward on host buffers (gradients converted to their
  /// tensors' dtypes).
  Status runReferenceBackward(const Kernel &kernel, const Arguments &args, int threads = 0);
  /// validate() plus the backward's rules: dO, dQ, dK, dV bound with the shapes of O, Q, K,
  /// V; LSE bound; input gradients only for float inputs the score or out expression reads,
  /// of a differentiable program.
  Status validateBackward(const Kernel &kernel, const Arguments &args, bool forGpu) const;

  KernelCache &cache() { return *cache_; }

private:
  std::unique_ptr<KernelCache> cache_;
  struct Background;
  std::unique_ptr<Background> background_; ///< tiered compiles in flight (joined on destruction)
};

} // namespace attnc::runtime

#endif // ATTNC_RUNTIME_RUNTIME_H
