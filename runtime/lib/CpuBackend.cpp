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
} // namespace

Status Context::runReference(const Kernel &kernel, const Arguments &args, int threads) {
  if (Status s = validate(kernel, args, false); !s.ok())
    return s;
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
        if (args.lse.data)
          args.lse
              .data[b * args.lse.strideBatch + h * args.lse.strideHead + q * args.lse.strideToken] =
              float(result.lseAt(b, h, q));
      }
  return Status::success();
}

Status Context::runReferenceBackward(const Kernel &kernel, const Arguments &args, int threads) {
  (void)threads;
  if (Status s = validateBackward(kernel, args, false); !s.ok())
    return s;
  return Status(StatusCode::Unsupported, "the reference backward is not bound to the API yet");
}

} // namespace attnc::runtime
