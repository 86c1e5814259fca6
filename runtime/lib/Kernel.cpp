//===- Kernel.cpp - A compiled kernel: its binaries and tiered upgrade ----===//
#include "KernelState.h"

#include <string>

namespace attnc::runtime {

Kernel::Kernel() : modules_(std::make_unique<Modules>()), backward_(std::make_unique<Backward>()) {}

Kernel::~Kernel() {
  std::string ignored;
  const CudaDriver *d =
      modules_ && (!modules_->byContext.empty() || !modules_->retired.empty() ||
                   !backward_->byContext.empty() || !backward_->deterministic.byContext.empty())
          ? cudaDriver(ignored)
          : nullptr;
  if (!d)
    return;
  // Best effort: at process exit the driver may already be shut down.
  for (auto &[context, loaded] : modules_->byContext)
    d->cuModuleUnload(loaded.module);
  for (CUmodule module : modules_->retired)
    d->cuModuleUnload(module);
  for (auto &[context, loaded] : backward_->byContext)
    d->cuModuleUnload(loaded.module);
  for (auto &[context, loaded] : backward_->deterministic.byContext)
    d->cuModuleUnload(loaded.module);
}

std::string Kernel::backwardCudaSource() const {
  std::lock_guard<std::mutex> lock(backward_->mutex);
  return backward_->cudaSource;
}

const std::string &Kernel::cubin() const {
  static const std::string empty;
  std::lock_guard<std::mutex> lock(modules_->mutex);
  return modules_->entry ? modules_->entry->binary : empty;
}

const KernelManifest &Kernel::manifest() const {
  std::lock_guard<std::mutex> lock(modules_->mutex);
  return modules_->entry ? modules_->entry->manifest : manifest_;
}

bool Kernel::hasBinary() const {
  std::lock_guard<std::mutex> lock(modules_->mutex);
  return modules_->entry != nullptr;
}

bool Kernel::installOptimized() const {
  if (!tier_)
    return true;
  std::shared_ptr<const CachedKernel> optimized;
  {
    std::lock_guard<std::mutex> lock(tier_->mutex);
    if (!tier_->done || !tier_->status.ok())
      return false;
    optimized = tier_->entry;
  }
  std::lock_guard<std::mutex> lock(modules_->mutex);
  if (modules_->entry != optimized)
    modules_->use(optimized);
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

} // namespace attnc::runtime
