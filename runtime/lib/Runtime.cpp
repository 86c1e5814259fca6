//===- Runtime.cpp - Compile, validate, launch ----------------------------===//
#include "attnc/runtime/Runtime.h"

#include "CudaDriver.h"
#include "attnc/dsl/Diagnostics.h"
#include "attnc/reference/HostTensor.h"
#include "attnc/reference/Reference.h"
#include "attnc/runtime/Device.h"
#include "attnc/runtime/KernelArgs.h"
#include "attnc/runtime/KernelSource.h"
#include "attnc/runtime/Nvrtc.h"
#include "attnc/runtime/RouteSource.h"

#include "attnc_forward_params.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <future>
#include <limits>
#include <sstream>
#include <thread>

namespace attnc::runtime {

//===----------------------------------------------------------------------===//
// Small types
//===----------------------------------------------------------------------===//

const char *statusCodeName(StatusCode code) {
  switch (code) {
  case StatusCode::Ok:
    return "ok";
  case StatusCode::InvalidArgument:
    return "invalid argument";
  case StatusCode::ParseError:
    return "errors in the program";
  case StatusCode::CompileError:
    return "compilation failed";
  case StatusCode::NoDevice:
    return "no CUDA device";
  case StatusCode::CudaError:
    return "CUDA error";
  case StatusCode::Unsupported:
    return "unsupported";
  case StatusCode::IoError:
    return "I/O error";
  case StatusCode::Internal:
    return "internal error";
  }
  return "unknown status";
}

const char *dataTypeName(DataType type) { return type == DataType::BF16 ? "bf16" : "fp16"; }

namespace {
struct DataTypeSpelling {
  const char *text;
  DataType type;
};
constexpr DataTypeSpelling kDataTypeSpellings[] = {
    {"bf16", DataType::BF16}, {"bfloat16", DataType::BF16}, {"fp16", DataType::F16},
    {"f16", DataType::F16},   {"float16", DataType::F16},   {"half", DataType::F16}};
} // namespace

const char *dataTypeSpellings() {
  static const std::string text = [] {
    std::string t;
    for (const DataTypeSpelling &s : kDataTypeSpellings)
      t += (t.empty() ? "" : ", ") + std::string(s.text);
    return t;
  }();
  return text.c_str();
}

Status parseDataType(std::string_view text, DataType &type) {
  for (const DataTypeSpelling &s : kDataTypeSpellings)
    if (text == s.text) {
      type = s.type;
      return Status::success();
    }
  return Status(StatusCode::InvalidArgument,
                "unknown dtype '" + std::string(text) +
                    "' (the kernels compute in bf16 or fp16: " + dataTypeSpellings() + ")");
}

Status checkHeadDim(int headDim) {
  if (headDim == 64 || headDim == 128 || headDim == 256)
    return Status::success();
  return Status(StatusCode::InvalidArgument,
                "head dim " + std::to_string(headDim) +
                    " is not supported (the kernels support 64, 128 and 256)");
}

QkvTensor QkvTensor::bhsd(void *data, int batch, int heads, int tokens, int headDim,
                          dsl::ElementType dtype) {
  QkvTensor t;
  t.data = data;
  t.batch = batch;
  t.heads = heads;
  t.tokens = tokens;
  t.headDim = headDim;
  t.strideToken = headDim;
  t.strideHead = int64_t(tokens) * headDim;
  t.strideBatch = int64_t(heads) * tokens * headDim;
  t.dtype = dtype;
  return t;
}

QkvTensor QkvTensor::bshd(void *data, int batch, int heads, int tokens, int headDim,
                          dsl::ElementType dtype) {
  QkvTensor t = bhsd(data, batch, heads, tokens, headDim, dtype);
  t.strideHead = headDim;
  t.strideToken = int64_t(heads) * headDim;
  t.strideBatch = int64_t(tokens) * heads * headDim;
  return t;
}

void Arguments::setParam(const std::string &name, int value) {
  dsl::ConstValue v;
  v.type = dsl::Type::Int;
  v.i = value;
  params[name] = v;
}

void Arguments::setParam(const std::string &name, double value) {
  dsl::ConstValue v;
  v.type = dsl::Type::Float;
  v.f = value;
  params[name] = v;
}

void Arguments::setParam(const std::string &name, bool value) {
  dsl::ConstValue v;
  v.type = dsl::Type::Bool;
  v.b = value;
  params[name] = v;
}

//===----------------------------------------------------------------------===//
// Kernel
//===----------------------------------------------------------------------===//

/// GPU modules of one kernel, loaded once per CUDA context, and the binary they come from.
struct Kernel::Modules {
  struct Loaded {
    CUmodule module = nullptr;
    CUfunction forward = nullptr;
    CUfunction summarize = nullptr;
    CUfunction routePoolKeys = nullptr, routePoolQueries = nullptr, routeSelect = nullptr;
    /// block_m, block_n, threads, stages, dynamic smem, head dim, 1 = TMA template,
    /// 1 = persistent (grid of at most one CTA per SM taking units from a counter)
    int config[8] = {};
    int multiprocessors = 0;
    /// The kernel's development counters (built with ATTNC_SM90_TRACE=1), else 0.
    CUdeviceptr trace = 0;
    size_t traceBytes = 0;
    unsigned generation = 0; ///< of the binary this module was loaded from
  };
  std::mutex mutex;
  std::map<CUcontext, Loaded> byContext;
  /// The binary in use; `generation` counts its replacements (a tiered kernel's quick
  /// binary is generation 0, the optimized one 1).
  std::shared_ptr<const std::string> binary;
  bool hopper = false; ///< the binary holds the sm_90a template's entry
  unsigned generation = 0;
  /// Every binary the kernel has used (cubin() references stay valid) and the modules
  /// of replaced binaries (a launch in flight may still run them; unloaded with the kernel).
  std::vector<std::shared_ptr<const std::string>> binaries;
  std::vector<CUmodule> retired;

