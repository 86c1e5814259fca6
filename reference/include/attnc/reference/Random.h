//===- Random.h - Seeded, platform-independent test inputs --------*- C++ -*-===//
//
// Deterministic inputs for the reference, the golden tests, `attnc run` and GPU tests.
// Everything here is integer arithmetic plus exactly rounded float operations, so the same
// seed gives bit-identical tensors on every platform and compiler (no std::*_distribution,
// no libm). docs/reference.md documents the algorithms:
//
//  - SplitMix64 (Steele, Lea, Flood 2014): state += 0x9E3779B97F4A7C15, then the
//    variant-13 finaliser of the state.
//  - uniformSigned(): k = top 24 bits of next(); value = (2k + 1 - 2^24) / 2^24, an odd
//    multiple of 2^-24 in (-1, 1): exactly representable in float32, never zero.
//  - normalish(): the sum of three uniformSigned() values (Irwin-Hall, mean 0, variance 1,
//    range (-3, 3)); a sum of three odd multiples of 2^-24 is never zero.
//  - every tensor draws from its own stream, seeded with mixSeed(seed, fnv1a64(name)), so
//    adding an input never changes Q, K or V.
//
//===----------------------------------------------------------------------===//
#ifndef ATTNC_REFERENCE_RANDOM_H
#define ATTNC_REFERENCE_RANDOM_H

#include "attnc/reference/HostTensor.h"
#include "attnc/reference/Reference.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace attnc::reference {

class SplitMix64 {
public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}
  uint64_t next();
  /// Uniform integer in [0, bound) (bound >= 1), unbiased (rejection sampling).
  uint64_t below(uint64_t bound);
  /// Odd multiple of 2^-24 in (-1, 1); exact in float32, never zero.
  double uniformSigned();
  /// Sum of three uniformSigned(): mean 0, variance 1, in (-3, 3), never zero.
  double normalish();
  /// Bernoulli(1/2).
  bool coin() { return (next() >> 63) != 0; }

private:
  uint64_t state_;
};

/// 64-bit FNV-1a of a string (stream names).
uint64_t fnv1a64(std::string_view text);
/// A well-mixed seed for stream `stream` of the run seeded `seed`.
uint64_t mixSeed(uint64_t seed, uint64_t stream);

enum class Distribution : uint8_t { Uniform, Normal };

/// Fills `tensor` (any dtype) with values of `dist`, converted to its dtype
/// (round-to-nearest-even; float32 values are exact). Integer dtypes get values in
/// {-1, 1} (Uniform: sign) -- use the dedicated generators below for integer data.
void fillFloats(OwnedTensor &tensor, SplitMix64 &rng, Distribution dist);

/// Monotone segment ids (0, 0, 1, 1, 1, 2, ...) of random lengths for `length` tokens:
/// min(16, max(1, length / 16)) segments split at distinct random cut points.
std::vector<int64_t> segmentIds(int64_t length, SplitMix64 &rng);

/// Options of makeProblemInputs.
struct InputOptions {
  DType qkvType = DType::F32;
  Distribution qkvDistribution = Distribution::Normal;
  /// The most bytes makeProblemInputs allocates for Q, K, V and the inputs together;
  /// 0 means referenceMemoryLimit(). Sizes that overflow are refused whatever the limit.
  uint64_t maxBytes = 0;
  /// false: Q, K and V get no storage (tools that evaluate only an unrouted mask).
  bool qkv = true;
  /// When set, only the inputs named here get data (e.g. those the mask reads).
  std::optional<std::vector<std::string>> onlyInputs;
};

/// Q, K, V and every declared input of one attention, generated deterministically.
struct ProblemInputs {
  ProblemShape shape;
  OwnedTensor q, k, v; ///< BHSD: [batch, heads|kvHeads, qLen|kvLen, d]
  struct Input {
    std::string name;
    OwnedTensor tensor;
  };
  std::vector<Input> inputs; ///< in declaration order

  /// A problem viewing these tensors (BHSD), with no params and the default scale. A
  /// tensor left without storage (InputOptions::qkv, onlyInputs) is viewed with its dims
  /// and zero strides over one zero element.
  ReferenceProblem problem() const;
};

/// Generates inputs for `attention` at `shape` from `seed`. Per input, by element type:
///  - i32/i64 with a dim that is exactly `q_len` or `kv_len`: monotone segment ids
///    along the last such axis (independent per other index): document ids;
///  - other i32/i64 and u8: 0/1 flags (Bernoulli 1/2);
///  - f32/f16/bf16: uniformSigned() values (gates, biases).
/// Returns false and sets `error` when an input's dims cannot be evaluated, or when the
/// tensors would need more than `options.maxBytes` (the error names the tensor and its
/// shape); nothing is allocated then.
bool makeProblemInputs(const dsl::Program &program, const dsl::AttentionDecl &attention,
                       const ProblemShape &shape, uint64_t seed, ProblemInputs &inputs,
                       std::string &error, const InputOptions &options = {});

} // namespace attnc::reference

#endif // ATTNC_REFERENCE_RANDOM_H
