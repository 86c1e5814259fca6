//===- RouteSource.h - CUDA source for block routing (MoBA, VMoBA) -*- C++ -*-===//
//
// The compiler generates the route's expressions with the hooks (attnc_route_block_of,
// _num_blocks, _always, _never and the float64 _gate: docs/compiler.md, "Block
// routing"); this adds the pre-pass that calls them and writes AttncArgs::route_mask
// (runtime/kernels/route_kernels.cuh, configured by ATTNC_ROUTE_* macros defined here):
//
//   attnc_route_pool_keys     mean K of every (b, kv_h, KV block) over tokens < kv_len,
//                             in float64, summed in token order (as the reference does)
//   attnc_route_pool_queries  mean Q of every (b, h, unit) for per = query_block / head
//   attnc_route_select        per (b, h, unit): gates (float64), forced (`always` for ANY
//                             token of the unit) and forbidden (`never` for EVERY token)
//                             blocks, then top(n) or threshold(m), written as a bitmask of
//                             route_words 32-bit words; a warp takes up to 4 units, whose
//                             float64 chains share the key-mean loads
//
// and wraps the generated hooks: attnc_mask becomes routed && mask, attnc_classify
// downgrades tiles that routing cuts (EMPTY when no (q, k) pair of the tile is routed,
// ROWS when the mask keeps the whole tile, its keys lie in one route block and only some
// rows selected it, so the kernel tests one bit per row (attnc_row_keep); PARTIAL
// otherwise when only some pairs are routed). Gates are evaluated in float64 (by the generated
// gate) so that the selection agrees with the float64 reference (ties aside).
//
//===----------------------------------------------------------------------===//
#ifndef ATTNC_RUNTIME_ROUTESOURCE_H
#define ATTNC_RUNTIME_ROUTESOURCE_H

#include "attnc/compiler/Codegen.h"
#include "attnc/dsl/AST.h"

#include <cstdint>
#include <string>
#include <vector>

namespace attnc::runtime {

struct RouteSource {
  /// After the hooks: the route's parameters (struct AttncRoutePolicy), the pre-pass kernels
  /// and the routed variant (`using AttncVariant = attnc::RoutedVariant<...>`).
  std::string afterHooks;
};

/// Entry points of the routing pre-pass (extern "C").
inline constexpr const char *kRoutePoolKeysName = "attnc_route_pool_keys";
inline constexpr const char *kRoutePoolQueriesName = "attnc_route_pool_queries";
inline constexpr const char *kRouteSelectName = "attnc_route_select";

/// Generates the routing source for `attention` (which must have a route; `hooks` must be
/// its generated hooks, which hold the route functions). False with `error` otherwise.
bool generateRouteSource(const dsl::Program &program, const dsl::AttentionDecl &attention,
                         const compiler::GeneratedHooks &hooks, RouteSource &out,
                         std::string &error);

} // namespace attnc::runtime

#endif // ATTNC_RUNTIME_ROUTESOURCE_H
