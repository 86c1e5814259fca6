//===- KernelArgs.h - The contract between generated hooks and kernels ----===//
//
// Compiled by both the host compiler and NVRTC (the runtime pastes it into every
// generated kernel), so it uses only plain C types.
//
// The compiler (compiler/) generates, for one attention program, these device functions,
// all `static __device__ __forceinline__`, into the kernel source ahead of the template
// body (runtime/kernels/):
//
//   bool  attnc_mask(const AttncArgs &a, int b, int h, int q, int k);
//   float attnc_score(const AttncArgs &a, float s, int b, int h, int q, int k);
//         // s = scale * dot(Q[q], K[k]) in fp32; returns the modified score
//   float attnc_out(const AttncArgs &a, float o, int b, int h, int q, int c);
//         // o = normalised output element O[b,h,q,c]; returns the gated value
//   int   attnc_classify(const AttncArgs &a, int b, int h,
//                        int q_lo, int q_hi, int k_lo, int k_hi);
//         // inclusive token ranges of one tile; ATTNC_TILE_EMPTY / _PARTIAL / _FULL,
//         // sound: EMPTY only if no pair is kept, FULL only if every pair is kept;
//         // ATTNC_TILE_ROWS (only where V::kHasRowTiles) when the tile's pairs are
//         // kept exactly where V::rowKeep(a, b, h, q, k_lo) holds:
//         // whole rows kept or dropped, no per-element mask needed
//
// When the mask is factored (kMaskFactors below: attn-factor-mask split the mask into conjuncts
// that read no input tensor and conjuncts that do; attnc_mask == attnc_mask_index &&
// attnc_mask_data):
//
//   bool  attnc_mask_index(const AttncArgs &a, int b, int h, int q, int k);
//   bool  attnc_mask_data(const AttncArgs &a, int b, int h, int q, int k);
//   int   attnc_classify_factors(...);  // attnc_classify's arguments; its class, and on
//         // PARTIAL tiles | ATTNC_TILE_INDEX_PROVEN / _DATA_PROVEN when that factor holds
//         // for every pair of the tile (attnc_classify == attnc_classify_factors & 3)
//   int   attnc_kv_ranges(const AttncArgs &a, int b, int h, int q_lo, int q_hi,
//                         int *lo, int *hi);
//         // up to ATTNC_MAX_KV_RANGES half-open key intervals [lo[i], hi[i]), sorted
//         // and disjoint, outside which every key is masked for all q in [q_lo, q_hi];
//         // returns the count (the whole [0, kv_len) when no bound is known)
//
// For attentions with a `route`, also (float64 gates, see docs/compiler.md):
//
//   int    attnc_route_block_of(const AttncArgs &a, int t);
//   int    attnc_route_num_blocks(const AttncArgs &a);
//   bool   attnc_route_always(const AttncArgs &a, int b, int h, int q, int blk);
//   bool   attnc_route_never(const AttncArgs &a, int b, int h, int q, int blk);
//   double attnc_route_gate(const AttncArgs &a, int b, int h, int q, int blk, double dot);
//
// which the runtime's routing pre-pass (runtime/kernels/prepass/route_kernels.cuh) calls.
//
// After the functions the compiler writes the program's variant, the type the kernel
// templates take (`template <class V, ...>`, FlashInfer's idea):
//
//   struct AttncProgram {
//     static constexpr bool kHasScore, kHasOut, kHasRoute, kMaskAlwaysTrue, kMaskFactors,
//                           kHasSummaries, kHasKvBounds, kKvRangesExact, kCoordinateReads,
//                           kQueryWindow, kHasRowTiles;
//     static constexpr int kMaskComparisons;        // per element: where sm90 keeps Q
//     static constexpr unsigned kSummarizedInputs;  // bit i: input i is summarized
//     // and static member functions forwarding to the functions above: mask, maskIndex,
//     // maskData, score, out, classify, classifyFactors, kvRanges, routeBlockOf, ...
//   };
//
// Generated for the backward only (CodegenOptions::backward), also: qRanges (the query
// intervals of a key range, attnc_q_ranges; kQueryWindow is false without a backward), scoreGrad
// and outGrad (d score / d s, d out / d o), kScoreInputGrads / kOutInputGrads and scoreInputGrads /
// outInputGrads, which add dL/d(score or out) times each read site's derivative to the
// AttncInputGrads below.
//
// Routed programs are wrapped (attnc::RoutedVariant<AttncProgram, AttncRoutePolicy>): its
// mask and classify add the selected blocks, kMaskFactors is false, and where route blocks
// are key ranges kHasRowTiles is true with `bool rowKeep(a, b, h, q, k_lo)` (ATTNC_TILE_ROWS
// tiles; templates without a row path treat them as PARTIAL). The assembled source names
// the kernels' variant `using AttncVariant = ...;`.
//
//===----------------------------------------------------------------------===//
#ifndef ATTNC_RUNTIME_KERNELARGS_H
#define ATTNC_RUNTIME_KERNELARGS_H

