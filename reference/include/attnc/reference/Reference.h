//===- Reference.h - The float64 CPU reference executor ----------*- C++ -*-===//
//
// An interpreter over the checked AST (dsl/AST.h) that executes any attention program
// exactly as docs/language.md defines it, in float64, independently of the MLIR code
// generator. It is the semantic ground truth for the GPU kernels (`attnc run --check`),
// the golden-output regression tests (tests/golden) and the compiler's tests.
// docs/reference.md describes the API and the semantic choices in detail.
//
//===----------------------------------------------------------------------===//
#ifndef ATTNC_REFERENCE_REFERENCE_H
#define ATTNC_REFERENCE_REFERENCE_H

#include "attnc/dsl/AST.h"
#include "attnc/reference/HostTensor.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace attnc::reference {

/// The default of referenceMemoryLimit(): 4 GiB.
constexpr uint64_t kDefaultReferenceMemoryLimit = uint64_t(4) << 30;

/// The most host memory the reference allocates for one problem: the inputs that
/// makeProblemInputs generates, and separately the working memory of one runReference or
/// evaluateKeepMatrix (float64 copies of Q, K and V, routing tables, O and LSE, the keep
/// matrix). Past it they fail with an error naming what was too large, never allocate.
/// kDefaultReferenceMemoryLimit, or the environment variable ATTNC_REFERENCE_MEMORY_LIMIT:
/// a number of bytes, optionally with a K, M, G or T suffix (powers of 1024); a value that
/// does not parse, or 0, leaves the default.
uint64_t referenceMemoryLimit();

/// The run-time shape of one attention call.
struct ProblemShape {
  int batch = 1;
  int heads = 1;
  int kvHeads = 1; ///< heads % kvHeads == 0 (GQA); equal to heads for MHA
  int qLen = 1;
  int kvLen = 1;
  int headDim = 64;
};

/// A tensor bound to a declared `input` by name.
struct NamedTensor {
  std::string name;
  TensorView tensor;
};

/// A run-time value for a declared `param` (overrides its default). `value.type` must be
/// the param's type, except that an Int value is accepted for a Float param.
struct ParamBinding {
  std::string name;
  dsl::ConstValue value;
};

/// Everything one reference execution reads. Q is [batch, heads, qLen, d]; K and V are
/// [batch, kvHeads, kvLen, d] (logical dims; any strides, see makeQkvView).
struct ReferenceProblem {
  ProblemShape shape;
  std::optional<double> scale; ///< default 1/sqrt(d)
  TensorView q, k, v;
  std::vector<NamedTensor> inputs;
  std::vector<ParamBinding> params;
  int threads = 0; ///< worker threads; 0 = std::thread::hardware_concurrency()
  /// When non-empty, only these query rows are computed (for every b and h), e.g. to
  /// spot-check a GPU result at a shape too large for the reference; the rows not computed
  /// are NaN in O and LSE so they cannot pass for results. Routing is still exact.
  std::vector<int> onlyQueries;
};

/// O [batch, heads, qLen, d] and LSE [batch, heads, qLen], row-major, float64.
/// Rows without any kept key have O = 0 and LSE = -inf.
struct ReferenceResult {
  ProblemShape shape;
  std::vector<double> out;
  std::vector<double> lse;
  /// Programs with an `out` expression: O before it (out's layout); else empty.
  std::vector<double> outBeforeOut;
  uint64_t keptPairs = 0; ///< (b, h, q, k) pairs that contributed (finite score)

  double outAt(int b, int h, int q, int c) const { return out[outIndex(b, h, q, c)]; }
  double outBeforeOutAt(int b, int h, int q, int c) const {
    return outBeforeOut[outIndex(b, h, q, c)];
  }
  size_t outIndex(int b, int h, int q, int c) const {
    return ((static_cast<size_t>(b) * shape.heads + h) * shape.qLen + q) * shape.headDim + c;
  }
  double lseAt(int b, int h, int q) const {
    return lse[(static_cast<size_t>(b) * shape.heads + h) * shape.qLen + q];
  }
};

/// Executes `attention` (an attention of the checked `program`) on `problem`.
/// Returns false and sets `error` for binding errors: bad shapes, a missing or
/// mis-shaped input tensor, a param without value, a wrong element type.
bool runReference(const dsl::Program &program, const dsl::AttentionDecl &attention,
                  const ReferenceProblem &problem, ReferenceResult &result, std::string &error);

/// The gradient of one float input tensor: row-major float64 over its declared dims.
struct InputGradient {
  std::string name;
  std::vector<int64_t> dims; ///< the declared dims evaluated at the problem's shape
  std::vector<double> values;
};

/// The result of runReferenceBackward. dQ is [batch, heads, qLen, d], dK and dV are
/// [batch, kvHeads, kvLen, d] (the logical dims of Q, K and V), all row-major float64.
struct ReferenceGradients {
  ProblemShape shape;
  std::vector<double> dq, dk, dv;
  std::vector<InputGradient> inputs; ///< one per requested input, in the requested order
  /// O and LSE recomputed on the way (bit-identical to runReference's).
  ReferenceResult forward;

