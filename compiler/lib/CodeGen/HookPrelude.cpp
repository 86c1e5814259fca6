//===- HookPrelude.cpp - Helpers the generated hooks call -----------------===//
//
// Int semantics: i32 wrapping; all interval bounds are kept in 64 bits and a result
// that leaves the i32 range becomes the full range with `wrapped` set, because the
// concrete i32 computation wraps there and any value is then possible.
// Tri-valued Bool (AttncTv): bit 0 = "may be false", bit 1 = "may be true".
//
//===----------------------------------------------------------------------===//
#include "HookPrelude.h"

namespace attnc::compiler {

const char *hookPrelude() {
  // The text of hook_prelude.cuh, embedded at build time (compiler/cmake/EmbedText.cmake);
  // the host tile classifier (HostClassifier.cpp) #includes the same file.
  return
#include "HookPreludeText.inc"
      ;
}

const char *hookBackwardPrelude() {
  return
#include "HookPreludeBackwardText.inc"
      ;
}

} // namespace attnc::compiler
