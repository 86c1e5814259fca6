//===- HostClassifier.cpp - The generated tile classifier, run on the host ----===//
//
// The generated classifier functions are straight-line code: constants, a few arith ops,
// calls of prelude helpers and (for factored masks) one func.call. Each function is
// translated once into a list of register instructions (callees inlined); one call then
// costs a pass over that list with a switch per instruction. The helpers are the
// prelude's own functions: hook_prelude.cuh is #included below, with the kernels' macro
// ATTNC_KERNEL_CLASSIFIES_TILES as the runtime defines it (KernelSource.cpp).
//
//===----------------------------------------------------------------------===//
#include "attnc/compiler/HostClassifier.h"

#include "HookVocabulary.h"
#include "HostProgram.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/EmitC/IR/EmitC.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/StringMap.h"

#include <cmath>
#include <cstdint>
#include <math.h>

namespace attnc::compiler {
namespace prelude {
#define ATTNC_KERNEL_CLASSIFIES_TILES 1
#include "hook_prelude.cuh"
#undef ATTNC_KERNEL_CLASSIFIES_TILES
} // namespace prelude

namespace {

// The vocabulary: X(name, result, parameters, call). Kinds: A the AttncArgs, I an i32,
// B an i1, V AttncIv, T AttncTv, K AttncKr, P int32_t*, N an integer literal of the
// call's `args` attribute, F the function-name literal `attnc_classify`. In `call`,
// A / I(j) / ... read operand j of that kind.
#define ATTNC_HOST_VOCABULARY(X)                                                                   \
  X(attnc_batch, I, "A", attnc_batch(A))                                                           \
  X(attnc_heads, I, "A", attnc_heads(A))                                                           \
  X(attnc_kv_heads, I, "A", attnc_kv_heads(A))                                                     \
  X(attnc_q_len, I, "A", attnc_q_len(A))                                                           \
  X(attnc_kv_len, I, "A", attnc_kv_len(A))                                                         \
  X(attnc_d, I, "A", attnc_d(A))                                                                   \
  X(attnc_iparam, I, "AN", attnc_iparam(A, N(1)))                                                  \
  X(attnc_bparam, B, "AN", attnc_bparam(A, N(1)))                                                  \
  X(attnc_kv_head, I, "AI", attnc_kv_head(A, I(1)))                                                \
  X(attnc_iv_tokens, V, "III", attnc_iv_tokens(I(0), I(1), I(2)))                                  \
  X(attnc_iv_all_keys, V, "A", attnc_iv_all_keys(A))                                               \
  X(attnc_iv_point, V, "I", attnc_iv_point(I(0)))                                                  \
  X(attnc_iv_unknown, V, "", attnc_iv_unknown())                                                   \
  X(attnc_iv_add, V, "VV", attnc_iv_add(V(0), V(1)))                                               \
  X(attnc_iv_sub, V, "VV", attnc_iv_sub(V(0), V(1)))                                               \
  X(attnc_iv_mul, V, "VV", attnc_iv_mul(V(0), V(1)))                                               \
  X(attnc_iv_div, V, "VV", attnc_iv_div(V(0), V(1)))                                               \
  X(attnc_iv_rem, V, "VV", attnc_iv_rem(V(0), V(1)))                                               \
  X(attnc_iv_min, V, "VV", attnc_iv_min(V(0), V(1)))                                               \
  X(attnc_iv_max, V, "VV", attnc_iv_max(V(0), V(1)))                                               \
  X(attnc_iv_shl, V, "VV", attnc_iv_shl(V(0), V(1)))                                               \
  X(attnc_iv_shr, V, "VV", attnc_iv_shr(V(0), V(1)))                                               \
  X(attnc_iv_and, V, "VV", attnc_iv_and(V(0), V(1)))                                               \
  X(attnc_iv_or, V, "VV", attnc_iv_or(V(0), V(1)))                                                 \
  X(attnc_iv_xor, V, "VV", attnc_iv_xor(V(0), V(1)))                                               \
  X(attnc_iv_neg, V, "V", attnc_iv_neg(V(0)))                                                      \
  X(attnc_iv_abs, V, "V", attnc_iv_abs(V(0)))                                                      \
  X(attnc_iv_clz, V, "V", attnc_iv_clz(V(0)))                                                      \
  X(attnc_iv_select, V, "TVV", attnc_iv_select(T(0), V(1), V(2)))                                  \
  X(attnc_tv_select, T, "TTT", attnc_tv_select(T(0), T(1), T(2)))                                  \
  X(attnc_iv_lt, T, "VV", attnc_iv_lt(V(0), V(1)))                                                 \
  X(attnc_iv_le, T, "VV", attnc_iv_le(V(0), V(1)))                                                 \
  X(attnc_iv_gt, T, "VV", attnc_iv_gt(V(0), V(1)))                                                 \
  X(attnc_iv_ge, T, "VV", attnc_iv_ge(V(0), V(1)))                                                 \
  X(attnc_iv_eq, T, "VV", attnc_iv_eq(V(0), V(1)))                                                 \
  X(attnc_iv_ne, T, "VV", attnc_iv_ne(V(0), V(1)))                                                 \
  X(attnc_tv_and, T, "TT", attnc_tv_and(T(0), T(1)))                                               \
  X(attnc_tv_or, T, "TT", attnc_tv_or(T(0), T(1)))                                                 \
  X(attnc_tv_xor, T, "TT", attnc_tv_xor(T(0), T(1)))                                               \
  X(attnc_tv_eq, T, "TT", attnc_tv_eq(T(0), T(1)))                                                 \
  X(attnc_tv_const, T, "B", attnc_tv_const(B(0)))                                                  \
  X(attnc_tv_unknown, T, "", attnc_tv_unknown())                                                   \
  X(attnc_tv_nonzero, T, "V", attnc_tv_nonzero(V(0)))                                              \
  X(attnc_tv_tile, I, "T", attnc_tv_tile(T(0)))                                                    \
  X(attnc_tv_tile_factors, I, "TT", attnc_tv_tile_factors(T(0), T(1)))                             \
  X(attnc_iv_summary, V, "ANNVVVV", attnc_iv_summary(A, N(1), N(2), V(3), V(4), V(5), V(6)))       \
  X(attnc_iv_read, V, "ANNNVVVV", attnc_iv_read(A, N(1), N(2), N(3), V(4), V(5), V(6), V(7)))      \
  X(attnc_iv_nowrap2, B, "VV", attnc_iv_nowrap2(V(0), V(1)))                                       \
  X(attnc_kr_all, K, "A", attnc_kr_all(A))                                                         \
  X(attnc_kr_none, K, "", attnc_kr_none())                                                         \
  X(attnc_kr_from_tv, K, "AT", attnc_kr_from_tv(A, T(1)))                                          \
  X(attnc_kr_atom, K, "ANNVB", attnc_kr_atom(A, N(1), N(2), V(3), B(4)))                           \
  X(attnc_kr_and, K, "KK", attnc_kr_and(K(0), K(1)))                                               \
  X(attnc_kr_or, K, "KK", attnc_kr_or(K(0), K(1)))                                                 \
  X(attnc_kr_refine, K, "AIIIIKF",                                                                 \
    attnc_kr_refine(A, I(1), I(2), I(3), I(4), K(5), refineClassify))                              \
  X(attnc_kr_store, I, "AKPP", attnc_kr_store(A, K(1), P(2), P(3)))

enum Opcode : uint16_t {
#define ATTNC_OPCODE(name, result, params, call) Op_##name,
  ATTNC_HOST_VOCABULARY(ATTNC_OPCODE)
#undef ATTNC_OPCODE
      Op_AndI,
  Op_OrI,
  Op_XOrI,
};

struct Signature {
  const char *name;
  char result;
  const char *params;
};
const Signature kSignatures[] = {
// hooks::name: an interpreted callee outside the vocabulary does not compile.
#define ATTNC_SIGNATURE(name, result, params, call) {hooks::name.data(), #result[0], params},
    ATTNC_HOST_VOCABULARY(ATTNC_SIGNATURE)
#undef ATTNC_SIGNATURE
};

constexpr int kMaxOperands = 8;

struct Inst {
  uint16_t op;
  int32_t dst;
  int32_t src[kMaxOperands]; ///< registers, or literals for N operands
};

/// One register. Int, Bool and AttncTv values live in `i`.
union Reg {
  int64_t i;
  prelude::AttncIv iv;
  prelude::AttncKr kr;
  int32_t *p;
};

/// A translated function: `code[0, keyIndependent)` does not read the key-range
/// arguments (classifiers only; for others keyIndependent == code.size()).
struct HostFunction {
  std::vector<Inst> code;
  size_t keyIndependent = 0;
  int args[7] = {-1, -1, -1, -1, -1, -1, -1}; ///< registers of arguments 1..6 (0 unused)
  int result = -1;
  bool present = false;
};

} // namespace

class HostHookProgram {
public:
  int numRegs = 0;
  std::vector<std::pair<int, int64_t>> constants; ///< register, value
  HostFunction classify, factors, kvRanges;
};

namespace {

using namespace mlir;

bool kindMatches(char kind, Type type) {
  auto opaque = dyn_cast<emitc::OpaqueType>(type);
  StringRef name = opaque ? opaque.getValue() : StringRef();
  switch (kind) {
  case 'A':
    return name == "const AttncArgs &";
  case 'I':
    return type.isInteger(32);
  case 'B':
    return type.isInteger(1);
  case 'V':
    return name == "AttncIv";
  case 'T':
    return name == "AttncTv";
  case 'K':
    return name == "AttncKr";
  case 'P':
    return isa<emitc::PointerType>(type);
  default:
    return false;
  }
}

class Translator {
public:
  Translator(HostHookProgram &program, ModuleOp module, std::string &error)
      : program(program), module(module), error(error) {
    for (size_t i = 0; i < std::size(kSignatures); ++i)
      callees[kSignatures[i].name] = static_cast<int>(i);
  }

