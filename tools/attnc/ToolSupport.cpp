//===- ToolSupport.cpp - Helpers shared by attnc subcommands --------------===//
#include "ToolSupport.h"

#include "attnc/reference/Npy.h"
#include "attnc/runtime/Device.h"
#include "attnc/runtime/Runtime.h"

#include <cctype>
#include <cfloat>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <limits>
#include <unistd.h>

namespace attnc::tools {

bool isTerminal(FILE *stream) { return isatty(fileno(stream)) != 0; }

bool loadProgram(const std::string &path, const std::vector<std::string> &defines,
                 const std::string &attentionName, ProgramBundle &bundle) {
  for (const std::string &d : defines) {
    size_t eq = d.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == d.size()) {
      std::cerr << "attnc: error: -D expects name=value, got '" << d << "'\n";
      return false;
    }
    bundle.overrides.push_back({d.substr(0, eq), d.substr(eq + 1)});
  }
  bundle.source = std::make_unique<dsl::SourceFile>("", "");
  std::string error;
  if (!dsl::SourceFile::load(path, *bundle.source, error)) {
    std::cerr << "attnc: error: " << error << "\n";
    return false;
  }
  dsl::DiagnosticEngine diags(bundle.source.get());
  bundle.program = dsl::parseAndCheck(*bundle.source, diags, bundle.overrides);
  if (!diags.diagnostics().empty())
    diags.print(std::cerr, isTerminal(stderr));
  if (!bundle.program)
    return false;
  bundle.attention = bundle.program->find(attentionName);
  if (!bundle.attention) {
    std::cerr << "attnc: error: ";
    if (attentionName.empty())
      std::cerr << path << " declares " << bundle.program->attentions.size()
                << " attentions; choose one with --attention";
    else
      std::cerr << path << " has no attention named '" << attentionName << "'";
    std::cerr << "\n";
    return false;
  }
  return true;
}

bool parseParamBindings(const dsl::AttentionDecl &attention,
                        const std::vector<std::string> &assignments,
                        std::vector<reference::ParamBinding> &params) {
  for (const std::string &a : assignments) {
    size_t eq = a.find('=');
    if (eq == std::string::npos || eq == 0) {
      std::cerr << "attnc: error: -P expects name=value, got '" << a << "'\n";
      return false;
    }
    std::string name = a.substr(0, eq);
    const dsl::ParamDecl *decl = nullptr;
    for (const dsl::ParamDecl &p : attention.params)
      if (p.name == name)
        decl = &p;
    if (!decl) {
      std::cerr << "attnc: error: " << attention.name << " has no param '" << name << "'";
      if (!attention.params.empty()) {
        std::cerr << " (params:";
        for (const dsl::ParamDecl &p : attention.params)
          std::cerr << " " << p.name;
        std::cerr << ")";
      }
      std::cerr << "\n";
      return false;
    }
    reference::ParamBinding binding;
    binding.name = name;
    std::string error;
    if (!parseParamText(decl->type, a.substr(eq + 1), binding.value, error)) {
      std::cerr << "attnc: error: -P " << name << " (" << dsl::typeName(decl->type)
                << " param): " << error << "\n";
      return false;
    }
    params.push_back(binding);
  }
  return true;
}

