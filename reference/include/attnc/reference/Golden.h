//===- Golden.h - Golden-output cases and files -------------------*- C++ -*-===//
//
// A golden case names an example program, a shape, a seed and the const (-D) / param
// overrides it runs with; its golden file stores the reference output (float32 O and LSE).
// The case list is tests/golden/MANIFEST.txt; `attnc-golden` regenerates and verifies.
// docs/reference.md documents the manifest syntax, the binary format and the tolerances.
//
//===----------------------------------------------------------------------===//
#ifndef ATTNC_REFERENCE_GOLDEN_H
#define ATTNC_REFERENCE_GOLDEN_H

#include "attnc/dsl/Frontend.h"
#include "attnc/reference/Reference.h"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace attnc::reference {

struct GoldenCase {
  std::string name;    ///< unique; the file is <name>.gold
  std::string example; ///< examples/<example>.attn
  ProblemShape shape;
  uint64_t seed = 0;
  DType qkvType = DType::F32;
  std::vector<dsl::ConstOverride> consts;                  ///< const:NAME=VALUE
  std::vector<std::pair<std::string, std::string>> params; ///< param:NAME=VALUE

  /// The canonical manifest line of this case (also stored in the golden file).
  std::string toLine() const;
};

/// Parses one manifest line: NAME EXAMPLE B,H,HKV,Q,KV,D SEED [const:N=V] [param:N=V]
/// [dtype:T]. Returns false and sets `error` when malformed.
bool parseGoldenCase(const std::string &line, GoldenCase &out, std::string &error);
/// Parses a manifest (blank lines and lines starting with '#' are ignored).
bool parseManifest(const std::string &text, std::vector<GoldenCase> &cases, std::string &error);

/// The stored result of one case.
struct GoldenFile {
  std::string caseLine; ///< GoldenCase::toLine() of the case that produced it
  ProblemShape shape;
  uint64_t seed = 0;
  double scale = 0.0;
  uint64_t keptPairs = 0;
  std::vector<float> out; ///< [b, h, q, d]
  std::vector<float> lse; ///< [b, h, q]
};

bool writeGoldenFile(const std::string &path, const GoldenFile &file, std::string &error);
bool readGoldenFile(const std::string &path, GoldenFile &file, std::string &error);

/// Loads examples/<example>.attn with the case's const overrides, generates its inputs
/// (makeProblemInputs with the case's seed and dtype), binds its params and runs the
/// reference.
bool runGoldenCase(const GoldenCase &c, const std::string &examplesDir, ReferenceResult &result,
                   double &scale, std::string &error);

/// Pass when |got - want| <= atol + rtol * |want| for every element of O and LSE; -inf
/// must match -inf exactly; NaN never passes; keptPairs must match exactly.
struct GoldenTolerance {
  double atol = 1e-6;
  double rtol = 1e-5;
};

struct GoldenComparison {
  bool ok = false;
  size_t mismatches = 0;
  double maxAbsError = 0.0;
  double maxRelError = 0.0;
  std::string firstMismatch; ///< human-readable description, empty if none
};

GoldenComparison compareWithGolden(const ReferenceResult &result, const GoldenFile &golden,
                                   const GoldenTolerance &tolerance);

} // namespace attnc::reference

#endif // ATTNC_REFERENCE_GOLDEN_H
