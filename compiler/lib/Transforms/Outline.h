//===- Outline.h - A region's values as a hook function ---------*- C++ -*-===//
//
// The attn spec's regions (mask, score, out, route) become hook functions by cloning what a
// value needs into a new func.func whose arguments are AttncArgs and the built-in variables
// the hook takes. attn-to-emitc outlines the yielded values; attn-differentiate outlines
// them too and then appends their derivatives.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"

namespace attnc::compiler {

/// `const AttncArgs &`, every hook's first argument.
mlir::Type hookArgsType(mlir::MLIRContext *ctx);

/// A hook argument of kind `kind`: "s", "o" (the score and out values) f32, "dot" (the
/// route's dot(query, key)) f64, the index variables ("b", "h", "q", "k", "c", "blk") i32.
mlir::Type hookArgType(mlir::OpBuilder &b, mlir::StringRef kind);

/// Creates func `name`(AttncArgs, argKinds...) -> results at b's insertion point and clones
/// into it the ops of `region` that `roots` need: index variables and the score, out and
/// dot values become the arguments of their kind (kv_h a call of attnc_kv_head), block_of
/// and num_blocks calls of the route geometry functions. `map` takes region values to the
/// function's; `body` is left at the end of the body, which has no terminator yet. Fails,
/// with an error at the op, where a needed value has no argument.
mlir::FailureOr<mlir::func::FuncOp> outlineNeeded(mlir::OpBuilder &b, mlir::Region &region,
                                                  mlir::StringRef name,
                                                  mlir::ArrayRef<mlir::StringRef> argKinds,
                                                  mlir::ValueRange roots, mlir::TypeRange results,
                                                  mlir::IRMapping &map, mlir::OpBuilder &body);

} // namespace attnc::compiler
