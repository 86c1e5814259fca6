//===- RouteTests.cpp - The generated route functions match the reference --===//
//
// The routing functions the compiler generates from the route region
// (attnc_route_block_of, attnc_route_num_blocks, attnc_route_always / never and the
// float64 attnc_route_gate) are compiled as host C++ from the generated source (the
// text NVRTC compiles, see HookHarness.h) and compared, on many random points, with the
// float64 reference interpreter (reference/lib/Interpreter.h): block_of with
// the reference's Binding::blockOf, num_blocks with 1 + max(block_of(t)) over the keys
// (as the reference's routing computes it), always / never / gate with its Evaluator.
// Programs: the routed examples and small random route programs (1-D blocks and N-D
// tiles over partial grids, every route context name, params and inputs).
//
//===----------------------------------------------------------------------===//
#include "HookHarness.h"

#include "Interpreter.h" // reference/lib: the reference's evaluator

#include <catch2/catch.hpp>

#include <cmath>
#include <iomanip>
#include <limits>
#include <random>
#include <sstream>

using namespace attnc;
using namespace attnc::test;
namespace ref = attnc::reference;

namespace {

struct HostRouteTable {
  int32_t (*blockOf)(const AttncArgs &, int32_t);
  int32_t (*numBlocks)(const AttncArgs &);
  bool (*always)(const AttncArgs &, int32_t, int32_t, int32_t, int32_t);
  bool (*never)(const AttncArgs &, int32_t, int32_t, int32_t, int32_t);
  double (*gate)(const AttncArgs &, int32_t, int32_t, int32_t, int32_t, double);
};

/// Compiles the route functions of several programs into one host shared object.
const HostRouteTable *buildRouteTables(const std::vector<const CompiledProgram *> &programs) {
  std::ostringstream src;
  src << "#include <math.h>\n#include <stdint.h>\n#include \"attnc/abi/KernelArgs.h\"\n";
  src << hookPreludeText(programs.at(0)->hooks.source) << "\n";
  for (size_t i = 0; i < programs.size(); ++i)
    src << "namespace p" << i << " {\n" << hookFunctions(programs[i]->hooks.source) << "\n}\n";
  src << "struct HostRouteTable { void *blockOf, *numBlocks, *always, *never, *gate; };\n";
  src << "extern \"C\" const HostRouteTable attnc_test_route_tables[] = {\n";
  for (size_t i = 0; i < programs.size(); ++i) {
    std::string ns = "&p" + std::to_string(i) + "::attnc_route_";
    src << "  {(void *)" << ns << "block_of, (void *)" << ns << "num_blocks, (void *)" << ns
        << "always, (void *)" << ns << "never, (void *)" << ns << "gate},\n";
  }
  src << "};\n";
  std::string error;
  void *tables = compileHostSymbol(src.str(), "attnc_test_route_tables", error);
  INFO(error);
  REQUIRE(tables);
  return static_cast<const HostRouteTable *>(tables);
}

/// The reference's view of the same problem: shape, params and input tensors.
struct ReferenceRoute {
  ref::detail::Binding binding;
  std::vector<ref::ParamBinding> params;

  void bind(const CompiledProgram &p, const AttncArgs &a) {
    ref::ProblemShape shape;
    shape.batch = a.batch;
    shape.heads = a.heads;
    shape.kvHeads = a.kv_heads;
    shape.qLen = a.q_len;
    shape.kvLen = a.kv_len;
    shape.headDim = a.head_dim;
    params.clear();
    for (const compiler::ParamSlot &slot : p.hooks.params) {
      ref::ParamBinding param;
      param.name = slot.name;
      param.value.type = slot.type;
      if (slot.type == dsl::Type::Float)
        param.value.f = a.fparam[slot.slot];
      else if (slot.type == dsl::Type::Bool)
        param.value.b = a.iparam[slot.slot] != 0;
      else
        param.value.i = a.iparam[slot.slot];
      params.push_back(param);
    }
    std::string error;
    INFO(p.name << ": " << error);
    REQUIRE(binding.bindStatic(*p.program, *p.attention, shape, params, error));
    binding.inputs.assign(p.attention->inputs.size(), ref::TensorView());
    for (const compiler::InputSlot &slot : p.hooks.inputs) {
      const AttncTensor &t = a.input[slot.slot];
      ref::TensorView &view = binding.inputs[slot.slot];
      view.dtype = static_cast<ref::DType>(t.dtype); // ATTNC_DT_* follow ref::DType
      view.data = t.data;
      for (int n = 0; n < t.rank; ++n) {
        view.dims.push_back(t.dim[n]);
        view.strides.push_back(t.stride[n]);
      }
    }
  }

