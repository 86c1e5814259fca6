//===- Codegen.cpp - From a checked program to kernel hooks ---------------===//
#include "attnc/compiler/Codegen.h"

#include "../Transforms/IntervalEmitter.h"
#include "HookPrelude.h"
#include "HostProgram.h"
#include "attnc/compiler/ASTToAttn.h"
#include "attnc/compiler/Dialect/Attn/AttnDialect.h"
#include "attnc/compiler/Passes.h"

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

/// Whether a region is just `attn.yield` of the incoming value (score / out).
template <typename IncomingOp> bool isIdentityRegion(Region &region) {
  auto yield = cast<attn::YieldOp>(region.front().getTerminator());
  return yield.getValues()[0].getDefiningOp<IncomingOp>() != nullptr;
}

} // namespace

bool generateHooks(const dsl::Program &program, const dsl::AttentionDecl &attention,
                   const CodegenOptions &options, GeneratedHooks &out, std::string &error) {
  MLIRContext context(MLIRContext::Threading::DISABLED);
  std::string diagnostics;
  ScopedDiagnosticHandler handler(&context, [&](Diagnostic &diag) {
    llvm::raw_string_ostream os(diagnostics);
    os << diag.getLocation() << ": " << diag << "\n";
    return success();
  });
  OwningOpRef<ModuleOp> module = buildAttnModule(context, program, attention, error);
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

  bool hasSummaries = false;
  unsigned summaryMask = 0;
  for (const InputSlot &slot : out.inputs)
    if (slot.summarized) {
      hasSummaries = true;
      summaryMask |= 1u << slot.slot;
    }
  std::string source;
  llvm::raw_string_ostream os(source);
  os << "// attnc hooks for attention '" << attention.name << "'\n";
  os << "#define ATTNC_HAS_SCORE " << (out.hasScore ? 1 : 0) << "\n";
  os << "#define ATTNC_HAS_OUT " << (out.hasOut ? 1 : 0) << "\n";
  os << "#define ATTNC_HAS_ROUTE " << (out.hasRoute ? 1 : 0) << "\n";
  os << "#define ATTNC_MASK_ALWAYS_TRUE " << (out.maskAlwaysTrue ? 1 : 0) << "\n";
  os << "#define ATTNC_MASK_FACTORS " << (out.maskFactors ? 1 : 0) << "\n";
  os << "#define ATTNC_HAS_SUMMARIES " << (hasSummaries ? 1 : 0) << "\n";
  os << "#define ATTNC_HAS_KV_BOUNDS " << (out.hasKvBounds ? 1 : 0) << "\n";
  os << "#define ATTNC_KV_RANGES_EXACT " << (out.kvRangesExact ? 1 : 0) << "\n";
  os << "#define ATTNC_MASK_COMPARISONS " << out.maskComparisons << "\n";
  os << "#define ATTNC_COORDINATE_READS " << (out.coordinateReads ? 1 : 0) << "\n";
  os << "// Bit i set: input[i] needs a per-block min/max summary (AttncArgs::summary[i]).\n";
  os << "#define ATTNC_SUMMARIZED_INPUTS 0x" << llvm::utohexstr(summaryMask) << "u\n";
  os << "// Param slots:";
  for (const ParamSlot &p : out.params)
    os << " " << p.name << (p.type == dsl::Type::Float ? "=fparam[" : "=iparam[") << p.slot << "]";
  os << "\n// Input slots:";
  for (const InputSlot &in : out.inputs)
    os << " " << in.name << "=input[" << in.slot << "]";
  os << "\n";
  os << hookPrelude();
  os << functions;
  if (!routeFunctions.empty()) {
    os << "// ---- block routing: the route region (attnc_route_*, float64 gate) ----\n";
    os << routeFunctions;
  }
  out.source = std::move(source);
  return true;
}

} // namespace attnc::compiler
