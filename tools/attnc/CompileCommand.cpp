//===- CompileCommand.cpp - attnc compile ---------------------------------===//
//
// `attnc compile FILE --emit=ast|mlir|mlir-opt|hooks|cuda|ptx|cubin [-o OUT]
//                [-D NAME=VALUE]... [--attention NAME] [--arch sm_90a] [--dtype bf16|fp16]
//                [--head-dim 128]`
//   ast       the checked AST (an indented tree)
//   mlir      the attn dialect module as built from the AST
//   mlir-opt  the final IR after every pass (EmitC)
//   hooks     the generated CUDA device functions (the default)
//   cuda      the complete kernel source (hooks pasted into the runtime's template)
//   ptx/cubin NVRTC output for --arch (needs no GPU)
//
//===----------------------------------------------------------------------===//
#include "Commands.h"
#include "ToolSupport.h"

#include "attnc/compiler/AttnIR.h"
#include "attnc/compiler/Codegen.h"
#include "attnc/runtime/KernelSource.h"
#include "attnc/runtime/Nvrtc.h"
#include "attnc/runtime/RouteSource.h"
#include "attnc/runtime/Runtime.h"

#include <fstream>
#include <iostream>
#include <sstream>

namespace attnc::tools {

namespace {

const char *unaryName(dsl::UnaryOp op) {
  switch (op) {
  case dsl::UnaryOp::Neg:
    return "-";
  case dsl::UnaryOp::Not:
    return "!";
  case dsl::UnaryOp::BitNot:
    return "~";
  }
  return "?";
}

const char *binaryName(dsl::BinaryOp op) {
  static const char *names[] = {"+", "-", "*",  "/", "%",  "<<", ">>", "&",  "|",
                                "^", "<", "<=", ">", ">=", "==", "!=", "&&", "||"};
  return names[static_cast<int>(op)];
}

/// One line per node, indented by depth: kind, payload and checked type.
void dumpExpr(std::ostream &os, const dsl::Expr &e, int depth) {
  os << std::string(2 * depth, ' ');
  switch (e.kind) {
  case dsl::ExprKind::IntLiteral:
    os << "Int " << e.intValue;
    break;
  case dsl::ExprKind::FloatLiteral:
    os << "Float " << e.floatValue;
    break;
  case dsl::ExprKind::BoolLiteral:
    os << "Bool " << (e.boolValue ? "true" : "false");
    break;
  case dsl::ExprKind::Name:
    os << "Name " << e.name;
    break;
  case dsl::ExprKind::Unary:
    os << "Unary " << unaryName(e.unaryOp);
    break;
  case dsl::ExprKind::Binary:
    os << "Binary " << binaryName(e.binaryOp);
    break;
  case dsl::ExprKind::Call:
    os << "Call " << e.name;
    break;
  case dsl::ExprKind::Index:
    os << "Index " << e.name;
    break;
  case dsl::ExprKind::Member:
    os << "Member ." << e.name;
    break;
  case dsl::ExprKind::Slice:
    os << "Slice :";
    break;
  }
  os << " : " << dsl::typeName(e.type) << "\n";
  for (const auto &operand : e.operands)
    dumpExpr(os, *operand, depth + 1);
}

void dumpAttention(std::ostream &os, const dsl::Program &program, const dsl::AttentionDecl &a) {
  for (const auto &layout : program.layouts) {
    os << "layout " << layout.name << " = grid(";
    for (size_t i = 0; i < layout.axes.size(); ++i)
      os << (i ? ", " : "") << layout.axes[i].name << ": " << layout.axes[i].value;
    os << ")\n";
  }
  os << "attention " << a.name;
  if (!a.layoutName.empty())
    os << " over " << a.layoutName;
  os << "\n";
  for (const auto &c : a.consts) {
    os << "  const " << c.name << " : " << dsl::typeName(c.folded.type) << " = ";
    if (c.folded.type == dsl::Type::Float)
      os << c.folded.f;
    else if (c.folded.type == dsl::Type::Bool)
      os << (c.folded.b ? "true" : "false");
    else
      os << c.folded.i;
    os << "\n";
  }
  for (const auto &p : a.params)
    os << "  param " << p.name << " : " << dsl::typeName(p.type)
       << (p.defaultValue ? " (has default)" : "") << "\n";
  for (const auto &in : a.inputs)
    os << "  input " << in.name << " : " << dsl::elementTypeName(in.elementType) << " rank "
       << in.dims.size() << "\n";
  for (const auto &let : a.lets) {
    os << "  let " << let.name << " =\n";
    dumpExpr(os, *let.value, 2);
  }
  auto section = [&](const char *name, const dsl::ExprPtr &e) {
    os << "  " << name << " =" << (e ? "\n" : " (default)\n");
    if (e)
      dumpExpr(os, *e, 2);
  };
  section("mask", a.mask);
  section("score", a.score);
  section("out", a.out);
  if (a.route) {
    os << "  route block =";
    for (int64_t s : a.route->blockShape)
      os << " " << s;
    os << "\n";
    if (a.route->gate)
      section("gate", a.route->gate);
    if (a.route->always)
      section("always", a.route->always);
    if (a.route->never)
      section("never", a.route->never);
  }
}

bool writeOutput(const std::string &path, const std::string &data, bool binary) {
  if (path.empty() || path == "-") {
    std::cout << data;
    return bool(std::cout);
  }
  std::ofstream out(path, binary ? std::ios::binary : std::ios::out);
  out << data;
  return bool(out);
}

} // namespace

void registerCompileCommand(CLI::App &app, int &exitCode) {
  auto *cmd = app.add_subcommand("compile", "Compile an .attn file to IR, CUDA hooks or a cubin");
  static std::string file, emit = "hooks", output, attentionName, arch = "sm_90a", dtype = "bf16";
  static int headDim = 128;
  static bool backward = false, deterministic = false;
  static std::vector<std::string> defines;
  cmd->add_option("file", file, "The .attn file")->required();
  cmd->add_flag("--backward", backward,
                "hooks/cuda/ptx/cubin of the backward: the derivative hooks and the backward "
                "kernels");
  cmd->add_flag("--deterministic", deterministic,
                "with --backward: the deterministic mode's dQ module instead (compiled by the "
                "runtime on the first deterministic backward)");
  cmd->add_option("--emit", emit, "ast|mlir|mlir-opt|hooks|cuda|ptx|cubin (default hooks)")
      ->check(CLI::IsMember({"ast", "mlir", "mlir-opt", "hooks", "cuda", "ptx", "cubin"}));
  cmd->add_option("-o,--output", output, "Output file (default stdout)");
  cmd->add_option("-D,--define", defines, "Override a const: -D NAME=VALUE");
  cmd->add_option("--attention", attentionName, "Which attention (when the file has several)");
  cmd->add_option("--arch", arch, "Target architecture for cuda/ptx/cubin (default sm_90a)");
  cmd->add_option("--dtype", dtype, "bf16 (bfloat16) or fp16 (f16, float16, half) (cuda/ptx/cubin)")
      ->transform(dtypeValidator());
  cmd->add_option("--head-dim", headDim, "Head dimension: 64, 128 or 256 (cuda/ptx/cubin)")
      ->check(headDimValidator());
  cmd->callback([&exitCode] {
    if (deterministic && !backward) {
      std::cerr << "attnc: error: --deterministic selects a backward module: add --backward\n";
      exitCode = kExitUsage;
      return;
    }
    ProgramBundle bundle;
    if (!loadProgram(file, defines, attentionName, bundle)) {
      exitCode = kExitInputError;
      return;
    }
    const dsl::Program &program = *bundle.program;
    const dsl::AttentionDecl &attention = *bundle.attention;
    std::string error;
    if (emit == "ast") {
      std::ostringstream os;
      dumpAttention(os, program, attention);
      exitCode = writeOutput(output, os.str(), false) ? kExitOk : kExitRuntimeError;
      return;
    }
    if (emit == "mlir") {
      std::string text;
      if (!compiler::printAttnIR(program, attention, text, error)) {
        std::cerr << "attnc: error: " << error << "\n";
        exitCode = kExitCompileError;
        return;
      }
      exitCode = writeOutput(output, text, false) ? kExitOk : kExitRuntimeError;
      return;
    }
    compiler::GeneratedHooks hooks;
    compiler::CodegenOptions codegen;
    codegen.backward = backward;
    codegen.source = bundle.source.get();
    if (!compiler::generateHooks(program, attention, codegen, hooks, error)) {
      std::cerr << "attnc: error: " << error << "\n";
      exitCode = kExitCompileError;
      return;
    }
    if (emit == "mlir-opt" || emit == "hooks") {
      exitCode = writeOutput(output, emit == "hooks" ? hooks.source : hooks.mlir, false)
                     ? kExitOk
                     : kExitRuntimeError;
      return;
    }
    if (!runtime::isValidArch(arch)) {
      std::cerr << "attnc: error: unsupported architecture '" << arch << "'\n";
      exitCode = kExitUsage;
      return;
    }
    runtime::KernelConfig config;
    config.bf16 = dtype == runtime::dataTypeName(runtime::DataType::BF16); // canonical
    config.headDim = headDim;
    config.arch = arch;
    config.hopper = runtime::usesHopperTemplate(arch);
    // Routed attentions also need the routing pre-pass kernels and mask wrappers.
    runtime::RouteSource route;
    if (hooks.hasRoute && !runtime::generateRouteSource(program, attention, hooks, route, error)) {
      std::cerr << "attnc: error: " << error << "\n";
      exitCode = kExitCompileError;
      return;
    }
    std::string source;
    const runtime::RouteSource *routeSource = hooks.hasRoute ? &route : nullptr;
    if (!(backward
              ? runtime::assembleBackwardSource(hooks.source, config, source, error, routeSource,
                                                deterministic
                                                    ? runtime::BackwardModule::DeterministicDq
                                                    : runtime::BackwardModule::KeyTiles)
              : runtime::assembleKernelSource(hooks.source, config, source, error, routeSource))) {
      std::cerr << "attnc: error: " << error << "\n";
      exitCode = kExitCompileError;
      return;
    }
    if (emit == "cuda") {
      exitCode = writeOutput(output, source, false) ? kExitOk : kExitRuntimeError;
      return;
    }
    runtime::NvrtcResult result = runtime::compileCuda(source, attention.name + ".cu", arch,
                                                       emit == "ptx" ? runtime::NvrtcOutput::Ptx
                                                                     : runtime::NvrtcOutput::Cubin,
                                                       {}, runtime::kernelHeaders());
    if (!result.ok) {
      std::cerr << "attnc: error: NVRTC failed: " << result.error << "\n" << result.log;
      exitCode = kExitCompileError;
      return;
    }
    if (emit == "cubin" && (output.empty() || output == "-")) {
      std::cerr << "attnc: error: --emit=cubin needs -o FILE (binary output)\n";
      exitCode = kExitUsage;
      return;
    }
    exitCode = writeOutput(output, result.binary, emit == "cubin") ? kExitOk : kExitRuntimeError;
  });
}

} // namespace attnc::tools
