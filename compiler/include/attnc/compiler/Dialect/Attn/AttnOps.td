//===- AttnOps.td - Operations of the attn dialect ---------*- tablegen -*-===//
#ifndef ATTN_OPS_TD
#define ATTN_OPS_TD

include "attnc/compiler/Dialect/Attn/AttnDialect.td"
include "mlir/IR/SymbolInterfaces.td"
include "mlir/Interfaces/SideEffectInterfaces.td"
include "mlir/Interfaces/ControlFlowInterfaces.td"
include "mlir/Interfaces/InferIntRangeInterface.td"

def Attn_SpecOp : Attn_Op<"spec", [Symbol, IsolatedFromAbove, NoRegionArguments]> {
  let summary = "One attention pattern: mask, score, out and route regions";
  let description = [{
    Each region has a single block ending in `attn.yield`:
    - `mask` yields the i1 keep predicate of (b, h, q, k), or, after
      attn-factor-mask, (keep, index, data) with keep == index && data: the
      conjuncts that read no input tensor and those that do;
    - `score` yields the modified f32 score (`attn.score` is the incoming one);
    - `out` yields the f32 output element (`attn.out` is the normalised one);
    - `route` is empty without block routing, else it yields (gate: f64,
      always: i1, never: i1) evaluated per (unit token, blk); Float values of the
      route region are f64 (the selection must agree with the float64
      reference). The block partition is `route_block` (one size: 1-D blocks of
      that many tokens; or one tile size per axis of the layout whose axis sizes
      are `route_grid`), the selection rule the other `route_*` attributes.

    ```mlir
    attn.spec @causal mask {
      %q = attn.index q : i32
      %k = attn.index k : i32
      %c = arith.cmpi sge, %q, %k : i32
      attn.yield %c : i1
    } score { ... } out { ... } route { }
    ```
  }];
  let arguments = (ins SymbolNameAttr:$sym_name,
                       OptionalAttr<DenseI64ArrayAttr>:$route_block,
                       OptionalAttr<DenseI64ArrayAttr>:$route_grid,
                       OptionalAttr<StrAttr>:$route_per,
                       OptionalAttr<I64Attr>:$route_query_block,
                       OptionalAttr<StrAttr>:$route_select,
                       OptionalAttr<F64Attr>:$route_select_arg);
  let regions = (region AnyRegion:$mask, AnyRegion:$score, AnyRegion:$out,
                        AnyRegion:$route);
  let assemblyFormat = [{
    $sym_name attr-dict-with-keyword `mask` $mask `score` $score `out` $out `route` $route
  }];
  let hasVerifier = 1;
  let hasRegionVerifier = 1;
}

def Attn_YieldOp : Attn_Op<"yield", [Pure, Terminator, ReturnLike,
                                     HasParent<"SpecOp">]> {
  let summary = "Result of an attn.spec region";
  let arguments = (ins Variadic<AnyType>:$values);
  let assemblyFormat = "attr-dict ($values^ `:` type($values))?";
}

def Attn_IndexOp : Attn_Op<"index", [Pure,
    DeclareOpInterfaceMethods<InferIntRangeInterface, ["inferResultRanges"]>]> {
  let summary = "A built-in index variable: b, h, kv_h, q, k, c, blk";
  let description = [{
    `b` batch, `h` query head, `kv_h` = h / (heads / kv_heads), `q` query token,
    `k` key token, `c` output column (only in `out`), `blk` KV block (only in `route`).
    Every index is non-negative (the kernels evaluate hooks at in-range coordinates and,
    on tiles crossing q_len or kv_len, at padding coordinates past them), which the integer
    range analysis of `attn-simplify-int-ranges` relies on.
    Example: `%q = attn.index q : i32`.
  }];
  let arguments = (ins StrAttr:$kind);
  let results = (outs I32:$result);
  let assemblyFormat = "$kind attr-dict `:` type($result)";
  let hasVerifier = 1;
}

def Attn_ShapeOp : Attn_Op<"shape", [Pure,
    DeclareOpInterfaceMethods<InferIntRangeInterface, ["inferResultRanges"]>]> {
  let summary = "A run-time shape: batch, heads, kv_heads, q_len, kv_len, d, num_blocks";
  let description = [{ Non-negative (the runtime rejects other shapes). }];
  let arguments = (ins StrAttr:$kind);
  let results = (outs I32:$result);
  let assemblyFormat = "$kind attr-dict `:` type($result)";
  let hasVerifier = 1;
}

