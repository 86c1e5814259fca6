//===- SoundnessTests.cpp - The tile classifier and key ranges are sound ---===//
//
// Brute force against the independent AST evaluator (MaskEvaluator): for random tiles
// of every example and of random generated programs, ATTNC_TILE_EMPTY must mean no pair
// of the tile is kept and ATTNC_TILE_FULL that every pair is; every kept key of a
// query range must lie inside the intervals of attnc_kv_ranges, and every query the mask
// keeps with a key of a key range inside those of attnc_q_ranges (the backward's, generated
// with CodegenOptions::backward); the generated attnc_mask must agree with the evaluator on
// every pair checked. For factored masks,
// attnc_mask == attnc_mask_index && attnc_mask_data on those pairs, attnc_classify is
// attnc_classify_factors' class, and a factor marked proven holds on every pair of the
// tile. The hooks run as
// host code compiled from the generated source (see HookHarness.h).
//
//===----------------------------------------------------------------------===//
#include "HookHarness.h"
#include "MaskEvaluator.h"
#include "ProgramGenerator.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <sstream>
#include <vector>

using namespace attnc;
using namespace attnc::test;

namespace {

struct TileStats {
  long tiles = 0, empty = 0, full = 0, partial = 0, truePartial = 0, proven = 0;
};

/// A factored mask's classification of one tile against its factors, pair by pair.
void checkFactors(const HostHookTable &hooks, const AttncArgs &a, int b, int h, int qLo, int qHi,
                  int kLo, int kHi, int verdict, bool checkMask, TileStats &stats,
                  const std::string &what) {
  const int factors = hooks.classifyFactors(a, b, h, qLo, qHi, kLo, kHi);
  INFO(what << ": attnc_classify_factors(b=" << b << ", h=" << h << ", q=[" << qLo << ", " << qHi
            << "], k=[" << kLo << ", " << kHi << "]) = " << factors);
  REQUIRE((factors & 3) == verdict);
  const int provenBits = factors & ~3;
  REQUIRE((provenBits & ~(ATTNC_TILE_INDEX_PROVEN | ATTNC_TILE_DATA_PROVEN)) == 0);
  if (verdict != ATTNC_TILE_PARTIAL)
    REQUIRE(provenBits == 0);
  REQUIRE(provenBits != (ATTNC_TILE_INDEX_PROVEN | ATTNC_TILE_DATA_PROVEN)); // that is FULL
  stats.proven += provenBits != 0;
  if (provenBits == 0 && !checkMask)
    return;
  for (int q = qLo; q <= std::min(qHi, a.q_len - 1); ++q)
    for (int k = kLo; k <= std::min(kHi, a.kv_len - 1); ++k) {
      const bool index = hooks.maskIndex(a, b, h, q, k), data = hooks.maskData(a, b, h, q, k);
      INFO("pair q=" << q << ", k=" << k << ": index factor " << index << ", data factor " << data);
      if (provenBits & ATTNC_TILE_INDEX_PROVEN)
        REQUIRE(index);
      if (provenBits & ATTNC_TILE_DATA_PROVEN)
        REQUIRE(data);
      if (checkMask)
        REQUIRE(hooks.mask(a, b, h, q, k) == (index && data));
    }
}

/// Checks one tile exhaustively; returns the truth (0 none kept, 2 all kept, 1 mixed).
int bruteForceTile(MaskEvaluator &eval, const HostHookTable *hooks, const AttncArgs &a, int b,
                   int h, int qLo, int qHi, int kLo, int kHi, bool checkMask,
                   const std::string &what) {
  bool anyTrue = false, anyFalse = false;
  for (int q = qLo; q <= qHi; ++q)
    for (int k = kLo; k <= kHi; ++k) {
      bool truth = eval.mask(b, h, q, k);
      if (checkMask && hooks) {
        bool generated = hooks->mask(a, b, h, q, k);
        if (generated != truth) {
          INFO(what << ": attnc_mask(b=" << b << ", h=" << h << ", q=" << q << ", k=" << k
                    << ") = " << generated << ", evaluator says " << truth);
          REQUIRE(generated == truth);
        }
      }
      (truth ? anyTrue : anyFalse) = true;
    }
  return anyTrue && anyFalse ? 1 : anyTrue ? 2 : 0;
}

void checkTiles(const std::string &what, MaskEvaluator &eval, const HostHookTable &hooks,
                const AttncArgs &a, std::mt19937_64 &rng, int count, int maxTile, TileStats &stats,
                bool compareMask = true) {
  for (int i = 0; i < count; ++i) {
    int b = static_cast<int>(rng() % a.batch), h = static_cast<int>(rng() % a.heads);
    auto pick = [&](int len, int &lo, int &hi) {
      int size = 1 + static_cast<int>(rng() % maxTile);
      if (rng() % 2) // aligned tiles, as the kernels use them
        size = rng() % 2 ? 64 : 128;
      size = std::min(size, len);
      lo = static_cast<int>(rng() % (len - size + 1));
      if (rng() % 2)
        lo -= lo % size;
      hi = lo + size - 1;
    };
    int qLo, qHi, kLo, kHi;
    pick(a.q_len, qLo, qHi);
    pick(a.kv_len, kLo, kHi);
    int verdict = hooks.classify(a, b, h, qLo, qHi, kLo, kHi);
    int truth = bruteForceTile(eval, &hooks, a, b, h, qLo, qHi, kLo, kHi,
                               compareMask && i < count / 4, what);
    if (hooks.classifyFactors)
      checkFactors(hooks, a, b, h, qLo, qHi, kLo, kHi, verdict, compareMask && i < count / 4, stats,
                   what);
    ++stats.tiles;
    stats.truePartial += truth == 1;
    if (verdict == ATTNC_TILE_EMPTY)
      ++stats.empty;
    else if (verdict == ATTNC_TILE_FULL)
      ++stats.full;
    else
      ++stats.partial;
    if (verdict != ATTNC_TILE_PARTIAL && verdict != truth) {
      INFO(what << ": attnc_classify(b=" << b << ", h=" << h << ", q=[" << qLo << ", " << qHi
                << "], k=[" << kLo << ", " << kHi << "]) = " << verdict << " but the truth is "
                << truth << " (0 empty, 1 mixed, 2 full)");
      REQUIRE(verdict == truth);
    }
    REQUIRE(verdict >= 0);
    REQUIRE(verdict <= 2);
  }
}

void checkKvRanges(const std::string &what, MaskEvaluator &eval, const HostHookTable &hooks,
                   const AttncArgs &a, std::mt19937_64 &rng, int count) {
  for (int i = 0; i < count; ++i) {
    int b = static_cast<int>(rng() % a.batch), h = static_cast<int>(rng() % a.heads);
    int size = std::min(a.q_len, 1 + static_cast<int>(rng() % 128));
    int qLo = static_cast<int>(rng() % (a.q_len - size + 1)), qHi = qLo + size - 1;
    int lo[ATTNC_MAX_KV_RANGES], hi[ATTNC_MAX_KV_RANGES];
    int n = hooks.kvRanges(a, b, h, qLo, qHi, lo, hi);
    REQUIRE(n >= 0);
    REQUIRE(n <= ATTNC_MAX_KV_RANGES);
    for (int r = 0; r < n; ++r) {
      REQUIRE(lo[r] < hi[r]);
      REQUIRE(lo[r] >= 0);
      REQUIRE(hi[r] <= a.kv_len);
      if (r > 0)
        REQUIRE(hi[r - 1] < lo[r]);
    }
    int probes[] = {qLo, qHi, qLo + size / 2, qLo + static_cast<int>(rng() % size)};
    for (int q : probes)
      for (int k = 0; k < a.kv_len; ++k) {
        bool inside = false;
        for (int r = 0; r < n; ++r)
          inside = inside || (k >= lo[r] && k < hi[r]);
        if (!inside && eval.mask(b, h, q, k)) {
          INFO(what << ": key " << k << " is kept for q=" << q << " (b=" << b << ", h=" << h
                    << ") but lies outside attnc_kv_ranges of q=[" << qLo << ", " << qHi << "]");
          REQUIRE_FALSE(true);
        }
      }
  }
}

/// A random key tile of `len` keys: 1 to maxTile keys, or 64 / 128 (often aligned).
void pickKeyTile(std::mt19937_64 &rng, int len, int maxTile, int &lo, int &hi) {
  int size = 1 + static_cast<int>(rng() % maxTile);
  if (rng() % 2)
    size = rng() % 2 ? 64 : 128;
  size = std::min(size, len);
  lo = static_cast<int>(rng() % (len - size + 1));
  if (rng() % 2)
    lo -= lo % size;
  hi = lo + size - 1;
}

/// attnc_q_ranges of the key tile [kLo, kHi]: checks the form of the intervals (at most
/// ATTNC_MAX_KV_RANGES, sorted, disjoint, inside [0, q_len)) and returns whether each
/// query lies inside them; `text` lists them.
std::vector<char> queryRanges(const HostHookTable &hooks, const AttncArgs &a, int b, int h, int kLo,
                              int kHi, std::string &text) {
  int lo[ATTNC_MAX_KV_RANGES], hi[ATTNC_MAX_KV_RANGES];
  const int n = hooks.qRanges(a, b, h, kLo, kHi, lo, hi);
  REQUIRE(n >= 0);
  REQUIRE(n <= ATTNC_MAX_KV_RANGES);
  std::vector<char> inside(a.q_len, 0);
  std::ostringstream os;
  for (int r = 0; r < n; ++r) {
    os << " [" << lo[r] << ", " << hi[r] << ")";
    REQUIRE(lo[r] < hi[r]);
    REQUIRE(lo[r] >= 0);
    REQUIRE(hi[r] <= a.q_len);
    if (r > 0)
      REQUIRE(hi[r - 1] < lo[r]);
    for (int q = lo[r]; q < hi[r]; ++q)
      inside[q] = 1;
  }
  text = n ? os.str() : " (none)";
  return inside;
}

/// Every query kept with some key of a random key tile lies inside attnc_q_ranges of the
/// tile. `allKeys`: every key of the tile is checked against every query (small shapes),
/// else four probe keys.
void checkQRanges(const std::string &what, MaskEvaluator &eval, const HostHookTable &hooks,
                  const AttncArgs &a, std::mt19937_64 &rng, int count, bool allKeys) {
  REQUIRE(hooks.qRanges);
  for (int i = 0; i < count; ++i) {
    int b = static_cast<int>(rng() % a.batch), h = static_cast<int>(rng() % a.heads);
    int kLo, kHi;
    pickKeyTile(rng, a.kv_len, 128, kLo, kHi);
    std::string ranges;
    std::vector<char> inside = queryRanges(hooks, a, b, h, kLo, kHi, ranges);
    std::vector<int> keys;
    if (allKeys)
      for (int k = kLo; k <= kHi; ++k)
        keys.push_back(k);
    else
      keys = {kLo, kHi, (kLo + kHi) / 2, kLo + static_cast<int>(rng() % (kHi - kLo + 1))};
    for (int k : keys)
      for (int q = 0; q < a.q_len; ++q)
        if (!inside[q] && eval.mask(b, h, q, k)) {
          INFO(what << " (q_len " << a.q_len << ", kv_len " << a.kv_len << "): query " << q
                    << " is kept for k=" << k << " (b=" << b << ", h=" << h
                    << ") but lies outside attnc_q_ranges of k=[" << kLo << ", " << kHi
                    << "] =" << ranges);
          REQUIRE_FALSE(true);
        }
  }
}

} // namespace

