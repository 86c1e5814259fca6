//===- main.cpp - attnc-golden: regenerate and verify golden outputs -----===//
//
//   attnc-golden regenerate [--out DIR] [--examples DIR] [manifests] [filters] [--kind K]
//   attnc-golden verify     [--golden DIR] [--examples DIR] [manifests] [filters] [--kind K]
//                           [--atol A] [--rtol R]
//   attnc-golden coverage   [manifests] [--examples DIR]
//   attnc-golden list       [manifests] [--kind K]
//
// The forward manifest (default <golden dir>/MANIFEST.txt, --manifest) lists the forward
// cases (<name>.gold), the backward manifest (default <golden dir>/BACKWARD.txt,
// --backward-manifest) the backward ones (<name>.bgold); --kind forward|backward|all
// (default all) picks which. See docs/reference.md, "Golden outputs".
//
//===----------------------------------------------------------------------===//
#include "attnc/reference/Golden.h"

#include <CLI/CLI.hpp>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>

namespace fs = std::filesystem;
using namespace attnc::reference;

namespace {

struct Options {
  std::string goldenDir = ATTNC_DEFAULT_GOLDEN_DIR;
  std::string examplesDir = ATTNC_DEFAULT_EXAMPLES_DIR;
  std::string manifest;         // default: <goldenDir>/MANIFEST.txt
  std::string backwardManifest; // default: <goldenDir>/BACKWARD.txt
  std::string kind = "all";
  std::vector<std::string> cases, examples;
  bool prune = false;
  GoldenTolerance tolerance;

