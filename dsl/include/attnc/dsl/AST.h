//===- AST.h - The attnc abstract syntax tree --------------------*- C++ -*-===//
//
// The parser builds this tree; the checker (Sema) types every expression and resolves
// every name, after which the tree is the single input of both the MLIR builder
// (compiler/) and the CPU reference interpreter (reference/). Nothing downstream
// looks at names again: it uses `Expr::ref`, `Expr::func`, `Expr::type`.
//
// docs/language.md is the semantics; this header is its data structure.
//
//===----------------------------------------------------------------------===//
#ifndef ATTNC_DSL_AST_H
#define ATTNC_DSL_AST_H

#include "attnc/dsl/Source.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace attnc::dsl {

//===----------------------------------------------------------------------===//
// Types
//===----------------------------------------------------------------------===//

/// Scalar types of expressions. `Int` is 32-bit two's complement (wraps);
/// `Float` is at least 32-bit (the GPU uses fp32, the reference float64).
enum class Type : uint8_t { Invalid, Bool, Int, Float };

/// Element types of input tensors. Reading an element yields Int (I32, I64 narrowed
/// with wrap-around), Float (F32, F16, BF16) or Bool (U8, nonzero is true).
enum class ElementType : uint8_t { I32, I64, F32, F16, BF16, U8 };

const char *typeName(Type t);
const char *elementTypeName(ElementType t);
Type scalarTypeOf(ElementType t);

//===----------------------------------------------------------------------===//
// Expressions
//===----------------------------------------------------------------------===//

enum class ExprKind : uint8_t {
  IntLiteral,   ///< intValue
  FloatLiteral, ///< floatValue
  BoolLiteral,  ///< boolValue
  Name,         ///< name; resolved into ref
  Unary,        ///< unaryOp operands[0]
  Binary,       ///< operands[0] binaryOp operands[1]
  Call,         ///< name(operands...); resolved into func
  Index,        ///< name[operands...]: an input tensor read; ref = Input
  Member,       ///< operands[0].name: a layout coordinate (q.y) or axis size (image.y)
  Slice,        ///< `:` inside an index in `out`: the output column (see Builtin::Column)
};

enum class UnaryOp : uint8_t { Neg, Not, BitNot };

enum class BinaryOp : uint8_t {
  Add,
  Sub,
  Mul,
  Div,
  Rem, // arithmetic; Int/Int division truncates, Rem is C's %
  Shl,
  Shr, // Int only; Shr is arithmetic
  BitAnd,
  BitOr,
  BitXor, // Int only
  Lt,
  Le,
  Gt,
  Ge,
  Eq,
  Ne, // comparisons -> Bool
  And,
  Or, // Bool only, short-circuit semantics (no side effects)
};

/// Built-in names. Index variables are Int; `Score` and `Out` are Float; `Causal` Bool.
enum class Builtin : uint8_t {
  Batch,      ///< b: batch index
  Head,       ///< h: query head index
  KvHead,     ///< kv_h: h / (heads / kv_heads)
  Query,      ///< q: query token index, 0 <= q < q_len
  Key,        ///< k: key token index, 0 <= k < kv_len
  Score,      ///< score: scale * dot(Q[q], K[k]) (only in `score`)
  Out,        ///< out: the output element O[b,h,q,c] before the epilogue (only in `out`)
  Column,     ///< c: the output column (only in `out`; also written `:` in an index)
  Causal,     ///< causal: q + (kv_len - q_len) >= k (bottom-right aligned)
  NumBatch,   ///< batch
  NumHeads,   ///< heads
  NumKvHeads, ///< kv_heads
  QLen,       ///< q_len
  KvLen,      ///< kv_len
  HeadDim,    ///< d
  Block,      ///< blk: KV block index (only in `route`)
  NumBlocks,  ///< num_blocks: number of KV blocks (only in `route`)
};

/// Built-in functions. Arity and typing are in docs/language.md.
enum class Func : uint8_t {
  Abs,
  Min,
  Max,
  Clamp,
  Exp,
  Exp2,
  Log,
  Log2,
  Tanh,
  Sigmoid,
  Sqrt,
  Floor,
  BitLength,
  Select,  ///< select(cond, a, b)
  ToFloat, ///< float(x)
  ToInt,   ///< int(x): truncation toward zero
  BlockOf, ///< block_of(token): KV block containing a token (only in `route`)
  Dot,     ///< dot(query, key): the routing gate's similarity (only in route `gate`)
};

/// What a Name, Index or Member expression refers to, set by the checker.
struct SymbolRef {
  enum Kind : uint8_t {
    None,
    Builtin,    ///< index = static_cast<int>(dsl::Builtin)
    Const,      ///< index into AttentionDecl::consts
    Param,      ///< index into AttentionDecl::params
    Let,        ///< index into AttentionDecl::lets
    Input,      ///< index into AttentionDecl::inputs (Index expressions)
    Coordinate, ///< Member: token coordinate; index = axis, token = Query or Key
    AxisSize,   ///< Member: layout axis size (image.y); index = axis
    RouteQuery, ///< `query` inside dot(): the pooled query vector
    RouteKey,   ///< `key` inside dot(): the mean key of block blk
  };
  Kind kind = None;
  int index = -1;
  dsl::Builtin token = dsl::Builtin::Query; ///< for Coordinate
};

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