  /// Makes `next` the binary in use (the caller holds `mutex` once the kernel is shared).
  void use(std::shared_ptr<const std::string> next, bool nextHopper) {
    if (binary)
      ++generation;
    binary = next;
    hopper = nextHopper;
    binaries.push_back(std::move(next));
  }
};

/// The background compile of a tiered kernel's optimized binary.
struct Kernel::Tier {
  std::mutex mutex;
  std::condition_variable finished;
  bool done = false;
  Status status;
  std::shared_ptr<const std::string> binary;
  bool hopper = false;
  std::chrono::steady_clock::time_point started; ///< when compile() began
  double milliseconds = -1;                      ///< until the optimized binary was ready
};

Kernel::Kernel() : modules_(std::make_unique<Modules>()) {}

Kernel::~Kernel() {
  std::string ignored;
  const CudaDriver *d = modules_ && (!modules_->byContext.empty() || !modules_->retired.empty())
                            ? cudaDriver(ignored)
                            : nullptr;
  if (!d)
    return;
  // Best effort: at process exit the driver may already be shut down.
  for (auto &[context, loaded] : modules_->byContext)
    d->cuModuleUnload(loaded.module);
  for (CUmodule module : modules_->retired)
    d->cuModuleUnload(module);
}

const std::string &Kernel::cubin() const {
  static const std::string empty;
  std::lock_guard<std::mutex> lock(modules_->mutex);
  return modules_->binary ? *modules_->binary : empty;
}

bool Kernel::hasBinary() const {
  std::lock_guard<std::mutex> lock(modules_->mutex);
  return modules_->binary != nullptr;
}

bool Kernel::installOptimized() const {
  if (!tier_)
    return true;
  std::shared_ptr<const std::string> optimized;
  bool hopper = false;
  {
    std::lock_guard<std::mutex> lock(tier_->mutex);
    if (!tier_->done || !tier_->status.ok())
      return false;
    optimized = tier_->binary;
    hopper = tier_->hopper;
  }
  std::lock_guard<std::mutex> lock(modules_->mutex);
  if (modules_->binary != optimized) {
    modules_->use(optimized, hopper);
  }
  return true;
}

bool Kernel::optimized() const { return installOptimized(); }

Status Kernel::waitUntilOptimized() const {
  if (!tier_)
    return Status::success();
  Status status;
  {
    std::unique_lock<std::mutex> lock(tier_->mutex);
    tier_->finished.wait(lock, [this] { return tier_->done; });
    status = tier_->status;
  }
  installOptimized();
  return status;
}

double Kernel::optimizedMilliseconds() const {
  if (!tier_)
    return compileMilliseconds_;
  std::lock_guard<std::mutex> lock(tier_->mutex);
  return tier_->done && tier_->status.ok() ? tier_->milliseconds : -1;
}

//===----------------------------------------------------------------------===//
// Context: compile
//===----------------------------------------------------------------------===//

namespace {
bool isReady(const std::shared_future<void> &future) {
  return future.wait_for(std::chrono::seconds(0)) == std::future_status::ready;
}

/// The threads of every tiered compile in the process. Its destructor, at exit, joins the
/// ones still running, so a context that is never destroyed (a Python process's default
/// context, say) cannot leave a thread inside NVRTC while the libraries shut down; finished
/// threads are joined whenever a new one starts.
class BackgroundThreads {
public:
  static BackgroundThreads &instance() {
    static BackgroundThreads threads;
    return threads;
  }
  /// Runs `work` on a new thread; the future is ready when it has returned.
  std::shared_future<void> start(std::function<void()> work) {
    auto done = std::make_shared<std::promise<void>>();
    std::shared_future<void> finished = done->get_future().share();
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto it = jobs_.begin(); it != jobs_.end();) {
      if (isReady(it->finished)) {
        it->thread.join();
        it = jobs_.erase(it);
      } else {
        ++it;
      }
    }
    jobs_.push_back({std::thread([work = std::move(work), done] {
                       work();
                       done->set_value();
                     }),
                     finished});
    return finished;
  }
  ~BackgroundThreads() {
    for (Job &job : jobs_)
      job.thread.join();
  }

private:
  struct Job {
    std::thread thread;
    std::shared_future<void> finished;
  };
  std::mutex mutex_;
  std::vector<Job> jobs_;
};
} // namespace

/// The tiered compiles a context started: it waits for them when it goes (they write to
/// its cache).
struct Context::Background {
  std::mutex mutex;
  std::vector<std::shared_future<void>> pending;

  void start(std::function<void()> work) {
    std::shared_future<void> finished = BackgroundThreads::instance().start(std::move(work));
    std::lock_guard<std::mutex> lock(mutex);
    pending.erase(std::remove_if(pending.begin(), pending.end(), isReady), pending.end());
    pending.push_back(std::move(finished));
  }
  ~Background() {
    for (const auto &finished : pending)
      finished.wait();
  }
};

Context::Context(ContextOptions options)
    : cache_(std::make_unique<KernelCache>(options.cacheDirectory ? *options.cacheDirectory
                                                                  : defaultCacheDirectory())),
      background_(std::make_unique<Background>()) {}

// Joins the background compiles before the cache they write to goes.
Context::~Context() { background_.reset(); }

namespace {
std::string renderDiagnostics(const dsl::DiagnosticEngine &diags) {
  std::ostringstream out;
  diags.print(out, false);
  return out.str();
}

std::string attentionNames(const dsl::Program &program) {
  std::string names;
  for (const auto &attention : program.attentions)
    names += (names.empty() ? "" : ", ") + attention.name;
  return names.empty() ? "none" : names;
}
} // namespace

namespace {
double elapsedMilliseconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - since)
      .count();
}

/// ATTNC_TIERED: "0"/"off" turns Tiering::Auto off; "quick" stops tiered compiles at the
/// quick kernel.
std::string tieredSetting() {
  const char *value = std::getenv("ATTNC_TIERED");
  return value ? value : "";
}

bool quickOnly() { return tieredSetting() == "quick"; }

bool wantsTiering(const CompileOptions &options) {
  switch (options.tiering) {
  case CompileOptions::Tiering::Off:
    return false;
  case CompileOptions::Tiering::On:
    return true;
  case CompileOptions::Tiering::Auto:
    break;
  }
  std::string setting = tieredSetting();
  return options.arch == "auto" && setting != "0" && setting != "off";
}

/// The quick kernel's NVRTC settings: the portable template at --Ofast-compile=mid (loops
/// stay rolled, accumulators in local memory) with functions compiled on parallel threads.
/// On the H100 host: 0.5-0.8 s instead of 2-5.6 s, running 20-50x slower than the
/// optimized kernel. =max compiles in 0.25-0.5 s but runs 400-700x slower (no inlining at
/// all), =min takes 1.3-3 s (docs/performance.md, "Tiered compilation").
std::vector<std::string> quickCompileFlags() {
  // ATTNC_QUICK_FLAGS (space-separated) replaces them, for kernel development.
  if (const char *flags = std::getenv("ATTNC_QUICK_FLAGS")) {
    std::vector<std::string> split;
    std::istringstream in(flags);
    for (std::string flag; in >> flag;)
      split.push_back(flag);
    return split;
  }
  return {"--Ofast-compile=mid", "--split-compile=0"};
}
} // namespace

Status Context::compileFile(const std::string &path, const CompileOptions &options,
                            std::shared_ptr<Kernel> &kernel, std::string &diagnostics) {
  dsl::SourceFile file(path, "");
  std::string error;
  if (!dsl::SourceFile::load(path, file, error))
    return Status(StatusCode::IoError, error);
  return compile(file.text(), path, options, kernel, diagnostics);
}