TEST_CASE("classifier and key ranges are sound on every example", "[soundness]") {
  std::vector<CompiledProgram> programs;
  for (const std::string &path : exampleFiles()) {
    std::string name = path.substr(path.find_last_of('/') + 1);
    programs.push_back(compileSource(name, readFile(path)));
  }
  REQUIRE_FALSE(programs.empty());
  std::vector<const compiler::GeneratedHooks *> hooks;
  for (const auto &p : programs)
    hooks.push_back(&p.hooks);
  HostHooks host;
  std::string error;
  const bool built = host.build(hooks, error);
  INFO(error);
  REQUIRE(built);

  struct Shape {
    int batch, heads, kvHeads, qLen, kvLen;
  };
  const Shape shapes[] = {{2, 4, 2, 4096, 4096}, {1, 4, 4, 3000, 4400}};
  TileStats total;
  for (size_t i = 0; i < programs.size(); ++i) {
    for (const Shape &s : shapes) {
      const CompiledProgram &p = programs[i];
      AttncArgs a = makeArgs(p.hooks, s.batch, s.heads, s.kvHeads, s.qLen, s.kvLen);
      HostInputs inputs;
      inputs.bind(*p.attention, p.hooks, a, 1234 + i, 64);
      MaskEvaluator eval(*p.program, *p.attention, a);
      std::mt19937_64 rng(99 + i);
      checkTiles(p.name, eval, host[i], a, rng, 60, 160, total);
      checkKvRanges(p.name, eval, host[i], a, rng, 12);
    }
  }
  std::printf("examples: %ld tiles checked: %ld empty, %ld full, %ld partial (%ld truly "
              "mixed, %ld with a proven factor)\n",
              total.tiles, total.empty, total.full, total.partial, total.truePartial, total.proven);
  // document_causal and others are factored: the proven-factor path must be exercised.
  CHECK(total.proven > 0);
}

