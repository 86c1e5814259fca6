//===- TestSupport.h - Helpers for the reference cross-checks ----*- C++ -*-===//
//
// `compileSource` parses and checks a program; `naiveAttention` is an independent,
// deliberately simple float64 attention written straight from patterns.md: the caller
// supplies the mask (and optional routing, score and epilogue) as C++ lambdas, so the
// reference interpreter is checked against hand-written formulas.
//
//===----------------------------------------------------------------------===//
#ifndef ATTNC_TESTS_REFERENCE_TESTSUPPORT_H
#define ATTNC_TESTS_REFERENCE_TESTSUPPORT_H

#include "attnc/dsl/Frontend.h"
#include "attnc/reference/Random.h"
#include "attnc/reference/Reference.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

namespace attnc::testing {

using reference::ProblemInputs;
using reference::ProblemShape;
using reference::ReferenceResult;

inline std::unique_ptr<dsl::Program>
compileSource(const std::string &text, const std::vector<dsl::ConstOverride> &overrides = {},
              const std::string &path = "test.attn") {
  dsl::SourceFile file(path, text);
  dsl::DiagnosticEngine diags(&file);
  auto program = dsl::parseAndCheck(file, diags, overrides);
  std::ostringstream os;
  diags.print(os);
  INFO(os.str());
  REQUIRE(program);
  REQUIRE(!diags.hasErrors());
  return program;
}

inline std::unique_ptr<dsl::Program>
compileFile(const std::string &path, const std::vector<dsl::ConstOverride> &overrides = {}) {
  dsl::SourceFile file(path, "");
  std::string error;
  INFO("loading " << path);
  REQUIRE(dsl::SourceFile::load(path, file, error));
  return compileSource(file.text(), overrides, path);
}

/// Element (b, h, t, c) of a BHSD tensor with `heads` heads and `seq` tokens.
inline double at(const reference::OwnedTensor &t, int b, int h, int s, int c) {
  int64_t index = ((static_cast<int64_t>(b) * t.dims[1] + h) * t.dims[2] + s) * t.dims[3] + c;
  return t.loadDouble(index);
}

struct NaiveSpec {
  using Mask = std::function<bool(int b, int h, int q, int k)>;
  using Score = std::function<double(int b, int h, int q, int k, double s)>;
  using Out = std::function<double(int b, int h, int q, int c, double o)>;
  NaiveSpec(Mask mask, Score score = nullptr, Out out = nullptr, double scale = 0.0)
      : mask(std::move(mask)), score(std::move(score)), out(std::move(out)), scale(scale) {}
  Mask mask;    // required
  Score score;  // optional
  Out out;      // optional
  double scale; // 0: 1/sqrt(d)
};

/// Textbook attention, two passes per row, no shared code with the interpreter.
inline ReferenceResult naiveAttention(const ProblemInputs &in, const NaiveSpec &spec) {
  const ProblemShape &s = in.shape;
  ReferenceResult r;
  r.shape = s;
  r.out.assign(static_cast<size_t>(s.batch) * s.heads * s.qLen * s.headDim, 0.0);
  r.lse.assign(static_cast<size_t>(s.batch) * s.heads * s.qLen,
               -std::numeric_limits<double>::infinity());
  double scale = spec.scale != 0.0 ? spec.scale : 1.0 / std::sqrt(double(s.headDim));
  int group = s.heads / s.kvHeads;
  for (int b = 0; b < s.batch; ++b)
    for (int h = 0; h < s.heads; ++h)
      for (int q = 0; q < s.qLen; ++q) {
        std::vector<std::pair<int, double>> kept;
        for (int k = 0; k < s.kvLen; ++k) {
          if (!spec.mask(b, h, q, k))
            continue;
          double dot = 0;
          for (int c = 0; c < s.headDim; ++c)
            dot += at(in.q, b, h, q, c) * at(in.k, b, h / group, k, c);
          double sc = scale * dot;
          if (spec.score)
            sc = spec.score(b, h, q, k, sc);
          if (sc != -std::numeric_limits<double>::infinity())
            kept.push_back({k, sc});
        }
        size_t row = (static_cast<size_t>(b) * s.heads + h) * s.qLen + q;
        r.keptPairs += kept.size();
        if (kept.empty())
          continue;
        double m = -std::numeric_limits<double>::infinity();
        for (auto &e : kept)
          m = std::max(m, e.second);
        double sum = 0;
        for (auto &e : kept)
          sum += std::exp(e.second - m);
        r.lse[row] = m + std::log(sum);
        for (int c = 0; c < s.headDim; ++c) {
          double o = 0;
          for (auto &e : kept)
            o += std::exp(e.second - m) / sum * at(in.v, b, h / group, e.first, c);
          if (spec.out)
            o = spec.out(b, h, q, c, o);
          r.out[row * s.headDim + c] = o;
        }
      }
  return r;
}

/// Maximum over elements of |a - b| / (atol + rtol * |b|); <= 1 means within tolerance.
/// Two -inf LSEs compare equal; any NaN fails.
inline double toleranceRatio(const std::vector<double> &a, const std::vector<double> &b,
                             double atol, double rtol) {
  if (a.size() != b.size())
    return std::numeric_limits<double>::infinity();
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::isnan(a[i]) || std::isnan(b[i]))
      return std::numeric_limits<double>::infinity();
    if (a[i] == b[i])
      continue;
    if (std::isinf(a[i]) || std::isinf(b[i]))
      return std::numeric_limits<double>::infinity();
    worst = std::max(worst, std::fabs(a[i] - b[i]) / (atol + rtol * std::fabs(b[i])));
  }
  return worst;
}

