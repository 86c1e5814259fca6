//===- GradientTests.cpp - Derivative hooks against finite differences ----===//
//
// The hooks attn-differentiate emits (CodegenOptions::backward), compiled on the host
// with the forward hooks, against central differences of the forward hooks: d score' / d s
// and d out' / d o, and for each f32 input element the sum of the read-site derivatives
// whose (clamped) coordinates hit it — what a backward kernel accumulates — against the
// difference quotient of perturbing that element. For every example with a score or out
// expression and programs that use each rule. bf16/f16 inputs are declared f32 for the
// test (the derivative of a read does not depend on the storage type, and a bf16 element
// cannot be perturbed by a small step).
//
//===----------------------------------------------------------------------===//
#include "HookHarness.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <random>
#include <sstream>

namespace attnc::test {
namespace {

/// Function pointers into the compiled hooks; `region` 0 is score, 1 is out; `x` holds
/// (b, h, q, k) or (b, h, q, c).
struct GradTable {
  float (*forward)(int region, const AttncArgs &a, float v, const int *x);
  float (*grad)(int region, const AttncArgs &a, float v, const int *x);
  float (*gradRead)(int region, int site, const AttncArgs &a, float v, const int *x);
  int (*readIndex)(int region, int site, int n, const AttncArgs &a, const int *x);
};

std::string tableSource(const compiler::GeneratedHooks &hooks) {
  std::ostringstream src;
  src << "#include <math.h>\n#include <stdint.h>\n#include \"attnc/abi/KernelArgs.h\"\n";
  src << hookPreludeText(hooks.source) << "\n" << hookFunctions(hooks.source) << "\n";
  const char *args = "a, v, x[0], x[1], x[2], x[3]";
  src << "static float fwd(int r, const AttncArgs &a, float v, const int *x) {\n"
      << "  return r == 0 ? attnc_score(" << args << ") : attnc_out(" << args << ");\n}\n";
  src << "static float grad(int r, const AttncArgs &a, float v, const int *x) {\n"
      << "  return r == 0 ? attnc_score_grad(" << args << ") : attnc_out_grad(" << args
      << ");\n}\n";
  src << "static float gradRead(int r, int i, const AttncArgs &a, float v, const int *x) {\n";
  for (const compiler::GradReadSite &site : hooks.gradReads)
    src << "  if (r == " << (site.region == "score" ? 0 : 1) << " && i == " << site.site
        << ") return attnc_" << site.region << "_grad_read" << site.site << "(" << args << ");\n";
  src << "  return NAN;\n}\n";
  src << "static int readIndex(int r, int i, int n, const AttncArgs &a, const int *x) {\n";
  for (const compiler::GradReadSite &site : hooks.gradReads)
    for (int n = 0; n < site.rank; ++n)
      src << "  if (r == " << (site.region == "score" ? 0 : 1) << " && i == " << site.site
          << " && n == " << n << ") return attnc_" << site.region << "_read" << site.site
          << "_index" << n << "(a, x[0], x[1], x[2], x[3]);\n";
  src << "  return -1;\n}\n";
  src << "struct GradTable { void *f, *g, *gr, *ri; };\n"
      << "extern \"C\" const GradTable attnc_grad_table = {(void *)&fwd, (void *)&grad, "
         "(void *)&gradRead, (void *)&readIndex};\n";
  return src.str();
}

/// Fourth-order central difference of f at step h, and whether halving the step agrees
/// (false near a kink or jump, where no derivative is to be compared).
bool centralDifference(const std::function<double(double)> &f, double h, double &d) {
  auto stencil = [&](double step) {
    return (-f(2 * step) + 8 * f(step) - 8 * f(-step) + f(-2 * step)) / (12 * step);
  };
  d = stencil(h);
  double half = stencil(h / 2);
  return std::isfinite(d) && std::abs(d - half) <= 1e-3 * std::max(1.0, std::abs(d));
}

bool close(double derivative, double difference) {
  return std::abs(derivative - difference) <= 1e-3 * std::max(1.0, std::abs(difference));
}

struct Counts {
  int compared = 0;  ///< points where the difference quotient was smooth
  int skipped = 0;   ///< kinks
  int sensitive = 0; ///< points where a 1% error of the derivative would have failed
};

void compare(const std::string &what, double derivative, double difference, Counts &counts) {
  INFO(what << ": derivative " << derivative << ", central difference " << difference);
  CHECK(close(derivative, difference));
  ++counts.compared;
  if (!close(derivative * 1.01 + 1e-3, difference))
    ++counts.sensitive;
}

void checkProgram(const std::string &name, std::string text) {
  for (const char *from : {"bf16[", "f16["}) {
    for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at))
      text.replace(at, std::strlen(from), "f32[");
  }
  dsl::SourceFile file(name, text);
  dsl::DiagnosticEngine diags(&file);
  auto program = dsl::parseAndCheck(file, diags);
  if (!program) {
    std::ostringstream os;
    diags.print(os);
    FAIL("front end rejected " << name << ":\n" << os.str());
  }
  const dsl::AttentionDecl *attention = program->find("");
  REQUIRE(attention);
  compiler::CodegenOptions options;
  options.backward = true;
  compiler::GeneratedHooks hooks;
  std::string error;
  INFO(name);
  REQUIRE(compiler::generateHooks(*program, *attention, options, hooks, error));
  REQUIRE(hooks.hasBackward);
  // The program's variant carries the derivatives the backward kernels call (V::scoreGrad,
  // V::outGrad; an identity region's is 1).
  CHECK(hooks.source.find(" scoreGrad(") != std::string::npos);
  CHECK(hooks.source.find(" outGrad(") != std::string::npos);
  void *sym = compileHostSymbol(tableSource(hooks), "attnc_grad_table", error);
  INFO(error);
  REQUIRE(sym);
  GradTable table;
  std::memcpy(&table, sym, sizeof(table));

