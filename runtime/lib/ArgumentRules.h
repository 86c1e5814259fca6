//===- ArgumentRules.h - Checks and views of Arguments shared by the backends -*- C++ -*-===//
//
// What validation, the GPU launch and the CPU backend all need to know about a call's
// Arguments, read against the kernel manifest only.
//
//===----------------------------------------------------------------------===//
#ifndef ATTNC_RUNTIME_LIB_ARGUMENTRULES_H
#define ATTNC_RUNTIME_LIB_ARGUMENTRULES_H

#include "attnc/runtime/KernelManifest.h"
#include "attnc/runtime/Runtime.h"

#include <cstdint>
#include <string>
#include <vector>

namespace attnc::runtime {

inline Status invalid(std::string message) {
  return Status(StatusCode::InvalidArgument, std::move(message));
}

/// "[2, 5]".
std::string shapeText(const std::vector<int64_t> &dims);

/// The element strides of an input: its own, or row-major over its dims when empty.
std::vector<int64_t> stridesOf(const InputTensor &t);

/// Q, K, V, O (and the backward's dO, dQ, dK, dV): bound, positive dims, non-negative
/// strides; for the GPU also `gpuType`, 16-byte alignment and strides of whole 16-byte
/// vectors; for the CPU an f32, f16 or bf16 element type. `name` is used in messages.
Status checkQkv(const char *name, const QkvTensor &t, bool forGpu, dsl::ElementType gpuType);

/// `t` (already checked on its own) has the shape of `like`; `name` and `likeName` are used in
/// messages ("tensor dQ must have Q's shape [...] but has [...]").
Status checkSameShape(const char *name, const QkvTensor &t, const char *likeName,
                      const QkvTensor &like);

/// The problem shape of a call, as input dimensions read it.
ManifestShape shapeOf(const Arguments &args);

/// Every declared param with its final value (argument, else default), in declaration
/// order; InvalidArgument for unknown names, missing values, wrong types, ints beyond 32
/// bits and floats beyond fp32 (or NaN).
Status resolveParams(const KernelManifest &manifest, const Arguments &args,
                     std::vector<dsl::ConstValue> &values);

} // namespace attnc::runtime

#endif // ATTNC_RUNTIME_LIB_ARGUMENTRULES_H
