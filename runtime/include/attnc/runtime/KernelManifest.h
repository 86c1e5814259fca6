//===- KernelManifest.h - What a compiled kernel says about itself -*- C++ -*-===//
//
// A compiled kernel is self-describing: compile fills a KernelManifest once, from the
// checked program and the generated hooks, and the kernel cache stores it with the cubin.
// Validation and launch read only the manifest (never the AST): the param and input slots,
// the input dimensions as small postfix programs over the problem shape, the route
// geometry, the kernel template and its entry points.
//
// Serialisation is a versioned line format (docs/runtime.md, "Kernel manifest"), read
// back strictly: a field out of place, an unknown word, a bad number or name, a dimension
// program that does not type-check or anything past kMaxManifestBytes is an error, so a
// damaged manifest in the cache means a recompile.
//
//===----------------------------------------------------------------------===//
#ifndef ATTNC_RUNTIME_KERNELMANIFEST_H
#define ATTNC_RUNTIME_KERNELMANIFEST_H

#include "attnc/dsl/AST.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace attnc::runtime {

/// One step of an input-dimension program, evaluated on a stack of Int (32-bit wrapping),
/// Float (float64) and Bool values with the language's semantics (docs/language.md).
struct DimOp {
  enum class Kind : uint8_t {
    Int,   ///< push `i`
    Float, ///< push `f`
    Bool,  ///< push `i != 0`
    Shape, ///< push the shape value `shape`
    // Unary and conversions (one operand).
    Neg,
    Not,
    BitNot,
    Promote, ///< Int becomes Float, anything else stays (the checker's implicit promotion)
    Abs,
    Exp,
    Exp2,
    Log,
    Log2,
    Tanh,
    Sigmoid,
    Sqrt,
    Floor,
    BitLength,
    ToFloat,
    ToInt,
    // Two operands.
    Add,
    Sub,
    Mul,
    Div,
    Rem,
    Shl,
    Shr,
    BitAnd,
    BitOr,
    BitXor,
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
    And,
    Or,
    Min,
    Max,
    // Three operands.
    Clamp,
    Select,
  };
  /// The problem-shape values an input dimension may read.
  enum class ShapeValue : uint8_t { Batch, Heads, KvHeads, QLen, KvLen, HeadDim };

  Kind kind = Kind::Int;
  ShapeValue shape = ShapeValue::Batch;
  int32_t i = 0;
  double f = 0.0;
};

/// A param of the attention, in declaration order: Int and Bool live in
/// AttncArgs::iparam[slot], Float in fparam[slot] (-1 in a kernel without a binary).
struct ManifestParam {
  std::string name;
  dsl::Type type = dsl::Type::Int;
  int slot = -1;
  std::optional<dsl::ConstValue> defaultValue;
};

/// An input of the attention, in declaration order, bound to AttncArgs::input[slot] (-1 in
/// a kernel without a binary).
struct ManifestInput {
  std::string name;
  dsl::ElementType elementType = dsl::ElementType::F32;
  int slot = -1;
  /// The summary pre-pass computes its per-block min/max (the classifier reads them).
  bool summarized = false;
  /// One postfix program per dimension (the rank is dims.size()).
  std::vector<std::vector<DimOp>> dims;
};

/// What the routing pre-pass needs to size its work (RoutePlan.h).
struct RouteGeometry {
  bool present = false;
  /// KV blocks: {size} (1-D) or one size per layout axis (tiles).
  std::vector<int64_t> block;
  /// The layout's axis sizes for tiles; empty for 1-D blocks.
  std::vector<int64_t> grid;
  enum class Unit : uint8_t { Token, QueryBlock, Head };
  Unit per = Unit::Token;
  int64_t queryBlock = 1; ///< for Unit::QueryBlock
};

/// The kernel template a binary was assembled from and how the launch finds it.
struct TilePolicy {
  /// True for the sm_90a template (TMA descriptors, persistent CTAs), false for the
  /// portable sm_80 one.
  bool hopper = false;
  std::string forwardEntry; ///< the forward kernel's extern "C" name
  std::string summaryEntry; ///< the input summary pre-pass
  std::string launchTable;  ///< the symbol of the template's launch table
  /// block_m, block_n, threads, stages, dynamic shared memory, head dim: the launch table
  /// the portable template's header documents, used when its symbol was not kept (the
  /// sm_90a template's table is required).
  int fallbackTable[6] = {};
};

struct KernelManifest {
  static constexpr int kVersion = 1;
  /// The largest serialised manifest read back (a 1 MiB program stays far below).
  static constexpr size_t kMaxManifestBytes = size_t(16) << 20;

  std::string attention;
  std::string arch; ///< "sm_80", "sm_90a", ... or "none" (no GPU binary)
  bool bf16 = true; ///< else fp16
  int headDim = 128;
  std::vector<ManifestParam> params;
  std::vector<ManifestInput> inputs;
  RouteGeometry route;
  /// Empty entries for arch "none".
  TilePolicy tile;
  /// The routing pre-pass kernels (set when route.present).
  std::string routePoolKeysEntry, routePoolQueriesEntry, routeSelectEntry;

  /// The line format; parse(serialize()) gives back an equal manifest.
  std::string serialize() const;
  /// Strict reader; false with `error` for anything serialize() would not have written.
  static bool parse(const std::string &text, KernelManifest &out, std::string &error);
};

/// The problem shape an input dimension may read.
struct ManifestShape {
  int batch = 0, heads = 0, kvHeads = 0, qLen = 0, kvLen = 0, headDim = 0;
};

/// The dims of every input for `shape`, in declaration order. False with `error` naming the
/// first input whose dimension is not positive (as the reference words it: "input 'x' has
/// a dimension of size N at this shape").
bool evaluateInputDims(const KernelManifest &manifest, const ManifestShape &shape,
                       std::vector<std::vector<int64_t>> &dims, std::string &error);

} // namespace attnc::runtime

#endif // ATTNC_RUNTIME_KERNELMANIFEST_H
