//===- VocabularyTests.cpp - Every callee the emitter produces exists ------===//
//
// The hook vocabulary (compiler/lib/CodeGen/HookVocabulary.def) is the list of callees
// the emitters may name. (1) Each entry exists in the prelude, the backward prelude or the
// math library with the declared type: the preludes are compiled here as host C++ and each
// name's address is taken through the X-macro. (2) Each emitc.call_opaque callee in the
// final IR of every example (with and without the backward's functions), routed corpus
// program and many random programs is in the vocabulary, and each
// direct emitc.call (attnc_route_block_of, ...) goes to a function of the same module.
//
//===----------------------------------------------------------------------===//
#include "HookHarness.h"
#include "ProgramGenerator.h"

#include "HookVocabulary.h"
#include "attnc/abi/KernelArgs.h"

#include <catch2/catch.hpp>

#include <dirent.h>

#include <algorithm>
#include <cmath>
#include <math.h>
#include <regex>
#include <set>
#include <type_traits>

namespace vocab_prelude {
#define ATTNC_KERNEL_CLASSIFIES_TILES 1
#include "hook_prelude.cuh"
#include "hook_prelude_backward.cuh"
#undef ATTNC_KERNEL_CLASSIFIES_TILES

#define ATTNC_HOOK(name, type)                                                                     \
  static_assert(std::is_same_v<decltype(&name), std::add_pointer_t<type>>, #name " differs");
#define ATTNC_HOOK_TEMPLATE(name, type, arg)                                                       \
  static_assert(std::is_same_v<decltype(&name<arg>), std::add_pointer_t<type>>, #name " differs");
#define ATTNC_HOOK_MATH(name, type)                                                                \
  static_assert(static_cast<std::add_pointer_t<type>>(&::name) != nullptr);
#include "HookVocabulary.def"
} // namespace vocab_prelude

using namespace attnc;
using namespace attnc::test;

namespace {

/// The callees of the emitc.call_opaque ops in `mlir`, and the functions it defines.
void collect(const std::string &mlir, std::set<std::string> &callees, std::set<std::string> &direct,
             std::set<std::string> &defined) {
  static const std::regex call(R"(emitc\.call_opaque\s+"([^"]+)\")");
  static const std::regex directCall(R"(emitc\.call\s+@(\w+))");
  for (std::sregex_iterator it(mlir.begin(), mlir.end(), directCall), end; it != end; ++it)
    direct.insert((*it)[1]);
  static const std::regex func(R"((?:emitc|func)\.func\s+(?:private\s+)?@(\w+))");
  for (std::sregex_iterator it(mlir.begin(), mlir.end(), call), end; it != end; ++it)
    callees.insert((*it)[1]);
  for (std::sregex_iterator it(mlir.begin(), mlir.end(), func), end; it != end; ++it)
    defined.insert((*it)[1]);
}

/// Checks one program's final IR; adds its callees to `seen`.
void checkProgram(const CompiledProgram &p, std::set<std::string> &seen) {
  std::set<std::string> callees, direct, defined;
  collect(p.hooks.mlir, callees, direct, defined);
  INFO(p.name << "\n" << p.text);
  REQUIRE(!defined.empty()); // the IR text is there and the patterns match it
  for (const std::string &callee : callees) {
    INFO("callee " << callee);
    if (compiler::hooks::isGeneratedCallee(callee))
      CHECK(defined.count(callee) == 1);
    else
      CHECK(compiler::hooks::isPreludeCallee(callee));
    seen.insert(callee);
  }
  // Direct calls (the route geometry, the factored classifier) go to the module itself.
  for (const std::string &callee : direct) {
    INFO("direct callee " << callee);
    CHECK(defined.count(callee) == 1);
    seen.insert(callee);
  }
}

std::vector<std::string> routeCorpus() {
  std::vector<std::string> files;
  for (std::string dir : {std::string(ATTNC_SOURCE_DIR) + "/tests/fuzz/corpus_pipeline",
                          std::string(ATTNC_SOURCE_DIR) + "/tests/hostile/corpus"}) {
    DIR *d = opendir(dir.c_str());
    REQUIRE(d);
    while (dirent *e = readdir(d)) {
      std::string name = e->d_name;
      if (name.rfind("route_", 0) == 0 && name.size() > 5 &&
          name.compare(name.size() - 5, 5, ".attn") == 0)
        files.push_back(dir + "/" + name);
    }
    closedir(d);
  }
  std::sort(files.begin(), files.end());
  return files;
}

} // namespace

TEST_CASE("the vocabulary's names are spelled the same in the emitter's constants",
          "[codegen][vocabulary]") {
#define ATTNC_HOOK(name, type) CHECK(compiler::hooks::name == #name);
#define ATTNC_HOOK_GENERATED(name) CHECK(compiler::hooks::name == #name);
#include "HookVocabulary.def"
  CHECK(compiler::hooks::reader("bf16", 3) == "attnc_read_bf16_3");
  CHECK(compiler::hooks::shape("kv_len") == "attnc_kv_len");
  CHECK(compiler::hooks::isPreludeCallee("attnc_read_u8_4"));
  CHECK(compiler::hooks::isPreludeCallee("fmodf"));
  CHECK_FALSE(compiler::hooks::isPreludeCallee("attnc_read_u8_5"));
  CHECK_FALSE(compiler::hooks::isPreludeCallee("attnc_route_block_of"));
  CHECK(compiler::hooks::isGeneratedCallee("attnc_route_block_of"));
}

TEST_CASE("every callee in generated IR is in the vocabulary", "[codegen][vocabulary]") {
  std::set<std::string> seen;
  int programs = 0;
  for (const std::string &path : exampleFiles())
    for (bool backward : {false, true}) { // the backward adds attnc_q_ranges
      checkProgram(compileSource(path.substr(path.find_last_of('/') + 1), readFile(path), backward),
                   seen);
      ++programs;
    }
  for (const std::string &path : routeCorpus()) {
    std::string name = path.substr(path.find_last_of('/') + 1);
    std::string text = readFile(path);
    dsl::SourceFile file(name, text);
    dsl::DiagnosticEngine diags(&file);
    if (!dsl::parseAndCheck(file, diags))
      continue; // hostile programs the checker rejects have no IR
    checkProgram(compileSource(name, text), seen);
    ++programs;
  }
  for (bool floats : {false, true}) {
    ProgramGenerator gen(floats ? 20261202 : 20261203, floats);
    for (int i = 0; i < 200; ++i) {
      checkProgram(compileSource("random" + std::to_string(i), gen.program(i)), seen);
      ++programs;
    }
  }
  std::printf("vocabulary: %d programs, %zu distinct callees\n", programs, seen.size());
  // The walk reaches the interval, key-range, reader and route families.
  for (const char *expected :
       {"attnc_iv_add", "attnc_tv_tile", "attnc_kr_store", "attnc_read_i32_2",
        "attnc_route_block_of", "attnc_qr_args", "attnc_qr_refine"}) {
    INFO(expected);
    CHECK(seen.count(expected) == 1);
  }
}
