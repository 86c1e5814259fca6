//===- CpuBackend.cpp - Context::runReference: the float64 CPU backend ----===//
//
// The one runtime source that includes the CPU reference (reference/): it is built as its
// own library (attnc_cpu_backend), so the GPU path (attnc_runtime) cannot reach the
// reference, and a test checks its objects for reference symbols.
//
//===----------------------------------------------------------------------===//
#include "ArgumentRules.h"

#include "attnc/reference/HostTensor.h"
#include "attnc/reference/Reference.h"
#include "attnc/runtime/Runtime.h"

#include <cstdint>
#include <string>
#include <vector>

namespace attnc::runtime {

namespace {
reference::TensorView viewOf(const QkvTensor &t) {
  reference::TensorView view;
  view.dtype = static_cast<reference::DType>(t.dtype);
  view.data = t.data;
  view.dims = {t.batch, t.heads, t.tokens, t.headDim};
  view.strides = {t.strideBatch, t.strideHead, t.strideToken, 1};
  return view;
}

void storeElement(void *base, int64_t offset, dsl::ElementType type, double value) {
  switch (type) {
  case dsl::ElementType::F32:
    static_cast<float *>(base)[offset] = float(value);
    break;
  case dsl::ElementType::F16:
    static_cast<uint16_t *>(base)[offset] = reference::floatToHalf(float(value));
    break;
  default:
    static_cast<uint16_t *>(base)[offset] = reference::floatToBFloat16(float(value));
    break;
  }
}
/// The reference's view of a validated call.
reference::ReferenceProblem problemOf(const Arguments &args, int threads) {
  reference::ReferenceProblem problem;
  problem.shape.batch = args.q.batch;
  problem.shape.heads = args.q.heads;
  problem.shape.kvHeads = args.k.heads;
  problem.shape.qLen = args.q.tokens;
  problem.shape.kvLen = args.k.tokens;
  problem.shape.headDim = args.q.headDim;
  if (args.scale)
    problem.scale = double(*args.scale);
  problem.q = viewOf(args.q);
  problem.k = viewOf(args.k);
  problem.v = viewOf(args.v);
  problem.threads = threads;
  for (const auto &[name, tensor] : args.inputs) {
    reference::TensorView view;
    view.dtype = static_cast<reference::DType>(tensor.dtype);
    view.data = tensor.data;
    view.dims = tensor.dims;
    view.strides = stridesOf(tensor);
    problem.inputs.push_back({name, view});
  }
  for (const auto &[name, value] : args.params)
    problem.params.push_back({name, value});
  return problem;
}

/// Stores a row-major [batch, heads, tokens, d] float64 result into `t` (its dims).
void storeQkv(const QkvTensor &t, const std::vector<double> &values) {
  size_t i = 0;
  for (int b = 0; b < t.batch; ++b)
    for (int h = 0; h < t.heads; ++h)
      for (int n = 0; n < t.tokens; ++n) {
        int64_t row = b * t.strideBatch + h * t.strideHead + n * t.strideToken;
        for (int c = 0; c < t.headDim; ++c)
          storeElement(t.data, row + c, t.dtype, values[i++]);
      }
}

/// Stores a row-major float64 input gradient as float32 at the strides of `t`.
void storeInputGrad(const InputGradTensor &t, const std::vector<int64_t> &dims,
                    const std::vector<double> &values) {
  InputTensor shape;
  shape.dims = dims;
  shape.strides = t.strides;
  const std::vector<int64_t> strides = stridesOf(shape);
  std::vector<int64_t> index(dims.size(), 0);
  for (double value : values) {
    int64_t offset = 0;
    for (size_t n = 0; n < dims.size(); ++n)
      offset += index[n] * strides[n];
    t.data[offset] = float(value);
    for (size_t n = dims.size(); n-- > 0;) {
      if (++index[n] < dims[n])
        break;
      index[n] = 0;
    }
  }
}
} // namespace

Status Context::runReference(const Kernel &kernel, const Arguments &args, int threads) {
  if (Status s = validate(kernel, args, false); !s.ok())
    return s;
  reference::ReferenceProblem problem = problemOf(args, threads);
  reference::ReferenceResult result;
  std::string error;
  if (!reference::runReference(kernel.program(), kernel.attention(), problem, result, error))
    return invalid(error);
  const QkvTensor &o = args.o;
  for (int b = 0; b < o.batch; ++b)
    for (int h = 0; h < o.heads; ++h)
      for (int q = 0; q < o.tokens; ++q) {
        int64_t row = b * o.strideBatch + h * o.strideHead + q * o.strideToken;
        for (int c = 0; c < o.headDim; ++c)
          storeElement(o.data, row + c, o.dtype, result.outAt(b, h, q, c));
        if (const QkvTensor &ob = args.oBeforeOut; ob.data != nullptr) {
          // (validate: only programs with `out`, which fill outBeforeOut)
          const int64_t rowBefore = b * ob.strideBatch + h * ob.strideHead + q * ob.strideToken;
          for (int c = 0; c < o.headDim; ++c)
            storeElement(ob.data, rowBefore + c, ob.dtype, result.outBeforeOutAt(b, h, q, c));
        }
        if (args.lse.data)
          args.lse
              .data[b * args.lse.strideBatch + h * args.lse.strideHead + q * args.lse.strideToken] =
              float(result.lseAt(b, h, q));
      }
  return Status::success();
}

Status Context::runReferenceBackward(const Kernel &kernel, const Arguments &args, int threads) {
  if (Status s = validateBackward(kernel, args, false); !s.ok())
    return s;
  reference::ReferenceProblem problem = problemOf(args, threads);
  std::vector<std::string> gradInputs;
  for (const auto &[name, grad] : args.inputGrads)
    gradInputs.push_back(name);
  reference::ReferenceGradients grads;
  std::string error;
  reference::TensorView dLse;
  if (args.dLse.data) {
    dLse.dtype = reference::DType::F32;
    dLse.data = args.dLse.data;
    dLse.dims = {args.q.batch, args.q.heads, args.q.tokens};
    dLse.strides = {args.dLse.strideBatch, args.dLse.strideHead, args.dLse.strideToken};
  }
  if (!reference::runReferenceBackward(kernel.program(), kernel.attention(), problem,
                                       viewOf(args.dO), gradInputs, grads, error,
                                       args.dLse.data ? &dLse : nullptr))
    return invalid(error);
  storeQkv(args.dQ, grads.dq);
  storeQkv(args.dK, grads.dk);
  storeQkv(args.dV, grads.dv);
  for (const reference::InputGradient &g : grads.inputs)
    storeInputGrad(args.inputGrads.at(g.name), g.dims, g.values);
  return Status::success();
}

} // namespace attnc::runtime
