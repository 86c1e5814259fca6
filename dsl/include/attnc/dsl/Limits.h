//===- Limits.h - Sizes the language accepts ---------------------*- C++ -*-===//
//
// The checker rejects programs beyond these. The first three are slots of the kernel ABI
// (AttncArgs in abi/include/attnc/abi/KernelArgs.h, which must stay plain C macros
// for NVRTC); the compiler, which maps declarations to those slots, static_asserts that
// the two agree (compiler/lib/Dialect/ASTToAttn.cpp, planSlots).
//
//===----------------------------------------------------------------------===//
#ifndef ATTNC_DSL_LIMITS_H
#define ATTNC_DSL_LIMITS_H

#include <cstddef>

namespace attnc::dsl {

/// Params of one attention (ATTNC_MAX_PARAMS: Int and Bool share iparam[], Float fparam[]).
constexpr size_t kMaxParams = 16;
/// Inputs of one attention (ATTNC_MAX_INPUTS: AttncArgs::input[]).
constexpr size_t kMaxInputs = 8;
/// Dimensions of one input (ATTNC_MAX_RANK: AttncTensor::dim[]; the prelude's readers
/// attnc_read_<type>_1 .. _4).
constexpr size_t kMaxInputRank = 4;
/// Axes of one layout.
constexpr size_t kMaxLayoutAxes = 4;

} // namespace attnc::dsl

#endif // ATTNC_DSL_LIMITS_H
