//===- Slots.h - Where params and inputs live in AttncArgs --------*- C++ -*-===//
//
// The slots are assigned when the attn module is built (planSlots, ASTToAttn.h);
// generateHooks adds what the mask does with each input, and GeneratedHooks (Codegen.h)
// carries them to the runtime.
//
//===----------------------------------------------------------------------===//
#ifndef ATTNC_COMPILER_SLOTS_H
#define ATTNC_COMPILER_SLOTS_H

#include "attnc/dsl/AST.h"

#include <string>

namespace attnc::compiler {

/// Where a `param` lives in AttncArgs: iparam[slot] (Int, Bool) or fparam[slot] (Float).
struct ParamSlot {
  std::string name;
  dsl::Type type = dsl::Type::Int;
  int slot = 0;
  bool hasDefault = false;
  dsl::ConstValue defaultValue;
};

/// Where an `input` lives in AttncArgs: input[slot].
struct InputSlot {
  std::string name;
  dsl::ElementType elementType = dsl::ElementType::F32;
  int rank = 1;
  int slot = 0;
  bool summarized = false; ///< needs a per-block min/max summary pre-pass
  bool inMask = false;     ///< the mask reads it (the classifier may read it)
};

} // namespace attnc::compiler

#endif // ATTNC_COMPILER_SLOTS_H
