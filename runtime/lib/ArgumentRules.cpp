//===- ArgumentRules.cpp - Checks and views of Arguments ------------------===//
#include "ArgumentRules.h"

#include <cmath>
#include <limits>

namespace attnc::runtime {

std::string shapeText(const std::vector<int64_t> &dims) {
  std::string text = "[";
  for (size_t i = 0; i < dims.size(); ++i)
    text += (i ? ", " : "") + std::to_string(dims[i]);
  return text + "]";
}

std::vector<int64_t> stridesOf(const InputTensor &t) {
  if (!t.strides.empty())
    return t.strides;
  std::vector<int64_t> strides(t.dims.size(), 1);
  for (int n = int(t.dims.size()) - 2; n >= 0; --n)
    strides[n] = strides[n + 1] * t.dims[n + 1];
  return strides;
}

ManifestShape shapeOf(const Arguments &args) {
  ManifestShape shape;
  shape.batch = args.q.batch;
  shape.heads = args.q.heads;
  shape.kvHeads = args.k.heads;
  shape.qLen = args.q.tokens;
  shape.kvLen = args.k.tokens;
  shape.headDim = args.q.headDim;
  return shape;
}

Status resolveParams(const KernelManifest &manifest, const Arguments &args,
                     std::vector<dsl::ConstValue> &values) {
  for (const auto &[name, value] : args.params) {
    bool known = false;
    for (const auto &param : manifest.params)
      known = known || param.name == name;
    if (!known) {
      std::string names;
      for (const auto &param : manifest.params)
        names += (names.empty() ? "" : ", ") + param.name;
      return invalid("attention '" + manifest.attention + "' has no param '" + name +
                     "' (params: " + (names.empty() ? "none" : names) + ")");
    }
  }
  values.clear();
  for (const auto &param : manifest.params) {
    auto it = args.params.find(param.name);
    dsl::ConstValue value;
    if (it != args.params.end()) {
      value = it->second;
      if (param.type == dsl::Type::Float && value.type == dsl::Type::Int) {
        value.type = dsl::Type::Float;
        value.f = double(value.i);
      }
      if (value.type != param.type)
        return invalid("param '" + param.name + "' is " + dsl::typeName(param.type) + " but a " +
                       dsl::typeName(value.type) + " value was given");
      if (param.type == dsl::Type::Int && (value.i < std::numeric_limits<int32_t>::min() ||
                                           value.i > std::numeric_limits<int32_t>::max()))
        return invalid("param '" + param.name + "' = " + std::to_string(value.i) +
                       " does not fit a 32-bit int");
      // As in the CLI and Python: NaN has no meaning as a param, and a finite value beyond
      // fp32 would be inf on the GPU but finite in the float64 reference.
      if (param.type == dsl::Type::Float &&
          (std::isnan(value.f) ||
           (std::isfinite(value.f) && std::fabs(value.f) > std::numeric_limits<float>::max())))
        return invalid("param '" + param.name + "' = " + std::to_string(value.f) +
                       (std::isnan(value.f) ? " is NaN" : " is outside the float32 range"));
    } else if (param.defaultValue) {
      value = *param.defaultValue;
    } else {
      return invalid("param '" + param.name + "' has no default value and was not set");
    }
    values.push_back(value);
  }
  return Status::success();
}

} // namespace attnc::runtime
