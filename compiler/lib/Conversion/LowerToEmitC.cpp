//===- LowerToEmitC.cpp - attn.spec regions to EmitC hook functions -------===//
//
// 1. Outlines the mask / score / out regions of the attn.spec into
//      attnc_mask(a, b, h, q, k) -> i1
//      attnc_score(a, s, b, h, q, k) -> f32
//      attnc_out(a, o, b, h, q, c) -> f32
//    (KernelArgs.h signatures; `a` is `const AttncArgs &`). The route region has no
//    hook in the contract yet and is dropped here (see docs/compiler.md).
// 2. Rewrites attn ops, math ops and the arith ops ArithToEmitC lacks into
//    emitc.call_opaque of CUDA math functions (expf, tanhf, ...) and prelude helpers
//    (attnc_read_*, attnc_iparam, attnc_f2i, ...).
// 3. Runs ArithToEmitC + FuncToEmitC and marks every function
//    `static __device__ __forceinline__`.
//
//===----------------------------------------------------------------------===//
#include "attnc/compiler/Dialect/Attn/AttnDialect.h"
#include "attnc/compiler/Passes.h"

#include "mlir/Conversion/ArithToEmitC/ArithToEmitC.h"
#include "mlir/Conversion/FuncToEmitC/FuncToEmitC.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/EmitC/IR/EmitC.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Transforms/DialectConversion.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;

