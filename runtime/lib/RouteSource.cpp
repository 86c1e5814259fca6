//===- RouteSource.cpp - CUDA source for block routing --------------------===//
//
// Prints the route expressions of the checked AST as CUDA device functions with the
// language's exact Int semantics (32-bit wrap-around, x / 0 = 0, shifts & 31) and Float
// evaluated in float64, then appends the routing pre-pass kernels (see RouteSource.h).
//
//===----------------------------------------------------------------------===//
#include "attnc/runtime/RouteSource.h"

#include <cmath>
#include <cstdio>
#include <limits>
#include <sstream>

namespace attnc::runtime {

using dsl::BinaryOp;
using dsl::Builtin;
using dsl::Expr;
using dsl::ExprKind;
using dsl::Func;
using dsl::SymbolRef;
using dsl::Type;

namespace {

// Int helpers with the reference's semantics; prefixed to stay clear of the compiler's
// prelude.
const char *kRouteHelpers = R"cuda(
// ---- attnc runtime: block routing ----
static __device__ __forceinline__ int attnc_rt_add(int x, int y) { return (int)((unsigned)x + (unsigned)y); }
static __device__ __forceinline__ int attnc_rt_sub(int x, int y) { return (int)((unsigned)x - (unsigned)y); }
static __device__ __forceinline__ int attnc_rt_mul(int x, int y) { return (int)((unsigned)x * (unsigned)y); }
static __device__ __forceinline__ int attnc_rt_neg(int x) { return (int)(0u - (unsigned)x); }
static __device__ __forceinline__ int attnc_rt_div(int x, int y) {
  if (y == 0) return 0;
  if (x == (-2147483647 - 1) && y == -1) return x;
  return x / y;
}
static __device__ __forceinline__ int attnc_rt_rem(int x, int y) { return (y == 0 || y == -1) ? 0 : x % y; }
static __device__ __forceinline__ int attnc_rt_shl(int x, int y) { return (int)((unsigned)x << (y & 31)); }
static __device__ __forceinline__ int attnc_rt_shr(int x, int y) {
  int s = y & 31;
  unsigned u = (unsigned)x >> s;
  if (x < 0 && s > 0) u |= ~(0xffffffffu >> s);
  return (int)u;
}
static __device__ __forceinline__ int attnc_rt_abs(int x) { return x < 0 ? attnc_rt_neg(x) : x; }
static __device__ __forceinline__ int attnc_rt_min(int x, int y) { return x < y ? x : y; }
static __device__ __forceinline__ int attnc_rt_max(int x, int y) { return x > y ? x : y; }
static __device__ __forceinline__ int attnc_rt_bit_length(int x) {
  unsigned m = x < 0 ? 0u - (unsigned)x : (unsigned)x;
  return m == 0 ? 0 : 32 - __clz((int)m);
}
static __device__ __forceinline__ int attnc_rt_d2i(double x) {
  if (x != x) return 0;
  if (x >= 2147483647.0) return 2147483647;
  if (x <= -2147483648.0) return -2147483647 - 1;
  return (int)x;
}
static __device__ __forceinline__ double attnc_rt_sigmoid(double x) { return 1.0 / (1.0 + exp(-x)); }
)cuda";

// The pre-pass kernels and the hook wrappers; they use the functions printed before them.
const char *kRouteKernels = R"cuda(
#define ATTNC_ROUTE_EMPTY 0
#define ATTNC_ROUTE_CANDIDATE 1
#define ATTNC_ROUTE_FORCED 2
#define ATTNC_ROUTE_FORBIDDEN 3
#define ATTNC_ROUTE_CHOSEN 4

static __device__ __forceinline__ double attnc_route_load(const unsigned short *base, long long offset) {
  unsigned short bits = base[offset];
#if defined(ATTNC_DTYPE_F16) && ATTNC_DTYPE_F16
  float f;
  asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(bits));
  return (double)f;
#else
  return (double)__uint_as_float(((unsigned)bits) << 16);
#endif
}

static __device__ __forceinline__ int attnc_route_unit_size(const AttncArgs &a) {
  return ATTNC_ROUTE_PER == 2 ? (a.q_len > 0 ? a.q_len : 1) : ATTNC_ROUTE_QUERY_BLOCK;
}

