//===- Codegen.cpp - From a checked program to kernel hooks ---------------===//
#include "attnc/compiler/Codegen.h"

#include "../Transforms/IntervalEmitter.h"
#include "HookPrelude.h"
#include "attnc/compiler/ASTToAttn.h"
#include "attnc/compiler/Dialect/Attn/AttnDialect.h"
#include "attnc/compiler/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Matchers.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Target/Cpp/CppEmitter.h"
#include "mlir/Transforms/Passes.h"
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

  // Stage 1: simplify the attn IR, then read the metadata off it.
  PassManager simplify(&context);
  simplify.addPass(createLowerCoordsPass());
  if (options.runCanonicalize) {
    simplify.addPass(createCanonicalizerPass());
    simplify.addPass(createCSEPass());
  }
  if (failed(simplify.run(*module))) {
    error = "internal error while simplifying the attn IR: " + diagnostics;
    return false;
  }
  for (attn::SpecOp spec : module->getOps<attn::SpecOp>()) {
    auto maskYield = cast<attn::YieldOp>(spec.getMask().front().getTerminator());
    out.maskAlwaysTrue = matchPattern(maskYield.getValues()[0], m_One());
    out.hasScore = !isIdentityRegion<attn::ScoreOp>(spec.getScore());
    out.hasOut = !isIdentityRegion<attn::OutOp>(spec.getOut());
    out.hasRoute = !spec.getRoute().empty();
    spec.getMask().walk([&](attn::InputReadOp read) {
      if (isTokenIndexedRead(read) && read.getSlot() < out.inputs.size())
        out.inputs[read.getSlot()].summarized = true;
    });
  }

  // Stage 2: classification and key ranges, then EmitC.
  PassManager lower(&context);
  lower.addPass(createClassifyBlocksPass());
  lower.addPass(createKvRangesPass());
  if (failed(lower.run(*module))) {
    error = "internal error in block classification: " + diagnostics;
    return false;
  }
  if (auto ranges = module->lookupSymbol<func::FuncOp>("attnc_kv_ranges"))
    out.hasKvBounds = ranges->hasAttr("attnc.bounded");

  PassManager emit(&context);
  emit.addPass(createLowerToEmitCPass());
  if (failed(emit.run(*module))) {
    error = "internal error while lowering to EmitC: " + diagnostics;
    return false;
  }
  {
    llvm::raw_string_ostream os(out.mlir);
    module->print(os);
  }

  std::string functions;
  llvm::raw_string_ostream fos(functions);
  if (failed(emitc::translateToCpp(*module, fos))) {
    error = "internal error in translateToCpp: " + diagnostics;
    return false;
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
  os << "#define ATTNC_HAS_SUMMARIES " << (hasSummaries ? 1 : 0) << "\n";
  os << "#define ATTNC_HAS_KV_BOUNDS " << (out.hasKvBounds ? 1 : 0) << "\n";
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
  out.source = std::move(source);
  return true;
}

} // namespace attnc::compiler
