//===- KernelManifest.cpp - Manifest format and input-dimension programs --===//
//
// The line format (one record per line, words separated by one space):
//
//   attnc-kernel-manifest 1
//   attention <name>
//   arch <arch>
//   dtype bf16|fp16
//   head_dim <n>
//   param <name> int|float|bool <slot> [<default>]       one per param, in order
//   input <name> <element type> <slot> plain|summarized <rank>
//   dim <op> ...                                          rank lines after each input
//   route none | route token|query_block|head <query block> block <n>... [grid <n>...]
//   route_entries <pool keys> <pool queries> <select>     only after a route
//   tile none | tile sm90|sm80 <forward> <summary> <launch table> <6 ints>
//   end
//
// Ops: i:<int32>, f:<C hex float, inf or nan>, b:0|1, s:<shape value>, or an operation name.
//
//===----------------------------------------------------------------------===//
#include "attnc/runtime/KernelManifest.h"

#include "attnc/dsl/IntSemantics.h"

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <sstream>

namespace attnc::runtime {

namespace {

using Kind = DimOp::Kind;
using Shape = DimOp::ShapeValue;

constexpr const char *kMagic = "attnc-kernel-manifest";
constexpr int kMaxParams = 16, kMaxInputs = 8, kMaxRank = 4, kMaxAxes = 4;
constexpr size_t kMaxNameLength = 256;

struct OpName {
  Kind kind;
  const char *name;
  int operands;
};
constexpr OpName kOps[] = {
    {Kind::Neg, "neg", 1},         {Kind::Not, "not", 1},
    {Kind::BitNot, "bitnot", 1},   {Kind::Promote, "promote", 1},
    {Kind::Abs, "abs", 1},         {Kind::Exp, "exp", 1},
    {Kind::Exp2, "exp2", 1},       {Kind::Log, "log", 1},
    {Kind::Log2, "log2", 1},       {Kind::Tanh, "tanh", 1},
    {Kind::Sigmoid, "sigmoid", 1}, {Kind::Sqrt, "sqrt", 1},
    {Kind::Floor, "floor", 1},     {Kind::BitLength, "bit_length", 1},
    {Kind::ToFloat, "float", 1},   {Kind::ToInt, "int", 1},
    {Kind::Add, "add", 2},         {Kind::Sub, "sub", 2},
    {Kind::Mul, "mul", 2},         {Kind::Div, "div", 2},
    {Kind::Rem, "rem", 2},         {Kind::Shl, "shl", 2},
    {Kind::Shr, "shr", 2},         {Kind::BitAnd, "bitand", 2},
    {Kind::BitOr, "bitor", 2},     {Kind::BitXor, "bitxor", 2},
    {Kind::Lt, "lt", 2},           {Kind::Le, "le", 2},
    {Kind::Gt, "gt", 2},           {Kind::Ge, "ge", 2},
    {Kind::Eq, "eq", 2},           {Kind::Ne, "ne", 2},
    {Kind::And, "and", 2},         {Kind::Or, "or", 2},
    {Kind::Min, "min", 2},         {Kind::Max, "max", 2},
    {Kind::Clamp, "clamp", 3},     {Kind::Select, "select", 3},
};

struct ShapeName {
  Shape value;
  const char *name;
};
constexpr ShapeName kShapes[] = {{Shape::Batch, "batch"},      {Shape::Heads, "heads"},
                                 {Shape::KvHeads, "kv_heads"}, {Shape::QLen, "q_len"},
                                 {Shape::KvLen, "kv_len"},     {Shape::HeadDim, "d"}};

constexpr dsl::ElementType kElementTypes[] = {dsl::ElementType::I32,  dsl::ElementType::I64,
                                              dsl::ElementType::F32,  dsl::ElementType::F16,
                                              dsl::ElementType::BF16, dsl::ElementType::U8};

const OpName *opOf(Kind kind) {
  for (const OpName &op : kOps)
    if (op.kind == kind)
      return &op;
  return nullptr;
}

const char *shapeName(Shape s) {
  for (const ShapeName &n : kShapes)
    if (n.value == s)
      return n.name;
  return "?";
}

const char *typeWord(dsl::Type t) {
  return t == dsl::Type::Float ? "float" : t == dsl::Type::Bool ? "bool" : "int";
}

std::string floatText(double value) {
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), "%a", value);
  return buffer;
}

