//===- KvRanges.cpp - Closed-form token intervals from the mask -----------===//
//
// Adds
//   func.func @attnc_kv_ranges(%a, %b: i32, %h: i32, %q_lo: i32, %q_hi: i32,
//       %lo: !emitc.ptr<i32>, %hi: !emitc.ptr<i32>) -> i32
// The mask's Boolean structure (&&, ||, !) is kept symbolically; each comparison
// `L pred R` whose difference L - R is s*k + rest with s = +-1 (k enters only
// through +, -, * by a constant) is solved for k: {k : s*k + d pred 0 for some d in
// D0}, D0 = interval of L - R at k = 0 over the query range. This is exact for
// causal, sliding windows, sinks, prefix LM. It is sound only if L and R do not wrap,
// which the run-time code checks on their intervals over all keys. Any other atom
// allows no key when its interval evaluation over the query range and all keys is
// surely false, else every key. Finally, when some k-dependent atom was not solved,
// the key chunks that @attnc_classify proves EMPTY are dropped (attnc_kr_refine),
// which bounds masks without a closed form. The result is at most ATTNC_MAX_KV_RANGES sorted
// disjoint intervals.
//
// Alongside, a static extent analysis marks the function `attnc.window` when, at equal
// lengths, the token set of every given token but a bounded number has a size that does not
// grow with the lengths (sliding windows, sinks plus a window; not causal, prefix LM or masks
// with unsolved token-dependent atoms). Kernels whose work units are those sets pick smaller
// tiles for such masks (attnc_tile_policy.h).
//
// The same analysis with the tokens' roles exchanged (q solved for, over a key range)
// builds attn-q-ranges' @attnc_q_ranges (QRanges.cpp; TokenRanges.h).
//
//===----------------------------------------------------------------------===//
#include "../CodeGen/HookVocabulary.h"
#include "IntervalEmitter.h"
#include "TokenRanges.h"

#include "attnc/compiler/Dialect/Attn/AttnDialect.h"
#include "attnc/compiler/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/EmitC/IR/EmitC.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Matchers.h"

#include <optional>

using namespace mlir;

namespace attnc::compiler {

#define GEN_PASS_DEF_KVRANGES
#include "attnc/compiler/Passes.h.inc"

namespace {

/// The run-time names of one direction of the analysis: the token solved for and the
/// token whose range is given.
struct TokenAxis {
  StringRef solved, given; ///< attn.index kinds
  StringRef function;      ///< the generated function
  StringRef givenLen;      ///< the given token's length (attnc_q_len / attnc_kv_len)
  StringRef allSolved;     ///< AttncIv of every solved token
  StringRef setArgs;       ///< args for the attnc_kr_* sets, or "" for the program's own
  StringRef refine;        ///< drops the chunks @attnc_classify proves EMPTY
};

TokenAxis axisOf(SolvedToken token) {
  TokenAxis axis;
  if (token == SolvedToken::Key) {
    axis.solved = "k";
    axis.given = "q";
    axis.function = "attnc_kv_ranges";
    axis.givenLen = hooks::attnc_q_len;
    axis.allSolved = hooks::attnc_iv_all_keys;
    axis.refine = hooks::attnc_kr_refine;
  } else {
    axis.solved = "q";
    axis.given = "k";
    axis.function = "attnc_q_ranges";
    axis.givenLen = hooks::attnc_kv_len;
    axis.allSolved = hooks::attnc_iv_all_queries;
    axis.setArgs = hooks::attnc_qr_args;
    axis.refine = hooks::attnc_qr_refine;
  }
  return axis;
}

/// What the extent analysis knows of a token set S(g) of the solved token for a given token
/// g, at equal lengths (terms of kv_len - q_len count as constants).
struct Extent {
  /// |S(g)| is bounded by an expression free of the lengths for all g but a set of bounded size.
  bool bounded = false;
  /// S(g) is empty for all g but a set of bounded size (sinks: k < 4).
  bool rare = false;
  /// Coefficients c of the given token in bounds S(g) >= c * g + f (lower) and
  /// S(g) <= c * g + f (upper), f free of the lengths: a lower and an upper bound of equal c
  /// make a window.
  llvm::SmallVector<int64_t, 2> lower, upper;
};

class TokenRangeBuilder {
public:
  /// `setArgs` is what the attnc_kr_* helpers get: it fixes the universe of the sets
  /// ([0, kv_len) of the program's args; [0, q_len) of attnc_qr_args).
  TokenRangeBuilder(OpBuilder &b, Location loc, StringRef solved, Value setArgs,
                    IntervalEmitter &allSolved, IntervalEmitter &solvedZero)
      : b(b), loc(loc), solved(solved), setArgs(setArgs), allSolved(allSolved),
        solvedZero(solvedZero) {}

