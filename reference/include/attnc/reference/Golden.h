//===- Golden.h - Golden-output cases and files -------------------*- C++ -*-===//
//
// A golden case names an example program, a shape, a seed and the const (-D) / param
// overrides it runs with; its golden file stores the reference output (float32 O and LSE).
// The case list is tests/golden/MANIFEST.txt; `attnc-golden` regenerates and verifies.
// Backward cases (tests/golden/BACKWARD.txt, same syntax plus grad:NAME) store the
// reference gradients (float32 dQ, dK, dV and the named inputs' gradients) for a dO
// generated from the seed (makeGoldenGradOutput), in <name>.bgold files.
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
  std::vector<std::string> gradInputs;                     ///< grad:NAME (backward cases only)

  /// The canonical manifest line of this case (also stored in the golden file).
  std::string toLine() const;
};

/// Parses one manifest line: NAME EXAMPLE B,H,HKV,Q,KV,D SEED [const:N=V] [param:N=V]
/// [dtype:T] [grad:N]. Returns false and sets `error` when malformed.
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

// ---- Backward goldens ----------------------------------------------------------------

/// The stored gradients of one backward case (all float32, row-major).
struct BackwardGoldenFile {
  std::string caseLine; ///< GoldenCase::toLine() of the case that produced it
  ProblemShape shape;
  uint64_t seed = 0;
  double scale = 0.0;
  uint64_t keptPairs = 0;
  std::vector<float> dq;     ///< [b, h, q, d]
  std::vector<float> dk, dv; ///< [b, kv_h, kv, d]
  struct Input {
    std::string name;
    std::vector<int64_t> dims; ///< the input's declared dims at the case's shape
    std::vector<float> values;
  };
  std::vector<Input> inputs; ///< in the case's grad: order
};

/// Writes the format of docs/reference.md ("Backward goldens"): magic ATTNCBWD, version,
/// the case line, header, payload, and a trailing FNV-1a 64 checksum of everything before.
bool writeBackwardGoldenFile(const std::string &path, const BackwardGoldenFile &file,
                             std::string &error);
/// Reads and checks magic, version, sizes against the header, and the checksum.
bool readBackwardGoldenFile(const std::string &path, BackwardGoldenFile &file, std::string &error);

/// The dO of a backward case: [batch, heads, q_len, d] in `dtype`, normalish() values from
/// SplitMix64(mixSeed(seed, fnv1a64("dO"))) rounded to `dtype` (as `attnc run --backward`
/// draws it), so a bf16 dO is the rounding of the float32 one.
OwnedTensor makeGoldenGradOutput(const ProblemShape &shape, uint64_t seed, DType dtype);

/// As runGoldenCase, then the reference backward on makeGoldenGradOutput in the case's
/// Q/K/V dtype (f32 unless dtype:) with the case's grad: inputs.
bool runBackwardGoldenCase(const GoldenCase &c, const std::string &examplesDir,
                           ReferenceGradients &grads, double &scale, std::string &error);

/// As compareWithGolden, element by element over dQ, dK, dV and every input gradient
/// (names, dims and order must match), and the kept pairs of the recomputed forward.
GoldenComparison compareWithBackwardGolden(const ReferenceGradients &grads,
                                           const BackwardGoldenFile &golden,
                                           const GoldenTolerance &tolerance);

} // namespace attnc::reference

#endif // ATTNC_REFERENCE_GOLDEN_H
