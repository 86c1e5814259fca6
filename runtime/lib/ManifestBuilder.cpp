//===- ManifestBuilder.cpp - Fill a KernelManifest from the checked program -===//
#include "attnc/runtime/ManifestBuilder.h"

#include "attnc/dsl/IntSemantics.h"
#include "attnc/runtime/RouteSource.h"

namespace attnc::runtime {

namespace {

using dsl::Expr;
using dsl::ExprKind;
using Kind = DimOp::Kind;

/// Lowers an input dimension (an Int expression of shapes, consts, layout axis sizes and
/// literals) to a postfix program that evaluates it as the reference interpreter does:
/// every node's value is promoted to Float where the checker typed the node Float.
class DimLowering {
public:
  DimLowering(const dsl::Program &program, const dsl::AttentionDecl &attention,
              std::vector<DimOp> &out)
      : program_(program), attention_(attention), out_(out) {}

  bool lower(const Expr &e, std::string &error) {
    if (!lowerNode(e, error))
      return false;
    if (e.type == dsl::Type::Float && e.kind != ExprKind::FloatLiteral)
      push(Kind::Promote);
    return true;
  }

private:
  const dsl::Program &program_;
  const dsl::AttentionDecl &attention_;
  std::vector<DimOp> &out_;

  void push(Kind kind) {
    DimOp op;
    op.kind = kind;
    out_.push_back(op);
  }
  void pushInt(int64_t v) {
    DimOp op;
    op.kind = Kind::Int;
    op.i = dsl::semantics::wrap(v);
    out_.push_back(op);
  }
  void pushConst(const dsl::ConstValue &c) {
    DimOp op;
    switch (c.type) {
    case dsl::Type::Float:
      op.kind = Kind::Float;
      op.f = c.f;
      break;
    case dsl::Type::Bool:
      op.kind = Kind::Bool;
      op.i = c.b;
      break;
    default:
      op.kind = Kind::Int;
      op.i = dsl::semantics::wrap(c.i);
      break;
    }
    out_.push_back(op);
  }

  bool unsupported(const Expr &e, std::string &error) {
    error = "'" + e.name + "' cannot be used in an input dimension";
    return false;
  }

  bool operands(const Expr &e, size_t count, std::string &error) {
    if (e.operands.size() != count) {
      error = "malformed expression in an input dimension";
      return false;
    }
    for (const auto &operand : e.operands)
      if (!operand || !lower(*operand, error))
        return false;
    return true;
  }

  bool lowerNode(const Expr &e, std::string &error) {
    switch (e.kind) {
    case ExprKind::IntLiteral:
      pushInt(e.intValue);
      return true;
    case ExprKind::FloatLiteral: {
      dsl::ConstValue c;
      c.type = dsl::Type::Float;
      c.f = e.floatValue;
      pushConst(c);
      return true;
    }
    case ExprKind::BoolLiteral: {
      dsl::ConstValue c;
      c.type = dsl::Type::Bool;
      c.b = e.boolValue;
      pushConst(c);
      return true;
    }
    case ExprKind::Name:
      return name(e, error);
    case ExprKind::Member:
      if (e.ref.kind != dsl::SymbolRef::AxisSize || attention_.layout < 0 ||
          attention_.layout >= int(program_.layouts.size()) || e.ref.index < 0 ||
          e.ref.index >= int(program_.layouts[size_t(attention_.layout)].axes.size()))
        return unsupported(e, error);
      pushInt(program_.layouts[size_t(attention_.layout)].axes[size_t(e.ref.index)].value);
      return true;
    case ExprKind::Unary:
      if (!operands(e, 1, error))
        return false;
      push(e.unaryOp == dsl::UnaryOp::Neg   ? Kind::Neg
           : e.unaryOp == dsl::UnaryOp::Not ? Kind::Not
                                            : Kind::BitNot);
      return true;
    case ExprKind::Binary:
      if (!operands(e, 2, error))
        return false;
      push(binaryKind(e.binaryOp));
      return true;
    case ExprKind::Call:
      return call(e, error);
    case ExprKind::Index:
    case ExprKind::Slice:
      return unsupported(e, error);
    }
    return unsupported(e, error);
  }

