//===- Dual.h - Forward-mode derivatives of score and out expressions -*- C++ -*-===//
//
// Internal to the reference backward: evaluates a Float expression of the checked AST as
// a dual number, its value together with its derivative with respect to one seed (the raw
// score inside `score`, the normalised output element inside `out`) and with respect to
// every float input element it reads. The rules are written here, on the AST, and share
// nothing with the compiler's derivative pass, so that the two check each other.
//
// Values are computed with exactly the operations of Evaluator (Interpreter.cpp), so a
// dual's value is bit-identical to what the forward reference computes.
//
//===----------------------------------------------------------------------===//
#ifndef ATTNC_REFERENCE_LIB_DUAL_H
#define ATTNC_REFERENCE_LIB_DUAL_H

#include "Interpreter.h"

#include <cstdint>
#include <string>
#include <vector>

namespace attnc::reference::detail {

/// d value / d input[element]: `input` indexes AttentionDecl::inputs, `element` is the
/// row-major position in the input's declared dims. One element may appear several times
/// (the partials add up).
struct Partial {
  int input = 0;
  int64_t element = 0;
  double coef = 0.0;
};

struct Dual {
  double value = 0.0;
  double seed = 0.0; ///< d value / d seed
  std::vector<Partial> partials;
};

/// t * f where a zero tangent stays zero whatever f is (0 * inf would otherwise turn a
/// quantity that does not depend on the variable into NaN).
inline double chain(double t, double f) { return t == 0.0 ? 0.0 : t * f; }

class DualEvaluator {
public:
  /// `tracked[i]`: collect partials for input i (others are treated as constants).
  DualEvaluator(Evaluator &ev, const Binding &binding, std::vector<bool> tracked);

  /// Evaluates `e` at the evaluator's current point; `seed` is Builtin::Score or
  /// Builtin::Out, the variable that Dual::seed differentiates against.
  Dual eval(const dsl::Expr &e, dsl::Builtin seed);

private:
  Dual node(const dsl::Expr &e);
  Dual call(const dsl::Expr &e);
  Dual constant(const dsl::Expr &e);

  Evaluator &ev_;
  const Binding &bind_;
  std::vector<bool> tracked_;
  dsl::Builtin seed_ = dsl::Builtin::Score;
  std::vector<uint8_t> letDone_;
  std::vector<Dual> letValue_;
};

/// Checks that every Float operation the expression evaluates (following lets) has a
/// derivative rule. Returns false and sets `error` ("LINE:COL: ...") for the first that
/// has not. `what` names the expression ("score", "out").
bool checkDifferentiable(const dsl::AttentionDecl &attention, const dsl::Expr &e, const char *what,
                         std::string &error);

/// Marks in `reads` (one flag per input) the float inputs that `e` reads, following lets.
void floatInputsRead(const dsl::AttentionDecl &attention, const dsl::Expr &e,
                     std::vector<bool> &reads);

} // namespace attnc::reference::detail

#endif // ATTNC_REFERENCE_LIB_DUAL_H
