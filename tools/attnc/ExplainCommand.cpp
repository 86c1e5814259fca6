//===- ExplainCommand.cpp - attnc explain ---------------------------------===//
//
// Explains what the kernel of a program will do at one problem size: how many tiles are
// empty, full or partial (as the kernel classifies them: TileMap.h), the density and
// FLOPs, the block metadata the launch needs, and which kernel features the compiler chose
// and why (from the generated hooks' metadata).
//
//===----------------------------------------------------------------------===//
#include "Commands.h"
#include "TileMap.h"
#include "ToolSupport.h"

#include "attnc/compiler/Codegen.h"
#include "attnc/reference/Random.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <iostream>

namespace attnc::tools {
namespace {

struct ExplainOptions {
  std::string file, attention;
  int batch = 1, heads = 1, kvHeads = 0, qLen = 0, kvLen = 0, headDim = 128;
  int tileQ = 128, tileK = 64;
  std::vector<std::string> defines, params;
  uint64_t seed = 1;
  std::string countPairs = "auto";
};

/// CPU seconds (per worker thread) --count-pairs auto spends counting the kept pairs of
/// PARTIAL tiles before it settles for bounds.
constexpr double kCountBudgetSeconds = 0.4;

std::string humanBytes(double bytes) {
  if (bytes < 1024)
    return fmt::format("{:.0f} B", bytes);
  if (bytes < 1024.0 * 1024)
    return fmt::format("{:.1f} KiB", bytes / 1024);
  return fmt::format("{:.1f} MiB", bytes / (1024.0 * 1024));
}

int explainCommand(const ExplainOptions &o) {
  ProgramBundle bundle;
  if (!loadProgram(o.file, o.defines, o.attention, bundle))
    return kExitInputError;
  const dsl::AttentionDecl &attention = *bundle.attention;
  std::vector<reference::ParamBinding> params;
  if (!parseParamBindings(attention, o.params, params))
    return kExitUsage;

  reference::ProblemShape shape;
  shape.batch = o.batch;
  shape.heads = o.heads;
  shape.kvHeads = o.kvHeads > 0 ? o.kvHeads : o.heads;
  shape.qLen = o.qLen;
  shape.kvLen = o.kvLen > 0 ? o.kvLen : o.qLen;
  shape.headDim = o.headDim;
  if (shape.batch < 1 || shape.heads < 1 || shape.qLen < 1 || shape.kvLen < 1 ||
      shape.heads % shape.kvHeads || o.tileQ < 1 || o.tileK < 1) {
    std::cerr << "attnc: error: need batch, heads, lengths, tiles >= 1 and heads divisible by "
                 "kv-heads\n";
    return kExitUsage;
  }

  compiler::GeneratedHooks hooks;
  std::string error;
  compiler::CodegenOptions codegen;
  codegen.hostClassifier = true;
  if (!compiler::generateHooks(*bundle.program, attention, codegen, hooks, error)) {
    std::cerr << "attnc: error: internal compiler error: " << error << "\n";
    return kExitCompileError;
  }

  // The kernel's tile classes (TileMap.h) of each distinct (b, h).
  bool varies = variesPerBatchOrHead(attention);
  int evalBatch = varies ? shape.batch : 1, evalHeads = varies ? shape.heads : 1;
  double pairsPerHead = double(shape.qLen) * shape.kvLen;
  std::string routingNote;
  bool routing = routingAffordable(attention, shape, evalBatch * evalHeads, routingNote);
  reference::ProblemInputs inputs;
  if (!makeTileMapInputs(*bundle.program, attention, hooks, shape, o.seed, routing, inputs,
                         error)) {
    std::cerr << "attnc: error: " << error << "\n";
    return kExitInputError;
  }
  reference::ReferenceProblem problem = inputs.problem();
  problem.params = params;
  TileMapOptions tileOptions;
  tileOptions.tileQ = o.tileQ;
  tileOptions.tileK = o.tileK;
  tileOptions.routing = routing;
  tileOptions.countPartialPairs = o.countPairs != "bounds";
  tileOptions.countBudgetSeconds = o.countPairs == "auto" ? kCountBudgetSeconds : 0;
  tileOptions.heads.clear();
  for (int b = 0; b < evalBatch; ++b)
    for (int h = 0; h < evalHeads; ++h)
      tileOptions.heads.push_back({b, h});
  TileMap map;
  if (!computeTileMap(*bundle.program, attention, hooks, problem, tileOptions, map, error)) {
    std::cerr << "attnc: error: " << error << "\n";
    return kExitInputError;
  }
  double scale = varies ? 1.0 : double(shape.batch) * shape.heads;
  double pairsAll = pairsPerHead * shape.batch * shape.heads;
  double keptLow = double(map.fullPairs + (map.partialCounted ? map.partialKept : 0)) * scale;
  double keptHigh =
      double(map.fullPairs + (map.partialCounted ? map.partialKept : map.partialPairs)) * scale;
  double visitedPairs = double(map.tiles[1] + map.tiles[2]) * o.tileQ * o.tileK;

  fmt::print("attention {} ({})\n", attention.name, o.file);
  fmt::print("shape: batch {} heads {} kv_heads {} q_len {} kv_len {} d {}\n", shape.batch,
             shape.heads, shape.kvHeads, shape.qLen, shape.kvLen, shape.headDim);
  for (const auto &p : params)
    fmt::print("param: {} = {}\n", p.name,
               p.value.type == dsl::Type::Float  ? fmt::format("{}", p.value.f)
               : p.value.type == dsl::Type::Bool ? (p.value.b ? "true" : "false")
                                                 : fmt::format("{}", p.value.i));
  if (!routing)
    fmt::print("note: {}; the tile classes are the mask's alone and the numbers below are "
               "upper bounds (routing only removes pairs)\n",
               routingNote);
  const double flops = 4.0 * shape.headDim;
  if (map.partialCounted) {
    fmt::print("\n{:<26}{:.0f} of {:.0f} (density {:.4f}; exact)\n", "kept pairs", keptLow,
               pairsAll, keptLow / pairsAll);
    fmt::print("{:<26}{:.3g} (4 * d * kept pairs)\n", "useful FLOPs", flops * keptLow);
  } else if (attention.route && !routing) {
    // Without the selection even FULL tiles may lose pairs: only the upper bound holds.
    fmt::print("\n{:<26}at most {:.0f} of {:.0f} (density at most {:.4f}; bound: the route "
               "selection was not evaluated)\n",
               "kept pairs", keptHigh, pairsAll, keptHigh / pairsAll);
    fmt::print("{:<26}at most {:.3g} (4 * d * kept pairs)\n", "useful FLOPs", flops * keptHigh);
  } else {
    fmt::print("\n{:<26}{:.0f} to {:.0f} of {:.0f} (density {:.4f} to {:.4f}; bounds: the pairs "
               "of partial tiles were not counted{})\n",
               "kept pairs", keptLow, keptHigh, pairsAll, keptLow / pairsAll, keptHigh / pairsAll,
               o.countPairs == "auto" ? " within 0.4 s; --count-pairs exact counts them" : "");
    fmt::print("{:<26}{:.3g} to {:.3g} (4 * d * kept pairs)\n", "useful FLOPs", flops * keptLow,
               flops * keptHigh);
  }
  fmt::print("{:<26}{:.3g} (4 * d * pairs of non-empty tiles)\n", "executed FLOPs",
             4.0 * shape.headDim * visitedPairs * scale);
  fmt::print("\ntiles of {}x{} as the kernel classifies them (attnc_kv_ranges, attnc_classify{}; "
             "{} of {} (b, h) evaluated{}):\n",
             o.tileQ, o.tileK, attention.route && routing ? ", route selection" : "",
             evalBatch * evalHeads, shape.batch * shape.heads,
             varies ? "" : "; the pattern is the same for every (b, h)");
  uint64_t total = map.tiles[0] + map.tiles[1] + map.tiles[2];
  const char *names[3] = {"empty", "partial", "full"};
  std::string what[3] = {fmt::format("never loaded ({} outside the key ranges, not classified)",
                                     uint64_t(double(map.unclassifiedEmpty) * scale)),
                         "masked per element", "no per-element mask"};
  if (map.partialCounted && (map.partialActuallyEmpty || map.partialActuallyFull))
    what[1] += fmt::format(" ({} keep no pair and {} every pair: not provable per tile)",
                           uint64_t(double(map.partialActuallyEmpty) * scale),
                           uint64_t(double(map.partialActuallyFull) * scale));
  for (int c : {0, 2, 1})
    fmt::print("  {:<9}{:>10}  {:5.1f}%  {}\n", names[c], uint64_t(double(map.tiles[c]) * scale),
               100.0 * double(map.tiles[c]) / double(std::max<uint64_t>(1, total)), what[c]);

  // Block metadata the launch allocates.
  double summaryBytes = 0, routeBytes = 0;
  std::vector<std::vector<int64_t>> dims;
  if (!reference::evaluateInputDims(*bundle.program, attention, shape, dims, error)) {
    std::cerr << "attnc: error: " << error << "\n";
    return kExitInputError;
  }
  for (const auto &in : hooks.inputs) {
    if (!in.summarized)
      continue;
    for (size_t i = 0; i < attention.inputs.size(); ++i) {
      if (attention.inputs[i].name != in.name || dims[i].empty())
        continue;
      // {min, max} int32 per 64-token block of the last dim, per index of the others.
      double outer = 1;
      for (size_t d = 0; d + 1 < dims[i].size(); ++d)
        outer *= double(dims[i][d]);
      summaryBytes += 8.0 * outer * std::ceil(double(dims[i].back()) / 64);
    }
  }
  if (attention.route) {
    const auto &r = *attention.route;
    double blocks = 1;
    for (int64_t s : r.blockShape)
      blocks *= double(s);
    double numBlocks = std::ceil(shape.kvLen / blocks) + 1;
    double units = r.per == dsl::RouteSpec::Granularity::Head
                       ? 1
                       : std::ceil(double(shape.qLen) / double(r.queryBlock));
    routeBytes = 4.0 * std::ceil(numBlocks / 32) * units * shape.batch * shape.heads;
  }
  fmt::print("\n{:<26}{}\n", "block metadata",
             summaryBytes + routeBytes == 0
                 ? std::string("none (no block mask is ever built)")
                 : fmt::format("{} (input summaries {}, routing bitmasks ~{})",
                               humanBytes(summaryBytes + routeBytes), humanBytes(summaryBytes),
                               humanBytes(routeBytes)));

  fmt::print("\nkernel: forward_sm90 on sm_90a (wgmma, TMA, warp-specialised, persistent; "
             "{}-key tiles), forward_sm80 elsewhere (mma.sync m16n8k16, cp.async pipeline)\n",
             hooks.kvRangesExact && !hooks.hasRoute ? 128 : 64);
  fmt::print("  {:<24}{}\n", "key loop",
             hooks.hasKvBounds ? "bounded by attnc_kv_ranges: keys outside the derived "
                                 "intervals are never visited"
                               : "every key tile (no closed-form bound was derived)");
  fmt::print("  {:<24}{}\n", "tile classification",
             hooks.maskAlwaysTrue ? "none needed: the mask is always true"
                                  : "attnc_classify per tile (interval analysis of the mask)");
  std::string summarized;
  for (const auto &in : hooks.inputs)
    if (in.summarized)
      summarized += (summarized.empty() ? "" : ", ") + in.name;
  fmt::print("  {:<24}{}\n", "input summaries",
             summarized.empty() ? std::string("none")
                                : "per-block min/max of " + summarized +
                                      " (pre-pass kernel), read by the classifier");
  fmt::print("  {:<24}{}\n", "score modifier", hooks.hasScore ? "attnc_score per element" : "none");
  fmt::print("  {:<24}{}\n", "output epilogue", hooks.hasOut ? "attnc_out, fused" : "none");
  fmt::print("  {:<24}{}\n", "block routing",
             attention.route ? "gate and selection pre-pass kernels, then a per-unit bitmask"
                             : "none");
  return kExitOk;
}

} // namespace

void registerExplainCommand(CLI::App &app, int &exitCode) {
  auto options = std::make_shared<ExplainOptions>();
  auto *cmd = app.add_subcommand(
      "explain", "Tile counts, density, FLOPs, metadata and the kernel features of a program");
  cmd->add_option("file", options->file, "The .attn file")->required();
  cmd->add_option("--q-len", options->qLen, "Query length")->required();
  cmd->add_option("--kv-len", options->kvLen, "Key length (default: q-len)");
  cmd->add_option("--attention", options->attention, "Which attention (default: the only one)");
  cmd->add_option("--batch", options->batch, "Batch size")->capture_default_str();
  cmd->add_option("--heads", options->heads, "Query heads")->capture_default_str();
  cmd->add_option("--kv-heads", options->kvHeads, "Key/value heads (default: heads)");
  cmd->add_option("--head-dim", options->headDim, "Head dimension")->capture_default_str();
  cmd->add_option("--tile-q", options->tileQ, "Query tile")->capture_default_str();
  cmd->add_option("--tile-k", options->tileK, "Key tile")->capture_default_str();
  cmd->add_option("-D", options->defines, "Override a const: -D name=value");
  cmd->add_option("-P", options->params, "Set a param: -P name=value");
  cmd->add_option("--seed", options->seed, "Seed for data-dependent inputs")->capture_default_str();
  cmd->add_option("--count-pairs", options->countPairs,
                  "Kept pairs of partial tiles: exact (counted), bounds (not counted), or "
                  "auto (counted when that takes at most 0.4 s of CPU per thread)")
      ->check(CLI::IsMember({"auto", "exact", "bounds"}))
      ->capture_default_str();
  cmd->callback([options, &exitCode] { exitCode = explainCommand(*options); });
}

} // namespace attnc::tools