/// Mean key of block blockIdx.x for (kv head blockIdx.y, batch blockIdx.z), summed in token
/// order in float64 like the reference; counts[blk] = tokens of the block below kv_len.
extern "C" __global__ void attnc_route_pool_keys(const AttncForwardParams p, const AttncArgs a,
                                                 double *keyMean, int *counts, int numBlocks) {
  const int blk = blockIdx.x, kvh = blockIdx.y, b = blockIdx.z;
  const unsigned short *base = (const unsigned short *)p.k + b * p.k_stride[0] + kvh * p.k_stride[1];
#if ATTNC_ROUTE_TILED
  const int lo = 0, hi = a.kv_len;
#else
  const int lo = blk * ATTNC_ROUTE_BLOCK;
  const int hi = min(a.kv_len, lo + ATTNC_ROUTE_BLOCK);
#endif
  for (int c = threadIdx.x; c < a.head_dim; c += blockDim.x) {
    double sum = 0.0;
    int n = 0;
    for (int t = lo; t < hi; ++t) {
      if (attnc_route_block_of(a, t) != blk) continue;
      sum = __dadd_rn(sum, attnc_route_load(base, (long long)t * p.k_stride[2] + c));
      ++n;
    }
    keyMean[(((long long)b * a.kv_heads + kvh) * numBlocks + blk) * a.head_dim + c] =
        n > 0 ? __ddiv_rn(sum, (double)n) : 0.0;
    if (c == 0 && b == 0 && kvh == 0) counts[blk] = n;
  }
}

/// Mean query of unit blockIdx.x for (head blockIdx.y, batch blockIdx.z).
extern "C" __global__ void attnc_route_pool_queries(const AttncForwardParams p, const AttncArgs a,
                                                    double *queryMean, int units) {
  const int unit = blockIdx.x, h = blockIdx.y, b = blockIdx.z;
  const int unitSize = attnc_route_unit_size(a);
  const int lo = unit * unitSize, hi = min(a.q_len, lo + unitSize);
  const unsigned short *base = (const unsigned short *)p.q + b * p.q_stride[0] + h * p.q_stride[1];
  for (int c = threadIdx.x; c < a.head_dim; c += blockDim.x) {
    double sum = 0.0;
    for (int t = lo; t < hi; ++t)
      sum = __dadd_rn(sum, attnc_route_load(base, (long long)t * p.q_stride[2] + c));
    queryMean[(((long long)b * a.heads + h) * units + unit) * a.head_dim + c] =
        __ddiv_rn(sum, (double)(hi - lo));
  }
}

/// The reference's order: larger gate first, NaN last, ties to the lower block.
static __device__ __forceinline__ bool attnc_route_before(double ga, int ia, double gb, int ib) {
  if (ib < 0) return ia >= 0;
  if (ia < 0) return false;
  const double ninf = __longlong_as_double(0xfff0000000000000ll);
  double ka = ga != ga ? ninf : ga, kb = gb != gb ? ninf : gb;
  if (ka != kb) return ka > kb;
  bool na = ga != ga, nb = gb != gb;
  if (na != nb) return nb;
  return ia < ib;
}

/// The best remaining candidate of the warp's unit (-1 when none), on every lane.
static __device__ __forceinline__ int attnc_route_best(const double *gate, const unsigned char *state,
                                                       int numBlocks) {
  const int lane = threadIdx.x & 31;
  double bestGate = 0.0;
  int best = -1;
  for (int blk = lane; blk < numBlocks; blk += 32)
    if (state[blk] == ATTNC_ROUTE_CANDIDATE && attnc_route_before(gate[blk], blk, bestGate, best)) {
      bestGate = gate[blk];
      best = blk;
    }
  for (int offset = 16; offset > 0; offset >>= 1) {
    double otherGate = __shfl_down_sync(0xffffffffu, bestGate, offset);
    int other = __shfl_down_sync(0xffffffffu, best, offset);
    if (attnc_route_before(otherGate, other, bestGate, best)) {
      bestGate = otherGate;
      best = other;
    }
  }
  return __shfl_sync(0xffffffffu, best, 0);
}

