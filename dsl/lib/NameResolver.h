//===- NameResolver.h - Names and contexts of the checker --------*- C++ -*-===//
//
// Internal to dsl/lib: resolves names into `Expr::ref` (declarations of the attention
// being checked, built-ins, layouts and their axes) and decides, per context (mask,
// score, out, route, let, constant, input dimension, layout), which names may be used
// there ("Contexts" in docs/language.md). It reports every error about a name; typing
// the expressions around the names is ExprChecker's.
//
//===----------------------------------------------------------------------===//
#ifndef ATTNC_DSL_LIB_NAMERESOLVER_H
#define ATTNC_DSL_LIB_NAMERESOLVER_H

#include "attnc/dsl/AST.h"
#include "attnc/dsl/Diagnostics.h"

#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace attnc::dsl::sema {

/// What an expression depends on; decides where it (or a let holding it) may be used.
enum Feature : unsigned {
  kKey = 1u << 0,     ///< k, causal, k.axis
  kQuery = 1u << 1,   ///< q, q.axis
  kScore = 1u << 2,   ///< score
  kOut = 1u << 3,     ///< out, c, ':'
  kBlock = 1u << 4,   ///< blk, num_blocks, block_of()
  kDot = 1u << 5,     ///< dot()
  kRuntime = 1u << 6, ///< b, h, kv_h, params, inputs
  kShape = 1u << 7,   ///< batch, heads, kv_heads, q_len, kv_len, d
};
constexpr int kNumFeatures = 8;

/// Where an expression stands; decides which features it may use.
enum class Where { Mask, Score, Out, Gate, Always, Never, Let, Const, InputDim, Layout };

struct Context {
  Where where;
  unsigned allowed = 0;
  /// Why `q` is missing from a gate (per query block or head).
  bool gateWithoutQuery = false;
  /// Features seen, and the first name that brought each in (for lets).
  unsigned used = 0;
  std::string firstName[kNumFeatures];

  explicit Context(Where w) : where(w) {
    switch (w) {
    case Where::Mask:
      allowed = kKey | kQuery | kRuntime | kShape;
      break;
    case Where::Score:
      allowed = kKey | kQuery | kRuntime | kShape | kScore;
      break;
    case Where::Out:
      allowed = kQuery | kRuntime | kShape | kOut;
      break;
    case Where::Gate:
      allowed = kQuery | kRuntime | kShape | kBlock | kDot;
      break;
    case Where::Always:
    case Where::Never:
      allowed = kQuery | kRuntime | kShape | kBlock;
      break;
    case Where::Let:
      allowed = ~0u;
      break;
    case Where::InputDim:
      allowed = kShape;
      break;
    case Where::Const:
    case Where::Layout:
      allowed = 0;
      break;
    }
  }

  bool isConstant() const { return where == Where::Const || where == Where::Layout; }

  const char *describe() const {
    switch (where) {
    case Where::Mask:
      return "'mask'";
    case Where::Score:
      return "'score'";
    case Where::Out:
      return "'out'";
    case Where::Gate:
      return "the route 'gate'";
    case Where::Always:
      return "the route's 'always'";
    case Where::Never:
      return "the route's 'never'";
    case Where::Let:
      return "a let";
    case Where::Const:
      return "a constant expression";
    case Where::InputDim:
      return "an input dimension";
    case Where::Layout:
      return "a layout axis size";
    }
    return "?";
  }
};

inline int featureIndex(Feature f) {
  int i = 0;
  while ((1u << i) != static_cast<unsigned>(f))
    ++i;
  return i;
}

struct Symbol {
  SymbolRef::Kind kind;
  int index;
  SourceRange declRange;
};

struct LetInfo {
  unsigned used = 0;
  std::string firstName[kNumFeatures];
};

class NameResolver {
public:
  /// Records the layouts' names (the first layout of each name is the one found).
  NameResolver(Program &program, DiagnosticEngine &diags);

  /// The index of the layout named `name`, or -1.
  int layoutIndex(const std::string &name) const;

  /// Starts checking `attn`: no attention's declarations are visible yet.
  void beginAttention(AttentionDecl &attn);
  void endAttention() { attn_ = nullptr; }
  AttentionDecl *attention() const { return attn_; }

  /// Declares a const, param, input or let of the attention; `what` names the kind.
  void declare(const std::string &name, SymbolRef::Kind kind, int index, SourceRange range,
               const char *what);
  /// Records what let `index` uses, once its value is checked in `ctx`.
  void defineLet(size_t index, const Context &ctx);

  /// Records feature `f` brought in by `name`; false (after an error) where not allowed.
  bool use(Context &ctx, Feature f, const std::string &name, SourceRange r);
  /// Reports a name used where its context does not define it.
  void reportFeature(const Context &ctx, Feature f, const std::string &name, SourceRange r,
                     const std::string &viaLet = {});

  /// Resolves a Name; its type, or Invalid after an error.
  Type resolveName(Expr &e, Context &ctx);
  /// Resolves a Member (q.AXIS, k.AXIS, LAYOUT.AXIS); its type, or Invalid after an error.
  Type resolveMember(Expr &e, Context &ctx);
  /// Resolves dot(query, key), whose arguments are the two route vectors.
  Type resolveDot(Expr &e, Context &ctx, SourceRange nameRange);
  /// The built-in function a Call names; nothing after an error.
  std::optional<Func> resolveFunc(const Expr &e, SourceRange nameRange);
  /// The input an Index reads; null after an error, with `unknownInput` set when the name
  /// is no input at all (the indices are then still worth checking for errors).
  const InputDecl *resolveInput(Expr &e, Context &ctx, bool &unknownInput);

private:
  /// Edit-distance hints cost time per error; past the error limit nobody reads them.
  bool hintsWanted() const;
  std::vector<std::string> visibleNames(uint32_t offset) const;

  Program &program_;
  DiagnosticEngine &diags_;
  AttentionDecl *attn_ = nullptr;
  std::unordered_map<std::string, Symbol> symbols_;
  std::vector<LetInfo> lets_;
  std::unordered_map<std::string, int> layoutByName_; ///< first layout of each name
};

} // namespace attnc::dsl::sema

#endif // ATTNC_DSL_LIB_NAMERESOLVER_H