  bool name(const Expr &e, std::string &error) {
    if (e.ref.kind == dsl::SymbolRef::Const && e.ref.index >= 0 &&
        e.ref.index < int(attention_.consts.size())) {
      pushConst(attention_.consts[size_t(e.ref.index)].folded);
      return true;
    }
    if (e.ref.kind != dsl::SymbolRef::Builtin)
      return unsupported(e, error);
    DimOp op;
    op.kind = Kind::Shape;
    switch (static_cast<dsl::Builtin>(e.ref.index)) {
    case dsl::Builtin::NumBatch:
      op.shape = DimOp::ShapeValue::Batch;
      break;
    case dsl::Builtin::NumHeads:
      op.shape = DimOp::ShapeValue::Heads;
      break;
    case dsl::Builtin::NumKvHeads:
      op.shape = DimOp::ShapeValue::KvHeads;
      break;
    case dsl::Builtin::QLen:
      op.shape = DimOp::ShapeValue::QLen;
      break;
    case dsl::Builtin::KvLen:
      op.shape = DimOp::ShapeValue::KvLen;
      break;
    case dsl::Builtin::HeadDim:
      op.shape = DimOp::ShapeValue::HeadDim;
      break;
    default:
      return unsupported(e, error);
    }
    out_.push_back(op);
    return true;
  }

  static Kind binaryKind(dsl::BinaryOp op) {
    switch (op) {
    case dsl::BinaryOp::Add:
      return Kind::Add;
    case dsl::BinaryOp::Sub:
      return Kind::Sub;
    case dsl::BinaryOp::Mul:
      return Kind::Mul;
    case dsl::BinaryOp::Div:
      return Kind::Div;
    case dsl::BinaryOp::Rem:
      return Kind::Rem;
    case dsl::BinaryOp::Shl:
      return Kind::Shl;
    case dsl::BinaryOp::Shr:
      return Kind::Shr;
    case dsl::BinaryOp::BitAnd:
      return Kind::BitAnd;
    case dsl::BinaryOp::BitOr:
      return Kind::BitOr;
    case dsl::BinaryOp::BitXor:
      return Kind::BitXor;
    case dsl::BinaryOp::Lt:
      return Kind::Lt;
    case dsl::BinaryOp::Le:
      return Kind::Le;
    case dsl::BinaryOp::Gt:
      return Kind::Gt;
    case dsl::BinaryOp::Ge:
      return Kind::Ge;
    case dsl::BinaryOp::Eq:
      return Kind::Eq;
    case dsl::BinaryOp::Ne:
      return Kind::Ne;
    case dsl::BinaryOp::And:
      return Kind::And;
    case dsl::BinaryOp::Or:
      return Kind::Or;
    }
    return Kind::Add;
  }

