//===- Compile.cpp - Context: parse, generate, compile, cache, tier -------===//
//
// compile() is the one place that turns a program into a kernel: it checks the program,
// generates the hooks, fills the manifest (ManifestBuilder.h) and gets the binary from the
// cache or NVRTC, tiered when asked (a quick kernel now, the optimized one in the
// background).
//
//===----------------------------------------------------------------------===//
#include "KernelState.h"
#include "attnc/runtime/ManifestBuilder.h"

#include "attnc/dsl/Diagnostics.h"
#include "attnc/runtime/Device.h"
#include "attnc/runtime/KernelSource.h"
#include "attnc/runtime/Nvrtc.h"
#include "attnc/runtime/RouteSource.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <future>
#include <sstream>
#include <thread>

namespace attnc::runtime {

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

  const bool bf16 = options.dtype == DataType::BF16;
  std::string error;
  if (options.arch == "none") {
    result->arch_ = "none";
    if (!buildKernelManifest(*result->program_, *result->attention_, nullptr, "none", bf16,
                             options.headDim, result->manifest_, error))
      return Status(StatusCode::CompileError, "code generation failed for attention '" +
                                                  result->attention_->name + "': " + error);
    kernel = std::move(result);
    return Status::success();
  }

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
  if (!buildKernelManifest(*result->program_, *result->attention_, &result->hooks_, result->arch_,
                           bf16, options.headDim, result->manifest_, error))
    return Status(StatusCode::CompileError, "code generation failed for attention '" +
                                                result->attention_->name + "': " + error);

  KernelConfig config;
  config.bf16 = bf16;
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

  // The manifest is part of the key: programs with one CUDA source may differ in what the
  // launch checks (param defaults, input dims), and an entry carries its own manifest.
  auto cacheKeyOf = [&](const std::string &source, const KernelManifest &manifest,
                        const std::string &tierName) {
    std::vector<std::string> fields = {source,
                                       embeddedSourcesDigest(),
                                       dataTypeName(options.dtype),
                                       std::to_string(options.headDim),
                                       result->arch_,
                                       "nvrtc " + nvrtcVersionString(),
                                       std::string("attnc ") + ATTNC_VERSION_STRING};
    if (!tierName.empty())
      fields.push_back(tierName);
    fields.push_back("manifest " + manifest.serialize());
    return makeKernelCacheKey(fields);
  };
  auto manifestFor = [&](const KernelConfig &binaryConfig) {
    KernelManifest manifest = result->manifest_;
    manifest.tile = tilePolicyFor(binaryConfig);
    return manifest;
  };
  const CacheEntryMeta meta{result->arch_, result->attention_->name, manifestFor(config)};
  // The optimized kernel's key has no tier field.
  result->cacheKey_ = cacheKeyOf(result->cudaSource_, meta.manifest, "");
  Kernel::Modules &modules = *result->modules_;
  const std::string arch = result->arch_;
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
  std::shared_ptr<const CachedKernel> binary;

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
    std::shared_ptr<const CachedKernel> quick;
    std::string quickLog, quickError;
    const CacheEntryMeta quickMeta{arch, result->attention_->name + " (quick)",
                                   manifestFor(quickConfig)};
    if (cache_->getOrCompile(cacheKeyOf(quickSource, quickMeta.manifest, "quick " + flagText),
                             quickMeta, compileWith(quickSource, quickFlags), quick, quickLog,
                             quickError)) {
      modules.use(quick);
      result->compileLog_ = quickLog;
      result->compileMilliseconds_ = elapsedMilliseconds(started);
      auto tier = std::make_shared<Kernel::Tier>();
      tier->started = started;
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
              std::shared_ptr<const CachedKernel> optimized;
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
              tier->entry = optimized;
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
  modules.use(binary);
  result->compileMilliseconds_ = elapsedMilliseconds(started);
  kernel = std::move(result);
  return Status::success();
}

} // namespace attnc::runtime

