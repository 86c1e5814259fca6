#include "HookVocabulary.h"

#include "llvm/ADT/Twine.h"
#include "llvm/Support/ErrorHandling.h"

#include <string>

namespace attnc::compiler::hooks {
namespace {

bool isOneOf(llvm::StringRef callee, std::initializer_list<llvm::StringRef> names) {
  for (llvm::StringRef name : names)
    if (callee == name)
      return true;
  return false;
}

} // namespace

// A name built from IR attributes must still be a vocabulary entry: an unknown kind or
// element type is a compiler bug, reported here rather than by NVRTC.
llvm::StringRef shape(llvm::StringRef kind) {
  for (llvm::StringRef name :
       {attnc_batch, attnc_heads, attnc_kv_heads, attnc_q_len, attnc_kv_len, attnc_d})
    if (name.drop_front(6) == kind)
      return name;
  llvm::report_fatal_error(llvm::Twine("no hook for shape kind '") + kind + "'");
}

llvm::StringRef reader(llvm::StringRef elem, unsigned rank) {
  std::string wanted = ("attnc_read_" + elem + "_" + llvm::Twine(rank)).str();
#define ATTNC_HOOK(name, type)
#define ATTNC_HOOK_TEMPLATE(name, type, arg)                                                       \
  if (wanted == #name)                                                                             \
    return #name;
#include "HookVocabulary.def"
  llvm::report_fatal_error(llvm::Twine("no hook ") + wanted);
}

bool isPreludeCallee(llvm::StringRef callee) {
  return isOneOf(callee, {
#define ATTNC_HOOK(name, type) #name,
#include "HookVocabulary.def"
                         });
}

bool isGeneratedCallee(llvm::StringRef callee) {
  return isOneOf(callee, {
#define ATTNC_HOOK(name, type)
#define ATTNC_HOOK_GENERATED(name) #name,
#include "HookVocabulary.def"
                         });
}

} // namespace attnc::compiler::hooks
