// The members of a program's variant (struct AttncProgram, Codegen.cpp): the functions the
// compiler generates that the kernel templates call as V::member.
#pragma once

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"

namespace attnc::compiler::hooks {

/// V::member forwards to the generated `function`.
struct VariantHook {
  llvm::StringLiteral function;
  llvm::StringLiteral member;
};
/// Every such function, in the order the variant declares them.
llvm::ArrayRef<VariantHook> variantHooks();

} // namespace attnc::compiler::hooks