Status Context::compile(const std::string &sourceText, const std::string &fileName,
                        const CompileOptions &options, std::shared_ptr<Kernel> &kernel,
                        std::string &diagnostics) {
  const auto started = std::chrono::steady_clock::now();
  kernel.reset();
  diagnostics.clear();
  if (Status s = checkHeadDim(options.headDim); !s.ok())
    return s;
  if (options.arch != "auto" && options.arch != "none" && !isValidArch(options.arch))
    return Status(StatusCode::InvalidArgument,
                  "unknown target architecture '" + options.arch +
                      "' (expected auto, none, or sm_80 and newer such as sm_80, sm_90a)");

  std::shared_ptr<Kernel> result(new Kernel());
  result->options_ = options;
  result->source_ = std::make_unique<dsl::SourceFile>(fileName, sourceText);
  dsl::DiagnosticEngine diags(result->source_.get());
  result->program_ = dsl::parseAndCheck(*result->source_, diags, options.defines);
  diagnostics = renderDiagnostics(diags);
  if (!result->program_)
    return Status(StatusCode::ParseError, fileName + ": " + std::to_string(diags.errorCount()) +
                                              " error(s)\n" + diagnostics);
  result->attention_ = result->program_->find(options.attention);
  if (!result->attention_) {
    if (options.attention.empty())
      return Status(StatusCode::InvalidArgument, fileName + " holds several attentions (" +
                                                     attentionNames(*result->program_) +
                                                     "): choose one by name");
    return Status(StatusCode::InvalidArgument,
                  "no attention named '" + options.attention + "' in " + fileName +
                      " (it has: " + attentionNames(*result->program_) + ")");
  }

  if (options.arch == "none") {
    result->arch_ = "none";
    kernel = std::move(result);
    return Status::success();
  }

  std::string error;
  if (options.arch == "auto") {
    DeviceInfo info;
    if (!ensureDeviceContext(options.device, error) || !currentDeviceInfo(info, error))
      return Status(StatusCode::NoDevice,
                    "target architecture 'auto' needs a GPU: " + error +
                        "; pass an explicit architecture (e.g. sm_90a) to compile without one");
    result->arch_ = info.arch();
  } else {
    result->arch_ = options.arch;
  }

  if (!compiler::generateHooks(*result->program_, *result->attention_, compiler::CodegenOptions(),
                               result->hooks_, error))
    return Status(StatusCode::CompileError, "code generation failed for attention '" +
                                                result->attention_->name + "': " + error);

  KernelConfig config;
  config.bf16 = options.dtype == DataType::BF16;
  config.headDim = options.headDim;
  config.arch = result->arch_;
  config.hopper = usesHopperTemplate(config.arch);
  RouteSource route;
  if (result->hooks_.hasRoute &&
      !generateRouteSource(*result->program_, *result->attention_, result->hooks_, route, error))
    return Status(StatusCode::CompileError, error);
  if (!assembleKernelSource(result->hooks_.source, config, result->cudaSource_, error,
                            result->hooks_.hasRoute ? &route : nullptr))
    return Status(StatusCode::Internal, error);

  auto cacheKeyOf = [&](const std::string &source, const std::string &tierName) {
    std::vector<std::string> fields = {source,
                                       embeddedSourcesDigest(),
                                       dataTypeName(options.dtype),
                                       std::to_string(options.headDim),
                                       result->arch_,
                                       "nvrtc " + nvrtcVersionString(),
                                       std::string("attnc ") + ATTNC_VERSION_STRING};
    if (!tierName.empty())
      fields.push_back(tierName);
    return makeKernelCacheKey(fields);
  };
  // The optimized kernel's key has no tier field: the same key as before tiering existed.
  result->cacheKey_ = cacheKeyOf(result->cudaSource_, "");
  Kernel::Modules &modules = *result->modules_;
  const std::string arch = result->arch_;
  const CacheEntryMeta meta{arch, result->attention_->name};
  auto compileWith = [arch](const std::string &source, const std::vector<std::string> &flags) {
    return [&source, arch, flags](std::string &binary, std::string &log, std::string &error) {
      NvrtcResult compiled =
          compileCuda(source, "attnc_kernel.cu", arch, NvrtcOutput::Cubin, flags, kernelHeaders());
      log = compiled.log;
      error = compiled.error;
      binary = std::move(compiled.binary);
      return compiled.ok;
    };
  };
  std::string log;
  std::shared_ptr<const std::string> binary;

  if (wantsTiering(options) && !cache_->lookup(result->cacheKey_, binary)) {
    // Tiered: the quick kernel now, the optimized one in the background.
    KernelConfig quickConfig = config;
    quickConfig.hopper = false;
    std::string quickSource;
    if (!assembleKernelSource(result->hooks_.source, quickConfig, quickSource, error,
                              result->hooks_.hasRoute ? &route : nullptr))
      return Status(StatusCode::Internal, error);
    const std::vector<std::string> quickFlags = quickCompileFlags();
    std::string flagText;
    for (const auto &flag : quickFlags)
      flagText += flag + " ";
    std::shared_ptr<const std::string> quick;
    std::string quickLog, quickError;
    if (cache_->getOrCompile(cacheKeyOf(quickSource, "quick " + flagText),
                             CacheEntryMeta{arch, result->attention_->name + " (quick)"},
                             compileWith(quickSource, quickFlags), quick, quickLog, quickError)) {
      modules.use(quick, false);
      result->compileLog_ = quickLog;
      result->compileMilliseconds_ = elapsedMilliseconds(started);
      auto tier = std::make_shared<Kernel::Tier>();
      tier->started = started;
      tier->hopper = config.hopper;
      result->tier_ = tier;
      if (quickOnly()) {
        tier->done = true;
        tier->status = Status(StatusCode::Unsupported,
                              "ATTNC_TIERED=quick: the optimized kernel is not compiled");
      } else {
        KernelCache *cache = cache_.get();
        std::string key = result->cacheKey_, name = result->attention_->name;
        background_->start(
            [cache, key, meta, source = result->cudaSource_, compileWith, tier, name] {
              std::shared_ptr<const std::string> optimized;
              std::string optimizedLog, optimizedError;
              bool ok = cache->getOrCompile(key, meta, compileWith(source, {}), optimized,
                                            optimizedLog, optimizedError);
              if (!ok)
                std::fprintf(stderr,
                             "attnc: warning: the optimized kernel of '%s' failed to compile; the "
                             "quick kernel stays in use: %s\n",
                             name.c_str(), optimizedError.c_str());
              std::lock_guard<std::mutex> lock(tier->mutex);
              tier->done = true;
              tier->binary = optimized;
              tier->status = ok ? Status::success()
                                : Status(StatusCode::CompileError,
                                         optimizedError + (optimizedLog.empty()
                                                               ? std::string()
                                                               : "\nNVRTC log:\n" + optimizedLog));
              tier->milliseconds = elapsedMilliseconds(tier->started);
              tier->finished.notify_all();
            });
      }
      kernel = std::move(result);
      return Status::success();
    }
    // The quick compile failed: report what the optimized compile says below.
  }

  bool ok = binary != nullptr ||
            cache_->getOrCompile(result->cacheKey_, meta, compileWith(result->cudaSource_, {}),
                                 binary, log, error);
  result->compileLog_ = log;
  if (!ok)
    return Status(StatusCode::CompileError,
                  error + (log.empty() ? std::string() : "\nNVRTC log:\n" + log));
  modules.use(binary, config.hopper);
  result->compileMilliseconds_ = elapsedMilliseconds(started);
  kernel = std::move(result);
  return Status::success();
}

//===----------------------------------------------------------------------===//
// Validation
//===----------------------------------------------------------------------===//

