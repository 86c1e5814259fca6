//===- Differentiate.cpp - Derivative functions of the score and out regions ===//
//
// Reverse-mode differentiation of an attn.spec's score and out regions. For each region
// and each variable it reads (the incoming score or out value, and every f32 input read:
// a read site), adds a function that returns d(yielded value) / d(variable):
//
//   attnc_score_grad(a, s, b, h, q, k) -> f32             d score' / d s
//   attnc_score_grad_read<i>(a, s, b, h, q, k) -> f32     d score' / d (value of read site i)
//   attnc_score_read<i>_index<n>(a, b, h, q, k) -> i32     index n of read site i (unclamped)
//   attnc_out_grad(a, o, b, h, q, c), attnc_out_grad_read<i>(...), attnc_out_read<i>_index<n>
//
// Each body is the region's forward ops (cloned, the index variables mapped to arguments)
// followed by the adjoint sweep: the ops in reverse order, each adding its operands'
// adjoints from its result's (accumulated where a value fans out), seeded with 1 at the
// yielded value. Canonicalize and cse then drop what the requested adjoint does not need.
// Read-site functions carry `attnc.grad_of`, `attnc.site`, `attnc.slot`, `attnc.rank` and
// `attnc.in_range` (the read's clamp mask) for the kernels and the runtime
// (docs/compiler.md, "Derivatives").
//
// Only values of float type carry derivatives: Int and Bool values (indices, comparisons,
// casts from Int) are constants, so a select passes its adjoint to the branch it takes. An
// op that turns a differentiated value into a step function (floor, int()) or has no rule
// is an error at its location.
//
//===----------------------------------------------------------------------===//
#include "../CodeGen/HookVocabulary.h"
#include "Outline.h"
#include "attnc/compiler/Dialect/Attn/AttnDialect.h"
#include "attnc/compiler/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/EmitC/IR/EmitC.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Dominance.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/CSE.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"
#include "llvm/ADT/SetVector.h"
#include "llvm/ADT/TypeSwitch.h"

#include <cmath>

using namespace mlir;

namespace attnc::compiler {

#define GEN_PASS_DEF_DIFFERENTIATE
#include "attnc/compiler/Passes.h.inc"

namespace {

/// Ops whose adjoint rule `propagate` knows, and leaves (no float operand to propagate to).
bool hasRule(Operation *op) {
  return isa<arith::AddFOp, arith::SubFOp, arith::MulFOp, arith::DivFOp, arith::NegFOp,
             arith::RemFOp, arith::SelectOp, arith::MinNumFOp, arith::MaxNumFOp, arith::MinimumFOp,
             arith::MaximumFOp, arith::ExtFOp, arith::TruncFOp, math::AbsFOp, math::ExpOp,
             math::Exp2Op, math::LogOp, math::Log2Op, math::TanhOp, math::SqrtOp, math::PowFOp>(op);
}

/// The incoming value of a region and its float input reads: what is differentiated.
bool isVariable(Operation *op) {
  if (isa<attn::ScoreOp, attn::OutOp>(op))
    return true;
  auto read = dyn_cast<attn::InputReadOp>(op);
  return read && read.getType().isF32();
}

/// The ops the region's first yielded value depends on.
llvm::SetVector<Operation *> yieldCone(Region &region) {
  auto yield = cast<attn::YieldOp>(region.front().getTerminator());
  llvm::SetVector<Operation *> needed;
  SmallVector<Value> work{yield.getValues()[0]};
  while (!work.empty()) {
    Operation *def = work.pop_back_val().getDefiningOp();
    if (def && def->getBlock() == &region.front() && needed.insert(def))
      work.append(def->operand_begin(), def->operand_end());
  }
  return needed;
}

/// Positioned errors for ops on the derivative path without a rule: every op the yielded
/// value needs that has an operand depending on a variable must have a rule, or be a
/// comparison (its i1 result is a constant for the derivative).
LogicalResult checkDifferentiable(Region &region, StringRef regionName) {
  llvm::SetVector<Operation *> needed = yieldCone(region);
  llvm::DenseSet<Value> active;
  for (Operation &op : region.front().without_terminator()) {
    if (isVariable(&op)) {
      active.insert(op.getResult(0));
      continue;
    }
    bool anyActive = llvm::any_of(op.getOperands(), [&](Value v) { return active.contains(v); });
    if (!anyActive || !needed.contains(&op) || isa<arith::CmpFOp>(op))
      continue;
    // A select whose branches are constants only depends on its condition, a comparison.
    if (auto select = dyn_cast<arith::SelectOp>(op); select &&
                                                     !active.contains(select.getTrueValue()) &&
                                                     !active.contains(select.getFalseValue()))
      continue;
    if (!hasRule(&op)) {
      StringRef what = llvm::TypeSwitch<Operation *, StringRef>(&op)
                           .Case([](math::FloorOp) { return "floor"; })
                           .Case([](attn::ToIntOp) { return "int()"; })
                           .Default([](Operation *op) { return op->getName().getStringRef(); });
      return op.emitError("'")
             << what << "' in the " << regionName
             << " expression is not differentiable: its operand depends on the "
             << (regionName == "score" ? "score" : "output")
             << " or a float input, which the backward differentiates (a step function "
                "has no useful derivative; compute it from Int values or params)";
    }
    for (Value result : op.getResults())
      if (isa<FloatType>(result.getType()))
        active.insert(result);
  }
  return success();
}

/// The adjoint sweep over a function body holding a region's forward ops.
class AdjointBuilder {
public:
  AdjointBuilder(OpBuilder &b) : b(b) {}

