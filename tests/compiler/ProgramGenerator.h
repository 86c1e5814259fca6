//===- ProgramGenerator.h - Random attention programs (tests) ----*- C++ -*-===//
#ifndef ATTNC_TESTS_COMPILER_PROGRAMGENERATOR_H
#define ATTNC_TESTS_COMPILER_PROGRAMGENERATOR_H

#include <cstdint>
#include <random>
#include <sstream>
#include <string>

namespace attnc::test {

/// Random well-typed masks over the whole Int/Bool language (no floats: fp32 and the
/// evaluator's float64 may legitimately differ).
class ProgramGenerator {
public:
  explicit ProgramGenerator(uint64_t seed, bool floats = false) : rng(seed), floats(floats) {}

  std::string program(int index) {
    std::ostringstream os;
    os << "attention random" << index << " {\n"
       << "  param p0: int = " << literal() << ";\n"
       << "  param p1: int = " << (1 + rng() % 300) << ";\n"
       << "  input doc: i32[batch, kv_len];\n"
       << "  input flag: u8[heads];\n"
       << "  let l0 = " << intExpr(2, /*allowLet=*/false) << ";\n"
       << "  mask = " << boolExpr(4) << ";\n}\n";
    return os.str();
  }

private:
  std::mt19937_64 rng;
  bool floats;
  int pick(int n) { return static_cast<int>(rng() % n); }
  std::string literal() {
    static const char *values[] = {"0",  "1",  "-1",  "2",  "3",          "7",    "31",
                                   "32", "64", "100", "-5", "2147483647", "1000", "128"};
    return values[pick(14)];
  }
  std::string intAtom() {
    static const char *atoms[] = {"q",  "k",  "h",         "b",         "kv_h", "q_len", "kv_len",
                                  "p0", "p1", "doc[b, q]", "doc[b, k]", "l0",   "heads"};
    int choice = pick(17);
    if (choice >= 13)
      return choice == 16 ? "(q - k)" : literal();
    return atoms[choice];
  }
  std::string floatExpr(int depth, bool allowLet) {
    static const char *funcs[] = {"exp",   "log",  "sqrt", "tanh", "sigmoid",
                                  "floor", "exp2", "log2", "abs"};
    switch (depth <= 0 ? 0 : pick(4)) {
    case 0:
      return "float(" + intExpr(depth - 1, allowLet) + ")";
    case 1:
      return std::string(funcs[pick(9)]) + "(" + floatExpr(depth - 1, allowLet) + ")";
    case 2:
      return "(" + floatExpr(depth - 1, allowLet) + " * 0.5)";
    default:
      return "(" + floatExpr(depth - 1, allowLet) + (pick(2) ? " + " : " / ") +
             intExpr(depth - 1, allowLet) + ")";
    }
  }
  std::string intExpr(int depth, bool allowLet = true) {
    if (floats && depth > 0 && pick(6) == 0)
      return "int(" + floatExpr(depth - 1, allowLet) + ")";
    if (depth <= 0 || pick(4) == 0) {
      std::string atom = intAtom();
      return (!allowLet && atom == "l0") ? "q" : atom;
    }
    static const char *ops[] = {"+", "-", "*", "/", "%", "<<", ">>", "&", "|", "^"};
    switch (pick(9)) {
    case 0:
      return "(-" + intExpr(depth - 1, allowLet) + ")";
    case 1:
      return "abs(" + intExpr(depth - 1, allowLet) + ")";
    case 2:
      return "bit_length(" + intExpr(depth - 1, allowLet) + ")";
    case 3:
      return std::string(pick(2) ? "min(" : "max(") + intExpr(depth - 1, allowLet) + ", " +
             intExpr(depth - 1, allowLet) + ")";
    case 4:
      return "clamp(" + intExpr(depth - 1, allowLet) + ", " + intExpr(depth - 1, allowLet) + ", " +
             intExpr(depth - 1, allowLet) + ")";
    case 5:
      return "select(" + boolExpr(depth - 1, allowLet) + ", " + intExpr(depth - 1, allowLet) +
             ", " + intExpr(depth - 1, allowLet) + ")";
    case 6:
      return "(~" + intExpr(depth - 1, allowLet) + ")";
    default:
      return "(" + intExpr(depth - 1, allowLet) + " " + ops[pick(10)] + " " +
             intExpr(depth - 1, allowLet) + ")";
    }
  }
  std::string boolExpr(int depth, bool allowLet = true) {
    if (depth <= 0 || pick(5) == 0) {
      switch (pick(4)) {
      case 0:
        return "causal";
      case 1:
        return "flag[h]";
      case 2:
        return pick(2) ? "true" : "false";
      default:
        break;
      }
    }
    static const char *cmps[] = {"<", "<=", ">", ">=", "==", "!="};
    if (floats && depth > 0 && pick(5) == 0)
      return "(" + floatExpr(depth - 1, allowLet) + " " + cmps[pick(6)] + " " +
             floatExpr(depth - 1, allowLet) + ")";
    switch (pick(6)) {
    case 0:
      return "(" + boolExpr(depth - 1, allowLet) + " && " + boolExpr(depth - 1, allowLet) + ")";
    case 1:
      return "(" + boolExpr(depth - 1, allowLet) + " || " + boolExpr(depth - 1, allowLet) + ")";
    case 2:
      return "(!" + boolExpr(depth - 1, allowLet) + ")";
    default:
      return "(" + intExpr(depth - 1, allowLet) + " " + cmps[pick(6)] + " " +
             intExpr(depth - 1, allowLet) + ")";
    }
  }
};

} // namespace attnc::test

#endif
