//===- AST.cpp - The attnc abstract syntax tree -----------------------------===//
#include "attnc/dsl/AST.h"

namespace attnc::dsl {

const char *typeName(Type t) {
  switch (t) {
  case Type::Invalid:
    return "<invalid>";
  case Type::Bool:
    return "bool";
  case Type::Int:
    return "int";
  case Type::Float:
    return "float";
  }
  return "<invalid>";
}

const char *elementTypeName(ElementType t) {
  switch (t) {
  case ElementType::I32:
    return "i32";
  case ElementType::I64:
    return "i64";
  case ElementType::F32:
    return "f32";
  case ElementType::F16:
    return "f16";
  case ElementType::BF16:
    return "bf16";
  case ElementType::U8:
    return "u8";
  }
  return "<invalid>";
}

Type scalarTypeOf(ElementType t) {
  switch (t) {
  case ElementType::I32:
  case ElementType::I64:
    return Type::Int;
  case ElementType::F32:
  case ElementType::F16:
  case ElementType::BF16:
    return Type::Float;
  case ElementType::U8:
    return Type::Bool;
  }
  return Type::Invalid;
}

ExprPtr Expr::clone() const {
  auto copy = std::make_unique<Expr>();
  copy->kind = kind;
  copy->range = range;
  copy->type = type;
  copy->intValue = intValue;
  copy->floatValue = floatValue;
  copy->boolValue = boolValue;
  copy->name = name;
  copy->unaryOp = unaryOp;
  copy->binaryOp = binaryOp;
  copy->ref = ref;
  copy->func = func;
  copy->operands.reserve(operands.size());
  for (const ExprPtr &operand : operands)
    copy->operands.push_back(operand ? operand->clone() : nullptr);
  return copy;
}

const AttentionDecl *Program::find(const std::string &name) const {
  if (name.empty())
    return attentions.size() == 1 ? &attentions.front() : nullptr;
  for (const AttentionDecl &a : attentions)
    if (a.name == name)
      return &a;
  return nullptr;
}

} // namespace attnc::dsl