  /// Adds `delta` to the adjoint of `v` (a null delta is a zero).
  void accumulate(Value v, Value delta) {
    if (!delta || !isa<FloatType>(v.getType()))
      return;
    Value &slot = adjoints[v];
    slot = slot ? b.createOrFold<arith::AddFOp>(loc, slot, delta) : delta;
  }
  Value adjoint(Value v) const { return adjoints.lookup(v); }

  /// Propagates the adjoint of `op`'s result to its operands.
  LogicalResult propagate(Operation *op) {
    if (op->getNumResults() != 1)
      return success();
    Value g = adjoint(op->getResult(0));
    if (!g)
      return success();
    loc = op->getLoc();
    Value r = op->getResult(0);
    Type t = r.getType();
    auto cst = [&](double v) -> Value {
      return b.create<arith::ConstantOp>(loc, t, b.getFloatAttr(t, v));
    };
    auto mul = [&](Value x, Value y) { return b.createOrFold<arith::MulFOp>(loc, x, y); };
    auto div = [&](Value x, Value y) { return b.createOrFold<arith::DivFOp>(loc, x, y); };
    auto sub = [&](Value x, Value y) { return b.createOrFold<arith::SubFOp>(loc, x, y); };
    auto neg = [&](Value x) { return b.createOrFold<arith::NegFOp>(loc, x); };
    auto select = [&](Value c, Value x, Value y) {
      return b.createOrFold<arith::SelectOp>(loc, c, x, y);
    };
    auto cmp = [&](arith::CmpFPredicate p, Value x, Value y) {
      return b.createOrFold<arith::CmpFOp>(loc, p, x, y);
    };
    // min/max: the operand the result is (ties to the first; the other when one is NaN).
    auto minMax = [&](Value x, Value y, arith::CmpFPredicate pick) {
      Value takeX =
          b.createOrFold<arith::OrIOp>(loc, cmp(pick, x, y), cmp(arith::CmpFPredicate::UNO, y, y));
      accumulate(x, select(takeX, g, cst(0)));
      accumulate(y, select(takeX, cst(0), g));
    };
    using P = arith::CmpFPredicate;
    return llvm::TypeSwitch<Operation *, LogicalResult>(op)
        .Case([&](arith::AddFOp o) {
          accumulate(o.getLhs(), g);
          accumulate(o.getRhs(), g);
          return success();
        })
        .Case([&](arith::SubFOp o) {
          accumulate(o.getLhs(), g);
          accumulate(o.getRhs(), neg(g));
          return success();
        })
        .Case([&](arith::MulFOp o) {
          accumulate(o.getLhs(), mul(g, o.getRhs()));
          accumulate(o.getRhs(), mul(g, o.getLhs()));
          return success();
        })
        .Case([&](arith::DivFOp o) {
          // r = x / y: dr/dx = 1 / y, dr/dy = -r / y.
          accumulate(o.getLhs(), div(g, o.getRhs()));
          accumulate(o.getRhs(), neg(mul(g, div(r, o.getRhs()))));
          return success();
        })
        .Case([&](arith::NegFOp o) {
          accumulate(o.getOperand(), neg(g));
          return success();
        })
        .Case([&](arith::RemFOp o) {
          // r = x - trunc(x / y) * y: dr/dx = 1, dr/dy = -trunc(x / y) = -(x - r) / y.
          accumulate(o.getLhs(), g);
          accumulate(o.getRhs(), neg(mul(g, div(sub(o.getLhs(), r), o.getRhs()))));
          return success();
        })
        .Case([&](arith::SelectOp o) {
          accumulate(o.getTrueValue(), select(o.getCondition(), g, cst(0)));
          accumulate(o.getFalseValue(), select(o.getCondition(), cst(0), g));
          return success();
        })
        .Case([&](arith::MinNumFOp o) {
          minMax(o.getLhs(), o.getRhs(), P::OLE);
          return success();
        })
        .Case([&](arith::MinimumFOp o) {
          minMax(o.getLhs(), o.getRhs(), P::OLE);
          return success();
        })
        .Case([&](arith::MaxNumFOp o) {
          minMax(o.getLhs(), o.getRhs(), P::OGE);
          return success();
        })
        .Case([&](arith::MaximumFOp o) {
          minMax(o.getLhs(), o.getRhs(), P::OGE);
          return success();
        })
        .Case([&](arith::ExtFOp o) {
          accumulate(o.getIn(), b.createOrFold<arith::TruncFOp>(loc, o.getIn().getType(), g));
          return success();
        })
        .Case([&](arith::TruncFOp o) {
          accumulate(o.getIn(), b.createOrFold<arith::ExtFOp>(loc, o.getIn().getType(), g));
          return success();
        })
        .Case([&](math::AbsFOp o) {
          // sign(x) * g, 0 at x = 0 (and NaN).
          Value x = o.getOperand();
          accumulate(
              x, select(cmp(P::OGT, x, cst(0)), g, select(cmp(P::OLT, x, cst(0)), neg(g), cst(0))));
          return success();
        })
        .Case([&](math::ExpOp o) {
          accumulate(o.getOperand(), mul(g, r));
          return success();
        })
        .Case([&](math::Exp2Op o) {
          accumulate(o.getOperand(), mul(g, mul(r, cst(M_LN2))));
          return success();
        })
        .Case([&](math::LogOp o) {
          accumulate(o.getOperand(), div(g, o.getOperand()));
          return success();
        })
        .Case([&](math::Log2Op o) {
          accumulate(o.getOperand(), div(g, mul(o.getOperand(), cst(M_LN2))));
          return success();
        })
        .Case([&](math::TanhOp o) {
          accumulate(o.getOperand(), mul(g, sub(cst(1), mul(r, r))));
          return success();
        })
        .Case([&](math::SqrtOp o) {
          accumulate(o.getOperand(), div(g, mul(cst(2), r)));
          return success();
        })
        .Case([&](math::PowFOp o) {
          // r = x^y: dr/dx = y x^(y-1), dr/dy = r log(x).
          Value x = o.getLhs(), y = o.getRhs();
          Value xPow = b.createOrFold<math::PowFOp>(loc, x, sub(y, cst(1)));
          accumulate(x, mul(g, mul(y, xPow)));
          accumulate(y, mul(g, mul(r, b.createOrFold<math::LogOp>(loc, x))));
          return success();
        })
        // Leaves, and ops that checkDifferentiable found independent of every variable
        // (floor of an Int, ...): constants.
        .Default([](Operation *) { return success(); });
  }

private:
  OpBuilder &b;
  Location loc = b.getUnknownLoc();
  DenseMap<Value, Value> adjoints;
};

/// One region to differentiate: its name prefix and its hook's index arguments.
struct RegionSpec {
  StringRef prefix;               // attnc_score, attnc_out
  StringRef incoming;             // "s", "o"
  StringRef regionName;           // for diagnostics
  SmallVector<StringRef> indices; // b h q k / b h q c
};

class RegionDifferentiator {
public:
  RegionDifferentiator(OpBuilder &b, Region &region, const RegionSpec &spec)
      : b(b), region(region), spec(spec) {}

