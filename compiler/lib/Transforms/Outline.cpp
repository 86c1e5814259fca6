//===- Outline.cpp - A region's values as a hook function -----------------===//
#include "Outline.h"

#include "../CodeGen/HookVocabulary.h"
#include "attnc/compiler/Dialect/Attn/AttnDialect.h"

#include "mlir/Dialect/EmitC/IR/EmitC.h"
#include "llvm/ADT/SetVector.h"

using namespace mlir;

namespace attnc::compiler {

Type hookArgsType(MLIRContext *ctx) { return emitc::OpaqueType::get(ctx, "const AttncArgs &"); }

Type hookArgType(OpBuilder &b, StringRef kind) {
  if (kind == "s" || kind == "o")
    return b.getF32Type();
  if (kind == "dot")
    return b.getF64Type();
  return b.getI32Type();
}

FailureOr<func::FuncOp> outlineNeeded(OpBuilder &b, Region &region, StringRef name,
                                      ArrayRef<StringRef> argKinds, ValueRange roots,
                                      TypeRange results, IRMapping &map, OpBuilder &body) {
  SmallVector<Type> inputs{hookArgsType(b.getContext())};
  for (StringRef kind : argKinds)
    inputs.push_back(hookArgType(b, kind));
  auto func = b.create<func::FuncOp>(region.getLoc(), name, b.getFunctionType(inputs, results));
  Block *entry = func.addEntryBlock();
  body.setInsertionPointToStart(entry);
  Value args = entry->getArgument(0);
  auto argOf = [&](StringRef kind) -> Value {
    for (size_t i = 0; i < argKinds.size(); ++i)
      if (argKinds[i] == kind)
        return entry->getArgument(i + 1);
    return nullptr;
  };
  // The ops the roots depend on (regions hold one block of flat ops).
  llvm::SetVector<Operation *> needed;
  SmallVector<Value> work(roots.begin(), roots.end());
  while (!work.empty()) {
    Operation *def = work.pop_back_val().getDefiningOp();
    if (def && def->getBlock() == &region.front() && needed.insert(def))
      work.append(def->operand_begin(), def->operand_end());
  }
  auto call = [&](Location loc, StringRef callee, ValueRange operands) {
    return body.create<func::CallOp>(loc, callee, TypeRange{body.getI32Type()}, operands)
        .getResult(0);
  };
  for (Operation &op : region.front().without_terminator()) {
    if (!needed.contains(&op))
      continue;
    Value replacement;
    StringRef missing;
    if (auto index = dyn_cast<attn::IndexOp>(op)) {
      if (index.getKind() == "kv_h" && argOf("h"))
        replacement =
            body.create<emitc::CallOpaqueOp>(op.getLoc(), TypeRange{body.getI32Type()},
                                             hooks::attnc_kv_head, ValueRange{args, argOf("h")})
                .getResult(0);
      else
        replacement = argOf(index.getKind());
      missing = index.getKind();
    } else if (isa<attn::ScoreOp>(op)) {
      replacement = argOf("s");
      missing = "score";
    } else if (isa<attn::OutOp>(op)) {
      replacement = argOf("o");
      missing = "out";
    } else if (isa<attn::RouteDotOp>(op)) {
      replacement = argOf("dot");
      missing = "dot";
    } else if (auto blockOf = dyn_cast<attn::BlockOfOp>(op)) {
      replacement =
          call(op.getLoc(), hooks::attnc_route_block_of, {args, map.lookup(blockOf.getToken())});
    } else if (auto shape = dyn_cast<attn::ShapeOp>(op); shape && shape.getKind() == "num_blocks") {
      replacement = call(op.getLoc(), hooks::attnc_route_num_blocks, {args});
    }
    if (!missing.empty() && !replacement) {
      op.emitError("'") << missing << "' is not available in " << name;
      return failure();
    }
    if (replacement) {
      map.map(op.getResult(0), replacement);
      continue;
    }
    body.clone(op, map);
  }
  return func;
}

} // namespace attnc::compiler
