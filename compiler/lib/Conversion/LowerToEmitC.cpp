//===- LowerToEmitC.cpp - attn.spec regions to EmitC hook functions -------===//
//
// 1. Outlines the mask / score / out regions of the attn.spec into
//      attnc_mask(a, b, h, q, k) -> i1
//      attnc_score(a, s, b, h, q, k) -> f32
//      attnc_out(a, o, b, h, q, c) -> f32
//    and, for a mask factored by attn-factor-mask, its factors into
//      attnc_mask_index(a, b, h, q, k) -> i1, attnc_mask_data(a, b, h, q, k) -> i1
//    (KernelArgs.h signatures; `a` is `const AttncArgs &`), and, when there is a
//    route, each value the route region yields into
//      attnc_route_gate(a, b, h, q, blk, dot: f64) -> f64
//      attnc_route_always(a, b, h, q, blk) -> i1
//      attnc_route_never(a, b, h, q, blk) -> i1
//    where attn.route_dot is the `dot` argument, attn.block_of calls
//    @attnc_route_block_of and num_blocks @attnc_route_num_blocks (both added by
//    attn-route-geometry). Each function gets only the ops its result needs.
// 2. Rewrites attn ops, math ops and the arith ops ArithToEmitC lacks into
//    emitc.call_opaque of CUDA math functions (expf, tanhf, ... for f32; exp,
//    tanh, ... for the route's f64) and prelude helpers (attnc_read_*,
//    attnc_iparam, attnc_f2i, attnc_d2i, ...; f64 + - * become attnc_dadd/dsub/dmul,
//    which the GPU never contracts into FMAs); arith.extf becomes emitc.cast.
// 3. Runs ArithToEmitC + FuncToEmitC and marks every function
//    `static __device__ __forceinline__`.
// 4. Rewrites non-finite float constants (inf, -inf, NaN) into prelude calls on their
//    bit patterns (attnc_bits_float(0xff800000u), attnc_bits_double(...ull)): the C++
//    emitter prints them as INFINITY and NAN, which NVRTC (no <cmath>) does not define.
//
//===----------------------------------------------------------------------===//
#include "../CodeGen/HookVocabulary.h"
#include "../Transforms/Outline.h"
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
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;