  LogicalResult run() {
    if (failed(checkDifferentiable(region, spec.regionName)))
      return failure();
    SmallVector<attn::InputReadOp> sites;
    for (Operation *op : yieldCone(region))
      if (auto read = dyn_cast<attn::InputReadOp>(op); read && isVariable(read))
        sites.push_back(read);
    // Region order (yieldCone lists users first).
    llvm::sort(sites,
               [](attn::InputReadOp x, attn::InputReadOp y) { return x->isBeforeInBlock(y); });
    SmallVector<StringRef> withIncoming{spec.incoming};
    withIncoming.append(spec.indices.begin(), spec.indices.end());
    if (failed(gradFunction((spec.prefix + "_grad").str(), withIncoming, nullptr)))
      return failure();
    for (auto [i, read] : llvm::enumerate(sites)) {
      std::string name = (spec.prefix + "_grad_read" + Twine(i)).str();
      auto func = gradFunction(name, withIncoming, read);
      if (failed(func))
        return failure();
      Builder attrs(b.getContext());
      (*func)->setAttr("attnc.grad_of", attrs.getStringAttr(spec.regionName));
      (*func)->setAttr("attnc.site", attrs.getI32IntegerAttr(static_cast<int32_t>(i)));
      (*func)->setAttr("attnc.slot", attrs.getI32IntegerAttr(read.getSlot()));
      (*func)->setAttr("attnc.rank",
                       attrs.getI32IntegerAttr(static_cast<int32_t>(read.getIndices().size())));
      (*func)->setAttr("attnc.in_range", attrs.getI32IntegerAttr(
                                             static_cast<int32_t>(read.getInRange().value_or(0))));
      for (auto [n, index] : llvm::enumerate(read.getIndices()))
        if (failed(indexFunction((spec.prefix + "_read" + Twine(i) + "_index" + Twine(n)).str(),
                                 index)))
          return failure();
    }
    return success();
  }

private:
  OpBuilder &b;
  Region &region;
  const RegionSpec &spec;

