//===- ASTToAttn.h - Build the attn dialect from a checked AST ----*- C++ -*-===//
#ifndef ATTNC_COMPILER_ASTTOATTN_H
#define ATTNC_COMPILER_ASTTOATTN_H

#include "attnc/compiler/Slots.h"
#include "attnc/dsl/AST.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/OwningOpRef.h"

#include <string>
#include <vector>

namespace attnc::compiler {

/// Where each param and input lives in AttncArgs (declaration order; Int and Bool
/// params share iparam, Float params use fparam).
struct SlotPlan {
  std::vector<ParamSlot> params;
  std::vector<InputSlot> inputs;
};
SlotPlan planSlots(const dsl::AttentionDecl &attention);

/// Registers every dialect the attnc pipeline creates or parses.
void registerAttncDialects(mlir::DialectRegistry &registry);

/// Builds `module { attn.spec @name mask {...} score {...} out {...} route {...} }`.
/// Returns null and sets `error` if the AST is not a checked program. Ops get the
/// location `filename:line:col` of the expression they come from.
mlir::OwningOpRef<mlir::ModuleOp> buildAttnModule(mlir::MLIRContext &context,
                                                  const dsl::Program &program,
                                                  const dsl::AttentionDecl &attention,
                                                  std::string &error,
                                                  const std::string &filename = "");

} // namespace attnc::compiler

#endif // ATTNC_COMPILER_ASTTOATTN_H
