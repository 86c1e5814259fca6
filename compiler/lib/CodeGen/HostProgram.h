//===- HostProgram.h - Build the host classifier program ----------*- C++ -*-===//
#ifndef ATTNC_COMPILER_CODEGEN_HOSTPROGRAM_H
#define ATTNC_COMPILER_CODEGEN_HOSTPROGRAM_H

#include "attnc/compiler/HostClassifier.h"

#include "mlir/IR/BuiltinOps.h"

namespace attnc::compiler {

/// Translates @attnc_classify, @attnc_classify_factors (if any) and @attnc_kv_ranges of a
/// module after attn-kv-ranges (func/arith ops and emitc.call_opaque of prelude helpers)
/// into a host program. Returns null and sets `error` on an op or callee the host
/// vocabulary lacks.
std::shared_ptr<const HostHookProgram> buildHostHookProgram(mlir::ModuleOp module,
                                                            std::string &error);

} // namespace attnc::compiler

#endif
