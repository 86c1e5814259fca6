//===- FactorMask.cpp - Split the mask into two factors -------------------===//
//
// Rewrites the mask region's `attn.yield %keep` into
//   attn.yield %keep, %index, %data
// when %keep is a conjunction (a tree of arith.andi) of at least two distinct conjuncts:
// %data holds those that read an input tensor and %index the others (arithmetic on indices,
// shapes and params); when none reads an input, %index is the first conjunct and %data the
// rest. %keep == %index && %data.
//
// attn-classify-blocks then proves each factor separately per tile, and a PARTIAL tile
// whose factor is proven true evaluates only the other one: for document_causal, a
// diagonal tile inside one document needs the causal test only, and a tile below the
// diagonal across a document boundary needs the document test only; for a neighbourhood
// window, a tile of whole image rows needs the column test only. Masks that do not split (a
// single conjunct, a disjunction, conjuncts that all read inputs) keep their single yield
// value.
//
//===----------------------------------------------------------------------===//
#include "attnc/compiler/Dialect/Attn/AttnDialect.h"
#include "attnc/compiler/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/DenseSet.h"

using namespace mlir;

namespace attnc::compiler {

#define GEN_PASS_DEF_FACTORMASK
#include "attnc/compiler/Passes.h.inc"

namespace {

/// The distinct leaves of the arith.andi DAG rooted at `v`, left to right. Each value is
/// visited once: lets that reuse a conjunction make the tree exponentially larger than the
/// DAG, and a repeated conjunct changes nothing (x && x is x).
void collectConjuncts(Value v, SmallVectorImpl<Value> &out, llvm::DenseSet<Value> &seen) {
  if (!seen.insert(v).second)
    return;
  if (auto andOp = v.getDefiningOp<arith::AndIOp>()) {
    collectConjuncts(andOp.getLhs(), out, seen);
    collectConjuncts(andOp.getRhs(), out, seen);
    return;
  }
  out.push_back(v);
}

/// Whether `v` depends on an attn.input_read (regions hold one block of flat ops).
bool readsInput(Value v, llvm::DenseMap<Value, bool> &memo) {
  if (auto it = memo.find(v); it != memo.end())
    return it->second;
  Operation *def = v.getDefiningOp();
  bool reads = false;
  if (def) {
    reads = isa<attn::InputReadOp>(def);
    for (Value operand : def->getOperands())
      if (!reads)
        reads = readsInput(operand, memo);
  }
  memo[v] = reads;
  return reads;
}

struct FactorMaskPass : impl::FactorMaskBase<FactorMaskPass> {
  void runOnOperation() final {
    getOperation().walk([&](attn::SpecOp spec) {
      auto yield = cast<attn::YieldOp>(spec.getMask().front().getTerminator());
      if (yield.getValues().size() != 1)
        return; // already factored
      SmallVector<Value> conjuncts;
      llvm::DenseSet<Value> seen;
      collectConjuncts(yield.getValues()[0], conjuncts, seen);
      llvm::DenseMap<Value, bool> memo;
      SmallVector<Value> index, data;
      for (Value c : conjuncts)
        (readsInput(c, memo) ? data : index).push_back(c);
      if (data.empty() && index.size() >= 2) { // no input read: the first conjunct and the rest
        data.assign(std::next(index.begin()), index.end());
        index.resize(1);
      }
      if (index.empty() || data.empty())
        return;
      OpBuilder b(yield);
      auto conjoin = [&](ArrayRef<Value> values) {
        Value all = values.front();
        for (Value v : values.drop_front())
          all = b.create<arith::AndIOp>(yield.getLoc(), all, v);
        return all;
      };
      Value indexFactor = conjoin(index), dataFactor = conjoin(data);
      b.create<attn::YieldOp>(yield.getLoc(),
                              ValueRange{yield.getValues()[0], indexFactor, dataFactor});
      yield.erase();
    });
  }
};

} // namespace

} // namespace attnc::compiler
