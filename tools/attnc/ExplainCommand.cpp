//===- ExplainCommand.cpp - attnc explain ---------------------------------===//
//
// Explains what the kernel of a program will do at one problem size: how many tiles are
// empty, full or partial (exactly, from the CPU reference's keep matrix), the density and
// FLOPs, the block metadata the launch needs, and which kernel features the compiler chose
// and why (from the generated hooks' metadata).
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

namespace attnc::tools {
namespace {

struct ExplainOptions {
  std::string file, attention;
  int batch = 1, heads = 1, kvHeads = 0, qLen = 0, kvLen = 0, headDim = 128;
  int tileQ = 128, tileK = 64;
  std::vector<std::string> defines, params;
  uint64_t seed = 1;
};

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
  double keptAll = double(kept) * scale, pairsAll = pairsPerHead * shape.batch * shape.heads;

  fmt::print("attention {} ({})\n", attention.name, o.file);
  fmt::print("shape: batch {} heads {} kv_heads {} q_len {} kv_len {} d {}\n", shape.batch,
             shape.heads, shape.kvHeads, shape.qLen, shape.kvLen, shape.headDim);
  for (const auto &p : params)
    fmt::print("param: {} = {}\n", p.name,
               p.value.type == dsl::Type::Float  ? fmt::format("{}", p.value.f)
               : p.value.type == dsl::Type::Bool ? (p.value.b ? "true" : "false")
                                                 : fmt::format("{}", p.value.i));
  fmt::print(
      "\n{:<26}{}\n", "kept pairs",
      fmt::format("{:.0f} of {:.0f} (density {:.4f})", keptAll, pairsAll, keptAll / pairsAll));
  fmt::print("{:<26}{:.3g} (4 * d * kept pairs)\n", "useful FLOPs", 4.0 * shape.headDim * keptAll);
  fmt::print("{:<26}{:.3g} (4 * d * pairs of non-empty tiles)\n", "executed FLOPs",
             4.0 * shape.headDim * double(visitedPairs) * scale);
  fmt::print("\ntiles of {}x{} (exact, {} of {} (b, h) evaluated{}):\n", o.tileQ, o.tileK,
             evalBatch * evalHeads, shape.batch * shape.heads,
             varies ? "" : "; the pattern is the same for every (b, h)");
  uint64_t total = counts[0] + counts[1] + counts[2];
  const char *names[3] = {"empty", "partial", "full"};
  const char *what[3] = {"never loaded", "masked per element", "no per-element mask"};
  for (int c : {0, 2, 1})
    fmt::print("  {:<9}{:>10}  {:5.1f}%  {}\n", names[c], uint64_t(counts[c] * scale),
               100.0 * counts[c] / std::max<uint64_t>(1, total), what[c]);

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
  cmd->callback([options, &exitCode] { exitCode = explainCommand(*options); });
}

} // namespace attnc::tools
