//===- SimplifyIntRanges.cpp - Cheaper integer arithmetic from value ranges ===//
//
// The mask and score hooks run once per element of a tile, so their integer arithmetic is
// on the kernels' critical path (natten2d_17's mask was ~370 of the ~440 instructions of a
// masked tile's element-wise phase). Integer range analysis (upstream's
// IntegerRangeAnalysis, seeded by attn.index and attn.shape being non-negative) proves
// two rewrites exact:
//
//   arith.divsi / arith.remsi %x, %c   ->  arith.divui / arith.remui
//       when %x >= 0 and %c > 0: a shift and a mask for a power of two (layout
//       coordinates) instead of the signed rounding fix-ups;
//   arith.cmpi sle (math.absi %x), C   ->  arith.cmpi ule (%x + C), 2C
//       (and slt, sgt, sge alike) when %x cannot be INT_MIN, 0 <= C <= INT_MAX / 2 and the
//       compare is the absolute value's only use:
//       one add and one unsigned compare instead of an absolute value and a compare. For
//       %x in [-C, C], %x + C lies in [0, 2C]; below, it wraps past 2^31; above, it
//       exceeds 2C.
//
// It runs after the classifier and the range passes (attn-classify-blocks, attn-kv-ranges,
// attn-q-ranges), which read the mask's signed form: their interval arithmetic models
// signed operations only.
//
//===----------------------------------------------------------------------===//
#include "attnc/compiler/Dialect/Attn/AttnDialect.h"
#include "attnc/compiler/Passes.h"

#include "mlir/Analysis/DataFlow/DeadCodeAnalysis.h"
#include "mlir/Analysis/DataFlow/IntegerRangeAnalysis.h"
#include "mlir/Analysis/DataFlowFramework.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Matchers.h"
#include "llvm/ADT/STLExtras.h"

#include <optional>

using namespace mlir;

namespace attnc::compiler {

#define GEN_PASS_DEF_SIMPLIFYINTRANGES
#include "attnc/compiler/Passes.h.inc"

namespace {

/// The proven range of `v`, if the analysis reached it.
std::optional<ConstantIntRanges> rangeOf(DataFlowSolver &solver, Value v) {
  const auto *lattice = solver.lookupState<dataflow::IntegerValueRangeLattice>(v);
  if (!lattice || lattice->getValue().isUninitialized())
    return std::nullopt;
  return lattice->getValue().getValue();
}

bool provenNonNegative(DataFlowSolver &solver, Value v) {
  std::optional<ConstantIntRanges> range = rangeOf(solver, v);
  return range && range->smin().isNonNegative();
}

/// Signed division and remainder of non-negative values by a positive constant.
void makeDivisionUnsigned(Operation *op, DataFlowSolver &solver) {
  APInt divisor;
  if (!matchPattern(op->getOperand(1), m_ConstantInt(&divisor)) || !divisor.isStrictlyPositive() ||
      !provenNonNegative(solver, op->getOperand(0)))
    return;
  OpBuilder b(op);
  Value lhs = op->getOperand(0), rhs = op->getOperand(1), result;
  if (isa<arith::DivSIOp>(op))
    result = b.create<arith::DivUIOp>(op->getLoc(), lhs, rhs);
  else
    result = b.create<arith::RemUIOp>(op->getLoc(), lhs, rhs);
  op->getResult(0).replaceAllUsesWith(result);
  op->erase();
}

/// `abs(x) <pred> C` as one unsigned range test of x + C.
void makeAbsCompareARangeTest(arith::CmpIOp cmp, DataFlowSolver &solver) {
  auto abs = cmp.getLhs().getDefiningOp<math::AbsIOp>();
  APInt bound;
  // Only where the compare is the absolute value's one use: otherwise the value stays and
  // the test adds an instruction instead of removing one.
  if (!abs || !abs->hasOneUse() || !matchPattern(cmp.getRhs(), m_ConstantInt(&bound)) ||
      !cmp.getLhs().getType().isInteger(32))
    return;
  // As abs(x) <= C (`inside`) or abs(x) > C: < and >= compare with C - 1.
  using Predicate = arith::CmpIPredicate;
  const Predicate predicate = cmp.getPredicate();
  if (!llvm::is_contained({Predicate::sle, Predicate::slt, Predicate::sgt, Predicate::sge},
                          predicate))
    return;
  const bool inside = predicate == Predicate::sle || predicate == Predicate::slt;
  const int64_t c =
      bound.getSExtValue() - (predicate == Predicate::slt || predicate == Predicate::sge);
  if (c < 0 || c > std::numeric_limits<int32_t>::max() / 2)
    return;
  Value x = abs.getOperand();
  std::optional<ConstantIntRanges> range = rangeOf(solver, x);
  if (!range || range->smin().isMinSignedValue())
    return;
  OpBuilder b(cmp);
  Location loc = cmp.getLoc();
  auto constant = [&](int64_t v) { return b.create<arith::ConstantIntOp>(loc, v, 32); };
  Value shifted = b.create<arith::AddIOp>(loc, x, constant(c));
  Value test =
      b.create<arith::CmpIOp>(loc, inside ? arith::CmpIPredicate::ule : arith::CmpIPredicate::ugt,
                              shifted, constant(2 * c));
  cmp.getResult().replaceAllUsesWith(test);
  cmp.erase();
  abs->erase();
}

struct SimplifyIntRangesPass : impl::SimplifyIntRangesBase<SimplifyIntRangesPass> {
  void runOnOperation() final {
    getOperation().walk([&](attn::SpecOp spec) {
      DataFlowSolver solver;
      solver.load<dataflow::DeadCodeAnalysis>();
      solver.load<dataflow::IntegerRangeAnalysis>();
      if (failed(solver.initializeAndRun(spec))) {
        spec.emitError("integer range analysis failed");
        signalPassFailure();
        return;
      }
      // Collected first: the rewrites erase ops, and the solver's states stay those of the
      // original values (each rewrite only reads the ranges of values it keeps).
      SmallVector<Operation *> divisions;
      SmallVector<arith::CmpIOp> compares;
      spec.walk([&](Operation *op) {
        if (isa<arith::DivSIOp, arith::RemSIOp>(op))
          divisions.push_back(op);
        else if (auto cmp = dyn_cast<arith::CmpIOp>(op))
          compares.push_back(cmp);
      });
      for (arith::CmpIOp cmp : compares)
        makeAbsCompareARangeTest(cmp, solver);
      for (Operation *op : divisions)
        makeDivisionUnsigned(op, solver);
    });
  }
};

} // namespace

} // namespace attnc::compiler