bool parseParamText(dsl::Type type, const std::string &text, dsl::ConstValue &value,
                    std::string &error) {
  value = dsl::ConstValue();
  const char *begin = text.data(), *end = text.data() + text.size();
  if (type == dsl::Type::Bool) {
    if (text != "true" && text != "false" && text != "1" && text != "0") {
      error = "expected true, false, 1 or 0, got '" + text + "'";
      return false;
    }
    value.type = dsl::Type::Bool;
    value.b = text == "true" || text == "1";
    return true;
  }
  if (type == dsl::Type::Int) {
    int64_t v = 0;
    auto [ptr, ec] = std::from_chars(begin, end, v);
    bool digits =
        !text.empty() && (text[0] == '-' || std::isdigit(static_cast<unsigned char>(text[0])));
    if (!digits || ptr != end || (ec != std::errc() && ec != std::errc::result_out_of_range)) {
      error = "expected a decimal integer, got '" + text + "'";
      return false;
    }
    if (ec == std::errc::result_out_of_range || v < INT32_MIN || v > INT32_MAX) {
      error = "'" + text + "' is out of range (a 32-bit int: -2147483648 to 2147483647)";
      return false;
    }
    value.type = dsl::Type::Int;
    value.i = v;
    return true;
  }
  if (type == dsl::Type::Float) {
    // from_chars would also take "nan" and "infinity" in any case; only these two are
    // infinities here.
    if (text == "inf" || text == "-inf") {
      value.type = dsl::Type::Float;
      value.f = (text == "inf" ? 1 : -1) * std::numeric_limits<double>::infinity();
      return true;
    }
    double v = 0;
    auto [ptr, ec] = std::from_chars(begin, end, v, std::chars_format::general);
    size_t first = !text.empty() && text[0] == '-' ? 1 : 0;
    bool numeric = first < text.size() &&
                   (text[first] == '.' || std::isdigit(static_cast<unsigned char>(text[first])));
    if (!numeric || ptr != end || (ec != std::errc() && ec != std::errc::result_out_of_range) ||
        std::isnan(v)) {
      error = "expected a number (or inf, -inf), got '" + text + "'";
      return false;
    }
    if (ec == std::errc::result_out_of_range || std::abs(v) > double(FLT_MAX)) {
      error = "'" + text + "' is out of the float32 range the kernels compute in (write inf " +
              "for infinity)";
      return false;
    }
    value.type = dsl::Type::Float;
    value.f = v;
    return true;
  }
  error = "invalid param type";
  return false;
}

CLI::Validator dtypeValidator() {
  return CLI::Validator(
      [](std::string &text) -> std::string {
        runtime::DataType type = runtime::DataType::BF16;
        if (runtime::Status s = runtime::parseDataType(text, type); !s.ok())
          return s.message();
        text = runtime::dataTypeName(type);
        return "";
      },
      "bf16|fp16", "dtype");
}

CLI::Validator headDimValidator() {
  return CLI::Validator(
      [](std::string &text) -> std::string {
        int v = 0;
        auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
        if (text.empty() || ptr != text.data() + text.size() || ec != std::errc())
          return "expected a head dim (64, 128 or 256), got '" + text + "'";
        runtime::Status s = runtime::checkHeadDim(v);
        return s.ok() ? "" : s.message();
      },
      "64|128|256", "head dim");
}

/// Whether `e` reads b, h, kv_h or an input, given that answer for every let it may use.
/// Recurses through one expression only: lets are looked up, never re-walked.
static bool readsBatchHeadOrData(const dsl::Expr *e, const std::vector<bool> &letReads) {
  if (!e)
    return false;
  if (e->ref.kind == dsl::SymbolRef::Input)
    return true;
  if (e->ref.kind == dsl::SymbolRef::Builtin &&
      (e->ref.index == int(dsl::Builtin::Head) || e->ref.index == int(dsl::Builtin::KvHead) ||
       e->ref.index == int(dsl::Builtin::Batch)))
    return true;
  if (e->ref.kind == dsl::SymbolRef::Let)
    return e->ref.index < 0 || e->ref.index >= int(letReads.size()) || letReads[e->ref.index];
  for (const auto &op : e->operands)
    if (readsBatchHeadOrData(op.get(), letReads))
      return true;
  return false;
}

bool variesPerBatchOrHead(const dsl::AttentionDecl &attention) {
  if (attention.route)
    return true;
  // Lets use only earlier lets: one pass in declaration order, linear in the program.
  std::vector<bool> letReads;
  for (const dsl::LetDecl &let : attention.lets)
    letReads.push_back(readsBatchHeadOrData(let.value.get(), letReads));
  return readsBatchHeadOrData(attention.mask.get(), letReads);
}

