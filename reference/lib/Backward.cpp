//===- Backward.cpp - The float64 CPU reference backward --------------------===//
//
// Per (b, h), in two phases:
//  1. rows q in parallel: recompute the forward row exactly as runReference does, with
//     the score and out expressions evaluated as dual numbers (Dual.h) for their
//     derivatives with respect to the raw score and to `out`; then
//     dO' = dO * dout_final/dout, delta = dO' . O', dS_k = P_k (dO' . V_k - delta),
//     dRaw_k = dS_k * dscore/draw, and dQ_q = scale * sum_k dRaw_k K_k (keys in order).
//     Each row keeps its kept keys with P_k, dS_k and dRaw_k.
//  2. rows in order, serially: dK_k += scale * dRaw_k Q_q, dV_k += P_k dO'_q, and the
//     input gradients (the expressions evaluated again, now collecting the partials with
//     respect to the input elements they read, times dS_k or dO_c).
// The fixed summation order makes the results independent of the thread count.
//
//===----------------------------------------------------------------------===//
#include "attnc/reference/Reference.h"

#include "Dual.h"
#include "Prepared.h"

#include <cmath>
#include <limits>

namespace attnc::reference {

using detail::chain;
using detail::Dual;
using detail::DualEvaluator;
using detail::Evaluator;
using detail::Prepared;
using dsl::Builtin;
using dsl::Type;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

/// One kept key of a row.
struct KeptPair {
  int32_t key = 0;
  double raw = 0.0;   ///< scale * Q . K
  double score = 0.0; ///< after the score expression
  double slope = 1.0; ///< d score / d raw
  double p = 0.0;     ///< softmax probability
  double ds = 0.0;    ///< d loss / d score
  double dRaw = 0.0;  ///< d loss / d raw
};

/// What phase 2 needs of one row.
struct RowState {
  std::vector<KeptPair> pairs;
  std::vector<double> oPre;  ///< O before the out expression
  std::vector<double> dOPre; ///< d loss / d oPre
  bool finite = true;        ///< false for a row with a NaN or +inf score
};

} // namespace

bool checkDifferentiable(const dsl::AttentionDecl &attention, std::string &error) {
  if (attention.score && !detail::checkDifferentiable(attention, *attention.score, "score", error))
    return false;
  return !attention.out || detail::checkDifferentiable(attention, *attention.out, "out", error);
}

