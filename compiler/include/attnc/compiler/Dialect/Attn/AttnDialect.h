//===- AttnDialect.h - The attn dialect ---------------------------*- C++ -*-===//
#ifndef ATTNC_COMPILER_DIALECT_ATTN_ATTNDIALECT_H
#define ATTNC_COMPILER_DIALECT_ATTN_ATTNDIALECT_H

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Dialect.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/ControlFlowInterfaces.h"
#include "mlir/Interfaces/InferIntRangeInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "attnc/compiler/Dialect/Attn/AttnDialect.h.inc"

#define GET_OP_CLASSES
#include "attnc/compiler/Dialect/Attn/AttnOps.h.inc"

#endif // ATTNC_COMPILER_DIALECT_ATTN_ATTNDIALECT_H
