//===- TokenRanges.h - Closed-form token intervals from the mask --*- C++ -*-===//
//
// One analysis, two directions: attn-kv-ranges solves the mask for the key token over a
// range of queries (@attnc_kv_ranges, the forward's key loop), attn-q-ranges for the
// query token over a range of keys (@attnc_q_ranges, the dK/dV loop of the backward).
// KvRanges.cpp describes the method.
//
//===----------------------------------------------------------------------===//
#ifndef ATTNC_COMPILER_TRANSFORMS_TOKENRANGES_H
#define ATTNC_COMPILER_TRANSFORMS_TOKENRANGES_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Support/LogicalResult.h"

namespace attnc::compiler {

/// The token the intervals are of.
enum class SolvedToken { Key, Query };

/// Adds `func.func @attnc_kv_ranges(a, b, h, q_lo, q_hi, lo, hi) -> i32` (Key) or
/// `@attnc_q_ranges(a, b, h, k_lo, k_hi, lo, hi) -> i32` (Query) for the module's attn.spec,
/// with `attnc.bounded` / `attnc.exact` as it finds them. Fails (with an error naming
/// `passName`) on a module with more than one spec.
mlir::LogicalResult addTokenRanges(mlir::ModuleOp module, SolvedToken token,
                                   llvm::StringRef passName);

} // namespace attnc::compiler

#endif