  /// num_blocks as the reference's routing computes it.
  int numBlocks() const {
    int32_t maxBlock = 0;
    for (int t = 0; t < binding.shape.kvLen; ++t)
      maxBlock = std::max(maxBlock, static_cast<int32_t>(binding.blockOf(t)));
    return maxBlock + 1;
  }
};

/// Same value: bit-equal, both NaN, or (transcendental functions: libm against libm,
/// constants folded by MLIR) within a few ulp.
bool sameGate(double x, double y) {
  if (std::isnan(x) || std::isnan(y))
    return std::isnan(x) && std::isnan(y);
  if (x == y)
    return true;
  if (std::isinf(x) || std::isinf(y))
    return false;
  return std::fabs(x - y) <= 1e-13 * std::max(std::fabs(x), std::fabs(y));
}

struct RouteStats {
  long blockOf = 0, always = 0, never = 0, gates = 0, gatesExact = 0, alwaysTrue = 0, neverTrue = 0;
};

/// Compares every generated route function with the reference at random points of one
/// problem shape.
void checkRoute(const CompiledProgram &p, const HostRouteTable &hooks, const AttncArgs &a,
                std::mt19937_64 &rng, int points, RouteStats &stats) {
  ReferenceRoute reference;
  reference.bind(p, a);
  const ref::detail::Binding &bind = reference.binding;
  const dsl::RouteSpec &route = *p.attention->route;
  std::string shape = p.name + " (batch " + std::to_string(a.batch) + ", heads " +
                      std::to_string(a.heads) + "/" + std::to_string(a.kv_heads) + ", q_len " +
                      std::to_string(a.q_len) + ", kv_len " + std::to_string(a.kv_len) + ")";

  const int numBlocks = reference.numBlocks();
  {
    INFO(shape << "\n" << p.text);
    REQUIRE(hooks.numBlocks(a) == numBlocks);
  }

  // block_of: every key token, tokens around and beyond the grid, negative and extreme ones.
  auto checkBlockOf = [&](int32_t t) {
    int32_t generated = hooks.blockOf(a, t);
    int32_t truth = static_cast<int32_t>(bind.blockOf(t));
    if (generated != truth) {
      INFO(shape << ": block_of(" << t << ") = " << generated << ", reference " << truth << "\n"
                 << p.text);
      REQUIRE(generated == truth);
    }
    ++stats.blockOf;
  };
  for (int32_t t = 0; t < a.kv_len; ++t)
    checkBlockOf(t);
  for (int32_t t : {-1, -2, -7, -1000, std::numeric_limits<int32_t>::min(),
                    std::numeric_limits<int32_t>::min() + 1, std::numeric_limits<int32_t>::max(),
                    std::numeric_limits<int32_t>::max() - 1})
    checkBlockOf(t);
  for (int i = 0; i < points; ++i)
    checkBlockOf(static_cast<int32_t>(rng() % 2 ? rng() % (4 * a.kv_len + 64) - 2 * a.kv_len
                                                : static_cast<uint32_t>(rng())));

  // always, never, gate at random (b, h, q, blk): the same point for the reference, whose
  // dot(query, key) is made to equal `dot` (query = dot * e_0, key = e_0).
  std::vector<double> query(a.head_dim, 0.0), key(a.head_dim, 0.0);
  key[0] = 1.0;
  ref::detail::Evaluator ev(bind);
  static const double dots[] = {0.0, 1.0, -1.0, 0.5, -2.75, 1e-300, 1e300, -1e300, 123.456};
  for (int i = 0; i < points; ++i) {
    int b = static_cast<int>(rng() % a.batch), h = static_cast<int>(rng() % a.heads);
    int q = static_cast<int>(rng() % a.q_len), blk = static_cast<int>(rng() % numBlocks);
    double dot = rng() % 4 == 0
                     ? dots[rng() % 9]
                     : static_cast<double>(static_cast<int64_t>(rng() % 200001) - 100000) / 997.0;
    query[0] = dot;
    ev.b = b;
    ev.h = h;
    ev.kvh = h / (a.heads / a.kv_heads);
    ev.q = q;
    ev.k = 0;
    ev.blk = blk;
    ev.numBlocks = numBlocks;
    ev.routeQuery = query.data();
    ev.routeKey = key.data();
    ev.invalidate();
    std::string where = shape + ": b=" + std::to_string(b) + " h=" + std::to_string(h) +
                        " q=" + std::to_string(q) + " blk=" + std::to_string(blk);
    if (route.always) {
      bool truth = ev.evalBool(*route.always);
      bool generated = hooks.always(a, b, h, q, blk);
      INFO(where << ": always = " << generated << ", reference " << truth << "\n" << p.text);
      REQUIRE(generated == truth);
      stats.alwaysTrue += truth;
    } else {
      REQUIRE_FALSE(hooks.always(a, b, h, q, blk));
    }
    ++stats.always;
    if (route.never) {
      bool truth = ev.evalBool(*route.never);
      bool generated = hooks.never(a, b, h, q, blk);
      INFO(where << ": never = " << generated << ", reference " << truth << "\n" << p.text);
      REQUIRE(generated == truth);
      stats.neverTrue += truth;
    } else {
      REQUIRE_FALSE(hooks.never(a, b, h, q, blk));
    }
    ++stats.never;
    // The gate (whose expression sees the unit's first token as q).
    double truth = ev.evalFloat(*route.gate);
    double generated = hooks.gate(a, b, h, q, blk, dot);
    if (!sameGate(generated, truth)) {
      INFO(where << std::setprecision(17) << " dot=" << dot << ": gate = " << generated
                 << ", reference " << truth << "\n"
                 << p.text);
      REQUIRE(sameGate(generated, truth));
    }
    ++stats.gates;
    stats.gatesExact += generated == truth || (std::isnan(generated) && std::isnan(truth));
  }
}

/// Shapes: GQA, a partial last grid row / tile row, a long kv_len, q_len != kv_len.
std::vector<AttncArgs> routeShapes(const CompiledProgram &p, std::mt19937_64 &rng) {
  std::vector<AttncArgs> shapes{makeArgs(p.hooks, 2, 4, 2, 4096, 4096),
                                makeArgs(p.hooks, 1, 3, 3, 3000, 4400),
                                makeArgs(p.hooks, 1, 2, 1, 1, 1)};
  for (int i = 0; i < 3; ++i) {
    int kv = 1 + static_cast<int>(rng() % 20000), qLen = 1 + static_cast<int>(rng() % 5000);
    shapes.push_back(makeArgs(p.hooks, 1 + static_cast<int>(rng() % 2), 2, 2, qLen, kv));
  }
  return shapes;
}

} // namespace