TEST_CASE("classifier and key ranges are sound on random programs", "[soundness]") {
  const int kPrograms = 60;
  ProgramGenerator gen(20261122);
  std::vector<CompiledProgram> programs;
  for (int i = 0; i < kPrograms; ++i) {
    std::string text = gen.program(i);
    programs.push_back(compileSource("random" + std::to_string(i), text));
  }
  std::vector<const compiler::GeneratedHooks *> hooks;
  for (const auto &p : programs)
    hooks.push_back(&p.hooks);
  HostHooks host;
  std::string error;
  bool built = host.build(hooks, error);
  INFO(error);
  REQUIRE(built);
  std::mt19937_64 rng(7);
  TileStats total;
  for (int i = 0; i < kPrograms; ++i) {
    const CompiledProgram &p = programs[i];
    INFO("program:\n" << p.text);
    for (int round = 0; round < 3; ++round) {
      int qLen = 1 + static_cast<int>(rng() % 300), kvLen = 1 + static_cast<int>(rng() % 300);
      AttncArgs a = makeArgs(p.hooks, 2, 4, round == 0 ? 4 : 2, qLen, kvLen);
      static const int edgeValues[] = {0, -1, 1, 5, 64, -7, 2147483647, -2147483647 - 1, 300};
      a.iparam[0] = edgeValues[rng() % 9];
      HostInputs inputs;
      inputs.bind(*p.attention, p.hooks, a, 31 * i + round, 1 + static_cast<int>(rng() % 64));
      MaskEvaluator eval(*p.program, *p.attention, a);
      checkTiles(p.name + " (iparam[0]=" + std::to_string(a.iparam[0]) + ")", eval, host[i], a, rng,
                 40, 48, total);
      checkKvRanges(p.name, eval, host[i], a, rng, 6);
    }
  }
  std::printf("random programs: %ld tiles checked: %ld empty, %ld full, %ld partial (%ld "
              "truly mixed, %ld with a proven factor)\n",
              total.tiles, total.empty, total.full, total.partial, total.truePartial, total.proven);
}

