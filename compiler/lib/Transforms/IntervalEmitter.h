//===- IntervalEmitter.h - Emit interval evaluation of a mask ----*- C++ -*-===//
//
// Shared by attn-classify-blocks, attn-kv-ranges and attn-q-ranges: for a value of an attn.spec
// mask region, emits (as emitc.call_opaque of the prelude's attnc_iv_*/attnc_tv_*
// helpers) code that computes a sound interval (i32 values: AttncIv) or a
// three-valued truth (i1 values: AttncTv) over a box of (q, k) and run-time values.
// Float values are not tracked: anything derived from them is unknown.
//
//===----------------------------------------------------------------------===//
#ifndef ATTNC_COMPILER_TRANSFORMS_INTERVALEMITTER_H
#define ATTNC_COMPILER_TRANSFORMS_INTERVALEMITTER_H

#include "mlir/IR/Builders.h"
#include "mlir/IR/Value.h"
#include "llvm/ADT/DenseMap.h"

namespace attnc::compiler {

/// The run-time values the evaluation starts from (all in the function being built).
struct IntervalEnv {
  mlir::Value args;        ///< const AttncArgs &
  mlir::Value batch, head; ///< i32 points
  mlir::Value qIv, kIv;    ///< AttncIv of the query and key token ranges
};

class IntervalEmitter {
public:
  IntervalEmitter(mlir::OpBuilder &builder, mlir::Location loc, IntervalEnv env)
      : b(builder), loc(loc), env(env) {}

  /// Values that do not depend on the token `kind` ("q" or "k") are taken from `other`
  /// (an emitter over the same function with a different range of that token), so they
  /// are computed once.
  void shareIndependentOf(llvm::StringRef kind, IntervalEmitter *other) {
    sharedKind = kind;
    independentSource = other;
  }

  static mlir::Type ivType(mlir::MLIRContext *ctx);
  static mlir::Type tvType(mlir::MLIRContext *ctx);
  static mlir::Type argsType(mlir::MLIRContext *ctx);

  /// AttncIv for an i32 value, AttncTv for an i1 value; null for f32 (unknown).
  mlir::Value eval(mlir::Value v);

  /// Emits a call of a prelude helper.
  mlir::Value call(llvm::StringRef callee, mlir::Type result, mlir::ValueRange operands,
                   mlir::ArrayAttr args = nullptr);
  mlir::Value i32Const(int64_t v);

private:
  mlir::OpBuilder &b;
  mlir::Location loc;
  IntervalEnv env;
  llvm::DenseMap<mlir::Value, mlir::Value> memo;
  llvm::DenseMap<mlir::Value, bool> sharedKindDependent;
  llvm::StringRef sharedKind;
  IntervalEmitter *independentSource = nullptr;

  mlir::Value unknownOf(mlir::Type t);
  mlir::Value evalOp(mlir::Operation *op, mlir::Value v);
};

/// Whether `v` depends on the token `kind` (attn.index "q" or "k"), memoised in `memo`
/// (one map per kind).
bool dependsOnToken(mlir::Value v, llvm::StringRef kind, llvm::DenseMap<mlir::Value, bool> &memo);

/// Whether an input read's last index is exactly the q or k token (summarizable).
bool isTokenIndexedRead(mlir::Operation *read);

} // namespace attnc::compiler

#endif