namespace attnc::compiler {
namespace {

Type argsType(MLIRContext *ctx) { return emitc::OpaqueType::get(ctx, "const AttncArgs &"); }

/// Clones one region body into a new func.func, mapping the built-in index variables
/// to function arguments named by `argKinds` ("s" and "o" are the score/out values).
LogicalResult outline(OpBuilder &b, Region &region, StringRef name, ArrayRef<StringRef> argKinds,
                      Type resultType) {
  MLIRContext *ctx = b.getContext();
  SmallVector<Type> inputs{argsType(ctx)};
  for (StringRef kind : argKinds)
    inputs.push_back(kind == "s" || kind == "o" ? Type(b.getF32Type()) : b.getI32Type());
  auto func =
      b.create<func::FuncOp>(region.getLoc(), name, b.getFunctionType(inputs, {resultType}));
  Block *entry = func.addEntryBlock();
  OpBuilder body = OpBuilder::atBlockBegin(entry);
  auto argOf = [&](StringRef kind) -> Value {
    for (size_t i = 0; i < argKinds.size(); ++i)
      if (argKinds[i] == kind)
        return entry->getArgument(i + 1);
    return nullptr;
  };
  IRMapping map;
  for (Operation &op : region.front()) {
    if (auto yield = dyn_cast<attn::YieldOp>(op)) {
      body.create<func::ReturnOp>(yield.getLoc(), map.lookup(yield.getValues()[0]));
      break;
    }
    Value replacement;
    if (auto index = dyn_cast<attn::IndexOp>(op)) {
      if (index.getKind() == "kv_h")
        replacement = body.create<emitc::CallOpaqueOp>(
                              op.getLoc(), TypeRange{body.getI32Type()}, "attnc_kv_head",
                              ValueRange{entry->getArgument(0), argOf("h")})
                          .getResult(0);
      else
        replacement = argOf(index.getKind());
      if (!replacement)
        return op.emitError("index '") << index.getKind() << "' is not available in " << name;
    } else if (isa<attn::ScoreOp>(op)) {
      replacement = argOf("s");
    } else if (isa<attn::OutOp>(op)) {
      replacement = argOf("o");
    }
    if ((isa<attn::ScoreOp, attn::OutOp>(op)) && !replacement)
      return op.emitError("not available in ") << name;
    if (replacement) {
      map.map(op.getResult(0), replacement);
      continue;
    }
    body.clone(op, map);
  }
  return success();
}

/// attn, math and leftover arith ops -> emitc.call_opaque.
LogicalResult lowerToCalls(func::FuncOp func) {
  Value args = func.getArgument(0);
  SmallVector<Operation *> ops;
  func.walk([&](Operation *op) { ops.push_back(op); });
  for (Operation *op : ops) {
    OpBuilder b(op);
    auto replace = [&](StringRef callee, ValueRange operands, ArrayAttr attrs = nullptr) {
      auto call = b.create<emitc::CallOpaqueOp>(op->getLoc(), op->getResultTypes(), callee,
                                                operands, attrs);
      op->replaceAllUsesWith(call.getResults());
      op->erase();
    };
    StringRef mathName = llvm::TypeSwitch<Operation *, StringRef>(op)
                             .Case([](math::ExpOp) { return "expf"; })
                             .Case([](math::Exp2Op) { return "exp2f"; })
                             .Case([](math::LogOp) { return "logf"; })
                             .Case([](math::Log2Op) { return "log2f"; })
                             .Case([](math::TanhOp) { return "tanhf"; })
                             .Case([](math::SqrtOp) { return "sqrtf"; })
                             .Case([](math::FloorOp) { return "floorf"; })
                             .Case([](math::AbsFOp) { return "fabsf"; })
                             .Case([](math::AbsIOp) { return "attnc_iabs"; })
                             .Case([](math::CountLeadingZerosOp) { return "attnc_clz"; })
                             .Case([](arith::MinSIOp) { return "attnc_imin"; })
                             .Case([](arith::MaxSIOp) { return "attnc_imax"; })
                             .Case([](arith::MinNumFOp) { return "fminf"; })
                             .Case([](arith::MaxNumFOp) { return "fmaxf"; })
                             .Case([](arith::RemFOp) { return "fmodf"; })
                             .Case([](attn::ToIntOp) { return "attnc_f2i"; })
                             .Default([](Operation *) { return StringRef(); });
    if (!mathName.empty()) {
      replace(mathName, op->getOperands());
      continue;
    }
    if (auto shape = dyn_cast<attn::ShapeOp>(op)) {
      if (shape.getKind() == "num_blocks")
        return op->emitError("num_blocks is only available in the route region");
      replace(("attnc_" + shape.getKind()).str(), args);
    } else if (auto param = dyn_cast<attn::ParamOp>(op)) {
      Type t = param.getType();
      StringRef callee = t.isF32()        ? "attnc_fparam"
                         : t.isInteger(1) ? "attnc_bparam"
                                          : "attnc_iparam";
      replace(callee, args,
              b.getArrayAttr({b.getIndexAttr(0), b.getI32IntegerAttr(param.getSlot())}));
    } else if (auto read = dyn_cast<attn::InputReadOp>(op)) {
      SmallVector<Value> operands{args};
      SmallVector<Attribute> attrs{b.getIndexAttr(0), b.getI32IntegerAttr(read.getSlot())};
      for (Value index : read.getIndices()) {
        attrs.push_back(b.getIndexAttr(operands.size()));
        operands.push_back(index);
      }
      std::string callee =
          ("attnc_read_" + read.getElem() + "_" + Twine(read.getIndices().size())).str();
      replace(callee, operands, b.getArrayAttr(attrs));
    } else if (isa<attn::BlockOfOp, attn::RouteDotOp, attn::CoordOp>(op)) {
      return op->emitError("cannot be lowered to a hook (run attn-lower-coords; "
                           "route ops have no hook yet)");
    }
  }
  return success();
}

struct LowerToEmitCPass : PassWrapper<LowerToEmitCPass, OperationPass<ModuleOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(LowerToEmitCPass)
  StringRef getArgument() const final { return "attn-to-emitc"; }
  StringRef getDescription() const final {
    return "Outline attn.spec regions into hook functions and lower to EmitC";
  }
  void getDependentDialects(DialectRegistry &registry) const final {
    registry.insert<arith::ArithDialect, func::FuncDialect, emitc::EmitCDialect>();
  }
  void runOnOperation() final {
    ModuleOp module = getOperation();
    MLIRContext *ctx = &getContext();
    for (attn::SpecOp spec : llvm::make_early_inc_range(module.getOps<attn::SpecOp>())) {
      OpBuilder b(spec);
      if (failed(outline(b, spec.getMask(), "attnc_mask", {"b", "h", "q", "k"}, b.getI1Type())) ||
          failed(outline(b, spec.getScore(), "attnc_score", {"s", "b", "h", "q", "k"},
                         b.getF32Type())) ||
          failed(outline(b, spec.getOut(), "attnc_out", {"o", "b", "h", "q", "c"}, b.getF32Type())))
        return signalPassFailure();
      spec.erase();
    }
    for (auto func : module.getOps<func::FuncOp>())
      if (failed(lowerToCalls(func)))
        return signalPassFailure();

    TypeConverter types;
    types.addConversion([](Type t) { return t; });
    RewritePatternSet patterns(ctx);
    populateArithToEmitCPatterns(types, patterns);
    populateFuncToEmitCPatterns(patterns);
    ConversionTarget target(*ctx);
    target.addLegalDialect<emitc::EmitCDialect>();
    target.addLegalOp<ModuleOp>();
    target.addIllegalDialect<arith::ArithDialect, func::FuncDialect, math::MathDialect,
                             attn::AttnDialect>();
    if (failed(applyFullConversion(module, target, std::move(patterns))))
      return signalPassFailure();

    Builder b(ctx);
    ArrayAttr specifiers = b.getStrArrayAttr({"static", "__device__", "__forceinline__"});
    for (auto func : module.getOps<emitc::FuncOp>())
      func.setSpecifiersAttr(specifiers);
  }
};

} // namespace

std::unique_ptr<Pass> createLowerToEmitCPass() { return std::make_unique<LowerToEmitCPass>(); }

} // namespace attnc::compiler