/// One warp per (unit blockIdx.x, head blockIdx.y, batch blockIdx.z): gates, forced and
/// forbidden blocks, selection, bitmask. Dynamic shared memory: numBlocks * 9 bytes.
extern "C" __global__ void attnc_route_select(const AttncForwardParams p, const AttncArgs a,
                                              const double *keyMean, const int *counts,
                                              const double *queryMean, unsigned *routeMask,
                                              int numBlocks, int units) {
  extern __shared__ double attnc_route_smem[];
  double *gate = attnc_route_smem;
  unsigned char *state = (unsigned char *)(gate + numBlocks);
  const int unit = blockIdx.x, h = blockIdx.y, b = blockIdx.z, lane = threadIdx.x;
  const int kvh = attnc_kv_head(a, h), d = a.head_dim;
  const int unitSize = attnc_route_unit_size(a);
  const int tokenLo = unit * unitSize, tokenHi = min(a.q_len, tokenLo + unitSize);

  for (int blk = lane; blk < numBlocks; blk += 32) {
    if (counts[blk] == 0) {
      gate[blk] = 0.0;
      state[blk] = ATTNC_ROUTE_EMPTY;
      continue;
    }
    const double *key = keyMean + (((long long)b * a.kv_heads + kvh) * numBlocks + blk) * d;
    double dotv = 0.0;
#if ATTNC_ROUTE_PER == 0
    const unsigned short *qrow = (const unsigned short *)p.q + b * p.q_stride[0] +
                                 h * p.q_stride[1] + (long long)tokenLo * p.q_stride[2];
    for (int c = 0; c < d; ++c)
      dotv = __dadd_rn(dotv, __dmul_rn(attnc_route_load(qrow, c), key[c]));
#else
    const double *query = queryMean + (((long long)b * a.heads + h) * units + unit) * d;
    for (int c = 0; c < d; ++c)
      dotv = __dadd_rn(dotv, __dmul_rn(query[c], key[c]));
#endif
    gate[blk] = attnc_route_gate(a, b, h, tokenLo, blk, numBlocks, dotv);
    // ANY token of the unit forces, EVERY token forbids; forbidden beats forced.
    bool anyAlways = false, everyNever = ATTNC_ROUTE_HAS_NEVER;
    for (int t = tokenLo; t < tokenHi && (ATTNC_ROUTE_HAS_ALWAYS || everyNever); ++t) {
      if (ATTNC_ROUTE_HAS_ALWAYS && !anyAlways && attnc_route_always(a, b, h, t, blk, numBlocks))
        anyAlways = true;
      if (everyNever && !attnc_route_never(a, b, h, t, blk, numBlocks))
        everyNever = false;
      if (anyAlways && !everyNever)
        break;
    }
    state[blk] = everyNever ? ATTNC_ROUTE_FORBIDDEN
                            : (anyAlways ? ATTNC_ROUTE_FORCED : ATTNC_ROUTE_CANDIDATE);
  }
  __syncwarp();

  int numForced = 0;
  for (int blk = lane; blk < numBlocks; blk += 32)
    numForced += state[blk] == ATTNC_ROUTE_FORCED;
  for (int offset = 16; offset > 0; offset >>= 1)
    numForced += __shfl_xor_sync(0xffffffffu, numForced, offset);

#if ATTNC_ROUTE_THRESHOLD
  const double mass = attnc_route_mass(a, b, h, tokenLo, numBlocks);
  // Softmax over forced and candidate blocks, summed in block order on lane 0 (as the
  // reference does), then candidates in gate order until the mass is reached.
  double maxGate = 0.0, total = 0.0, selectedMass = 0.0;
  if (lane == 0) {
    const double ninf = __longlong_as_double(0xfff0000000000000ll);
    maxGate = ninf;
    for (int blk = 0; blk < numBlocks; ++blk)
      if ((state[blk] == ATTNC_ROUTE_FORCED || state[blk] == ATTNC_ROUTE_CANDIDATE) &&
          gate[blk] == gate[blk])
        maxGate = fmax(maxGate, gate[blk]);
    for (int blk = 0; blk < numBlocks; ++blk)
      if ((state[blk] == ATTNC_ROUTE_FORCED || state[blk] == ATTNC_ROUTE_CANDIDATE) &&
          gate[blk] == gate[blk])
        total += maxGate == ninf ? 1.0 : exp(gate[blk] - maxGate);
    for (int blk = 0; blk < numBlocks; ++blk)
      if (state[blk] == ATTNC_ROUTE_FORCED && total > 0 && gate[blk] == gate[blk])
        selectedMass += (maxGate == ninf ? 1.0 : exp(gate[blk] - maxGate)) / total;
  }
  selectedMass = __shfl_sync(0xffffffffu, selectedMass, 0);
  total = __shfl_sync(0xffffffffu, total, 0);
  maxGate = __shfl_sync(0xffffffffu, maxGate, 0);
  const double ninf = __longlong_as_double(0xfff0000000000000ll);
  while (!(selectedMass >= mass)) {
    int best = attnc_route_best(gate, state, numBlocks);
    if (best < 0)
      break;
    if (total > 0 && gate[best] == gate[best])
      selectedMass += (maxGate == ninf ? 1.0 : exp(gate[best] - maxGate)) / total;
    __syncwarp();
    if (lane == 0)
      state[best] = ATTNC_ROUTE_CHOSEN;
    __syncwarp();
  }
#else
  const int topN = attnc_route_topn(a, b, h, tokenLo, numBlocks);
  for (int extra = topN - numForced; extra > 0; --extra) {
    int best = attnc_route_best(gate, state, numBlocks);
    if (best < 0)
      break;
    __syncwarp();
    if (lane == 0)
      state[best] = ATTNC_ROUTE_CHOSEN;
    __syncwarp();
  }
#endif
  __syncwarp();
  unsigned *mask = routeMask + (((long long)b * a.heads + h) * units + unit) * a.route_words;
  for (int w = lane; w < a.route_words; w += 32) {
    unsigned bits = 0;
    for (int j = 0; j < 32; ++j) {
      int blk = w * 32 + j;
      if (blk < numBlocks && (state[blk] == ATTNC_ROUTE_FORCED || state[blk] == ATTNC_ROUTE_CHOSEN))
        bits |= 1u << j;
    }
    mask[w] = bits;
  }
}

