//===- ToolSupport.cpp - Helpers shared by attnc subcommands --------------===//
#include "ToolSupport.h"

#include "attnc/runtime/Device.h"

#include <iostream>
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
    if (!reference::parseParamValue(decl->type, a.substr(eq + 1), binding.value, error)) {
      std::cerr << "attnc: error: -P " << name << ": " << error << "\n";
      return false;
    }
    params.push_back(binding);
  }
  return true;
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