  /// A function of (a, args...) whose body clones what `root` needs (Outline.h); `body` is
  /// left at the body's end.
  FailureOr<func::FuncOp> cloneFunction(StringRef name, ArrayRef<StringRef> argKinds, Value root,
                                        Type result, IRMapping &map, OpBuilder &body) {
    return outlineNeeded(b, region, name, argKinds, root, result, map, body);
  }

  /// Removes what the result does not need and folds it (the module's other functions are
  /// left alone: canonicalize on the module would change the forward hooks).
  LogicalResult simplify(func::FuncOp func) {
    MLIRContext *ctx = b.getContext();
    RewritePatternSet patterns(ctx);
    for (Dialect *dialect : ctx->getLoadedDialects())
      dialect->getCanonicalizationPatterns(patterns);
    for (RegisteredOperationName op : ctx->getRegisteredOperations())
      op.getCanonicalizationPatterns(patterns, ctx);
    if (failed(applyPatternsAndFoldGreedily(func, std::move(patterns))))
      return func.emitError("canonicalizing the derivative did not converge");
    IRRewriter rewriter(ctx);
    DominanceInfo dominance(func);
    eliminateCommonSubExpressions(rewriter, dominance, func);
    // attnc_kv_head calls are not known to be pure: drop those left unused.
    SmallVector<emitc::CallOpaqueOp> calls;
    func.walk([&](emitc::CallOpaqueOp call) { calls.push_back(call); });
    for (emitc::CallOpaqueOp call : calls)
      if (call.getCallee() == hooks::attnc_kv_head && call->use_empty())
        call.erase();
    return success();
  }