TEST_CASE("query ranges are sound on every example", "[soundness][backward]") {
  std::vector<CompiledProgram> programs;
  for (const std::string &path : exampleFiles()) {
    std::string name = path.substr(path.find_last_of('/') + 1);
    programs.push_back(compileSource(name, readFile(path), /*backward=*/true));
  }
  std::vector<const compiler::GeneratedHooks *> hooks;
  for (const auto &p : programs)
    hooks.push_back(&p.hooks);
  HostHooks host;
  std::string error;
  const bool built = host.build(hooks, error);
  INFO(error);
  REQUIRE(built);
  struct Shape {
    int batch, heads, kvHeads, qLen, kvLen;
    bool allKeys;
  };
  const Shape shapes[] = {{2, 4, 2, 4096, 4096, false},
                          {1, 4, 4, 4400, 3000, false},
                          {2, 2, 1, 200, 333, true},
                          {1, 2, 2, 333, 200, true},
                          {1, 2, 2, 1, 97, true}};
  for (size_t i = 0; i < programs.size(); ++i)
    for (const Shape &s : shapes) {
      const CompiledProgram &p = programs[i];
      AttncArgs a = makeArgs(p.hooks, s.batch, s.heads, s.kvHeads, s.qLen, s.kvLen);
      HostInputs inputs;
      inputs.bind(*p.attention, p.hooks, a, 4321 + i, 64);
      MaskEvaluator eval(*p.program, *p.attention, a);
      std::mt19937_64 rng(17 + i);
      checkQRanges(p.name, eval, host[i], a, rng, s.allKeys ? 6 : 12, s.allKeys);
    }
}

