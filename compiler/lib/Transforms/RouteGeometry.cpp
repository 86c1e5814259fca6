//===- RouteGeometry.cpp - block_of and num_blocks of a route -------------===//
//
// For an attn.spec with a route, adds (ahead of the spec, so that the route
// functions outlined later can call them):
//
//   func.func @attnc_route_block_of(%a, %t: i32) -> i32
//     1-D blocks (route_block = [B]): t / B.
//     N-D tiles (route_grid = [n_0, ...], route_block = [s_0, ...]): the layout
//     coordinates a_i(t) (row-major, axis 0 unwrapped), bc_i = a_i / s_i, the
//     block row-major over bc with counts nb_i = ceil(n_i / s_i) for i > 0.
//   func.func @attnc_route_num_blocks(%a) -> i32
//     1 + max(block_of(t)) over t < kv_len (1 when kv_len <= 0), in closed form.
//
// All divisors are positive constants, so divsi/remsi are exactly the language's
// truncating `/` and `%` for any token, negative ones included; + and * wrap.
//
// The maximum: the tokens t < kv_len are the coordinate tuples lexicographically
// <= c = coords(kv_len - 1), and block indices order like the bc tuples
// lexicographically (bc_i < nb_i for i > 0). Going through the axes, bc_i can reach
// c_i / s_i while the tuple still follows c; once some c_j % s_j != 0, a token with
// a_j < c_j lies in the same block row, and every later axis is free, reaching
// (n_i - 1) / s_i = nb_i - 1.
//
//===----------------------------------------------------------------------===//
#include "../CodeGen/HookVocabulary.h"
#include "attnc/compiler/Dialect/Attn/AttnDialect.h"
#include "attnc/compiler/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/EmitC/IR/EmitC.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"

using namespace mlir;

namespace attnc::compiler {

#define GEN_PASS_DEF_ROUTEGEOMETRY
#include "attnc/compiler/Passes.h.inc"

namespace {

/// Builds the i32 arithmetic of one route's block partition.
class GeometryBuilder {
public:
  GeometryBuilder(OpBuilder &b, Location loc, ArrayRef<int64_t> block, ArrayRef<int64_t> grid)
      : b(b), loc(loc), block(block), grid(grid) {}

  /// The block index of token `t`.
  Value blockOf(Value t) {
    if (grid.empty())
      return div(t, block[0]);
    SmallVector<Value> bc;
    for (size_t i = 0; i < grid.size(); ++i)
      bc.push_back(div(coordinate(t, i), block[i]));
    return rowMajor(bc);
  }

  /// 1 + the largest block index of the tokens [0, kvLen), or 1 when kvLen <= 0.
  Value numBlocks(Value kvLen) {
    Value last = b.create<arith::SubIOp>(loc, kvLen, constant(1));
    Value maxBlock;
    if (grid.empty()) {
      maxBlock = div(last, block[0]);
    } else {
      SmallVector<Value> bc;
      Value free = b.create<arith::ConstantIntOp>(loc, 0, 1);
      for (size_t i = 0; i < grid.size(); ++i) {
        Value c = coordinate(last, i);
        Value tight = div(c, block[i]);
        if (i == 0) {
          bc.push_back(tight);
        } else {
          Value loose = constant((grid[i] - 1) / block[i]);
          bc.push_back(b.create<arith::SelectOp>(loc, free, loose, tight));
        }
        if (i + 1 < grid.size()) {
          Value offGrid =
              b.create<arith::CmpIOp>(loc, arith::CmpIPredicate::ne, rem(c, block[i]), constant(0));
          free = b.create<arith::OrIOp>(loc, free, offGrid);
        }
      }
      maxBlock = rowMajor(bc);
    }
    Value any = b.create<arith::CmpIOp>(loc, arith::CmpIPredicate::sgt, kvLen, constant(0));
    maxBlock = b.create<arith::SelectOp>(loc, any, maxBlock, constant(0));
    return b.create<arith::AddIOp>(loc, maxBlock, constant(1));
  }

private:
  OpBuilder &b;
  Location loc;
  ArrayRef<int64_t> block, grid;

  Value constant(int64_t v) { return b.create<arith::ConstantIntOp>(loc, v, 32); }
  Value div(Value x, int64_t d) {
    return d == 1 ? x : b.create<arith::DivSIOp>(loc, x, constant(d)).getResult();
  }
  Value rem(Value x, int64_t d) { return b.create<arith::RemSIOp>(loc, x, constant(d)); }
  /// a_i(t): (t / prod_{j>i} n_j) % n_i, axis 0 not wrapped.
  Value coordinate(Value t, size_t axis) {
    int64_t inner = 1;
    for (size_t j = axis + 1; j < grid.size(); ++j)
      inner *= grid[j]; // the verifier bounds the grid by 2^31 - 1 tokens
    Value v = div(t, inner);
    return axis == 0 ? v : rem(v, grid[axis]);
  }
  /// Row-major over bc with counts ceil(n_i / s_i) for i > 0 (wrapping i32).
  Value rowMajor(ArrayRef<Value> bc) {
    Value index = bc[0];
    for (size_t i = 1; i < bc.size(); ++i) {
      int64_t count = (grid[i] + block[i] - 1) / block[i];
      Value scaled = b.create<arith::MulIOp>(loc, index, constant(count));
      index = b.create<arith::AddIOp>(loc, scaled, bc[i]);
    }
    return index;
  }
};

struct RouteGeometryPass : impl::RouteGeometryBase<RouteGeometryPass> {
  void runOnOperation() final {
    ModuleOp module = getOperation();
    for (attn::SpecOp spec : module.getOps<attn::SpecOp>()) {
      if (spec.getRoute().empty())
        continue;
      if (!spec.getRouteBlock()) {
        spec.emitOpError("has a route region but no route_block");
        return signalPassFailure();
      }
      if (module.lookupSymbol(hooks::attnc_route_block_of) ||
          module.lookupSymbol(hooks::attnc_route_num_blocks)) {
        spec.emitOpError("the route geometry functions already exist");
        return signalPassFailure();
      }
      ArrayRef<int64_t> block = *spec.getRouteBlock();
      ArrayRef<int64_t> grid;
      if (auto g = spec.getRouteGrid())
        grid = *g;
      Location loc = spec.getLoc();
      OpBuilder b(spec);
      Type args = emitc::OpaqueType::get(&getContext(), "const AttncArgs &");
      Type i32 = b.getI32Type();

      auto blockOf = b.create<func::FuncOp>(loc, hooks::attnc_route_block_of,
                                            b.getFunctionType({args, i32}, {i32}));
      {
        OpBuilder body = OpBuilder::atBlockBegin(blockOf.addEntryBlock());
        GeometryBuilder geometry(body, loc, block, grid);
        body.create<func::ReturnOp>(loc, geometry.blockOf(blockOf.getArgument(1)));
      }
      b.setInsertionPoint(spec);
      auto numBlocks = b.create<func::FuncOp>(loc, hooks::attnc_route_num_blocks,
                                              b.getFunctionType({args}, {i32}));
      {
        OpBuilder body = OpBuilder::atBlockBegin(numBlocks.addEntryBlock());
        GeometryBuilder geometry(body, loc, block, grid);
        Value kvLen = body.create<attn::ShapeOp>(loc, i32, "kv_len");
        body.create<func::ReturnOp>(loc, geometry.numBlocks(kvLen));
      }
    }
  }
};

} // namespace

} // namespace attnc::compiler
