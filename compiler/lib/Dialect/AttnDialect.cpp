//===- AttnDialect.cpp - The attn dialect: registration and verifiers -----===//
#include "attnc/compiler/Dialect/Attn/AttnDialect.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "llvm/ADT/StringSwitch.h"

#include <algorithm>
#include <cmath>
#include <cstdint>

using namespace mlir;
using namespace attnc::attn;

#include "attnc/compiler/Dialect/Attn/AttnDialect.cpp.inc"

void AttnDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "attnc/compiler/Dialect/Attn/AttnOps.cpp.inc"
      >();
}

Operation *AttnDialect::materializeConstant(OpBuilder &builder, Attribute value, Type type,
                                            Location loc) {
  // Folded attn ops become arith constants.
  return arith::ConstantOp::materialize(builder, value, type, loc);
}

namespace {
/// Which region of its attn.spec an op sits in: 0 mask, 1 score, 2 out, 3 route, -1 none.
int specRegionIndex(Operation *op) {
  Region *region = op->getParentRegion();
  while (region) {
    Operation *parent = region->getParentOp();
    if (!parent)
      return -1;
    if (isa<SpecOp>(parent))
      return static_cast<int>(region->getRegionNumber());
    region = parent->getParentRegion();
  }
  return -1;
}
} // namespace

LogicalResult SpecOp::verify() {
  if (getRoutePer() &&
      !llvm::is_contained(ArrayRef<StringRef>{"token", "query_block", "head"}, *getRoutePer()))
    return emitOpError("route_per must be token, query_block or head");
  if (getRouteSelect() &&
      !llvm::is_contained(ArrayRef<StringRef>{"top", "threshold"}, *getRouteSelect()))
    return emitOpError("route_select must be top or threshold");
  if (auto block = getRouteBlock()) {
    if (block->empty() || llvm::any_of(*block, [](int64_t s) { return s < 1 || s > INT32_MAX; }))
      return emitOpError("route_block sizes must be in [1, 2^31 - 1]");
  }
  if (auto grid = getRouteGrid()) {
    if (!getRouteBlock() || getRouteBlock()->size() != grid->size())
      return emitOpError("route_grid needs one route_block tile size per axis");
    int64_t tokens = 1;
    for (int64_t size : *grid) {
      if (size < 1)
        return emitOpError("route_grid axis sizes must be positive");
      tokens = std::min<int64_t>(tokens * size, int64_t(1) << 40);
    }
    if (tokens > INT32_MAX)
      return emitOpError("route_grid has more than 2^31 - 1 tokens");
  }
  return success();
}

LogicalResult SpecOp::verifyRegions() {
  static const char *const names[] = {"mask", "score", "out", "route"};
  for (unsigned i = 0; i < 4; ++i) {
    Region &region = getOperation()->getRegion(i);
    if (region.empty()) {
      if (i != 3)
        return emitOpError() << "the " << names[i] << " region must not be empty";
      continue;
    }
    if (!region.hasOneBlock())
      return emitOpError() << "the " << names[i] << " region must have one block";
    Block &block = region.front();
    auto yield = block.empty() ? YieldOp() : dyn_cast<YieldOp>(block.back());
    if (!yield)
      return emitOpError() << "the " << names[i] << " region must end in attn.yield";
    Builder b(getContext());
    SmallVector<Type> expected;
    if (i == 0 && yield.getValues().size() == 3)
      expected = {b.getI1Type(), b.getI1Type(), b.getI1Type()}; // attn-factor-mask
    else if (i == 0)
      expected = {b.getI1Type()};
    else if (i == 3)
      expected = {b.getF64Type(), b.getI1Type(), b.getI1Type()};
    else
      expected = {b.getF32Type()};
    if (TypeRange(yield.getValues()) != TypeRange(expected))
      return yield.emitOpError() << "in the " << names[i] << " region yields the wrong types";
  }
  return success();
}

LogicalResult IndexOp::verify() {
  StringRef kind = getKind();
  if (!llvm::is_contained(ArrayRef<StringRef>{"b", "h", "kv_h", "q", "k", "c", "blk"}, kind))
    return emitOpError("unknown index '") << kind << "'";
  int region = specRegionIndex(*this);
  if (kind == "c" && region != 2 && region != -1)
    return emitOpError("'c' is only available in the out region");
  if (kind == "k" && region == 2)
    return emitOpError("'k' is not available in the out region");
  if (kind == "blk" && region != 3 && region != -1)
    return emitOpError("'blk' is only available in the route region");
  return success();
}

/// [0, INT32_MAX]: indices and shapes are non-negative (see the ops' descriptions).
static ConstantIntRanges nonNegative() {
  return ConstantIntRanges::fromSigned(APInt::getZero(32), APInt::getSignedMaxValue(32));
}

void IndexOp::inferResultRanges(ArrayRef<ConstantIntRanges>, SetIntRangeFn setResultRange) {
  setResultRange(getResult(), nonNegative());
}

void ShapeOp::inferResultRanges(ArrayRef<ConstantIntRanges>, SetIntRangeFn setResultRange) {
  setResultRange(getResult(), nonNegative());
}

LogicalResult ShapeOp::verify() {
  if (!llvm::is_contained(
          ArrayRef<StringRef>{"batch", "heads", "kv_heads", "q_len", "kv_len", "d", "num_blocks"},
          getKind()))
    return emitOpError("unknown shape '") << getKind() << "'";
  return success();
}

LogicalResult ParamOp::verify() {
  if (getSlot() >= 16)
    return emitOpError("slot must be in [0, 16)");
  return success();
}

LogicalResult InputReadOp::verify() {
  StringRef elem = getElem();
  Type want = llvm::StringSwitch<Type>(elem)
                  .Cases("i32", "i64", IntegerType::get(getContext(), 32))
                  .Cases("f32", "f16", "bf16", Float32Type::get(getContext()))
                  .Case("u8", IntegerType::get(getContext(), 1))
                  .Default(Type());
  if (!want)
    return emitOpError("unknown element type '") << elem << "'";
  if (getResult().getType() != want)
    return emitOpError("element type ")
           << elem << " reads as " << want << ", not " << getResult().getType();
  if (getIndices().empty() || getIndices().size() > 4)
    return emitOpError("rank must be 1 to 4");
  if (getSlot() >= 8)
    return emitOpError("slot must be in [0, 8)");
  if (std::optional<uint32_t> inRange = getInRange();
      inRange && *inRange >> getIndices().size() != 0)
    return emitOpError("in_range names indices past the rank");
  return success();
}

LogicalResult CoordOp::verify() {
  if (getToken() != "q" && getToken() != "k")
    return emitOpError("token must be q or k");
  if (getAxis() >= getSizes().size())
    return emitOpError("axis out of range");
  for (int64_t size : getSizes())
    if (size <= 0)
      return emitOpError("axis sizes must be positive");
  return success();
}

OpFoldResult ToIntOp::fold(FoldAdaptor adaptor) {
  auto input = llvm::dyn_cast_if_present<FloatAttr>(adaptor.getInput());
  if (!input)
    return {};
  double v = input.getValueAsDouble();
  int32_t result;
  if (std::isnan(v))
    result = 0;
  else if (v >= 2147483647.0)
    result = INT32_MAX;
  else if (v <= -2147483648.0)
    result = INT32_MIN;
  else
    result = static_cast<int32_t>(std::trunc(v));
  return IntegerAttr::get(getType(), result);
}

#define GET_OP_CLASSES
#include "attnc/compiler/Dialect/Attn/AttnOps.cpp.inc"