bool countKeptPairs(const dsl::Program &program, const dsl::AttentionDecl &attention,
                    const reference::ReferenceProblem &problem, uint64_t &kept, std::string &error,
                    double limit) {
  const reference::ProblemShape &s = problem.shape;
  bool varies = variesPerBatchOrHead(attention);
  int batches = varies ? s.batch : 1, heads = varies ? s.heads : 1;
  if (double(batches) * heads * s.qLen * s.kvLen > limit) {
    error = "too many pairs to count exactly";
    return false;
  }
  kept = 0;
  std::vector<uint8_t> keep;
  for (int b = 0; b < batches; ++b)
    for (int h = 0; h < heads; ++h) {
      if (!reference::evaluateKeepMatrix(program, attention, problem, b, h, keep, error))
        return false;
      for (uint8_t x : keep)
        kept += x;
    }
  if (!varies)
    kept *= uint64_t(s.batch) * s.heads;
  return true;
}

namespace {

bool isIntElement(dsl::ElementType t) {
  return t == dsl::ElementType::I32 || t == dsl::ElementType::I64 || t == dsl::ElementType::U8;
}

// "i32[batch, kv_len]", from the declaration's source text.
std::string declaredType(const ProgramBundle &bundle, const dsl::InputDecl &decl) {
  std::string text = std::string(dsl::elementTypeName(decl.elementType)) + "[";
  const std::string &source = bundle.source->text();
  for (size_t i = 0; i < decl.dims.size(); ++i) {
    const dsl::SourceRange &r = decl.dims[i]->range;
    text += i ? ", " : "";
    if (r.begin.isValid() && r.end.offset > r.begin.offset && r.end.offset <= source.size())
      text += source.substr(r.begin.offset, r.end.offset - r.begin.offset);
    else
      text += "?";
  }
  return text + "]";
}

// Parses the constant of `--input name=text` for an input of element type `type`. Returns
// false when `text` is not a number at all (then it names a file); sets `error` when it is
// a number the type cannot hold.
bool parseInputConstant(dsl::ElementType type, const std::string &text, InputBinding &binding,
                        std::string &error) {
  if (type == dsl::ElementType::U8 && (text == "true" || text == "false")) {
    binding.intValue = text == "true";
    return true;
  }
  char *end = nullptr;
  double value = std::strtod(text.c_str(), &end);
  if (text.empty() || end != text.c_str() + text.size() || std::isspace(uint8_t(text[0])))
    return false;
  const char *name = dsl::elementTypeName(type);
  if (isIntElement(type)) {
    int64_t v = 0;
    // from_chars takes no '+', which strtod (and people) accept.
    const char *first = text.data() + (text[0] == '+' ? 1 : 0);
    auto [ptr, ec] = std::from_chars(first, text.data() + text.size(), v);
    if (ec == std::errc::result_out_of_range) {
      error = text + " is out of the range of " + name;
      return true;
    }
    if (ec != std::errc() || ptr != text.data() + text.size()) {
      error = text + " is not an integer, and " + name + " holds integers";
      return true;
    }
    int64_t lo = type == dsl::ElementType::U8    ? 0
                 : type == dsl::ElementType::I32 ? std::numeric_limits<int32_t>::min()
                                                 : std::numeric_limits<int64_t>::min();
    int64_t hi = type == dsl::ElementType::U8    ? 255
                 : type == dsl::ElementType::I32 ? std::numeric_limits<int32_t>::max()
                                                 : std::numeric_limits<int64_t>::max();
    if (v < lo || v > hi)
      error = text + " is out of the range of " + name + " [" + std::to_string(lo) + ", " +
              std::to_string(hi) + "]";
    binding.intValue = v;
    return true;
  }
  // Round as the tensor will store it; a finite value that becomes infinite overflows.
  reference::OwnedTensor probe(reference::DType(int(type)), {1});
  probe.storeDouble(0, value);
  if (std::isfinite(value) && !std::isfinite(probe.loadDouble(0)))
    error = text + " overflows " + name;
  binding.floatValue = value;
  return true;
}

} // namespace

