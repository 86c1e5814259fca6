//===- MaskEvaluator.h - Direct AST evaluation of a mask (test oracle) ----===//
//
// An evaluator written from the language semantics (docs/language.md), independent of
// the MLIR pipeline: the truth the generated classifier, mask and key ranges are checked
// against. Int operations are those of attnc/dsl/IntSemantics.h, which
// tests/dsl/IntSemanticsTests.cpp pins to the documented values.
//
//===----------------------------------------------------------------------===//
#ifndef ATTNC_TESTS_COMPILER_MASKEVALUATOR_H
#define ATTNC_TESTS_COMPILER_MASKEVALUATOR_H

#include "attnc/abi/KernelArgs.h"
#include "attnc/dsl/AST.h"

#include <cstdint>
#include <vector>

namespace attnc::test {

struct EvalValue {
  dsl::Type type = dsl::Type::Int;
  int32_t i = 0;
  double f = 0;
  bool b = false;
};

class MaskEvaluator {
public:
  /// `args` supplies shapes, params (by slot, see compiler::planSlots) and inputs.
  MaskEvaluator(const dsl::Program &program, const dsl::AttentionDecl &attention,
                const AttncArgs &args);
  bool mask(int b, int h, int q, int k);

private:
  const dsl::Program &program;
  const dsl::AttentionDecl &attention;
  const AttncArgs &args;
  std::vector<int> paramSlots;
  int b = 0, h = 0, q = 0, k = 0;
  std::vector<int> letDone;
  std::vector<EvalValue> letValue;

  EvalValue eval(const dsl::Expr &e);
  EvalValue name(const dsl::Expr &e);
  EvalValue call(const dsl::Expr &e);
  EvalValue read(const dsl::Expr &e);
};

} // namespace attnc::test

#endif