TEST_CASE("query ranges are sound on random programs", "[soundness][backward]") {
  const int kPrograms = 60;
  ProgramGenerator gen(20261122);
  std::vector<CompiledProgram> programs;
  for (int i = 0; i < kPrograms; ++i)
    programs.push_back(
        compileSource("random" + std::to_string(i), gen.program(i), /*backward=*/true));
  std::vector<const compiler::GeneratedHooks *> hooks;
  for (const auto &p : programs)
    hooks.push_back(&p.hooks);
  HostHooks host;
  std::string error;
  const bool built = host.build(hooks, error);
  INFO(error);
  REQUIRE(built);
  std::mt19937_64 rng(8);
  for (int i = 0; i < kPrograms; ++i) {
    const CompiledProgram &p = programs[i];
    INFO("program:\n" << p.text);
    for (int round = 0; round < 3; ++round) {
      int qLen = 1 + static_cast<int>(rng() % 300), kvLen = 1 + static_cast<int>(rng() % 300);
      AttncArgs a = makeArgs(p.hooks, 2, 4, round == 0 ? 4 : 2, qLen, kvLen);
      static const int edgeValues[] = {0, -1, 1, 5, 64, -7, 2147483647, -2147483647 - 1, 300};
      a.iparam[0] = edgeValues[rng() % 9];
      HostInputs inputs;
      inputs.bind(*p.attention, p.hooks, a, 37 * i + round, 1 + static_cast<int>(rng() % 64));
      MaskEvaluator eval(*p.program, *p.attention, a);
      checkQRanges(p.name + " (iparam[0]=" + std::to_string(a.iparam[0]) + ")", eval, host[i], a,
                   rng, 4, /*allKeys=*/true);
    }
  }
}