namespace {
Status invalid(std::string message) {
  return Status(StatusCode::InvalidArgument, std::move(message));
}

std::string shapeText(const std::vector<int64_t> &dims) {
  std::string text = "[";
  for (size_t i = 0; i < dims.size(); ++i)
    text += (i ? ", " : "") + std::to_string(dims[i]);
  return text + "]";
}

Status checkQkv(const char *name, const QkvTensor &t, bool forGpu, dsl::ElementType gpuType) {
  if (!t.data)
    return invalid(std::string("tensor ") + name + " is not bound (null pointer)");
  if (t.batch < 1 || t.heads < 1 || t.tokens < 1 || t.headDim < 1)
    return invalid(std::string("tensor ") + name + " has a non-positive dimension: [batch " +
                   std::to_string(t.batch) + ", heads " + std::to_string(t.heads) + ", tokens " +
                   std::to_string(t.tokens) + ", d " + std::to_string(t.headDim) + "]");
  if (t.strideBatch < 0 || t.strideHead < 0 || t.strideToken < 0)
    return invalid(std::string("tensor ") + name + " has a negative stride");
  if (forGpu) {
    if (t.dtype != gpuType)
      return invalid(std::string("tensor ") + name + " is " + dsl::elementTypeName(t.dtype) +
                     " but the kernel was compiled for " + dsl::elementTypeName(gpuType));
    if (reinterpret_cast<uintptr_t>(t.data) % 16 != 0)
      return invalid(std::string("tensor ") + name +
                     " is not 16-byte aligned (the GPU kernel uses 16-byte vector accesses)");
    if (t.strideBatch % 8 || t.strideHead % 8 || t.strideToken % 8)
      return invalid(std::string("tensor ") + name +
                     " has a stride that is not a multiple of 8 elements (16 bytes): batch " +
                     std::to_string(t.strideBatch) + ", head " + std::to_string(t.strideHead) +
                     ", token " + std::to_string(t.strideToken));
  } else if (t.dtype != dsl::ElementType::F32 && t.dtype != dsl::ElementType::F16 &&
             t.dtype != dsl::ElementType::BF16) {
    return invalid(std::string("tensor ") + name + " must be f32, f16 or bf16 (got " +
                   dsl::elementTypeName(t.dtype) + ")");
  }
  return Status::success();
}

reference::ProblemShape shapeOf(const Arguments &args) {
  reference::ProblemShape shape;
  shape.batch = args.q.batch;
  shape.heads = args.q.heads;
  shape.kvHeads = args.k.heads;
  shape.qLen = args.q.tokens;
  shape.kvLen = args.k.tokens;
  shape.headDim = args.q.headDim;
  return shape;
}

/// Declared params with their final values (argument, else default), in declaration order.
Status resolveParams(const dsl::AttentionDecl &attention, const Arguments &args,
                     std::vector<dsl::ConstValue> &values) {
  for (const auto &[name, value] : args.params) {
    bool known = false;
    for (const auto &param : attention.params)
      known = known || param.name == name;
    if (!known) {
      std::string names;
      for (const auto &param : attention.params)
        names += (names.empty() ? "" : ", ") + param.name;
      return invalid("attention '" + attention.name + "' has no param '" + name +
                     "' (params: " + (names.empty() ? "none" : names) + ")");
    }
  }
  values.clear();
  for (const auto &param : attention.params) {
    auto it = args.params.find(param.name);
    dsl::ConstValue value;
    if (it != args.params.end()) {
      value = it->second;
      if (param.type == dsl::Type::Float && value.type == dsl::Type::Int) {
        value.type = dsl::Type::Float;
        value.f = double(value.i);
      }
      if (value.type != param.type)
        return invalid("param '" + param.name + "' is " + dsl::typeName(param.type) + " but a " +
                       dsl::typeName(value.type) + " value was given");
      if (param.type == dsl::Type::Int && (value.i < std::numeric_limits<int32_t>::min() ||
                                           value.i > std::numeric_limits<int32_t>::max()))
        return invalid("param '" + param.name + "' = " + std::to_string(value.i) +
                       " does not fit a 32-bit int");
      // As in the CLI and Python: NaN has no meaning as a param, and a finite value beyond
      // fp32 would be inf on the GPU but finite in the float64 reference.
      if (param.type == dsl::Type::Float &&
          (std::isnan(value.f) ||
           (std::isfinite(value.f) && std::fabs(value.f) > std::numeric_limits<float>::max())))
        return invalid("param '" + param.name + "' = " + std::to_string(value.f) +
                       (std::isnan(value.f) ? " is NaN" : " is outside the float32 range"));
    } else if (param.folded) {
      value = *param.folded;
    } else {
      return invalid("param '" + param.name + "' has no default value and was not set");
    }
    values.push_back(value);
  }
  return Status::success();
}

/// Prints the development counters of a kernel built with ATTNC_SM90_TRACE=1 (waits the
/// launch out): each role's cycles and where it waited, summed over the CTAs.
void printTrace(const CudaDriver &d, CUdeviceptr trace, size_t bytes, CUstream stream,
                const std::string &name) {
  unsigned long long c[24] = {};
  if (bytes < sizeof(c) || d.cuStreamSynchronize(stream) != CUDA_SUCCESS ||
      d.cuMemcpyDtoH(c, trace, sizeof(c)) != CUDA_SUCCESS)
    return;
  const auto pct = [](unsigned long long part, unsigned long long whole) {
    return whole ? 100.0 * double(part) / double(whole) : 0.0;
  };
  // Global-timer sums wrap modulo 2^64; the differences below are exact.
  const unsigned long long ctas = c[15], tailIdle = ctas * c[18] - c[17],
                           ctaTime = ctas * c[18] - c[16];
  std::fprintf(stderr,
               "attnc trace '%s': units %llu tiles %llu partial halves %llu | consumers: wait Q "
               "%.1f%% tile %.1f%% turn %.1f%% epilogue %.1f%% | loader: wait chunk %.1f%% stage "
               "%.1f%% Q %.1f%% | scanner: wait chunk %.1f%% unit %.1f%% | consumer cycles "
               "per unit %.0f | tail idle %.1f%% of %llu CTAs x %.1f us, %llu units ranked "
               "(order ready at %.1f us)\n",
               name.c_str(), c[12], c[13], c[14], pct(c[1], c[0]), pct(c[2], c[0]), pct(c[3], c[0]),
               pct(c[4], c[0]), pct(c[6], c[5]), pct(c[7], c[5]), pct(c[8], c[5]), pct(c[10], c[9]),
               pct(c[11], c[9]), c[12] ? double(c[0]) / 2.0 / double(c[12]) : 0.0,
               pct(tailIdle, ctaTime), ctas, ctas ? double(ctaTime) / double(ctas) / 1000.0 : 0.0,
               c[19], ctas && c[20] ? double(c[20] * ctas - c[16]) / double(ctas) / 1000.0 : 0.0);
}

/// CTAs of a persistent launch: one per SM, or fewer with ATTNC_MAX_CTAS=N (tests use it to
/// make every CTA run many work units on small shapes).
int persistentCtas(int multiprocessors) {
  static const int cap = [] {
    const char *value = std::getenv("ATTNC_MAX_CTAS");
    return value && std::atoi(value) > 0 ? std::atoi(value) : 0;
  }();
  const int ctas = std::max(1, multiprocessors);
  return cap > 0 ? std::min(cap, ctas) : ctas;
}
} // namespace