  /// The token set of `v` (of !v when negated), once per (value, negated): a mask whose
  /// lets share subexpressions is a DAG, and walking it as a tree is exponential.
  Value analyze(Value v, bool negated);
  /// The extent of the set analyze(v, negated) builds.
  const Extent &extent(Value v, bool negated);
  bool foundBound = false;  ///< some comparison was solved for the token
  bool foundOpaque = false; ///< some token-dependent atom could not be solved

private:
  OpBuilder &b;
  Location loc;
  StringRef solved;
  Value setArgs;
  IntervalEmitter &allSolved, &solvedZero;
  DenseMap<Value, bool> dependsMemo;
  DenseMap<Value, Value> analyzeMemo[2]; ///< [negated]
  DenseMap<Value, Extent> extentMemo[2]; ///< [negated]
  DenseMap<Value, std::optional<int64_t>> linearMemo[4];

  Value analyzeOnce(Value v, bool negated);
  Extent extentOnce(Value v, bool negated);
  /// The leaves of the linear forms: the solved token, the given token, the lengths.
  enum Leaf { Solved, Given, QLen, KvLen };
  /// The coefficient of `leaf` in `v` when `v` is linear in it. Only +-1 is ever solved;
  /// coefficients beyond 32 bits are dropped before they can overflow.
  std::optional<int64_t> linear(Value v, Leaf leaf);