bool parseInputBindings(const dsl::AttentionDecl &attention,
                        const std::vector<std::string> &assignments,
                        std::vector<InputBinding> &bindings) {
  for (const std::string &a : assignments) {
    size_t eq = a.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == a.size()) {
      std::cerr << "attnc: error: --input expects NAME=FILE.npy or NAME=VALUE, got '" << a << "'\n";
      return false;
    }
    InputBinding binding;
    binding.name = a.substr(0, eq);
    binding.text = a.substr(eq + 1);
    const dsl::InputDecl *decl = nullptr;
    for (size_t i = 0; i < attention.inputs.size(); ++i)
      if (attention.inputs[i].name == binding.name) {
        decl = &attention.inputs[i];
        binding.index = i;
      }
    if (!decl) {
      std::cerr << "attnc: error: --input " << binding.name << ": " << attention.name
                << " has no input '" << binding.name << "'";
      if (attention.inputs.empty())
        std::cerr << " (it declares no inputs)";
      else {
        std::cerr << " (inputs:";
        for (const dsl::InputDecl &in : attention.inputs)
          std::cerr << " " << in.name;
        std::cerr << ")";
      }
      std::cerr << "\n";
      return false;
    }
    for (const InputBinding &b : bindings)
      if (b.name == binding.name) {
        std::cerr << "attnc: error: --input " << binding.name << " is given twice ('" << b.text
                  << "' and '" << binding.text << "')\n";
        return false;
      }
    std::string error;
    binding.constant = parseInputConstant(decl->elementType, binding.text, binding, error);
    if (!error.empty()) {
      std::cerr << "attnc: error: --input " << binding.name << ": " << error << "\n";
      return false;
    }
    bindings.push_back(binding);
  }
  return true;
}

bool applyInputBindings(const ProgramBundle &bundle, const std::vector<InputBinding> &bindings,
                        reference::ProblemInputs &inputs) {
  for (const InputBinding &b : bindings) {
    const dsl::InputDecl &decl = bundle.attention->inputs[b.index];
    reference::OwnedTensor &tensor = inputs.inputs.at(b.index).tensor;
    if (b.constant) {
      for (int64_t e = 0; e < tensor.numElements(); ++e) {
        if (isIntElement(decl.elementType))
          tensor.storeInt(e, b.intValue);
        else
          tensor.storeDouble(e, b.floatValue);
      }
      continue;
    }
    reference::OwnedTensor loaded;
    std::string error;
    if (!reference::readNpyFile(b.text, tensor.dtype, tensor.dims, loaded, error)) {
      std::cerr << "attnc: error: --input " << b.name << ": " << error;
      if (error.find("has shape") != std::string::npos)
        std::cerr << " (" << b.name << " is declared " << declaredType(bundle, decl) << ")";
      else if (error.find("cannot open") != std::string::npos)
        std::cerr << " (the value is not a number either)";
      std::cerr << "\n";
      return false;
    }
    tensor = std::move(loaded);
  }
  return true;
}

std::string inputSource(const std::vector<InputBinding> &bindings, const std::string &name,
                        uint64_t seed) {
  for (const InputBinding &b : bindings)
    if (b.name == name)
      return b.constant ? "constant " + b.text : b.text;
  return "seeded random (seed " + std::to_string(seed) + ")";
}

DeviceBuffers::~DeviceBuffers() {
  std::string ignored;
  for (void *p : pointers_)
    runtime::deviceFree(p, ignored);
}

void *DeviceBuffers::allocate(size_t bytes) {
  if (!ok())
    return nullptr;
  void *p = nullptr;
  std::string error;
  if (!runtime::deviceAlloc(&p, bytes ? bytes : 1, error)) {
    error_ = error;
    return nullptr;
  }
  pointers_.push_back(p);
  return p;
}

void *DeviceBuffers::upload(const void *host, size_t bytes) {
  void *p = allocate(bytes);
  std::string error;
  if (p && bytes && !runtime::copyToDevice(p, host, bytes, error))
    error_ = error;
  return p;
}

} // namespace attnc::tools