/// Runs the reference on `inputs` (+ params) and checks it against `expected`.
inline void requireMatches(const ReferenceResult &got, const ReferenceResult &expected) {
  REQUIRE(got.out.size() == expected.out.size());
  CHECK(toleranceRatio(got.out, expected.out, 1e-12, 1e-10) <= 1.0);
  CHECK(toleranceRatio(got.lse, expected.lse, 1e-12, 1e-10) <= 1.0);
  CHECK(got.keptPairs == expected.keptPairs);
}

inline ReferenceResult runChecked(const dsl::Program &program, const ProblemInputs &inputs,
                                  std::vector<reference::ParamBinding> params = {},
                                  int threads = 0) {
  const dsl::AttentionDecl *attention = program.find("");
  REQUIRE(attention);
  reference::ReferenceProblem problem = inputs.problem();
  problem.params = std::move(params);
  problem.threads = threads;
  ReferenceResult result;
  std::string error;
  INFO(error);
  bool ok = reference::runReference(program, *attention, problem, result, error);
  INFO("runReference: " << error);
  REQUIRE(ok);
  return result;
}

inline ProblemInputs makeInputs(const dsl::Program &program, const ProblemShape &shape,
                                uint64_t seed) {
  ProblemInputs inputs;
  std::string error;
  bool ok = reference::makeProblemInputs(program, *program.find(""), shape, seed, inputs, error);
  INFO("makeProblemInputs: " << error);
  REQUIRE(ok);
  return inputs;
}

inline reference::ParamBinding intParam(const std::string &name, int64_t v) {
  reference::ParamBinding p;
  p.name = name;
  p.value.type = dsl::Type::Int;
  p.value.i = v;
  return p;
}

inline ProblemShape shapeOf(int batch, int heads, int kvHeads, int qLen, int kvLen, int d) {
  ProblemShape s;
  s.batch = batch;
  s.heads = heads;
  s.kvHeads = kvHeads;
  s.qLen = qLen;
  s.kvLen = kvLen;
  s.headDim = d;
  return s;
}

/// Block routing, naively: per (b, h, unit) the gate of every block from explicit means,
/// forced = ANY token, forbidden = EVERY token, then top(n) or threshold(m).
struct NaiveRoute {
  std::function<int(int token)> blockOf;
  int unitSize = 1; // query tokens per unit
  bool topK = true;
  int n = 3;         // top(n)
  double mass = 0.5; // threshold(m)
  std::function<bool(int q, int blk)> always, never;
};