// The closed forms are exact: for causal, sliding window, sinks + window and prefix LM, the
// intervals of a key tile hold exactly the queries the mask keeps with some key of the tile
// (token granularity, so also at any tile granularity), q_len below, equal to or above
// kv_len, with windows wider than q_len - kv_len. The truth is the compiled mask (checked
// against the evaluator above).
TEST_CASE("query ranges are exact for causal, windows, sinks and prefix LM",
          "[soundness][backward]") {
  const char *names[] = {"causal.attn", "sliding_w1024.attn", "sink4_w1024.attn",
                         "prefix_lm_2048.attn"};
  std::vector<CompiledProgram> programs;
  for (const char *name : names)
    programs.push_back(compileSource(name, readFile(std::string(ATTNC_EXAMPLES_DIR) + "/" + name),
                                     /*backward=*/true));
  std::vector<const compiler::GeneratedHooks *> hooks;
  for (const auto &p : programs)
    hooks.push_back(&p.hooks);
  HostHooks host;
  std::string error;
  const bool built = host.build(hooks, error);
  INFO(error);
  REQUIRE(built);
  const int lengths[][2] = {{300, 300}, {170, 333}, {333, 170}, {1, 90}, {90, 1}, {2500, 2100}};
  std::mt19937_64 rng(5);
  long tiles = 0;
  for (size_t i = 0; i < programs.size(); ++i) {
    const CompiledProgram &p = programs[i];
    for (const auto &len : lengths)
      for (int small = 0; small < 2; ++small) {
        AttncArgs a = makeArgs(p.hooks, 1, 2, 2, len[0], len[1]);
        // The defaults (window 1024, prefix 2048) and small values the short lengths cross.
        // A window no wider than q_len - kv_len keeps no query on the diagonal band; the
        // intervals are then sound but not exact (docs/compiler.md, "Query ranges").
        if (small && !p.hooks.params.empty())
          a.iparam[0] = std::max(0, a.q_len - a.kv_len) + 1 + static_cast<int>(rng() % 80);
        for (int t = 0; t < 24; ++t) {
          int kLo, kHi;
          pickKeyTile(rng, a.kv_len, 128, kLo, kHi);
          if (t < 4) { // the first and the last keys, where the sinks and the shift act
            const int size = std::min(a.kv_len, t % 2 ? 64 : 1);
            kLo = t < 2 ? 0 : a.kv_len - size;
            kHi = kLo + size - 1;
          }
          std::string ranges;
          std::vector<char> inside = queryRanges(host[i], a, 0, 1, kLo, kHi, ranges);
          for (int q = 0; q < a.q_len; ++q) {
            bool kept = false;
            for (int k = kLo; k <= kHi && !kept; ++k)
              kept = host[i].mask(a, 0, 1, q, k);
            if (kept != static_cast<bool>(inside[q])) {
              INFO(p.name << " (q_len " << a.q_len << ", kv_len " << a.kv_len << ", iparam[0] "
                          << a.iparam[0] << "): query " << q << " is "
                          << (kept ? "kept with some key" : "masked for every key") << " of k=["
                          << kLo << ", " << kHi << "] but attnc_q_ranges =" << ranges);
              REQUIRE(kept == static_cast<bool>(inside[q]));
            }
          }
          ++tiles;
        }
      }
  }
  std::printf("exact query ranges: %ld key tiles checked\n", tiles);
}

// Float subexpressions: the classifier treats them as unknown, so it must stay sound
// whatever the float semantics; attnc_mask is not compared (fp32 vs float64).
TEST_CASE("classifier is sound on random programs with Float subexpressions", "[soundness]") {
  const int kPrograms = 30;
  ProgramGenerator gen(4242, /*floats=*/true);
  std::vector<CompiledProgram> programs;
  for (int i = 0; i < kPrograms; ++i)
    programs.push_back(compileSource("float" + std::to_string(i), gen.program(i)));
  std::vector<const compiler::GeneratedHooks *> hooks;
  for (const auto &p : programs)
    hooks.push_back(&p.hooks);
  HostHooks host;
  std::string error;
  bool built = host.build(hooks, error);
  INFO(error);
  REQUIRE(built);
  std::mt19937_64 rng(11);
  TileStats total;
  for (int i = 0; i < kPrograms; ++i) {
    const CompiledProgram &p = programs[i];
    INFO("program:\n" << p.text);
    int qLen = 1 + static_cast<int>(rng() % 300), kvLen = 1 + static_cast<int>(rng() % 300);
    AttncArgs a = makeArgs(p.hooks, 2, 4, 2, qLen, kvLen);
    HostInputs inputs;
    inputs.bind(*p.attention, p.hooks, a, 77 * i, 16);
    MaskEvaluator eval(*p.program, *p.attention, a);
    checkTiles(p.name, eval, host[i], a, rng, 30, 48, total, /*compareMask=*/false);
  }
}

