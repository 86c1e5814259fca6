//===- TileMap.h - The kernel's tile classes of one problem -------*- C++ -*-===//
//
// What the kernels decide per (query tile, key tile) at a problem size, computed on the
// host the way the launch does it: input summaries from the bound tensors (the
// pre-pass's per-block min/max), then per query tile the generated attnc_kv_ranges (key
// tiles outside them are EMPTY unclassified) and attnc_classify on the others, run by
// compiler::HostTileClassifier; for routed attentions the reference's route selection
// cuts the class as the runtime's routing wrapper does. Only kept-pair counts of PARTIAL
// tiles need pair evaluation (the reference), and only when asked for.
//
//===----------------------------------------------------------------------===//
#ifndef ATTNC_TOOLS_TILEMAP_H
#define ATTNC_TOOLS_TILEMAP_H

#include "attnc/compiler/Codegen.h"
#include "attnc/dsl/AST.h"
#include "attnc/reference/Random.h"
#include "attnc/reference/Reference.h"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace attnc::tools {

struct TileMapOptions {
  int tileQ = 128, tileK = 64;
  /// The (b, h) to classify (one class grid each).
  std::vector<std::pair<int, int>> heads = {{0, 0}};
  /// Keep the class grids (viz); explain needs only the counts.
  bool keepClasses = false;
  /// Count the kept pairs of PARTIAL tiles by subdividing the tile with the classifier
  /// (sound on any token box), cut by the route selection, down to single pairs, and the
  /// reference for pairs left open. Routed attentions are not counted when `routing` is off.
  bool countPartialPairs = false;
  /// Give up counting (TileMap::partialCounted = false) once a worker thread has spent this
  /// many seconds of CPU time counting; 0: never.
  double countBudgetSeconds = 0;
  /// Evaluate the route selection (routed attentions). Without it the classes are those
  /// of the mask alone: routing only removes pairs, so EMPTY stays exact and FULL /
  /// PARTIAL become upper bounds.
  bool routing = true;
  /// Worker threads (0: hardware concurrency).
  int threads = 0;
  /// Print progress to stderr when the work runs longer than a few seconds.
  bool progress = true;
};

enum TileClass : uint8_t { kTileEmpty = 0, kTilePartial = 1, kTileFull = 2 };

struct TileMap {
  int tilesQ = 0, tilesK = 0;
  /// Per options.heads entry, tilesQ * tilesK classes (keepClasses only).
  std::vector<std::vector<uint8_t>> classes;
  /// Over all classified (b, h): tiles per class, and tiles outside the key ranges (EMPTY
  /// without classification).
  uint64_t tiles[3] = {0, 0, 0};
  uint64_t unclassifiedEmpty = 0;
  /// Pairs (inside the problem) of FULL tiles (all kept) and of PARTIAL tiles.
  uint64_t fullPairs = 0, partialPairs = 0;
  /// countPartialPairs (and within the budget): kept pairs in PARTIAL tiles, and PARTIAL
  /// tiles that keep none or all of their pairs (the classifier could not prove it).
  bool partialCounted = false;
  uint64_t partialKept = 0, partialActuallyEmpty = 0, partialActuallyFull = 0;
  bool routingEvaluated = false;
};

/// Seeded inputs for computeTileMap: only the inputs the mask reads get data (all of them,
/// and Q and K, when `routing`), so an additive bias over q x k costs nothing.
bool makeTileMapInputs(const dsl::Program &program, const dsl::AttentionDecl &attention,
                       const compiler::GeneratedHooks &hooks, const reference::ProblemShape &shape,
                       uint64_t seed, bool routing, reference::ProblemInputs &inputs,
                       std::string &error);

/// Whether the reference's route selection is affordable at `shape` for `pairsOfHeads`
/// (b, h): it evaluates a gate per (unit, key block) and holds Q and K in float64. When
/// not, `why` says so.
bool routingAffordable(const dsl::AttentionDecl &attention, const reference::ProblemShape &shape,
                       int pairsOfHeads, std::string &why);

/// Classifies the tiles of `problem` for options.heads. `hooks` must have been generated
/// with CodegenOptions::hostClassifier. The problem's inputs must bind every input the
/// mask reads (others may be views without data); Q and K are read only for routing.
/// Returns false and sets `error` on bad input.
bool computeTileMap(const dsl::Program &program, const dsl::AttentionDecl &attention,
                    const compiler::GeneratedHooks &hooks,
                    const reference::ReferenceProblem &problem, const TileMapOptions &options,
                    TileMap &map, std::string &error);

} // namespace attnc::tools

#endif // ATTNC_TOOLS_TILEMAP_H
