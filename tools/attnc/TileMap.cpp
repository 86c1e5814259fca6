//===- TileMap.cpp - The kernel's tile classes of one problem -------------===//
#include "TileMap.h"

#include "attnc/compiler/HostClassifier.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <time.h>

namespace attnc::tools {
namespace {

/// An input element as the summary pre-pass reads it (KernelSource.cpp, kSummaryKernel):
/// Int as i32 (i64 narrowed), u8 as 0/1, floats truncated toward zero, saturating.
int summaryValue(const reference::TensorView &t, int64_t offset) {
  switch (t.dtype) {
  case reference::DType::I32:
  case reference::DType::I64:
    return static_cast<int32_t>(static_cast<uint32_t>(static_cast<uint64_t>(t.loadInt(offset))));
  case reference::DType::U8:
    return t.loadInt(offset) != 0;
  default: {
    float f = static_cast<float>(t.loadDouble(offset));
    if (f != f)
      return 0;
    if (f >= 2147483647.0f)
      return INT_MAX;
    if (f <= -2147483648.0f)
      return INT_MIN;
    return static_cast<int>(f);
  }
  }
}

/// AttncArgs as the launch fills them (Runtime.cpp), with host pointers, plus the input
/// summaries the pre-pass would compute.
struct HostArgs {
  AttncArgs args;
  std::vector<std::vector<int>> summaries;
};

bool bindArgs(const dsl::AttentionDecl &attention, const compiler::GeneratedHooks &hooks,
              const reference::ReferenceProblem &problem, int summaryBlock, HostArgs &out,
              std::string &error) {
  const reference::ProblemShape &s = problem.shape;
  AttncArgs &a = out.args;
  std::memset(&a, 0, sizeof(a));
  a.batch = s.batch;
  a.heads = s.heads;
  a.kv_heads = s.kvHeads;
  a.q_len = s.qLen;
  a.kv_len = s.kvLen;
  a.head_dim = s.headDim;
  a.scale = problem.scale ? float(*problem.scale) : float(1.0 / std::sqrt(double(s.headDim)));
  a.summary_block = summaryBlock;
  for (const compiler::ParamSlot &slot : hooks.params) {
    if (slot.slot < 0 || slot.slot >= ATTNC_MAX_PARAMS) {
      error = "param slot out of range for '" + slot.name + "'";
      return false;
    }
    std::optional<dsl::ConstValue> value;
    if (slot.hasDefault)
      value = slot.defaultValue;
    for (const auto &binding : problem.params)
      if (binding.name == slot.name)
        value = binding.value;
    if (!value) {
      error = "param '" + slot.name + "' of attention '" + attention.name + "' has no value";
      return false;
    }
    if (slot.type == dsl::Type::Float)
      a.fparam[slot.slot] = float(value->type == dsl::Type::Int ? double(value->i) : value->f);
    else if (slot.type == dsl::Type::Bool)
      a.iparam[slot.slot] = value->b ? 1 : 0;
    else
      a.iparam[slot.slot] = int32_t(value->i);
  }
  out.summaries.assign(ATTNC_MAX_INPUTS, {});
  for (const compiler::InputSlot &slot : hooks.inputs) {
    if (slot.slot < 0 || slot.slot >= ATTNC_MAX_INPUTS) {
      error = "input slot out of range for '" + slot.name + "'";
      return false;
    }
    const reference::TensorView *view = nullptr;
    for (const auto &named : problem.inputs)
      if (named.name == slot.name)
        view = &named.tensor;
    if (!view || !view->data) {
      if (slot.inMask) {
        error = "input '" + slot.name + "' was not bound";
        return false;
      }
      continue; // read by the score or epilogue only: the classifier never looks at it
    }
    const reference::TensorView &t = *view;
    if (t.rank() < 1 || t.rank() > ATTNC_MAX_RANK || t.strides.size() != t.dims.size() ||
        int(t.dtype) > ATTNC_DT_U8) {
      error = "input '" + slot.name + "' has a rank or element type the hooks cannot read";
      return false;
    }
    AttncTensor &target = a.input[slot.slot];
    target.data = t.data;
    target.rank = t.rank();
    target.dtype = int(t.dtype);
    for (int n = 0; n < t.rank(); ++n) {
      if (t.dims[n] < 1 || t.dims[n] > INT_MAX) {
        error = "input '" + slot.name + "' has a dim outside [1, 2^31 - 1]";
        return false;
      }
      target.dim[n] = int(t.dims[n]);
      target.stride[n] = t.strides[n];
    }
    if (!slot.summarized)
      continue;
    // The pre-pass: summary[(outer * blocks + block) * 2 + {0, 1}] = {min, max}.
    const int last = target.dim[t.rank() - 1];
    const int64_t blocks = (last + int64_t(summaryBlock) - 1) / summaryBlock;
    int64_t outerCount = 1;
    for (int n = 0; n + 1 < t.rank(); ++n)
      outerCount *= t.dims[n];
    std::vector<int> &summary = out.summaries[slot.slot];
    summary.assign(size_t(outerCount * blocks * 2), 0);
    for (int64_t outer = 0; outer < outerCount; ++outer) {
      int64_t base = 0, rest = outer;
      for (int n = t.rank() - 2; n >= 0; --n) {
        base += (rest % t.dims[n]) * t.strides[n];
        rest /= t.dims[n];
      }
      for (int64_t block = 0; block < blocks; ++block) {
        int lo = INT_MAX, hi = INT_MIN;
        int64_t end = std::min<int64_t>((block + 1) * summaryBlock, last);
        for (int64_t i = block * summaryBlock; i < end; ++i) {
          int v = summaryValue(t, base + i * t.strides[t.rank() - 1]);
          lo = std::min(lo, v);
          hi = std::max(hi, v);
        }
        summary[size_t((outer * blocks + block) * 2)] = lo;
        summary[size_t((outer * blocks + block) * 2 + 1)] = hi;
      }
    }
    a.summary[slot.slot] = summary.data();
  }
  return true;
}

/// Whether the route selection keeps none (0), some (1) or all (2) of the pairs of
/// [q0, q1] x [k0, k1] of (b, h): the units of the query rows against the blocks of the keys.
int routeCut(const reference::KeepEvaluator &keep, int unitSize, int b, int h, int q0, int q1,
             int k0, int k1) {
  bool any = false, all = true;
  for (int unit = q0 / unitSize; unit <= q1 / unitSize && !(any && !all); ++unit) {
    int previous = -1;
    for (int k = k0; k <= k1 && !(any && !all); ++k) {
      const int blk = keep.routeBlockOfKey(k);
      if (blk == previous)
        continue;
      previous = blk;
      const bool bit = keep.routeSelected(b, h, unit, blk);
      any = any || bit;
      all = all && bit;
    }
  }
  return !any ? 0 : all ? 2 : 1;
}

/// Kept pairs in [q0, q1] x [k0, k1]: boxes the classifier (cut by the route selection when
/// `routed`) proves EMPTY or FULL are counted whole, others split in two along the longer
/// side; a single pair left open (Float or summarized reads, wrapping) goes to the
/// reference. Down to single pairs is cheaper than handing small boxes to the reference
/// (radial_video at 16k: 0.3 s of CPU against 1.2 s with boxes of 32 pairs).
uint64_t countBySubdivision(compiler::HostTileClassifier &classifier, const AttncArgs &a,
                            const reference::KeepEvaluator &keep, bool routed, int unitSize, int b,
                            int h, int q0, int q1, int k0, int k1) {
  const uint64_t area = uint64_t(q1 - q0 + 1) * uint64_t(k1 - k0 + 1);
  int cls = classifier.classify(a, b, h, q0, q1, k0, k1) & 3;
  if (routed && cls != ATTNC_TILE_EMPTY) {
    const int cut = routeCut(keep, unitSize, b, h, q0, q1, k0, k1);
    cls = cut == 0 ? ATTNC_TILE_EMPTY : cut == 2 ? cls : ATTNC_TILE_PARTIAL;
  }
  if (cls == ATTNC_TILE_EMPTY)
    return 0;
  if (cls == ATTNC_TILE_FULL)
    return area;
  if (area <= 1)
    return keep.countKept(b, h, q0, q1 + 1, k0, k1 + 1);
  if (q1 - q0 >= k1 - k0) {
    const int mid = q0 + (q1 - q0) / 2;
    return countBySubdivision(classifier, a, keep, routed, unitSize, b, h, q0, mid, k0, k1) +
           countBySubdivision(classifier, a, keep, routed, unitSize, b, h, mid + 1, q1, k0, k1);
  }
  const int mid = k0 + (k1 - k0) / 2;
  return countBySubdivision(classifier, a, keep, routed, unitSize, b, h, q0, q1, k0, mid) +
         countBySubdivision(classifier, a, keep, routed, unitSize, b, h, q0, q1, mid + 1, k1);
}

/// CPU time of the calling thread: the counting budget should not depend on the load.
double threadSeconds() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return double(t.tv_sec) + 1e-9 * double(t.tv_nsec);
}

struct Totals {
  uint64_t tiles[3] = {0, 0, 0};
  uint64_t unclassifiedEmpty = 0, fullPairs = 0, partialPairs = 0;
  uint64_t partialKept = 0, partialEmpty = 0, partialFull = 0;
  void add(const Totals &o) {
    for (int c = 0; c < 3; ++c)
      tiles[c] += o.tiles[c];
    unclassifiedEmpty += o.unclassifiedEmpty;
    fullPairs += o.fullPairs;
    partialPairs += o.partialPairs;
    partialKept += o.partialKept;
    partialEmpty += o.partialEmpty;
    partialFull += o.partialFull;
  }
};

} // namespace

