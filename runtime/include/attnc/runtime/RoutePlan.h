//===- RoutePlan.h - Sizes of the routing pre-pass for one call ---*- C++ -*-===//
//
// The host-side shape of the routing problem (MoBA, VMoBA) for one call, computed from the
// kernel manifest's route geometry alone: how many KV blocks, selection units and mask
// words the pre-pass kernels of RouteSource.h work on.
//
//===----------------------------------------------------------------------===//
#ifndef ATTNC_RUNTIME_ROUTEPLAN_H
#define ATTNC_RUNTIME_ROUTEPLAN_H

#include "attnc/runtime/KernelManifest.h"

#include <cstdint>

namespace attnc::runtime {

struct RoutePlan {
  int numBlocks = 0; ///< 1 + the largest block_of(t) over t < kv_len
  int unitSize = 1;  ///< query tokens per selection unit
  int units = 0;     ///< ceil(q_len / unitSize)
  int words = 0;     ///< 32-bit words per unit bitmask
  bool pooledQueries = false;
};

/// 1 + max block_of(t) over 0 <= t < kvLen (1 when kvLen <= 0), in closed form: the
/// value the compiler's attnc_route_num_blocks computes on the GPU (attn-route-geometry,
/// docs/compiler.md), with the language's Int semantics.
int32_t routeNumBlocks(const RouteGeometry &route, int32_t kvLen);

/// The plan for one call; an empty plan when the route is absent.
RoutePlan planRoute(const RouteGeometry &route, int qLen, int kvLen);

} // namespace attnc::runtime

#endif // ATTNC_RUNTIME_ROUTEPLAN_H
