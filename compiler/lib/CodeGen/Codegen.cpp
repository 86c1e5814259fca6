//===- Codegen.cpp - From a checked program to kernel hooks ---------------===//
#include "attnc/compiler/Codegen.h"

#include "../Transforms/IntervalEmitter.h"
#include "HookPrelude.h"
#include "HostProgram.h"
#include "VariantHooks.h"
#include "attnc/compiler/ASTToAttn.h"
#include "attnc/compiler/Dialect/Attn/AttnDialect.h"
#include "attnc/compiler/Passes.h"
#include "attnc/dsl/Diagnostics.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/EmitC/IR/EmitC.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Matchers.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Target/Cpp/CppEmitter.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;

namespace attnc::compiler {
namespace {

/// The C++ spelling of a hook parameter or result type (the types LowerToEmitC gives hook
/// signatures).
std::string cppType(Type type) {
  if (type.isInteger(1))
    return "bool";
  if (type.isInteger(32))
    return "int32_t";
  if (type.isF32())
    return "float";
  if (type.isF64())
    return "double";
  if (auto opaque = dyn_cast<emitc::OpaqueType>(type))
    return opaque.getValue().str();
  if (auto pointer = dyn_cast<emitc::PointerType>(type))
    return cppType(pointer.getPointee()) + "*";
  return {};
}

/// Writes the program's variant (FlashInfer's idea): a struct of its facts as constexpr
/// members and its hooks as static member functions, which the kernel templates take as
/// their type parameter. The members forward to the generated functions, so the hooks'
/// code (and what the host classifier runs) stays the functions EmitC wrote. Its facts are
/// those of `hooks`.
/// The backward's input-gradient members: for each region, whether it reads float inputs
/// and a function adding dL/d(region value) times each read site's derivative to the
/// gradients of the inputs it reads (attnc_add_input_grad, the backward prelude).
void emitInputGradMembers(const GeneratedHooks &hooks, llvm::raw_ostream &os) {
  struct Region {
    const char *name, *member, *flag, *last;
  };
  for (const Region &region : {Region{"score", "scoreInputGrads", "kScoreInputGrads", "k"},
                               Region{"out", "outInputGrads", "kOutInputGrads", "c"}}) {
    bool any = false;
    for (const GradReadSite &site : hooks.gradReads)
      any = any || site.region == region.name;
    os << "  static constexpr bool " << region.flag << " = " << (any ? "true" : "false") << ";\n";
    os << "  static __device__ __forceinline__ void " << region.member
       << "(const AttncArgs &a, const AttncInputGrads &g, float dL, float v, int32_t b, "
          "int32_t h, int32_t q, int32_t "
       << region.last << ") {\n";
    for (const GradReadSite &site : hooks.gradReads) {
      if (site.region != region.name)
        continue;
      const std::string prefix =
          std::string("attnc_") + region.name + "_read" + std::to_string(site.site) + "_index";
      os << "    attnc_add_input_grad(a, g, " << site.slot << ", " << site.rank << ", 0x"
         << llvm::utohexstr(site.inRange) << "u, dL * (attnc_" << region.name << "_grad_read"
         << site.site << ")(a, v, b, h, q, " << region.last << ")";
      for (int n = 0; n < 4; ++n) {
        if (n < site.rank)
          os << ", (" << prefix << n << ")(a, b, h, q, " << region.last << ")";
        else
          os << ", 0";
      }
      os << ");\n";
    }
    if (!any)
      os << "    (void)a, (void)g, (void)dL, (void)v, (void)b, (void)h, (void)q, (void)"
         << region.last << ";\n";
    os << "  }\n";
  }
}

void emitVariant(ModuleOp module, const GeneratedHooks &hooks, llvm::raw_ostream &os) {
  const unsigned summarizedInputs = hooks.summarizedInputs();
  os << "\n// ---- the program's variant: its facts and hooks, the kernel templates' parameter "
        "----\n";
  os << "struct AttncProgram {\n";
  const auto flag = [&](const char *name, bool value) {
    os << "  static constexpr bool " << name << " = " << (value ? "true" : "false") << ";\n";
  };
  flag("kHasScore", hooks.hasScore);
  flag("kHasOut", hooks.hasOut);
  flag("kHasRoute", hooks.hasRoute);
  flag("kMaskAlwaysTrue", hooks.maskAlwaysTrue);
  flag("kMaskFactors", hooks.maskFactors);
  flag("kHasSummaries", summarizedInputs != 0);
  flag("kHasKvBounds", hooks.hasKvBounds);
  flag("kKvRangesExact", hooks.kvRangesExact);
  flag("kCoordinateReads", hooks.coordinateReads);
  os << "  /// Each key's queries lie in a window that does not grow with the lengths\n"
        "  /// (attn-q-ranges; backward only): short units, for smaller query tiles.\n";
  flag("kQueryWindow", hooks.queryWindow);
  os << "  /// Comparisons per element of the mask: where the sm90 kernel keeps Q.\n";
  os << "  static constexpr int kMaskComparisons = " << hooks.maskComparisons << ";\n";
  os << "  /// Bit i: input[i] needs a per-block min/max summary (AttncArgs::summary[i]).\n";
  os << "  static constexpr unsigned kSummarizedInputs = 0x" << llvm::utohexstr(summarizedInputs)
     << "u;\n";
  os << "  /// ROWS tiles (attnc_row_keep): only routing adds them.\n";
  flag("kHasRowTiles", false);
  for (const hooks::VariantHook &hook : hooks::variantHooks()) {
    auto func = module.lookupSymbol<emitc::FuncOp>(hook.function);
    if (!func)
      continue;
    FunctionType type = func.getFunctionType();
    os << "  static __device__ __forceinline__ " << cppType(type.getResult(0)) << " " << hook.member
       << "(";
    for (unsigned i = 0; i < type.getNumInputs(); ++i)
      os << (i ? ", " : "") << cppType(type.getInput(i)) << " a" << i;
    // (f)(...): this program's function even where the hooks of several programs share
    // a translation unit in namespaces (no argument-dependent lookup).
    os << ") {\n    return (" << hook.function << ")(";
    for (unsigned i = 0; i < type.getNumInputs(); ++i)
      os << (i ? ", " : "") << "a" << i;
    os << ");\n  }\n";
  }
  if (hooks.hasBackward)
    emitInputGradMembers(hooks, os);
  os << "};\n";
}

/// Whether a region is just `attn.yield` of the incoming value (score / out).
template <typename IncomingOp> bool isIdentityRegion(Region &region) {
  auto yield = cast<attn::YieldOp>(region.front().getTerminator());
  return yield.getValues()[0].getDefiningOp<IncomingOp>() != nullptr;
}

/// An error of a pass at a source position (the builder's FileLineColLoc, possibly fused
/// by canonicalize) in the front end's format.
std::string positionedError(std::optional<Location> loc, const std::string &message,
                            const dsl::SourceFile *source) {
  FileLineColLoc position;
  if (loc)
    LocationAttr(*loc).walk([&](Location l) {
      if (auto flc = dyn_cast<FileLineColLoc>(l); flc && !position)
        position = flc;
      return position ? WalkResult::interrupt() : WalkResult::advance();
    });
  if (!position)
    return "error: " + message;
  if (source && position.getLine() <= source->lineCount()) {
    std::string_view line = source->lineText(position.getLine());
    uint32_t offset = static_cast<uint32_t>(line.data() - source->text().data()) +
                      std::min<uint32_t>(position.getColumn() - 1, line.size());
    dsl::SourceRange range{source->locOf(offset), source->locOf(offset + 1)};
    dsl::DiagnosticEngine diags(source);
    diags.error(range, message);
    return diags.render(diags.diagnostics().front());
  }
  return std::to_string(position.getLine()) + ":" + std::to_string(position.getColumn()) +
         ": error: " + message;
}

} // namespace

bool generateHooks(const dsl::Program &program, const dsl::AttentionDecl &attention,
                   const CodegenOptions &options, GeneratedHooks &out, std::string &error) {
  MLIRContext context(MLIRContext::Threading::DISABLED);
  std::string diagnostics;
  std::optional<Location> firstErrorLoc;
  std::string firstError;
  ScopedDiagnosticHandler handler(&context, [&](Diagnostic &diag) {
    llvm::raw_string_ostream os(diagnostics);
    os << diag.getLocation() << ": " << diag << "\n";
    if (diag.getSeverity() == DiagnosticSeverity::Error && !firstErrorLoc) {
      firstErrorLoc = diag.getLocation();
      firstError = diag.str();
    }
    return success();
  });
  OwningOpRef<ModuleOp> module = buildAttnModule(context, program, attention, error,
                                                 options.source ? options.source->path() : "");
  if (!module)
    return false;

  SlotPlan plan = planSlots(attention);
  out = GeneratedHooks();
  out.params = plan.params;
  out.inputs = plan.inputs;

  // The hook pipeline, one stage at a time: the facts below are read off the IR between
  // the stages (Passes.h).
  HookPipelineOptions pipeline;
  pipeline.canonicalize = options.runCanonicalize;
  pipeline.backward = options.backward;
  auto runStage = [&](HookPipelineStage stage, const char *what) {
    PassManager pm(&context);
    buildHookPipelineStage(pm, stage, pipeline);
    if (succeeded(pm.run(*module)))
      return true;
    error = std::string("internal error ") + what + ": " + diagnostics;
    return false;
  };

  if (!runStage(HookPipelineStage::Simplify, "while simplifying the attn IR"))
    return false;
  for (attn::SpecOp spec : module->getOps<attn::SpecOp>()) {
    auto maskYield = cast<attn::YieldOp>(spec.getMask().front().getTerminator());
    out.maskAlwaysTrue = matchPattern(maskYield.getValues()[0], m_One());
    out.hasScore = !isIdentityRegion<attn::ScoreOp>(spec.getScore());
    out.hasOut = !isIdentityRegion<attn::OutOp>(spec.getOut());
    out.hasRoute = !spec.getRoute().empty();
    spec.getMask().walk([&](Operation *op) {
      if (isa<arith::CmpIOp, arith::CmpFOp>(op))
        ++out.maskComparisons;
    });
    for (Region *region : {&spec.getMask(), &spec.getScore()})
      region->walk([&](attn::InputReadOp read) {
        if (read.getInRange().value_or(0) != 0)
          out.coordinateReads = true;
      });
    spec.getMask().walk([&](attn::InputReadOp read) {
      if (read.getSlot() >= out.inputs.size())
        return;
      out.inputs[read.getSlot()].inMask = true;
      if (isTokenIndexedRead(read))
        out.inputs[read.getSlot()].summarized = true;
    });
  }

  if (!runStage(HookPipelineStage::Classify, "in block classification"))
    return false;
  out.maskFactors = module->lookupSymbol<func::FuncOp>("attnc_classify_factors") != nullptr;
  if (auto ranges = module->lookupSymbol<func::FuncOp>("attnc_kv_ranges")) {
    out.hasKvBounds = ranges->hasAttr("attnc.bounded");
    out.kvRangesExact = ranges->hasAttr("attnc.exact");
  }
  if (options.hostClassifier) {
    out.hostProgram = buildHostHookProgram(*module, error);
    if (!out.hostProgram) {
      error = "internal error while building the host classifier: " + error;
      return false;
    }
  }

  if (options.backward) {
    PassManager pm(&context);
    buildHookPipelineStage(pm, HookPipelineStage::Differentiate, pipeline);
    if (failed(pm.run(*module))) {
      error = positionedError(firstErrorLoc, firstError, options.source);
      return false;
    }
    out.hasBackward = true;
    if (auto qRanges = module->lookupSymbol<func::FuncOp>("attnc_q_ranges"))
      out.queryWindow = qRanges->hasAttr("attnc.window");
    for (auto func : module->getOps<func::FuncOp>()) {
      auto region = func->getAttrOfType<StringAttr>("attnc.grad_of");
      if (!region)
        continue;
      auto intAttr = [&](StringRef name) {
        auto attr = func->getAttrOfType<IntegerAttr>(name);
        return attr ? static_cast<int>(attr.getInt()) : 0;
      };
      out.gradReads.push_back({region.str(), intAttr("attnc.site"), intAttr("attnc.slot"),
                               intAttr("attnc.rank"),
                               static_cast<unsigned>(intAttr("attnc.in_range"))});
    }
  }

  if (!runStage(HookPipelineStage::Emit, "while lowering to EmitC"))
    return false;
  {
    llvm::raw_string_ostream os(out.mlir);
    module->print(os);
  }

  // The routing functions (attnc_route_*) get a section of their own after the hooks.
  std::string functions, routeFunctions;
  llvm::raw_string_ostream fos(functions), ros(routeFunctions);
  for (Operation &op : module->getBody()->getOperations()) {
    auto func = dyn_cast<emitc::FuncOp>(op);
    bool route = func && func.getName().starts_with("attnc_route_");
    if (failed(emitc::translateToCpp(&op, route ? ros : fos))) {
      error = "internal error in translateToCpp: " + diagnostics;
      return false;
    }
  }

  std::string source;
  llvm::raw_string_ostream os(source);
  os << "// attnc hooks for attention '" << attention.name << "'\n";
  os << "// Param slots:";
  for (const ParamSlot &p : out.params)
    os << " " << p.name << (p.type == dsl::Type::Float ? "=fparam[" : "=iparam[") << p.slot << "]";
  os << "\n// Input slots:";
  for (const InputSlot &in : out.inputs)
    os << " " << in.name << "=input[" << in.slot << "]";
  os << "\n";
  os << hookPrelude();
  if (options.backward)
    os << hookBackwardPrelude();
  os << functions;
  if (!routeFunctions.empty()) {
    os << "// ---- block routing: the route region (attnc_route_*, float64 gate) ----\n";
    os << routeFunctions;
  }
  emitVariant(*module, out, os);
  out.source = std::move(source);
  return true;
}

} // namespace attnc::compiler
