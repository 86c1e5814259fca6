//===- Golden.cpp - Golden-output cases and files -----------------------===//
//
// File format (all little-endian, written byte by byte so it is host-independent):
//   char[8] "ATTNCGLD", u32 version (1), u32 n, n bytes of the case's manifest line,
//   i32 batch, heads, kv_heads, q_len, kv_len, d, u64 seed, f64 scale, u64 kept pairs,
//   f32 O[batch*heads*q_len*d], f32 LSE[batch*heads*q_len].
// Backward file (.bgold): char[8] "ATTNCBWD", u32 version (1), u32 n, the case line,
//   the same dims, seed, scale and kept pairs, f32 dQ, dK, dV, u32 input count, per input
//   u32 name length, name, u32 rank, i64 dims, f32 values; then u64 FNV-1a 64 of all the
//   bytes before it.
//
//===----------------------------------------------------------------------===//
#include "attnc/reference/Golden.h"

#include "attnc/reference/Random.h"

#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <memory>
#include <sstream>

namespace attnc::reference {

namespace {

constexpr char kMagic[8] = {'A', 'T', 'T', 'N', 'C', 'G', 'L', 'D'};
constexpr uint32_t kVersion = 1;
constexpr char kBackwardMagic[8] = {'A', 'T', 'T', 'N', 'C', 'B', 'W', 'D'};
constexpr uint32_t kBackwardVersion = 1;

void putU32(std::string &s, uint32_t v) {
  for (int i = 0; i < 4; ++i)
    s.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void putU64(std::string &s, uint64_t v) {
  for (int i = 0; i < 8; ++i)
    s.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void putF32(std::string &s, float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  putU32(s, bits);
}
void putF64(std::string &s, double f) {
  uint64_t bits;
  std::memcpy(&bits, &f, 8);
  putU64(s, bits);
}

struct Reader {
  const std::string &data;
  size_t pos = 0;
  bool ok = true;
  uint64_t get(int bytes) {
    if (pos + bytes > data.size()) {
      ok = false;
      return 0;
    }
    uint64_t v = 0;
    for (int i = 0; i < bytes; ++i)
      v |= static_cast<uint64_t>(static_cast<unsigned char>(data[pos + i])) << (8 * i);
    pos += bytes;
    return v;
  }
  float f32() {
    uint32_t bits = static_cast<uint32_t>(get(4));
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
  }
  double f64() {
    uint64_t bits = get(8);
    double f;
    std::memcpy(&f, &bits, 8);
    return f;
  }
};

std::vector<std::string> splitWords(const std::string &line) {
  std::istringstream is(line);
  std::vector<std::string> words;
  for (std::string w; is >> w;)
    words.push_back(w);
  return words;
}

/// A golden file's bytes, written whole / read whole.
bool writeBytes(const std::string &path, const std::string &bytes, std::string &error) {
  std::ofstream os(path, std::ios::binary | std::ios::trunc);
  os.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!os) {
    error = "cannot write " + path;
    return false;
  }
  return true;
}
bool readBytes(const std::string &path, std::string &bytes, std::string &error) {
  std::ifstream is(path, std::ios::binary);
  if (!is) {
    error = "cannot read " + path + " (regenerate with `attnc-golden regenerate`)";
    return false;
  }
  bytes.assign(std::istreambuf_iterator<char>(is), std::istreambuf_iterator<char>());
  return true;
}

bool parseInt(const std::string &s, int64_t &v) {
  if (s.empty())
    return false;
  char *end = nullptr;
  v = std::strtoll(s.c_str(), &end, 10);
  return *end == '\0';
}

} // namespace

std::string GoldenCase::toLine() const {
  std::ostringstream os;
  os << name << ' ' << example << ' ' << shape.batch << ',' << shape.heads << ',' << shape.kvHeads
     << ',' << shape.qLen << ',' << shape.kvLen << ',' << shape.headDim << ' ' << seed;
  for (const auto &c : consts)
    os << " const:" << c.name << '=' << c.value;
  for (const auto &p : params)
    os << " param:" << p.first << '=' << p.second;
  if (qkvType != DType::F32)
    os << " dtype:" << dtypeName(qkvType);
  for (const auto &g : gradInputs)
    os << " grad:" << g;
  return os.str();
}

bool parseGoldenCase(const std::string &line, GoldenCase &out, std::string &error) {
  std::vector<std::string> words = splitWords(line);
  if (words.size() < 4) {
    error = "expected NAME EXAMPLE B,H,HKV,Q,KV,D SEED [const:N=V] [param:N=V] [dtype:T] "
            "[grad:N]";
    return false;
  }
  out = GoldenCase();
  out.name = words[0];
  out.example = words[1];
  std::vector<int64_t> dims;
  std::stringstream shape(words[2]);
  for (std::string part; std::getline(shape, part, ',');) {
    int64_t v;
    if (!parseInt(part, v) || v < 1 || v > (1 << 24)) {
      error = "bad shape '" + words[2] + "'";
      return false;
    }
    dims.push_back(v);
  }
  if (dims.size() != 6) {
    error = "shape needs 6 values B,H,HKV,Q,KV,D: '" + words[2] + "'";
    return false;
  }
  out.shape = {int(dims[0]), int(dims[1]), int(dims[2]), int(dims[3]), int(dims[4]), int(dims[5])};
  int64_t seed;
  if (!parseInt(words[3], seed) || seed < 0) {
    error = "bad seed '" + words[3] + "'";
    return false;
  }
  out.seed = static_cast<uint64_t>(seed);
  for (size_t i = 4; i < words.size(); ++i) {
    const std::string &w = words[i];
    size_t colon = w.find(':'), eq = w.find('=');
    std::string kind = w.substr(0, colon);
    if (colon == std::string::npos) {
      error = "bad option '" + w + "'";
      return false;
    }
    if (kind == "dtype") {
      if (!parseDType(w.substr(colon + 1), out.qkvType) || !isFloatDType(out.qkvType)) {
        error = "bad dtype in '" + w + "'";
        return false;
      }
      continue;
    }
    if (kind == "grad") {
      std::string name = w.substr(colon + 1);
      if (name.empty() || eq != std::string::npos) {
        error = "bad option '" + w + "' (expected grad:NAME)";
        return false;
      }
      out.gradInputs.push_back(name);
      continue;
    }
    if (eq == std::string::npos || eq < colon) {
      error = "bad option '" + w + "' (expected const:NAME=VALUE or param:NAME=VALUE)";
      return false;
    }
    std::string name = w.substr(colon + 1, eq - colon - 1), value = w.substr(eq + 1);
    if (kind == "const")
      out.consts.push_back({name, value});
    else if (kind == "param")
      out.params.push_back({name, value});
    else {
      error = "unknown option '" + w + "'";
      return false;
    }
  }
  return true;
}

bool parseManifest(const std::string &text, std::vector<GoldenCase> &cases, std::string &error) {
  std::istringstream is(text);
  int lineNo = 0;
  for (std::string line; std::getline(is, line);) {
    ++lineNo;
    size_t first = line.find_first_not_of(" \t\r");
    if (first == std::string::npos || line[first] == '#')
      continue;
    GoldenCase c;
    if (!parseGoldenCase(line, c, error)) {
      error = "manifest line " + std::to_string(lineNo) + ": " + error;
      return false;
    }
    for (const auto &other : cases)
      if (other.name == c.name) {
        error = "manifest line " + std::to_string(lineNo) + ": duplicate case '" + c.name + "'";
        return false;
      }
    cases.push_back(std::move(c));
  }
  return true;
}

namespace {
/// What both golden formats begin with: magic, version, the case line, the shape, seed,
/// scale and kept pairs.
template <class File>
std::string goldenHeader(const char *magic, uint32_t version, const File &file) {
  std::string s(magic, 8);
  putU32(s, version);
  putU32(s, static_cast<uint32_t>(file.caseLine.size()));
  s += file.caseLine;
  const ProblemShape &sh = file.shape;
  for (int v : {sh.batch, sh.heads, sh.kvHeads, sh.qLen, sh.kvLen, sh.headDim})
    putU32(s, static_cast<uint32_t>(v));
  putU64(s, file.seed);
  putF64(s, file.scale);
  putU64(s, file.keptPairs);
  return s;
}
} // namespace

bool writeGoldenFile(const std::string &path, const GoldenFile &file, std::string &error) {
  std::string s = goldenHeader(kMagic, kVersion, file);
  for (float f : file.out)
    putF32(s, f);
  for (float f : file.lse)
    putF32(s, f);
  return writeBytes(path, s, error);
}

bool readGoldenFile(const std::string &path, GoldenFile &file, std::string &error) {
  std::string data;
  if (!readBytes(path, data, error))
    return false;
  if (data.size() < 16 || std::memcmp(data.data(), kMagic, 8) != 0) {
    error = path + ": not an attnc golden file";
    return false;
  }
  Reader r{data, 8};
  uint32_t version = static_cast<uint32_t>(r.get(4));
  if (version != kVersion) {
    error = path + ": unsupported golden version " + std::to_string(version);
    return false;
  }
  uint32_t n = static_cast<uint32_t>(r.get(4));
  if (r.pos + n > data.size()) {
    error = path + ": truncated";
    return false;
  }
  file.caseLine = data.substr(r.pos, n);
  r.pos += n;
  int dims[6];
  for (int &v : dims)
    v = static_cast<int>(static_cast<uint32_t>(r.get(4)));
  file.shape = {dims[0], dims[1], dims[2], dims[3], dims[4], dims[5]};
  file.seed = r.get(8);
  file.scale = r.f64();
  file.keptPairs = r.get(8);
  size_t rows = size_t(dims[0]) * dims[1] * dims[3];
  size_t expected = r.pos + 4 * (rows * dims[5] + rows);
  if (!r.ok || data.size() != expected) {
    error = path + ": size does not match its header";
    return false;
  }
  file.out.resize(rows * dims[5]);
  file.lse.resize(rows);
  for (float &f : file.out)
    f = r.f32();
  for (float &f : file.lse)
    f = r.f32();
  return true;
}

namespace {

/// An example compiled by the front end, with the case's inputs and params bound.
struct PreparedCase {
  std::unique_ptr<dsl::SourceFile> file;
  std::unique_ptr<dsl::Program> program;
  const dsl::AttentionDecl *attention = nullptr;
  ProblemInputs inputs;
  ReferenceProblem problem;
  double scale = 0;
};

bool prepareCase(const GoldenCase &c, const std::string &examplesDir, PreparedCase &prepared,
                 std::string &error) {
  std::string path = examplesDir + "/" + c.example + ".attn";
  prepared.file = std::make_unique<dsl::SourceFile>(path, "");
  if (!dsl::SourceFile::load(path, *prepared.file, error))
    return false;
  dsl::DiagnosticEngine diags(prepared.file.get());
  prepared.program = dsl::parseAndCheck(*prepared.file, diags, c.consts);
  if (!prepared.program || diags.hasErrors()) {
    std::ostringstream os;
    diags.print(os);
    error = path + " does not compile:\n" + os.str();
    return false;
  }
  const dsl::AttentionDecl *attention = prepared.program->find(c.example);
  if (!attention)
    attention = prepared.program->find("");
  if (!attention) {
    error = path + ": no attention named '" + c.example + "'";
    return false;
  }
  prepared.attention = attention;
  InputOptions options;
  options.qkvType = c.qkvType;
  if (!makeProblemInputs(*prepared.program, *attention, c.shape, c.seed, prepared.inputs, error,
                         options))
    return false;
  ReferenceProblem &problem = prepared.problem;
  problem = prepared.inputs.problem();
  for (const auto &[name, text] : c.params) {
    const dsl::ParamDecl *decl = nullptr;
    for (const auto &p : attention->params)
      if (p.name == name)
        decl = &p;
    if (!decl) {
      error = "case " + c.name + ": '" + c.example + "' has no param '" + name + "'";
      return false;
    }
    ParamBinding binding;
    binding.name = name;
    if (!parseParamValue(decl->type, text, binding.value, error)) {
      error = "case " + c.name + ": param " + name + ": " + error;
      return false;
    }
    problem.params.push_back(binding);
  }
  prepared.scale = 1.0 / std::sqrt(static_cast<double>(c.shape.headDim));
  return true;
}

} // namespace

bool runGoldenCase(const GoldenCase &c, const std::string &examplesDir, ReferenceResult &result,
                   double &scale, std::string &error) {
  PreparedCase prepared;
  if (!prepareCase(c, examplesDir, prepared, error))
    return false;
  scale = prepared.scale;
  if (!runReference(*prepared.program, *prepared.attention, prepared.problem, result, error)) {
    error = "case " + c.name + ": " + error;
    return false;
  }
  return true;
}

GoldenComparison compareWithGolden(const ReferenceResult &result, const GoldenFile &golden,
                                   const GoldenTolerance &tolerance) {
  GoldenComparison cmp;
  const ProblemShape &a = result.shape, &b = golden.shape;
  if (a.batch != b.batch || a.heads != b.heads || a.kvHeads != b.kvHeads || a.qLen != b.qLen ||
      a.kvLen != b.kvLen || a.headDim != b.headDim || result.out.size() != golden.out.size() ||
      result.lse.size() != golden.lse.size()) {
    cmp.firstMismatch = "shape differs from the golden file";
    cmp.mismatches = 1;
    return cmp;
  }
  auto check = [&](const char *what, size_t i, double got, double want) {
    bool bad;
    double abs = std::fabs(got - want);
    if (std::isnan(got) || std::isnan(want)) {
      bad = true;
    } else if (std::isinf(got) || std::isinf(want)) {
      bad = got != want;
    } else {
      bad = abs > tolerance.atol + tolerance.rtol * std::fabs(want);
      cmp.maxAbsError = std::max(cmp.maxAbsError, abs);
      if (want != 0)
        cmp.maxRelError = std::max(cmp.maxRelError, abs / std::fabs(want));
    }
    if (bad) {
      if (cmp.mismatches == 0) {
        std::ostringstream os;
        os.precision(9);
        size_t row = std::string(what) == "O" ? i / a.headDim : i;
        int q = static_cast<int>(row % a.qLen);
        int h = static_cast<int>((row / a.qLen) % a.heads);
        int bb = static_cast<int>(row / (size_t(a.qLen) * a.heads));
        os << what << "[b=" << bb << ", h=" << h << ", q=" << q;
        if (std::string(what) == "O")
          os << ", c=" << i % a.headDim;
        os << "] = " << got << ", golden " << want;
        cmp.firstMismatch = os.str();
      }
      ++cmp.mismatches;
    }
  };
  for (size_t i = 0; i < result.out.size(); ++i)
    check("O", i, result.out[i], golden.out[i]);
  for (size_t i = 0; i < result.lse.size(); ++i)
    check("LSE", i, result.lse[i], golden.lse[i]);
  if (result.keptPairs != golden.keptPairs) {
    if (cmp.mismatches == 0)
      cmp.firstMismatch = "kept pairs " + std::to_string(result.keptPairs) + ", golden " +
                          std::to_string(golden.keptPairs);
    ++cmp.mismatches;
  }
  cmp.ok = cmp.mismatches == 0;
  return cmp;
}

// ---- Backward goldens ----------------------------------------------------------------

namespace {

uint64_t fnv1a64Bytes(const std::string &bytes, size_t n) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < n; ++i) {
    h ^= static_cast<unsigned char>(bytes[i]);
    h *= 0x100000001b3ull;
  }
  return h;
}

size_t elementsOf(const std::vector<int64_t> &dims) {
  size_t n = 1;
  for (int64_t d : dims)
    n *= static_cast<size_t>(d);
  return n;
}

} // namespace

