// The callee names of the hook vocabulary (HookVocabulary.def), for the emitters: a callee
// is spelled hooks::attnc_iv_add, so a name outside the vocabulary does not compile.
#pragma once

#include "llvm/ADT/StringRef.h"

namespace attnc::compiler::hooks {

#define ATTNC_HOOK(name, type) inline constexpr llvm::StringLiteral name{#name};
#define ATTNC_HOOK_GENERATED(name) inline constexpr llvm::StringLiteral name{#name};
#include "HookVocabulary.def"

/// attnc_<kind> of an attn.shape kind (batch, heads, kv_heads, q_len, kv_len, d).
llvm::StringRef shape(llvm::StringRef kind);
/// attnc_read_<elem>_<rank> of an input element type and rank 1..4.
llvm::StringRef reader(llvm::StringRef elem, unsigned rank);
/// Whether `callee` is a prelude function or CUDA math function of the vocabulary.
bool isPreludeCallee(llvm::StringRef callee);
/// Whether `callee` is a function the compiler defines in the module (attnc_route_*).
bool isGeneratedCallee(llvm::StringRef callee);

} // namespace attnc::compiler::hooks