TEST_CASE("generated route functions match the reference on the routed examples", "[route]") {
  std::vector<CompiledProgram> programs;
  for (const std::string &file : exampleFiles()) {
    CompiledProgram p = compileSource(file, readFile(file));
    if (p.attention->route)
      programs.push_back(std::move(p));
  }
  REQUIRE(programs.size() >= 2); // moba_bs512_top3 and vmoba_2d_threshold
  std::vector<const CompiledProgram *> pointers;
  for (const CompiledProgram &p : programs) {
    REQUIRE(p.hooks.hasRoute);
    pointers.push_back(&p);
  }
  const HostRouteTable *tables = buildRouteTables(pointers);
  std::mt19937_64 rng(0x5eed);
  RouteStats stats;
  for (size_t i = 0; i < programs.size(); ++i)
    for (AttncArgs a : routeShapes(programs[i], rng)) {
      HostInputs inputs;
      inputs.bind(*programs[i].attention, programs[i].hooks, a, rng(), 64);
      checkRoute(programs[i], tables[i], a, rng, 3000, stats);
    }
  CHECK(stats.alwaysTrue > 0);
  CHECK(stats.neverTrue > 0);
  std::printf("route examples: %ld block_of, %ld always (%ld true), %ld never (%ld true), %ld "
              "gates (%ld bit-exact)\n",
              stats.blockOf, stats.always, stats.alwaysTrue, stats.never, stats.neverTrue,
              stats.gates, stats.gatesExact);
}

