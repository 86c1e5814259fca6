//===- ExplainCommand.cpp - attnc explain ---------------------------------===//
//
// Explains what the kernel of a program will do at one problem size: how many tiles are
// empty, full or partial (exactly, from the CPU reference's keep matrix), the density and
// FLOPs, the block metadata the launch needs, and which kernel features the compiler chose
// and why (from the generated hooks' metadata). The facts are gathered into one struct that
// the text and `--json` printers both read, so the two cannot disagree.
//
//===----------------------------------------------------------------------===//
#include "Commands.h"
#include "ToolSupport.h"

#include "attnc/compiler/Codegen.h"
#include "attnc/reference/Random.h"

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
  double keptPairs = 0, totalPairs = 0; ///< over every (b, h)
  double usefulFlops = 0, executedFlops = 0;
  int tileQ = 0, tileK = 0, tilesQ = 0, tilesK = 0; ///< tilesQ x tilesK per (b, h)
  double tiles[3] = {0, 0, 0};                      ///< empty, partial, full; every (b, h)
  int evaluatedHeads = 0, totalHeads = 0;           ///< distinct (b, h) evaluated, of all
  bool samePattern = false;                         ///< the same for every (b, h)
  double summaryBytes = 0, routeBytes = 0;
  int sm90KeyTile = 128;
  bool kvBounds = false, maskAlwaysTrue = false, score = false, out = false, route = false;
  std::vector<std::string> summarized; ///< inputs with per-block min/max summaries
};

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
  fmt::print("\n{:<26}{}\n", "kept pairs",
             fmt::format("{:.0f} of {:.0f} (density {:.4f})", f.keptPairs, f.totalPairs,
                         f.keptPairs / f.totalPairs));
  fmt::print("{:<26}{:.3g} (4 * d * kept pairs)\n", "useful FLOPs", f.usefulFlops);
  fmt::print("{:<26}{:.3g} (4 * d * pairs of non-empty tiles)\n", "executed FLOPs",
             f.executedFlops);
  fmt::print("\ntiles of {}x{} (exact, {} of {} (b, h) evaluated{}):\n", f.tileQ, f.tileK,
             f.evaluatedHeads, f.totalHeads,
             f.samePattern ? "; the pattern is the same for every (b, h)" : "");
  double total = f.tiles[0] + f.tiles[1] + f.tiles[2];
  const char *names[3] = {"empty", "partial", "full"};
  const char *what[3] = {"never loaded", "masked per element", "no per-element mask"};
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
  j += fmt::format("  \"kept_pairs\": {},\n  \"total_pairs\": {},\n  \"density\": {},\n",
                   jsonNumber(f.keptPairs), jsonNumber(f.totalPairs),
                   jsonNumber(f.keptPairs / f.totalPairs));
  j += fmt::format("  \"useful_flops\": {},\n  \"executed_flops\": {},\n",
                   jsonNumber(f.usefulFlops), jsonNumber(f.executedFlops));
  j += fmt::format("  \"tiles\": {{\"tile_q\": {}, \"tile_k\": {}, \"tiles_q\": {}, "
                   "\"tiles_k\": {}, \"empty\": {}, \"partial\": {}, \"full\": {}, "
                   "\"exact\": true, \"evaluated_heads\": {}, \"total_heads\": {}, "
                   "\"same_pattern_every_head\": {}}},\n",
                   f.tileQ, f.tileK, f.tilesQ, f.tilesK, jsonNumber(f.tiles[0]),
                   jsonNumber(f.tiles[1]), jsonNumber(f.tiles[2]), f.evaluatedHeads, f.totalHeads,
                   f.samePattern);
  j += fmt::format("  \"block_metadata\": {{\"bytes\": {}, \"input_summary_bytes\": {}, "
                   "\"routing_bytes\": {}}},\n",
                   jsonNumber(f.summaryBytes + f.routeBytes), jsonNumber(f.summaryBytes),
                   jsonNumber(f.routeBytes));
  j += fmt::format("  \"kernel\": {{\"sm90_key_tile\": {}, \"key_loop_bounded\": {}, "
                   "\"mask_always_true\": {}, \"input_summaries\": {}, \"score_modifier\": {}, "
                   "\"output_epilogue\": {}, \"block_routing\": {}}}\n",
                   f.sm90KeyTile, f.kvBounds, f.maskAlwaysTrue, jsonList(f.summarized, jsonString),
                   f.score, f.out, f.route);
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
  if (!compiler::generateHooks(*bundle.program, attention, {}, hooks, error)) {
    std::cerr << "attnc: error: internal compiler error: " << error << "\n";
    return kExitCompileError;
  }

  // Exact tile classes: evaluate every pair of each distinct (b, h).
  bool varies = variesPerBatchOrHead(attention);
  int evalBatch = varies ? shape.batch : 1, evalHeads = varies ? shape.heads : 1;
  double pairsPerHead = double(shape.qLen) * shape.kvLen;
  if (pairsPerHead * evalBatch * evalHeads > 1.2e9) {
    std::cerr << "attnc: error: explain counts tiles exactly and would evaluate "
              << fmt::format("{:.2g}", pairsPerHead * evalBatch * evalHeads)
              << " pairs; use smaller lengths, or fewer heads/batch for patterns that vary "
                 "per head\n";
    return kExitUsage;
  }
  reference::ProblemInputs inputs;
  if (!reference::makeProblemInputs(*bundle.program, attention, shape, o.seed, inputs, error)) {
    std::cerr << "attnc: error: " << error << "\n";
    return kExitInputError;
  }
  if (!applyInputBindings(bundle, inputBindings, inputs))
    return kExitInputError;
  reference::ReferenceProblem problem = inputs.problem();
  problem.params = params;

  int tilesQ = (shape.qLen + o.tileQ - 1) / o.tileQ, tilesK = (shape.kvLen + o.tileK - 1) / o.tileK;
  uint64_t counts[3] = {0, 0, 0}, kept = 0, visitedPairs = 0;
  std::vector<uint8_t> keep;
  std::vector<uint64_t> tileKept(size_t(tilesQ) * tilesK);
  for (int b = 0; b < evalBatch; ++b)
    for (int h = 0; h < evalHeads; ++h) {
      if (!reference::evaluateKeepMatrix(*bundle.program, attention, problem, b, h, keep, error)) {
        std::cerr << "attnc: error: " << error << "\n";
        return kExitInputError;
      }
      std::fill(tileKept.begin(), tileKept.end(), 0);
      for (int q = 0; q < shape.qLen; ++q) {
        const uint8_t *row = &keep[size_t(q) * shape.kvLen];
        uint64_t *tileRow = &tileKept[size_t(q / o.tileQ) * tilesK];
        for (int k = 0; k < shape.kvLen; ++k)
          tileRow[k / o.tileK] += row[k];
      }
      for (int tq = 0; tq < tilesQ; ++tq)
        for (int tk = 0; tk < tilesK; ++tk) {
          uint64_t area = uint64_t(std::min(o.tileQ, shape.qLen - tq * o.tileQ)) *
                          std::min(o.tileK, shape.kvLen - tk * o.tileK);
          uint64_t n = tileKept[size_t(tq) * tilesK + tk];
          kept += n;
          int cls = n == 0 ? 0 : n == area ? 2 : 1;
          counts[cls]++;
          if (cls)
            visitedPairs += uint64_t(o.tileQ) * o.tileK;
        }
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
  facts.keptPairs = double(kept) * scale;
  facts.totalPairs = pairsPerHead * shape.batch * shape.heads;
  facts.usefulFlops = 4.0 * shape.headDim * facts.keptPairs;
  facts.executedFlops = 4.0 * shape.headDim * double(visitedPairs) * scale;
  facts.tileQ = o.tileQ;
  facts.tileK = o.tileK;
  facts.tilesQ = tilesQ;
  facts.tilesK = tilesK;
  for (int c = 0; c < 3; ++c)
    facts.tiles[c] = double(counts[c]) * scale;
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
  facts.sm90KeyTile = hooks.kvRangesExact && !hooks.hasRoute ? 128 : 64;
  facts.kvBounds = hooks.hasKvBounds;
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
  cmd->callback([options, &exitCode] { exitCode = explainCommand(*options); });
}

} // namespace attnc::tools