  bool forward() const { return kind != "backward"; }
  bool backward() const { return kind != "forward"; }
};

/// Loads the forward (backward = false) or backward manifest. grad: belongs to backward
/// cases only.
bool loadManifest(const Options &o, std::vector<GoldenCase> &cases, bool backward = false) {
  std::string path =
      backward ? (o.backwardManifest.empty() ? o.goldenDir + "/BACKWARD.txt" : o.backwardManifest)
               : (o.manifest.empty() ? o.goldenDir + "/MANIFEST.txt" : o.manifest);
  std::ifstream is(path);
  if (!is) {
    std::cerr << "attnc-golden: error: cannot read manifest " << path << "\n";
    return false;
  }
  std::stringstream text;
  text << is.rdbuf();
  std::string error;
  if (!parseManifest(text.str(), cases, error)) {
    std::cerr << "attnc-golden: error: " << path << ": " << error << "\n";
    return false;
  }
  if (!backward)
    for (const auto &c : cases)
      if (!c.gradInputs.empty()) {
        std::cerr << "attnc-golden: error: " << path << ": case " << c.name
                  << ": grad: belongs in the backward manifest (BACKWARD.txt)\n";
        return false;
      }
  return true;
}

bool selected(const Options &o, const GoldenCase &c) {
  if (o.cases.empty() && o.examples.empty())
    return true;
  for (const auto &n : o.cases)
    if (n == c.name)
      return true;
  for (const auto &e : o.examples)
    if (e == c.example)
      return true;
  return false;
}

GoldenFile toGolden(const GoldenCase &c, const ReferenceResult &r, double scale) {
  GoldenFile g;
  g.caseLine = c.toLine();
  g.shape = c.shape;
  g.seed = c.seed;
  g.scale = scale;
  g.keptPairs = r.keptPairs;
  g.out.assign(r.out.begin(), r.out.end());
  g.lse.assign(r.lse.begin(), r.lse.end());
  return g;
}

BackwardGoldenFile toBackwardGolden(const GoldenCase &c, const ReferenceGradients &r,
                                    double scale) {
  BackwardGoldenFile g;
  g.caseLine = c.toLine();
  g.shape = c.shape;
  g.seed = c.seed;
  g.scale = scale;
  g.keptPairs = r.forward.keptPairs;
  g.dq.assign(r.dq.begin(), r.dq.end());
  g.dk.assign(r.dk.begin(), r.dk.end());
  g.dv.assign(r.dv.begin(), r.dv.end());
  for (const InputGradient &in : r.inputs)
    g.inputs.push_back({in.name, in.dims, std::vector<float>(in.values.begin(), in.values.end())});
  return g;
}

double seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

/// The result of one case, ready to write or compare: forward or backward.
struct CaseRun {
  ReferenceResult forward;
  ReferenceGradients backward;
  double scale = 0;
  uint64_t keptPairs = 0;
};

bool runCase(const Options &o, const GoldenCase &c, bool backward, CaseRun &run,
             std::string &error) {
  if (backward) {
    if (!runBackwardGoldenCase(c, o.examplesDir, run.backward, run.scale, error))
      return false;
    run.keptPairs = run.backward.forward.keptPairs;
    return true;
  }
  if (!runGoldenCase(c, o.examplesDir, run.forward, run.scale, error))
    return false;
  run.keptPairs = run.forward.keptPairs;
  return true;
}

std::string goldenPath(const Options &o, const GoldenCase &c, bool backward) {
  return o.goldenDir + "/" + c.name + (backward ? ".bgold" : ".gold");
}

int regenerate(const Options &o) {
  std::vector<GoldenCase> forwardCases, backwardCases;
  if ((o.forward() && !loadManifest(o, forwardCases)) ||
      (o.backward() && !loadManifest(o, backwardCases, true)))
    return 1;
  fs::create_directories(o.goldenDir);
  int failures = 0, written = 0;
  uint64_t bytes = 0;
  for (bool backward : {false, true}) {
    const std::vector<GoldenCase> &cases = backward ? backwardCases : forwardCases;
    for (const auto &c : cases) {
      if (!selected(o, c))
        continue;
      auto start = std::chrono::steady_clock::now();
      CaseRun run;
      std::string error;
      if (!runCase(o, c, backward, run, error)) {
        std::cerr << "attnc-golden: error: " << c.name << ": " << error << "\n";
        ++failures;
        continue;
      }
      std::string path = goldenPath(o, c, backward);
      bool ok =
          backward
              ? writeBackwardGoldenFile(path, toBackwardGolden(c, run.backward, run.scale), error)
              : writeGoldenFile(path, toGolden(c, run.forward, run.scale), error);
      if (!ok) {
        std::cerr << "attnc-golden: error: " << error << "\n";
        ++failures;
        continue;
      }
      ++written;
      bytes += fs::file_size(path);
      double density = double(run.keptPairs) /
                       (double(c.shape.batch) * c.shape.heads * c.shape.qLen * c.shape.kvLen);
      std::printf("wrote %-40s density %.4f  %.2fs\n", path.c_str(), density, seconds(start));
    }
  }
  if (o.prune && o.cases.empty() && o.examples.empty()) {
    // Only the kinds whose manifest was read: --kind forward keeps every .bgold.
    std::set<std::string> keep;
    for (const auto &c : forwardCases)
      keep.insert(c.name + ".gold");
    for (const auto &c : backwardCases)
      keep.insert(c.name + ".bgold");
    for (const auto &entry : fs::directory_iterator(o.goldenDir)) {
      std::string ext = entry.path().extension().string();
      bool managed = (ext == ".gold" && o.forward()) || (ext == ".bgold" && o.backward());
      if (managed && !keep.count(entry.path().filename().string())) {
        std::printf("removed stale %s\n", entry.path().c_str());
        fs::remove(entry.path());
      }
    }
  }
  std::printf("%d golden files written (%.1f KiB), %d failed\n", written, bytes / 1024.0, failures);
  return failures ? 1 : 0;
}

int verify(const Options &o) {
  std::vector<GoldenCase> forwardCases, backwardCases;
  if ((o.forward() && !loadManifest(o, forwardCases)) ||
      (o.backward() && !loadManifest(o, backwardCases, true)))
    return 1;
  int failures = 0, checked = 0;
  for (bool backward : {false, true}) {
    const std::vector<GoldenCase> &cases = backward ? backwardCases : forwardCases;
    const char *kind = backward ? "backward " : "";
    for (const auto &c : cases) {
      if (!selected(o, c))
        continue;
      ++checked;
      auto start = std::chrono::steady_clock::now();
      std::string error, path = goldenPath(o, c, backward), caseLine;
      GoldenFile golden;
      BackwardGoldenFile backwardGolden;
      bool read = backward ? readBackwardGoldenFile(path, backwardGolden, error)
                           : readGoldenFile(path, golden, error);
      if (!read) {
        std::printf("FAIL %s%s: %s\n", kind, c.name.c_str(), error.c_str());
        ++failures;
        continue;
      }
      caseLine = backward ? backwardGolden.caseLine : golden.caseLine;
      if (caseLine != c.toLine()) {
        std::printf("FAIL %s%s: golden file was made for '%s', the manifest says '%s' "
                    "(regenerate)\n",
                    kind, c.name.c_str(), caseLine.c_str(), c.toLine().c_str());
        ++failures;
        continue;
      }
      CaseRun run;
      if (!runCase(o, c, backward, run, error)) {
        std::printf("FAIL %s%s: %s\n", kind, c.name.c_str(), error.c_str());
        ++failures;
        continue;
      }
      GoldenComparison cmp =
          backward ? compareWithBackwardGolden(run.backward, backwardGolden, o.tolerance)
                   : compareWithGolden(run.forward, golden, o.tolerance);
      if (!cmp.ok) {
        std::printf("FAIL %s%s: %zu mismatches (atol %g, rtol %g); first: %s; max abs err %.3g\n",
                    kind, c.name.c_str(), cmp.mismatches, o.tolerance.atol, o.tolerance.rtol,
                    cmp.firstMismatch.c_str(), cmp.maxAbsError);
        ++failures;
        continue;
      }
      std::printf("ok   %s%-40s max abs err %.2e  max rel err %.2e  %.2fs\n", kind, c.name.c_str(),
                  cmp.maxAbsError, cmp.maxRelError, seconds(start));
    }
  }
  if (checked == 0) {
    std::printf("FAIL: no golden case matched the filters\n");
    return 1;
  }
  std::printf("%d cases verified, %d failed\n", checked, failures);
  return failures ? 1 : 0;
}

/// The float inputs that `example` declares (the ones a backward case should ask grad: for).
bool floatInputsOf(const Options &o, const std::string &example, std::vector<std::string> &names,
                   std::string &error) {
  std::string path = o.examplesDir + "/" + example + ".attn";
  attnc::dsl::SourceFile file(path, "");
  if (!attnc::dsl::SourceFile::load(path, file, error))
    return false;
  attnc::dsl::DiagnosticEngine diags(&file);
  std::unique_ptr<attnc::dsl::Program> program = attnc::dsl::parseAndCheck(file, diags, {});
  const attnc::dsl::AttentionDecl *attention = nullptr;
  if (program && !diags.hasErrors())
    attention = program->find(example) ? program->find(example) : program->find("");
  if (!attention) {
    error = path + " does not compile or has no attention '" + example + "'";
    return false;
  }
  for (const auto &input : attention->inputs) {
    auto t = input.elementType;
    if (t == attnc::dsl::ElementType::F32 || t == attnc::dsl::ElementType::F16 ||
        t == attnc::dsl::ElementType::BF16)
      names.push_back(input.name);
  }
  return true;
}

int coverage(const Options &o) {
  std::vector<GoldenCase> cases;
  if (!loadManifest(o, cases))
    return 1;
  std::set<std::string> covered;
  for (const auto &c : cases)
    covered.insert(c.example);
  int missing = 0, total = 0;
  if (!fs::is_directory(o.examplesDir)) {
    std::printf("FAIL: no examples directory %s\n", o.examplesDir.c_str());
    return 1;
  }
  for (const auto &entry : fs::directory_iterator(o.examplesDir)) {
    if (entry.path().extension() != ".attn")
      continue;
    ++total;
    std::string stem = entry.path().stem().string();
    if (!covered.count(stem)) {
      std::printf("FAIL: example %s has no golden case in the manifest\n", stem.c_str());
      ++missing;
    }
  }
  for (const auto &name : covered)
    if (!fs::exists(o.examplesDir + "/" + name + ".attn")) {
      std::printf("FAIL: manifest names example %s, which does not exist\n", name.c_str());
      ++missing;
    }
  // Backward: every example with forward cases has a backward case, and the backward cases
  // of an example together ask for the gradient of each float input it declares.
  std::vector<GoldenCase> backwardCases;
  if (!loadManifest(o, backwardCases, true))
    return 1;
  std::map<std::string, std::set<std::string>> grads; // example -> grad: names
  for (const auto &c : backwardCases) {
    grads[c.example].insert(c.gradInputs.begin(), c.gradInputs.end());
    if (!covered.count(c.example)) {
      std::printf("FAIL: backward case %s names example %s, which has no forward case\n",
                  c.name.c_str(), c.example.c_str());
      ++missing;
    }
  }
  for (const auto &name : covered) {
    if (!grads.count(name)) {
      std::printf("FAIL: example %s has no backward golden case\n", name.c_str());
      ++missing;
      continue;
    }
    std::vector<std::string> floats;
    std::string error;
    if (!floatInputsOf(o, name, floats, error)) {
      std::printf("FAIL: %s\n", error.c_str());
      ++missing;
      continue;
    }
    for (const auto &input : floats)
      if (!grads[name].count(input)) {
        std::printf("FAIL: no backward case of %s asks grad:%s\n", name.c_str(), input.c_str());
        ++missing;
      }
  }
  std::printf("%d examples, %zu with golden cases, %zu with backward cases, %d problems\n", total,
              covered.size(), grads.size(), missing);
  return missing || total == 0 ? 1 : 0;
}

int list(const Options &o) {
  std::vector<GoldenCase> forwardCases, backwardCases;
  if ((o.forward() && !loadManifest(o, forwardCases)) ||
      (o.backward() && !loadManifest(o, backwardCases, true)))
    return 1;
  for (const auto &c : forwardCases)
    if (selected(o, c))
      std::printf("%s\n", c.toLine().c_str());
  for (const auto &c : backwardCases)
    if (selected(o, c))
      std::printf("backward %s\n", c.toLine().c_str());
  return 0;
}

} // namespace

