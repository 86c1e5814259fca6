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

} // namespace attnc::runtime