namespace attnc::compiler {

#define GEN_PASS_DEF_LOWERTOEMITC
#include "attnc/compiler/Passes.h.inc"

namespace {

/// Outlines value `result` of the region's attn.yield into func `name` (Outline.h).
LogicalResult outline(OpBuilder &b, Region &region, StringRef name, ArrayRef<StringRef> argKinds,
                      unsigned result = 0) {
  auto yield = cast<attn::YieldOp>(region.front().getTerminator());
  if (result >= yield.getValues().size())
    return yield.emitError("no value ") << result << " to outline into " << name;
  Value yielded = yield.getValues()[result];
  IRMapping map;
  OpBuilder body(b.getContext());
  if (failed(outlineNeeded(b, region, name, argKinds, yielded, yielded.getType(), map, body)))
    return failure();
  body.create<func::ReturnOp>(yield.getLoc(), map.lookupOrDefault(yielded));
  return success();
}

/// The routing functions call these; attn-route-geometry adds them.
LogicalResult checkRouteGeometry(ModuleOp module, attn::SpecOp spec) {
  for (StringRef name : {hooks::attnc_route_block_of, hooks::attnc_route_num_blocks})
    if (!module.lookupSymbol<func::FuncOp>(name))
      return spec.emitOpError("has a route but no @")
             << name << " (run attn-route-geometry before attn-to-emitc)";
  return success();
}

/// attn, math and leftover arith ops -> emitc.call_opaque.
LogicalResult lowerToCalls(func::FuncOp func) {
  Value args = func.getArgument(0);
  SmallVector<Operation *> ops;
  func.walk([&](Operation *op) { ops.push_back(op); });
  for (Operation *op : ops) {
    OpBuilder b(op);
    auto replace = [&](StringRef callee, ValueRange operands, ArrayAttr attrs = nullptr,
                       ArrayAttr templateArgs = nullptr) {
      auto call = b.create<emitc::CallOpaqueOp>(op->getLoc(), op->getResultTypes(), callee,
                                                operands, attrs, templateArgs);
      op->replaceAllUsesWith(call.getResults());
      op->erase();
    };
    // f32 (mask, score, out) or f64 (route) flavour of a float function.
    bool f64 = op->getNumOperands() > 0 && op->getOperand(0).getType().isF64();
    auto pick = [f64](StringRef f32Name, StringRef f64Name) { return f64 ? f64Name : f32Name; };
    StringRef mathName =
        llvm::TypeSwitch<Operation *, StringRef>(op)
            .Case([&](math::ExpOp) { return pick(hooks::expf, hooks::exp); })
            .Case([&](math::Exp2Op) { return pick(hooks::exp2f, hooks::exp2); })
            .Case([&](math::LogOp) { return pick(hooks::logf, hooks::log); })
            .Case([&](math::Log2Op) { return pick(hooks::log2f, hooks::log2); })
            .Case([&](math::TanhOp) { return pick(hooks::tanhf, hooks::tanh); })
            .Case([&](math::SqrtOp) { return pick(hooks::sqrtf, hooks::sqrt); })
            .Case([&](math::FloorOp) { return pick(hooks::floorf, hooks::floor); })
            .Case([&](math::AbsFOp) { return pick(hooks::fabsf, hooks::fabs); })
            .Case([](math::AbsIOp) { return hooks::attnc_iabs; })
            .Case([](math::CountLeadingZerosOp) { return hooks::attnc_clz; })
            .Case([](arith::MinSIOp) { return hooks::attnc_imin; })
            .Case([](arith::MaxSIOp) { return hooks::attnc_imax; })
            .Case([&](arith::MinNumFOp) { return pick(hooks::fminf, hooks::fmin); })
            .Case([&](arith::MaxNumFOp) { return pick(hooks::fmaxf, hooks::fmax); })
            .Case([&](arith::RemFOp) { return pick(hooks::fmodf, hooks::fmod); })
            .Case([&](attn::ToIntOp) { return pick(hooks::attnc_f2i, hooks::attnc_d2i); })
            // f64 + - * never contract into an FMA on the GPU (prelude).
            .Case([&](arith::AddFOp) { return pick("", hooks::attnc_dadd); })
            .Case([&](arith::SubFOp) { return pick("", hooks::attnc_dsub); })
            .Case([&](arith::MulFOp) { return pick("", hooks::attnc_dmul); })
            .Default([](Operation *) { return StringRef(); });
    if (!mathName.empty()) {
      replace(mathName, op->getOperands());
      continue;
    }
    if (auto ext = dyn_cast<arith::ExtFOp>(op)) {
      // ArithToEmitC (LLVM 19) has no extf; f32 -> f64 is exact.
      auto cast = b.create<emitc::CastOp>(ext.getLoc(), ext.getType(), ext.getIn());
      ext.replaceAllUsesWith(cast.getResult());
      ext.erase();
      continue;
    }
    if (auto shape = dyn_cast<attn::ShapeOp>(op)) {
      if (shape.getKind() == "num_blocks")
        return op->emitError("num_blocks is only available in the route region "
                             "(outlined as a call of @attnc_route_num_blocks)");
      replace(hooks::shape(shape.getKind()), args);
    } else if (auto param = dyn_cast<attn::ParamOp>(op)) {
      Type t = param.getType();
      StringRef callee = t.isF32()        ? hooks::attnc_fparam
                         : t.isInteger(1) ? hooks::attnc_bparam
                                          : hooks::attnc_iparam;
      replace(callee, args,
              b.getArrayAttr({b.getIndexAttr(0), b.getI32IntegerAttr(param.getSlot())}));
    } else if (auto read = dyn_cast<attn::InputReadOp>(op)) {
      SmallVector<Value> operands{args};
      SmallVector<Attribute> attrs{b.getIndexAttr(0), b.getI32IntegerAttr(read.getSlot())};
      for (Value index : read.getIndices()) {
        attrs.push_back(b.getIndexAttr(operands.size()));
        operands.push_back(index);
      }
      StringRef callee = hooks::reader(read.getElem(), read.getIndices().size());
      // Indices known in range skip their clamps: attnc_read_*<in_range>.
      ArrayAttr templateArgs;
      if (std::optional<uint32_t> inRange = read.getInRange(); inRange && *inRange != 0)
        templateArgs = b.getArrayAttr({b.getI32IntegerAttr(static_cast<int32_t>(*inRange))});
      replace(callee, operands, b.getArrayAttr(attrs), templateArgs);
    } else if (isa<attn::BlockOfOp, attn::RouteDotOp, attn::CoordOp>(op)) {
      return op->emitError("cannot be lowered to a hook (run attn-lower-coords; "
                           "route ops are only available in the route region)");
    }
  }
  return success();
}

/// inf, -inf and NaN constants -> attnc_bits_float / attnc_bits_double of their bits (the
/// NaN payload and every sign kept); both fold to an immediate on the GPU.
void lowerNonFiniteConstants(ModuleOp module) {
  SmallVector<emitc::ConstantOp> constants;
  module.walk([&](emitc::ConstantOp constant) {
    auto value = dyn_cast<FloatAttr>(constant.getValue());
    if (value && !value.getValue().isFinite() &&
        (constant.getType().isF32() || constant.getType().isF64()))
      constants.push_back(constant);
  });
  for (emitc::ConstantOp constant : constants) {
    bool f64 = constant.getType().isF64();
    APInt bits = cast<FloatAttr>(constant.getValue()).getValue().bitcastToAPInt();
    std::string literal = "0x" + llvm::utohexstr(bits.getZExtValue()) + (f64 ? "ull" : "u");
    OpBuilder b(constant);
    auto call = b.create<emitc::CallOpaqueOp>(
        constant.getLoc(), TypeRange{constant.getType()},
        f64 ? hooks::attnc_bits_double : hooks::attnc_bits_float, ValueRange{},
        b.getArrayAttr({emitc::OpaqueAttr::get(b.getContext(), literal)}));
    constant.replaceAllUsesWith(call.getResult(0));
    constant.erase();
  }
}

/// arith.divui / arith.remui (attn-simplify-int-ranges; ArithToEmitC 19 has neither): the
/// C operator on unsigned casts of the operands.
template <class ArithOp, class EmitCOp>
struct UnsignedDivisionToEmitC : OpConversionPattern<ArithOp> {
  using OpConversionPattern<ArithOp>::OpConversionPattern;
  LogicalResult matchAndRewrite(ArithOp op, typename ArithOp::Adaptor adaptor,
                                ConversionPatternRewriter &rewriter) const override {
    auto type = dyn_cast<IntegerType>(op.getType());
    if (!type)
      return rewriter.notifyMatchFailure(op, "not a scalar integer");
    auto unsignedType = IntegerType::get(op.getContext(), type.getWidth(), IntegerType::Unsigned);
    Location loc = op.getLoc();
    auto asUnsigned = [&](Value v) {
      return rewriter.create<emitc::CastOp>(loc, unsignedType, v).getResult();
    };
    Value result = rewriter.create<EmitCOp>(loc, unsignedType, asUnsigned(adaptor.getLhs()),
                                            asUnsigned(adaptor.getRhs()));
    rewriter.replaceOpWithNewOp<emitc::CastOp>(op, type, result);
    return success();
  }
};

struct LowerToEmitCPass : impl::LowerToEmitCBase<LowerToEmitCPass> {
  void runOnOperation() final {
    ModuleOp module = getOperation();
    MLIRContext *ctx = &getContext();
    for (attn::SpecOp spec : llvm::make_early_inc_range(module.getOps<attn::SpecOp>())) {
      OpBuilder b(spec);
      if (failed(outline(b, spec.getMask(), "attnc_mask", {"b", "h", "q", "k"})) ||
          failed(outline(b, spec.getScore(), "attnc_score", {"s", "b", "h", "q", "k"})) ||
          failed(outline(b, spec.getOut(), "attnc_out", {"o", "b", "h", "q", "c"})))
        return signalPassFailure();
      if (spec.getMask().front().getTerminator()->getNumOperands() == 3 &&
          (failed(outline(b, spec.getMask(), "attnc_mask_index", {"b", "h", "q", "k"}, 1)) ||
           failed(outline(b, spec.getMask(), "attnc_mask_data", {"b", "h", "q", "k"}, 2))))
        return signalPassFailure();
      if (!spec.getRoute().empty()) {
        // The route region yields (gate, always, never).
        if (failed(checkRouteGeometry(module, spec)) ||
            failed(outline(b, spec.getRoute(), "attnc_route_gate", {"b", "h", "q", "blk", "dot"},
                           0)) ||
            failed(outline(b, spec.getRoute(), "attnc_route_always", {"b", "h", "q", "blk"}, 1)) ||
            failed(outline(b, spec.getRoute(), "attnc_route_never", {"b", "h", "q", "blk"}, 2)))
          return signalPassFailure();
      }
      spec.erase();
    }
    for (auto func : module.getOps<func::FuncOp>())
      if (failed(lowerToCalls(func)))
        return signalPassFailure();

    TypeConverter types;
    types.addConversion([](Type t) { return t; });
    RewritePatternSet patterns(ctx);
    populateArithToEmitCPatterns(types, patterns);
    patterns.add<UnsignedDivisionToEmitC<arith::DivUIOp, emitc::DivOp>,
                 UnsignedDivisionToEmitC<arith::RemUIOp, emitc::RemOp>>(types, ctx);
    populateFuncToEmitCPatterns(patterns);
    ConversionTarget target(*ctx);
    target.addLegalDialect<emitc::EmitCDialect>();
    target.addLegalOp<ModuleOp>();
    target.addIllegalDialect<arith::ArithDialect, func::FuncDialect, math::MathDialect,
                             attn::AttnDialect>();
    if (failed(applyFullConversion(module, target, std::move(patterns))))
      return signalPassFailure();
    lowerNonFiniteConstants(module);

    Builder b(ctx);
    ArrayAttr specifiers = b.getStrArrayAttr({"static", "__device__", "__forceinline__"});
    for (auto func : module.getOps<emitc::FuncOp>())
      func.setSpecifiersAttr(specifiers);
  }
};

} // namespace

} // namespace attnc::compiler
