//===- ExplainCommand.cpp - attnc explain ---------------------------------===//
//
// Explains what the kernel of a program will do at one problem size: how many tiles are
// empty, full or partial (as the kernel classifies them: TileMap.h), the density and
// FLOPs, the block metadata the launch needs, and which kernel features the compiler chose
// and why (from the generated hooks' metadata). The facts are gathered into one struct that
// the text and `--json` printers both read, so the two cannot disagree.
//
//===----------------------------------------------------------------------===//
#include "Commands.h"
#include "TileMap.h"
#include "ToolSupport.h"

#include "attnc/compiler/Codegen.h"
#include "attnc/reference/Random.h"
#include "attnc_tile_policy.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <iostream>
#include <optional>

namespace attnc::tools {
namespace {

struct ExplainOptions {
  std::string file, attention;
  int batch = 1, heads = 1, kvHeads = 0, qLen = 0, kvLen = 0, headDim = 128;
  int tileQ = 128, tileK = 64;
  std::vector<std::string> defines, params, inputs;
  uint64_t seed = 1;
  bool json = false;
  std::string countPairs = "auto";
};

/// Everything explain reports; the text and JSON printers both read it.
struct ExplainFacts {
  std::string attention, file;
  reference::ProblemShape shape;
  struct Param {
    std::string name;
    std::optional<dsl::ConstValue> value; ///< empty: no default and not given
    bool given = false;
  };
  std::vector<Param> params;
  struct Input {
    std::string name, elementType, source;
    std::vector<int64_t> dims;
    std::string kind; ///< "file", "constant" or "random"
  };
  std::vector<Input> inputs;
  /// Kept pairs over every (b, h): exact, or bounds [keptLow, keptHigh] when the pairs of
  /// partial tiles were not counted, or only an upper bound when the route selection was not
  /// evaluated (then even FULL tiles may lose pairs).
  enum class Kept { Exact, Bounds, UpperBound } kept = Kept::Exact;
  double keptLow = 0, keptHigh = 0, totalPairs = 0;
  std::string countHint;   ///< why the partial tiles' pairs were not counted
  std::string routingNote; ///< non-empty: the route selection was not evaluated
  double executedFlops = 0;
  int tileQ = 0, tileK = 0, tilesQ = 0, tilesK = 0; ///< tilesQ x tilesK per (b, h)
  double tiles[3] = {0, 0, 0};                      ///< empty, partial, full; every (b, h)
  double unclassifiedEmpty = 0; ///< empty tiles outside the key ranges (never classified)
  /// Partial tiles that turned out to keep no pair / every pair (when counted).
  double partialActuallyEmpty = 0, partialActuallyFull = 0;
  bool routeSelection = false;            ///< the classes include the route selection
  int evaluatedHeads = 0, totalHeads = 0; ///< distinct (b, h) evaluated, of all
  bool samePattern = false;               ///< the same for every (b, h)
  double summaryBytes = 0, routeBytes = 0;
  int sm90KeyTile = 128;
  /// The backward: whether the program differentiates (else why not), the sm_90a key-tile
  /// kernel's query tile and whether the keys' queries lie in a window (kQueryWindow).
  bool backward = false;
  std::string backwardError;
  int sm90BackwardQueryTile = 64;
  bool queryWindow = false;
  bool kvBounds = false, maskAlwaysTrue = false, score = false, out = false, route = false;
  std::vector<std::string> summarized; ///< inputs with per-block min/max summaries
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

template <typename T> std::string join(const std::vector<T> &items) {
  std::string out;
  for (const T &item : items)
    out += (out.empty() ? "" : ", ") + fmt::format("{}", item);
  return out;
}

std::string valueText(const dsl::ConstValue &v) {
  return v.type == dsl::Type::Float  ? fmt::format("{}", v.f)
         : v.type == dsl::Type::Bool ? (v.b ? "true" : "false")
                                     : fmt::format("{}", v.i);
}

void printText(const ExplainFacts &f) {
  const reference::ProblemShape &shape = f.shape;
  fmt::print("attention {} ({})\n", f.attention, f.file);
  fmt::print("shape: batch {} heads {} kv_heads {} q_len {} kv_len {} d {}\n", shape.batch,
             shape.heads, shape.kvHeads, shape.qLen, shape.kvLen, shape.headDim);
  for (const auto &p : f.params)
    fmt::print("param: {} = {}{}\n", p.name, p.value ? valueText(*p.value) : "(no value)",
               p.given ? "" : " (default)");
  for (const auto &in : f.inputs)
    fmt::print("input: {} {}[{}]: {}\n", in.name, in.elementType, join(in.dims), in.source);
  if (!f.routingNote.empty())
    fmt::print("note: {}; the tile classes are the mask's alone and the numbers below are "
               "upper bounds (routing only removes pairs)\n",
               f.routingNote);
  const double flops = 4.0 * shape.headDim;
  switch (f.kept) {
  case ExplainFacts::Kept::Exact:
    fmt::print("\n{:<26}{:.0f} of {:.0f} (density {:.4f}; exact)\n", "kept pairs", f.keptLow,
               f.totalPairs, f.keptLow / f.totalPairs);
    fmt::print("{:<26}{:.3g} (4 * d * kept pairs)\n", "useful FLOPs", flops * f.keptLow);
    break;
  case ExplainFacts::Kept::UpperBound:
    fmt::print("\n{:<26}at most {:.0f} of {:.0f} (density at most {:.4f}; bound: the route "
               "selection was not evaluated)\n",
               "kept pairs", f.keptHigh, f.totalPairs, f.keptHigh / f.totalPairs);
    fmt::print("{:<26}at most {:.3g} (4 * d * kept pairs)\n", "useful FLOPs", flops * f.keptHigh);
    break;
  case ExplainFacts::Kept::Bounds:
    fmt::print("\n{:<26}{:.0f} to {:.0f} of {:.0f} (density {:.4f} to {:.4f}; bounds: the pairs "
               "of partial tiles were not counted{})\n",
               "kept pairs", f.keptLow, f.keptHigh, f.totalPairs, f.keptLow / f.totalPairs,
               f.keptHigh / f.totalPairs, f.countHint);
    fmt::print("{:<26}{:.3g} to {:.3g} (4 * d * kept pairs)\n", "useful FLOPs", flops * f.keptLow,
               flops * f.keptHigh);
    break;
  }
  fmt::print("{:<26}{:.3g} (4 * d * pairs of non-empty tiles)\n", "executed FLOPs",
             f.executedFlops);
  fmt::print("\ntiles of {}x{} as the kernel classifies them (attnc_kv_ranges, attnc_classify{}; "
             "{} of {} (b, h) evaluated{}):\n",
             f.tileQ, f.tileK, f.routeSelection ? ", route selection" : "", f.evaluatedHeads,
             f.totalHeads, f.samePattern ? "; the pattern is the same for every (b, h)" : "");
  double total = f.tiles[0] + f.tiles[1] + f.tiles[2];
  const char *names[3] = {"empty", "partial", "full"};
  std::string what[3] = {fmt::format("never loaded ({:.0f} outside the key ranges, not "
                                     "classified)",
                                     f.unclassifiedEmpty),
                         "masked per element", "no per-element mask"};
  if (f.partialActuallyEmpty || f.partialActuallyFull)
    what[1] += fmt::format(" ({:.0f} keep no pair and {:.0f} every pair: not provable per tile)",
                           f.partialActuallyEmpty, f.partialActuallyFull);
  for (int c : {0, 2, 1})
    fmt::print("  {:<9}{:>10.0f}  {:5.1f}%  {}\n", names[c], f.tiles[c],
               100.0 * f.tiles[c] / std::max(1.0, total), what[c]);

  fmt::print("\n{:<26}{}\n", "block metadata",
             f.summaryBytes + f.routeBytes == 0
                 ? std::string("none (no block mask is ever built)")
                 : fmt::format("{} (input summaries {}, routing bitmasks ~{})",
                               humanBytes(f.summaryBytes + f.routeBytes),
                               humanBytes(f.summaryBytes), humanBytes(f.routeBytes)));

  fmt::print("\nkernel: forward_sm90 on sm_90a (wgmma, TMA, warp-specialised, persistent; "
             "{}-key tiles), forward_sm80 elsewhere (mma.sync m16n8k16, cp.async pipeline)\n",
             f.sm90KeyTile);
  fmt::print("  {:<24}{}\n", "key loop",
             f.kvBounds ? "bounded by attnc_kv_ranges: keys outside the derived "
                          "intervals are never visited"
                        : "every key tile (no closed-form bound was derived)");
  fmt::print("  {:<24}{}\n", "tile classification",
             f.maskAlwaysTrue ? "none needed: the mask is always true"
                              : "attnc_classify per tile (interval analysis of the mask)");
  std::string summarized;
  for (const auto &name : f.summarized)
    summarized += (summarized.empty() ? "" : ", ") + name;
  fmt::print("  {:<24}{}\n", "input summaries",
             summarized.empty() ? std::string("none")
                                : "per-block min/max of " + summarized +
                                      " (pre-pass kernel), read by the classifier");
  fmt::print("  {:<24}{}\n", "score modifier", f.score ? "attnc_score per element" : "none");
  fmt::print("  {:<24}{}\n", "output epilogue", f.out ? "attnc_out, fused" : "none");
  fmt::print("  {:<24}{}\n", "block routing",
             f.route ? "gate and selection pre-pass kernels, then a per-unit bitmask" : "none");
  if (!f.backward) {
    fmt::print("\nbackward: not available: {}\n",
               f.backwardError.substr(0, f.backwardError.find('\n')));
  } else if (f.shape.headDim > 128) {
    fmt::print("\nbackward: the portable key-tile kernel (backward_sm80, mma.sync) at head dim "
               "{}\n",
               f.shape.headDim);
  } else {
    fmt::print("\nbackward: key-tile kernel backward_sm90 on sm_90a (128-key tiles, {}-query "
               "steps{}), backward_sm80 elsewhere\n",
               f.sm90BackwardQueryTile,
               f.queryWindow ? "; each key's queries lie in a window" : "");
  }
}

std::string jsonString(const std::string &text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\')
      out += std::string("\\") + c;
    else if (uint8_t(c) < 0x20)
      out += fmt::format("\\u{:04x}", int(uint8_t(c)));
    else
      out += c;
  }
  return out + "\"";
}

// JSON has no infinities or NaN: those are written as strings.
std::string jsonNumber(double v) {
  return std::isfinite(v) ? fmt::format("{}", v) : jsonString(fmt::format("{}", v));
}

std::string jsonValue(const dsl::ConstValue &v) {
  return v.type == dsl::Type::Float  ? jsonNumber(v.f)
         : v.type == dsl::Type::Bool ? (v.b ? "true" : "false")
                                     : fmt::format("{}", v.i);
}

template <typename T, typename F> std::string jsonList(const std::vector<T> &items, F &&item) {
  std::string out = "[";
  for (size_t i = 0; i < items.size(); ++i)
    out += (i ? ", " : "") + item(items[i]);
  return out + "]";
}

void printJson(const ExplainFacts &f) {
  const reference::ProblemShape &s = f.shape;
  auto number = [](auto v) { return fmt::format("{}", v); };
  std::string j = "{\n";
  j += fmt::format("  \"attention\": {},\n  \"file\": {},\n", jsonString(f.attention),
                   jsonString(f.file));
  j += fmt::format("  \"shape\": {{\"batch\": {}, \"heads\": {}, \"kv_heads\": {}, "
                   "\"q_len\": {}, \"kv_len\": {}, \"head_dim\": {}}},\n",
                   s.batch, s.heads, s.kvHeads, s.qLen, s.kvLen, s.headDim);
  j += "  \"params\": " +
       jsonList(f.params,
                [](const ExplainFacts::Param &p) {
                  return fmt::format("{{\"name\": {}, \"value\": {}, \"given\": {}}}",
                                     jsonString(p.name), p.value ? jsonValue(*p.value) : "null",
                                     p.given);
                }) +
       ",\n";
  j += "  \"inputs\": " +
       jsonList(f.inputs,
                [&](const ExplainFacts::Input &in) {
                  return fmt::format(
                      "{{\"name\": {}, \"element_type\": {}, \"dims\": {}, \"source\": {}, "
                      "\"value\": {}}}",
                      jsonString(in.name), jsonString(in.elementType), jsonList(in.dims, number),
                      jsonString(in.kind), jsonString(in.source));
                }) +
       ",\n";
  // kept_pairs, density and useful_flops are numbers when exact, else null; the bounds are
  // always given ("kept_pairs_kind": exact, bounds or upper_bound).
  const bool exact = f.kept == ExplainFacts::Kept::Exact;
  const char *kind = exact                                  ? "exact"
                     : f.kept == ExplainFacts::Kept::Bounds ? "bounds"
                                                            : "upper_bound";
  const double low = f.kept == ExplainFacts::Kept::UpperBound ? 0.0 : f.keptLow;
  j += fmt::format("  \"kept_pairs\": {},\n  \"kept_pairs_kind\": {},\n  \"kept_pairs_bounds\": "
                   "[{}, {}],\n  \"total_pairs\": {},\n  \"density\": {},\n",
                   exact ? jsonNumber(f.keptLow) : "null", jsonString(kind), jsonNumber(low),
                   jsonNumber(f.keptHigh), jsonNumber(f.totalPairs),
                   exact ? jsonNumber(f.keptLow / f.totalPairs) : "null");
  j += fmt::format("  \"useful_flops\": {},\n  \"executed_flops\": {},\n",
                   exact ? jsonNumber(4.0 * s.headDim * f.keptLow) : "null",
                   jsonNumber(f.executedFlops));
  j += fmt::format("  \"tiles\": {{\"tile_q\": {}, \"tile_k\": {}, \"tiles_q\": {}, "
                   "\"tiles_k\": {}, \"empty\": {}, \"partial\": {}, \"full\": {}, "
                   "\"empty_outside_key_ranges\": {}, \"route_selection\": {}, "
                   "\"evaluated_heads\": {}, \"total_heads\": {}, "
                   "\"same_pattern_every_head\": {}}},\n",
                   f.tileQ, f.tileK, f.tilesQ, f.tilesK, jsonNumber(f.tiles[0]),
                   jsonNumber(f.tiles[1]), jsonNumber(f.tiles[2]), jsonNumber(f.unclassifiedEmpty),
                   f.routeSelection, f.evaluatedHeads, f.totalHeads, f.samePattern);
  j += fmt::format("  \"block_metadata\": {{\"bytes\": {}, \"input_summary_bytes\": {}, "
                   "\"routing_bytes\": {}}},\n",
                   jsonNumber(f.summaryBytes + f.routeBytes), jsonNumber(f.summaryBytes),
                   jsonNumber(f.routeBytes));
  j += fmt::format("  \"kernel\": {{\"sm90_key_tile\": {}, \"key_loop_bounded\": {}, "
                   "\"mask_always_true\": {}, \"input_summaries\": {}, \"score_modifier\": {}, "
                   "\"output_epilogue\": {}, \"block_routing\": {}}}\n",
                   f.sm90KeyTile, f.kvBounds, f.maskAlwaysTrue, jsonList(f.summarized, jsonString),
                   f.score, f.out, f.route);
  j.insert(j.size() - 1, ",");
  if (f.backward)
    j += fmt::format("  \"backward\": {{\"available\": true, \"sm90_query_tile\": {}, "
                     "\"query_window\": {}}}\n",
                     f.sm90BackwardQueryTile, f.queryWindow);
  else
    j += fmt::format("  \"backward\": {{\"available\": false, \"error\": {}}}\n",
                     jsonString(f.backwardError));
  j += "}\n";
  fmt::print("{}", j);
}

int explainCommand(const ExplainOptions &o) {
  ProgramBundle bundle;
  if (!loadProgram(o.file, o.defines, o.attention, bundle))
    return kExitInputError;
  const dsl::AttentionDecl &attention = *bundle.attention;
  std::vector<reference::ParamBinding> params;
  if (!parseParamBindings(attention, o.params, params))
    return kExitUsage;
  std::vector<InputBinding> inputBindings;
  if (!parseInputBindings(attention, o.inputs, inputBindings))
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
  if (!applyInputBindings(bundle, inputBindings, inputs))
    return kExitInputError;
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

  ExplainFacts facts;
  facts.attention = attention.name;
  facts.file = o.file;
  facts.shape = shape;
  for (const dsl::ParamDecl &decl : attention.params) {
    ExplainFacts::Param p{decl.name, decl.folded, false};
    for (const auto &b : params)
      if (b.name == decl.name)
        p.value = b.value, p.given = true;
    facts.params.push_back(p);
  }
  for (size_t i = 0; i < attention.inputs.size(); ++i) {
    const dsl::InputDecl &decl = attention.inputs[i];
    ExplainFacts::Input in{decl.name, dsl::elementTypeName(decl.elementType),
                           inputSource(inputBindings, decl.name, o.seed),
                           inputs.inputs[i].tensor.dims, "random"};
    for (const auto &b : inputBindings)
      if (b.name == decl.name)
        in.kind = b.constant ? "constant" : "file";
    facts.inputs.push_back(in);
  }
  facts.totalPairs = pairsPerHead * shape.batch * shape.heads;
  facts.keptLow = double(map.fullPairs + (map.partialCounted ? map.partialKept : 0)) * scale;
  facts.keptHigh =
      double(map.fullPairs + (map.partialCounted ? map.partialKept : map.partialPairs)) * scale;
  facts.kept = map.partialCounted            ? ExplainFacts::Kept::Exact
               : attention.route && !routing ? ExplainFacts::Kept::UpperBound
                                             : ExplainFacts::Kept::Bounds;
  if (o.countPairs == "auto")
    facts.countHint = " within 0.4 s; --count-pairs exact counts them";
  if (!routing)
    facts.routingNote = routingNote;
  facts.executedFlops =
      4.0 * shape.headDim * double(map.tiles[1] + map.tiles[2]) * o.tileQ * o.tileK * scale;
  facts.tileQ = o.tileQ;
  facts.tileK = o.tileK;
  facts.tilesQ = (shape.qLen + o.tileQ - 1) / o.tileQ;
  facts.tilesK = (shape.kvLen + o.tileK - 1) / o.tileK;
  for (int c = 0; c < 3; ++c)
    facts.tiles[c] = double(map.tiles[c]) * scale;
  facts.unclassifiedEmpty = double(map.unclassifiedEmpty) * scale;
  if (map.partialCounted) {
    facts.partialActuallyEmpty = double(map.partialActuallyEmpty) * scale;
    facts.partialActuallyFull = double(map.partialActuallyFull) * scale;
  }
  facts.routeSelection = attention.route && routing;
  facts.evaluatedHeads = evalBatch * evalHeads;
  facts.totalHeads = shape.batch * shape.heads;
  facts.samePattern = !varies;

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
  facts.summaryBytes = summaryBytes;
  facts.routeBytes = routeBytes;
  facts.sm90KeyTile = tile_policy::sm90KeyTile(shape.headDim, hooks.kvRangesExact, hooks.hasRoute);
  facts.kvBounds = hooks.hasKvBounds;
  // The backward's facts come from its own hooks (the derivatives and attnc_q_ranges).
  compiler::GeneratedHooks backwardHooks;
  compiler::CodegenOptions backwardCodegen;
  backwardCodegen.backward = true;
  backwardCodegen.source = bundle.source.get();
  facts.backward = compiler::generateHooks(*bundle.program, attention, backwardCodegen,
                                           backwardHooks, facts.backwardError);
  if (facts.backward) {
    facts.queryWindow = backwardHooks.queryWindow;
    facts.sm90BackwardQueryTile = tile_policy::sm90BackwardQueryTile(
        shape.headDim, backwardHooks.queryWindow, backwardHooks.coordinateReads,
        backwardHooks.summarizedInputs() != 0, backwardHooks.hasRoute,
        int(backwardHooks.maskComparisons));
  }
  facts.maskAlwaysTrue = hooks.maskAlwaysTrue;
  for (const auto &in : hooks.inputs)
    if (in.summarized)
      facts.summarized.push_back(in.name);
  facts.score = hooks.hasScore;
  facts.out = hooks.hasOut;
  facts.route = attention.route.has_value();

  if (o.json)
    printJson(facts);
  else
    printText(facts);
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
  cmd->add_option("--input", options->inputs,
                  "Bind an input: --input NAME=FILE.npy or NAME=VALUE (others are seeded "
                  "random)");
  cmd->add_option("--seed", options->seed, "Seed for data-dependent inputs")->capture_default_str();
  cmd->add_flag("--json", options->json, "Print the facts as one JSON object on stdout");
  cmd->add_option("--count-pairs", options->countPairs,
                  "Kept pairs of partial tiles: exact (counted), bounds (not counted), or "
                  "auto (counted when that takes at most 0.4 s of CPU per thread)")
      ->check(CLI::IsMember({"auto", "exact", "bounds"}))
      ->capture_default_str();
  cmd->callback([options, &exitCode] { exitCode = explainCommand(*options); });
}

} // namespace attnc::tools
