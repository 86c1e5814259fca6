//===- LowerCoords.cpp - attn.coord to index arithmetic --------------------===//
//
// Row-major coordinates, last axis fastest: a_{n-1} = t % n_{n-1};
// a_i = (t / prod_{j>i} n_j) % n_i for 0 < i; a_0 = t / prod_{j>0} n_j (axis 0 is not
// wrapped, so tokens beyond the grid keep counting there). Tokens are never negative,
// so signed division and remainder by the positive axis sizes are exact.
//
//===----------------------------------------------------------------------===//
#include "attnc/compiler/Dialect/Attn/AttnDialect.h"
#include "attnc/compiler/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/Builders.h"

using namespace mlir;

namespace attnc::compiler {

#define GEN_PASS_DEF_LOWERCOORDS
#include "attnc/compiler/Passes.h.inc"

namespace {

struct LowerCoordsPass : impl::LowerCoordsBase<LowerCoordsPass> {
  void runOnOperation() final {
    SmallVector<attn::CoordOp> coords;
    getOperation()->walk([&](attn::CoordOp op) { coords.push_back(op); });
    for (attn::CoordOp op : coords) {
      OpBuilder b(op);
      Location loc = op.getLoc();
      ArrayRef<int64_t> sizes = op.getSizes();
      int64_t axis = static_cast<int64_t>(op.getAxis());
      // Product of the sizes of the faster axes.
      int64_t stride = 1;
      for (size_t j = axis + 1; j < sizes.size(); ++j)
        stride = std::min<int64_t>(stride * sizes[j], int64_t(1) << 40);
      Value token = b.create<attn::IndexOp>(loc, b.getI32Type(), op.getToken());
      Value value = token;
      if (stride > INT32_MAX) {
        // No i32 token reaches the next coordinate value.
        value = b.create<arith::ConstantIntOp>(loc, 0, 32);
      } else if (stride > 1) {
        Value divisor = b.create<arith::ConstantIntOp>(loc, stride, 32);
        value = b.create<arith::DivSIOp>(loc, value, divisor);
      }
      if (axis > 0 && sizes[axis] <= INT32_MAX) {
        Value size = b.create<arith::ConstantIntOp>(loc, sizes[axis], 32);
        value = b.create<arith::RemSIOp>(loc, value, size);
      }
      op.replaceAllUsesWith(value);
      op.erase();
    }
  }
};

} // namespace

} // namespace attnc::compiler
