//===- attnc-opt.cpp - mlir-opt for the attn dialect ----------------------===//
//
//   attnc-opt FILE.mlir --attn-lower-coords --canonicalize ...   (like mlir-opt)
//   attnc-opt FILE.mlir --attnc-hook-pipeline
//       the pipeline generateHooks runs (also its stages: --attnc-hook-simplify,
//       --attnc-hook-classify, --attnc-hook-emit)
//   attnc-opt --from-attn FILE.attn [-D name=value]... [--attention NAME]
//       prints the attn module built from a checked .attn program
//   attnc-opt --to-cpp FILE.mlir
//       prints emitc::translateToCpp of an EmitC module
//   attnc-opt --hooks FILE.attn [-D name=value]... [--backward]
//       prints the generated hook source (generateHooks; with the derivative hooks)
//
//===----------------------------------------------------------------------===//
#include "attnc/compiler/ASTToAttn.h"
#include "attnc/compiler/Codegen.h"
#include "attnc/compiler/Passes.h"
#include "attnc/dsl/Frontend.h"

#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Target/Cpp/CppEmitter.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"
#include "mlir/Transforms/Passes.h"
#include "llvm/Support/raw_ostream.h"

#include <cstring>
#include <iostream>
#include <string>
#include <vector>

namespace {

int fromAttn(int argc, char **argv, bool hooks) {
  std::string path, attentionName;
  std::vector<attnc::dsl::ConstOverride> overrides;
  bool backward = false;
  for (int i = 2; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--backward" && hooks) {
      backward = true;
    } else if ((arg == "-D" || arg == "--attention") && i + 1 < argc) {
      std::string value = argv[++i];
      if (arg == "--attention") {
        attentionName = value;
        continue;
      }
      size_t eq = value.find('=');
      if (eq == std::string::npos) {
        std::cerr << "attnc-opt: -D expects name=value\n";
        return 2;
      }
      overrides.push_back({value.substr(0, eq), value.substr(eq + 1)});
    } else {
      path = arg;
    }
  }
  attnc::dsl::SourceFile file("", "");
  std::string error;
  if (!attnc::dsl::SourceFile::load(path, file, error)) {
    std::cerr << "attnc-opt: " << error << "\n";
    return 1;
  }
  attnc::dsl::DiagnosticEngine diags(&file);
  auto program = attnc::dsl::parseAndCheck(file, diags, overrides);
  if (!program) {
    diags.print(std::cerr);
    return 1;
  }
  const attnc::dsl::AttentionDecl *attention = program->find(attentionName);
  if (!attention) {
    std::cerr << "attnc-opt: no (single) attention '" << attentionName << "' in " << path << "\n";
    return 1;
  }
  if (hooks) {
    attnc::compiler::GeneratedHooks out;
    attnc::compiler::CodegenOptions options;
    options.backward = backward;
    options.source = &file;
    if (!attnc::compiler::generateHooks(*program, *attention, options, out, error)) {
      std::cerr << "attnc-opt: " << error << "\n";
      return 3;
    }
    std::cout << out.source;
    return 0;
  }
  mlir::MLIRContext context;
  auto module = attnc::compiler::buildAttnModule(context, *program, *attention, error);
  if (!module) {
    std::cerr << "attnc-opt: " << error << "\n";
    return 3;
  }
  module->print(llvm::outs());
  llvm::outs() << "\n";
  return 0;
}

int toCpp(const char *path) {
  mlir::DialectRegistry registry;
  attnc::compiler::registerAttncDialects(registry);
  mlir::MLIRContext context(registry);
  auto module = mlir::parseSourceFile<mlir::ModuleOp>(path, &context);
  if (!module)
    return 1;
  return mlir::failed(mlir::emitc::translateToCpp(*module, llvm::outs())) ? 1 : 0;
}

} // namespace

int main(int argc, char **argv) {
  if (argc >= 3 && std::strcmp(argv[1], "--from-attn") == 0)
    return fromAttn(argc, argv, /*hooks=*/false);
  if (argc >= 3 && std::strcmp(argv[1], "--hooks") == 0)
    return fromAttn(argc, argv, /*hooks=*/true);
  if (argc == 3 && std::strcmp(argv[1], "--to-cpp") == 0)
    return toCpp(argv[2]);
  mlir::DialectRegistry registry;
  attnc::compiler::registerAttncDialects(registry);
  attnc::compiler::registerAttncPasses();
  attnc::compiler::registerHookPipelines();
  mlir::registerCanonicalizerPass();
  mlir::registerCSEPass();
  return mlir::asMainReturnCode(
      mlir::MlirOptMain(argc, argv, "attnc optimizer driver\n", registry));
}