static __device__ __forceinline__ bool attnc_route_bit(const AttncArgs &a, int b, int h, int unit,
                                                       int blk) {
  const int units = (a.q_len + attnc_route_unit_size(a) - 1) / attnc_route_unit_size(a);
  // The kernel also evaluates the mask on padding rows (q >= q_len): those have no unit.
  if (unit < 0 || unit >= units || blk < 0 || (blk >> 5) >= a.route_words)
    return false;
  const unsigned *mask = a.route_mask + (((long long)b * a.heads + h) * units + unit) * a.route_words;
  return (mask[blk >> 5] >> (blk & 31)) & 1u;
}

/// The whole keep predicate: key k's block is selected for q's unit, and the mask holds.
static __device__ __forceinline__ bool attnc_mask(const AttncArgs &a, int b, int h, int q, int k) {
  return attnc_route_bit(a, b, h, q / attnc_route_unit_size(a), attnc_route_block_of(a, k)) &&
         attnc_mask_unrouted(a, b, h, q, k);
}

/// The mask's classification, cut by routing: EMPTY when no pair of the tile is routed,
/// at most PARTIAL when some are not.
static __device__ __forceinline__ int attnc_classify(const AttncArgs &a, int b, int h, int q_lo,
                                                     int q_hi, int k_lo, int k_hi) {
  int cls = attnc_classify_unrouted(a, b, h, q_lo, q_hi, k_lo, k_hi);
  if (cls == ATTNC_TILE_EMPTY)
    return cls;
  const int unitSize = attnc_route_unit_size(a);
  q_hi = min(q_hi, a.q_len - 1);
  k_hi = min(k_hi, a.kv_len - 1);
  bool any = false, all = true;
  // Stops as soon as the answer is PARTIAL (some bit set, some clear): with per-token units
  // a 128-row tile has 128 bitmasks to look at, and most tiles are decided after a few.
  for (int unit = q_lo / unitSize; unit <= q_hi / unitSize && !(any && !all); ++unit) {
#if ATTNC_ROUTE_TILED
    for (int k = k_lo; k <= k_hi; ++k) {
      bool bit = attnc_route_bit(a, b, h, unit, attnc_route_block_of(a, k));
#else
    for (int blk = k_lo / ATTNC_ROUTE_BLOCK; blk <= k_hi / ATTNC_ROUTE_BLOCK; ++blk) {
      bool bit = attnc_route_bit(a, b, h, unit, blk);
#endif
      any = any || bit;
      all = all && bit;
    }
  }
  if (!any)
    return ATTNC_TILE_EMPTY;
  return all ? cls : ATTNC_TILE_PARTIAL;
}
)cuda";

/// Prints checked route expressions as CUDA.
class Printer {
public:
  Printer(const dsl::Program &program, const dsl::AttentionDecl &attention,
          const compiler::GeneratedHooks &hooks)
      : program_(program), attention_(attention), hooks_(hooks) {}

  bool failed() const { return !error_.empty(); }
  const std::string &error() const { return error_; }

  /// `e` converted to `want` (only Int -> Float converts; otherwise the checker's type).
  std::string print(const Expr &e, Type want) {
    std::string text = print(e);
    if (want == Type::Float && e.type == Type::Int)
      return "((double)(" + text + "))";
    return text;
  }

  std::string print(const Expr &e) {
    if (++depth_ > 200) {
      fail("expression too deeply nested");
      return "0";
    }
    std::string text = printNode(e);
    --depth_;
    return text;
  }

private:
  void fail(const std::string &message) {
    if (error_.empty())
      error_ = message;
  }