  bool translate(StringRef name, HostFunction &out) {
    auto func = module.lookupSymbol<func::FuncOp>(name);
    if (!func)
      return true;
    out.present = true;
    std::vector<int> args;
    for (BlockArgument arg : func.getArguments()) {
      if (arg.getArgNumber() == 0 || arg.getArgNumber() > 6)
        args.push_back(-1);
      else
        args.push_back(program.numRegs++);
    }
    for (int i = 1; i < 7 && i < static_cast<int>(args.size()); ++i)
      out.args[i] = args[i];
    if (!inlineFunction(func, args, out.code, out.result, 0))
      return false;
    return true;
  }

private:
  HostHookProgram &program;
  ModuleOp module;
  std::string &error;
  llvm::StringMap<int> callees;

  bool fail(Operation *op, const std::string &what) {
    std::string text;
    llvm::raw_string_ostream os(text);
    op->print(os);
    error = what + ": " + text;
    return false;
  }

  bool inlineFunction(func::FuncOp func, const std::vector<int> &args, std::vector<Inst> &code,
                      int &result, int depth) {
    if (depth > 4)
      return fail(func, "calls nested too deeply");
    if (!func.getBody().hasOneBlock())
      return fail(func, "not a single block");
    llvm::DenseMap<Value, int> regs;
    for (BlockArgument arg : func.getArguments()) {
      if (arg.getArgNumber() >= args.size())
        return fail(func, "argument count");
      regs[arg] = args[arg.getArgNumber()];
    }
    auto reg = [&](Value v) {
      auto it = regs.find(v);
      return it == regs.end() ? -2 : it->second;
    };
    for (Operation &op : func.getBody().front()) {
      if (auto ret = dyn_cast<func::ReturnOp>(op)) {
        if (ret.getNumOperands() != 1 || reg(ret.getOperand(0)) < 0)
          return fail(&op, "unsupported return");
        result = reg(ret.getOperand(0));
        return true;
      }
      if (auto constant = dyn_cast<arith::ConstantOp>(op)) {
        auto attr = dyn_cast<IntegerAttr>(constant.getValue());
        if (!attr || !(attr.getType().isInteger(32) || attr.getType().isInteger(1)))
          return fail(&op, "unsupported constant");
        int r = program.numRegs++;
        int64_t value = attr.getType().isInteger(1) ? (attr.getValue().getBoolValue() ? 1 : 0)
                                                    : attr.getValue().getSExtValue();
        program.constants.push_back({r, value});
        regs[constant.getResult()] = r;
        continue;
      }
      if (isa<arith::AndIOp, arith::OrIOp, arith::XOrIOp>(op)) {
        Inst inst{};
        inst.op = isa<arith::AndIOp>(op) ? Op_AndI : isa<arith::OrIOp>(op) ? Op_OrI : Op_XOrI;
        inst.src[0] = reg(op.getOperand(0));
        inst.src[1] = reg(op.getOperand(1));
        if (inst.src[0] < 0 || inst.src[1] < 0 || !op.getResult(0).getType().isIntOrIndex())
          return fail(&op, "unsupported operands");
        inst.dst = program.numRegs++;
        regs[op.getResult(0)] = inst.dst;
        code.push_back(inst);
        continue;
      }
      if (auto call = dyn_cast<func::CallOp>(op)) {
        auto callee = module.lookupSymbol<func::FuncOp>(call.getCallee());
        if (!callee || call.getNumResults() != 1)
          return fail(&op, "unsupported call");
        std::vector<int> callArgs;
        for (Value operand : call.getOperands())
          callArgs.push_back(reg(operand));
        int r = -1;
        if (!inlineFunction(callee, callArgs, code, r, depth + 1))
          return false;
        regs[call.getResult(0)] = r;
        continue;
      }
      auto call = dyn_cast<emitc::CallOpaqueOp>(op);
      if (!call)
        return fail(&op, "op without a host translation");
      auto it = callees.find(call.getCallee());
      if (it == callees.end())
        return fail(&op, "callee missing from the host vocabulary");
      const Signature &sig = kSignatures[it->second];
      if (call.getNumResults() != 1 || !kindMatches(sig.result, call.getResult(0).getType()))
        return fail(&op, "result type differs from the host vocabulary");
      // Operands in call order: an `args` attribute lists operand indices and literals.
      struct Arg {
        Value value;
        std::optional<int64_t> literal;
        bool function = false;
      };
      std::vector<Arg> list;
      if (std::optional<ArrayAttr> attrs = call.getArgs()) {
        for (Attribute attr : *attrs) {
          if (auto integer = dyn_cast<IntegerAttr>(attr)) {
            if (integer.getType().isIndex()) {
              uint64_t index = integer.getValue().getZExtValue();
              if (index >= call.getNumOperands())
                return fail(&op, "operand index out of range");
              list.push_back({call.getOperand(index), std::nullopt});
            } else {
              list.push_back({Value(), integer.getValue().getSExtValue()});
            }
          } else if (auto name = dyn_cast<emitc::OpaqueAttr>(attr);
                     name && name.getValue() == "attnc_classify") {
            list.push_back({Value(), std::nullopt, true});
          } else {
            return fail(&op, "unsupported call argument");
          }
        }
      } else {
        for (Value operand : call.getOperands())
          list.push_back({operand, std::nullopt});
      }
      size_t count = std::strlen(sig.params);
      if (list.size() != count || count > kMaxOperands)
        return fail(&op, "operand count differs from the host vocabulary");
      Inst inst{};
      inst.op = static_cast<uint16_t>(it->second);
      for (size_t j = 0; j < count; ++j) {
        char kind = sig.params[j];
        const Arg &arg = list[j];
        if (kind == 'N') {
          if (!arg.literal)
            return fail(&op, "expected a literal operand");
          inst.src[j] = static_cast<int32_t>(*arg.literal);
        } else if (kind == 'F') {
          if (!arg.function)
            return fail(&op, "expected the classifier as operand");
          inst.src[j] = -1;
        } else {
          if (!arg.value || !kindMatches(kind, arg.value.getType()))
            return fail(&op, "operand type differs from the host vocabulary");
          inst.src[j] = reg(arg.value);
          if (kind == 'A' ? inst.src[j] != -1 : inst.src[j] < 0)
            return fail(&op, "operand is not a translated value");
        }
      }
      inst.dst = program.numRegs++;
      regs[call.getResult(0)] = inst.dst;
      code.push_back(inst);
    }
    return fail(func, "no return");
  }
};

/// Whether operand j of `inst` is a register.
bool readsRegister(const Inst &inst, int j) {
  if (inst.op >= Op_AndI)
    return j < 2;
  const char *params = kSignatures[inst.op].params;
  if (j >= static_cast<int>(std::strlen(params)))
    return false;
  char kind = params[j];
  return kind != 'A' && kind != 'N' && kind != 'F';
}

/// Moves the instructions that do not read `a` or `b` (the key range) to the front.
void splitKeyIndependent(HostFunction &f, int numRegs) {
  std::vector<char> keyed(numRegs, 0);
  keyed[f.args[5]] = keyed[f.args[6]] = 1;
  std::vector<Inst> independent, dependent;
  for (const Inst &inst : f.code) {
    bool k = false;
    for (int j = 0; j < kMaxOperands; ++j)
      if (readsRegister(inst, j) && keyed[inst.src[j]])
        k = true;
    keyed[inst.dst] = k;
    (k ? dependent : independent).push_back(inst);
  }
  f.keyIndependent = independent.size();
  f.code = std::move(independent);
  f.code.insert(f.code.end(), dependent.begin(), dependent.end());
}

} // namespace

std::shared_ptr<const HostHookProgram> buildHostHookProgram(ModuleOp module, std::string &error) {
  auto program = std::make_shared<HostHookProgram>();
  Translator translator(*program, module, error);
  if (!translator.translate("attnc_classify", program->classify) ||
      !translator.translate("attnc_classify_factors", program->factors) ||
      !translator.translate("attnc_kv_ranges", program->kvRanges))
    return nullptr;
  if (!program->classify.present || !program->kvRanges.present) {
    error = "the module has no @attnc_classify or @attnc_kv_ranges";
    return nullptr;
  }
  splitKeyIndependent(program->classify, program->numRegs);
  if (program->factors.present)
    splitKeyIndependent(program->factors, program->numRegs);
  program->kvRanges.keyIndependent = program->kvRanges.code.size();
  return program;
}

std::vector<std::string> hostCalleeNames() {
  std::vector<std::string> names;
  for (const Signature &s : kSignatures)
    names.push_back(s.name);
  return names;
}

struct HostTileClassifier::State {
  std::vector<Reg> regs;
  const AttncArgs *args = nullptr;
  const HostFunction *current = nullptr; ///< the function setQueryTile prepared