TEST_CASE("route num_blocks is 1 for an empty key sequence", "[route]") {
  CompiledProgram p = compileSource("tiles.attn", R"(
layout g = grid(t: 3, y: 5, x: 7);
attention tiles over g {
  route { block = tile(t: 2, y: 2, x: 3); select = top(1); }
}
)");
  const HostRouteTable *tables = buildRouteTables({&p});
  for (int kvLen : {0, -1, std::numeric_limits<int32_t>::min()}) {
    AttncArgs a = makeArgs(p.hooks, 1, 1, 1, 1, kvLen);
    CHECK(tables->numBlocks(a) == 1);
  }
}

namespace {

/// Small random route programs over the whole route context.
class RouteProgramGenerator {
public:
  explicit RouteProgramGenerator(uint64_t seed) : rng(seed) {}

  std::string program(int index) {
    std::ostringstream os;
    axes.clear();
    int rank = pick(4); // 0: no layout
    if (rank > 0) {
      static const char *names[] = {"t", "y", "x"};
      os << "layout g = grid(";
      for (int i = 0; i < rank; ++i) {
        axes.push_back({names[3 - rank + i], 1 + pick(9)});
        os << (i ? ", " : "") << axes.back().name << ": " << axes.back().size;
      }
      os << ");\n";
    }
    perToken = pick(3) == 0;
    os << "attention r" << index << (rank ? " over g" : "") << " {\n";
    os << "  param pi: int = " << (pick(7) - 3) << ";\n";
    os << "  param pf: float = " << (pick(9) - 4) * 0.25 << ";\n";
    os << "  param pb: bool = " << (pick(2) ? "true" : "false") << ";\n";
    os << "  input flag: u8[heads];\n  input wt: f32[heads];\n  input tbl: i32[heads, 8];\n";
    os << "  const cf = 0.3;\n";
    os << "  route {\n";
    if (rank > 0 && pick(3) != 0) {
      os << "    block = tile(";
      for (size_t i = 0; i < axes.size(); ++i)
        os << (i ? ", " : "") << axes[i].name << ": " << 1 + pick(axes[i].size + 2);
      os << ");\n";
    } else {
      os << "    block = " << 1 + pick(40) << ";\n";
    }
    os << "    per = " << (perToken ? "token" : pick(2) ? "head" : "query_block(16)") << ";\n";
    inGate = true;
    os << "    gate = " << floatExpr(3, true) << ";\n";
    inGate = false;
    os << "    select = " << (pick(2) ? "top(2)" : "threshold(0.5)") << ";\n";
    if (pick(4) != 0)
      os << "    always = " << boolExpr(3) << ";\n";
    if (pick(4) != 0)
      os << "    never = " << boolExpr(3) << ";\n";
    os << "  }\n}\n";
    return os.str();
  }

private:
  struct Axis {
    std::string name;
    int size;
  };
  std::mt19937_64 rng;
  std::vector<Axis> axes;
  bool perToken = true, inGate = false;

