//===- ManifestBuilder.h - Fill a KernelManifest from the checked program -*- C++ -*-===//
//
// The compile side of the manifest: the only place that reads the AST for it. The launch
// side (Validate.cpp, Launch.cpp, RoutePlan.cpp) reads the manifest alone.
//
//===----------------------------------------------------------------------===//
#ifndef ATTNC_RUNTIME_MANIFESTBUILDER_H
#define ATTNC_RUNTIME_MANIFESTBUILDER_H

#include "attnc/compiler/Codegen.h"
#include "attnc/dsl/AST.h"
#include "attnc/runtime/KernelManifest.h"
#include "attnc/runtime/KernelSource.h"

#include <string>

namespace attnc::runtime {

/// The program-level part: name, arch, dtype, head dim, params, inputs (dimension
/// programs) and route geometry. `hooks` (null for arch "none") supplies the slots and the
/// summarized inputs. False with `error` for a program the checker should have rejected.
bool buildKernelManifest(const dsl::Program &program, const dsl::AttentionDecl &attention,
                         const compiler::GeneratedHooks *hooks, const std::string &arch, bool bf16,
                         int headDim, KernelManifest &out, std::string &error);

/// The tile policy of the binary assembled for `config`: the template, its entry points
/// and the launch table the portable template documents.
TilePolicy tilePolicyFor(const KernelConfig &config);

} // namespace attnc::runtime

#endif // ATTNC_RUNTIME_MANIFESTBUILDER_H
