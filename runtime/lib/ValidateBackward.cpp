//===- ValidateBackward.cpp - Context::validateBackward -------------------===//
//
// The backward's argument rules on top of the forward's: LSE bound, dO shaped like O,
// dQ, dK, dV like Q, K, V (with the same device rules), and input gradients only for
// declared float inputs. Like validate(), they read the kernel manifest; whether the score
// or out expression reads an input is known here only from a kernel compiled with its
// derivative hooks (GeneratedHooks::gradReads), otherwise runReferenceBackward and the
// backward launch enforce it.
//
//===----------------------------------------------------------------------===//
#include "ArgumentRules.h"

#include <string>

namespace attnc::runtime {

namespace {
Status checkInputGrads(const Kernel &kernel, const Arguments &args) {
  const KernelManifest &manifest = kernel.manifest();
  const compiler::GeneratedHooks &hooks = kernel.hooks();
  std::vector<std::vector<int64_t>> dims;
  std::string error;
  if (!evaluateInputDims(manifest, shapeOf(args), dims, error))
    return invalid("cannot evaluate the input dims: " + error);
  for (const auto &[name, grad] : args.inputGrads) {
    size_t i = 0;
    while (i < manifest.inputs.size() && manifest.inputs[i].name != name)
      ++i;
    if (i == manifest.inputs.size()) {
      std::string declared;
      for (const auto &input : manifest.inputs)
        declared += (declared.empty() ? "" : ", ") + input.name;
      return invalid(
          "a gradient was asked for '" + name + "', but attention '" + manifest.attention +
          "' has no input of that name (inputs: " + (declared.empty() ? "none" : declared) + ")");
    }
    const ManifestInput &decl = manifest.inputs[i];
    if (dsl::scalarTypeOf(decl.elementType) != dsl::Type::Float)
      return invalid("a gradient was asked for " +
                     std::string(decl.elementType == dsl::ElementType::U8 ? "bool" : "integer") +
                     " input '" + name + "' (" + dsl::elementTypeName(decl.elementType) +
                     "): only float inputs are differentiated");
    if (hooks.hasBackward) {
      int slot = -1;
      for (const compiler::InputSlot &input : hooks.inputs)
        if (input.name == name)
          slot = input.slot;
      bool read = false;
      for (const compiler::GradReadSite &site : hooks.gradReads)
        read = read || site.slot == slot;
      if (!read)
        return invalid("a gradient was asked for input '" + name +
                       "', which neither the score nor the out expression reads (masks and "
                       "routing are not differentiated)");
    }
    if (!grad.data)
      return invalid("the gradient of input '" + name + "' is bound to a null pointer");
    if (!grad.strides.empty() && grad.strides.size() != dims[i].size())
      return invalid("the gradient of input '" + name + "' has " +
                     std::to_string(grad.strides.size()) + " strides for the " +
                     std::to_string(dims[i].size()) + " dims of " + shapeText(dims[i]));
    for (int64_t stride : grad.strides)
      if (stride < 0)
        return invalid("the gradient of input '" + name + "' has a negative stride");
  }
  return Status::success();
}
} // namespace

Status Context::validateBackward(const Kernel &kernel, const Arguments &args, bool forGpu) const {
  if (Status s = validate(kernel, args, forGpu); !s.ok())
    return s;
  if (!args.lse.data)
    return invalid("the backward needs the forward's LSE (not bound)");
  if (args.dLse.data &&
      (args.dLse.strideBatch < 0 || args.dLse.strideHead < 0 || args.dLse.strideToken < 0))
    return invalid("dLSE has a negative stride");
  if (args.dLse.data && forGpu && args.dLse.strideToken != 1)
    return invalid("dLSE must have a token stride of 1 on the GPU");
  const KernelManifest &manifest = kernel.manifest();
  dsl::ElementType gpuType = manifest.bf16 ? dsl::ElementType::BF16 : dsl::ElementType::F16;
  const char *names[] = {"dO", "dQ", "dK", "dV"};
  const char *likeNames[] = {"O", "Q", "K", "V"};
  const QkvTensor *grads[] = {&args.dO, &args.dQ, &args.dK, &args.dV};
  const QkvTensor *likes[] = {&args.o, &args.q, &args.k, &args.v};
  for (int i = 0; i < 4; ++i) {
    if (Status s = checkQkv(names[i], *grads[i], forGpu, gpuType); !s.ok())
      return s;
    if (Status s = checkSameShape(names[i], *grads[i], likeNames[i], *likes[i]); !s.ok())
      return s;
  }
  return checkInputGrads(kernel, args);
}

} // namespace attnc::runtime