int main(int argc, char **argv) {
  CLI::App app{"attnc-golden: regenerate and verify the reference golden outputs"};
  app.require_subcommand(1);
  Options o;
  int exitCode = 0;
  auto addCommon = [&](CLI::App *cmd, bool outName) {
    cmd->add_option(outName ? "--out" : "--golden", o.goldenDir, "golden directory")
        ->capture_default_str();
    cmd->add_option("--examples", o.examplesDir, "examples directory")->capture_default_str();
    cmd->add_option("--manifest", o.manifest, "case list (default <golden>/MANIFEST.txt)");
    cmd->add_option("--backward-manifest", o.backwardManifest,
                    "backward case list (default <golden>/BACKWARD.txt)");
    cmd->add_option("--case", o.cases, "only these cases");
    cmd->add_option("--example", o.examples, "only cases of these examples");
  };
  auto addKind = [&](CLI::App *cmd) {
    cmd->add_option("--kind", o.kind, "forward, backward or all cases")
        ->check(CLI::IsMember({"forward", "backward", "all"}))
        ->capture_default_str();
  };
  auto *regen = app.add_subcommand("regenerate", "recompute and write every golden file");
  addCommon(regen, true);
  addKind(regen);
  regen->add_flag("--prune", o.prune, "delete .gold/.bgold files that are not in the manifests");
  regen->callback([&] { exitCode = regenerate(o); });

  auto *ver = app.add_subcommand("verify", "recompute every case and compare with its golden");
  addCommon(ver, false);
  addKind(ver);
  ver->add_option("--atol", o.tolerance.atol, "absolute tolerance")->capture_default_str();
  ver->add_option("--rtol", o.tolerance.rtol, "relative tolerance")->capture_default_str();
  ver->callback([&] { exitCode = verify(o); });

  auto *cov = app.add_subcommand("coverage", "check that every example has a golden case");
  addCommon(cov, false);
  cov->callback([&] { exitCode = coverage(o); });

  auto *ls = app.add_subcommand("list", "print the manifest's cases");
  addCommon(ls, false);
  addKind(ls);
  ls->callback([&] { exitCode = list(o); });

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError &e) {
    return app.exit(e) ? 2 : 0;
  }
  return exitCode;
}