  static std::string intLiteral(int64_t value) {
    int32_t v = static_cast<int32_t>(static_cast<uint32_t>(value));
    if (v == std::numeric_limits<int32_t>::min())
      return "(-2147483647 - 1)";
    return "(" + std::to_string(v) + ")";
  }

  static std::string floatLiteral(double value) {
    if (std::isnan(value))
      return "(__longlong_as_double(0x7ff8000000000000ll))";
    if (std::isinf(value))
      return value > 0 ? "(__longlong_as_double(0x7ff0000000000000ll))"
                       : "(__longlong_as_double(0xfff0000000000000ll))";
    char buffer[64];
    std::snprintf(buffer, sizeof(buffer), "%.17g", value);
    std::string text = buffer;
    if (text.find_first_of(".eE") == std::string::npos)
      text += ".0";
    return "(" + text + ")";
  }

  std::string constValue(const dsl::ConstValue &v) {
    switch (v.type) {
    case Type::Int:
      return intLiteral(v.i);
    case Type::Float:
      return floatLiteral(v.f);
    case Type::Bool:
      return v.b ? "true" : "false";
    default:
      fail("a constant has no value");
      return "0";
    }
  }

  /// The coordinate of token `t` on layout axis `axis` (row-major, axis 0 unwrapped).
  std::string coordinate(const std::string &t, int axis) {
    const dsl::LayoutDecl *layout = layoutOf();
    if (!layout) {
      fail("a layout coordinate is used without a layout");
      return "0";
    }
    int64_t inner = 1;
    for (size_t j = size_t(axis) + 1; j < layout->axes.size(); ++j)
      inner = int64_t(int32_t(uint32_t(inner) * uint32_t(layout->axes[j].value)));
    std::string v = "attnc_rt_div(" + t + ", " + intLiteral(inner) + ")";
    if (axis == 0)
      return v;
    return "attnc_rt_rem(" + v + ", " + intLiteral(layout->axes[size_t(axis)].value) + ")";
  }

  const dsl::LayoutDecl *layoutOf() const {
    if (attention_.layout < 0 || attention_.layout >= int(program_.layouts.size()))
      return nullptr;
    return &program_.layouts[size_t(attention_.layout)];
  }

  std::string builtin(Builtin b) {
    switch (b) {
    case Builtin::Batch:
      return "b";
    case Builtin::Head:
      return "h";
    case Builtin::KvHead:
      return "attnc_kv_head(a, h)";
    case Builtin::Query:
      return "q";
    case Builtin::NumBatch:
      return "a.batch";
    case Builtin::NumHeads:
      return "a.heads";
    case Builtin::NumKvHeads:
      return "a.kv_heads";
    case Builtin::QLen:
      return "a.q_len";
    case Builtin::KvLen:
      return "a.kv_len";
    case Builtin::HeadDim:
      return "a.head_dim";
    case Builtin::Block:
      return "blk";
    case Builtin::NumBlocks:
      return "num_blocks";
    default:
      fail("built-in name not available in a route (key, score, out, column or causal)");
      return "0";
    }
  }

  int paramSlot(const std::string &name, Type &type) {
    for (const auto &slot : hooks_.params)
      if (slot.name == name) {
        type = slot.type;
        return slot.slot;
      }
    fail("param '" + name + "' has no slot");
    return 0;
  }

  std::string printNode(const Expr &e) {
    switch (e.kind) {
    case ExprKind::IntLiteral:
      return intLiteral(e.intValue);
    case ExprKind::FloatLiteral:
      return floatLiteral(e.floatValue);
    case ExprKind::BoolLiteral:
      return e.boolValue ? "true" : "false";
    case ExprKind::Name:
      return name(e);
    case ExprKind::Unary: {
      std::string x = print(*e.operands[0]);
      switch (e.unaryOp) {
      case dsl::UnaryOp::Neg:
        return e.type == Type::Int ? "attnc_rt_neg(" + x + ")" : "(-(" + x + "))";
      case dsl::UnaryOp::Not:
        return "(!(" + x + "))";
      case dsl::UnaryOp::BitNot:
        return "(~(" + x + "))";
      }
      break;
    }
    case ExprKind::Binary:
      return binary(e);
    case ExprKind::Call:
      return call(e);
    case ExprKind::Index:
      return index(e);
    case ExprKind::Member:
      if (e.ref.kind == SymbolRef::AxisSize) {
        const dsl::LayoutDecl *layout = layoutOf();
        if (!layout || e.ref.index < 0 || e.ref.index >= int(layout->axes.size())) {
          fail("unknown layout axis");
          return "0";
        }
        return intLiteral(layout->axes[size_t(e.ref.index)].value);
      }
      if (e.ref.kind == SymbolRef::Coordinate) {
        if (e.ref.token != Builtin::Query) {
          fail("key coordinates are not available in a route");
          return "0";
        }
        return coordinate("q", e.ref.index);
      }
      fail("unsupported member expression in a route");
      return "0";
    case ExprKind::Slice:
      fail("':' is not available in a route");
      return "0";
    }
    fail("unsupported expression in a route");
    return "0";
  }