  void run(const HostHookProgram &program, const HostFunction &f, size_t begin, size_t end);
};

namespace {

int nestedClassify(const HostHookProgram &program, const AttncArgs &a, int b, int h, int qLo,
                   int qHi, int kLo, int kHi);

} // namespace

void HostTileClassifier::State::run(const HostHookProgram &program, const HostFunction &f,
                                    size_t begin, size_t end) {
  Reg *r = regs.data();
  const AttncArgs &args = *this->args;
  // attnc_kr_refine's classifier (unused while ATTNC_KERNEL_CLASSIFIES_TILES is defined,
  // as in the kernels) runs on registers of its own.
  auto refineClassify = [&program](const AttncArgs &a, int b, int h, int qLo, int qHi, int kLo,
                                   int kHi) {
    return nestedClassify(program, a, b, h, qLo, qHi, kLo, kHi);
  };
  (void)refineClassify;
  for (size_t n = begin; n < end; ++n) {
    const Inst &inst = f.code[n];
    const int32_t *s = inst.src;
#define A args
#define I(j) static_cast<int>(r[s[j]].i)
#define B(j) (r[s[j]].i != 0)
#define V(j) r[s[j]].iv
#define T(j) static_cast<prelude::AttncTv>(r[s[j]].i)
#define K(j) r[s[j]].kr
#define P(j) r[s[j]].p
#define N(j) s[j]
#define ATTNC_STORE_I(value) r[inst.dst].i = static_cast<int64_t>(value)
#define ATTNC_STORE_B(value) r[inst.dst].i = (value) ? 1 : 0
#define ATTNC_STORE_T(value) r[inst.dst].i = static_cast<int64_t>(value)
#define ATTNC_STORE_V(value) r[inst.dst].iv = (value)
#define ATTNC_STORE_K(value) r[inst.dst].kr = (value)
    switch (inst.op) {
#define ATTNC_CASE(name, result, params, call)                                                     \
  case Op_##name: {                                                                                \
    using namespace prelude;                                                                       \
    ATTNC_STORE_##result(call);                                                                    \
    break;                                                                                         \
  }
      ATTNC_HOST_VOCABULARY(ATTNC_CASE)
#undef ATTNC_CASE
    case Op_AndI:
      r[inst.dst].i = r[s[0]].i & r[s[1]].i;
      break;
    case Op_OrI:
      r[inst.dst].i = r[s[0]].i | r[s[1]].i;
      break;
    case Op_XOrI:
      r[inst.dst].i = r[s[0]].i ^ r[s[1]].i;
      break;
    }
#undef A
#undef I
#undef B
#undef V
#undef T
#undef K
#undef P
#undef N
#undef ATTNC_STORE_I
#undef ATTNC_STORE_B
#undef ATTNC_STORE_T
#undef ATTNC_STORE_V
#undef ATTNC_STORE_K
  }
}