  AttncArgs a = makeArgs(hooks, 2, 4, 4, 40, 48);
  HostInputs inputs;
  inputs.bind(*attention, hooks, a, 7, 16);
  std::mt19937_64 rng(11);
  std::uniform_real_distribution<double> value(-6, 6);
  for (int region = 0; region < 2; ++region) {
    if (region == 0 ? !hooks.hasScore : !hooks.hasOut)
      continue;
    Counts incoming;
    std::vector<Counts> perSlot(attention->inputs.size());
    for (int point = 0; point < 150; ++point) {
      int x[4] = {static_cast<int>(rng() % a.batch), static_cast<int>(rng() % a.heads),
                  static_cast<int>(rng() % a.q_len),
                  static_cast<int>(rng() % (region == 0 ? a.kv_len : a.head_dim))};
      float v = static_cast<float>(value(rng));
      double d;
      auto ofValue = [&](double dv) {
        return static_cast<double>(table.forward(region, a, static_cast<float>(v + dv), x));
      };
      if (centralDifference(ofValue, 1e-2 * std::max(1.0f, std::abs(v)), d))
        compare(name + (region ? " d out/d o" : " d score/d s"), table.grad(region, a, v, x), d,
                incoming);
      else
        ++incoming.skipped;

      // Each element a read site hits: the sum of the sites' derivatives hitting it.
      std::vector<std::pair<int, long long>> elements;
      std::vector<std::pair<int, long long>> siteElement;
      for (const compiler::GradReadSite &site : hooks.gradReads) {
        if (site.region != (region ? "out" : "score")) {
          siteElement.push_back({-1, 0});
          continue;
        }
        const AttncTensor &t = a.input[site.slot];
        long long offset = 0;
        for (int n = 0; n < site.rank; ++n) {
          int i = table.readIndex(region, site.site, n, a, x);
          i = std::min(std::max(i, 0), t.dim[n] - 1);
          offset += static_cast<long long>(i) * t.stride[n];
        }
        siteElement.push_back({site.slot, offset});
        if (std::find(elements.begin(), elements.end(), siteElement.back()) == elements.end())
          elements.push_back(siteElement.back());
      }
      for (auto [slot, offset] : elements) {
        double derivative = 0;
        for (size_t s = 0; s < hooks.gradReads.size(); ++s)
          if (siteElement[s] == std::make_pair(slot, offset))
            derivative += table.gradRead(region, hooks.gradReads[s].site, a, v, x);
        float *element = static_cast<float *>(const_cast<void *>(a.input[slot].data)) + offset;
        float saved = *element;
        auto ofElement = [&](double de) {
          *element = static_cast<float>(saved + de);
          double f = table.forward(region, a, v, x);
          *element = saved;
          return f;
        };
        if (centralDifference(ofElement, 1e-2 * std::max(1.0f, std::abs(saved)), d))
          compare(name + " d/d " + attention->inputs[slot].name, derivative, d, perSlot[slot]);
        else
          ++perSlot[slot].skipped;
      }
    }
    // Most points are smooth, and the comparison would catch a wrong derivative.
    INFO((region ? "out" : "score") << ": compared " << incoming.compared << ", skipped "
                                    << incoming.skipped << ", sensitive " << incoming.sensitive);
    CHECK(incoming.compared >= 100);
    for (const compiler::GradReadSite &site : hooks.gradReads) {
      if (site.region != (region ? "out" : "score"))
        continue;
      const Counts &c = perSlot[site.slot];
      INFO("input " << attention->inputs[site.slot].name << ": compared " << c.compared
                    << ", skipped " << c.skipped << ", sensitive " << c.sensitive);
      CHECK(c.compared >= 100);
      CHECK(c.sensitive > 0);
    }
  }
}

} // namespace