bool runReferenceBackward(const dsl::Program &program, const dsl::AttentionDecl &attention,
                          const ReferenceProblem &problem, const TensorView &dOut,
                          const std::vector<std::string> &gradInputs, ReferenceGradients &grads,
                          std::string &error, const TensorView *dLse) {
  grads = ReferenceGradients();
  if (!problem.onlyQueries.empty()) {
    error = "the reference backward computes every row; onlyQueries is not supported";
    return false;
  }
  if (!checkDifferentiable(attention, error))
    return false;
  Prepared p;
  if (!detail::prepare(program, attention, problem, p, error))
    return false;
  const ProblemShape &s = p.binding.shape;
  const int d = s.headDim;
  if (!detail::checkQkv(dOut, "dO", s.batch, s.heads, s.qLen, d, error))
    return false;
  std::vector<double> dLseValues;
  if (dLse) {
    const std::vector<int64_t> want = {s.batch, s.heads, s.qLen};
    if (dLse->dims != want || dLse->strides.size() != 3 ||
        (dLse->dtype != DType::F32 && dLse->dtype != DType::F64)) {
      error = "dLSE must be float32 or float64 [batch, heads, q_len] = [" +
              std::to_string(s.batch) + ", " + std::to_string(s.heads) + ", " +
              std::to_string(s.qLen) + "]";
      return false;
    }
    TensorView padded = *dLse; // toDouble walks four dims
    padded.dims.push_back(1);
    padded.strides.push_back(1);
    dLseValues = detail::toDouble(padded);
  }

  // The inputs to differentiate: float inputs that the score or out expression reads.
  const dsl::Expr *scoreExpr = attention.score.get();
  const dsl::Expr *outExpr = attention.out.get();
  std::vector<bool> scoreReads(attention.inputs.size(), false);
  std::vector<bool> outReads(attention.inputs.size(), false);
  if (scoreExpr)
    detail::floatInputsRead(attention, *scoreExpr, scoreReads);
  if (outExpr)
    detail::floatInputsRead(attention, *outExpr, outReads);
  std::vector<bool> tracked(attention.inputs.size(), false);
  std::vector<int> gradSlot(attention.inputs.size(), -1);
  for (const std::string &name : gradInputs) {
    int i = 0;
    while (i < static_cast<int>(attention.inputs.size()) && attention.inputs[i].name != name)
      ++i;
    if (i == static_cast<int>(attention.inputs.size())) {
      error = "a gradient was asked for '" + name + "', but attention '" + attention.name +
              "' has no input of that name";
      return false;
    }
    const dsl::InputDecl &decl = attention.inputs[i];
    if (dsl::scalarTypeOf(decl.elementType) != Type::Float) {
      error = "a gradient was asked for input '" + name + "', which is " +
              dsl::elementTypeName(decl.elementType) +
              ": integer and bool inputs are not "
              "differentiated";
      return false;
    }
    if (!scoreReads[i] && !outReads[i]) {
      error = "a gradient was asked for input '" + name +
              "', which neither the score nor the out expression reads (masks and routing "
              "are not differentiated)";
      return false;
    }
    if (tracked[i]) {
      error = "a gradient was asked twice for input '" + name + "'";
      return false;
    }
    tracked[i] = true;
    gradSlot[i] = static_cast<int>(grads.inputs.size());
    grads.inputs.push_back({name, p.binding.inputs[i].dims, {}});
  }
  bool scoreTracked = false, outTracked = false;
  for (size_t i = 0; i < tracked.size(); ++i) {
    scoreTracked |= tracked[i] && scoreReads[i];
    outTracked |= tracked[i] && outReads[i];
  }

  // Working memory: dO, O and LSE, dQ, dK and dV, the input gradients, and the rows of
  // one (b, h) at a time (every pair kept, at worst).
  detail::MemoryBudget &memory = p.memory;
  if (!memory.reserve({s.batch, s.heads, s.qLen, d, sizeof(double)}, "the float64 copy of dO",
                      error) ||
      !memory.reserve({s.batch, s.heads, s.qLen, d + 1, sizeof(double)}, "the outputs O and LSE",
                      error) ||
      !memory.reserve({s.batch, s.heads, s.qLen, d, sizeof(double)}, "dQ", error) ||
      !memory.reserve({2, s.batch, s.kvHeads, s.kvLen, d, sizeof(double)}, "dK and dV", error))
    return false;
  for (InputGradient &g : grads.inputs) {
    std::optional<int64_t> n = checkedElementCount(g.dims);
    if (!memory.reserve({n ? *n : -1, sizeof(double)}, "the gradient of input '" + g.name + "'",
                        error))
      return false;
  }
  if (!memory.reserve({s.qLen, s.kvLen, sizeof(KeptPair)}, "the kept pairs of one (b, h)", error) ||
      !memory.reserve({s.qLen, 2, d, sizeof(double)}, "the row outputs of one (b, h)", error))
    return false;

  std::vector<double> dO = detail::toDouble(dOut);
  grads.shape = s;
  grads.forward.shape = s;
  grads.forward.out.assign(static_cast<size_t>(s.batch) * s.heads * s.qLen * d, 0.0);
  grads.forward.lse.assign(static_cast<size_t>(s.batch) * s.heads * s.qLen, -kInf);
  // dQ starts poisoned: phase 1 writes every row, so a row it missed would show.
  grads.dq.assign(static_cast<size_t>(s.batch) * s.heads * s.qLen * d, kNaN);
  grads.dk.assign(static_cast<size_t>(s.batch) * s.kvHeads * s.kvLen * d, 0.0);
  grads.dv.assign(grads.dk.size(), 0.0);
  for (InputGradient &g : grads.inputs)
    g.values.assign(static_cast<size_t>(*checkedElementCount(g.dims)), 0.0);

  const double scale = p.binding.scale;
  std::vector<RowState> rows(s.qLen);
  Evaluator serial(p.binding);
  DualEvaluator inputPartials(serial, p.binding, tracked);
  uint64_t keptPairs = 0;

  for (int b = 0; b < s.batch; ++b)
    for (int h = 0; h < s.heads; ++h) {
      const int kvh = p.kvHeadOf(h);
      const size_t rowBase = (static_cast<size_t>(b) * s.heads + h) * s.qLen;

      // Phase 1: the forward row and the row's own gradients.
      detail::parallelFor(p.binding, problem.threads, static_cast<size_t>(s.qLen),
                          [&](size_t item, Evaluator &ev, int) {
                            const int t = static_cast<int>(item);
                            const size_t row = rowBase + item;
                            RowState &st = rows[item];
                            st.pairs.clear();
                            st.pairs.reserve(s.kvLen); // the budgeted worst case, never more
                            st.oPre.assign(d, 0.0);
                            st.dOPre.assign(d, 0.0);
                            st.finite = true;
                            double *dq = &grads.dq[row * d];
                            std::fill(dq, dq + d, 0.0);
                            DualEvaluator dual(ev, p.binding, {});
                            ev.b = b;
                            ev.h = h;
                            ev.kvh = kvh;
                            ev.q = t;
                            ev.invalidate();
                            const double *qRow = p.qRow(b, h, t);

                            for (int key = 0; key < s.kvLen; ++key) {
                              if (!detail::keeps(p, ev, b, h, t, key))
                                continue;
                              const double *kRow = p.kRow(b, kvh, key);
                              double dot = 0.0;
                              for (int c = 0; c < d; ++c)
                                dot += qRow[c] * kRow[c];
                              KeptPair pair;
                              pair.key = key;
                              pair.raw = scale * dot;
                              pair.score = pair.raw;
                              if (scoreExpr) {
                                ev.score = pair.raw;
                                ev.invalidatePair();
                                Dual sd = dual.eval(*scoreExpr, Builtin::Score);
                                pair.score = sd.value;
                                pair.slope = sd.seed;
                              }
                              if (pair.score == -kInf)
                                continue; // dropped, as if masked: no gradient flows through it
                              st.pairs.push_back(pair);
                            }
                            if (st.pairs.empty())
                              return; // O = 0, LSE = -inf, zero gradients

                            double maxScore = -kInf;
                            bool anyNaN = false;
                            for (const KeptPair &kp : st.pairs) {
                              anyNaN |= std::isnan(kp.score);
                              if (!std::isnan(kp.score))
                                maxScore = std::max(maxScore, kp.score);
                            }
                            double *o = &grads.forward.out[row * d];
                            if (anyNaN || maxScore == kInf) {
                              // The softmax has no derivative here: everything the row touches is
                              // NaN.
                              st.finite = false;
                              for (KeptPair &kp : st.pairs)
                                kp.p = kp.ds = kp.dRaw = kNaN;
                              std::fill(st.dOPre.begin(), st.dOPre.end(), kNaN);
                              std::fill(dq, dq + d, kNaN);
                            }
                            if (anyNaN) {
                              std::fill(o, o + d, kNaN);
                              grads.forward.lse[row] = kNaN;
                              return;
                            }
                            // The forward, with the same operations in the same order as
                            // runReference.
                            const bool infinite = maxScore == kInf;
                            double sum = 0.0;
                            for (KeptPair &kp : st.pairs) {
                              double w = infinite ? (kp.score == maxScore ? 1.0 : 0.0)
                                                  : std::exp(kp.score - maxScore);
                              kp.p = w; // normalised below
                              if (w == 0.0)
                                continue;
                              sum += w;
                              const double *vRow = p.vRow(b, kvh, kp.key);
                              for (int c = 0; c < d; ++c)
                                st.oPre[c] += w * vRow[c];
                            }
                            for (int c = 0; c < d; ++c)
                              st.oPre[c] /= sum;
                            grads.forward.lse[row] = infinite ? maxScore : maxScore + std::log(sum);
                            const double *dORow = &dO[row * d];
                            for (int c = 0; c < d; ++c) {
                              o[c] = st.oPre[c];
                              double slope = 1.0;
                              if (outExpr) {
                                ev.c = c;
                                ev.out = st.oPre[c];
                                ev.invalidatePair();
                                Dual od = dual.eval(*outExpr, Builtin::Out);
                                o[c] = od.value;
                                slope = od.seed;
                              }
                              if (st.finite)
                                st.dOPre[c] = chain(dORow[c], slope);
                            }
                            if (!st.finite)
                              return;

                            double delta = 0.0;
                            for (int c = 0; c < d; ++c)
                              delta += st.dOPre[c] * st.oPre[c];
                            if (!dLseValues.empty())
                              delta -= dLseValues[row];
                            for (KeptPair &kp : st.pairs) {
                              kp.p /= sum;
                              const double *vRow = p.vRow(b, kvh, kp.key);
                              double dp = 0.0;
                              for (int c = 0; c < d; ++c)
                                dp += st.dOPre[c] * vRow[c];
                              kp.ds = kp.p * (dp - delta);
                              kp.dRaw = chain(kp.ds, kp.slope);
                              const double *kRow = p.kRow(b, kvh, kp.key);
                              for (int c = 0; c < d; ++c)
                                dq[c] += kp.dRaw * scale * kRow[c];
                            }
                          });

      // Phase 2: the key-side and input gradients, rows in order.
      for (int t = 0; t < s.qLen; ++t) {
        const RowState &st = rows[t];
        keptPairs += st.pairs.size();
        if (st.pairs.empty())
          continue;
        const double *qRow = p.qRow(b, h, t);
        for (const KeptPair &kp : st.pairs) {
          size_t kvRow = (static_cast<size_t>(b) * s.kvHeads + kvh) * s.kvLen + kp.key;
          double *dk = &grads.dk[kvRow * d];
          double *dv = &grads.dv[kvRow * d];
          for (int c = 0; c < d; ++c) {
            dk[c] += kp.dRaw * scale * qRow[c];
            dv[c] += kp.p * st.dOPre[c];
          }
        }
        if (!scoreTracked && !outTracked)
          continue;
        serial.b = b;
        serial.h = h;
        serial.kvh = kvh;
        serial.q = t;
        serial.invalidate();
        if (scoreTracked)
          for (const KeptPair &kp : st.pairs) {
            serial.k = kp.key;
            serial.score = kp.raw;
            serial.invalidatePair();
            Dual sd = inputPartials.eval(*scoreExpr, Builtin::Score);
            for (const detail::Partial &part : sd.partials)
              grads.inputs[gradSlot[part.input]].values[part.element] += chain(kp.ds, part.coef);
          }
        if (outTracked) {
          const double *dORow = &dO[(rowBase + t) * d];
          for (int c = 0; c < d; ++c) {
            serial.c = c;
            serial.out = st.oPre[c];
            serial.invalidatePair();
            Dual od = inputPartials.eval(*outExpr, Builtin::Out);
            for (const detail::Partial &part : od.partials)
              grads.inputs[gradSlot[part.input]].values[part.element] +=
                  st.finite ? chain(dORow[c], part.coef) : kNaN;
          }
        }
      }
    }
  grads.forward.keptPairs = keptPairs;
  return true;
}

} // namespace attnc::reference
