//===- ValidateBackward.cpp - Context::validateBackward -------------------===//
#include "ArgumentRules.h"

namespace attnc::runtime {

Status Context::validateBackward(const Kernel &kernel, const Arguments &args, bool forGpu) const {
  if (Status s = validate(kernel, args, forGpu); !s.ok())
    return s;
  if (!args.lse.data)
    return invalid("the backward needs the forward's LSE (not bound)");
  return Status::success();
}

} // namespace attnc::runtime