namespace {

void initRegisters(const HostHookProgram &program, std::vector<Reg> &regs) {
  regs.assign(std::max(1, program.numRegs), Reg{});
  for (const auto &[reg, value] : program.constants)
    regs[reg].i = value;
}

void setArgs(std::vector<Reg> &regs, const HostFunction &f, int b, int h, int qLo, int qHi, int kLo,
             int kHi) {
  int values[7] = {0, b, h, qLo, qHi, kLo, kHi};
  for (int i = 1; i < 7; ++i)
    if (f.args[i] >= 0)
      regs[f.args[i]].i = values[i];
}

int nestedClassify(const HostHookProgram &program, const AttncArgs &a, int b, int h, int qLo,
                   int qHi, int kLo, int kHi) {
  HostTileClassifier::State state;
  initRegisters(program, state.regs);
  state.args = &a;
  setArgs(state.regs, program.classify, b, h, qLo, qHi, kLo, kHi);
  state.run(program, program.classify, 0, program.classify.code.size());
  return static_cast<int>(state.regs[program.classify.result].i);
}

} // namespace

HostTileClassifier::HostTileClassifier(std::shared_ptr<const HostHookProgram> program)
    : program_(std::move(program)), state_(std::make_unique<State>()) {
  initRegisters(*program_, state_->regs);
}