bool writeBackwardGoldenFile(const std::string &path, const BackwardGoldenFile &file,
                             std::string &error) {
  std::string s = goldenHeader(kBackwardMagic, kBackwardVersion, file);
  for (const std::vector<float> *t : {&file.dq, &file.dk, &file.dv})
    for (float f : *t)
      putF32(s, f);
  putU32(s, static_cast<uint32_t>(file.inputs.size()));
  for (const auto &input : file.inputs) {
    if (elementsOf(input.dims) != input.values.size()) {
      error = path + ": gradient of '" + input.name + "' does not match its dims";
      return false;
    }
    putU32(s, static_cast<uint32_t>(input.name.size()));
    s += input.name;
    putU32(s, static_cast<uint32_t>(input.dims.size()));
    for (int64_t d : input.dims)
      putU64(s, static_cast<uint64_t>(d));
    for (float f : input.values)
      putF32(s, f);
  }
  putU64(s, fnv1a64Bytes(s, s.size()));
  return writeBytes(path, s, error);
}

bool readBackwardGoldenFile(const std::string &path, BackwardGoldenFile &file, std::string &error) {
  std::string data;
  if (!readBytes(path, data, error))
    return false;
  if (data.size() < 24 || std::memcmp(data.data(), kBackwardMagic, 8) != 0) {
    error = path + ": not an attnc backward golden file";
    return false;
  }
  const size_t payload = data.size() - 8;
  Reader tail{data, payload};
  if (tail.get(8) != fnv1a64Bytes(data, payload)) {
    error = path + ": checksum mismatch (corrupted or truncated)";
    return false;
  }
  Reader r{data, 8};
  uint32_t version = static_cast<uint32_t>(r.get(4));
  if (version != kBackwardVersion) {
    error = path + ": unsupported backward golden version " + std::to_string(version);
    return false;
  }
  auto bad = [&] {
    error = path + ": size does not match its header";
    return false;
  };
  uint32_t n = static_cast<uint32_t>(r.get(4));
  if (!r.ok || r.pos + n > payload)
    return bad();
  file = BackwardGoldenFile();
  file.caseLine = data.substr(r.pos, n);
  r.pos += n;
  int64_t dims[6];
  for (int64_t &v : dims) {
    v = static_cast<int32_t>(static_cast<uint32_t>(r.get(4)));
    if (v < 1 || v > (1 << 24))
      return bad();
  }
  file.shape = {int(dims[0]), int(dims[1]), int(dims[2]), int(dims[3]), int(dims[4]), int(dims[5])};
  file.seed = r.get(8);
  file.scale = r.f64();
  file.keptPairs = r.get(8);
  // Every count is checked against the bytes left before anything is allocated.
  auto readFloats = [&](std::vector<float> &v, uint64_t count) {
    if (!r.ok || count > (payload - std::min(payload, r.pos)) / 4)
      return false;
    v.resize(count);
    for (float &f : v)
      f = r.f32();
    return true;
  };
  uint64_t qCount = uint64_t(dims[0]) * dims[1] * dims[3] * dims[5];
  uint64_t kvCount = uint64_t(dims[0]) * dims[2] * dims[4] * dims[5];
  if (!readFloats(file.dq, qCount) || !readFloats(file.dk, kvCount) ||
      !readFloats(file.dv, kvCount))
    return bad();
  uint32_t inputs = static_cast<uint32_t>(r.get(4));
  for (uint32_t i = 0; i < inputs && r.ok; ++i) {
    BackwardGoldenFile::Input input;
    uint32_t nameLength = static_cast<uint32_t>(r.get(4));
    if (!r.ok || r.pos + nameLength > payload)
      return bad();
    input.name = data.substr(r.pos, nameLength);
    r.pos += nameLength;
    uint32_t rank = static_cast<uint32_t>(r.get(4));
    if (rank > 8)
      return bad();
    uint64_t count = 1;
    for (uint32_t d = 0; d < rank; ++d) {
      int64_t dim = static_cast<int64_t>(r.get(8));
      if (dim < 1 || dim > (int64_t(1) << 32) || count > (uint64_t(1) << 40) / uint64_t(dim))
        return bad();
      input.dims.push_back(dim);
      count *= uint64_t(dim);
    }
    if (!readFloats(input.values, count))
      return bad();
    file.inputs.push_back(std::move(input));
  }
  if (!r.ok || r.pos != payload)
    return bad();
  return true;
}

