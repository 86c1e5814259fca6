//===- RoutePlan.cpp - Sizes of the routing pre-pass for one call ---------===//
#include "attnc/runtime/RoutePlan.h"

#include "attnc/dsl/IntSemantics.h"

#include <algorithm>

namespace attnc::runtime {

namespace {
namespace sem = dsl::semantics;

/// Coordinate `axis` of token `t` on the grid (row-major, axis 0 not wrapped).
int32_t coordinate(const RouteGeometry &route, int32_t t, size_t axis) {
  int32_t inner = 1;
  for (size_t j = axis + 1; j < route.grid.size(); ++j)
    inner = sem::wrapMul(inner, sem::wrap(route.grid[j]));
  const int32_t v = sem::intDiv(t, inner);
  return axis == 0 ? v : sem::intRem(v, sem::wrap(route.grid[axis]));
}
} // namespace

int32_t routeNumBlocks(const RouteGeometry &route, int32_t kvLen) {
  if (!route.present || route.block.empty())
    return 1;
  const int32_t last = sem::wrapSub(kvLen, 1);
  int32_t maxBlock = 0;
  if (route.grid.empty()) {
    maxBlock = sem::intDiv(last, sem::wrap(route.block[0]));
  } else {
    // The tokens t < kvLen are the coordinate tuples lexicographically <= coords(last), and
    // block indices order like their block-coordinate tuples. Each axis reaches
    // coords(last)_i / s_i while the tuple still follows coords(last); after an axis where
    // coords(last) is not on a block edge, every later axis is free to reach its last block.
    bool free = false;
    for (size_t i = 0; i < route.grid.size() && i < route.block.size(); ++i) {
      const int32_t size = sem::wrap(route.block[i]);
      const int32_t c = coordinate(route, last, i);
      const int32_t tight = sem::intDiv(c, size);
      if (i == 0) {
        maxBlock = tight;
      } else {
        const int32_t count = sem::wrap((route.grid[i] + route.block[i] - 1) / route.block[i]);
        const int32_t bc = free ? sem::wrap((route.grid[i] - 1) / route.block[i]) : tight;
        maxBlock = sem::wrapAdd(sem::wrapMul(maxBlock, count), bc);
      }
      free = free || sem::intRem(c, size) != 0;
    }
  }
  return sem::wrapAdd(kvLen > 0 ? maxBlock : 0, 1);
}

RoutePlan planRoute(const RouteGeometry &route, int qLen, int kvLen) {
  RoutePlan plan;
  if (!route.present)
    return plan;
  plan.numBlocks = routeNumBlocks(route, kvLen);
  switch (route.per) {
  case RouteGeometry::Unit::Token:
    plan.unitSize = 1;
    break;
  case RouteGeometry::Unit::QueryBlock:
    // As attnc_route_unit_size: a block longer than q_len is one unit of q_len queries.
    plan.unitSize = int(std::clamp<int64_t>(route.queryBlock, 1, std::max(1, qLen)));
    plan.pooledQueries = true;
    break;
  case RouteGeometry::Unit::Head:
    plan.unitSize = std::max(1, qLen);
    plan.pooledQueries = true;
    break;
  }
  plan.units = int((int64_t(qLen) + plan.unitSize - 1) / plan.unitSize);
  plan.words = (plan.numBlocks + 31) / 32;
  return plan;
}

} // namespace attnc::runtime
