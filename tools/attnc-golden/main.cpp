//===- main.cpp - attnc-golden: regenerate and verify golden outputs -----===//
//
//   attnc-golden regenerate [--out DIR] [--examples DIR] [--manifest FILE] [filters]
//   attnc-golden verify     [--golden DIR] [--examples DIR] [--manifest FILE] [filters]
//                           [--atol A] [--rtol R]
//   attnc-golden coverage   [--manifest FILE] [--examples DIR]
//   attnc-golden list       [--manifest FILE]
//
// The manifest (default <golden dir>/MANIFEST.txt) lists the cases; see docs/reference.md.
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
#include <set>
#include <sstream>

namespace fs = std::filesystem;
using namespace attnc::reference;

namespace {

struct Options {
  std::string goldenDir = ATTNC_DEFAULT_GOLDEN_DIR;
  std::string examplesDir = ATTNC_DEFAULT_EXAMPLES_DIR;
  std::string manifest; // default: <goldenDir>/MANIFEST.txt
  std::vector<std::string> cases, examples;
  bool prune = false;
  GoldenTolerance tolerance;
};

bool loadManifest(const Options &o, std::vector<GoldenCase> &cases) {
  std::string path = o.manifest.empty() ? o.goldenDir + "/MANIFEST.txt" : o.manifest;
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

double seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

int regenerate(const Options &o) {
  std::vector<GoldenCase> cases;
  if (!loadManifest(o, cases))
    return 1;
  fs::create_directories(o.goldenDir);
  int failures = 0, written = 0;
  uint64_t bytes = 0;
  for (const auto &c : cases) {
    if (!selected(o, c))
      continue;
    auto start = std::chrono::steady_clock::now();
    ReferenceResult r;
    double scale = 0;
    std::string error;
    if (!runGoldenCase(c, o.examplesDir, r, scale, error)) {
      std::cerr << "attnc-golden: error: " << c.name << ": " << error << "\n";
      ++failures;
      continue;
    }
    std::string path = o.goldenDir + "/" + c.name + ".gold";
    if (!writeGoldenFile(path, toGolden(c, r, scale), error)) {
      std::cerr << "attnc-golden: error: " << error << "\n";
      ++failures;
      continue;
    }
    ++written;
    bytes += fs::file_size(path);
    double density = double(r.keptPairs) /
                     (double(c.shape.batch) * c.shape.heads * c.shape.qLen * c.shape.kvLen);
    std::printf("wrote %-40s density %.4f  %.2fs\n", path.c_str(), density, seconds(start));
  }
  if (o.prune && o.cases.empty() && o.examples.empty()) {
    std::set<std::string> keep;
    for (const auto &c : cases)
      keep.insert(c.name + ".gold");
    for (const auto &entry : fs::directory_iterator(o.goldenDir))
      if (entry.path().extension() == ".gold" && !keep.count(entry.path().filename().string())) {
        std::printf("removed stale %s\n", entry.path().c_str());
        fs::remove(entry.path());
      }
  }
  std::printf("%d golden files written (%.1f KiB), %d failed\n", written, bytes / 1024.0, failures);
  return failures ? 1 : 0;
}

int verify(const Options &o) {
  std::vector<GoldenCase> cases;
  if (!loadManifest(o, cases))
    return 1;
  int failures = 0, checked = 0;
  for (const auto &c : cases) {
    if (!selected(o, c))
      continue;
    ++checked;
    auto start = std::chrono::steady_clock::now();
    std::string error;
    GoldenFile golden;
    std::string path = o.goldenDir + "/" + c.name + ".gold";
    if (!readGoldenFile(path, golden, error)) {
      std::printf("FAIL %s: %s\n", c.name.c_str(), error.c_str());
      ++failures;
      continue;
    }
    if (golden.caseLine != c.toLine()) {
      std::printf("FAIL %s: golden file was made for '%s', the manifest says '%s' "
                  "(regenerate)\n",
                  c.name.c_str(), golden.caseLine.c_str(), c.toLine().c_str());
      ++failures;
      continue;
    }
    ReferenceResult r;
    double scale = 0;
    if (!runGoldenCase(c, o.examplesDir, r, scale, error)) {
      std::printf("FAIL %s: %s\n", c.name.c_str(), error.c_str());
      ++failures;
      continue;
    }
    GoldenComparison cmp = compareWithGolden(r, golden, o.tolerance);
    if (!cmp.ok) {
      std::printf("FAIL %s: %zu mismatches (atol %g, rtol %g); first: %s; max abs err %.3g\n",
                  c.name.c_str(), cmp.mismatches, o.tolerance.atol, o.tolerance.rtol,
                  cmp.firstMismatch.c_str(), cmp.maxAbsError);
      ++failures;
      continue;
    }
    std::printf("ok   %-40s max abs err %.2e  max rel err %.2e  %.2fs\n", c.name.c_str(),
                cmp.maxAbsError, cmp.maxRelError, seconds(start));
  }
  if (checked == 0) {
    std::printf("FAIL: no golden case matched the filters\n");
    return 1;
  }
  std::printf("%d cases verified, %d failed\n", checked, failures);
  return failures ? 1 : 0;
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
  std::printf("%d examples, %zu with golden cases, %d problems\n", total, covered.size(), missing);
  return missing || total == 0 ? 1 : 0;
}

int list(const Options &o) {
  std::vector<GoldenCase> cases;
  if (!loadManifest(o, cases))
    return 1;
  for (const auto &c : cases)
    if (selected(o, c))
      std::printf("%s\n", c.toLine().c_str());
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
    cmd->add_option("--case", o.cases, "only these cases");
    cmd->add_option("--example", o.examples, "only cases of these examples");
  };
  auto *regen = app.add_subcommand("regenerate", "recompute and write every golden file");
  addCommon(regen, true);
  regen->add_flag("--prune", o.prune, "delete .gold files that are not in the manifest");
  regen->callback([&] { exitCode = regenerate(o); });

  auto *ver = app.add_subcommand("verify", "recompute every case and compare with its golden");
  addCommon(ver, false);
  ver->add_option("--atol", o.tolerance.atol, "absolute tolerance")->capture_default_str();
  ver->add_option("--rtol", o.tolerance.rtol, "relative tolerance")->capture_default_str();
  ver->callback([&] { exitCode = verify(o); });

  auto *cov = app.add_subcommand("coverage", "check that every example has a golden case");
  addCommon(cov, false);
  cov->callback([&] { exitCode = coverage(o); });

  auto *ls = app.add_subcommand("list", "print the manifest's cases");
  addCommon(ls, false);
  ls->callback([&] { exitCode = list(o); });

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError &e) {
    return app.exit(e) ? 2 : 0;
  }
  return exitCode;
}
