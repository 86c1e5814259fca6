//===- Interpreter.h - Expression evaluation over the checked AST -*- C++ -*-===//
//
// Internal to the reference: binds a problem to an attention (params, inputs, layout,
// routing geometry) and evaluates expressions in float64 / wrapping int32 / bool.
//
//===----------------------------------------------------------------------===//
#ifndef ATTNC_REFERENCE_LIB_INTERPRETER_H
#define ATTNC_REFERENCE_LIB_INTERPRETER_H

#include "attnc/dsl/AST.h"
#include "attnc/reference/Reference.h"

#include <cstdint>
#include <string>
#include <vector>

namespace attnc::reference::detail {

/// One value of the language. Only the member selected by `type` is meaningful.
struct Value {
  dsl::Type type = dsl::Type::Invalid;
  int32_t i = 0;
  double f = 0.0;
  bool b = false;

  static Value ofInt(int32_t v) {
    Value r;
    r.type = dsl::Type::Int;
    r.i = v;
    return r;
  }
  static Value ofFloat(double v) {
    Value r;
    r.type = dsl::Type::Float;
    r.f = v;
    return r;
  }
  static Value ofBool(bool v) {
    Value r;
    r.type = dsl::Type::Bool;
    r.b = v;
    return r;
  }
  double asDouble() const {
    return type == dsl::Type::Float ? f : type == dsl::Type::Int ? i : (b ? 1.0 : 0.0);
  }
};

/// Everything about a problem that does not change during execution.
struct Binding {
  const dsl::Program *program = nullptr;
  const dsl::AttentionDecl *attention = nullptr;
  ProblemShape shape;
  double scale = 0.0;
  std::vector<Value> consts;
  std::vector<Value> params;
  std::vector<TensorView> inputs; ///< per InputDecl (null data when not bound)
  std::vector<int64_t> axisSizes; ///< layout axis sizes (empty without a layout)
  // Routing geometry.
  std::vector<int64_t> blockShape; ///< {size} (1-D) or one tile size per axis
  bool tiled = false;
  std::vector<int64_t> tileCounts; ///< blocks per axis (axis 0 unused: unbounded)
  /// Per let: whether it reads k, score, out, c or blk (directly or through other lets).
  /// Lets that do not are cached for a whole row (b, h, q).
  std::vector<bool> letPerPair;

  /// Binds shapes, consts and params only (enough to evaluate input dims).
  bool bindStatic(const dsl::Program &program, const dsl::AttentionDecl &attention,
                  const ProblemShape &shape, const std::vector<ParamBinding> &params,
                  std::string &error);
  int64_t coordinate(int64_t token, int axis) const;
  int64_t blockOf(int64_t token) const;
};

/// Evaluation state: the current indices plus a per-let cache.
class Evaluator {
public:
  explicit Evaluator(const Binding &binding);

  // The current point. After changing b, h, kvh or q call invalidate(); after changing only
  // k, c, blk, score, out or the route vectors, invalidatePair() (keeps row-level lets).
  int b = 0, h = 0, kvh = 0, q = 0, k = 0, c = 0, blk = 0, numBlocks = 0;
  double score = 0.0, out = 0.0;
  const double *routeQuery = nullptr; ///< d values (routing `query`)
  const double *routeKey = nullptr;   ///< d values (routing `key`)

  void invalidate() { rowStamp_ = pairStamp_ = ++counter_; }
  void invalidatePair() { pairStamp_ = ++counter_; }
  Value eval(const dsl::Expr &e);
  bool evalBool(const dsl::Expr &e) { return eval(e).b; }
  double evalFloat(const dsl::Expr &e) { return eval(e).asDouble(); }
  int32_t evalInt(const dsl::Expr &e);
  /// The element an Index expression reads at the current point: its offset in the bound
  /// view (sum of clamped index * stride) and, in `logical`, its row-major position in the
  /// declared dims (distinct for distinct elements even when the view's strides alias).
  int64_t indexOffset(const dsl::Expr &e, int64_t *logical = nullptr);

private:
  Value evalName(const dsl::Expr &e);
  Value evalUnary(const dsl::Expr &e);
  Value evalBinary(const dsl::Expr &e);
  Value evalCall(const dsl::Expr &e);
  Value evalIndex(const dsl::Expr &e);
  Value evalMember(const dsl::Expr &e);
  Value builtin(dsl::Builtin which);

  const Binding &bind_;
  uint64_t counter_ = 1, rowStamp_ = 1, pairStamp_ = 1;
  std::vector<uint64_t> letStamp_;
  std::vector<Value> letValue_;
};

/// Converts to `type` (Int -> Float promotion only; everything else unchanged).
Value coerce(Value v, dsl::Type type);

} // namespace attnc::reference::detail

#endif // ATTNC_REFERENCE_LIB_INTERPRETER_H