  int pick(int n) { return static_cast<int>(rng() % n); }
  bool queryAllowed() const { return !inGate || perToken; }
  std::string intAtom() {
    static const char *literals[] = {"0", "1",  "-1",          "2",         "3",
                                     "7", "31", "-2147483648", "2147483647"};
    switch (pick(12)) {
    case 0:
      return "blk";
    case 1:
      return "num_blocks";
    case 2:
      return queryAllowed() ? "block_of(q)" : "block_of(blk)";
    case 3:
      return queryAllowed() ? "q" : "kv_h";
    case 4:
      return std::string("block_of(") + (queryAllowed() ? "q" : "h") + " + " +
             std::to_string(pick(200) - 100) + ")";
    case 5:
      return pick(2) ? "b" : "h";
    case 6:
      return "pi";
    case 7:
      return "tbl[h, blk]";
    case 8:
      if (!axes.empty()) {
        const Axis &axis = axes[pick(static_cast<int>(axes.size()))];
        return (queryAllowed() && pick(2) ? "q." : "g.") + axis.name;
      }
      return "kv_len";
    case 9:
      return pick(2) ? "q_len" : "d";
    default:
      return literals[pick(9)];
    }
  }
  std::string intExpr(int depth) {
    if (depth <= 0)
      return intAtom();
    static const char *ops[] = {"+", "-", "*", "/", "%", "<<", ">>", "&", "|", "^"};
    switch (pick(6)) {
    case 0:
      return intAtom();
    case 1:
      return "(" + intExpr(depth - 1) + " " + ops[pick(10)] + " " + intExpr(depth - 1) + ")";
    case 2: {
      static const char *fns[] = {"abs", "bit_length", "-", "~"};
      int f = pick(4);
      return std::string(fns[f]) + "(" + intExpr(depth - 1) + ")";
    }
    case 3:
      return std::string(pick(2) ? "min(" : "max(") + intExpr(depth - 1) + ", " +
             intExpr(depth - 1) + ")";
    case 4:
      return "select(" + boolExpr(depth - 1) + ", " + intExpr(depth - 1) + ", " +
             intExpr(depth - 1) + ")";
    default:
      // Correctly rounded float operations only, so that no libm rounding can flip an int.
      return "int(" + exactFloatExpr(depth - 1) + ")";
    }
  }
  std::string exactFloatExpr(int depth) {
    // Not representable in f32 (but 2.5): an f32 constant anywhere shows.
    static const char *multipliers[] = {"cf", "2.5", "0.1", "1.1"};
    if (depth <= 0)
      return pick(2) ? "float(" + intAtom() + ")" : (pick(2) ? "pf" : "wt[h]");
    switch (pick(5)) {
    case 0:
      return "(" + exactFloatExpr(depth - 1) + " * " + multipliers[pick(4)] + ")";
    case 1:
      return "(" + exactFloatExpr(depth - 1) + (pick(2) ? " + " : " - ") +
             exactFloatExpr(depth - 1) + ")";
    case 2:
      return "floor(" + exactFloatExpr(depth - 1) + ")";
    case 3:
      return "sqrt(abs(" + exactFloatExpr(depth - 1) + "))";
    default:
      return "(" + exactFloatExpr(depth - 1) + " / " + intExpr(depth - 1) + ")";
    }
  }
  std::string boolExpr(int depth) {
    static const char *cmps[] = {"<", "<=", ">", ">=", "==", "!="};
    if (depth <= 0)
      return "(" + intAtom() + " " + cmps[pick(6)] + " " + intAtom() + ")";
    switch (pick(7)) {
    case 0:
    case 1:
      return "(" + intExpr(depth - 1) + " " + cmps[pick(6)] + " " + intExpr(depth - 1) + ")";
    case 2:
      return "(" + boolExpr(depth - 1) + (pick(2) ? " && " : " || ") + boolExpr(depth - 1) + ")";
    case 3:
      return "!" + boolExpr(depth - 1);
    case 4:
      return pick(2) ? "pb" : "flag[h]";
    case 5:
      return "(" + exactFloatExpr(depth - 1) + " " + cmps[pick(6)] + " " +
             exactFloatExpr(depth - 1) + ")";
    default:
      return "(blk == block_of(" + std::string(queryAllowed() ? "q" : "h") + "))";
    }
  }
  /// The gate: anything Float, transcendental functions included, around dot(query, key).
  std::string floatExpr(int depth, bool withDot) {
    if (depth <= 0)
      return withDot || pick(3) == 0 ? "dot(query, key)" : exactFloatExpr(0);
    static const char *fns[] = {"exp",   "log",  "sqrt", "tanh", "sigmoid",
                                "floor", "exp2", "log2", "abs"};
    switch (pick(6)) {
    case 0:
      return std::string(fns[pick(9)]) + "(" + floatExpr(depth - 1, withDot) + ")";
    case 1:
      return "(" + floatExpr(depth - 1, withDot) + (pick(2) ? " * " : " / ") +
             floatExpr(depth - 1, false) + ")";
    case 2:
      return "(" + floatExpr(depth - 1, withDot) + (pick(2) ? " + " : " - ") +
             exactFloatExpr(depth - 1) + ")";
    case 3:
      return std::string(pick(2) ? "min(" : "max(") + floatExpr(depth - 1, withDot) + ", " +
             exactFloatExpr(depth - 1) + ")";
    case 4:
      return "select(" + boolExpr(depth - 1) + ", " + floatExpr(depth - 1, withDot) + ", " +
             exactFloatExpr(depth - 1) + ")";
    default:
      return "(" + floatExpr(depth - 1, withDot) + " + float(" + intExpr(depth - 1) + "))";
    }
  }
};

} // namespace

