//===- MaskEvaluator.cpp - Direct AST evaluation of a mask (test oracle) --===//
#include "MaskEvaluator.h"

#include "attnc/dsl/IntSemantics.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>

namespace attnc::test {

namespace sem = dsl::semantics;

static EvalValue makeInt(int32_t v) {
  EvalValue r;
  r.type = dsl::Type::Int;
  r.i = v;
  return r;
}
static EvalValue makeFloat(double v) {
  EvalValue r;
  r.type = dsl::Type::Float;
  r.f = v;
  return r;
}
static EvalValue makeBool(bool v) {
  EvalValue r;
  r.type = dsl::Type::Bool;
  r.b = v;
  return r;
}
static double asFloat(const EvalValue &v) {
  return v.type == dsl::Type::Float ? v.f : static_cast<double>(v.i);
}
MaskEvaluator::MaskEvaluator(const dsl::Program &program, const dsl::AttentionDecl &attention,
                             const AttncArgs &args)
    : program(program), attention(attention), args(args) {
  int nextInt = 0, nextFloat = 0;
  for (const auto &p : attention.params)
    paramSlots.push_back(p.type == dsl::Type::Float ? nextFloat++ : nextInt++);
}

bool MaskEvaluator::mask(int b_, int h_, int q_, int k_) {
  b = b_;
  h = h_;
  q = q_;
  k = k_;
  letDone.assign(attention.lets.size(), 0);
  letValue.assign(attention.lets.size(), EvalValue());
  if (!attention.mask)
    return true;
  return eval(*attention.mask).b;
}

EvalValue MaskEvaluator::name(const dsl::Expr &e) {
  const dsl::SymbolRef &ref = e.ref;
  switch (ref.kind) {
  case dsl::SymbolRef::Builtin:
    switch (static_cast<dsl::Builtin>(ref.index)) {
    case dsl::Builtin::Batch:
      return makeInt(b);
    case dsl::Builtin::Head:
      return makeInt(h);
    case dsl::Builtin::KvHead: {
      int group = args.kv_heads > 0 ? args.heads / args.kv_heads : 1;
      return makeInt(group > 0 ? h / group : h);
    }
    case dsl::Builtin::Query:
      return makeInt(q);
    case dsl::Builtin::Key:
      return makeInt(k);
    case dsl::Builtin::Causal:
      return makeBool(static_cast<int64_t>(q) + (args.kv_len - args.q_len) >= k);
    case dsl::Builtin::NumBatch:
      return makeInt(args.batch);
    case dsl::Builtin::NumHeads:
      return makeInt(args.heads);
    case dsl::Builtin::NumKvHeads:
      return makeInt(args.kv_heads);
    case dsl::Builtin::QLen:
      return makeInt(args.q_len);
    case dsl::Builtin::KvLen:
      return makeInt(args.kv_len);
    case dsl::Builtin::HeadDim:
      return makeInt(args.head_dim);
    default:
      throw std::runtime_error("built-in not available in a mask");
    }
  case dsl::SymbolRef::Const: {
    const dsl::ConstValue &v = attention.consts[ref.index].folded;
    if (v.type == dsl::Type::Float)
      return makeFloat(v.f);
    if (v.type == dsl::Type::Bool)
      return makeBool(v.b);
    return makeInt(static_cast<int32_t>(v.i));
  }
  case dsl::SymbolRef::Param: {
    dsl::Type t = attention.params[ref.index].type;
    int slot = paramSlots[ref.index];
    if (t == dsl::Type::Float)
      return makeFloat(args.fparam[slot]);
    if (t == dsl::Type::Bool)
      return makeBool(args.iparam[slot] != 0);
    return makeInt(args.iparam[slot]);
  }
  case dsl::SymbolRef::Let:
    if (!letDone[ref.index]) {
      letValue[ref.index] = eval(*attention.lets[ref.index].value);
      letDone[ref.index] = 1;
    }
    return letValue[ref.index];
  case dsl::SymbolRef::Coordinate: {
    const dsl::LayoutDecl &layout = program.layouts[attention.layout];
    int64_t t = ref.token == dsl::Builtin::Key ? k : q;
    int64_t stride = 1;
    for (size_t j = ref.index + 1; j < layout.axes.size(); ++j)
      stride *= layout.axes[j].value;
    int64_t a = t / stride;
    if (ref.index > 0)
      a %= layout.axes[ref.index].value;
    return makeInt(static_cast<int32_t>(a));
  }
  case dsl::SymbolRef::AxisSize:
    return makeInt(static_cast<int32_t>(program.layouts[attention.layout].axes[ref.index].value));
  default:
    throw std::runtime_error("unexpected name in a mask");
  }
}

static float halfToFloat(uint16_t h) {
  uint32_t sign = (h & 0x8000u) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff;
  uint32_t bits;
  if (exp == 0x1f)
    bits = sign | 0x7f800000u | (man << 13);
  else if (exp == 0) {
    float v = std::ldexp(static_cast<float>(man), -24);
    return sign ? -v : v;
  } else
    bits = sign | ((exp + 112) << 23) | (man << 13);
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

EvalValue MaskEvaluator::read(const dsl::Expr &e) {
  const AttncTensor &t = args.input[e.ref.index];
  long long offset = 0;
  for (size_t n = 0; n < e.operands.size(); ++n) {
    int32_t i = eval(*e.operands[n]).i;
    i = std::max(0, std::min(i, t.dim[n] - 1));
    offset += static_cast<long long>(i) * t.stride[n];
  }
  switch (attention.inputs[e.ref.index].elementType) {
  case dsl::ElementType::I32:
    return makeInt(static_cast<const int32_t *>(t.data)[offset]);
  case dsl::ElementType::I64:
    return makeInt(
        static_cast<int32_t>(static_cast<uint32_t>(static_cast<const int64_t *>(t.data)[offset])));
  case dsl::ElementType::F32:
    return makeFloat(static_cast<const float *>(t.data)[offset]);
  case dsl::ElementType::F16:
    return makeFloat(halfToFloat(static_cast<const uint16_t *>(t.data)[offset]));
  case dsl::ElementType::BF16: {
    uint32_t bits = static_cast<uint32_t>(static_cast<const uint16_t *>(t.data)[offset]) << 16;
    float f;
    std::memcpy(&f, &bits, 4);
    return makeFloat(f);
  }
  case dsl::ElementType::U8:
    return makeBool(static_cast<const uint8_t *>(t.data)[offset] != 0);
  }
  return makeInt(0);
}

EvalValue MaskEvaluator::call(const dsl::Expr &e) {
  std::vector<EvalValue> a;
  for (const auto &operand : e.operands)
    a.push_back(eval(*operand));
  auto anyFloat = [&] {
    for (const auto &v : a)
      if (v.type == dsl::Type::Float)
        return true;
    return false;
  };
  switch (*e.func) {
  case dsl::Func::Abs:
    if (a[0].type == dsl::Type::Float)
      return makeFloat(std::fabs(a[0].f));
    return makeInt(sem::intAbs(a[0].i));
  case dsl::Func::Min:
  case dsl::Func::Max: {
    bool isMax = *e.func == dsl::Func::Max;
    if (anyFloat()) {
      double x = asFloat(a[0]), y = asFloat(a[1]);
      return makeFloat(isMax ? std::fmax(x, y) : std::fmin(x, y));
    }
    return makeInt(isMax ? sem::intMax(a[0].i, a[1].i) : sem::intMin(a[0].i, a[1].i));
  }
  case dsl::Func::Clamp:
    if (anyFloat())
      return makeFloat(std::fmin(std::fmax(asFloat(a[0]), asFloat(a[1])), asFloat(a[2])));
    return makeInt(sem::intMin(sem::intMax(a[0].i, a[1].i), a[2].i));
  case dsl::Func::Exp:
    return makeFloat(std::exp(asFloat(a[0])));
  case dsl::Func::Exp2:
    return makeFloat(std::exp2(asFloat(a[0])));
  case dsl::Func::Log:
    return makeFloat(std::log(asFloat(a[0])));
  case dsl::Func::Log2:
    return makeFloat(std::log2(asFloat(a[0])));
  case dsl::Func::Tanh:
    return makeFloat(std::tanh(asFloat(a[0])));
  case dsl::Func::Sigmoid:
    return makeFloat(1.0 / (1.0 + std::exp(-asFloat(a[0]))));
  case dsl::Func::Sqrt:
    return makeFloat(std::sqrt(asFloat(a[0])));
  case dsl::Func::Floor:
    return makeFloat(std::floor(asFloat(a[0])));
  case dsl::Func::BitLength:
    return makeInt(sem::bitLength(a[0].i));
  case dsl::Func::Select:
    if (a[1].type == dsl::Type::Float || a[2].type == dsl::Type::Float)
      return makeFloat(a[0].b ? asFloat(a[1]) : asFloat(a[2]));
    return a[0].b ? a[1] : a[2];
  case dsl::Func::ToFloat:
    return makeFloat(asFloat(a[0]));
  case dsl::Func::ToInt:
    return a[0].type == dsl::Type::Float ? makeInt(sem::toIntSaturating(a[0].f)) : a[0];
  default:
    throw std::runtime_error("function not available in a mask");
  }
}

EvalValue MaskEvaluator::eval(const dsl::Expr &e) {
  switch (e.kind) {
  case dsl::ExprKind::IntLiteral:
    return makeInt(static_cast<int32_t>(e.intValue));
  case dsl::ExprKind::FloatLiteral:
    return makeFloat(e.floatValue);
  case dsl::ExprKind::BoolLiteral:
    return makeBool(e.boolValue);
  case dsl::ExprKind::Name:
  case dsl::ExprKind::Member:
    return name(e);
  case dsl::ExprKind::Index:
    return read(e);
  case dsl::ExprKind::Call:
    return call(e);
  case dsl::ExprKind::Unary: {
    EvalValue x = eval(*e.operands[0]);
    switch (e.unaryOp) {
    case dsl::UnaryOp::Neg:
      return x.type == dsl::Type::Float ? makeFloat(-x.f) : makeInt(sem::wrapNeg(x.i));
    case dsl::UnaryOp::Not:
      return makeBool(!x.b);
    case dsl::UnaryOp::BitNot:
      return makeInt(~x.i);
    }
    break;
  }
  case dsl::ExprKind::Binary: {
    if (e.binaryOp == dsl::BinaryOp::And) {
      if (!eval(*e.operands[0]).b)
        return makeBool(false);
      return makeBool(eval(*e.operands[1]).b);
    }
    if (e.binaryOp == dsl::BinaryOp::Or) {
      if (eval(*e.operands[0]).b)
        return makeBool(true);
      return makeBool(eval(*e.operands[1]).b);
    }
    EvalValue x = eval(*e.operands[0]), y = eval(*e.operands[1]);
    bool isFloat = x.type == dsl::Type::Float || y.type == dsl::Type::Float;
    bool isBool = x.type == dsl::Type::Bool;
    double fx = asFloat(x), fy = asFloat(y);
    switch (e.binaryOp) {
    case dsl::BinaryOp::Add:
      return isFloat ? makeFloat(fx + fy) : makeInt(sem::wrapAdd(x.i, y.i));
    case dsl::BinaryOp::Sub:
      return isFloat ? makeFloat(fx - fy) : makeInt(sem::wrapSub(x.i, y.i));
    case dsl::BinaryOp::Mul:
      return isFloat ? makeFloat(fx * fy) : makeInt(sem::wrapMul(x.i, y.i));
    case dsl::BinaryOp::Div:
      return isFloat ? makeFloat(fx / fy) : makeInt(sem::intDiv(x.i, y.i));
    case dsl::BinaryOp::Rem:
      return isFloat ? makeFloat(std::fmod(fx, fy)) : makeInt(sem::intRem(x.i, y.i));
    case dsl::BinaryOp::Shl:
      return makeInt(sem::shiftLeft(x.i, y.i));
    case dsl::BinaryOp::Shr:
      return makeInt(sem::shiftRight(x.i, y.i));
    case dsl::BinaryOp::BitAnd:
      return makeInt(x.i & y.i);
    case dsl::BinaryOp::BitOr:
      return makeInt(x.i | y.i);
    case dsl::BinaryOp::BitXor:
      return makeInt(x.i ^ y.i);
    case dsl::BinaryOp::Lt:
      return makeBool(isFloat ? fx < fy : x.i < y.i);
    case dsl::BinaryOp::Le:
      return makeBool(isFloat ? fx <= fy : x.i <= y.i);
    case dsl::BinaryOp::Gt:
      return makeBool(isFloat ? fx > fy : x.i > y.i);
    case dsl::BinaryOp::Ge:
      return makeBool(isFloat ? fx >= fy : x.i >= y.i);
    case dsl::BinaryOp::Eq:
      return makeBool(isBool ? x.b == y.b : isFloat ? fx == fy : x.i == y.i);
    case dsl::BinaryOp::Ne:
      return makeBool(isBool ? x.b != y.b : isFloat ? fx != fy : x.i != y.i);
    default:
      break;
    }
    break;
  }
  default:
    break;
  }
  throw std::runtime_error("unexpected expression in a mask");
}

} // namespace attnc::test