namespace attnc::runtime {

Status Context::compileBackward(const Kernel &kernel, bool deterministic) {
  Kernel::Backward &backward = *kernel.backward_;
  std::lock_guard<std::mutex> lock(backward.mutex);
  // The derivative hooks and the routing source, generated once for both modules.
  auto generate = [&]() -> Status {
    if (kernel.arch() == "none")
      return Status(StatusCode::InvalidArgument,
                    "kernel '" + kernel.name() +
                        "' was compiled with arch 'none' and has no GPU backward (only the CPU "
                        "reference can run it)");
    compiler::CodegenOptions codegen;
    codegen.backward = true;
    codegen.source = kernel.source_.get();
    compiler::GeneratedHooks hooks;
    std::string error;
    if (!compiler::generateHooks(kernel.program(), kernel.attention(), codegen, hooks, error))
      return Status(StatusCode::InvalidArgument,
                    "attention '" + kernel.name() + "' has no backward: " + error);
    for (const compiler::GradReadSite &site : hooks.gradReads)
      backward.differentiableInputs |= 1u << site.slot;
    RouteSource route;
    if (hooks.hasRoute &&
        !generateRouteSource(kernel.program(), kernel.attention(), hooks, route, error))
      return Status(StatusCode::CompileError, error);
    backward.hooksSource = std::move(hooks.source);
    backward.hasRoute = hooks.hasRoute;
    backward.routeAfterHooks = std::move(route.afterHooks);
    return Status::success();
  };
  // One module of the backward, compiled or fetched from the cache: its entry, and its CUDA
  // source where `cudaSourceOut` asks for it.
  auto compileModule = [&](BackwardModule module, std::shared_ptr<const CachedKernel> &entryOut,
                           std::string *cudaSourceOut) -> Status {
    KernelConfig config;
    config.bf16 = kernel.options().dtype == DataType::BF16;
    config.headDim = kernel.options().headDim;
    config.arch = kernel.arch();
    config.hopper = usesHopperTemplate(config.arch);
    const RouteSource route{backward.routeAfterHooks};
    std::string cudaSource, error;
    if (!assembleBackwardSource(backward.hooksSource, config, cudaSource, error,
                                backward.hasRoute ? &route : nullptr, module))
      return Status(StatusCode::Internal, error);
    // The forward's manifest describes the arguments (params, inputs, route geometry) the
    // backward binds the same way.
    const KernelManifest &manifest = kernel.manifest_;
    const bool dq = module == BackwardModule::DeterministicDq;
    const CacheEntryMeta meta{
        kernel.arch(), kernel.name() + (dq ? " (deterministic dQ)" : " (backward)"), manifest};
    const std::string key = makeKernelCacheKey(
        {cudaSource, embeddedSourcesDigest(), dataTypeName(kernel.options().dtype),
         std::to_string(config.headDim), kernel.arch(), "nvrtc " + nvrtcVersionString(),
         std::string("attnc ") + ATTNC_VERSION_STRING,
         dq ? "backward deterministic dq" : "backward", "manifest " + manifest.serialize()});
    const std::string arch = kernel.arch();
    std::string log;
    const bool ok = cache_->getOrCompile(
        key, meta,
        [&](std::string &binary, std::string &compileLog, std::string &compileError) {
          NvrtcResult compiled =
              compileCuda(cudaSource, dq ? "attnc_backward_dq.cu" : "attnc_backward.cu", arch,
                          NvrtcOutput::Cubin, {}, kernelHeaders());
          compileLog = compiled.log;
          compileError = compiled.error;
          binary = std::move(compiled.binary);
          return compiled.ok;
        },
        entryOut, log, error);
    if (cudaSourceOut)
      *cudaSourceOut = std::move(cudaSource);
    if (!ok)
      return Status(StatusCode::CompileError,
                    error + (log.empty() ? std::string() : "\nNVRTC log:\n" + log));
    return Status::success();
  };
  if (!backward.compiled) {
    backward.compiled = true;
    backward.status = generate();
    if (backward.status.ok())
      backward.status =
          compileModule(BackwardModule::KeyTiles, backward.entry, &backward.cudaSource);
  }
  if (!backward.status.ok() || !deterministic)
    return backward.status;
  Kernel::Backward::Deterministic &dq = backward.deterministic;
  if (!dq.compiled) {
    dq.compiled = true;
    dq.status = compileModule(BackwardModule::DeterministicDq, dq.entry, nullptr);
  }
  return dq.status;
}

} // namespace attnc::runtime