Status Context::validate(const Kernel &kernel, const Arguments &args, bool forGpu) const {
  dsl::ElementType gpuType =
      kernel.options().dtype == DataType::BF16 ? dsl::ElementType::BF16 : dsl::ElementType::F16;
  const char *names[] = {"Q", "K", "V", "O"};
  const QkvTensor *tensors[] = {&args.q, &args.k, &args.v, &args.o};
  for (int i = 0; i < 4; ++i)
    if (Status s = checkQkv(names[i], *tensors[i], forGpu, gpuType); !s.ok())
      return s;
  const QkvTensor &q = args.q, &k = args.k, &v = args.v, &o = args.o;
  if (k.batch != q.batch || v.batch != q.batch || o.batch != q.batch)
    return invalid("batch sizes differ: Q " + std::to_string(q.batch) + ", K " +
                   std::to_string(k.batch) + ", V " + std::to_string(v.batch) + ", O " +
                   std::to_string(o.batch));
  if (k.headDim != q.headDim || v.headDim != q.headDim || o.headDim != q.headDim)
    return invalid("head dims differ: Q " + std::to_string(q.headDim) + ", K " +
                   std::to_string(k.headDim) + ", V " + std::to_string(v.headDim) + ", O " +
                   std::to_string(o.headDim));
  if (forGpu && q.headDim != kernel.options().headDim)
    return invalid("head dim " + std::to_string(q.headDim) + " of the tensors differs from the " +
                   std::to_string(kernel.options().headDim) + " the kernel was compiled for");
  if (v.heads != k.heads)
    return invalid("K has " + std::to_string(k.heads) + " heads but V has " +
                   std::to_string(v.heads));
  if (v.tokens != k.tokens)
    return invalid("K has " + std::to_string(k.tokens) + " tokens but V has " +
                   std::to_string(v.tokens) + " (both are kv_len)");
  if (o.heads != q.heads || o.tokens != q.tokens)
    return invalid("O must have Q's heads and tokens: Q [heads " + std::to_string(q.heads) +
                   ", tokens " + std::to_string(q.tokens) + "], O [heads " +
                   std::to_string(o.heads) + ", tokens " + std::to_string(o.tokens) + "]");
  if (q.heads % k.heads != 0)
    return invalid("grouped-query attention needs heads % kv_heads == 0, but Q has " +
                   std::to_string(q.heads) + " heads and K/V have " + std::to_string(k.heads));
  if (forGpu && (q.batch > 65535 || q.heads > 65535))
    return invalid("batch and heads must be at most 65535 on the GPU");
  if (args.lse.data && (args.lse.strideBatch < 0 || args.lse.strideHead < 0))
    return invalid("LSE has a negative stride");
  if (args.lse.data && forGpu && args.lse.strideToken != 1)
    return invalid("LSE must have a token stride of 1 on the GPU");

  const dsl::AttentionDecl &attention = kernel.attention();
  std::vector<dsl::ConstValue> paramValues;
  if (Status s = resolveParams(attention, args, paramValues); !s.ok())
    return s;

  for (const auto &[name, tensor] : args.inputs) {
    bool known = false;
    for (const auto &input : attention.inputs)
      known = known || input.name == name;
    if (!known) {
      std::string declared;
      for (const auto &input : attention.inputs)
        declared += (declared.empty() ? "" : ", ") + input.name;
      return invalid("attention '" + attention.name + "' has no input '" + name +
                     "' (inputs: " + (declared.empty() ? "none" : declared) + ")");
    }
  }
  std::vector<std::vector<int64_t>> expectedDims;
  std::string error;
  if (!attention.inputs.empty() &&
      !reference::evaluateInputDims(kernel.program(), attention, shapeOf(args), expectedDims,
                                    error))
    return invalid("cannot evaluate the input dims: " + error);
  for (size_t i = 0; i < attention.inputs.size(); ++i) {
    const dsl::InputDecl &decl = attention.inputs[i];
    auto it = args.inputs.find(decl.name);
    if (it == args.inputs.end())
      return invalid("input '" + decl.name + "' (" + dsl::elementTypeName(decl.elementType) +
                     shapeText(expectedDims[i]) + ") is not bound");
    const InputTensor &t = it->second;
    if (!t.data)
      return invalid("input '" + decl.name + "' is bound to a null pointer");
    if (t.dtype != decl.elementType)
      return invalid("input '" + decl.name + "' is declared " +
                     dsl::elementTypeName(decl.elementType) + " but a " +
                     dsl::elementTypeName(t.dtype) + " tensor was bound");
    if (t.dims != expectedDims[i])
      return invalid("input '" + decl.name + "' has shape " + shapeText(t.dims) +
                     " but its declaration needs " + shapeText(expectedDims[i]) +
                     " for this call (batch " + std::to_string(q.batch) + ", heads " +
                     std::to_string(q.heads) + ", kv_heads " + std::to_string(k.heads) +
                     ", q_len " + std::to_string(q.tokens) + ", kv_len " +
                     std::to_string(k.tokens) + ", d " + std::to_string(q.headDim) + ")");
    for (int64_t dim : t.dims)
      if (dim > std::numeric_limits<int32_t>::max())
        return invalid("input '" + decl.name + "' has a dim above 2^31 - 1");
    if (!t.strides.empty() && t.strides.size() != t.dims.size())
      return invalid("input '" + decl.name + "' has " + std::to_string(t.strides.size()) +
                     " strides for " + std::to_string(t.dims.size()) + " dims");
    for (int64_t stride : t.strides)
      if (stride < 0)
        return invalid("input '" + decl.name + "' has a negative stride");
  }
  return Status::success();
}

//===----------------------------------------------------------------------===//
// GPU launch
//===----------------------------------------------------------------------===//

namespace {
Status cudaFailure(const CudaDriver &d, CUresult result, const std::string &what) {
  return Status(StatusCode::CudaError, cudaErrorText(d, result, what));
}

std::vector<int64_t> stridesOf(const InputTensor &t) {
  if (!t.strides.empty())
    return t.strides;
  std::vector<int64_t> strides(t.dims.size(), 1);
  for (int n = int(t.dims.size()) - 2; n >= 0; --n)
    strides[n] = strides[n + 1] * t.dims[n + 1];
  return strides;
}
} // namespace

