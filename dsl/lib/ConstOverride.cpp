//===- ConstOverride.cpp - The values of -D NAME=VALUE --------------------===//
#include "ConstOverride.h"

#include "SemaSupport.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <limits>

namespace attnc::dsl::sema {

ExprPtr parseOverride(const std::string &value, SourceRange range) {
  std::string text = value;
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back())))
    text.pop_back();
  size_t start = 0;
  while (start < text.size() && std::isspace(static_cast<unsigned char>(text[start])))
    ++start;
  text = text.substr(start);
  auto e = std::make_unique<Expr>();
  e->range = range;
  if (text == "true" || text == "false") {
    e->kind = ExprKind::BoolLiteral;
    e->boolValue = text == "true";
    return e;
  }
  bool negative = !text.empty() && text[0] == '-';
  std::string digits = negative ? text.substr(1) : text;
  if (digits == kInfName) {
    e->kind = ExprKind::FloatLiteral;
    e->floatValue = negative ? -std::numeric_limits<double>::infinity()
                             : std::numeric_limits<double>::infinity();
    return e;
  }
  if (digits.empty() || digits.size() > 64)
    return nullptr;
  bool isInt =
      std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (isInt) {
    int64_t v = 0;
    for (char c : digits) {
      v = v * 10 + (c - '0');
      if (v > (int64_t(1) << 31))
        return nullptr;
    }
    v = negative ? -v : v;
    if (v > std::numeric_limits<int32_t>::max())
      return nullptr;
    e->kind = ExprKind::IntLiteral;
    e->intValue = v;
    return e;
  }
  // A float literal as the language spells it: digits, '.', digits, exponent.
  size_t i = 0;
  bool mantissa = false;
  while (i < digits.size() && std::isdigit(static_cast<unsigned char>(digits[i])))
    ++i, mantissa = true;
  if (i < digits.size() && digits[i] == '.') {
    ++i;
    bool frac = false;
    while (i < digits.size() && std::isdigit(static_cast<unsigned char>(digits[i])))
      ++i, frac = true;
    if (!frac)
      return nullptr;
    mantissa = true;
  }
  if (!mantissa)
    return nullptr;
  if (i < digits.size() && (digits[i] == 'e' || digits[i] == 'E')) {
    ++i;
    if (i < digits.size() && (digits[i] == '+' || digits[i] == '-'))
      ++i;
    bool exp = false;
    while (i < digits.size() && std::isdigit(static_cast<unsigned char>(digits[i])))
      ++i, exp = true;
    if (!exp)
      return nullptr;
  }
  if (i != digits.size())
    return nullptr;
  double v = std::strtod(text.c_str(), nullptr);
  if (!std::isfinite(v))
    return nullptr;
  e->kind = ExprKind::FloatLiteral;
  e->floatValue = v;
  return e;
}

} // namespace attnc::dsl::sema