TEST_CASE("generated route functions match the reference on random route programs", "[route]") {
  constexpr int kPrograms = 60;
  RouteProgramGenerator generator(20261122);
  std::vector<CompiledProgram> programs;
  for (int i = 0; i < kPrograms; ++i) {
    std::string text = generator.program(i);
    programs.push_back(compileSource("route" + std::to_string(i) + ".attn", text));
    REQUIRE(programs.back().hooks.hasRoute);
  }
  std::vector<const CompiledProgram *> pointers;
  for (const CompiledProgram &p : programs)
    pointers.push_back(&p);
  const HostRouteTable *tables = buildRouteTables(pointers);
  std::mt19937_64 rng(7);
  RouteStats stats;
  for (int i = 0; i < kPrograms; ++i) {
    const CompiledProgram &p = programs[i];
    for (int round = 0; round < 3; ++round) {
      int heads = 1 + static_cast<int>(rng() % 4);
      AttncArgs a = makeArgs(p.hooks, 1 + static_cast<int>(rng() % 2), heads, heads,
                             1 + static_cast<int>(rng() % 300), 1 + static_cast<int>(rng() % 400));
      a.head_dim = 8;
      // Params: edge values for the Int param, exact binary fractions for the Float one.
      static const int ints[] = {
          0, 1, -1, 5, std::numeric_limits<int32_t>::min(), std::numeric_limits<int32_t>::max()};
      for (const compiler::ParamSlot &slot : p.hooks.params) {
        if (slot.type == dsl::Type::Float)
          a.fparam[slot.slot] = static_cast<float>(static_cast<int>(rng() % 33) - 16) / 8.0f;
        else if (slot.type == dsl::Type::Bool)
          a.iparam[slot.slot] = static_cast<int>(rng() % 2);
        else
          a.iparam[slot.slot] = ints[rng() % 6];
      }
      HostInputs inputs;
      inputs.bind(*p.attention, p.hooks, a, rng(), 16);
      checkRoute(p, tables[i], a, rng, 300, stats);
    }
  }
  CHECK(stats.alwaysTrue > 0);
  CHECK(stats.neverTrue > 0);
  std::printf("random route programs: %ld block_of, %ld always (%ld true), %ld never (%ld "
              "true), %ld gates (%ld bit-exact)\n",
              stats.blockOf, stats.always, stats.alwaysTrue, stats.never, stats.neverTrue,
              stats.gates, stats.gatesExact);
}