  double dqAt(int b, int h, int q, int c) const {
    return dq[((static_cast<size_t>(b) * shape.heads + h) * shape.qLen + q) * shape.headDim + c];
  }
  double dkAt(int b, int kvh, int k, int c) const {
    return dk[((static_cast<size_t>(b) * shape.kvHeads + kvh) * shape.kvLen + k) * shape.headDim +
              c];
  }
  double dvAt(int b, int kvh, int k, int c) const {
    return dv[((static_cast<size_t>(b) * shape.kvHeads + kvh) * shape.kvLen + k) * shape.headDim +
              c];
  }
  /// The gradient of the input named `name`, or null when it was not requested.
  const InputGradient *input(const std::string &name) const {
    for (const auto &g : inputs)
      if (g.name == name)
        return &g;
    return nullptr;
  }
};

/// The float64 reference backward: given dO ([batch, heads, qLen, d], any float dtype and
/// strides), the gradients of sum(dO * O) with respect to Q, K, V and the float inputs
/// named in `gradInputs` (each must be read by the score or out expression). Masks,
/// routing decisions and integer inputs are not differentiated: the keep predicate and
/// the routing selection are recomputed exactly as runReference computes them and held
/// fixed. dK and dV sum over the query heads of each KV head (GQA/MQA). A row without a
/// kept key contributes nothing (its dQ row is 0). Results do not depend on
/// problem.threads; problem.onlyQueries is not supported. docs/reference.md, "Backward".
/// With `dLse` ([batch, heads, qLen], float32 or float64), the loss also has the term
/// sum(dLse * LSE): each kept pair's dS gains P * dLse (delta becomes dO . O - dLse).
/// Returns false and sets `error` for binding errors (as runReference), a bad dO or dLse, a
/// bad gradInputs name, an expression without derivative, or past the memory limit.
bool runReferenceBackward(const dsl::Program &program, const dsl::AttentionDecl &attention,
                          const ReferenceProblem &problem, const TensorView &dOut,
                          const std::vector<std::string> &gradInputs, ReferenceGradients &grads,
                          std::string &error, const TensorView *dLse = nullptr);

/// Whether runReferenceBackward can differentiate the score and out expressions of
/// `attention`: false with "LINE:COL: ..." naming the first operation without a
/// derivative rule.
bool checkDifferentiable(const dsl::AttentionDecl &attention, std::string &error);

/// The structural keep-matrix of one (b, h): keep[q * kvLen + k] = 1 when key k is routed
/// to query q and the mask holds (score values are not considered, so Q/K matter only
/// through routing gates). For the compiler's soundness tests and visualisation.
bool evaluateKeepMatrix(const dsl::Program &program, const dsl::AttentionDecl &attention,
                        const ReferenceProblem &problem, int b, int h, std::vector<uint8_t> &keep,
                        std::string &error);

/// The structural keep predicate of evaluateKeepMatrix, bound once: counts the kept pairs
/// of chosen tiles (attnc explain counts only the tiles the classifier leaves PARTIAL) and
/// exposes the routing selection. Q and K are read only when the attention routes, V
/// never; input tensors only where the mask reads them (others may be views of any data
/// with the declared dims, e.g. zero strides over one element).
class KeepEvaluator {
public:
  KeepEvaluator();
  ~KeepEvaluator();
  KeepEvaluator(const KeepEvaluator &) = delete;
  KeepEvaluator &operator=(const KeepEvaluator &) = delete;
  /// Binds the problem (and computes the routing selection). Returns false and sets
  /// `error` as runReference does.
  bool bind(const dsl::Program &program, const dsl::AttentionDecl &attention,
            const ReferenceProblem &problem, std::string &error);
  /// Kept (routed and masked) pairs of (b, h) in [q0, q1) x [k0, k1), clipped to the
  /// problem. Safe to call from several threads.
  uint64_t countKept(int b, int h, int q0, int q1, int k0, int k1) const;
  /// Routing (routed() only): query tokens per selection unit, the number of key blocks,
  /// the block of key token k, and whether unit `unit` of (b, h) selected block `blk`.
  bool routed() const;
  int routeUnitSize() const;
  int routeNumBlocks() const;
  int routeBlockOfKey(int k) const;
  bool routeSelected(int b, int h, int unit, int blk) const;

private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// The evaluated dims of the `input` declarations of `attention` for `shape`
/// (dims are Int expressions of shape built-ins and consts). Returns false and sets
/// `error` when a dim is not positive.
bool evaluateInputDims(const dsl::Program &program, const dsl::AttentionDecl &attention,
                       const ProblemShape &shape, std::vector<std::vector<int64_t>> &dims,
                       std::string &error);

/// Parses a param value written as source text (`64`, `0.5`, `true`) for a param of type
/// `type` (Int accepts decimal integers, Float any number, Bool true/false/1/0).
bool parseParamValue(dsl::Type type, const std::string &text, dsl::ConstValue &value,
                     std::string &error);

} // namespace attnc::reference

#endif // ATTNC_REFERENCE_REFERENCE_H