bool makeTileMapInputs(const dsl::Program &program, const dsl::AttentionDecl &attention,
                       const compiler::GeneratedHooks &hooks, const reference::ProblemShape &shape,
                       uint64_t seed, bool routing, reference::ProblemInputs &inputs,
                       std::string &error) {
  reference::InputOptions options;
  options.qkv = routing && attention.route;
  if (!options.qkv) {
    options.onlyInputs.emplace();
    for (const compiler::InputSlot &slot : hooks.inputs)
      if (slot.inMask)
        options.onlyInputs->push_back(slot.name);
  }
  return reference::makeProblemInputs(program, attention, shape, seed, inputs, error, options);
}

bool routingAffordable(const dsl::AttentionDecl &attention, const reference::ProblemShape &shape,
                       int pairsOfHeads, std::string &why) {
  if (!attention.route)
    return true;
  const dsl::RouteSpec &r = *attention.route;
  double block = 1;
  for (int64_t size : r.blockShape)
    block *= double(std::max<int64_t>(1, size));
  const double blocks = std::ceil(double(shape.kvLen) / block) + 1;
  const double unitSize = r.per == dsl::RouteSpec::Granularity::Head ? double(shape.qLen)
                          : r.per == dsl::RouteSpec::Granularity::QueryBlock
                              ? double(std::max<int64_t>(1, r.queryBlock))
                              : 1.0;
  const double units = std::ceil(double(shape.qLen) / unitSize);
  const double gates = units * blocks * pairsOfHeads;
  const double qkv =
      double(shape.batch) * shape.heads * std::max(shape.qLen, shape.kvLen) * shape.headDim;
  // About 2 s of gates on one core; Q, K and V of 4 bytes plus Q and K in float64.
  if (gates > 2e7 || qkv > 2.5e7) {
    why = fmt::format("the route selection was not evaluated ({:.2g} gates over {:.2g} Q/K "
                      "elements is too much for the CPU reference)",
                      gates, qkv);
    return false;
  }
  return true;
}