OwnedTensor makeGoldenGradOutput(const ProblemShape &shape, uint64_t seed, DType dtype) {
  OwnedTensor dOut(dtype, {shape.batch, shape.heads, shape.qLen, shape.headDim});
  SplitMix64 rng(mixSeed(seed, fnv1a64("dO")));
  fillFloats(dOut, rng, Distribution::Normal);
  return dOut;
}

bool runBackwardGoldenCase(const GoldenCase &c, const std::string &examplesDir,
                           ReferenceGradients &grads, double &scale, std::string &error) {
  PreparedCase prepared;
  if (!prepareCase(c, examplesDir, prepared, error))
    return false;
  scale = prepared.scale;
  OwnedTensor dOut = makeGoldenGradOutput(c.shape, c.seed, c.qkvType);
  if (!runReferenceBackward(*prepared.program, *prepared.attention, prepared.problem, dOut.view(),
                            c.gradInputs, grads, error)) {
    error = "case " + c.name + ": " + error;
    return false;
  }
  return true;
}

GoldenComparison compareWithBackwardGolden(const ReferenceGradients &grads,
                                           const BackwardGoldenFile &golden,
                                           const GoldenTolerance &tolerance) {
  GoldenComparison cmp;
  auto fail = [&](const std::string &why) {
    if (cmp.mismatches++ == 0)
      cmp.firstMismatch = why;
  };
  const ProblemShape &a = grads.shape, &b = golden.shape;
  if (a.batch != b.batch || a.heads != b.heads || a.kvHeads != b.kvHeads || a.qLen != b.qLen ||
      a.kvLen != b.kvLen || a.headDim != b.headDim || grads.dq.size() != golden.dq.size() ||
      grads.dk.size() != golden.dk.size() || grads.dv.size() != golden.dv.size()) {
    fail("shape differs from the golden file");
    return cmp;
  }
  if (grads.inputs.size() != golden.inputs.size()) {
    fail("the golden file has " + std::to_string(golden.inputs.size()) +
         " input gradients, the case asks for " + std::to_string(grads.inputs.size()));
    return cmp;
  }
  // dims: the logical dims of the tensor, for the position of the first mismatch.
  auto compare = [&](const std::string &what, const std::vector<int64_t> &dims,
                     const std::vector<double> &got, const std::vector<float> &want) {
    for (size_t i = 0; i < got.size(); ++i) {
      double g = got[i], w = want[i], abs = std::fabs(g - w);
      bool bad;
      if (std::isnan(g) || std::isnan(w)) {
        bad = true;
      } else if (std::isinf(g) || std::isinf(w)) {
        bad = g != w;
      } else {
        bad = abs > tolerance.atol + tolerance.rtol * std::fabs(w);
        cmp.maxAbsError = std::max(cmp.maxAbsError, abs);
        if (w != 0)
          cmp.maxRelError = std::max(cmp.maxRelError, abs / std::fabs(w));
      }
      if (!bad)
        continue;
      if (cmp.mismatches == 0) {
        std::ostringstream os;
        os.precision(9);
        os << what << '[';
        size_t rest = i;
        std::vector<int64_t> index(dims.size());
        for (size_t d = dims.size(); d-- > 0;) {
          index[d] = static_cast<int64_t>(rest % size_t(dims[d]));
          rest /= size_t(dims[d]);
        }
        for (size_t d = 0; d < index.size(); ++d)
          os << (d ? ", " : "") << index[d];
        os << "] = " << g << ", golden " << w;
        cmp.firstMismatch = os.str();
      }
      ++cmp.mismatches;
    }
  };
  std::vector<int64_t> qDims = {a.batch, a.heads, a.qLen, a.headDim};
  std::vector<int64_t> kvDims = {a.batch, a.kvHeads, a.kvLen, a.headDim};
  compare("dQ", qDims, grads.dq, golden.dq);
  compare("dK", kvDims, grads.dk, golden.dk);
  compare("dV", kvDims, grads.dv, golden.dv);
  for (size_t i = 0; i < grads.inputs.size(); ++i) {
    const InputGradient &g = grads.inputs[i];
    const BackwardGoldenFile::Input &w = golden.inputs[i];
    if (g.name != w.name || g.dims != w.dims || g.values.size() != w.values.size()) {
      fail("gradient of input '" + g.name + "' " + dimsText(g.dims) +
           " does not match the golden file's '" + w.name + "' " + dimsText(w.dims));
      continue;
    }
    compare("d" + g.name, g.dims, g.values, w.values);
  }
  if (grads.forward.keptPairs != golden.keptPairs)
    fail("kept pairs " + std::to_string(grads.forward.keptPairs) + ", golden " +
         std::to_string(golden.keptPairs));
  cmp.ok = cmp.mismatches == 0;
  return cmp;
}

} // namespace attnc::reference