namespace {

/// Exhaustive truth of one tile with the compiled mask (fast), early exit when mixed.
int tileTruth(const HostHookTable &hooks, const AttncArgs &a, int b, int h, int qLo, int qHi,
              int kLo, int kHi) {
  bool anyTrue = false, anyFalse = false;
  for (int q = qLo; q <= qHi; ++q)
    for (int k = kLo; k <= kHi; ++k) {
      (hooks.mask(a, b, h, q, k) ? anyTrue : anyFalse) = true;
      if (anyTrue && anyFalse)
        return 1;
    }
  return anyTrue ? 2 : 0;
}

} // namespace

// Not part of CI (hidden tag): the tightness table of docs/compiler.md, at the benchmark
// shape N = 16384 with 128 x 64 tiles, b = 0, h = 0 and h = 5, every tile. The truth is the
// compiled mask (checked against the evaluator by the tests above).
TEST_CASE("tightness at the benchmark shape", "[.tightness]") {
  std::vector<CompiledProgram> programs;
  for (const std::string &path : exampleFiles())
    programs.push_back(compileSource(path.substr(path.find_last_of('/') + 1), readFile(path)));
  std::vector<const compiler::GeneratedHooks *> hooks;
  for (const auto &p : programs)
    hooks.push_back(&p.hooks);
  HostHooks host;
  std::string error;
  REQUIRE(host.build(hooks, error));
  const int N = 16384, TQ = 128, TK = 64;
  std::printf("| example | h | tiles | truly partial | classified partial | classified "
              "empty | classified full | excess partial | key-range tiles | non-empty tiles |\n");
  for (size_t i = 0; i < programs.size(); ++i) {
    const CompiledProgram &p = programs[i];
    AttncArgs a = makeArgs(p.hooks, 1, 16, 16, N, N);
    HostInputs inputs;
    inputs.bind(*p.attention, p.hooks, a, 42, 64, 16);
    for (int h : {0, 5}) {
      long tiles = 0, truePartial = 0, partial = 0, empty = 0, full = 0, inRange = 0, nonEmpty = 0;
      for (int qLo = 0; qLo < N; qLo += TQ) {
        int lo[ATTNC_MAX_KV_RANGES], hi[ATTNC_MAX_KV_RANGES];
        int n = host[i].kvRanges(a, 0, h, qLo, qLo + TQ - 1, lo, hi);
        for (int kLo = 0; kLo < N; kLo += TK) {
          int verdict = host[i].classify(a, 0, h, qLo, qLo + TQ - 1, kLo, kLo + TK - 1);
          int truth = tileTruth(host[i], a, 0, h, qLo, qLo + TQ - 1, kLo, kLo + TK - 1);
          REQUIRE((verdict == ATTNC_TILE_PARTIAL || verdict == truth));
          ++tiles;
          truePartial += truth == 1;
          nonEmpty += truth != 0;
          partial += verdict == ATTNC_TILE_PARTIAL;
          empty += verdict == ATTNC_TILE_EMPTY;
          full += verdict == ATTNC_TILE_FULL;
          bool overlaps = false;
          for (int r = 0; r < n; ++r)
            overlaps = overlaps || (kLo < hi[r] && kLo + TK > lo[r]);
          inRange += overlaps;
        }
      }
      std::printf("| %s | %d | %ld | %ld | %ld | %ld | %ld | %ld | %ld | %ld |\n", p.name.c_str(),
                  h, tiles, truePartial, partial, empty, full, partial - truePartial, inRange,
                  nonEmpty);
      std::fflush(stdout);
    }
  }
}