/// selected[b][h][unit][blk], computed with straightforward loops.
inline std::vector<std::vector<std::vector<std::vector<bool>>>>
naiveRouting(const ProblemInputs &in, const NaiveRoute &r) {
  const ProblemShape &s = in.shape;
  int nb = 0;
  for (int t = 0; t < s.kvLen; ++t)
    nb = std::max(nb, r.blockOf(t) + 1);
  int units = (s.qLen + r.unitSize - 1) / r.unitSize;
  std::vector<std::vector<std::vector<std::vector<bool>>>> sel(
      s.batch, std::vector<std::vector<std::vector<bool>>>(
                   s.heads, std::vector<std::vector<bool>>(units, std::vector<bool>(nb))));
  int group = s.heads / s.kvHeads;
  for (int b = 0; b < s.batch; ++b)
    for (int h = 0; h < s.heads; ++h) {
      // Mean key of every block (tokens < kv_len), by direct summation.
      std::vector<std::vector<double>> keyMean(nb, std::vector<double>(s.headDim, 0.0));
      std::vector<int> count(nb, 0);
      for (int t = 0; t < s.kvLen; ++t) {
        int blk = r.blockOf(t);
        ++count[blk];
        for (int c = 0; c < s.headDim; ++c)
          keyMean[blk][c] += at(in.k, b, h / group, t, c);
      }
      for (int blk = 0; blk < nb; ++blk)
        for (int c = 0; c < s.headDim; ++c)
          if (count[blk])
            keyMean[blk][c] /= count[blk];
      for (int u = 0; u < units; ++u) {
        int lo = u * r.unitSize, hi = std::min(s.qLen, lo + r.unitSize);
        std::vector<double> query(s.headDim, 0.0);
        for (int t = lo; t < hi; ++t)
          for (int c = 0; c < s.headDim; ++c)
            query[c] += at(in.q, b, h, t, c);
        for (int c = 0; c < s.headDim; ++c)
          query[c] /= (hi - lo);
        std::vector<double> gate(nb, 0.0);
        std::vector<int> forced(nb, 0), allowed(nb, 0);
        for (int blk = 0; blk < nb; ++blk) {
          for (int c = 0; c < s.headDim; ++c)
            gate[blk] += query[c] * keyMean[blk][c];
          bool any = false, every = true;
          for (int t = lo; t < hi; ++t) {
            any = any || (r.always && r.always(t, blk));
            every = every && (r.never && r.never(t, blk));
          }
          allowed[blk] = count[blk] > 0 && !every;
          forced[blk] = allowed[blk] && any;
        }
        std::vector<int> order;
        for (int blk = 0; blk < nb; ++blk)
          if (allowed[blk] && !forced[blk])
            order.push_back(blk);
        std::stable_sort(order.begin(), order.end(),
                         [&](int a, int c) { return gate[a] > gate[c]; });
        auto &out = sel[b][h][u];
        int numForced = 0;
        for (int blk = 0; blk < nb; ++blk)
          if (forced[blk])
            out[blk] = true, ++numForced;
        if (r.topK) {
          for (int i = 0; i < int(order.size()) && i < r.n - numForced; ++i)
            out[order[i]] = true;
        } else {
          double m = -1e300, total = 0, got = 0;
          for (int blk = 0; blk < nb; ++blk)
            if (allowed[blk])
              m = std::max(m, gate[blk]);
          for (int blk = 0; blk < nb; ++blk)
            if (allowed[blk])
              total += std::exp(gate[blk] - m);
          for (int blk = 0; blk < nb; ++blk)
            if (forced[blk])
              got += std::exp(gate[blk] - m) / total;
          for (int blk : order) {
            if (got >= r.mass)
              break;
            out[blk] = true;
            got += std::exp(gate[blk] - m) / total;
          }
        }
      }
    }
  return sel;
}

} // namespace attnc::testing

#endif // ATTNC_TESTS_REFERENCE_TESTSUPPORT_H
