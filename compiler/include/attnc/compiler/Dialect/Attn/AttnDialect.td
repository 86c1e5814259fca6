//===- AttnDialect.td - The attn dialect -------------------*- tablegen -*-===//
#ifndef ATTN_DIALECT_TD
#define ATTN_DIALECT_TD

include "mlir/IR/OpBase.td"

def Attn_Dialect : Dialect {
  let name = "attn";
  let cppNamespace = "::attnc::attn";
  let summary = "Attention patterns: masks, score modifiers, output epilogues, routing";
  let description = [{
    The `attn` dialect is the compiler's view of one checked attnc `attention`
    declaration. An `attn.spec` holds one region per hook (mask, score, out, route);
    inside them the built-in index variables, shapes, run-time params, input tensor
    reads and layout coordinates are `attn` ops, and all arithmetic is upstream
    `arith`/`math`. Int is i32 (wrapping), Bool is i1, Float is f32.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect", "::mlir::math::MathDialect"];
  let hasConstantMaterializer = 1;
}

class Attn_Op<string mnemonic, list<Trait> traits = []>
    : Op<Attn_Dialect, mnemonic, traits>;

#endif // ATTN_DIALECT_TD