  Type krType() { return emitc::OpaqueType::get(b.getContext(), "AttncKr"); }
  bool dependsOnSolved(Value v) { return dependsOnToken(v, solved, dependsMemo); }
  Value generic(Value v, bool negated);
};

std::optional<int64_t> TokenRangeBuilder::linear(Value v, Leaf leaf) {
  if (leaf == Solved && !dependsOnSolved(v))
    return 0;
  auto it = linearMemo[leaf].find(v);
  if (it != linearMemo[leaf].end())
    return it->second;
  std::optional<int64_t> result;
  Operation *op = v.getDefiningOp();
  if (auto index = dyn_cast_or_null<attn::IndexOp>(op)) {
    const bool solvedToken = index.getKind() == solved;
    const bool givenToken = !solvedToken && (index.getKind() == "q" || index.getKind() == "k");
    result = (leaf == Solved && solvedToken) || (leaf == Given && givenToken) ? 1 : 0;
  } else if (auto shape = dyn_cast_or_null<attn::ShapeOp>(op)) {
    result = (leaf == QLen && shape.getKind() == "q_len") ||
                     (leaf == KvLen && shape.getKind() == "kv_len")
                 ? 1
                 : 0;
  } else if (isa_and_nonnull<arith::AddIOp, arith::SubIOp>(op)) {
    auto x = linear(op->getOperand(0), leaf), y = linear(op->getOperand(1), leaf);
    if (x && y)
      result = isa<arith::AddIOp>(op) ? *x + *y : *x - *y;
  } else if (isa_and_nonnull<arith::MulIOp>(op)) {
    auto x = linear(op->getOperand(0), leaf), y = linear(op->getOperand(1), leaf);
    APInt c;
    if (x && *x == 0 && y && *y == 0)
      result = 0;
    for (int i = 0; i < 2 && !result; ++i)
      if (matchPattern(op->getOperand(i), m_ConstantInt(&c)))
        if (auto other = linear(op->getOperand(1 - i), leaf))
          result = c.getSExtValue() * *other;
  } else if (op && op->getNumRegions() == 0) {
    // Any other op is a constant of the form when none of its operands involves the leaf
    // (params, constants, other indices); else the form is not linear.
    result = 0;
    for (Value operand : op->getOperands())
      if (auto c = linear(operand, leaf); !c || *c != 0)
        result.reset();
  } else if (!op) {
    result = 0;
  }
  if (result && (*result > (int64_t(1) << 31) || *result < -(int64_t(1) << 31)))
    result.reset();
  linearMemo[leaf][v] = result;
  return result;
}

const Extent &TokenRangeBuilder::extent(Value v, bool negated) {
  DenseMap<Value, Extent> &memo = extentMemo[negated ? 1 : 0];
  if (auto it = memo.find(v); it != memo.end())
    return it->second;
  Extent result = extentOnce(v, negated);
  return memo[v] = std::move(result);
}

Extent TokenRangeBuilder::extentOnce(Value v, bool negated) {
  Extent none;
  Operation *op = v.getDefiningOp();
  if (!op)
    return none;
  if (isa<arith::AndIOp, arith::OrIOp>(op)) {
    bool isAnd = isa<arith::AndIOp>(op) != negated;
    Extent x = extent(op->getOperand(0), negated), y = extent(op->getOperand(1), negated);
    if (!isAnd && (x.rare || y.rare))
      return x.rare ? y : x; // the other set, but for a few given tokens
    Extent result;
    if (isAnd) {
      result.rare = x.rare || y.rare;
      result.lower = x.lower;
      result.lower.append(y.lower);
      result.upper = x.upper;
      result.upper.append(y.upper);
      result.bounded = x.bounded || y.bounded;
      for (int64_t c : result.lower)
        result.bounded = result.bounded || llvm::is_contained(result.upper, c);
    } else {
      result.bounded = x.bounded && y.bounded;
      for (int64_t c : x.lower)
        if (llvm::is_contained(y.lower, c))
          result.lower.push_back(c);
      for (int64_t c : x.upper)
        if (llvm::is_contained(y.upper, c))
          result.upper.push_back(c);
    }
    return result;
  }
  if (isa<arith::XOrIOp>(op)) {
    for (int i = 0; i < 2; ++i)
      if (matchPattern(op->getOperand(i), m_One()))
        return extent(op->getOperand(1 - i), !negated);
    return none;
  }
  auto cmp = dyn_cast<arith::CmpIOp>(op);
  if (!cmp || !cmp.getLhs().getType().isInteger(32))
    return none;
  // L - R = s * solved + g * given + f(q_len, kv_len) + rest, with f a multiple of
  // kv_len - q_len (a constant at equal lengths).
  Value l = cmp.getLhs(), r = cmp.getRhs();
  auto diff = [&](Leaf leaf) -> std::optional<int64_t> {
    auto x = linear(l, leaf), y = linear(r, leaf);
    if (!x || !y)
      return std::nullopt;
    return *x - *y;
  };
  auto s = diff(Solved), g = diff(Given), lq = diff(QLen), lk = diff(KvLen);
  if (!s || !g || !lq || !lk || *lq + *lk != 0)
    return none;
  using P = arith::CmpIPredicate;
  P pred = negated ? arith::invertPredicate(cmp.getPredicate()) : cmp.getPredicate();
  const bool less = pred == P::slt || pred == P::sle;
  const bool greater = pred == P::sgt || pred == P::sge;
  Extent result;
  if (*s == 0) {
    // All solved tokens or none, by the given token: a bounded set when it holds only for
    // given tokens below a bound (tokens are non-negative) or at one point.
    result.rare = pred == P::eq ? *g != 0 : (less && *g > 0) || (greater && *g < 0);
    result.bounded = result.rare;
    return result;
  }
  if (*s != 1 && *s != -1)
    return none;
  // s * x + g * y + f pred 0, solved for x: x pred' -s * g * y - s * f.
  const int64_t c = -*s * *g;
  if (pred == P::eq) {
    result.bounded = true;
  } else if (less || greater) {
    ((less == (*s > 0)) ? result.upper : result.lower).push_back(c);
  }
  return result;
}

Value TokenRangeBuilder::generic(Value v, bool negated) {
  // Sound for any Bool: when it is surely false over the given range and every solved
  // token, no token is kept; otherwise nothing is known.
  foundOpaque = foundOpaque || dependsOnSolved(v);
  Value truth = allSolved.eval(v);
  if (negated) {
    Value t = allSolved.call(hooks::attnc_tv_const, truth.getType(),
                             {b.create<arith::ConstantIntOp>(loc, 1, 1)});
    truth = allSolved.call(hooks::attnc_tv_xor, truth.getType(), {truth, t});
  }
  return allSolved.call(hooks::attnc_kr_from_tv, krType(), {setArgs, truth});
}

Value TokenRangeBuilder::analyze(Value v, bool negated) {
  DenseMap<Value, Value> &memo = analyzeMemo[negated ? 1 : 0];
  if (auto it = memo.find(v); it != memo.end())
    return it->second;
  Value result = analyzeOnce(v, negated);
  memo[v] = result;
  return result;
}

Value TokenRangeBuilder::analyzeOnce(Value v, bool negated) {
  Operation *op = v.getDefiningOp();
  if (!op)
    return generic(v, negated);
  if (isa<arith::AndIOp, arith::OrIOp>(op)) {
    bool isAnd = isa<arith::AndIOp>(op) != negated; // De Morgan under negation
    Value x = analyze(op->getOperand(0), negated);
    Value y = analyze(op->getOperand(1), negated);
    return allSolved.call(isAnd ? hooks::attnc_kr_and : hooks::attnc_kr_or, krType(), {x, y});
  }
  if (isa<arith::XOrIOp>(op)) {
    for (int i = 0; i < 2; ++i)
      if (matchPattern(op->getOperand(i), m_One()))
        return analyze(op->getOperand(1 - i), !negated);
    return generic(v, negated);
  }
  auto cmp = dyn_cast<arith::CmpIOp>(op);
  if (!cmp || !cmp.getLhs().getType().isInteger(32) || !dependsOnSolved(v))
    return generic(v, negated);
  auto coefL = linear(cmp.getLhs(), Solved), coefR = linear(cmp.getRhs(), Solved);
  if (!coefL || !coefR)
    return generic(v, negated);
  int64_t s = *coefL - *coefR;
  if (s != 1 && s != -1)
    return generic(v, negated);
  using P = arith::CmpIPredicate;
  P pred = negated ? arith::invertPredicate(cmp.getPredicate()) : cmp.getPredicate();
  int code;
  switch (pred) {
  case P::slt:
    code = 0;
    break;
  case P::sle:
    code = 1;
    break;
  case P::sgt:
    code = 2;
    break;
  case P::sge:
    code = 3;
    break;
  case P::eq:
    code = 4;
    break;
  case P::ne:
    code = 5;
    break;
  default:
    return generic(v, negated);
  }
  foundBound = foundBound || code != 5;
  Type i1 = b.getI1Type();
  Value lhsAll = allSolved.eval(cmp.getLhs()), rhsAll = allSolved.eval(cmp.getRhs());
  Value noWrap = allSolved.call(hooks::attnc_iv_nowrap2, i1, {lhsAll, rhsAll});
  Value lhs0 = solvedZero.eval(cmp.getLhs()), rhs0 = solvedZero.eval(cmp.getRhs());
  Value d0 = solvedZero.call(hooks::attnc_iv_sub, lhs0.getType(), {lhs0, rhs0});
  ArrayAttr callArgs =
      b.getArrayAttr({b.getIndexAttr(0), b.getI32IntegerAttr(static_cast<int32_t>(s)),
                      b.getI32IntegerAttr(code), b.getIndexAttr(1), b.getIndexAttr(2)});
  return allSolved.call(hooks::attnc_kr_atom, krType(), {setArgs, d0, noWrap}, callArgs);
}

struct KvRangesPass : impl::KvRangesBase<KvRangesPass> {
  void runOnOperation() final {
    if (failed(addTokenRanges(getOperation(), SolvedToken::Key, getArgument())))
      signalPassFailure();
  }
};

} // namespace

LogicalResult addTokenRanges(ModuleOp module, SolvedToken token, StringRef passName) {
  SmallVector<attn::SpecOp> specs(module.getOps<attn::SpecOp>());
  if (specs.size() > 1)
    return module.emitError() << passName << " expects one attn.spec per module";
  const TokenAxis axis = axisOf(token);
  for (attn::SpecOp spec : specs) {
    MLIRContext *ctx = module.getContext();
    OpBuilder b(ctx);
    b.setInsertionPointToEnd(module.getBody());
    Location loc = spec.getLoc();
    Type i32 = b.getI32Type();
    Type ptr = emitc::PointerType::get(i32);
    auto type =
        b.getFunctionType({IntervalEmitter::argsType(ctx), i32, i32, i32, i32, ptr, ptr}, {i32});
    auto func = b.create<func::FuncOp>(loc, axis.function, type);
    Block *entry = func.addEntryBlock();
    b.setInsertionPointToStart(entry);
    Value args = entry->getArgument(0);
    Value givenLo = entry->getArgument(3), givenHi = entry->getArgument(4);
    Type iv = IntervalEmitter::ivType(ctx);
    IntervalEnv env;
    env.args = args;
    env.batch = entry->getArgument(1);
    env.head = entry->getArgument(2);
    IntervalEmitter setup(b, loc, env);
    Value setArgs = args;
    if (!axis.setArgs.empty())
      setArgs = setup.call(axis.setArgs, emitc::OpaqueType::get(ctx, "AttncArgs"), {args});
    Value givenLen = setup.call(axis.givenLen, i32, {args});
    Value givenIv = setup.call(hooks::attnc_iv_tokens, iv, {givenLo, givenHi, givenLen});
    auto tokenIv = [](IntervalEnv &e, StringRef kind) -> Value & {
      return kind == "q" ? e.qIv : e.kIv;
    };
    tokenIv(env, axis.given) = givenIv;
    IntervalEnv allEnv = env, zeroEnv = env;
    tokenIv(allEnv, axis.solved) = setup.call(axis.allSolved, iv, {args});
    tokenIv(zeroEnv, axis.solved) = setup.call(hooks::attnc_iv_point, iv, {setup.i32Const(0)});
    IntervalEmitter allSolved(b, loc, allEnv), solvedZero(b, loc, zeroEnv);
    solvedZero.shareIndependentOf(axis.solved, &allSolved);
    TokenRangeBuilder ranges(b, loc, axis.solved, setArgs, allSolved, solvedZero);
    auto yield = cast<attn::YieldOp>(spec.getMask().front().getTerminator());
    Value set = ranges.analyze(yield.getValues()[0], /*negated=*/false);
    // When some token-dependent atom had no closed form, drop the chunks the tile
    // classifier proves empty (needs @attnc_classify from attn-classify-blocks).
    bool refined = ranges.foundOpaque && module.lookupSymbol<func::FuncOp>("attnc_classify");
    if (refined) {
      ArrayAttr refineArgs = b.getArrayAttr(
          {b.getIndexAttr(0), b.getIndexAttr(1), b.getIndexAttr(2), b.getIndexAttr(3),
           b.getIndexAttr(4), b.getIndexAttr(5), emitc::OpaqueAttr::get(ctx, "attnc_classify")});
      set = setup.call(axis.refine, set.getType(),
                       {args, entry->getArgument(1), entry->getArgument(2), givenLo, givenHi, set},
                       refineArgs);
    }
    Value count = setup.call(hooks::attnc_kr_store, i32,
                             {setArgs, set, entry->getArgument(5), entry->getArgument(6)});
    b.create<func::ReturnOp>(loc, count);
    if (ranges.foundBound || refined)
      func->setAttr("attnc.bounded", b.getUnitAttr());
    if (ranges.extent(yield.getValues()[0], /*negated=*/false).bounded)
      func->setAttr("attnc.window", b.getUnitAttr());
    // Every token-dependent atom was solved: the mask is a union of intervals of the
    // solved token per given token, so only tiles at interval edges are PARTIAL (kernels
    // pick larger tiles).
    if (!ranges.foundOpaque)
      func->setAttr("attnc.exact", b.getUnitAttr());
  }
  return success();
}

} // namespace attnc::compiler