  std::string name(const Expr &e) {
    switch (e.ref.kind) {
    case SymbolRef::Builtin:
      return builtin(static_cast<Builtin>(e.ref.index));
    case SymbolRef::Const:
      if (e.ref.index < 0 || e.ref.index >= int(attention_.consts.size())) {
        fail("unknown const");
        return "0";
      }
      return constValue(attention_.consts[size_t(e.ref.index)].folded);
    case SymbolRef::Param: {
      Type type = Type::Int;
      int slot = paramSlot(e.name, type);
      if (type == Type::Float)
        return "((double)attnc_fparam(a, " + std::to_string(slot) + "))";
      if (type == Type::Bool)
        return "attnc_bparam(a, " + std::to_string(slot) + ")";
      return "attnc_iparam(a, " + std::to_string(slot) + ")";
    }
    case SymbolRef::Let:
      if (e.ref.index < 0 || e.ref.index >= int(attention_.lets.size()) ||
          !attention_.lets[size_t(e.ref.index)].value) {
        fail("unknown let");
        return "0";
      }
      return "(" + print(*attention_.lets[size_t(e.ref.index)].value) + ")";
    default:
      fail("unsupported name '" + e.name + "' in a route");
      return "0";
    }
  }

  std::string binary(const Expr &e) {
    const Expr &l = *e.operands[0], &r = *e.operands[1];
    bool floatMath = l.type == Type::Float || r.type == Type::Float;
    Type operand = floatMath ? Type::Float : l.type;
    std::string x = print(l, operand), y = print(r, operand);
    auto infix = [&](const char *op) { return "((" + x + ") " + op + " (" + y + "))"; };
    switch (e.binaryOp) {
    case BinaryOp::Add:
      return floatMath ? infix("+") : "attnc_rt_add(" + x + ", " + y + ")";
    case BinaryOp::Sub:
      return floatMath ? infix("-") : "attnc_rt_sub(" + x + ", " + y + ")";
    case BinaryOp::Mul:
      return floatMath ? infix("*") : "attnc_rt_mul(" + x + ", " + y + ")";
    case BinaryOp::Div:
      return floatMath ? infix("/") : "attnc_rt_div(" + x + ", " + y + ")";
    case BinaryOp::Rem:
      return floatMath ? "fmod(" + x + ", " + y + ")" : "attnc_rt_rem(" + x + ", " + y + ")";
    case BinaryOp::Shl:
      return "attnc_rt_shl(" + x + ", " + y + ")";
    case BinaryOp::Shr:
      return "attnc_rt_shr(" + x + ", " + y + ")";
    case BinaryOp::BitAnd:
      return infix("&");
    case BinaryOp::BitOr:
      return infix("|");
    case BinaryOp::BitXor:
      return infix("^");
    case BinaryOp::Lt:
      return infix("<");
    case BinaryOp::Le:
      return infix("<=");
    case BinaryOp::Gt:
      return infix(">");
    case BinaryOp::Ge:
      return infix(">=");
    case BinaryOp::Eq:
      return infix("==");
    case BinaryOp::Ne:
      return infix("!=");
    case BinaryOp::And:
      return infix("&&");
    case BinaryOp::Or:
      return infix("||");
    }
    fail("unsupported binary operator in a route");
    return "0";
  }

