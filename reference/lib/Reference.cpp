//===- Reference.cpp - The float64 CPU reference executor ---------------===//
//
// Execution plan: bind (validate shapes, params, inputs), convert Q/K/V to contiguous
// float64, compute the block routing selection per (b, h, unit) if there is a route, then
// process rows (b, h, q) on worker threads: evaluate routing + mask per key, the score
// expression per kept key, a float64 softmax, and the epilogue per output column.
//
//===----------------------------------------------------------------------===//
#include "attnc/reference/Reference.h"

#include "Interpreter.h"
#include "Prepared.h"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <numeric>
#include <optional>
#include <thread>

namespace attnc::reference {

using detail::Binding;
using detail::Evaluator;
using detail::Value;
using dsl::RouteSpec;
using dsl::Type;

namespace {

bool dtypeMatches(dsl::ElementType declared, DType given) {
  switch (declared) {
  case dsl::ElementType::I32:
    return given == DType::I32;
  case dsl::ElementType::I64:
    return given == DType::I64;
  case dsl::ElementType::U8:
    return given == DType::U8;
  case dsl::ElementType::F32:
    return given == DType::F32 || given == DType::F64;
  case dsl::ElementType::F16:
    return given == DType::F16 || given == DType::F64;
  case dsl::ElementType::BF16:
    return given == DType::BF16 || given == DType::F64;
  }
  return false;
}

bool evalInputDims(const Binding &binding, std::vector<std::vector<int64_t>> &dims,
                   std::string &error) {
  Evaluator ev(binding);
  dims.clear();
  for (const auto &input : binding.attention->inputs) {
    std::vector<int64_t> d;
    for (const auto &e : input.dims) {
      int64_t v = ev.evalInt(*e);
      if (v < 1) {
        error = "input '" + input.name + "' has a dimension of size " + std::to_string(v) +
                " at this shape";
        return false;
      }
      d.push_back(v);
    }
    dims.push_back(std::move(d));
  }
  return true;
}

} // namespace

namespace detail {

bool checkQkv(const TensorView &t, const char *name, int batch, int heads, int seq, int d,
              std::string &error) {
  std::vector<int64_t> want = {batch, heads, seq, d};
  if (!t.data || t.dims != want || t.strides.size() != 4) {
    error = std::string(name) + " must be a 4-D tensor of logical dims " + dimsText(want) +
            " (got " + dimsText(t.dims) + ")";
    return false;
  }
  if (!isFloatDType(t.dtype)) {
    error = std::string(name) + " must hold floats (got " + dtypeName(t.dtype) + ")";
    return false;
  }
  return true;
}

std::vector<double> toDouble(const TensorView &t) {
  std::vector<double> out(static_cast<size_t>(t.numElements()));
  size_t i = 0;
  for (int64_t a = 0; a < t.dims[0]; ++a)
    for (int64_t b = 0; b < t.dims[1]; ++b)
      for (int64_t s = 0; s < t.dims[2]; ++s)
        for (int64_t c = 0; c < t.dims[3]; ++c)
          out[i++] = t.loadDouble(a * t.strides[0] + b * t.strides[1] + s * t.strides[2] +
                                  c * t.strides[3]);
  return out;
}

/// Gate order for top(n) and threshold(m): larger gate first, ties (and NaN, which sorts
/// last) broken towards the lower block index.
static bool gateBefore(double ga, int a, double gb, int b) {
  double ka = std::isnan(ga) ? -std::numeric_limits<double>::infinity() : ga;
  double kb = std::isnan(gb) ? -std::numeric_limits<double>::infinity() : gb;
  if (ka != kb)
    return ka > kb;
  bool na = std::isnan(ga), nb = std::isnan(gb);
  if (na != nb)
    return nb;
  return a < b;
}

static bool computeRouting(Prepared &p, int threads, std::string &error) {
  const Binding &bind = p.binding;
  const ProblemShape &s = bind.shape;
  const RouteSpec &route = *bind.attention->route;
  p.routed = true;
  if (!p.memory.reserve({s.kvLen, sizeof(int32_t)}, "the block of every key", error))
    return false;
  // num_blocks = 1 + the largest block of a key token. For 1-D blocks (and tiles over whole
  // rows) that is block_of(kv_len - 1) + 1; with N-D tiles over a partial last row a
  // lower-numbered token can lie in a higher block, so take the maximum.
  p.blockOfKey.resize(s.kvLen);
  int32_t maxBlock = 0;
  for (int t = 0; t < s.kvLen; ++t) {
    p.blockOfKey[t] = static_cast<int32_t>(bind.blockOf(t));
    maxBlock = std::max(maxBlock, p.blockOfKey[t]);
  }
  p.numBlocks = maxBlock + 1;
  switch (route.per) {
  case RouteSpec::Granularity::Token:
    p.unitSize = 1;
    break;
  case RouteSpec::Granularity::QueryBlock:
    // A unit longer than q_len holds every query: clamping keeps unit counts and token
    // ranges within int however large the declared size.
    p.unitSize = static_cast<int>(std::clamp<int64_t>(route.queryBlock, 1, s.qLen));
    break;
  case RouteSpec::Granularity::Head:
    p.unitSize = s.qLen;
    break;
  }
  p.units = static_cast<int>((int64_t{s.qLen} + p.unitSize - 1) / p.unitSize);
  const int nb = p.numBlocks, d = s.headDim;
  if (!p.memory.reserve({s.batch, s.heads, p.units, nb}, "the routing selection", error) ||
      !p.memory.reserve({s.batch, s.kvHeads, nb, d, sizeof(double)}, "the routing key means",
                        error))
    return false;
  p.selected.assign(static_cast<size_t>(s.batch) * s.heads * p.units * nb, 0);

  // Mean key of every (b, kv_h, blk) over its tokens < kv_len; empty blocks (possible with
  // N-D tiles) are never candidates.
  std::vector<double> keyMean(static_cast<size_t>(s.batch) * s.kvHeads * nb * d, 0.0);
  std::vector<int> blockTokens(nb, 0);
  for (int t = 0; t < s.kvLen; ++t)
    ++blockTokens[p.blockOfKey[t]];
  for (int b = 0; b < s.batch; ++b)
    for (int kvh = 0; kvh < s.kvHeads; ++kvh) {
      double *base = &keyMean[(static_cast<size_t>(b) * s.kvHeads + kvh) * nb * d];
      for (int t = 0; t < s.kvLen; ++t) {
        const double *row = p.kRow(b, kvh, t);
        double *dst = base + static_cast<size_t>(p.blockOfKey[t]) * d;
        for (int c = 0; c < d; ++c)
          dst[c] += row[c];
      }
      for (int blk = 0; blk < nb; ++blk)
        if (blockTokens[blk] > 0)
          for (int c = 0; c < d; ++c)
            base[static_cast<size_t>(blk) * d + c] /= blockTokens[blk];
    }

  size_t work = static_cast<size_t>(s.batch) * s.heads * p.units;
  parallelFor(bind, threads, work, [&](size_t item, Evaluator &ev, int) {
    int unit = static_cast<int>(item % p.units);
    int h = static_cast<int>((item / p.units) % s.heads);
    int b = static_cast<int>(item / (static_cast<size_t>(p.units) * s.heads));
    int kvh = p.kvHeadOf(h);
    int tokenLo = unit * p.unitSize;
    int tokenHi = static_cast<int>(std::min<int64_t>(s.qLen, int64_t{tokenLo} + p.unitSize));

    std::vector<double> query(d, 0.0);
    for (int t = tokenLo; t < tokenHi; ++t) {
      const double *row = p.qRow(b, h, t);
      for (int c = 0; c < d; ++c)
        query[c] += row[c];
    }
    for (int c = 0; c < d; ++c)
      query[c] /= (tokenHi - tokenLo);

    ev.b = b;
    ev.h = h;
    ev.kvh = kvh;
    ev.k = 0;
    ev.numBlocks = nb;
    ev.routeQuery = query.data();
    // Unit-level expressions (gate, select argument) see the unit's first token as q.
    ev.q = tokenLo;
    ev.blk = 0;
    ev.invalidate();
    int64_t topN = 0;
    double mass = 1.0;
    if (route.selectArg) {
      if (route.select == RouteSpec::Selection::TopK)
        topN = ev.evalInt(*route.selectArg);
      else
        mass = ev.evalFloat(*route.selectArg);
    }

    std::vector<double> gate(nb, 0.0);
    std::vector<uint8_t> forced(nb, 0), forbidden(nb, 0);
    std::vector<int> candidates;
    for (int blk = 0; blk < nb; ++blk) {
      if (blockTokens[blk] == 0)
        continue;
      const double *key = &keyMean[((static_cast<size_t>(b) * s.kvHeads + kvh) * nb + blk) * d];
      ev.routeKey = key;
      ev.blk = blk;
      ev.q = tokenLo;
      ev.invalidate();
      if (route.gate) {
        gate[blk] = ev.evalFloat(*route.gate);
      } else {
        double sum = 0.0;
        for (int c = 0; c < d; ++c)
          sum += query[c] * key[c];
        gate[blk] = sum;
      }
      // ANY token of the unit forces, EVERY token forbids; forbidden beats forced.
      bool anyAlways = false, everyNever = route.never != nullptr;
      for (int t = tokenLo; t < tokenHi && (route.always || everyNever); ++t) {
        ev.q = t;
        ev.invalidate();
        if (route.always && !anyAlways && ev.evalBool(*route.always))
          anyAlways = true;
        if (everyNever && !ev.evalBool(*route.never))
          everyNever = false;
        if (anyAlways && !everyNever)
          break;
      }
      forbidden[blk] = everyNever;
      forced[blk] = anyAlways && !everyNever;
      if (!forbidden[blk] && !forced[blk])
        candidates.push_back(blk);
    }
    std::sort(candidates.begin(), candidates.end(),
              [&](int a, int c) { return gateBefore(gate[a], a, gate[c], c); });

    uint8_t *sel = &p.selected[item * nb];
    int numForced = 0;
    for (int blk = 0; blk < nb; ++blk)
      if (forced[blk]) {
        sel[blk] = 1;
        ++numForced;
      }
    if (route.select == RouteSpec::Selection::TopK) {
      int64_t extra = std::max<int64_t>(0, topN - numForced);
      for (size_t i = 0; i < candidates.size() && static_cast<int64_t>(i) < extra; ++i)
        sel[candidates[i]] = 1;
    } else {
      // Softmax of the gate over forced and candidate blocks.
      double maxGate = -std::numeric_limits<double>::infinity();
      for (int blk = 0; blk < nb; ++blk)
        if ((forced[blk] || (!forbidden[blk] && blockTokens[blk] > 0)) && !std::isnan(gate[blk]))
          maxGate = std::max(maxGate, gate[blk]);
      std::vector<double> weight(nb, 0.0);
      double total = 0.0;
      for (int blk = 0; blk < nb; ++blk) {
        if (!(forced[blk] || (!forbidden[blk] && blockTokens[blk] > 0)) || std::isnan(gate[blk]))
          continue;
        // All gates -inf: treat them as equal.
        weight[blk] = maxGate == -std::numeric_limits<double>::infinity()
                          ? 1.0
                          : std::exp(gate[blk] - maxGate);
        total += weight[blk];
      }
      double selectedMass = 0.0;
      for (int blk = 0; blk < nb; ++blk)
        if (forced[blk] && total > 0)
          selectedMass += weight[blk] / total;
      for (int blk : candidates) {
        if (selectedMass >= mass)
          break;
        sel[blk] = 1;
        if (total > 0)
          selectedMass += weight[blk] / total;
      }
    }
  });
  return true;
}

bool prepare(const dsl::Program &program, const dsl::AttentionDecl &attention,
             const ReferenceProblem &problem, Prepared &p, std::string &error, bool structural) {
  if (!p.binding.bindStatic(program, attention, problem.shape, problem.params, error))
    return false;
  Binding &bind = p.binding;
  const ProblemShape &s = bind.shape;
  bind.scale = problem.scale ? *problem.scale : 1.0 / std::sqrt(static_cast<double>(s.headDim));

  std::vector<std::vector<int64_t>> dims;
  if (!evalInputDims(bind, dims, error))
    return false;
  bind.inputs.assign(attention.inputs.size(), TensorView());
  for (size_t i = 0; i < attention.inputs.size(); ++i) {
    const dsl::InputDecl &decl = attention.inputs[i];
    const NamedTensor *found = nullptr;
    for (const auto &t : problem.inputs)
      if (t.name == decl.name)
        found = &t;
    if (!found || !found->tensor.data) {
      error = "input '" + decl.name + "' was not bound";
      return false;
    }
    const TensorView &t = found->tensor;
    if (!dtypeMatches(decl.elementType, t.dtype)) {
      error = "input '" + decl.name + "' is declared " + dsl::elementTypeName(decl.elementType) +
              " but was bound to " + dtypeName(t.dtype) + " data";
      return false;
    }
    if (t.dims != dims[i] || t.strides.size() != t.dims.size()) {
      error = "input '" + decl.name + "' must have dims " + dimsText(dims[i]) + ", got " +
              dimsText(t.dims);
      return false;
    }
    bind.inputs[i] = t;
  }
  for (const auto &t : problem.inputs) {
    bool known = std::any_of(attention.inputs.begin(), attention.inputs.end(),
                             [&](const dsl::InputDecl &d) { return d.name == t.name; });
    if (!known) {
      error = "attention '" + attention.name + "' has no input named '" + t.name + "'";
      return false;
    }
  }

  if (!checkQkv(problem.q, "Q", s.batch, s.heads, s.qLen, s.headDim, error) ||
      !checkQkv(problem.k, "K", s.batch, s.kvHeads, s.kvLen, s.headDim, error) ||
      !checkQkv(problem.v, "V", s.batch, s.kvHeads, s.kvLen, s.headDim, error))
    return false;
  const bool needQk = !structural || attention.route;
  if (needQk && !p.memory.reserve({s.batch, s.heads, s.qLen, s.headDim, sizeof(double)},
                                  "the float64 copy of Q " + dimsText(problem.q.dims), error))
    return false;
  if (needQk && !p.memory.reserve(
                    {structural ? 1 : 2, s.batch, s.kvHeads, s.kvLen, s.headDim, sizeof(double)},
                    "the float64 copies of K and V " + dimsText(problem.k.dims), error))
    return false;
  if (needQk) {
    p.q = toDouble(problem.q);
    p.k = toDouble(problem.k);
  }
  if (!structural)
    p.v = toDouble(problem.v);
  if (attention.route && !computeRouting(p, problem.threads, error))
    return false;
  return true;
}

bool keeps(const Prepared &p, Evaluator &ev, int b, int h, int t, int key) {
  ev.k = key;
  ev.invalidatePair();
  if (!p.isRouted(b, h, t, key))
    return false;
  const dsl::Expr *mask = p.binding.attention->mask.get();
  return !mask || ev.evalBool(*mask);
}

} // namespace detail

using detail::keeps;
using detail::parallelFor;
using detail::prepare;
using detail::Prepared;
using detail::threadCount;

uint64_t referenceMemoryLimit() {
  const char *text = std::getenv("ATTNC_REFERENCE_MEMORY_LIMIT");
  if (!text || !*text)
    return kDefaultReferenceMemoryLimit;
  errno = 0;
  char *end = nullptr;
  unsigned long long value = std::strtoull(text, &end, 10);
  if (errno == ERANGE || end == text || value == 0 || text[0] == '-')
    return kDefaultReferenceMemoryLimit;
  int shift = 0;
  switch (*end) {
  case 'K':
    shift = 10;
    break;
  case 'M':
    shift = 20;
    break;
  case 'G':
    shift = 30;
    break;
  case 'T':
    shift = 40;
    break;
  case '\0':
    break;
  default:
    return kDefaultReferenceMemoryLimit;
  }
  if (shift && end[1] != '\0')
    return kDefaultReferenceMemoryLimit;
  if (value > (UINT64_MAX >> shift))
    return UINT64_MAX;
  return static_cast<uint64_t>(value) << shift;
}

bool runReference(const dsl::Program &program, const dsl::AttentionDecl &attention,
                  const ReferenceProblem &problem, ReferenceResult &result, std::string &error) {
  Prepared p;
  if (!prepare(program, attention, problem, p, error))
    return false;
  const ProblemShape &s = p.binding.shape;
  const int d = s.headDim;
  if (!p.memory.reserve({s.batch, s.heads, s.qLen, s.headDim + 1, sizeof(double)},
                        "the outputs O and LSE", error))
    return false;
  result.shape = s;
  result.out.assign(static_cast<size_t>(s.batch) * s.heads * s.qLen * d, 0.0);
  result.lse.assign(static_cast<size_t>(s.batch) * s.heads * s.qLen,
                    -std::numeric_limits<double>::infinity());
  const dsl::Expr *scoreExpr = attention.score.get();
  const dsl::Expr *outExpr = attention.out.get();
  const double scale = p.binding.scale;
  if (outExpr)
    result.outBeforeOut.assign(result.out.size(), 0.0);

  // Rows to compute: all, or the requested query rows of every (b, h).
  std::vector<size_t> rowList;
  if (!problem.onlyQueries.empty()) {
    for (int t : problem.onlyQueries)
      if (t < 0 || t >= s.qLen) {
        error = "onlyQueries holds " + std::to_string(t) + ", outside [0, q_len)";
        return false;
      }
    std::fill(result.out.begin(), result.out.end(), std::numeric_limits<double>::quiet_NaN());
    std::fill(result.lse.begin(), result.lse.end(), std::numeric_limits<double>::quiet_NaN());
    for (size_t bh = 0; bh < static_cast<size_t>(s.batch) * s.heads; ++bh)
      for (int t : problem.onlyQueries) {
        size_t row = bh * s.qLen + t;
        std::fill(&result.out[row * d], &result.out[row * d] + d, 0.0);
        result.lse[row] = -std::numeric_limits<double>::infinity();
        rowList.push_back(row);
      }
  }
  size_t rows = rowList.empty() ? static_cast<size_t>(s.batch) * s.heads * s.qLen : rowList.size();
  int n = threadCount(problem.threads, rows);
  std::vector<uint64_t> kept(n, 0);
  parallelFor(p.binding, n, rows, [&](size_t item, Evaluator &ev, int worker) {
    size_t row = rowList.empty() ? item : rowList[item];
    int t = static_cast<int>(row % s.qLen);
    int h = static_cast<int>((row / s.qLen) % s.heads);
    int b = static_cast<int>(row / (static_cast<size_t>(s.qLen) * s.heads));
    int kvh = p.kvHeadOf(h);
    ev.b = b;
    ev.h = h;
    ev.kvh = kvh;
    ev.q = t;
    ev.invalidate();
    const double *qRow = p.qRow(b, h, t);

    std::vector<double> scores;
    std::vector<int> keys;
    for (int key = 0; key < s.kvLen; ++key) {
      if (!keeps(p, ev, b, h, t, key))
        continue;
      const double *kRow = p.kRow(b, kvh, key);
      double dot = 0.0;
      for (int c = 0; c < d; ++c)
        dot += qRow[c] * kRow[c];
      double score = scale * dot;
      if (scoreExpr) {
        ev.score = score;
        ev.invalidatePair();
        score = ev.evalFloat(*scoreExpr);
      }
      if (score == -std::numeric_limits<double>::infinity())
        continue; // dropped, as if masked
      scores.push_back(score);
      keys.push_back(key);
    }
    kept[worker] += keys.size();
    if (keys.empty())
      return; // O = 0, LSE = -inf; the epilogue is not applied

    double maxScore = -std::numeric_limits<double>::infinity();
    bool anyNaN = false;
    for (double sc : scores) {
      anyNaN |= std::isnan(sc);
      if (!std::isnan(sc))
        maxScore = std::max(maxScore, sc);
    }
    double *o = &result.out[row * d];
    if (anyNaN) {
      std::fill(o, o + d, std::numeric_limits<double>::quiet_NaN());
      result.lse[row] = std::numeric_limits<double>::quiet_NaN();
      return;
    }
    bool infinite = maxScore == std::numeric_limits<double>::infinity();
    double sum = 0.0;
    for (size_t i = 0; i < keys.size(); ++i) {
      // With +inf scores, the +inf keys share the weight equally.
      double w = infinite ? (scores[i] == maxScore ? 1.0 : 0.0) : std::exp(scores[i] - maxScore);
      if (w == 0.0)
        continue;
      sum += w;
      const double *vRow = p.vRow(b, kvh, keys[i]);
      for (int c = 0; c < d; ++c)
        o[c] += w * vRow[c];
    }
    for (int c = 0; c < d; ++c)
      o[c] /= sum;
    result.lse[row] = infinite ? maxScore : maxScore + std::log(sum);
    if (outExpr) {
      std::copy(o, o + d, &result.outBeforeOut[row * d]);
      for (int c = 0; c < d; ++c) {
        ev.c = c;
        ev.out = o[c];
        ev.invalidatePair();
        o[c] = ev.evalFloat(*outExpr);
      }
    }
  });
  result.keptPairs = std::accumulate(kept.begin(), kept.end(), uint64_t{0});
  return true;
}

bool evaluateKeepMatrix(const dsl::Program &program, const dsl::AttentionDecl &attention,
                        const ReferenceProblem &problem, int b, int h, std::vector<uint8_t> &keep,
                        std::string &error) {
  Prepared p;
  if (!prepare(program, attention, problem, p, error, /*structural=*/true))
    return false;
  const ProblemShape &s = p.binding.shape;
  if (b < 0 || b >= s.batch || h < 0 || h >= s.heads) {
    error = "(b, h) out of range";
    return false;
  }
  if (!p.memory.reserve({s.qLen, s.kvLen}, "the keep matrix", error))
    return false;
  keep.assign(static_cast<size_t>(s.qLen) * s.kvLen, 0);
  parallelFor(p.binding, problem.threads, static_cast<size_t>(s.qLen),
              [&](size_t row, Evaluator &ev, int) {
                int t = static_cast<int>(row);
                ev.b = b;
                ev.h = h;
                ev.kvh = p.kvHeadOf(h);
                ev.q = t;
                ev.invalidate();
                for (int key = 0; key < s.kvLen; ++key)
                  keep[row * s.kvLen + key] = keeps(p, ev, b, h, t, key);
              });
  return true;
}

struct KeepEvaluator::Impl {
  Prepared p;
};

KeepEvaluator::KeepEvaluator() = default;
KeepEvaluator::~KeepEvaluator() = default;

bool KeepEvaluator::bind(const dsl::Program &program, const dsl::AttentionDecl &attention,
                         const ReferenceProblem &problem, std::string &error) {
  impl_ = std::make_unique<Impl>();
  if (prepare(program, attention, problem, impl_->p, error, /*structural=*/true))
    return true;
  impl_.reset();
  return false;
}

uint64_t KeepEvaluator::countKept(int b, int h, int q0, int q1, int k0, int k1) const {
  const Prepared &p = impl_->p;
  const ProblemShape &s = p.binding.shape;
  q0 = std::max(q0, 0), k0 = std::max(k0, 0);
  q1 = std::min(q1, s.qLen), k1 = std::min(k1, s.kvLen);
  Evaluator ev(p.binding);
  uint64_t kept = 0;
  for (int t = q0; t < q1; ++t) {
    ev.b = b;
    ev.h = h;
    ev.kvh = p.kvHeadOf(h);
    ev.q = t;
    ev.invalidate();
    for (int key = k0; key < k1; ++key)
      kept += keeps(p, ev, b, h, t, key);
  }
  return kept;
}

bool KeepEvaluator::routed() const { return impl_->p.routed; }
int KeepEvaluator::routeUnitSize() const { return impl_->p.unitSize; }
int KeepEvaluator::routeNumBlocks() const { return impl_->p.numBlocks; }
int KeepEvaluator::routeBlockOfKey(int k) const { return impl_->p.blockOfKey[k]; }
bool KeepEvaluator::routeSelected(int b, int h, int unit, int blk) const {
  const Prepared &p = impl_->p;
  return p.selected[((static_cast<size_t>(b) * p.binding.shape.heads + h) * p.units + unit) *
                        p.numBlocks +
                    blk] != 0;
}

bool evaluateInputDims(const dsl::Program &program, const dsl::AttentionDecl &attention,
                       const ProblemShape &shape, std::vector<std::vector<int64_t>> &dims,
                       std::string &error) {
  Binding binding;
  // Params do not matter for dims; bind their defaults where present.
  std::vector<ParamBinding> none;
  if (!binding.bindStatic(program, attention, shape, none, error)) {
    // A param without default is not an error here.
    bool paramError = error.find("no default") != std::string::npos;
    if (!paramError)
      return false;
    error.clear();
  }
  return evalInputDims(binding, dims, error);
}

bool parseParamValue(Type type, const std::string &text, dsl::ConstValue &value,
                     std::string &error) {
  value = dsl::ConstValue();
  if (type == Type::Bool) {
    if (text == "true" || text == "1") {
      value.type = Type::Bool;
      value.b = true;
      return true;
    }
    if (text == "false" || text == "0") {
      value.type = Type::Bool;
      value.b = false;
      return true;
    }
    error = "expected true or false, got '" + text + "'";
    return false;
  }
  const char *begin = text.c_str();
  char *end = nullptr;
  errno = 0;
  if (type == Type::Int) {
    long long v = std::strtoll(begin, &end, 10);
    if (text.empty() || *end != '\0' || errno == ERANGE || v < INT32_MIN || v > INT32_MAX) {
      error = "expected a 32-bit integer, got '" + text + "'";
      return false;
    }
    value.type = Type::Int;
    value.i = v;
    return true;
  }
  if (type == Type::Float) {
    double v = std::strtod(begin, &end);
    if (text.empty() || *end != '\0') {
      error = "expected a number, got '" + text + "'";
      return false;
    }
    value.type = Type::Float;
    value.f = v;
    return true;
  }
  error = "invalid param type";
  return false;
}

} // namespace attnc::reference