const char *unitWord(RouteGeometry::Unit unit) {
  switch (unit) {
  case RouteGeometry::Unit::Token:
    return "token";
  case RouteGeometry::Unit::QueryBlock:
    return "query_block";
  case RouteGeometry::Unit::Head:
    return "head";
  }
  return "token";
}

std::string opText(const DimOp &op) {
  switch (op.kind) {
  case Kind::Int:
    return "i:" + std::to_string(op.i);
  case Kind::Float:
    return "f:" + floatText(op.f);
  case Kind::Bool:
    return op.i ? "b:1" : "b:0";
  case Kind::Shape:
    return std::string("s:") + shapeName(op.shape);
  default:
    return opOf(op.kind)->name;
  }
}

//===----------------------------------------------------------------------===//
// Reading
//===----------------------------------------------------------------------===//

bool isIdentifier(const std::string &s) {
  if (s.empty() || s.size() > kMaxNameLength || (s[0] >= '0' && s[0] <= '9'))
    return false;
  for (char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'))
      return false;
  return true;
}

bool parseInt(const std::string &s, int64_t lo, int64_t hi, int64_t &value) {
  if (s.empty() || s.size() > 20)
    return false;
  size_t start = s[0] == '-' ? 1 : 0;
  if (start == s.size())
    return false;
  for (size_t i = start; i < s.size(); ++i)
    if (s[i] < '0' || s[i] > '9')
      return false;
  errno = 0;
  char *end = nullptr;
  long long v = std::strtoll(s.c_str(), &end, 10);
  // Only the writer's spelling: no leading zeros, no "-0".
  if (errno != 0 || *end != '\0' || v < lo || v > hi || std::to_string(v) != s)
    return false;
  value = v;
  return true;
}

bool parseFloat(const std::string &s, double &value) {
  // strtod would skip leading white space; the format has none.
  if (s.empty() || s.size() > 40 || std::isspace(static_cast<unsigned char>(s[0])))
    return false;
  char *end = nullptr;
  value = std::strtod(s.c_str(), &end);
  // Only the writer's spelling (%a), so a value reads back as exactly one text.
  return *end == '\0' && floatText(value) == s;
}

/// Splits the text into lines, checking the size and that it ends with a newline.
class LineReader {
public:
  explicit LineReader(const std::string &text) : text_(text) {}
  bool next(std::vector<std::string> &words) {
    if (pos_ >= text_.size())
      return false;
    size_t end = text_.find('\n', pos_);
    if (end == std::string::npos)
      return false;
    std::string line = text_.substr(pos_, end - pos_);
    pos_ = end + 1;
    ++number_;
    words.clear();
    size_t start = 0;
    while (true) {
      size_t space = line.find(' ', start);
      words.push_back(line.substr(start, space - start));
      if (space == std::string::npos)
        break;
      start = space + 1;
    }
    return true;
  }
  int number() const { return number_; }
  bool atEnd() const { return pos_ == text_.size(); }

private:
  const std::string &text_;
  size_t pos_ = 0;
  int number_ = 0;
};

bool parseOp(const std::string &word, DimOp &op) {
  op = DimOp();
  if (word.size() > 2 && word[1] == ':') {
    std::string value = word.substr(2);
    int64_t v = 0;
    switch (word[0]) {
    case 'i':
      op.kind = Kind::Int;
      if (!parseInt(value, std::numeric_limits<int32_t>::min(), std::numeric_limits<int32_t>::max(),
                    v))
        return false;
      op.i = int32_t(v);
      return true;
    case 'f':
      op.kind = Kind::Float;
      return parseFloat(value, op.f);
    case 'b':
      op.kind = Kind::Bool;
      if (value != "0" && value != "1")
        return false;
      op.i = value == "1";
      return true;
    case 's':
      op.kind = Kind::Shape;
      for (const ShapeName &n : kShapes)
        if (value == n.name) {
          op.shape = n.value;
          return true;
        }
      return false;
    default:
      return false;
    }
  }
  for (const OpName &name : kOps)
    if (word == name.name) {
      op.kind = name.kind;
      return true;
    }
  return false;
}

/// The result type of one op over its operands' types, or Invalid when the operands do not
/// fit it (what the checker would have rejected).
dsl::Type resultType(Kind kind, const dsl::Type *in) {
  using dsl::Type;
  auto numeric = [](Type t) { return t == Type::Int || t == Type::Float; };
  auto widest = [](Type a, Type b) {
    return a == Type::Float || b == Type::Float ? Type::Float : Type::Int;
  };
  switch (kind) {
  case Kind::Neg:
  case Kind::Abs:
    return numeric(in[0]) ? in[0] : Type::Invalid;
  case Kind::Not:
    return in[0] == Type::Bool ? Type::Bool : Type::Invalid;
  case Kind::BitNot:
  case Kind::BitLength:
    return in[0] == Type::Int ? Type::Int : Type::Invalid;
  case Kind::Promote:
    return in[0] == Type::Int ? Type::Float : in[0];
  case Kind::Exp:
  case Kind::Exp2:
  case Kind::Log:
  case Kind::Log2:
  case Kind::Tanh:
  case Kind::Sigmoid:
  case Kind::Sqrt:
  case Kind::Floor:
  case Kind::ToFloat:
    return in[0] != Type::Invalid ? Type::Float : Type::Invalid;
  case Kind::ToInt:
    return in[0] != Type::Invalid ? Type::Int : Type::Invalid;
  case Kind::Add:
  case Kind::Sub:
  case Kind::Mul:
  case Kind::Div:
  case Kind::Rem:
  case Kind::Min:
  case Kind::Max:
    return numeric(in[0]) && numeric(in[1]) ? widest(in[0], in[1]) : Type::Invalid;
  case Kind::Shl:
  case Kind::Shr:
  case Kind::BitAnd:
  case Kind::BitOr:
  case Kind::BitXor:
    return in[0] == Type::Int && in[1] == Type::Int ? Type::Int : Type::Invalid;
  case Kind::Lt:
  case Kind::Le:
  case Kind::Gt:
  case Kind::Ge:
    return numeric(in[0]) && numeric(in[1]) ? Type::Bool : Type::Invalid;
  case Kind::Eq:
  case Kind::Ne:
    return (numeric(in[0]) && numeric(in[1])) || (in[0] == Type::Bool && in[1] == Type::Bool)
               ? Type::Bool
               : Type::Invalid;
  case Kind::And:
  case Kind::Or:
    return in[0] == Type::Bool && in[1] == Type::Bool ? Type::Bool : Type::Invalid;
  case Kind::Clamp:
    return numeric(in[0]) && numeric(in[1]) && numeric(in[2]) ? widest(widest(in[0], in[1]), in[2])
                                                              : Type::Invalid;
  case Kind::Select:
    if (in[0] != Type::Bool)
      return Type::Invalid;
    if (numeric(in[1]) && numeric(in[2]))
      return widest(in[1], in[2]);
    return in[1] == Type::Bool && in[2] == Type::Bool ? Type::Bool : Type::Invalid;
  default:
    return Type::Invalid;
  }
}

/// A dimension program must leave exactly one Int, never underflow and type-check.
bool checkProgram(const std::vector<DimOp> &program, std::string &error) {
  std::vector<dsl::Type> stack;
  for (const DimOp &op : program) {
    switch (op.kind) {
    case Kind::Int:
    case Kind::Shape:
      stack.push_back(dsl::Type::Int);
      continue;
    case Kind::Float:
      stack.push_back(dsl::Type::Float);
      continue;
    case Kind::Bool:
      stack.push_back(dsl::Type::Bool);
      continue;
    default:
      break;
    }
    int n = opOf(op.kind)->operands;
    if (int(stack.size()) < n) {
      error = "'" + opText(op) + "' lacks operands";
      return false;
    }
    dsl::Type in[3] = {};
    for (int k = 0; k < n; ++k)
      in[k] = stack[stack.size() - size_t(n) + size_t(k)];
    dsl::Type out = resultType(op.kind, in);
    if (out == dsl::Type::Invalid) {
      error = "'" + opText(op) + "' has operands of the wrong type";
      return false;
    }
    stack.resize(stack.size() - size_t(n));
    stack.push_back(out);
  }
  if (stack.size() != 1 || stack[0] != dsl::Type::Int) {
    error = "a dimension program must leave one int";
    return false;
  }
  return true;
}

//===----------------------------------------------------------------------===//
// Evaluation (the language's semantics, as docs/language.md defines them)
//===----------------------------------------------------------------------===//

struct Value {
  dsl::Type type = dsl::Type::Int;
  int32_t i = 0;
  double f = 0.0;
  bool b = false;
  double asDouble() const {
    return type == dsl::Type::Float ? f : type == dsl::Type::Int ? double(i) : (b ? 1.0 : 0.0);
  }
};

Value ofInt(int32_t v) {
  Value r;
  r.i = v;
  return r;
}
Value ofFloat(double v) {
  Value r;
  r.type = dsl::Type::Float;
  r.f = v;
  return r;
}
Value ofBool(bool v) {
  Value r;
  r.type = dsl::Type::Bool;
  r.b = v;
  return r;
}

int32_t shapeValue(Shape s, const ManifestShape &shape) {
  switch (s) {
  case Shape::Batch:
    return shape.batch;
  case Shape::Heads:
    return shape.heads;
  case Shape::KvHeads:
    return shape.kvHeads;
  case Shape::QLen:
    return shape.qLen;
  case Shape::KvLen:
    return shape.kvLen;
  case Shape::HeadDim:
    return shape.headDim;
  }
  return 0;
}

dsl::BinaryOp binaryOf(Kind kind) {
  switch (kind) {
  case Kind::Add:
    return dsl::BinaryOp::Add;
  case Kind::Sub:
    return dsl::BinaryOp::Sub;
  case Kind::Mul:
    return dsl::BinaryOp::Mul;
  case Kind::Div:
    return dsl::BinaryOp::Div;
  case Kind::Rem:
    return dsl::BinaryOp::Rem;
  case Kind::Shl:
    return dsl::BinaryOp::Shl;
  case Kind::Shr:
    return dsl::BinaryOp::Shr;
  case Kind::BitAnd:
    return dsl::BinaryOp::BitAnd;
  case Kind::BitOr:
    return dsl::BinaryOp::BitOr;
  case Kind::BitXor:
    return dsl::BinaryOp::BitXor;
  case Kind::Lt:
    return dsl::BinaryOp::Lt;
  case Kind::Le:
    return dsl::BinaryOp::Le;
  case Kind::Gt:
    return dsl::BinaryOp::Gt;
  case Kind::Ge:
    return dsl::BinaryOp::Ge;
  case Kind::Eq:
    return dsl::BinaryOp::Eq;
  default:
    return dsl::BinaryOp::Ne;
  }
}

Value binary(Kind kind, const Value &l, const Value &r) {
  namespace sem = dsl::semantics;
  if (kind == Kind::And)
    return ofBool(l.b && r.b);
  if (kind == Kind::Or)
    return ofBool(l.b || r.b);
  const bool useFloat = l.type == dsl::Type::Float || r.type == dsl::Type::Float;
  if (kind == Kind::Min || kind == Kind::Max) {
    if (useFloat) // fmin/fmax ignore a NaN operand, as CUDA's fminf/fmaxf
      return ofFloat(kind == Kind::Min ? std::fmin(l.asDouble(), r.asDouble())
                                       : std::fmax(l.asDouble(), r.asDouble()));
    return ofInt(kind == Kind::Min ? std::min(l.i, r.i) : std::max(l.i, r.i));
  }
  const dsl::BinaryOp op = binaryOf(kind);
  if (l.type == dsl::Type::Bool && r.type == dsl::Type::Bool)
    return ofBool(kind == Kind::Eq ? l.b == r.b : l.b != r.b);
  if (useFloat) {
    const double a = l.asDouble(), c = r.asDouble();
    switch (kind) {
    case Kind::Add:
      return ofFloat(a + c);
    case Kind::Sub:
      return ofFloat(a - c);
    case Kind::Mul:
      return ofFloat(a * c);
    case Kind::Div:
      return ofFloat(a / c);
    case Kind::Rem:
      return ofFloat(std::fmod(a, c));
    default:
      return ofBool(sem::compare(op, a, c).value_or(false));
    }
  }
  if (auto v = sem::intArithmetic(op, l.i, r.i))
    return ofInt(*v);
  return ofBool(sem::compare(op, l.i, r.i).value_or(false));
}

Value unary(Kind kind, const Value &v) {
  namespace sem = dsl::semantics;
  const bool isFloat = v.type == dsl::Type::Float;
  switch (kind) {
  case Kind::Neg:
    return isFloat ? ofFloat(-v.f) : ofInt(sem::wrapSub(0, v.i));
  case Kind::Not:
    return ofBool(!v.b);
  case Kind::BitNot:
    return ofInt(~v.i);
  case Kind::Promote:
    return v.type == dsl::Type::Int ? ofFloat(double(v.i)) : v;
  case Kind::Abs:
    return isFloat ? ofFloat(std::fabs(v.f)) : ofInt(sem::intAbs(v.i));
  case Kind::Exp:
    return ofFloat(std::exp(v.asDouble()));
  case Kind::Exp2:
    return ofFloat(std::exp2(v.asDouble()));
  case Kind::Log:
    return ofFloat(std::log(v.asDouble()));
  case Kind::Log2:
    return ofFloat(std::log2(v.asDouble()));
  case Kind::Tanh:
    return ofFloat(std::tanh(v.asDouble()));
  case Kind::Sigmoid:
    return ofFloat(1.0 / (1.0 + std::exp(-v.asDouble())));
  case Kind::Sqrt:
    return ofFloat(std::sqrt(v.asDouble()));
  case Kind::Floor:
    return ofFloat(std::floor(v.asDouble()));
  case Kind::BitLength:
    return ofInt(sem::bitLength(v.i));
  case Kind::ToFloat:
    return ofFloat(v.asDouble());
  case Kind::ToInt:
    return ofInt(v.type == dsl::Type::Int ? v.i : sem::toIntSaturating(v.asDouble()));
  default:
    return v;
  }
}

int32_t evaluate(const std::vector<DimOp> &program, const ManifestShape &shape) {
  std::vector<Value> stack;
  stack.reserve(program.size());
  for (const DimOp &op : program) {
    switch (op.kind) {
    case Kind::Int:
      stack.push_back(ofInt(op.i));
      continue;
    case Kind::Float:
      stack.push_back(ofFloat(op.f));
      continue;
    case Kind::Bool:
      stack.push_back(ofBool(op.i != 0));
      continue;
    case Kind::Shape:
      stack.push_back(ofInt(shapeValue(op.shape, shape)));
      continue;
    default:
      break;
    }
    const int n = opOf(op.kind)->operands;
    if (int(stack.size()) < n) // checked when the manifest was made or read
      return 0;
    Value *in = stack.data() + stack.size() - size_t(n);
    Value result;
    if (n == 1) {
      result = unary(op.kind, in[0]);
    } else if (n == 2) {
      result = binary(op.kind, in[0], in[1]);
    } else if (op.kind == Kind::Select) {
      const bool anyFloat = in[1].type == dsl::Type::Float || in[2].type == dsl::Type::Float;
      result = anyFloat ? ofFloat(in[0].b ? in[1].asDouble() : in[2].asDouble())
                        : (in[0].b ? in[1] : in[2]);
    } else { // clamp: min(max(x, lo), hi), hi wins when lo > hi
      result = binary(Kind::Min, binary(Kind::Max, in[0], in[1]), in[2]);
    }
    stack.resize(stack.size() - size_t(n));
    stack.push_back(result);
  }
  if (stack.size() != 1)
    return 0;
  const Value &v = stack[0];
  return v.type == dsl::Type::Int ? v.i : dsl::semantics::toIntSaturating(v.asDouble());
}

} // namespace