  /// d(yielded) / d(`variable`), or d(yielded) / d(incoming) when `variable` is null.
  FailureOr<func::FuncOp> gradFunction(const std::string &name, ArrayRef<StringRef> argKinds,
                                       Operation *variable) {
    auto yield = cast<attn::YieldOp>(region.front().getTerminator());
    Value yielded = yield.getValues()[0];
    IRMapping map;
    OpBuilder body(b.getContext());
    FailureOr<func::FuncOp> cloned =
        cloneFunction(name, argKinds, yielded, b.getF32Type(), map, body);
    if (failed(cloned))
      return failure();
    func::FuncOp func = *cloned;
    SmallVector<Operation *> forward;
    for (Operation &op : func.getBody().front())
      forward.push_back(&op);
    Value target = variable ? map.lookupOrDefault(variable->getResult(0))
                            : func.getArgument(1); // the incoming value
    AdjointBuilder adjoints(body);
    adjoints.accumulate(map.lookupOrDefault(yielded),
                        body.create<arith::ConstantOp>(yield.getLoc(), body.getF32FloatAttr(1)));
    for (Operation *op : llvm::reverse(forward))
      if (failed(adjoints.propagate(op)))
        return failure();
    Value result = adjoints.adjoint(target);
    if (!result)
      result = body.create<arith::ConstantOp>(yield.getLoc(), body.getF32FloatAttr(0));
    body.create<func::ReturnOp>(yield.getLoc(), result);
    if (failed(simplify(func)))
      return failure();
    return func;
  }

  LogicalResult indexFunction(const std::string &name, Value index) {
    IRMapping map;
    OpBuilder body(b.getContext());
    FailureOr<func::FuncOp> func =
        cloneFunction(name, spec.indices, index, b.getI32Type(), map, body);
    if (failed(func))
      return failure();
    body.create<func::ReturnOp>(region.getLoc(), map.lookupOrDefault(index));
    (void)simplify(*func);
    return success();
  }
};

struct DifferentiatePass : impl::DifferentiateBase<DifferentiatePass> {
  void runOnOperation() final {
    ModuleOp module = getOperation();
    auto specs = llvm::to_vector(module.getOps<attn::SpecOp>());
    if (specs.size() > 1) {
      specs[1].emitOpError("attn-differentiate expects one attn.spec per module");
      return signalPassFailure();
    }
    for (attn::SpecOp spec : specs) {
      OpBuilder b(spec.getContext());
      b.setInsertionPointAfter(spec);
      RegionSpec score{"attnc_score", "s", "score", {"b", "h", "q", "k"}};
      RegionSpec out{"attnc_out", "o", "out", {"b", "h", "q", "c"}};
      if (failed(RegionDifferentiator(b, spec.getScore(), score).run()) ||
          failed(RegionDifferentiator(b, spec.getOut(), out).run()))
        return signalPassFailure();
    }
  }
};

} // namespace

} // namespace attnc::compiler
