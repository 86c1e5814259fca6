//===- PassRegistration.cpp - Pass names and the standard pipeline --------===//
#include "attnc/compiler/Passes.h"

#include "mlir/Transforms/Passes.h"

namespace attnc::compiler {

void registerAttncPasses() {
  mlir::registerPass([] { return createLowerCoordsPass(); });
  mlir::registerPass([] { return createRouteGeometryPass(); });
  mlir::registerPass([] { return createFactorMaskPass(); });
  mlir::registerPass([] { return createClassifyBlocksPass(); });
  mlir::registerPass([] { return createKvRangesPass(); });
  mlir::registerPass([] { return createLowerToEmitCPass(); });
  mlir::registerCanonicalizerPass();
  mlir::registerCSEPass();
}

void buildHookPipeline(mlir::OpPassManager &pm, bool canonicalize) {
  pm.addPass(createLowerCoordsPass());
  pm.addPass(createRouteGeometryPass());
  if (canonicalize) {
    pm.addPass(mlir::createCanonicalizerPass());
    pm.addPass(mlir::createCSEPass());
  }
  pm.addPass(createFactorMaskPass());
  pm.addPass(createClassifyBlocksPass());
  pm.addPass(createKvRangesPass());
  pm.addPass(createLowerToEmitCPass());
}

} // namespace attnc::compiler
