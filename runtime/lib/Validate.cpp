//===- Validate.cpp - Context::validate: arguments against the manifest ---===//
//
// The checks every backend runs before it touches a buffer: Q, K, V, O shapes and strides
// (plus the GPU's dtype, head dim and alignment rules), params and inputs. They read the
// kernel manifest only.
//
//===----------------------------------------------------------------------===//
#include "ArgumentRules.h"

#include <cstdint>
#include <limits>
#include <string>

namespace attnc::runtime {

namespace {
std::string dimsText(const QkvTensor &t) {
  return "[batch " + std::to_string(t.batch) + ", heads " + std::to_string(t.heads) + ", tokens " +
         std::to_string(t.tokens) + ", d " + std::to_string(t.headDim) + "]";
}
} // namespace

Status checkSameShape(const char *name, const QkvTensor &t, const char *likeName,
                      const QkvTensor &like) {
  if (t.batch == like.batch && t.heads == like.heads && t.tokens == like.tokens &&
      t.headDim == like.headDim)
    return Status::success();
  return invalid(std::string("tensor ") + name + " must have " + likeName + "'s shape " +
                 dimsText(like) + " but has " + dimsText(t));
}

Status checkQkv(const char *name, const QkvTensor &t, bool forGpu, dsl::ElementType gpuType) {
  if (!t.data)
    return invalid(std::string("tensor ") + name + " is not bound (null pointer)");
  if (t.batch < 1 || t.heads < 1 || t.tokens < 1 || t.headDim < 1)
    return invalid(std::string("tensor ") + name + " has a non-positive dimension: [batch " +
                   std::to_string(t.batch) + ", heads " + std::to_string(t.heads) + ", tokens " +
                   std::to_string(t.tokens) + ", d " + std::to_string(t.headDim) + "]");
  if (t.strideBatch < 0 || t.strideHead < 0 || t.strideToken < 0)
    return invalid(std::string("tensor ") + name + " has a negative stride");
  if (forGpu) {
    if (t.dtype != gpuType)
      return invalid(std::string("tensor ") + name + " is " + dsl::elementTypeName(t.dtype) +
                     " but the kernel was compiled for " + dsl::elementTypeName(gpuType));
    if (reinterpret_cast<uintptr_t>(t.data) % 16 != 0)
      return invalid(std::string("tensor ") + name +
                     " is not 16-byte aligned (the GPU kernel uses 16-byte vector accesses)");
    if (t.strideBatch % 8 || t.strideHead % 8 || t.strideToken % 8)
      return invalid(std::string("tensor ") + name +
                     " has a stride that is not a multiple of 8 elements (16 bytes): batch " +
                     std::to_string(t.strideBatch) + ", head " + std::to_string(t.strideHead) +
                     ", token " + std::to_string(t.strideToken));
  } else if (t.dtype != dsl::ElementType::F32 && t.dtype != dsl::ElementType::F16 &&
             t.dtype != dsl::ElementType::BF16) {
    return invalid(std::string("tensor ") + name + " must be f32, f16 or bf16 (got " +
                   dsl::elementTypeName(t.dtype) + ")");
  }
  return Status::success();
}

namespace {
/// Every declared input bound, with its declared element type and the dims its declaration
/// gives for this call; nothing else bound.
Status checkInputs(const KernelManifest &manifest, const Arguments &args) {
  const QkvTensor &q = args.q, &k = args.k;
  for (const auto &[name, tensor] : args.inputs) {
    bool known = false;
    for (const auto &input : manifest.inputs)
      known = known || input.name == name;
    if (!known) {
      std::string declared;
      for (const auto &input : manifest.inputs)
        declared += (declared.empty() ? "" : ", ") + input.name;
      return invalid("attention '" + manifest.attention + "' has no input '" + name +
                     "' (inputs: " + (declared.empty() ? "none" : declared) + ")");
    }
  }
  std::vector<std::vector<int64_t>> expectedDims;
  std::string error;
  if (!evaluateInputDims(manifest, shapeOf(args), expectedDims, error))
    return invalid("cannot evaluate the input dims: " + error);
  for (size_t i = 0; i < manifest.inputs.size(); ++i) {
    const ManifestInput &decl = manifest.inputs[i];
    auto it = args.inputs.find(decl.name);
    if (it == args.inputs.end())
      return invalid("input '" + decl.name + "' (" + dsl::elementTypeName(decl.elementType) +
                     shapeText(expectedDims[i]) + ") is not bound");
    const InputTensor &t = it->second;
    if (!t.data)
      return invalid("input '" + decl.name + "' is bound to a null pointer");
    if (t.dtype != decl.elementType)
      return invalid("input '" + decl.name + "' is declared " +
                     dsl::elementTypeName(decl.elementType) + " but a " +
                     dsl::elementTypeName(t.dtype) + " tensor was bound");
    if (t.dims != expectedDims[i])
      return invalid("input '" + decl.name + "' has shape " + shapeText(t.dims) +
                     " but its declaration needs " + shapeText(expectedDims[i]) +
                     " for this call (batch " + std::to_string(q.batch) + ", heads " +
                     std::to_string(q.heads) + ", kv_heads " + std::to_string(k.heads) +
                     ", q_len " + std::to_string(q.tokens) + ", kv_len " +
                     std::to_string(k.tokens) + ", d " + std::to_string(q.headDim) + ")");
    for (int64_t dim : t.dims)
      if (dim > std::numeric_limits<int32_t>::max())
        return invalid("input '" + decl.name + "' has a dim above 2^31 - 1");
    if (!t.strides.empty() && t.strides.size() != t.dims.size())
      return invalid("input '" + decl.name + "' has " + std::to_string(t.strides.size()) +
                     " strides for " + std::to_string(t.dims.size()) + " dims");
    for (int64_t stride : t.strides)
      if (stride < 0)
        return invalid("input '" + decl.name + "' has a negative stride");
  }
  return Status::success();
}
} // namespace

Status Context::validate(const Kernel &kernel, const Arguments &args, bool forGpu) const {
  const KernelManifest &manifest = kernel.manifest();
  dsl::ElementType gpuType = manifest.bf16 ? dsl::ElementType::BF16 : dsl::ElementType::F16;
  const char *names[] = {"Q", "K", "V", "O"};
  const QkvTensor *tensors[] = {&args.q, &args.k, &args.v, &args.o};
  for (int i = 0; i < 4; ++i)
    if (Status s = checkQkv(names[i], *tensors[i], forGpu, gpuType); !s.ok())
      return s;
  const QkvTensor &q = args.q, &k = args.k, &v = args.v, &o = args.o;
  if (k.batch != q.batch || v.batch != q.batch || o.batch != q.batch)
    return invalid("batch sizes differ: Q " + std::to_string(q.batch) + ", K " +
                   std::to_string(k.batch) + ", V " + std::to_string(v.batch) + ", O " +
                   std::to_string(o.batch));
  if (k.headDim != q.headDim || v.headDim != q.headDim || o.headDim != q.headDim)
    return invalid("head dims differ: Q " + std::to_string(q.headDim) + ", K " +
                   std::to_string(k.headDim) + ", V " + std::to_string(v.headDim) + ", O " +
                   std::to_string(o.headDim));
  if (forGpu && q.headDim != manifest.headDim)
    return invalid("head dim " + std::to_string(q.headDim) + " of the tensors differs from the " +
                   std::to_string(manifest.headDim) + " the kernel was compiled for");
  if (v.heads != k.heads)
    return invalid("K has " + std::to_string(k.heads) + " heads but V has " +
                   std::to_string(v.heads));
  if (v.tokens != k.tokens)
    return invalid("K has " + std::to_string(k.tokens) + " tokens but V has " +
                   std::to_string(v.tokens) + " (both are kv_len)");
  if (o.heads != q.heads || o.tokens != q.tokens)
    return invalid("O must have Q's heads and tokens: Q [heads " + std::to_string(q.heads) +
                   ", tokens " + std::to_string(q.tokens) + "], O [heads " +
                   std::to_string(o.heads) + ", tokens " + std::to_string(o.tokens) + "]");
  if (args.oBeforeOut.data != nullptr) {
    if (!kernel.attention().out)
      return invalid("the output before `out` is bound, but '" + kernel.name() +
                     "' has no out expression");
    const char *name = "the output before `out`";
    if (Status s = checkQkv(name, args.oBeforeOut, forGpu, gpuType); !s.ok())
      return s;
    if (Status s = checkSameShape(name, args.oBeforeOut, "O", o); !s.ok())
      return s;
    if (args.oBeforeOut.dtype != o.dtype)
      return invalid(std::string("tensor ") + name + " must have O's dtype");
  }
  if (q.heads % k.heads != 0)
    return invalid("grouped-query attention needs heads % kv_heads == 0, but Q has " +
                   std::to_string(q.heads) + " heads and K/V have " + std::to_string(k.heads));
  if (forGpu && (q.batch > 65535 || q.heads > 65535))
    return invalid("batch and heads must be at most 65535 on the GPU");
  if (args.lse.data && (args.lse.strideBatch < 0 || args.lse.strideHead < 0))
    return invalid("LSE has a negative stride");
  if (args.lse.data && forGpu && args.lse.strideToken != 1)
    return invalid("LSE must have a token stride of 1 on the GPU");

  std::vector<dsl::ConstValue> paramValues;
  if (Status s = resolveParams(manifest, args, paramValues); !s.ok())
    return s;
  return checkInputs(manifest, args);
}

} // namespace attnc::runtime
