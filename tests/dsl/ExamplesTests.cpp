//===- ExamplesTests.cpp - Every example checks clean -----------------------===//
#include "attnc/dsl/Frontend.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <dirent.h>
#include <sstream>

using namespace attnc::dsl;

namespace {

/// The patterns the brief asks for, one file each (docs/language.md lists them too).
const char *const kExpectedExamples[] = {"dense",
                                         "causal",
                                         "sliding_w1024",
                                         "sink4_w1024",
                                         "prefix_lm_2048",
                                         "document_causal",
                                         "s2_shards",
                                         "radial_video",
                                         "radial_decay",
                                         "natten2d_17",
                                         "natten3d_dilated",
                                         "natten2d_gna_stride",
                                         "moba_bs512_top3",
                                         "vmoba_2d_threshold",
                                         "gated_causal",
                                         "head_gate",
                                         "softcap_causal",
                                         "alibi_causal",
                                         "forgetting_gate",
                                         "duo_attention",
                                         "bias_causal"};

std::vector<std::string> exampleNames() {
  std::vector<std::string> names;
  if (DIR *dir = opendir(ATTNC_EXAMPLES_DIR)) {
    while (dirent *entry = readdir(dir)) {
      std::string name = entry->d_name;
      if (name.size() > 5 && name.substr(name.size() - 5) == ".attn")
        names.push_back(name.substr(0, name.size() - 5));
    }
    closedir(dir);
  }
  std::sort(names.begin(), names.end());
  return names;
}

} // namespace

TEST_CASE("examples: every listed pattern has a file", "[examples]") {
  auto names = exampleNames();
  for (const char *expected : kExpectedExamples) {
    INFO(expected);
    CHECK(std::find(names.begin(), names.end(), expected) != names.end());
  }
}

TEST_CASE("examples: each file checks clean and holds one attention named like it", "[examples]") {
  auto names = exampleNames();
  REQUIRE(names.size() >= sizeof(kExpectedExamples) / sizeof(kExpectedExamples[0]));
  for (const std::string &name : names) {
    SourceFile file("", "");
    std::string error;
    std::string path = std::string(ATTNC_EXAMPLES_DIR) + "/" + name + ".attn";
    REQUIRE(SourceFile::load(path, file, error));
    DiagnosticEngine diags(&file);
    auto program = parseAndCheck(file, diags);
    std::ostringstream os;
    diags.print(os);
    INFO(path << "\n" << os.str());
    REQUIRE(program);
    CHECK(diags.diagnostics().empty());
    REQUIRE(program->attentions.size() == 1);
    CHECK(program->attentions[0].name == name);
    // The first line names the source of the pattern.
    CHECK(file.lineText(1).substr(0, 3) == "// ");
  }
}

TEST_CASE("examples: moba_bs512_top3 routes as documented", "[examples]") {
  SourceFile file("", "");
  std::string error;
  REQUIRE(SourceFile::load(std::string(ATTNC_EXAMPLES_DIR) + "/moba_bs512_top3.attn", file, error));
  DiagnosticEngine diags(&file);
  auto program = parseAndCheck(file, diags);
  REQUIRE(program);
  const RouteSpec &route = *program->attentions[0].route;
  CHECK(route.blockShape == std::vector<int64_t>{512});
  CHECK(route.per == RouteSpec::Granularity::Token);
  CHECK(route.select == RouteSpec::Selection::TopK);
  CHECK(route.selectArg->intValue == 3);
  CHECK(route.always);
  CHECK(route.never);
}

TEST_CASE("examples: -D overrides a structural const of an example", "[examples]") {
  SourceFile file("", "");
  std::string error;
  REQUIRE(SourceFile::load(std::string(ATTNC_EXAMPLES_DIR) + "/natten2d_17.attn", file, error));
  DiagnosticEngine diags(&file);
  auto program = parseAndCheck(file, diags, {{"radius", "3"}});
  REQUIRE(program);
  CHECK(program->attentions[0].consts[0].folded.i == 3);
}