//===----------------------------------------------------------------------===//
// KernelManifest
//===----------------------------------------------------------------------===//

std::string KernelManifest::serialize() const {
  std::ostringstream s;
  s << kMagic << " " << kVersion << "\n";
  s << "attention " << attention << "\n";
  s << "arch " << arch << "\n";
  s << "dtype " << (bf16 ? "bf16" : "fp16") << "\n";
  s << "head_dim " << headDim << "\n";
  for (const ManifestParam &p : params) {
    s << "param " << p.name << " " << typeWord(p.type) << " " << p.slot;
    if (p.defaultValue) {
      const dsl::ConstValue &v = *p.defaultValue;
      if (p.type == dsl::Type::Float)
        s << " " << floatText(v.f);
      else if (p.type == dsl::Type::Bool)
        s << (v.b ? " true" : " false");
      else
        s << " " << v.i;
    }
    s << "\n";
  }
  for (const ManifestInput &in : inputs) {
    s << "input " << in.name << " " << dsl::elementTypeName(in.elementType) << " " << in.slot
      << (in.summarized ? " summarized " : " plain ") << in.dims.size() << "\n";
    for (const auto &dim : in.dims) {
      s << "dim";
      for (const DimOp &op : dim)
        s << " " << opText(op);
      s << "\n";
    }
  }
  if (!route.present) {
    s << "route none\n";
  } else {
    s << "route " << unitWord(route.per) << " " << route.queryBlock << " block";
    for (int64_t b : route.block)
      s << " " << b;
    if (!route.grid.empty()) {
      s << " grid";
      for (int64_t g : route.grid)
        s << " " << g;
    }
    s << "\nroute_entries " << routePoolKeysEntry << " " << routePoolQueriesEntry << " "
      << routeSelectEntry << "\n";
  }
  if (tile.forwardEntry.empty()) {
    s << "tile none\n";
  } else {
    s << "tile " << (tile.hopper ? "sm90" : "sm80") << " " << tile.forwardEntry << " "
      << tile.summaryEntry << " " << tile.launchTable;
    for (int v : tile.fallbackTable)
      s << " " << v;
    s << "\n";
  }
  s << "end\n";
  return s.str();
}

