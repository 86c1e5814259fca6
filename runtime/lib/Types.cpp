//===- Types.cpp - Status, dtypes, tensors and arguments of the C++ API ---===//
#include "attnc/runtime/Runtime.h"

#include <string>

namespace attnc::runtime {

const char *statusCodeName(StatusCode code) {
  switch (code) {
  case StatusCode::Ok:
    return "ok";
  case StatusCode::InvalidArgument:
    return "invalid argument";
  case StatusCode::ParseError:
    return "errors in the program";
  case StatusCode::CompileError:
    return "compilation failed";
  case StatusCode::NoDevice:
    return "no CUDA device";
  case StatusCode::CudaError:
    return "CUDA error";
  case StatusCode::Unsupported:
    return "unsupported";
  case StatusCode::IoError:
    return "I/O error";
  case StatusCode::Internal:
    return "internal error";
  }
  return "unknown status";
}

const char *dataTypeName(DataType type) { return type == DataType::BF16 ? "bf16" : "fp16"; }

namespace {
struct DataTypeSpelling {
  const char *text;
  DataType type;
};
constexpr DataTypeSpelling kDataTypeSpellings[] = {
    {"bf16", DataType::BF16}, {"bfloat16", DataType::BF16}, {"fp16", DataType::F16},
    {"f16", DataType::F16},   {"float16", DataType::F16},   {"half", DataType::F16}};
} // namespace

const char *dataTypeSpellings() {
  static const std::string text = [] {
    std::string t;
    for (const DataTypeSpelling &s : kDataTypeSpellings)
      t += (t.empty() ? "" : ", ") + std::string(s.text);
    return t;
  }();
  return text.c_str();
}

Status parseDataType(std::string_view text, DataType &type) {
  for (const DataTypeSpelling &s : kDataTypeSpellings)
    if (text == s.text) {
      type = s.type;
      return Status::success();
    }
  return Status(StatusCode::InvalidArgument,
                "unknown dtype '" + std::string(text) +
                    "' (the kernels compute in bf16 or fp16: " + dataTypeSpellings() + ")");
}

Status checkHeadDim(int headDim) {
  if (headDim == 64 || headDim == 128 || headDim == 256)
    return Status::success();
  return Status(StatusCode::InvalidArgument,
                "head dim " + std::to_string(headDim) +
                    " is not supported (the kernels support 64, 128 and 256)");
}

QkvTensor QkvTensor::bhsd(void *data, int batch, int heads, int tokens, int headDim,
                          dsl::ElementType dtype) {
  QkvTensor t;
  t.data = data;
  t.batch = batch;
  t.heads = heads;
  t.tokens = tokens;
  t.headDim = headDim;
  t.strideToken = headDim;
  t.strideHead = int64_t(tokens) * headDim;
  t.strideBatch = int64_t(heads) * tokens * headDim;
  t.dtype = dtype;
  return t;
}

QkvTensor QkvTensor::bshd(void *data, int batch, int heads, int tokens, int headDim,
                          dsl::ElementType dtype) {
  QkvTensor t = bhsd(data, batch, heads, tokens, headDim, dtype);
  t.strideHead = headDim;
  t.strideToken = int64_t(heads) * headDim;
  t.strideBatch = int64_t(tokens) * heads * headDim;
  return t;
}

void Arguments::setParam(const std::string &name, int value) {
  dsl::ConstValue v;
  v.type = dsl::Type::Int;
  v.i = value;
  params[name] = v;
}

void Arguments::setParam(const std::string &name, double value) {
  dsl::ConstValue v;
  v.type = dsl::Type::Float;
  v.f = value;
  params[name] = v;
}

void Arguments::setParam(const std::string &name, bool value) {
  dsl::ConstValue v;
  v.type = dsl::Type::Bool;
  v.b = value;
  params[name] = v;
}

} // namespace attnc::runtime
