//===- KernelSource.cpp - Assembling the CUDA source of one kernel --------===//
#include "attnc/runtime/KernelSource.h"

#include "attnc/runtime/EmbeddedSources.h"
#include "attnc/runtime/Hash.h"

#include <cstdlib>
#include <cstring>
#include <sstream>

namespace attnc::runtime {

namespace {
/// The forward kernel template and what it includes, pasted in this order.
constexpr const char *kPastedFiles[] = {"KernelArgs.h", "attnc_forward_params.h",
                                        "primitives/tile.cuh"};
constexpr const char *kPortableTemplate = "sm80/forward_entry.cuh";
constexpr const char *kHopperTemplate = "sm90/forward.cuh";
/// The backward's kernels and the tensor-pointer struct they take.
constexpr const char *kPortableBackward = "sm80/backward_entry.cuh";
constexpr const char *kHopperBackward = "sm90/backward_entry.cuh";
constexpr const char *kDeterministicDq = "sm80/backward_dq_entry.cuh";
constexpr const char *kBackwardParams = "attnc_backward_params.h";

/// The summary pre-pass (summary_kernel.cuh): per-block min/max of one input along its LAST
/// dim, for inputs the mask reads by token (InputSlot::summarized). Layout:
/// summary[((outer * numBlocks) + block) * 2 + {0: min, 1: max}], outer = row-major index
/// over the leading dims of the bound tensor, block = token / blockTokens. Values are read
/// as the language reads them (Int: i32, i64 narrowed; u8: 0/1; floats truncated toward
/// zero, saturating).
constexpr const char *kSummaryKernel = "prepass/summary_kernel.cuh";

/// "sm_90a" -> "90".
std::string archNumber(const std::string &arch) {
  std::string number = arch.size() > 3 ? arch.substr(3) : arch;
  if (!number.empty() && number.back() == 'a')
    number.pop_back();
  return number;
}

const char *requireEmbedded(const char *name, std::string &error) {
  const char *text = embeddedFile(name);
  if (!text)
    error = std::string("the kernel template file '") + name +
            "' is not embedded in this build of attnc (runtime/kernels/ lacks it)";
  return text;
}
} // namespace

const char *summaryKernelSource() {
  const char *text = embeddedFile(kSummaryKernel);
  return text ? text : "";
}

bool usesHopperTemplate(const std::string &arch) {
  const char *forced = std::getenv("ATTNC_KERNEL");
  return arch == "sm_90a" && !(forced && std::string(forced) == "sm80");
}

std::string forwardKernelName(const KernelConfig &config) {
  return std::string(config.hopper ? "attnc_forward_sm90_d" : "attnc_forward_sm80_d") +
         std::to_string(config.headDim) + (config.bf16 ? "_bf16" : "_f16");
}

namespace {
/// Writes everything before the hooks (configuration macros, development defines, the pasted
/// files); false with `error` for a refused development setting.
bool writePreamble(std::ostringstream &out, const KernelConfig &config, std::string &error);
/// Writes the generated hooks, the variant, `templateName` and the summary pre-pass.
bool writeBody(std::ostringstream &out, const std::string &hooksSource, const char *templateName,
               const RouteSource *route, std::string &error) {
  out << "\n// ---- generated hooks ----\n" << hooksSource << "\n";
  // The kernel templates' variant: the program's, or its routed wrapper.
  if (route)
    out << route->afterHooks << "\n";
  else
    out << "using AttncVariant = AttncProgram;\n";
  const char *body = requireEmbedded(templateName, error);
  if (!body)
    return false;
  out << "\n// ---- " << templateName << " ----\n" << body << "\n";
  const char *summary = requireEmbedded(kSummaryKernel, error);
  if (!summary)
    return false;
  out << "\n" << summary;
  return true;
}
} // namespace

bool assembleKernelSource(const std::string &hooksSource, const KernelConfig &config,
                          std::string &source, std::string &error, const RouteSource *route) {
  std::ostringstream out;
  if (!writePreamble(out, config, error) ||
      !writeBody(out, hooksSource, config.hopper ? kHopperTemplate : kPortableTemplate, route,
                 error))
    return false;
  source = out.str();
  return true;
}

bool assembleBackwardSource(const std::string &hooksSource, const KernelConfig &config,
                            std::string &source, std::string &error, const RouteSource *route,
                            BackwardModule module) {
  std::ostringstream out;
  if (!writePreamble(out, config, error))
    return false;
  const char *params = requireEmbedded(kBackwardParams, error);
  if (!params)
    return false;
  out << "\n// ---- " << kBackwardParams << " ----\n" << params << "\n";
  // The Hopper key-tile kernel holds dK and dV in registers: D = 256 keeps the portable one.
  const bool hopper = config.hopper && config.headDim <= 128;
  const char *entry = module == BackwardModule::DeterministicDq ? kDeterministicDq
                      : hopper                                  ? kHopperBackward
                                                                : kPortableBackward;
  // sm_90a computes the query ranges in a kernel of their own (a thread per key block), where
  // refining them by the classifier costs the key-tile kernel nothing (hook_prelude_backward).
  if (entry == kHopperBackward)
    out << "#define ATTNC_QUERY_RANGES_OWN_KERNEL 1\n";
  if (!writeBody(out, hooksSource, entry, route, error))
    return false;
  source = out.str();
  return true;
}

namespace {
bool writePreamble(std::ostringstream &out, const KernelConfig &config, std::string &error) {
  out << "// Generated by attnc " << ATTNC_VERSION_STRING << " for " << config.arch << ", "
      << (config.bf16 ? "bf16" : "fp16") << ", head dim " << config.headDim << ".\n"
      << "#define ATTNC_HEAD_DIM " << config.headDim << "\n"
      << "#define ATTNC_DTYPE_BF16 " << (config.bf16 ? 1 : 0) << "\n"
      << "#define ATTNC_DTYPE_F16 " << (config.bf16 ? 0 : 1) << "\n"
      << "#define ATTNC_TARGET_SM " << archNumber(config.arch) << "\n";
  // Both templates classify every candidate key tile themselves (in parallel), so the hooks'
  // attnc_kv_ranges may stay coarse and cheap (see the hook prelude).
  out << "#define ATTNC_KERNEL_CLASSIFIES_TILES 1\n";
  // Development settings (ATTNC_BLOCK_M, ATTNC_KERNEL_DEFINES) change the source, hence the
  // cache key. A release build refuses them rather than ignoring them, so that a measurement
  // never silently runs the default kernel; ATTNC_KERNEL_DEFINES can switch on modes with
  // wrong results (ATTNC_SM90_DEV_UNMASKED), which the template only compiles when the
  // source also defines ATTNC_DEV_BUILD.
  // Empty counts as unset (scripts pass ATTNC_KERNEL_DEFINES= for the default side).
  const char *blockM = std::getenv("ATTNC_BLOCK_M");
  const char *defines = std::getenv("ATTNC_KERNEL_DEFINES");
  blockM = blockM && *blockM ? blockM : nullptr;
  defines = defines && *defines ? defines : nullptr;
#ifndef ATTNC_DEV_BUILD
  if (blockM != nullptr || defines != nullptr) {
    error = std::string(blockM != nullptr ? "ATTNC_BLOCK_M" : "ATTNC_KERNEL_DEFINES") +
            " is a development setting and this attnc is a release build: unset it, or "
            "configure attnc with -DATTNC_DEV_BUILD=ON";
    return false;
  }
#else
  out << "#define ATTNC_DEV_BUILD 1\n";
  // ATTNC_BLOCK_M=64|128 overrides the portable template's query tile rows for head dims up
  // to 128 (4 warps: 16 or 32 rows each).
  if (blockM && config.headDim <= 128) {
    const std::string value = blockM;
    if (value == "64" || value == "128")
      out << "#define ATTNC_BLOCK_M " << value << "\n";
  }
  // ATTNC_KERNEL_DEFINES="NAME=VALUE ..." adds template macros (e.g. ATTNC_SM90_TRACE=1);
  // names must start with ATTNC_ and values be integers.
  if (defines) {
    std::istringstream words(defines);
    std::string word;
    while (words >> word) {
      const size_t eq = word.find('=');
      const std::string name = word.substr(0, eq);
      const std::string value = eq == std::string::npos ? "1" : word.substr(eq + 1);
      const bool nameOk =
          name.rfind("ATTNC_", 0) == 0 &&
          name.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") == std::string::npos;
      const bool valueOk =
          !value.empty() && value.find_first_not_of("0123456789") == std::string::npos;
      if (!nameOk || !valueOk) {
        error = "ATTNC_KERNEL_DEFINES: '" + word + "' is not ATTNC_NAME=<integer>";
        return false;
      }
      out << "#define " << name << " " << value << "\n";
    }
  }
#endif
  for (const char *name : kPastedFiles) {
    const char *text = requireEmbedded(name, error);
    if (!text)
      return false;
    out << "\n// ---- " << name << " ----\n" << text << "\n";
  }
  return true;
}
} // namespace

std::vector<NvrtcHeader> kernelHeaders() {
  std::vector<NvrtcHeader> headers;
  for (const auto &file : embeddedFiles()) {
    headers.push_back({file.name, file.text});
    headers.push_back({file.path, file.text});
    if (std::strcmp(file.name, "KernelArgs.h") == 0)
      headers.push_back({"attnc/abi/KernelArgs.h", file.text});
  }
  return headers;
}

std::string embeddedSourcesDigest() {
  Sha256 hasher;
  for (const auto &file : embeddedFiles()) {
    hasher.updateField(file.path);
    hasher.updateField(file.text);
  }
  return hasher.finishHex();
}

} // namespace attnc::runtime