bool KernelManifest::parse(const std::string &text, KernelManifest &out, std::string &error) {
  out = KernelManifest();
  if (text.size() > kMaxManifestBytes) {
    error = "the manifest is larger than " + std::to_string(kMaxManifestBytes) + " bytes";
    return false;
  }
  LineReader reader(text);
  std::vector<std::string> w;
  auto fail = [&](const std::string &why) {
    error = "manifest line " + std::to_string(reader.number()) + ": " + why;
    return false;
  };
  auto expectLine = [&](const char *keyword, size_t words) {
    return reader.next(w) && w[0] == keyword && w.size() == words;
  };
  int64_t n = 0;
  if (!expectLine(kMagic, 2) || w[1] != std::to_string(kVersion))
    return fail("not a version " + std::to_string(kVersion) + " attnc kernel manifest");
  if (!expectLine("attention", 2) || !isIdentifier(w[1]))
    return fail("expected 'attention <name>'");
  out.attention = w[1];
  if (!expectLine("arch", 2) ||
      !(w[1] == "none" || (w[1].rfind("sm_", 0) == 0 && w[1].size() <= 16 && isIdentifier(w[1]))))
    return fail("expected 'arch <sm_XX or none>'");
  out.arch = w[1];
  if (!expectLine("dtype", 2) || (w[1] != "bf16" && w[1] != "fp16"))
    return fail("expected 'dtype bf16|fp16'");
  out.bf16 = w[1] == "bf16";
  if (!expectLine("head_dim", 2) || !parseInt(w[1], 1, 1024, n))
    return fail("expected 'head_dim <n>'");
  out.headDim = int(n);

  if (!reader.next(w))
    return fail("truncated");
  while (w[0] == "param") {
    if (out.params.size() == size_t(kMaxParams))
      return fail("more than " + std::to_string(kMaxParams) + " params");
    ManifestParam p;
    if ((w.size() != 4 && w.size() != 5) || !isIdentifier(w[1]))
      return fail("expected 'param <name> <type> <slot> [<default>]'");
    p.name = w[1];
    if (w[2] == "int")
      p.type = dsl::Type::Int;
    else if (w[2] == "float")
      p.type = dsl::Type::Float;
    else if (w[2] == "bool")
      p.type = dsl::Type::Bool;
    else
      return fail("unknown param type '" + w[2] + "'");
    if (!parseInt(w[3], -1, kMaxParams - 1, n))
      return fail("bad param slot '" + w[3] + "'");
    p.slot = int(n);
    if (w.size() == 5) {
      dsl::ConstValue v;
      v.type = p.type;
      if (p.type == dsl::Type::Float) {
        if (!parseFloat(w[4], v.f))
          return fail("bad float default '" + w[4] + "'");
      } else if (p.type == dsl::Type::Bool) {
        if (w[4] != "true" && w[4] != "false")
          return fail("bad bool default '" + w[4] + "'");
        v.b = w[4] == "true";
      } else if (!parseInt(w[4], std::numeric_limits<int64_t>::min() + 1,
                           std::numeric_limits<int64_t>::max(), v.i)) {
        return fail("bad int default '" + w[4] + "'");
      }
      p.defaultValue = v;
    }
    out.params.push_back(std::move(p));
    if (!reader.next(w))
      return fail("truncated");
  }
  while (w[0] == "input") {
    if (out.inputs.size() == size_t(kMaxInputs))
      return fail("more than " + std::to_string(kMaxInputs) + " inputs");
    ManifestInput in;
    if (w.size() != 6 || !isIdentifier(w[1]))
      return fail("expected 'input <name> <element type> <slot> plain|summarized <rank>'");
    in.name = w[1];
    bool known = false;
    for (dsl::ElementType t : kElementTypes)
      if (w[2] == dsl::elementTypeName(t)) {
        in.elementType = t;
        known = true;
      }
    if (!known)
      return fail("unknown element type '" + w[2] + "'");
    if (!parseInt(w[3], -1, kMaxInputs - 1, n))
      return fail("bad input slot '" + w[3] + "'");
    in.slot = int(n);
    if (w[4] != "plain" && w[4] != "summarized")
      return fail("expected plain or summarized, not '" + w[4] + "'");
    in.summarized = w[4] == "summarized";
    if (!parseInt(w[5], 1, kMaxRank, n))
      return fail("bad rank '" + w[5] + "'");
    for (int64_t d = 0; d < n; ++d) {
      if (!reader.next(w) || w[0] != "dim" || w.size() < 2)
        return fail("expected 'dim <op>...'");
      std::vector<DimOp> program;
      for (size_t k = 1; k < w.size(); ++k) {
        DimOp op;
        if (!parseOp(w[k], op))
          return fail("unknown dimension op '" + w[k] + "'");
        program.push_back(op);
      }
      std::string why;
      if (!checkProgram(program, why))
        return fail(why);
      in.dims.push_back(std::move(program));
    }
    out.inputs.push_back(std::move(in));
    if (!reader.next(w))
      return fail("truncated");
  }

  if (w[0] != "route" || w.size() < 2)
    return fail("expected 'route'");
  if (w[1] != "none") {
    RouteGeometry &r = out.route;
    r.present = true;
    if (w[1] == "token")
      r.per = RouteGeometry::Unit::Token;
    else if (w[1] == "query_block")
      r.per = RouteGeometry::Unit::QueryBlock;
    else if (w[1] == "head")
      r.per = RouteGeometry::Unit::Head;
    else
      return fail("unknown route unit '" + w[1] + "'");
    const int64_t maxInt = std::numeric_limits<int32_t>::max();
    if (w.size() < 5 || !parseInt(w[2], 1, maxInt, r.queryBlock) || w[3] != "block")
      return fail("expected 'route <unit> <query block> block <n>...'");
    size_t k = 4;
    for (; k < w.size() && w[k] != "grid"; ++k) {
      if (!parseInt(w[k], 1, maxInt, n))
        return fail("bad route block size '" + w[k] + "'");
      r.block.push_back(n);
    }
    if (k < w.size()) {
      for (++k; k < w.size(); ++k) {
        if (!parseInt(w[k], 1, maxInt, n))
          return fail("bad route grid size '" + w[k] + "'");
        r.grid.push_back(n);
      }
      if (r.grid.size() != r.block.size() || r.grid.size() > size_t(kMaxAxes))
        return fail("the route grid needs one size per block axis");
    } else if (r.block.size() != 1) {
      return fail("1-D route blocks have one size");
    }
    if (!reader.next(w) || w[0] != "route_entries" || w.size() != 4 || !isIdentifier(w[1]) ||
        !isIdentifier(w[2]) || !isIdentifier(w[3]))
      return fail("expected 'route_entries <pool keys> <pool queries> <select>'");
    out.routePoolKeysEntry = w[1];
    out.routePoolQueriesEntry = w[2];
    out.routeSelectEntry = w[3];
  } else if (w.size() != 2) {
    return fail("expected 'route none'");
  }

  if (!reader.next(w) || w[0] != "tile")
    return fail("expected 'tile'");
  if (w.size() == 2 && w[1] == "none") {
    if (out.arch != "none")
      return fail("a kernel for " + out.arch + " needs a tile policy");
  } else {
    if (w.size() != 11 || (w[1] != "sm90" && w[1] != "sm80") || !isIdentifier(w[2]) ||
        !isIdentifier(w[3]) || !isIdentifier(w[4]) || out.arch == "none")
      return fail("expected 'tile sm90|sm80 <forward> <summary> <launch table> <6 ints>'");
    TilePolicy &t = out.tile;
    t.hopper = w[1] == "sm90";
    t.forwardEntry = w[2];
    t.summaryEntry = w[3];
    t.launchTable = w[4];
    for (int k = 0; k < 6; ++k) {
      if (!parseInt(w[size_t(5 + k)], 0, std::numeric_limits<int32_t>::max(), n))
        return fail("bad launch table value '" + w[size_t(5 + k)] + "'");
      t.fallbackTable[k] = int(n);
    }
  }
  // Only a kernel without a binary (arch none) leaves its slots unassigned (-1).
  bool unassigned = false;
  for (const ManifestParam &p : out.params)
    unassigned = unassigned || p.slot < 0;
  for (const ManifestInput &in : out.inputs)
    unassigned = unassigned || in.slot < 0;
  if (unassigned && !out.tile.forwardEntry.empty())
    return fail("a kernel with a binary has a slot for every param and input");
  if (!expectLine("end", 1))
    return fail("expected 'end'");
  if (!reader.atEnd())
    return fail("text after 'end'");
  return true;
}

bool evaluateInputDims(const KernelManifest &manifest, const ManifestShape &shape,
                       std::vector<std::vector<int64_t>> &dims, std::string &error) {
  dims.clear();
  for (const ManifestInput &input : manifest.inputs) {
    std::vector<int64_t> d;
    for (const auto &program : input.dims) {
      const int64_t v = evaluate(program, shape);
      if (v < 1) {
        error = "input '" + input.name + "' has a dimension of size " + std::to_string(v) +
                " at this shape";
        return false;
      }
      d.push_back(v);
    }
    dims.push_back(std::move(d));
  }
  return true;
}

} // namespace attnc::runtime