HostTileClassifier::~HostTileClassifier() = default;

bool HostTileClassifier::hasFactors() const { return program_->factors.present; }

int HostTileClassifier::kvRanges(const AttncArgs &a, int b, int h, int qLo, int qHi, int *lo,
                                 int *hi) {
  const HostFunction &f = program_->kvRanges;
  state_->args = &a;
  setArgs(state_->regs, f, b, h, qLo, qHi, 0, 0);
  state_->regs[f.args[5]].p = lo;
  state_->regs[f.args[6]].p = hi;
  state_->run(*program_, f, 0, f.code.size());
  return static_cast<int>(state_->regs[f.result].i);
}

int HostTileClassifier::classify(const AttncArgs &a, int b, int h, int qLo, int qHi, int kLo,
                                 int kHi) {
  setQueryTile(a, b, h, qLo, qHi);
  return classifyKeys(kLo, kHi);
}

int HostTileClassifier::classifyFactors(const AttncArgs &a, int b, int h, int qLo, int qHi, int kLo,
                                        int kHi) {
  if (!program_->factors.present)
    return classify(a, b, h, qLo, qHi, kLo, kHi);
  const HostFunction &f = program_->factors;
  state_->args = &a;
  setArgs(state_->regs, f, b, h, qLo, qHi, kLo, kHi);
  state_->run(*program_, f, 0, f.code.size());
  return static_cast<int>(state_->regs[f.result].i);
}

void HostTileClassifier::setQueryTile(const AttncArgs &a, int b, int h, int qLo, int qHi) {
  const HostFunction &f = program_->classify;
  state_->args = &a;
  state_->current = &f;
  setArgs(state_->regs, f, b, h, qLo, qHi, 0, 0);
  state_->run(*program_, f, 0, f.keyIndependent);
}

int HostTileClassifier::classifyKeys(int kLo, int kHi) {
  if (!state_->current)
    return ATTNC_TILE_PARTIAL; // no query tile set: nothing is proven
  const HostFunction &f = *state_->current;
  state_->regs[f.args[5]].i = kLo;
  state_->regs[f.args[6]].i = kHi;
  state_->run(*program_, f, f.keyIndependent, f.code.size());
  return static_cast<int>(state_->regs[f.result].i);
}

} // namespace attnc::compiler