#define ATTNC_MAX_PARAMS 16
#define ATTNC_MAX_INPUTS 8
#define ATTNC_MAX_KV_RANGES 4
#define ATTNC_MAX_RANK 4

#define ATTNC_TILE_EMPTY 0
#define ATTNC_TILE_PARTIAL 1
#define ATTNC_TILE_FULL 2
/// Kept pairs depend on the query only (attnc_row_keep); see attnc_classify above.
#define ATTNC_TILE_ROWS 3
/// attnc_classify_factors' bits on PARTIAL tiles: the factor holds on the whole tile.
#define ATTNC_TILE_INDEX_PROVEN 4
#define ATTNC_TILE_DATA_PROVEN 8

/// Element type codes of AttncTensor::dtype (match dsl::ElementType).
#define ATTNC_DT_I32 0
#define ATTNC_DT_I64 1
#define ATTNC_DT_F32 2
#define ATTNC_DT_F16 3
#define ATTNC_DT_BF16 4
#define ATTNC_DT_U8 5

/// An input tensor read by the hooks: element (i0, i1, ...) is at
/// data + sum(i_n * stride[n]) elements.
typedef struct AttncTensor {
  const void *data;
  long long stride[ATTNC_MAX_RANK];
  int dim[ATTNC_MAX_RANK];
  int rank;
  int dtype;
} AttncTensor;

/// Run-time values the hooks may read; passed by value to every kernel.
typedef struct AttncArgs {
  int batch, heads, kv_heads, q_len, kv_len, head_dim;
  float scale;                    ///< softmax scale (default 1/sqrt(head_dim))
  int iparam[ATTNC_MAX_PARAMS];   ///< Int and Bool params, in declaration order
  float fparam[ATTNC_MAX_PARAMS]; ///< Float params, in declaration order
  AttncTensor input[ATTNC_MAX_INPUTS];
  /// Per-block min/max summaries of token-indexed inputs read by the mask (computed by
  /// a pre-pass kernel; layout defined by the compiler's summary plan).
  const int *summary[ATTNC_MAX_INPUTS];
  int summary_block; ///< tokens per summary block
  /// Block routing results (ATTNC_HAS_ROUTE): per selection unit, a bitmask of
  /// selected KV blocks, `route_words` 32-bit words per unit.
  const unsigned *route_mask;
  int route_words;
} AttncArgs;

/// The backward's gradients of float inputs (fp32, written with atomic adds): element
/// (i0, i1, ...) of input slot s's gradient at data[s] + sum(i_n * stride[s][n]); data[s] is
/// null where no gradient was asked for. The variant's scoreInputGrads / outInputGrads add
/// to them (backward hooks only).
typedef struct AttncInputGrads {
  float *data[ATTNC_MAX_INPUTS];
  long long stride[ATTNC_MAX_INPUTS][ATTNC_MAX_RANK];
  int any; ///< some data[s] is non-null
} AttncInputGrads;

#endif // ATTNC_RUNTIME_KERNELARGS_H