  bool call(const Expr &e, std::string &error) {
    if (!e.func)
      return unsupported(e, error);
    struct Lowered {
      dsl::Func func;
      Kind kind;
      size_t operands;
    };
    static constexpr Lowered kCalls[] = {
        {dsl::Func::Abs, Kind::Abs, 1},
        {dsl::Func::Min, Kind::Min, 2},
        {dsl::Func::Max, Kind::Max, 2},
        {dsl::Func::Clamp, Kind::Clamp, 3},
        {dsl::Func::Exp, Kind::Exp, 1},
        {dsl::Func::Exp2, Kind::Exp2, 1},
        {dsl::Func::Log, Kind::Log, 1},
        {dsl::Func::Log2, Kind::Log2, 1},
        {dsl::Func::Tanh, Kind::Tanh, 1},
        {dsl::Func::Sigmoid, Kind::Sigmoid, 1},
        {dsl::Func::Sqrt, Kind::Sqrt, 1},
        {dsl::Func::Floor, Kind::Floor, 1},
        {dsl::Func::BitLength, Kind::BitLength, 1},
        {dsl::Func::Select, Kind::Select, 3},
        {dsl::Func::ToFloat, Kind::ToFloat, 1},
        {dsl::Func::ToInt, Kind::ToInt, 1},
    };
    for (const Lowered &c : kCalls)
      if (c.func == *e.func) {
        if (!operands(e, c.operands, error))
          return false;
        push(c.kind);
        return true;
      }
    return unsupported(e, error);
  }
};

RouteGeometry routeGeometryOf(const dsl::Program &program, const dsl::AttentionDecl &attention) {
  RouteGeometry geometry;
  if (!attention.route)
    return geometry;
  const dsl::RouteSpec &route = *attention.route;
  geometry.present = true;
  geometry.block = route.blockShape;
  if (!route.tileSizes.empty() && attention.layout >= 0 &&
      attention.layout < int(program.layouts.size()))
    for (const auto &axis : program.layouts[size_t(attention.layout)].axes)
      geometry.grid.push_back(axis.value);
  switch (route.per) {
  case dsl::RouteSpec::Granularity::Token:
    geometry.per = RouteGeometry::Unit::Token;
    break;
  case dsl::RouteSpec::Granularity::QueryBlock:
    geometry.per = RouteGeometry::Unit::QueryBlock;
    break;
  case dsl::RouteSpec::Granularity::Head:
    geometry.per = RouteGeometry::Unit::Head;
    break;
  }
  geometry.queryBlock = std::max<int64_t>(1, route.queryBlock);
  return geometry;
}

} // namespace

bool buildKernelManifest(const dsl::Program &program, const dsl::AttentionDecl &attention,
                         const compiler::GeneratedHooks *hooks, const std::string &arch, bool bf16,
                         int headDim, KernelManifest &out, std::string &error) {
  out = KernelManifest();
  out.attention = attention.name;
  out.arch = arch;
  out.bf16 = bf16;
  out.headDim = headDim;
  if (hooks && (hooks->params.size() != attention.params.size() ||
                hooks->inputs.size() != attention.inputs.size())) {
    error = "the slot tables of '" + attention.name + "' do not match its declarations";
    return false;
  }
  for (size_t i = 0; i < attention.params.size(); ++i) {
    const dsl::ParamDecl &decl = attention.params[i];
    ManifestParam param;
    param.name = decl.name;
    param.type = decl.type;
    if (hooks) {
      const compiler::ParamSlot &slot = hooks->params[i];
      if (slot.name != decl.name || slot.type != decl.type) {
        error = "param slot table does not match param '" + decl.name + "'";
        return false;
      }
      param.slot = slot.slot;
    }
    if (decl.folded) {
      dsl::ConstValue value = *decl.folded;
      if (decl.type == dsl::Type::Float && value.type == dsl::Type::Int) {
        value.type = dsl::Type::Float;
        value.f = double(value.i);
      }
      if (value.type != decl.type) {
        error = "the default of param '" + decl.name + "' is not of its type";
        return false;
      }
      param.defaultValue = value;
    }
    out.params.push_back(std::move(param));
  }
  for (size_t i = 0; i < attention.inputs.size(); ++i) {
    const dsl::InputDecl &decl = attention.inputs[i];
    ManifestInput input;
    input.name = decl.name;
    input.elementType = decl.elementType;
    if (hooks) {
      const compiler::InputSlot &slot = hooks->inputs[i];
      if (slot.name != decl.name) {
        error = "input slot table does not match input '" + decl.name + "'";
        return false;
      }
      input.slot = slot.slot;
      input.summarized = slot.summarized;
    }
    for (const dsl::ExprPtr &dim : decl.dims) {
      std::vector<DimOp> ops;
      DimLowering lowering(program, attention, ops);
      if (!dim || !lowering.lower(*dim, error)) {
        error = "input '" + decl.name + "': " + error;
        return false;
      }
      input.dims.push_back(std::move(ops));
    }
    out.inputs.push_back(std::move(input));
  }
  out.route = routeGeometryOf(program, attention);
  if (out.route.present) {
    out.routePoolKeysEntry = kRoutePoolKeysName;
    out.routePoolQueriesEntry = kRoutePoolQueriesName;
    out.routeSelectEntry = kRouteSelectName;
  }
  return true;
}

TilePolicy tilePolicyFor(const KernelConfig &config) {
  TilePolicy policy;
  policy.hopper = config.hopper;
  policy.forwardEntry = forwardKernelName(config);
  policy.summaryEntry = kSummaryKernelName;
  policy.launchTable = policy.forwardEntry + "_config";
  // The portable template's defaults as its header documents them (the runtime sets no
  // tuning macros); the launch uses them only if the table's symbol was not kept.
  const int blockM = 128, blockN = 64, warps = config.headDim == 256 ? 8 : 4, stages = 2;
  const int table[6] = {blockM,
                        blockN,
                        warps * 32,
                        stages,
                        blockM * config.headDim * 2 + 4 * stages * blockN * config.headDim + 128,
                        config.headDim};
  for (int i = 0; i < 6; ++i)
    policy.fallbackTable[i] = table[i];
  return policy;
}

} // namespace attnc::runtime
