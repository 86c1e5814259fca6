//===- RouteSource.cpp - CUDA source for block routing --------------------===//
//
// The routing pre-pass kernels and the mask / classifier wrappers (see RouteSource.h).
// The route's expressions are not printed here: the compiler lowers the route region
// through the attn dialect into attnc_route_block_of / _num_blocks / _always / _never /
// _gate (float64) in the hooks (docs/compiler.md, "Block routing"), and these kernels
// call them.
//
//===----------------------------------------------------------------------===//
#include "attnc/runtime/RouteSource.h"

#include "attnc/runtime/EmbeddedSources.h"

#include <algorithm>
#include <cstdio>
#include <limits>
#include <sstream>

namespace attnc::runtime {

using dsl::Expr;
using dsl::ExprKind;

namespace {

/// The pre-pass kernels and the hook wrappers; they call the generated attnc_route_*
/// functions (pasted before them with the hooks) and read the ATTNC_ROUTE_* parameters
/// defined before them.
constexpr const char *kRouteKernels = "prepass/route_kernels.cuh";

/// The constant argument of top(n) / threshold(m) (the checker folds it to a literal).
bool selectionValue(const dsl::RouteSpec &route, double &value, std::string &error) {
  const Expr *arg = route.selectArg.get();
  if (arg && arg->kind == ExprKind::IntLiteral) {
    value = static_cast<double>(arg->intValue);
    return true;
  }
  if (arg && arg->kind == ExprKind::FloatLiteral) {
    value = arg->floatValue;
    return true;
  }
  error = "the route's selection argument is not a folded constant";
  return false;
}

std::string doubleLiteral(double value) {
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), "%.17g", value);
  std::string text = buffer;
  if (text.find_first_of(".eE") == std::string::npos)
    text += ".0";
  return text;
}

} // namespace

bool generateRouteSource(const dsl::Program &program, const dsl::AttentionDecl &attention,
                         const compiler::GeneratedHooks &hooks, RouteSource &out,
                         std::string &error) {
  if (!attention.route) {
    error = "attention '" + attention.name + "' has no route";
    return false;
  }
  const dsl::RouteSpec &route = *attention.route;
  if (route.blockShape.empty()) {
    error = "the route has no block size";
    return false;
  }
  for (int64_t size : route.blockShape)
    if (size < 1 || size > std::numeric_limits<int32_t>::max()) {
      error = "route block sizes must be between 1 and 2^31 - 1";
      return false;
    }
  int per = route.per == dsl::RouteSpec::Granularity::Token        ? 0
            : route.per == dsl::RouteSpec::Granularity::QueryBlock ? 1
                                                                   : 2;
  bool threshold = route.select == dsl::RouteSpec::Selection::Threshold;
  if (!route.tileSizes.empty() &&
      (attention.layout < 0 || attention.layout >= int(program.layouts.size()))) {
    error = "route tiles need a layout";
    return false;
  }
  // block_of, num_blocks, always, never and the gate are the compiler's (GeneratedHooks).
  if (!hooks.hasRoute) {
    error = "the generated hooks of '" + attention.name + "' have no route functions";
    return false;
  }
  double selection = 0;
  if (!selectionValue(route, selection, error))
    return false;
  if (!threshold && (selection < 1 || selection > std::numeric_limits<int32_t>::max())) {
    error = "top(n) needs 1 <= n <= 2^31 - 1";
    return false;
  }

  std::ostringstream s;
  s << "// ---- block routing: the route's parameters (routing/route_kernels.cuh) ----\n";
  s << "struct AttncRoutePolicy {\n";
  s << "  static constexpr int kPer = " << per << ";\n";
  s << "  static constexpr int kQueryBlock = "
    << (per == 1 ? std::max<int64_t>(1, route.queryBlock) : 1) << ";\n";
  s << "  static constexpr bool kTiled = " << (route.tileSizes.empty() ? "false" : "true") << ";\n";
  s << "  static constexpr int kBlock = " << (route.tileSizes.empty() ? route.blockShape[0] : 1)
    << ";\n";
  s << "  static constexpr bool kThreshold = " << (threshold ? "true" : "false") << ";\n";
  s << "  static constexpr bool kHasAlways = " << (route.always ? "true" : "false") << ";\n";
  s << "  static constexpr bool kHasNever = " << (route.never ? "true" : "false") << ";\n";
  s << "  static constexpr int kTopN = " << (threshold ? 0 : static_cast<int32_t>(selection))
    << ";\n";
  s << "  static constexpr double kMass = " << doubleLiteral(threshold ? selection : 1.0) << ";\n";
  s << "};\n";
  const char *kernels = embeddedFile(kRouteKernels);
  if (!kernels) {
    error = std::string("the kernel file '") + kRouteKernels +
            "' is not embedded in this build of attnc (runtime/kernels/ lacks it)";
    return false;
  }
  s << "\n" << kernels;
  s << "\nusing AttncVariant = attnc::RoutedVariant<AttncProgram, AttncRoutePolicy>;\n";
  out.afterHooks = s.str();
  return true;
}