bool computeTileMap(const dsl::Program &program, const dsl::AttentionDecl &attention,
                    const compiler::GeneratedHooks &hooks,
                    const reference::ReferenceProblem &problem, const TileMapOptions &options,
                    TileMap &map, std::string &error) {
  map = TileMap();
  const reference::ProblemShape &s = problem.shape;
  if (!hooks.hostProgram) {
    error = "the hooks were generated without the host classifier";
    return false;
  }
  if (options.tileQ < 1 || options.tileK < 1 || s.qLen < 1 || s.kvLen < 1) {
    error = "tile sizes and lengths must be at least 1";
    return false;
  }
  for (auto [b, h] : options.heads)
    if (b < 0 || b >= s.batch || h < 0 || h >= s.heads) {
      error = fmt::format("(b, h) = ({}, {}) is outside the problem", b, h);
      return false;
    }
  const int tileQ = options.tileQ, tileK = options.tileK;
  const int tilesQ = int((int64_t(s.qLen) + tileQ - 1) / tileQ);
  const int tilesK = int((int64_t(s.kvLen) + tileK - 1) / tileK);
  map.tilesQ = tilesQ;
  map.tilesK = tilesK;

  HostArgs host;
  // The launch's summary block (Runtime.cpp): the smaller tile side.
  if (!bindArgs(attention, hooks, problem, std::min(tileQ, tileK), host, error))
    return false;
  const AttncArgs &args = host.args;

  const bool routed = attention.route && options.routing;
  // Counting evaluates the routed keep predicate: not without the route selection.
  const bool count = options.countPartialPairs && (routed || !attention.route);
  reference::KeepEvaluator keep;
  if (routed || count)
    if (!keep.bind(program, attention, problem, error))
      return false;
  map.routingEvaluated = routed;
  // The route blocks each key tile touches (what the routing wrapper's loop visits).
  std::vector<std::vector<int>> tileBlocks;
  int unitSize = 1;
  if (routed) {
    unitSize = keep.routeUnitSize();
    tileBlocks.resize(tilesK);
    for (int tk = 0; tk < tilesK; ++tk) {
      std::vector<int> &blocks = tileBlocks[tk];
      for (int k = tk * tileK; k < std::min(s.kvLen, (tk + 1) * tileK); ++k)
        blocks.push_back(keep.routeBlockOfKey(k));
      std::sort(blocks.begin(), blocks.end());
      blocks.erase(std::unique(blocks.begin(), blocks.end()), blocks.end());
    }
  }

  if (options.keepClasses)
    map.classes.assign(options.heads.size(), std::vector<uint8_t>(size_t(tilesQ) * tilesK, 0));

  const size_t items = options.heads.size() * size_t(tilesQ);
  int threads = options.threads > 0 ? options.threads : int(std::thread::hardware_concurrency());
  threads = int(std::max<size_t>(1, std::min<size_t>({size_t(std::max(1, threads)), 64, items})));
  std::atomic<size_t> next{0}, done{0};
  std::mutex merge;
  Totals totals;
  const auto start = std::chrono::steady_clock::now();
  auto lastReport = start;

  std::atomic<bool> countAbandoned{false};
  auto worker = [&](int id) {
    compiler::HostTileClassifier classifier(hooks.hostProgram), counter(hooks.hostProgram);
    double countSeconds = 0; // this worker's CPU time spent counting
    Totals mine;
    for (size_t item; (item = next.fetch_add(1)) < items;) {
      const size_t head = item / tilesQ;
      const int tq = int(item % tilesQ);
      const auto [b, h] = options.heads[head];
      const int qLo = tq * tileQ, qHi = std::min(s.qLen, qLo + tileQ) - 1;
      int lo[ATTNC_MAX_KV_RANGES] = {}, hi[ATTNC_MAX_KV_RANGES] = {};
      int n = classifier.kvRanges(args, b, h, qLo, qHi, lo, hi);
      n = std::max(0, std::min(n, ATTNC_MAX_KV_RANGES));
      classifier.setQueryTile(args, b, h, qLo, qHi);
      uint8_t *row = options.keepClasses ? &map.classes[head][size_t(tq) * tilesK] : nullptr;
      int candidates = 0, nextTile = 0; // key tiles meeting the intervals, each once
      for (int r = 0; r < n; ++r) {
        const int rLo = std::max(lo[r], 0), rHi = std::min(hi[r], s.kvLen);
        if (rLo >= rHi)
          continue;
        for (int tk = std::max(nextTile, rLo / tileK); tk <= (rHi - 1) / tileK; ++tk) {
          ++candidates;
          const int kLo = tk * tileK, kHi = std::min(s.kvLen, kLo + tileK) - 1;
          int cls = classifier.classifyKeys(kLo, kHi) & 3;
          if (routed && cls != ATTNC_TILE_EMPTY) {
            bool any = false, all = true;
            for (int unit = qLo / unitSize; unit <= qHi / unitSize && !(any && !all); ++unit)
              for (int blk : tileBlocks[tk]) {
                bool bit = keep.routeSelected(b, h, unit, blk);
                any = any || bit;
                all = all && bit;
              }
            cls = !any ? ATTNC_TILE_EMPTY : all ? cls : ATTNC_TILE_PARTIAL;
          }
          if (cls > ATTNC_TILE_FULL) // ROWS and factor bits do not occur here
            cls = ATTNC_TILE_PARTIAL;
          mine.tiles[cls]++;
          const uint64_t area = uint64_t(qHi - qLo + 1) * uint64_t(kHi - kLo + 1);
          if (cls == ATTNC_TILE_FULL)
            mine.fullPairs += area;
          if (cls == ATTNC_TILE_PARTIAL) {
            mine.partialPairs += area;
            if (count && !countAbandoned.load(std::memory_order_relaxed)) {
              const double before = threadSeconds();
              // Per-token route units give every row its own selection: subdividing then
              // degenerates to rows, and the reference's route test per pair is cheaper
              // (moba_bs512_top3 at 16k: 0.8 s against 1.1 s of CPU).
              uint64_t kept = routed && unitSize == 1
                                  ? keep.countKept(b, h, qLo, qHi + 1, kLo, kHi + 1)
                                  : countBySubdivision(counter, args, keep, routed, unitSize, b, h,
                                                       qLo, qHi, kLo, kHi);
              countSeconds += threadSeconds() - before;
              if (options.countBudgetSeconds > 0 && countSeconds > options.countBudgetSeconds)
                countAbandoned = true;
              mine.partialKept += kept;
              mine.partialEmpty += kept == 0;
              mine.partialFull += kept == area;
            }
          }
          if (row)
            row[tk] = uint8_t(cls);
        }
        nextTile = std::max(nextTile, (rHi - 1) / tileK + 1);
      }
      mine.tiles[ATTNC_TILE_EMPTY] += uint64_t(tilesK - candidates);
      mine.unclassifiedEmpty += uint64_t(tilesK - candidates);
      size_t finished = done.fetch_add(1) + 1;
      if (id == 0 && options.progress) {
        auto now = std::chrono::steady_clock::now();
        if (now - start > std::chrono::seconds(3) && now - lastReport > std::chrono::seconds(2)) {
          lastReport = now;
          std::fprintf(stderr, "attnc: classifying tiles: %.0f%% of %zu query tiles\n",
                       100.0 * double(finished) / double(items), items);
        }
      }
    }
    std::lock_guard<std::mutex> lock(merge);
    totals.add(mine);
  };
  if (threads == 1) {
    worker(0);
  } else {
    std::vector<std::thread> pool;
    for (int i = 0; i < threads; ++i)
      pool.emplace_back(worker, i);
    for (auto &t : pool)
      t.join();
  }

  for (int c = 0; c < 3; ++c)
    map.tiles[c] = totals.tiles[c];
  map.unclassifiedEmpty = totals.unclassifiedEmpty;
  map.fullPairs = totals.fullPairs;
  map.partialPairs = totals.partialPairs;
  map.partialCounted = count && !countAbandoned;
  if (map.partialCounted) {
    map.partialKept = totals.partialKept;
    map.partialActuallyEmpty = totals.partialEmpty;
    map.partialActuallyFull = totals.partialFull;
  }
  return true;
}

} // namespace attnc::tools
