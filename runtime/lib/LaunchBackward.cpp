//===- LaunchBackward.cpp - Context::launchBackward -----------------------===//
#include "ArgumentRules.h"
#include "KernelState.h"

namespace attnc::runtime {

Status Context::launchBackward(const Kernel &kernel, const Arguments &args, void *stream) {
  (void)stream;
  if (Status s = validateBackward(kernel, args, true); !s.ok())
    return s;
  return Status(StatusCode::Unsupported, "the GPU backward is not built yet");
}

} // namespace attnc::runtime