struct Expr {
  ExprKind kind = ExprKind::IntLiteral;
  SourceRange range;
  Type type = Type::Invalid; ///< set by the checker

  int64_t intValue = 0;
  double floatValue = 0.0;
  bool boolValue = false;
  std::string name; ///< Name, Call callee, Index tensor, Member field
  UnaryOp unaryOp = UnaryOp::Neg;
  BinaryOp binaryOp = BinaryOp::Add;
  std::vector<ExprPtr> operands;

  SymbolRef ref;            ///< Name, Index, Member (set by the checker)
  std::optional<Func> func; ///< Call (set by the checker)

  ExprPtr clone() const;
};

//===----------------------------------------------------------------------===//
// Declarations
//===----------------------------------------------------------------------===//

/// A compile-time value: Int, Float or Bool.
struct ConstValue {
  Type type = Type::Invalid;
  int64_t i = 0;
  double f = 0.0;
  bool b = false;
};

/// `layout image = grid(y: 128, x: 128);` Tokens are row-major over the axes (the last
/// axis varies fastest). Axis sizes are constant Int expressions > 0.
struct LayoutDecl {
  struct Axis {
    std::string name;
    ExprPtr size;
    int64_t value = 0; ///< folded by the checker
    SourceRange range;
  };
  std::string name;
  std::vector<Axis> axes;
  SourceRange range;
};

/// `const name = expr;` or `const name: type = expr;` Folded by the checker; a value
/// given on the command line (-D name=value) replaces it before checking.
struct ConstDecl {
  std::string name;
  std::optional<Type> declaredType;
  ExprPtr value;
  ConstValue folded;
  SourceRange range;
};

/// `param name: int = 1024;` A run-time scalar (Int, Float or Bool); changing it never
/// recompiles. A param without a default must be supplied at run time.
struct ParamDecl {
  std::string name;
  Type type = Type::Invalid;
  ExprPtr defaultValue;             ///< may be null
  std::optional<ConstValue> folded; ///< folded default
  SourceRange range;
};

/// `input doc: i32[batch, q_len];` A run-time tensor. Dims are Int expressions over
/// shape built-ins and consts; they document and are checked against the bound tensor.
struct InputDecl {
  std::string name;
  ElementType elementType = ElementType::F32;
  std::vector<ExprPtr> dims;
  SourceRange range;
};

/// `let name = expr;` A named subexpression, usable by later statements.
struct LetDecl {
  std::string name;
  ExprPtr value;
  SourceRange range;
};

/// Block routing (MoBA, VMoBA): per selection unit (a query token, a query block or a
/// whole head), choose a subset of KV blocks; the mask then applies inside them.
struct RouteSpec {
  /// KV blocks: a 1-D size (`block = 512;`) or a tile over the layout's axes
  /// (`block = tile(t: 2, y: 16, x: 16);`), one size per axis in layout order.
  ExprPtr blockSize;               ///< 1-D form; null when `tile` is used
  std::vector<ExprPtr> tileSizes;  ///< N-D form; one per layout axis
  std::vector<int64_t> blockShape; ///< folded: {512} or {2, 16, 16}
  enum class Granularity : uint8_t { Token, QueryBlock, Head };
  Granularity per = Granularity::Token;
  ExprPtr queryBlockSize; ///< for `per = query_block(64);`
  int64_t queryBlock = 1; ///< folded (1 for Token)
  ExprPtr gate;           ///< Float, built from dot(query, key)
  enum class Selection : uint8_t { TopK, Threshold };
  Selection select = Selection::TopK;
  ExprPtr selectArg; ///< top(k): Int >= 1; threshold(m): Float in (0, 1]
  ExprPtr always;    ///< Bool or null: blocks always selected
  ExprPtr never;     ///< Bool or null: blocks never selected
  SourceRange range;
};

struct AttentionDecl {
  std::string name;
  std::string layoutName; ///< empty when there is no `over`
  int layout = -1;        ///< index into Program::layouts, set by the checker
  std::vector<ConstDecl> consts;
  std::vector<ParamDecl> params;
  std::vector<InputDecl> inputs;
  std::vector<LetDecl> lets;
  ExprPtr mask;  ///< Bool; null means `true`
  ExprPtr score; ///< Float; null means `score`
  ExprPtr out;   ///< Float; null means `out`
  std::optional<RouteSpec> route;
  SourceRange range;
};

struct Program {
  std::vector<LayoutDecl> layouts;
  std::vector<AttentionDecl> attentions;

  /// The attention named `name`, or the only one when `name` is empty; null otherwise.
  const AttentionDecl *find(const std::string &name) const;
};

} // namespace attnc::dsl

#endif // ATTNC_DSL_AST_H
