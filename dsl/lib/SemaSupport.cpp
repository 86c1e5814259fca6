//===- SemaSupport.cpp - Names and message helpers of the checker ---------===//
#include "SemaSupport.h"

#include "attnc/dsl/Sema.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>

namespace attnc::dsl {

std::string closestName(std::string_view name, const std::vector<std::string> &candidates) {
  // Guard the quadratic distance against pathological lengths.
  if (name.empty() || name.size() > 64)
    return {};
  std::string best;
  size_t bestDistance = std::numeric_limits<size_t>::max();
  std::vector<size_t> row;
  for (const std::string &candidate : candidates) {
    if (candidate.empty() || candidate.size() > 64 || candidate == name)
      continue;
    // Lengths differing by more than the allowed distance cannot match.
    size_t lengthGap = candidate.size() > name.size() ? candidate.size() - name.size()
                                                      : name.size() - candidate.size();
    if (lengthGap > std::max<size_t>(1, (name.size() + 1) / 3))
      continue;
    // Levenshtein distance, one row at a time.
    row.assign(candidate.size() + 1, 0);
    for (size_t j = 0; j <= candidate.size(); ++j)
      row[j] = j;
    for (size_t i = 1; i <= name.size(); ++i) {
      size_t diagonal = row[0];
      row[0] = i;
      for (size_t j = 1; j <= candidate.size(); ++j) {
        size_t up = row[j];
        size_t cost = name[i - 1] == candidate[j - 1] ? 0 : 1;
        row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + cost});
        diagonal = up;
      }
    }
    size_t distance = row[candidate.size()];
    if (distance < bestDistance) {
      bestDistance = distance;
      best = candidate;
    }
  }
  // A typo changes about a third of a name at most; single letters match nothing.
  size_t allowed = std::max<size_t>(1, (name.size() + 1) / 3);
  if (best.empty() || bestDistance > allowed || (name.size() == 1 && best.size() == 1))
    return {};
  return best;
}

namespace sema {
namespace {

struct BuiltinName {
  const char *name;
  Builtin builtin;
};

constexpr BuiltinName kBuiltinNames[] = {
    {"b", Builtin::Batch},
    {"h", Builtin::Head},
    {"kv_h", Builtin::KvHead},
    {"q", Builtin::Query},
    {"k", Builtin::Key},
    {"score", Builtin::Score},
    {"out", Builtin::Out},
    {"c", Builtin::Column},
    {"causal", Builtin::Causal},
    {"batch", Builtin::NumBatch},
    {"heads", Builtin::NumHeads},
    {"kv_heads", Builtin::NumKvHeads},
    {"q_len", Builtin::QLen},
    {"kv_len", Builtin::KvLen},
    {"d", Builtin::HeadDim},
    {"blk", Builtin::Block},
    {"num_blocks", Builtin::NumBlocks},
};

struct FuncName {
  const char *name;
  Func func;
};

constexpr FuncName kFuncNames[] = {
    {"abs", Func::Abs},
    {"min", Func::Min},
    {"max", Func::Max},
    {"clamp", Func::Clamp},
    {"exp", Func::Exp},
    {"exp2", Func::Exp2},
    {"log", Func::Log},
    {"log2", Func::Log2},
    {"tanh", Func::Tanh},
    {"sigmoid", Func::Sigmoid},
    {"sqrt", Func::Sqrt},
    {"floor", Func::Floor},
    {"bit_length", Func::BitLength},
    {"select", Func::Select},
    {"float", Func::ToFloat},
    {"int", Func::ToInt},
    {"block_of", Func::BlockOf},
    {"dot", Func::Dot},
};

} // namespace

std::optional<Builtin> lookupBuiltin(std::string_view name) {
  for (const BuiltinName &b : kBuiltinNames)
    if (name == b.name)
      return b.builtin;
  return std::nullopt;
}

std::optional<Func> lookupFunc(std::string_view name) {
  for (const FuncName &f : kFuncNames)
    if (name == f.name)
      return f.func;
  return std::nullopt;
}

std::vector<std::string> builtinNames() {
  std::vector<std::string> names;
  for (const BuiltinName &b : kBuiltinNames)
    names.push_back(b.name);
  return names;
}

std::vector<std::string> funcNames() {
  std::vector<std::string> names;
  for (const FuncName &f : kFuncNames)
    names.push_back(f.name);
  return names;
}

const char *binaryOpSpelling(BinaryOp op) {
  switch (op) {
  case BinaryOp::Add:
    return "+";
  case BinaryOp::Sub:
    return "-";
  case BinaryOp::Mul:
    return "*";
  case BinaryOp::Div:
    return "/";
  case BinaryOp::Rem:
    return "%";
  case BinaryOp::Shl:
    return "<<";
  case BinaryOp::Shr:
    return ">>";
  case BinaryOp::BitAnd:
    return "&";
  case BinaryOp::BitOr:
    return "|";
  case BinaryOp::BitXor:
    return "^";
  case BinaryOp::Lt:
    return "<";
  case BinaryOp::Le:
    return "<=";
  case BinaryOp::Gt:
    return ">";
  case BinaryOp::Ge:
    return ">=";
  case BinaryOp::Eq:
    return "==";
  case BinaryOp::Ne:
    return "!=";
  case BinaryOp::And:
    return "&&";
  case BinaryOp::Or:
    return "||";
  }
  return "?";
}

std::string lineOf(SourceRange r) { return std::to_string(r.begin.line); }

std::string formatFloat(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  for (int precision = 1; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof buf, "%.*g", precision, v);
    if (std::strtod(buf, nullptr) == v)
      break;
  }
  return buf;
}

bool fitsFp32(double v) {
  // Below 2^128 - 2^103 (the largest fp32 plus half its ulp) a value rounds to a finite fp32.
  return !std::isfinite(v) || std::fabs(v) < 0x1.ffffffp127;
}

SourceRange nameRangeOf(const Expr &e) {
  SourceRange r = e.range;
  r.end = r.begin;
  r.end.offset += static_cast<uint32_t>(e.name.size());
  r.end.column += static_cast<uint32_t>(e.name.size());
  return r;
}

} // namespace sema
} // namespace attnc::dsl