Status Context::launch(const Kernel &kernel, const Arguments &args, void *stream) {
  if (!kernel.hasBinary())
    return invalid("kernel '" + kernel.name() + "' was compiled with arch '" + kernel.arch() +
                   "' and has no GPU binary (only the CPU reference can run it)");
  if (Status s = validate(kernel, args, true); !s.ok())
    return s;

  std::string error;
  if (!ensureDeviceContext(kernel.options().device, error))
    return Status(StatusCode::NoDevice, error);
  const CudaDriver *d = cudaDriver(error);
  CUcontext context = nullptr;
  if (CUresult r = d->cuCtxGetCurrent(&context); r != CUDA_SUCCESS)
    return cudaFailure(*d, r, "cuCtxGetCurrent");

  // A tiered kernel switches to its optimized binary as soon as it is ready.
  kernel.installOptimized();
  // Load the module once per context and binary.
  Kernel::Modules::Loaded loaded;
  {
    Kernel::Modules &modules = *kernel.modules_;
    std::lock_guard<std::mutex> lock(modules.mutex);
    auto it = modules.byContext.find(context);
    if (it != modules.byContext.end() && it->second.generation == modules.generation) {
      loaded = it->second;
    } else {
      if (it != modules.byContext.end()) {
        // Replaced binary: launches in flight may still run its module, keep it loaded.
        modules.retired.push_back(it->second.module);
        modules.byContext.erase(it);
      }
      loaded.generation = modules.generation;
      DeviceInfo device;
      if (!currentDeviceInfo(device, error))
        return Status(StatusCode::CudaError, error);
      CUresult r = d->cuModuleLoadData(&loaded.module, modules.binary->data());
      if (r != CUDA_SUCCESS)
        return cudaFailure(*d, r,
                           "loading the kernel compiled for " + kernel.arch() + " on " +
                               device.name + " (" + device.arch() + ")");
      KernelConfig config;
      config.bf16 = kernel.options().dtype == DataType::BF16;
      config.headDim = kernel.options().headDim;
      config.arch = kernel.arch();
      config.hopper = modules.hopper; // the template the binary was generated from
      std::string entry = forwardKernelName(config);
      CUdeviceptr configAddress = 0;
      size_t configBytes = 0;
      if ((r = d->cuModuleGetFunction(&loaded.forward, loaded.module, entry.c_str())) !=
              CUDA_SUCCESS ||
          (r = d->cuModuleGetFunction(&loaded.summarize, loaded.module, kSummaryKernelName)) !=
              CUDA_SUCCESS) {
        d->cuModuleUnload(loaded.module);
        return cudaFailure(*d, r, "finding entry '" + entry + "'");
      }
      if (kernel.hooks().hasRoute &&
          ((r = d->cuModuleGetFunction(&loaded.routePoolKeys, loaded.module, kRoutePoolKeysName)) !=
               CUDA_SUCCESS ||
           (r = d->cuModuleGetFunction(&loaded.routePoolQueries, loaded.module,
                                       kRoutePoolQueriesName)) != CUDA_SUCCESS ||
           (r = d->cuModuleGetFunction(&loaded.routeSelect, loaded.module, kRouteSelectName)) !=
               CUDA_SUCCESS)) {
        d->cuModuleUnload(loaded.module);
        return cudaFailure(*d, r, "finding the routing pre-pass kernels");
      }
      // Looked up only on request: a failed lookup is an API error under compute-sanitizer.
      if (std::getenv("ATTNC_TRACE") != nullptr &&
          d->cuModuleGetGlobal(&loaded.trace, &loaded.traceBytes, loaded.module, "attnc_trace") !=
              CUDA_SUCCESS)
        loaded.trace = 0;
      if (d->cuModuleGetGlobal(&configAddress, &configBytes, loaded.module,
                               (entry + "_config").c_str()) == CUDA_SUCCESS) {
        if (configBytes != 6 * sizeof(int) && configBytes != 8 * sizeof(int)) {
          d->cuModuleUnload(loaded.module);
          return Status(StatusCode::Internal, "the launch table of '" + entry + "' is malformed");
        }
        if ((r = d->cuMemcpyDtoH(loaded.config, configAddress, configBytes)) != CUDA_SUCCESS) {
          d->cuModuleUnload(loaded.module);
          return cudaFailure(*d, r, "reading the launch table of '" + entry + "'");
        }
      } else if (config.hopper) {
        d->cuModuleUnload(loaded.module);
        return Status(StatusCode::Internal,
                      "the module has no launch table '" + entry + "_config'");
      } else {
        // The table is the template's word; if the symbol was not kept, use the defaults
        // its header documents (the runtime sets no tuning macros).
        int headDim = kernel.options().headDim;
        int blockM = 128, blockN = 64, warps = headDim == 256 ? 8 : 4, stages = 2;
        int table[6] = {blockM,
                        blockN,
                        warps * 32,
                        stages,
                        blockM * headDim * 2 + 4 * stages * blockN * headDim + 128,
                        headDim};
        std::memcpy(loaded.config, table, sizeof(table));
      }
      if (loaded.config[0] <= 0 || loaded.config[1] <= 0 || loaded.config[2] <= 0 ||
          loaded.config[5] != kernel.options().headDim) {
        d->cuModuleUnload(loaded.module);
        return Status(StatusCode::Internal, "the launch table of '" + entry + "' is malformed");
      }
      int sharedBytes = loaded.config[4];
      if (sharedBytes > device.maxSharedMemoryPerBlockOptin) {
        d->cuModuleUnload(loaded.module);
        return Status(StatusCode::Unsupported,
                      "the kernel for head dim " + std::to_string(kernel.options().headDim) +
                          " needs " + std::to_string(sharedBytes) +
                          " bytes of shared memory per block but " + device.name + " allows " +
                          std::to_string(device.maxSharedMemoryPerBlockOptin));
      }
      r = d->cuFuncSetAttribute(loaded.forward, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
                                sharedBytes);
      if (r != CUDA_SUCCESS) {
        d->cuModuleUnload(loaded.module);
        return cudaFailure(*d, r, "setting the kernel's shared memory size");
      }
      loaded.multiprocessors = device.multiprocessors;
      modules.byContext[context] = loaded;
    }
  }
  const int blockM = loaded.config[0], blockN = loaded.config[1];
  const int threads = loaded.config[2], sharedBytes = loaded.config[4];

  // Run-time values the hooks read.
  AttncArgs hookArgs;
  std::memset(&hookArgs, 0, sizeof(hookArgs));
  hookArgs.batch = args.q.batch;
  hookArgs.heads = args.q.heads;
  hookArgs.kv_heads = args.k.heads;
  hookArgs.q_len = args.q.tokens;
  hookArgs.kv_len = args.k.tokens;
  hookArgs.head_dim = args.q.headDim;
  hookArgs.scale = args.scale ? *args.scale : float(1.0 / std::sqrt(double(args.q.headDim)));
  hookArgs.summary_block = std::min(blockM, blockN);

  std::vector<dsl::ConstValue> paramValues;
  resolveParams(kernel.attention(), args, paramValues);
  for (const auto &slot : kernel.hooks().params) {
    const dsl::AttentionDecl &attention = kernel.attention();
    size_t index = 0;
    while (index < attention.params.size() && attention.params[index].name != slot.name)
      ++index;
    if (index == attention.params.size() || slot.slot < 0 || slot.slot >= ATTNC_MAX_PARAMS)
      return Status(StatusCode::Internal,
                    "param slot table does not match param '" + slot.name + "'");
    const dsl::ConstValue &value = paramValues[index];
    if (slot.type == dsl::Type::Float)
      hookArgs.fparam[slot.slot] = float(value.f);
    else if (slot.type == dsl::Type::Bool)
      hookArgs.iparam[slot.slot] = value.b ? 1 : 0;
    else
      hookArgs.iparam[slot.slot] = int32_t(value.i);
  }

  struct SummaryJob {
    int slot;
    long long outer;
    int blocks;
  };
  std::vector<SummaryJob> summaries;
  for (const auto &slot : kernel.hooks().inputs) {
    if (slot.slot < 0 || slot.slot >= ATTNC_MAX_INPUTS)
      return Status(StatusCode::Internal, "input slot out of range for '" + slot.name + "'");
    const InputTensor &tensor = args.inputs.at(slot.name);
    if (tensor.dims.size() > ATTNC_MAX_RANK)
      return Status(StatusCode::Internal, "input '" + slot.name + "' has rank above 4");
    AttncTensor &target = hookArgs.input[slot.slot];
    std::vector<int64_t> strides = stridesOf(tensor);
    target.data = tensor.data;
    target.rank = int(tensor.dims.size());
    target.dtype = int(tensor.dtype);
    for (size_t n = 0; n < tensor.dims.size(); ++n) {
      target.dim[n] = int(tensor.dims[n]);
      target.stride[n] = strides[n];
    }
    if (slot.summarized) {
      long long outer = 1;
      for (size_t n = 0; n + 1 < tensor.dims.size(); ++n)
        outer *= tensor.dims[n];
      int last = int(tensor.dims.back());
      summaries.push_back(
          {slot.slot, outer, (last + hookArgs.summary_block - 1) / hookArgs.summary_block});
    }
  }

  AttncForwardParams forward;
  std::memset(&forward, 0, sizeof(forward));
  auto fill = [](const QkvTensor &t, long long(&stride)[3]) {
    stride[0] = t.strideBatch;
    stride[1] = t.strideHead;
    stride[2] = t.strideToken;
  };
  forward.q = args.q.data;
  forward.k = args.k.data;
  forward.v = args.v.data;
  forward.o = args.o.data;
  forward.lse = args.lse.data;
  fill(args.q, forward.q_stride);
  fill(args.k, forward.k_stride);
  fill(args.v, forward.v_stride);
  fill(args.o, forward.o_stride);
  forward.lse_stride[0] = args.lse.strideBatch;
  forward.lse_stride[1] = args.lse.strideHead;

  // Scratch buffers are allocated and freed in stream order, so concurrent launches on
  // other streams never share them.
  CUstream cuStream = static_cast<CUstream>(stream);
  std::vector<CUdeviceptr> scratch;
  auto releaseScratch = [&] {
    for (CUdeviceptr buffer : scratch)
      d->cuMemFreeAsync(buffer, cuStream);
  };
  auto allocate = [&](size_t bytes, const char *what, CUdeviceptr &buffer) -> Status {
    CUresult r = d->cuMemAllocAsync(&buffer, bytes == 0 ? 1 : bytes, cuStream);
    if (r != CUDA_SUCCESS) {
      releaseScratch();
      return cudaFailure(*d, r, "allocating " + std::to_string(bytes) + " bytes of " + what);
    }
    scratch.push_back(buffer);
    return Status::success();
  };
  auto launchAux = [&](CUfunction function, unsigned gx, unsigned gy, unsigned gz,
                       unsigned threadsPerBlock, unsigned shared, void **params,
                       const char *what) -> Status {
    CUresult r = d->cuLaunchKernel(function, gx, gy, gz, threadsPerBlock, 1, 1, shared, cuStream,
                                   params, nullptr);
    if (r != CUDA_SUCCESS) {
      releaseScratch();
      return cudaFailure(*d, r, std::string("launching ") + what);
    }
    return Status::success();
  };

  for (auto &job : summaries) {
    size_t bytes = size_t(job.outer) * size_t(job.blocks) * 2 * sizeof(int);
    CUdeviceptr buffer = 0;
    if (Status s = allocate(bytes, "input summaries", buffer); !s.ok())
      return s;
    hookArgs.summary[job.slot] = reinterpret_cast<const int *>(buffer);
    AttncTensor tensor = hookArgs.input[job.slot];
    int *summary = reinterpret_cast<int *>(buffer);
    int blockTokens = hookArgs.summary_block;
    void *params[] = {&tensor, &summary, &blockTokens, &job.blocks, &job.outer};
    unsigned gridY = unsigned(std::min<long long>(job.outer, 65535));
    if (Status s = launchAux(loaded.summarize, unsigned(job.blocks), gridY, 1, 128, 0, params,
                             "the input summary pre-pass");
        !s.ok())
      return s;
  }

  if (kernel.hooks().hasRoute) {
    RoutePlan plan = planRoute(kernel.program(), kernel.attention(), args.q.tokens, args.k.tokens);
    // attnc_route_select: 4 warps of 4 units per CTA where the shared memory allows
    // (warps * units per warp * numBlocks * 9 bytes within 48 KB), fewer with many blocks.
    auto selectBytes = [&](int units) {
      return (size_t(units) * plan.numBlocks * 9 + 15) / 16 * 16;
    };
    int selectWarps = 4, unitsPerWarp = 4;
    while (selectWarps * unitsPerWarp > 1 && selectBytes(selectWarps * unitsPerWarp) > 48 * 1024) {
      if (selectWarps > 1)
        selectWarps /= 2;
      else
        unitsPerWarp /= 2;
    }
    size_t selectShared = selectBytes(selectWarps * unitsPerWarp);
    if (selectShared > 48 * 1024) {
      releaseScratch();
      return Status(StatusCode::Unsupported,
                    "block routing over " + std::to_string(plan.numBlocks) +
                        " KV blocks is more than the GPU selection supports (5400)");
    }
    const size_t d64 = size_t(args.q.headDim);
    CUdeviceptr keyMean = 0, counts = 0, queryMean = 0, mask = 0;
    if (Status s = allocate(size_t(args.q.batch) * args.k.heads * plan.numBlocks * d64 * 8,
                            "route key means", keyMean);
        !s.ok())
      return s;
    if (Status s = allocate(size_t(plan.numBlocks) * sizeof(int), "route block sizes", counts);
        !s.ok())
      return s;
    if (plan.pooledQueries) {
      if (Status s = allocate(size_t(args.q.batch) * args.q.heads * plan.units * d64 * 8,
                              "route query means", queryMean);
          !s.ok())
        return s;
    }
    if (Status s = allocate(size_t(args.q.batch) * args.q.heads * plan.units * plan.words * 4,
                            "route masks", mask);
        !s.ok())
      return s;
    hookArgs.route_mask = reinterpret_cast<const unsigned *>(mask);
    hookArgs.route_words = plan.words;
    double *keyMeanPtr = reinterpret_cast<double *>(keyMean);
    int *countsPtr = reinterpret_cast<int *>(counts);
    double *queryMeanPtr = reinterpret_cast<double *>(queryMean);
    unsigned *maskPtr = reinterpret_cast<unsigned *>(mask);
    int numBlocks = plan.numBlocks, units = plan.units;
    void *poolKeys[] = {&forward, &hookArgs, &keyMeanPtr, &countsPtr, &numBlocks};
    if (Status s = launchAux(loaded.routePoolKeys, unsigned(numBlocks), unsigned(args.k.heads),
                             unsigned(args.q.batch), 128, 0, poolKeys, "the routing key pooling");
        !s.ok())
      return s;
    if (plan.pooledQueries) {
      void *poolQueries[] = {&forward, &hookArgs, &queryMeanPtr, &units};
      if (Status s =
              launchAux(loaded.routePoolQueries, unsigned(units), unsigned(args.q.heads),
                        unsigned(args.q.batch), 128, 0, poolQueries, "the routing query pooling");
          !s.ok())
        return s;
    }
    void *select[] = {&forward, &hookArgs,  &keyMeanPtr, &countsPtr,   &queryMeanPtr,
                      &maskPtr, &numBlocks, &units,      &unitsPerWarp};
    const int unitsPerCta = selectWarps * unitsPerWarp;
    if (Status s =
            launchAux(loaded.routeSelect, unsigned((units + unitsPerCta - 1) / unitsPerCta),
                      unsigned(args.q.heads), unsigned(args.q.batch), unsigned(32 * selectWarps),
                      unsigned(selectShared), select, "the routing block selection");
        !s.ok())
      return s;
  }

  // The sm_90a template loads Q, K and V through tensor maps: 4-D views {D, tokens, heads,
  // batch} with the 128-byte swizzle, boxes of 64 columns x block rows.
  AttncTmaMaps maps;
  std::memset(&maps, 0, sizeof(maps));
  const bool tma = loaded.config[6] == 1;
  if (tma) {
    const CUtensorMapDataType type = args.q.dtype == dsl::ElementType::BF16
                                         ? CU_TENSOR_MAP_DATA_TYPE_BFLOAT16
                                         : CU_TENSOR_MAP_DATA_TYPE_FLOAT16;
    auto encode = [&](AttncTensorMap &map, const QkvTensor &t, int boxRows,
                      const char *what) -> Status {
      cuuint64_t dims[4] = {cuuint64_t(t.headDim), cuuint64_t(t.tokens), cuuint64_t(t.heads),
                            cuuint64_t(t.batch)};
      cuuint64_t strides[3] = {cuuint64_t(t.strideToken) * 2, cuuint64_t(t.strideHead) * 2,
                               cuuint64_t(t.strideBatch) * 2};
      // A dim of extent 1 may carry any stride; give the driver a valid one.
      for (int i = 0; i < 3; ++i)
        if (dims[i + 1] == 1 || strides[i] == 0)
          strides[i] = 16;
      cuuint32_t box[4] = {64, cuuint32_t(boxRows), 1, 1};
      cuuint32_t elementStrides[4] = {1, 1, 1, 1};
      static_assert(sizeof(CUtensorMap) == sizeof(AttncTensorMap), "tensor map size");
      CUresult r = d->cuTensorMapEncodeTiled(
          reinterpret_cast<CUtensorMap *>(&map), type, 4, const_cast<void *>(t.data), dims, strides,
          box, elementStrides, CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_128B,
          CU_TENSOR_MAP_L2_PROMOTION_L2_256B, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
      if (r != CUDA_SUCCESS)
        return cudaFailure(*d, r, std::string("building the TMA descriptor of ") + what);
      return Status::success();
    };
    Status s = encode(maps.q, args.q, blockM, "Q");
    if (s.ok())
      s = encode(maps.k, args.k, blockN, "K");
    if (s.ok())
      s = encode(maps.v, args.v, blockN, "V");
    if (!s.ok()) {
      releaseScratch();
      return s;
    }
  }
  const long long qTiles = (args.q.tokens + blockM - 1) / blockM;
  unsigned grid[3] = {unsigned(qTiles), unsigned(args.q.heads), unsigned(args.q.batch)};
  if (loaded.config[7] == 1) {
    // Persistent: one CTA per SM (the template's shared memory allows no more), work
    // units taken from a counter zeroed in stream order.
    const long long units = qTiles * args.q.heads * args.q.batch;
    if (units > 0x7fffffff) {
      releaseScratch();
      return Status(StatusCode::InvalidArgument,
                    "too many query tiles (" + std::to_string(units) + ") for one launch");
    }
    CUdeviceptr counter = 0;
    if (Status s = allocate(ATTNC_SCHEDULER_INTS * sizeof(int), "the scheduler workspace", counter);
        !s.ok())
      return s;
    if (CUresult r = d->cuMemsetD32Async(counter, 0, 4, cuStream); r != CUDA_SUCCESS) {
      releaseScratch();
      return cudaFailure(*d, r, "zeroing the scheduler workspace");
    }
    forward.tile_counter = reinterpret_cast<int *>(counter);
    grid[0] = unsigned(std::min<long long>(units, persistentCtas(loaded.multiprocessors)));
    grid[1] = grid[2] = 1;
  }
  const bool trace = loaded.trace != 0 && std::getenv("ATTNC_TRACE") != nullptr;
  if (trace)
    d->cuMemsetD32Async(loaded.trace, 0, loaded.traceBytes / 4, cuStream);
  void *params[] = {&forward, &hookArgs, &maps};
  CUresult r = d->cuLaunchKernel(loaded.forward, grid[0], grid[1], grid[2], unsigned(threads), 1, 1,
                                 unsigned(sharedBytes), cuStream, params, nullptr);
  releaseScratch();
  if (r != CUDA_SUCCESS)
    return cudaFailure(*d, r, "launching attention '" + kernel.name() + "'");
  if (trace)
    printTrace(*d, loaded.trace, loaded.traceBytes, cuStream, kernel.name());
  return Status::success();
}

//===----------------------------------------------------------------------===//
// CPU reference
//===----------------------------------------------------------------------===//

namespace {
reference::TensorView viewOf(const QkvTensor &t) {
  reference::TensorView view;
  view.dtype = static_cast<reference::DType>(t.dtype);
  view.data = t.data;
  view.dims = {t.batch, t.heads, t.tokens, t.headDim};
  view.strides = {t.strideBatch, t.strideHead, t.strideToken, 1};
  return view;
}

void storeElement(void *base, int64_t offset, dsl::ElementType type, double value) {
  switch (type) {
  case dsl::ElementType::F32:
    static_cast<float *>(base)[offset] = float(value);
    break;
  case dsl::ElementType::F16:
    static_cast<uint16_t *>(base)[offset] = reference::floatToHalf(float(value));
    break;
  default:
    static_cast<uint16_t *>(base)[offset] = reference::floatToBFloat16(float(value));
    break;
  }
}
} // namespace

Status Context::runReference(const Kernel &kernel, const Arguments &args, int threads) {
  if (Status s = validate(kernel, args, false); !s.ok())
    return s;
  reference::ReferenceProblem problem;
  problem.shape = shapeOf(args);
  if (args.scale)
    problem.scale = double(*args.scale);
  problem.q = viewOf(args.q);
  problem.k = viewOf(args.k);
  problem.v = viewOf(args.v);
  problem.threads = threads;
  for (const auto &[name, tensor] : args.inputs) {
    reference::TensorView view;
    view.dtype = static_cast<reference::DType>(tensor.dtype);
    view.data = tensor.data;
    view.dims = tensor.dims;
    view.strides = stridesOf(tensor);
    problem.inputs.push_back({name, view});
  }
  for (const auto &[name, value] : args.params)
    problem.params.push_back({name, value});
  reference::ReferenceResult result;
  std::string error;
  if (!reference::runReference(kernel.program(), kernel.attention(), problem, result, error))
    return invalid(error);
  const QkvTensor &o = args.o;
  for (int b = 0; b < o.batch; ++b)
    for (int h = 0; h < o.heads; ++h)
      for (int q = 0; q < o.tokens; ++q) {
        int64_t row = b * o.strideBatch + h * o.strideHead + q * o.strideToken;
        for (int c = 0; c < o.headDim; ++c)
          storeElement(o.data, row + c, o.dtype, result.outAt(b, h, q, c));
        if (args.lse.data)
          args.lse
              .data[b * args.lse.strideBatch + h * args.lse.strideHead + q * args.lse.strideToken] =
              float(result.lseAt(b, h, q));
      }
  return Status::success();
}

} // namespace attnc::runtime
