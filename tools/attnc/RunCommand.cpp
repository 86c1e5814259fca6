//===- RunCommand.cpp - attnc run -----------------------------------------===//
//
// Runs an attention program on seeded random inputs (or .npy files and constants given
// with --input), on the GPU or the CPU reference;
// `--check` compares the GPU result with the float64 reference at the same size and
// `--bench` times the kernel. `--backward` runs the backward pass after the forward, on a
// seeded random dO; --check and --bench then apply to the backward.
//
//===----------------------------------------------------------------------===//
#include "Commands.h"
#include "ToolSupport.h"

#include "attnc/reference/Random.h"
#include "attnc/reference/Reference.h"
#include "attnc/runtime/Device.h"
#include "attnc/runtime/Runtime.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <iostream>
#include <map>
#include <optional>

namespace attnc::tools {
namespace {

using reference::DType;

struct RunOptions {
  std::string file;
  std::string attention;
  std::string backend = "auto";
  int batch = 1, heads = 4, kvHeads = 0, qLen = 1024, kvLen = 0, headDim = 128;
  std::string dtype = "bf16";
  std::string tiering = "auto";
  std::vector<std::string> defines, params, inputs;
  uint64_t seed = 1;
  bool check = false, bench = false;
  bool backward = false, deterministic = false;
  std::vector<std::string> gradInputs;
  int iterations = 20;
  double tolerance = 2e-2;
};

double seconds(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// The relative L2 error and max abs error of a device result against the reference,
// plus whether every element was written (O is poisoned with NaN before the run).
struct Comparison {
  double relL2 = 0, maxAbs = 0, lseMaxAbs = 0;
  size_t unwritten = 0;
};

Comparison compare(const reference::OwnedTensor &out, const std::vector<float> &lse,
                   const reference::ReferenceResult &ref) {
  Comparison c;
  double num = 0, den = 0;
  for (int64_t i = 0; i < out.numElements(); ++i) {
    double got = out.loadDouble(i), want = ref.out[static_cast<size_t>(i)];
    if (!std::isfinite(got)) {
      ++c.unwritten;
      continue;
    }
    num += (got - want) * (got - want);
    den += want * want;
    c.maxAbs = std::max(c.maxAbs, std::abs(got - want));
  }
  c.relL2 = den > 0 ? std::sqrt(num / den) : std::sqrt(num);
  for (size_t i = 0; i < lse.size(); ++i) {
    double want = ref.lse[i];
    if (std::isinf(want) && std::isinf(lse[i]) && lse[i] < 0)
      continue;
    c.lseMaxAbs = std::max(c.lseMaxAbs, std::abs(double(lse[i]) - want));
  }
  return c;
}

/// The backward's dO: seeded like the other random inputs, from its own stream.
reference::OwnedTensor makeDOut(DType dtype, const std::vector<int64_t> &dims, uint64_t seed) {
  reference::OwnedTensor dOut(dtype, dims);
  reference::SplitMix64 rng(reference::mixSeed(seed, reference::fnv1a64("dO")));
  reference::fillFloats(dOut, rng, reference::Distribution::Normal);
  return dOut;
}

double sumOf(const std::vector<double> &values) {
  double sum = 0;
  for (double x : values)
    sum += x;
  return sum;
}

/// A GPU gradient (`got(i)`, poisoned with NaN before the run) against the reference's:
/// the relative L2 error, the max abs error and the elements left unwritten.
template <class Load>
Comparison compareGradient(size_t count, Load got, const std::vector<double> &want) {
  Comparison c;
  double num = 0, den = 0;
  for (size_t i = 0; i < count; ++i) {
    double g = got(i), w = want[i];
    if (!std::isfinite(g)) {
      ++c.unwritten;
      continue;
    }
    num += (g - w) * (g - w);
    den += w * w;
    c.maxAbs = std::max(c.maxAbs, std::abs(g - w));
  }
  c.relL2 = den > 0 ? std::sqrt(num / den) : std::sqrt(num);
  return c;
}

int runCommand(const RunOptions &o) {
  ProgramBundle bundle;
  if (!loadProgram(o.file, o.defines, o.attention, bundle))
    return kExitInputError;
  const dsl::AttentionDecl &attention = *bundle.attention;

  reference::ProblemShape shape;
  shape.batch = o.batch;
  shape.heads = o.heads;
  shape.kvHeads = o.kvHeads > 0 ? o.kvHeads : o.heads;
  shape.qLen = o.qLen;
  shape.kvLen = o.kvLen > 0 ? o.kvLen : o.qLen;
  shape.headDim = o.headDim;
  if (shape.batch < 1 || shape.heads < 1 || shape.qLen < 1 || shape.kvLen < 1 ||
      shape.heads % shape.kvHeads != 0) {
    std::cerr << "attnc: error: need batch, heads, lengths >= 1 and heads divisible by "
                 "kv-heads\n";
    return kExitUsage;
  }
  std::vector<reference::ParamBinding> params;
  if (!parseParamBindings(attention, o.params, params))
    return kExitUsage;
  std::vector<InputBinding> inputBindings;
  if (!parseInputBindings(attention, o.inputs, inputBindings))
    return kExitUsage;
  if (!o.gradInputs.empty() && !o.backward) {
    std::cerr << "attnc: error: --grad-input needs --backward\n";
    return kExitUsage;
  }
  for (const std::string &name : o.gradInputs) {
    bool known = false;
    std::string declared;
    for (const dsl::InputDecl &in : attention.inputs) {
      known = known || in.name == name;
      declared += (declared.empty() ? "" : ", ") + in.name;
    }
    if (!known) {
      std::cerr << "attnc: error: --grad-input: attention '" << attention.name << "' has no input '"
                << name << "' (inputs: " << (declared.empty() ? "none" : declared) << ")\n";
      return kExitUsage;
    }
  }

  runtime::DataType dtype = runtime::DataType::BF16;
  if (runtime::Status s = runtime::parseDataType(o.dtype, dtype); !s.ok()) {
    std::cerr << "attnc: error: --dtype: " << s.message() << "\n";
    return kExitUsage;
  }
  const bool f16 = dtype == runtime::DataType::F16;

  // --check and --bench measure a GPU run: without one they must fail, not succeed having
  // done nothing.
  const char *gpuOnly = o.check ? "--check" : o.bench ? "--bench" : nullptr;
  if (gpuOnly && o.backend == "cpu") {
    std::cerr << "attnc: error: " << gpuOnly
              << " needs a GPU run (it compares or times the GPU kernel); drop --backend cpu\n";
    return kExitUsage;
  }
  std::string error;
  bool useGpu = o.backend == "gpu";
  if (useGpu && !runtime::deviceAvailable(error)) {
    std::cerr << "attnc: error: --backend gpu, but no GPU: " << error << "\n";
    return kExitRuntimeError;
  }
  if (o.backend == "auto") {
    useGpu = runtime::deviceAvailable(error);
    if (!useGpu && gpuOnly) {
      std::cerr << "attnc: error: " << gpuOnly << " needs a GPU, but there is none (" << error
                << "); nothing was " << (o.check ? "checked" : "timed")
                << " (--backend cpu runs the CPU reference alone)\n";
      return kExitRuntimeError;
    }
    if (!useGpu)
      std::cerr << "attnc: note: no GPU (" << error << "); running the CPU reference\n";
  }

  reference::InputOptions inputOptions;
  inputOptions.qkvType = !useGpu ? DType::F32 : f16 ? DType::F16 : DType::BF16;
  // A GPU run's inputs are as large as the problem asks (the device holds them anyway); the
  // reference's memory limit guards only the CPU reference, which --check still runs under it.
  if (useGpu)
    inputOptions.maxBytes = UINT64_MAX;
  reference::ProblemInputs inputs;
  if (!reference::makeProblemInputs(*bundle.program, attention, shape, o.seed, inputs, error,
                                    inputOptions)) {
    std::cerr << "attnc: error: " << error << "\n";
    return kExitInputError;
  }
  if (!applyInputBindings(bundle, inputBindings, inputs))
    return kExitInputError;
  reference::ReferenceProblem problem = inputs.problem();
  problem.params = params;

  auto runRef = [&](reference::ReferenceResult &ref, double &elapsed) {
    auto start = std::chrono::steady_clock::now();
    bool ok = reference::runReference(*bundle.program, attention, problem, ref, error);
    elapsed = seconds(start);
    if (!ok)
      std::cerr << "attnc: error: " << error << "\n";
    return ok;
  };
  auto printInputs = [&] {
    for (const dsl::InputDecl &in : attention.inputs)
      fmt::print("input {}: {}\n", in.name, inputSource(inputBindings, in.name, o.seed));
  };
  auto printDensity = [&](const reference::ReferenceResult &ref) {
    double pairs = double(shape.batch) * shape.heads * shape.qLen * shape.kvLen;
    fmt::print("kept pairs: {} of {:.0f} (density {:.4f})\n", ref.keptPairs, pairs,
               ref.keptPairs / pairs);
  };

  if (!useGpu) {
    reference::ReferenceResult ref;
    double elapsed = 0;
    fmt::print("{}: cpu reference, b={} h={} kv_h={} q_len={} kv_len={} d={}, seed {}\n",
               attention.name, shape.batch, shape.heads, shape.kvHeads, shape.qLen, shape.kvLen,
               shape.headDim, o.seed);
    printInputs();
    if (!runRef(ref, elapsed))
      return kExitInputError;
    printDensity(ref);
    double sum = 0;
    for (double x : ref.out)
      sum += x;
    fmt::print("reference: {:.3f} s, sum(O) = {:.9g}\n", elapsed, sum);
    if (o.backward) {
      reference::OwnedTensor dOut = makeDOut(DType::F32, inputs.q.dims, o.seed);
      reference::ReferenceGradients grads;
      auto start = std::chrono::steady_clock::now();
      if (!reference::runReferenceBackward(*bundle.program, attention, problem, dOut.view(),
                                           o.gradInputs, grads, error)) {
        std::cerr << "attnc: error: " << error << "\n";
        return kExitInputError;
      }
      fmt::print("backward reference: {:.3f} s, sum(dQ) = {:.9g}, sum(dK) = {:.9g}, sum(dV) = "
                 "{:.9g}\n",
                 seconds(start), sumOf(grads.dq), sumOf(grads.dk), sumOf(grads.dv));
      for (const reference::InputGradient &g : grads.inputs)
        fmt::print("backward reference: sum(d {}) = {:.9g}\n", g.name, sumOf(g.values));
    }
    return kExitOk;
  }

  // GPU: compile (or fetch from the cache), bind device copies, run.
  runtime::Context context;
  runtime::CompileOptions compileOptions;
  compileOptions.dtype = dtype;
  compileOptions.headDim = o.headDim;
  compileOptions.attention = o.attention;
  compileOptions.tiering = o.tiering == "on"    ? runtime::CompileOptions::Tiering::On
                           : o.tiering == "off" ? runtime::CompileOptions::Tiering::Off
                                                : runtime::CompileOptions::Tiering::Auto;
  for (const auto &d : bundle.overrides)
    compileOptions.defines.push_back(d);
  std::shared_ptr<runtime::Kernel> kernel;
  std::string diagnostics;
  auto start = std::chrono::steady_clock::now();
  runtime::Status status = context.compileFile(o.file, compileOptions, kernel, diagnostics);
  double compileSeconds = seconds(start);
  if (!status.ok()) {
    std::cerr << (diagnostics.empty() ? "attnc: error: " + status.message() + "\n" : diagnostics);
    return status.code() == runtime::StatusCode::ParseError ? kExitInputError : kExitCompileError;
  }
  const runtime::CacheStats stats = context.cache().stats();
  fmt::print("{}: {} on GPU, b={} h={} kv_h={} q_len={} kv_len={} d={}, seed {}\n", attention.name,
             runtime::dataTypeName(dtype), shape.batch, shape.heads, shape.kvHeads, shape.qLen,
             shape.kvLen, shape.headDim, o.seed);
  printInputs();
  fmt::print("compile: {:.1f} ms ({}{})\n", compileSeconds * 1e3,
             stats.compilations ? "NVRTC"
             : stats.diskHits   ? "disk cache"
                                : "memory cache",
             kernel->optimized() ? ""
                                 : ", quick kernel; the optimized one compiles in the background");

  DeviceBuffers buffers;
  auto upload = [&](const reference::OwnedTensor &t) -> void * {
    return buffers.upload(t.bytes.data(), t.bytes.size());
  };
  runtime::Arguments args;
  auto elementType = f16 ? dsl::ElementType::F16 : dsl::ElementType::BF16;
  void *dq = upload(inputs.q), *dk = upload(inputs.k), *dv = upload(inputs.v);
  size_t outBytes = inputs.q.bytes.size();
  void *dout = buffers.allocate(outBytes);
  float *dlse = static_cast<float *>(
      buffers.allocate(sizeof(float) * size_t(shape.batch) * shape.heads * shape.qLen));
  if (!buffers.ok()) {
    std::cerr << "attnc: error: " << buffers.error() << "\n";
    return kExitRuntimeError;
  }
  args.q = runtime::QkvTensor::bhsd(dq, shape.batch, shape.heads, shape.qLen, shape.headDim,
                                    elementType);
  args.k = runtime::QkvTensor::bhsd(dk, shape.batch, shape.kvHeads, shape.kvLen, shape.headDim,
                                    elementType);
  args.v = runtime::QkvTensor::bhsd(dv, shape.batch, shape.kvHeads, shape.kvLen, shape.headDim,
                                    elementType);
  args.o = runtime::QkvTensor::bhsd(dout, shape.batch, shape.heads, shape.qLen, shape.headDim,
                                    elementType);
  args.lse.data = dlse;
  args.lse.strideHead = shape.qLen;
  args.lse.strideBatch = int64_t(shape.heads) * shape.qLen;
  for (const auto &input : inputs.inputs) {
    runtime::InputTensor t;
    t.data = upload(input.tensor);
    t.dtype = static_cast<dsl::ElementType>(input.tensor.dtype);
    t.dims = input.tensor.dims;
    args.inputs[input.name] = t;
  }
  for (const auto &p : params)
    args.params[p.name] = p.value;
  if (!buffers.ok()) {
    std::cerr << "attnc: error: " << buffers.error() << "\n";
    return kExitRuntimeError;
  }

  // Each launch first poisons O and LSE (all-ones bytes are NaN in bf16, fp16 and f32) so
  // unwritten elements show.
  auto launchOnce = [&]() -> bool {
    if (!runtime::deviceMemset(dout, 0xff, outBytes, error) ||
        !runtime::deviceMemset(
            dlse, 0xff, sizeof(float) * size_t(shape.batch) * shape.heads * shape.qLen, error)) {
      std::cerr << "attnc: error: " << error << "\n";
      return false;
    }
    status = context.launch(*kernel, args, nullptr);
    if (status.ok() && !runtime::streamSynchronize(nullptr, error))
      status = runtime::Status(runtime::StatusCode::CudaError, error);
    if (!status.ok())
      std::cerr << "attnc: error: " << status.message() << "\n";
    return status.ok();
  };
  if (!launchOnce())
    return kExitRuntimeError;

  if (o.backward) {
    // dO in the kernel's dtype; dQ, dK, dV like Q, K, V; input gradients float32.
    reference::OwnedTensor dOut = makeDOut(inputs.q.dtype, inputs.q.dims, o.seed);
    const size_t qBytes = inputs.q.bytes.size(), kvBytes = inputs.k.bytes.size();
    void *ddo = upload(dOut);
    void *ddq = buffers.allocate(qBytes), *ddk = buffers.allocate(kvBytes),
         *ddv = buffers.allocate(kvBytes);
    std::map<std::string, std::pair<float *, size_t>> gradBuffers; // device, elements
    for (const std::string &name : o.gradInputs)
      for (const auto &input : inputs.inputs)
        if (input.name == name) {
          size_t n = size_t(input.tensor.numElements());
          gradBuffers[name] = {static_cast<float *>(buffers.allocate(n * sizeof(float))), n};
          args.inputGrads[name].data = gradBuffers[name].first;
        }
    if (!buffers.ok()) {
      std::cerr << "attnc: error: " << buffers.error() << "\n";
      return kExitRuntimeError;
    }
    args.dO = runtime::QkvTensor::bhsd(ddo, shape.batch, shape.heads, shape.qLen, shape.headDim,
                                       elementType);
    args.dQ = runtime::QkvTensor::bhsd(ddq, shape.batch, shape.heads, shape.qLen, shape.headDim,
                                       elementType);
    args.dK = runtime::QkvTensor::bhsd(ddk, shape.batch, shape.kvHeads, shape.kvLen, shape.headDim,
                                       elementType);
    args.dV = runtime::QkvTensor::bhsd(ddv, shape.batch, shape.kvHeads, shape.kvLen, shape.headDim,
                                       elementType);
    args.deterministic = o.deterministic;

    // Each backward first poisons its outputs (NaN) so unwritten elements show.
    auto backwardOnce = [&](bool poison) -> bool {
      bool ok = !poison || (runtime::deviceMemset(ddq, 0xff, qBytes, error) &&
                            runtime::deviceMemset(ddk, 0xff, kvBytes, error) &&
                            runtime::deviceMemset(ddv, 0xff, kvBytes, error));
      for (const auto &[name, buffer] : gradBuffers)
        ok = ok && (!poison || runtime::deviceMemset(buffer.first, 0xff,
                                                     buffer.second * sizeof(float), error));
      if (!ok) {
        std::cerr << "attnc: error: " << error << "\n";
        return false;
      }
      status = context.launchBackward(*kernel, args, nullptr);
      if (status.ok() && !runtime::streamSynchronize(nullptr, error))
        status = runtime::Status(runtime::StatusCode::CudaError, error);
      if (!status.ok())
        std::cerr << "attnc: error: " << status.message() << "\n";
      return status.ok();
    };
    if (!backwardOnce(true))
      return kExitRuntimeError;
    fmt::print("backward: done{}\n", o.deterministic ? " (deterministic)" : "");

    int rc = kExitOk;
    if (o.check) {
      reference::OwnedTensor dq(inputs.q.dtype, inputs.q.dims), dk(inputs.k.dtype, inputs.k.dims),
          dv(inputs.v.dtype, inputs.v.dims);
      std::map<std::string, std::vector<float>> gradHost;
      bool copied = runtime::copyToHost(dq.bytes.data(), ddq, qBytes, error) &&
                    runtime::copyToHost(dk.bytes.data(), ddk, kvBytes, error) &&
                    runtime::copyToHost(dv.bytes.data(), ddv, kvBytes, error);
      for (const auto &[name, buffer] : gradBuffers) {
        gradHost[name].resize(buffer.second);
        copied = copied && runtime::copyToHost(gradHost[name].data(), buffer.first,
                                               buffer.second * sizeof(float), error);
      }
      if (!copied) {
        std::cerr << "attnc: error: " << error << "\n";
        return kExitRuntimeError;
      }
      reference::ReferenceGradients want;
      auto start = std::chrono::steady_clock::now();
      if (!reference::runReferenceBackward(*bundle.program, attention, problem, dOut.view(),
                                           o.gradInputs, want, error)) {
        std::cerr << "attnc: error: " << error << "\n";
        return kExitInputError;
      }
      double refSeconds = seconds(start);
      auto report = [&](const std::string &label, const Comparison &c) {
        bool pass = c.unwritten == 0 && c.relL2 <= o.tolerance;
        fmt::print("check {}: rel L2 {:.3e}, max |err| {:.3e}, unwritten {} (reference {:.2f} "
                   "s): {}\n",
                   label, c.relL2, c.maxAbs, c.unwritten, refSeconds, pass ? "PASS" : "FAIL");
        if (!pass)
          rc = kExitCheckFailed;
      };
      auto qkvGot = [](const reference::OwnedTensor &t) {
        return [&t](size_t i) { return t.loadDouble(int64_t(i)); };
      };
      report("dQ", compareGradient(want.dq.size(), qkvGot(dq), want.dq));
      report("dK", compareGradient(want.dk.size(), qkvGot(dk), want.dk));
      report("dV", compareGradient(want.dv.size(), qkvGot(dv), want.dv));
      for (const reference::InputGradient &g : want.inputs) {
        const std::vector<float> &got = gradHost[g.name];
        report("d " + g.name,
               compareGradient(
                   g.values.size(), [&](size_t i) { return double(got[i]); }, g.values));
      }
    }
    if (o.bench) {
      // As the forward's bench: each run synchronised, host clock, median after 3 warm-ups.
      std::vector<double> times;
      for (int i = 0; i < o.iterations + 3; ++i) {
        auto t0 = std::chrono::steady_clock::now();
        if (!backwardOnce(false))
          return kExitRuntimeError;
        if (i >= 3)
          times.push_back(seconds(t0));
      }
      std::sort(times.begin(), times.end());
      double median = times[times.size() / 2];
      uint64_t kept = 0;
      // The backward's useful work: 10 * D flops per kept pair (QK^T and dO V^T recomputed,
      // dV, dQ, dK), against the forward's 4 * D.
      if (countKeptPairs(*bundle.program, attention, problem, kept, error))
        fmt::print("bench backward: median {:.3f} ms over {} runs, {:.1f} useful TFLOP/s "
                   "(density {:.4f})\n",
                   median * 1e3, times.size(), 10.0 * shape.headDim * double(kept) / median / 1e12,
                   double(kept) / (double(shape.batch) * shape.heads * shape.qLen * shape.kvLen));
      else
        fmt::print("bench backward: median {:.3f} ms over {} runs\n", median * 1e3, times.size());
    }
    return rc;
  }

  int rc = kExitOk;
  std::optional<reference::ReferenceResult> ref;
  double refSeconds = 0;
  auto checkOutput = [&](const char *label) -> bool {
    reference::OwnedTensor out(inputs.q.dtype, inputs.q.dims);
    std::vector<float> lse(size_t(shape.batch) * shape.heads * shape.qLen);
    if (!runtime::copyToHost(out.bytes.data(), dout, outBytes, error) ||
        !runtime::copyToHost(lse.data(), dlse, lse.size() * sizeof(float), error)) {
      std::cerr << "attnc: error: " << error << "\n";
      rc = kExitRuntimeError;
      return false;
    }
    if (!ref) {
      ref.emplace();
      if (!runRef(*ref, refSeconds)) {
        rc = kExitInputError;
        return false;
      }
      printDensity(*ref);
    }
    Comparison c = compare(out, lse, *ref);
    bool pass = c.unwritten == 0 && c.relL2 <= o.tolerance && c.lseMaxAbs <= 0.05;
    fmt::print("check{}: rel L2 {:.3e}, max |dO| {:.3e}, max |dLSE| {:.3e}, unwritten {} "
               "(reference {:.2f} s): {}\n",
               label, c.relL2, c.maxAbs, c.lseMaxAbs, c.unwritten, refSeconds,
               pass ? "PASS" : "FAIL");
    if (!pass)
      rc = kExitCheckFailed;
    return true;
  };
  const bool quickFirst = !kernel->optimized();
  if (o.check && !checkOutput(quickFirst ? " (quick kernel)" : ""))
    return rc;

  // Checks and timings are of the optimized kernel: wait for it, then run it.
  if (quickFirst && (o.check || o.bench)) {
    if (runtime::Status ready = kernel->waitUntilOptimized(); !ready.ok()) {
      std::cerr << "attnc: error: the optimized kernel: " << ready.message() << "\n";
      return kExitCompileError;
    }
    fmt::print("optimized kernel: ready {:.1f} ms after the compile began\n",
               kernel->optimizedMilliseconds());
    if (o.check) {
      if (!launchOnce())
        return kExitRuntimeError;
      if (!checkOutput(""))
        return rc;
    }
  }

  if (o.bench) {
    // Each launch is synchronised and timed on the host clock; the median discards
    // outliers (launch latency, a few microseconds, is included).
    std::vector<double> times;
    for (int i = 0; i < o.iterations + 3; ++i) {
      auto t0 = std::chrono::steady_clock::now();
      status = context.launch(*kernel, args, nullptr);
      if (!status.ok() || !runtime::streamSynchronize(nullptr, error)) {
        std::cerr << "attnc: error: " << (status.ok() ? error : status.message()) << "\n";
        return kExitRuntimeError;
      }
      if (i >= 3)
        times.push_back(seconds(t0));
      if (o.iterations > 5 && (i + 1) % 10 == 0 && isTerminal(stderr))
        std::cerr << "\rbench: " << i + 1 << "/" << o.iterations + 3 << std::flush;
    }
    if (isTerminal(stderr))
      std::cerr << "\r" << std::string(30, ' ') << "\r";
    std::sort(times.begin(), times.end());
    double median = times[times.size() / 2];
    uint64_t kept = 0;
    if (countKeptPairs(*bundle.program, attention, problem, kept, error)) {
      fmt::print("bench: median {:.3f} ms over {} runs, {:.1f} useful TFLOP/s (density "
                 "{:.4f})\n",
                 median * 1e3, times.size(), 4.0 * shape.headDim * double(kept) / median / 1e12,
                 double(kept) / (double(shape.batch) * shape.heads * shape.qLen * shape.kvLen));
    } else {
      fmt::print("bench: median {:.3f} ms over {} runs\n", median * 1e3, times.size());
    }
  }
  return rc;
}

} // namespace

void registerRunCommand(CLI::App &app, int &exitCode) {
  auto options = std::make_shared<RunOptions>();
  auto *cmd = app.add_subcommand(
      "run", "Run a program (GPU or CPU) on seeded random inputs or --input data");
  cmd->add_option("file", options->file, "The .attn file")->required();
  cmd->add_option("--attention", options->attention, "Which attention (default: the only one)");
  cmd->add_option("--backend", options->backend, "gpu, cpu, or auto (GPU when present)")
      ->check(CLI::IsMember({"auto", "gpu", "cpu"}));
  cmd->add_option("--batch", options->batch, "Batch size")->capture_default_str();
  cmd->add_option("--heads", options->heads, "Query heads")->capture_default_str();
  cmd->add_option("--kv-heads", options->kvHeads, "Key/value heads (default: heads)");
  cmd->add_option("--q-len", options->qLen, "Query length")->capture_default_str();
  cmd->add_option("--kv-len", options->kvLen, "Key length (default: q-len)");
  cmd->add_option("--head-dim", options->headDim, "Head dimension (64, 128, 256)")
      ->check(headDimValidator())
      ->capture_default_str();
  cmd->add_option("--dtype", options->dtype, "bf16 (bfloat16) or fp16 (f16, float16, half)")
      ->transform(dtypeValidator());
  cmd->add_option("--tiering", options->tiering,
                  "auto, on or off: on a cache miss, run a quick kernel while the optimized "
                  "one compiles (docs/api.md)")
      ->check(CLI::IsMember({"auto", "on", "off"}))
      ->capture_default_str();
  cmd->add_option("-D", options->defines, "Override a const: -D name=value");
  cmd->add_option("-P", options->params, "Set a param: -P name=value");
  cmd->add_option("--input", options->inputs,
                  "Bind an input: --input NAME=FILE.npy or NAME=VALUE (others are seeded "
                  "random)");
  cmd->add_option("--seed", options->seed, "Seed of the input generator")->capture_default_str();
  cmd->add_flag("--check", options->check, "Compare the GPU result with the CPU reference");
  cmd->add_flag("--bench", options->bench, "Time the kernel (median)");
  cmd->add_flag("--backward", options->backward,
                "Also run the backward pass on a seeded random dO (--check and --bench then "
                "apply to it)");
  cmd->add_option("--grad-input", options->gradInputs,
                  "With --backward: also the gradient of this float input (repeatable)");
  cmd->add_flag("--deterministic", options->deterministic,
                "With --backward: no order-dependent atomics (bit-identical runs)");
  cmd->add_option("--iterations", options->iterations, "Timed runs for --bench")
      ->capture_default_str();
  cmd->add_option("--tolerance", options->tolerance, "Max relative L2 error for --check")
      ->capture_default_str();
  cmd->callback([options, &exitCode] { exitCode = runCommand(*options); });
}

} // namespace attnc::tools