def Attn_ParamOp : Attn_Op<"param", [Pure]> {
  let summary = "A run-time scalar parameter (AttncArgs iparam/fparam slot)";
  let description = [{
    Int and Bool params live in `iparam[slot]`, Float params in `fparam[slot]`.
    Example: `%w = attn.param "window" slot 0 : i32`.
  }];
  let arguments = (ins StrAttr:$name, I32Attr:$slot);
  let results = (outs AnyTypeOf<[I1, I32, F32]>:$result);
  let assemblyFormat = "$name `slot` $slot attr-dict `:` type($result)";
  let hasVerifier = 1;
}

def Attn_InputReadOp : Attn_Op<"input_read", [Pure]> {
  let summary = "Read one element of a run-time input tensor";
  let description = [{
    Each index is clamped to [0, dim - 1] of the bound tensor. `elem` is the storage
    type (i32 i64 f32 f16 bf16 u8); the result is i32 (i32, i64 narrowed), f32
    (f32 f16 bf16) or i1 (u8, nonzero is true). Bit n of `in_range` says that index n
    already lies in [0, dim - 1] wherever the read is evaluated (a coordinate such as
    `k` on a dimension declared `kv_len`): the generated code skips its clamp.
    Example: `%d = attn.input_read "doc" slot 0 elem "i32" [%b, %k] {in_range = 3 : i32} : i32`.
  }];
  let arguments = (ins StrAttr:$name, I32Attr:$slot, StrAttr:$elem,
                       Variadic<I32>:$indices, OptionalAttr<I32Attr>:$in_range);
  let results = (outs AnyTypeOf<[I1, I32, F32]>:$result);
  let assemblyFormat = [{
    $name `slot` $slot `elem` $elem `[` $indices `]` attr-dict `:` type($result)
  }];
  let hasVerifier = 1;
}

def Attn_CoordOp : Attn_Op<"coord", [Pure]> {
  let summary = "A layout coordinate of the query or key token";
  let description = [{
    Row-major coordinates over a layout with axis sizes `sizes` (last fastest):
    a_{n-1} = t % n_{n-1}; a_i = (t / prod_{j>i} n_j) % n_i for 0 < i;
    a_0 = t / prod_{j>0} n_j (not wrapped). Lowered to index arithmetic by
    `attn-lower-coords`. Example: `%y = attn.coord k axis 0 sizes [128, 128] : i32`.
  }];
  let arguments = (ins StrAttr:$token, I64Attr:$axis, DenseI64ArrayAttr:$sizes);
  let results = (outs I32:$result);
  let assemblyFormat = "$token `axis` $axis `sizes` $sizes attr-dict `:` type($result)";
  let hasVerifier = 1;
}

def Attn_ScoreOp : Attn_Op<"score", [Pure]> {
  let summary = "The incoming score scale * dot(Q[q], K[k]) (score region only)";
  let results = (outs F32:$result);
  let assemblyFormat = "attr-dict `:` type($result)";
}

def Attn_OutOp : Attn_Op<"out", [Pure]> {
  let summary = "The normalised output element O[b,h,q,c] (out region only)";
  let results = (outs F32:$result);
  let assemblyFormat = "attr-dict `:` type($result)";
}

def Attn_ToIntOp : Attn_Op<"to_int", [Pure]> {
  let summary = "int(x): truncation toward zero, saturating, NaN -> 0";
  let arguments = (ins AnyTypeOf<[F32, F64]>:$input);
  let results = (outs I32:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
  let hasFolder = 1;
}

def Attn_BlockOfOp : Attn_Op<"block_of", [Pure]> {
  let summary = "block_of(token): the KV block of a token (route region only)";
  let description = [{
    The partition is the enclosing attn.spec's `route_block` / `route_grid`.
    `attn-to-emitc` lowers it to a call of `attnc_route_block_of`, which
    `attn-route-geometry` generates.
  }];
  let arguments = (ins I32:$token);
  let results = (outs I32:$result);
  let assemblyFormat = "$token attr-dict `:` type($result)";
}

def Attn_RouteDotOp : Attn_Op<"route_dot", [Pure]> {
  let summary = "dot(query, key): pooled query . mean key of block blk (route only)";
  let description = [{
    Computed by the runtime's routing pre-pass in float64; the gate function
    receives it as its `dot` argument.
  }];
  let results = (outs F64:$result);
  let assemblyFormat = "attr-dict `:` type($result)";
}

#endif // ATTN_OPS_TD