  std::string call(const Expr &e) {
    if (!e.func) {
      fail("unresolved call in a route");
      return "0";
    }
    auto arg = [&](size_t i, Type want) { return print(*e.operands[i], want); };
    bool anyFloat = false;
    for (const auto &operand : e.operands)
      anyFloat = anyFloat || operand->type == Type::Float;
    Type math = anyFloat ? Type::Float : Type::Int;
    switch (*e.func) {
    case Func::Abs:
      return anyFloat ? "fabs(" + arg(0, math) + ")" : "attnc_rt_abs(" + arg(0, math) + ")";
    case Func::Min:
      return anyFloat ? "fmin(" + arg(0, math) + ", " + arg(1, math) + ")"
                      : "attnc_rt_min(" + arg(0, math) + ", " + arg(1, math) + ")";
    case Func::Max:
      return anyFloat ? "fmax(" + arg(0, math) + ", " + arg(1, math) + ")"
                      : "attnc_rt_max(" + arg(0, math) + ", " + arg(1, math) + ")";
    case Func::Clamp:
      return anyFloat
                 ? "fmin(fmax(" + arg(0, math) + ", " + arg(1, math) + "), " + arg(2, math) + ")"
                 : "attnc_rt_min(attnc_rt_max(" + arg(0, math) + ", " + arg(1, math) + "), " +
                       arg(2, math) + ")";
    case Func::Exp:
      return "exp(" + arg(0, Type::Float) + ")";
    case Func::Exp2:
      return "exp2(" + arg(0, Type::Float) + ")";
    case Func::Log:
      return "log(" + arg(0, Type::Float) + ")";
    case Func::Log2:
      return "log2(" + arg(0, Type::Float) + ")";
    case Func::Tanh:
      return "tanh(" + arg(0, Type::Float) + ")";
    case Func::Sigmoid:
      return "attnc_rt_sigmoid(" + arg(0, Type::Float) + ")";
    case Func::Sqrt:
      return "sqrt(" + arg(0, Type::Float) + ")";
    case Func::Floor:
      return "floor(" + arg(0, Type::Float) + ")";
    case Func::BitLength:
      return "attnc_rt_bit_length(" + arg(0, Type::Int) + ")";
    case Func::Select: {
      bool floatResult = e.operands[1]->type == Type::Float || e.operands[2]->type == Type::Float;
      Type want = floatResult ? Type::Float : e.operands[1]->type;
      return "((" + arg(0, Type::Bool) + ") ? (" + arg(1, want) + ") : (" + arg(2, want) + "))";
    }
    case Func::ToFloat:
      return "((double)(" + arg(0, e.operands[0]->type) + "))";
    case Func::ToInt:
      return e.operands[0]->type == Type::Float ? "attnc_rt_d2i(" + arg(0, Type::Float) + ")"
                                                : arg(0, Type::Int);
    case Func::BlockOf:
      return "attnc_route_block_of(a, " + arg(0, Type::Int) + ")";
    case Func::Dot:
      return "dotv";
    }
    fail("unsupported function in a route");
    return "0";
  }

  std::string index(const Expr &e) {
    if (e.ref.kind != SymbolRef::Input || e.ref.index < 0 ||
        e.ref.index >= int(attention_.inputs.size())) {
      fail("unresolved tensor read in a route");
      return "0";
    }
    const dsl::InputDecl &input = attention_.inputs[size_t(e.ref.index)];
    int slot = -1;
    for (const auto &s : hooks_.inputs)
      if (s.name == input.name)
        slot = s.slot;
    if (slot < 0 || e.operands.size() != input.dims.size() || e.operands.empty() ||
        e.operands.size() > 4) {
      fail("input '" + input.name + "' has no slot or a bad rank");
      return "0";
    }
    std::string text = std::string("attnc_read_") + dsl::elementTypeName(input.elementType) + "_" +
                       std::to_string(e.operands.size()) + "(a, " + std::to_string(slot);
    for (const auto &operand : e.operands)
      text += ", " + print(*operand, Type::Int);
    text += ")";
    if (dsl::scalarTypeOf(input.elementType) == Type::Float)
      return "((double)" + text + ")";
    return text;
  }

  const dsl::Program &program_;
  const dsl::AttentionDecl &attention_;
  const compiler::GeneratedHooks &hooks_;
  std::string error_;
  int depth_ = 0;
};