TEST_CASE("derivative hooks of the examples match central differences", "[gradient]") {
  int tested = 0;
  for (const std::string &path : exampleFiles()) {
    std::string text = readFile(path);
    std::string name = path.substr(path.rfind('/') + 1);
    // Only programs with a score or out expression have a derivative other than 1.
    if (text.find("score =") == std::string::npos && text.find("out =") == std::string::npos)
      continue;
    SECTION(name) { checkProgram(name, text); }
    ++tested;
  }
  // alibi_causal, bias_causal, forgetting_gate, gated_causal, head_gate, radial_decay,
  // softcap_causal at least.
  CHECK(tested >= 7);
}

TEST_CASE("derivative hooks of each rule match central differences", "[gradient]") {
  const char *programs[][2] = {
      {"minmax_abs_clamp", R"(attention t {
  input g: f32[heads];
  score = max(score, g[h]) - min(score * 0.5, g[h] * 2.0) + abs(score - g[h]) +
          clamp(score, -3.0, 3.0 * g[h]);
})"},
      {"log_sqrt_exp", R"(attention t {
  input g: f32[batch, heads, q_len, kv_len];
  score = log(abs(score) + 1.0) + log2(g[b, h, q, k] * g[b, h, q, k] + 1.0) +
          sqrt(score * score + g[b, h, q, k] * g[b, h, q, k] + 1.0) +
          8.0 * exp2(-abs(score) / 8.0) + 4.0 * exp(g[b, h, q, k] / 4.0);
})"},
      {"select_div", R"(attention t {
  input g: f32[heads];
  score = select(score > g[h], score / (abs(g[h]) + 1.0), g[h] / (abs(score) + 1.5)) +
          select(score < 0.0, 2.0, 1.0 / g[h]);
})"},
      {"fanout_lets", R"(attention t {
  input g: f32[heads];
  let t = score / 8.0 + g[h];
  score = t * t * g[h] - t / (1.0 + t * t) + float(q - k) * t;
})"},
      {"out_sigmoid_tanh", R"(attention t {
  input gate: f32[heads];
  input g2: f32[batch, heads, q_len, d];
  out = out * sigmoid(gate[h]) + tanh(out * g2[b, h, q, :]) / (1.0 + float(q % 3)) -
        min(out, gate[h]);
})"},
  };
  for (const auto &p : programs)
    SECTION(p[0]) { checkProgram(p[0], p[1]); }
}

} // namespace attnc::test
