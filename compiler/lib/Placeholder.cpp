#include "mlir/IR/MLIRContext.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/EmitC/IR/EmitC.h"
#include "mlir/Target/Cpp/CppEmitter.h"
#include "mlir/IR/BuiltinOps.h"
#include "llvm/Support/raw_ostream.h"
extern "C" int attnc_mlir_smoke() {
  mlir::MLIRContext ctx;
  ctx.loadDialect<mlir::arith::ArithDialect, mlir::emitc::EmitCDialect>();
  mlir::OpBuilder b(&ctx);
  auto m = mlir::ModuleOp::create(b.getUnknownLoc());
  std::string s; llvm::raw_string_ostream os(s);
  (void)mlir::emitc::translateToCpp(m, os);
  m->erase();
  return (int)s.size();
}
