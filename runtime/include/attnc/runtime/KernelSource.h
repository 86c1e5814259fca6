//===- KernelSource.h - Assembling the CUDA source of one kernel --*- C++ -*-===//
//
// The source NVRTC compiles is self-contained text:
//   1. configuration macros (dtype, head dim, target arch),
//   2. KernelArgs.h (the hook contract) and the forward params struct,
//   3. the generated hooks (compiler::GeneratedHooks::source),
//   4. the forward kernel template (runtime/kernels/, embedded in the library),
//   5. the runtime's summary pre-pass kernel (runtime/kernels/summary_kernel.cuh: per-block
//      min/max of summarized inputs).
// Nested #includes of embedded files resolve through kernelHeaders().
//
//===----------------------------------------------------------------------===//
#ifndef ATTNC_RUNTIME_KERNELSOURCE_H
#define ATTNC_RUNTIME_KERNELSOURCE_H

#include "attnc/runtime/Nvrtc.h"
#include "attnc/runtime/RouteSource.h"

#include <string>
#include <vector>

namespace attnc::runtime {

struct KernelConfig {
  bool bf16 = true;  ///< false: fp16
  int headDim = 128; ///< 64, 128, 256
  std::string arch;  ///< "sm_80", "sm_90a", ...
  /// Which forward template: sm90/forward.cuh (wgmma, TMA; sm_90a only) or the portable
  /// sm80/forward.cuh. Set it with usesHopperTemplate(arch).
  bool hopper = false;
};

/// True when kernels for `arch` use the sm_90a template: arch is sm_90a and the
/// environment variable ATTNC_KERNEL is not "sm80" (which forces the portable template,
/// for comparisons).
bool usesHopperTemplate(const std::string &arch);

/// Name of the summary pre-pass entry point (extern "C").
inline constexpr const char *kSummaryKernelName = "attnc_summarize_input";

/// Name of the forward kernel entry point of the template for a configuration
/// (attnc_forward_sm80_d<D>_<bf16|f16> or attnc_forward_sm90_...); its launch table is the
/// __constant__ int <entry>_config[6] = {block_m, block_n, threads, stages,
/// dynamic_smem_bytes, head_dim} (sm80) or [8] = {..., 1 = takes AttncTmaMaps, 0} (sm90).
std::string forwardKernelName(const KernelConfig &config);

/// The summary pre-pass source alone (needs KernelArgs.h before it).
const char *summaryKernelSource();

/// Builds the full kernel source around `hooksSource` (and the routing code, for
/// attentions with a route). False with `error` when the kernel template is not embedded
/// in this build.
bool assembleKernelSource(const std::string &hooksSource, const KernelConfig &config,
                          std::string &source, std::string &error,
                          const RouteSource *route = nullptr);

/// Names of the backward's entry points (sm80/backward.cuh; attnc_backward_dq and its table in
/// the deterministic dQ module) and its launch table
/// (__constant__ int[6] = {block_m, block_n, threads, stages, dynamic_smem_bytes, head_dim}).
inline constexpr const char *kBackwardPrepareName = "attnc_backward_prepare";
inline constexpr const char *kBackwardKeyTilesName = "attnc_backward_key_tiles";
inline constexpr const char *kBackwardStoreDqName = "attnc_backward_store_dq";
inline constexpr const char *kBackwardConfigName = "attnc_backward_key_tiles_config";
inline constexpr const char *kBackwardRecomputeName = "attnc_backward_recompute";
inline constexpr const char *kBackwardDqName = "attnc_backward_dq";
/// sm_90a only (launch table [6] == 1): each 64-key block's query intervals, then which blocks
/// share each key tile and the tiles' intervals (a warp per window of 32 blocks).
inline constexpr const char *kBackwardQueryIntervalsName = "attnc_backward_query_intervals";
inline constexpr const char *kBackwardPairKeyBlocksName = "attnc_backward_pair_key_blocks";
/// sm_90a only: the query tiles each key-tile unit visits (a warp each), then the key-tile
/// kernel's launch order from them (one CTA of 1024 threads).
inline constexpr const char *kBackwardCountQueryTilesName = "attnc_backward_count_query_tiles";
inline constexpr const char *kBackwardKeyTileOrderName = "attnc_backward_key_tile_order";
inline constexpr const char *kBackwardDqConfigName = "attnc_backward_dq_config";
inline constexpr const char *kBackwardRecomputeConfigName = "attnc_backward_recompute_config";
/// The preparation's launch: __constant__ int[2] = {query rows per CTA, threads}, grid (all
/// heads' rows / rows per CTA).
inline constexpr const char *kBackwardPrepareConfigName = "attnc_backward_prepare_config";
/// The dQ store's launch: __constant__ int[3] = {query rows per CTA, threads, 1: grid (row
/// tiles, heads, batch), 0: grid (all heads' rows / rows per CTA)}.
inline constexpr const char *kBackwardStoreDqConfigName = "attnc_backward_store_dq_config";

/// The backward's two modules: the key-tile module (preparation, key tiles, dQ store,
/// recompute; what every backward runs) and the deterministic mode's dQ kernel, compiled on
/// the first deterministic backward.
enum class BackwardModule { KeyTiles, DeterministicDq };

/// Builds a backward module's source around `hooksSource` (generated with
/// CodegenOptions::backward): the forward's preamble, attnc_backward_params.h, the hooks and
/// variant, the module's entry file (sm90/backward_entry.cuh on sm_90a at D <= 128,
/// sm80/backward_entry.cuh otherwise; sm80/backward_dq_entry.cuh for the deterministic dQ) and
/// the summary pre-pass. The routing pre-pass comes with `route`, as in the forward.
bool assembleBackwardSource(const std::string &hooksSource, const KernelConfig &config,
                            std::string &source, std::string &error,
                            const RouteSource *route = nullptr,
                            BackwardModule module = BackwardModule::KeyTiles);

/// The embedded files, under every name a template may #include them by.
std::vector<NvrtcHeader> kernelHeaders();

/// A digest of every embedded file (part of the cache key).
std::string embeddedSourcesDigest();

} // namespace attnc::runtime

#endif // ATTNC_RUNTIME_KERNELSOURCE_H
