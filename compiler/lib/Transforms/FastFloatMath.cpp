//===- FastFloatMath.cpp - The prelude's fast float functions in the hooks ===//
//
// Float math on the GPU is fp32 with approximate functions (docs/compiler.md): the CUDA
// math calls become the prelude's fast helpers (MUFU-based __expf, tanh.approx, ...),
// division by a constant becomes a multiply by its reciprocal and other divisions
// __fdividef. On the host the helpers are libm, so the tests see the same code. The
// routing functions (attnc_route_*) keep exact math: their gates decide selections.
//
//===----------------------------------------------------------------------===//
#include "../CodeGen/HookVocabulary.h"
#include "attnc/compiler/Passes.h"

#include "mlir/Dialect/EmitC/IR/EmitC.h"
#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/StringSwitch.h"

#include <cmath>

using namespace mlir;

namespace attnc::compiler {

#define GEN_PASS_DEF_FASTFLOATMATH
#include "attnc/compiler/Passes.h.inc"

namespace {

void useFastFloatMath(emitc::FuncOp func) {
  func.walk([](emitc::CallOpaqueOp call) {
    StringRef fast = llvm::StringSwitch<StringRef>(call.getCallee())
                         .Case(hooks::expf, hooks::attnc_fexp)
                         .Case(hooks::exp2f, hooks::attnc_fexp2)
                         .Case(hooks::logf, hooks::attnc_flog)
                         .Case(hooks::log2f, hooks::attnc_flog2)
                         .Case(hooks::tanhf, hooks::attnc_ftanh)
                         .Default("");
    if (!fast.empty())
      call.setCallee(fast);
  });
  SmallVector<emitc::DivOp> divisions;
  func.walk([&](emitc::DivOp div) {
    if (div.getType().isF32())
      divisions.push_back(div);
  });
  for (emitc::DivOp div : divisions) {
    OpBuilder b(div);
    Value lhs = div.getOperand(0), rhs = div.getOperand(1);
    Operation *result = nullptr;
    auto constant = rhs.getDefiningOp<emitc::ConstantOp>();
    auto value = constant ? dyn_cast<FloatAttr>(constant.getValue()) : FloatAttr();
    double divisor = value ? value.getValueAsDouble() : 0.0;
    if (value && divisor != 0.0 && std::isfinite(divisor) && std::isfinite(float(1.0 / divisor))) {
      auto reciprocal = b.create<emitc::ConstantOp>(div.getLoc(), div.getType(),
                                                    b.getF32FloatAttr(float(1.0 / divisor)));
      result = b.create<emitc::MulOp>(div.getLoc(), div.getType(), lhs, reciprocal);
    } else {
      result = b.create<emitc::CallOpaqueOp>(div.getLoc(), TypeRange{div.getType()},
                                             hooks::attnc_fdiv, ValueRange{lhs, rhs});
    }
    div->replaceAllUsesWith(result->getResults());
    div->erase();
  }
}

struct FastFloatMathPass : impl::FastFloatMathBase<FastFloatMathPass> {
  void runOnOperation() final {
    for (auto func : getOperation().getOps<emitc::FuncOp>())
      if (!func.getName().starts_with("attnc_route_"))
        useFastFloatMath(func);
  }
};

} // namespace

} // namespace attnc::compiler