RoutePlan planRoute(const dsl::Program &program, const dsl::AttentionDecl &attention, int qLen,
                    int kvLen) {
  RoutePlan plan;
  if (!attention.route)
    return plan;
  const dsl::RouteSpec &route = *attention.route;
  auto div = [](int32_t x, int32_t y) -> int32_t {
    if (y == 0)
      return 0;
    if (x == std::numeric_limits<int32_t>::min() && y == -1)
      return x;
    return x / y;
  };
  auto rem = [](int32_t x, int32_t y) -> int32_t { return (y == 0 || y == -1) ? 0 : x % y; };
  int32_t maxBlock = 0;
  if (route.tileSizes.empty()) {
    maxBlock = kvLen > 0 ? div(kvLen - 1, int32_t(route.blockShape.at(0))) : 0;
  } else if (attention.layout >= 0 && attention.layout < int(program.layouts.size())) {
    const auto &axes = program.layouts[size_t(attention.layout)].axes;
    for (int32_t t = 0; t < kvLen; ++t) {
      int32_t block = 0;
      for (size_t i = 0; i < axes.size() && i < route.blockShape.size(); ++i) {
        int32_t inner = 1;
        for (size_t j = i + 1; j < axes.size(); ++j)
          inner = int32_t(uint32_t(inner) * uint32_t(axes[j].value));
        int32_t coordinate = div(t, inner);
        if (i > 0)
          coordinate = rem(coordinate, int32_t(axes[i].value));
        int32_t bc = div(coordinate, int32_t(route.blockShape[i]));
        if (i == 0) {
          block = bc;
        } else {
          int32_t count = int32_t((axes[i].value + route.blockShape[i] - 1) / route.blockShape[i]);
          block = int32_t(uint32_t(block) * uint32_t(count) + uint32_t(bc));
        }
      }
      maxBlock = std::max(maxBlock, block);
    }
  }
  plan.numBlocks = maxBlock + 1;
  switch (route.per) {
  case dsl::RouteSpec::Granularity::Token:
    plan.unitSize = 1;
    break;
  case dsl::RouteSpec::Granularity::QueryBlock:
    // As attnc_route_unit_size: a block longer than q_len is one unit of q_len queries.
    plan.unitSize = int(std::clamp<int64_t>(route.queryBlock, 1, std::max(1, qLen)));
    plan.pooledQueries = true;
    break;
  case dsl::RouteSpec::Granularity::Head:
    plan.unitSize = std::max(1, qLen);
    plan.pooledQueries = true;
    break;
  }
  plan.units = int((int64_t(qLen) + plan.unitSize - 1) / plan.unitSize);
  plan.words = (plan.numBlocks + 31) / 32;
  return plan;
}

} // namespace attnc::runtime