/// block_of(t) for 1-D blocks or N-D tiles, with the reference's Int semantics.
std::string blockOfFunction(const dsl::Program &program, const dsl::AttentionDecl &attention,
                            std::string &error) {
  const dsl::RouteSpec &route = *attention.route;
  std::ostringstream out;
  out << "static __device__ __forceinline__ int attnc_route_block_of(const AttncArgs &a, int t) "
         "{\n";
  if (route.tileSizes.empty()) {
    out << "  return attnc_rt_div(t, " << route.blockShape.at(0) << ");\n}\n";
    return out.str();
  }
  if (attention.layout < 0 || attention.layout >= int(program.layouts.size())) {
    error = "route tiles need a layout";
    return "";
  }
  const auto &axes = program.layouts[size_t(attention.layout)].axes;
  if (axes.size() != route.blockShape.size()) {
    error = "route tile needs one size per layout axis";
    return "";
  }
  out << "  int block = 0;\n";
  for (size_t i = 0; i < axes.size(); ++i) {
    int64_t inner = 1;
    for (size_t j = i + 1; j < axes.size(); ++j)
      inner = int64_t(int32_t(uint32_t(inner) * uint32_t(axes[j].value)));
    std::string coordinate = "attnc_rt_div(t, " + std::to_string(inner) + ")";
    if (i > 0)
      coordinate = "attnc_rt_rem(" + coordinate + ", " + std::to_string(axes[i].value) + ")";
    std::string bc =
        "attnc_rt_div(" + coordinate + ", " + std::to_string(route.blockShape[i]) + ")";
    if (i == 0) {
      out << "  block = " << bc << ";\n";
    } else {
      int64_t count = (axes[i].value + route.blockShape[i] - 1) / route.blockShape[i];
      out << "  block = attnc_rt_add(attnc_rt_mul(block, " << count << "), " << bc << ");\n";
    }
  }
  out << "  return block;\n}\n";
  return out.str();
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

  Printer printer(program, attention, hooks);
  std::ostringstream s;
  s << "#undef attnc_mask\n#undef attnc_classify\n";
  // Routing needs the mask hook even where the mask alone is `true`.
  s << "#undef ATTNC_MASK_ALWAYS_TRUE\n#define ATTNC_MASK_ALWAYS_TRUE 0\n";
  s << "#define ATTNC_ROUTE_PER " << per << "\n";
  s << "#define ATTNC_ROUTE_QUERY_BLOCK " << (per == 1 ? std::max<int64_t>(1, route.queryBlock) : 1)
    << "\n";
  s << "#define ATTNC_ROUTE_TILED " << (route.tileSizes.empty() ? 0 : 1) << "\n";
  s << "#define ATTNC_ROUTE_BLOCK " << (route.tileSizes.empty() ? route.blockShape[0] : 1) << "\n";
  s << "#define ATTNC_ROUTE_THRESHOLD " << (threshold ? 1 : 0) << "\n";
  s << "#define ATTNC_ROUTE_HAS_ALWAYS " << (route.always ? 1 : 0) << "\n";
  s << "#define ATTNC_ROUTE_HAS_NEVER " << (route.never ? 1 : 0) << "\n";
  s << kRouteHelpers;
  std::string blockOf = blockOfFunction(program, attention, error);
  if (blockOf.empty())
    return false;
  s << blockOf;

  const char *unitArgs = "const AttncArgs &a, int b, int h, int q, int num_blocks";
  const char *blockArgs = "const AttncArgs &a, int b, int h, int q, int blk, int num_blocks";
  s << "static __device__ __forceinline__ double attnc_route_gate(" << blockArgs
    << ", double dotv) {\n  return "
    << (route.gate ? printer.print(*route.gate, Type::Float) : std::string("dotv")) << ";\n}\n";
  s << "static __device__ __forceinline__ bool attnc_route_always(" << blockArgs << ") {\n  return "
    << (route.always ? printer.print(*route.always) : std::string("false")) << ";\n}\n";
  s << "static __device__ __forceinline__ bool attnc_route_never(" << blockArgs << ") {\n  return "
    << (route.never ? printer.print(*route.never) : std::string("false")) << ";\n}\n";
  // The selection argument is evaluated per unit (q = the unit's first token, blk = 0).
  s << "static __device__ __forceinline__ int attnc_route_topn(" << unitArgs
    << ") {\n  const int blk = 0; (void)blk;\n  return "
    << (!threshold && route.selectArg ? printer.print(*route.selectArg, Type::Int)
                                      : std::string("0"))
    << ";\n}\n";
  s << "static __device__ __forceinline__ double attnc_route_mass(" << unitArgs
    << ") {\n  const int blk = 0; (void)blk;\n  return "
    << (threshold && route.selectArg ? printer.print(*route.selectArg, Type::Float)
                                     : std::string("1.0"))
    << ";\n}\n";
  if (printer.failed()) {
    error = "cannot generate the routing code: " + printer.error();
    return false;
  }
  s << kRouteKernels;
  out.beforeHooks = "// ---- attnc runtime: the mask and classifier are wrapped by routing ----\n"
                    "#define attnc_mask attnc_mask_unrouted\n"
                    "#define attnc_classify attnc_classify_unrouted\n";
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
    plan.unitSize = int(std::max<int64_t>(1, route.queryBlock));
    plan.pooledQueries = true;
    break;
  case dsl::RouteSpec::Granularity::Head:
    plan.unitSize = std::max(1, qLen);
    plan.pooledQueries = true;
    break;
  }
  plan.units = (qLen + plan.unitSize - 1) / plan.unitSize;
  plan.words = (plan.numBlocks + 31) / 32;
  return plan;
}

} // namespace attnc::runtime
