//===- HookHarness.cpp - Run generated hooks on the host (tests) ----------===//
#include "HookHarness.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <dlfcn.h>
#include <fstream>
#include <random>
#include <sstream>
#include <unistd.h>

namespace attnc::test {

std::string readFile(const std::string &path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> exampleFiles() {
  std::vector<std::string> files;
  if (DIR *dir = opendir(ATTNC_EXAMPLES_DIR)) {
    while (dirent *entry = readdir(dir)) {
      std::string name = entry->d_name;
      if (name.size() > 5 && name.substr(name.size() - 5) == ".attn")
        files.push_back(std::string(ATTNC_EXAMPLES_DIR) + "/" + name);
    }
    closedir(dir);
  }
  std::sort(files.begin(), files.end());
  // Every caller loops over the examples: an empty list would pass without testing.
  INFO("examples directory " ATTNC_EXAMPLES_DIR);
  REQUIRE_FALSE(files.empty());
  return files;
}

CompiledProgram compileSource(const std::string &name, const std::string &text, bool backward) {
  CompiledProgram result;
  result.name = name;
  result.text = text;
  dsl::SourceFile file(name, text);
  dsl::DiagnosticEngine diags(&file);
  result.program = dsl::parseAndCheck(file, diags);
  if (!result.program) {
    std::ostringstream os;
    diags.print(os);
    FAIL("front end rejected " << name << ":\n" << os.str() << "\n" << text);
  }
  result.attention = result.program->find("");
  REQUIRE(result.attention);
  std::string error;
  compiler::CodegenOptions options;
  options.backward = backward;
  bool ok =
      compiler::generateHooks(*result.program, *result.attention, options, result.hooks, error);
  INFO(name << ": " << error);
  REQUIRE(ok);
  return result;
}

static const char kPreludeBegin[] = "// ---- attnc hook prelude";
static const char kPreludeEnd[] = "// ---- end of prelude ----";

std::string hookFunctions(const std::string &source) {
  size_t end = source.find(kPreludeEnd);
  return end == std::string::npos ? source : source.substr(end + sizeof(kPreludeEnd) - 1);
}

std::string hookPreludeText(const std::string &source) {
  size_t begin = source.find(kPreludeBegin), end = source.find(kPreludeEnd);
  if (begin == std::string::npos || end == std::string::npos)
    return {};
  return source.substr(begin, end - begin);
}

bool HostHooks::build(const std::vector<const compiler::GeneratedHooks *> &hooks,
                      std::string &error, const std::string &defines) {
  char pattern[] = "/tmp/attnc-hooks-XXXXXX";
  if (!mkdtemp(pattern)) {
    error = "mkdtemp failed";
    return false;
  }
  dir = pattern;
  std::ostringstream src;
  src << "#include <math.h>\n#include <stdint.h>\n#include \"attnc/abi/KernelArgs.h\"\n";
  src << defines << "\n" << hookPreludeText(hooks.at(0)->source) << "\n";
  src << "struct HostHookTable { void *mask, *classify, *kvRanges, *maskIndex, *maskData, "
         "*classifyFactors, *qRanges; };\n";
  for (size_t i = 0; i < hooks.size(); ++i)
    src << "namespace p" << i << " {\n" << hookFunctions(hooks[i]->source) << "\n}\n";
  src << "extern \"C\" const HostHookTable attnc_test_tables[] = {\n";
  for (size_t i = 0; i < hooks.size(); ++i) {
    const std::string ns = "(void *)&p" + std::to_string(i) + "::";
    src << "  {" << ns << "attnc_mask, " << ns << "attnc_classify, " << ns << "attnc_kv_ranges, ";
    if (hooks[i]->maskFactors)
      src << ns << "attnc_mask_index, " << ns << "attnc_mask_data, " << ns
          << "attnc_classify_factors, ";
    else
      src << "nullptr, nullptr, nullptr, ";
    src << (hooks[i]->hasBackward ? ns + "attnc_q_ranges" : std::string("nullptr")) << "},\n";
  }
  src << "};\n";
  std::string cpp = dir + "/hooks.cpp", so = dir + "/hooks.so", log = dir + "/log.txt";
  std::ofstream(cpp) << src.str();
  std::string cmd = std::string(ATTNC_HOST_CXX) + " -std=c++17 -O1 -w -shared -fPIC -I" +
                    ATTNC_ABI_INCLUDE_DIR + " " + cpp + " -o " + so + " > " + log + " 2>&1";
  if (std::system(cmd.c_str()) != 0) {
    error = "host compile failed: " + cmd + "\n" + readFile(log);
    return false;
  }
  handle = dlopen(so.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    error = dlerror();
    return false;
  }
  tables = static_cast<const HostHookTable *>(dlsym(handle, "attnc_test_tables"));
  if (!tables) {
    error = "attnc_test_tables not found";
    return false;
  }
  return true;
}

HostHooks::~HostHooks() {
  if (handle)
    dlclose(handle);
  if (!dir.empty()) {
    std::remove((dir + "/hooks.cpp").c_str());
    std::remove((dir + "/hooks.so").c_str());
    std::remove((dir + "/log.txt").c_str());
    rmdir(dir.c_str());
  }
}

void *compileHostSymbol(const std::string &source, const std::string &symbol, std::string &error) {
  char pattern[] = "/tmp/attnc-host-XXXXXX";
  if (!mkdtemp(pattern)) {
    error = "mkdtemp failed";
    return nullptr;
  }
  std::string dir = pattern, cpp = dir + "/src.cpp", so = dir + "/src.so", log = dir + "/log.txt";
  std::ofstream(cpp) << source;
  std::string cmd = std::string(ATTNC_HOST_CXX) + " -std=c++17 -O1 -w -shared -fPIC -I" +
                    ATTNC_ABI_INCLUDE_DIR + " " + cpp + " -o " + so + " > " + log + " 2>&1";
  bool compiled = std::system(cmd.c_str()) == 0;
  if (!compiled)
    error = "host compile failed: " + cmd + "\n" + readFile(log);
  void *handle = compiled ? dlopen(so.c_str(), RTLD_NOW | RTLD_LOCAL) : nullptr;
  if (compiled && !handle)
    error = dlerror();
  std::remove(cpp.c_str());
  std::remove(so.c_str());
  std::remove(log.c_str());
  rmdir(dir.c_str());
  if (!handle)
    return nullptr;
  void *sym = dlsym(handle, symbol.c_str());
  if (!sym)
    error = symbol + " not found";
  return sym;
}

AttncArgs makeArgs(const compiler::GeneratedHooks &hooks, int batch, int heads, int kvHeads,
                   int qLen, int kvLen) {
  AttncArgs a;
  std::memset(&a, 0, sizeof(a));
  a.batch = batch;
  a.heads = heads;
  a.kv_heads = kvHeads;
  a.q_len = qLen;
  a.kv_len = kvLen;
  a.head_dim = 128;
  a.scale = 1.0f / std::sqrt(128.0f);
  for (const compiler::ParamSlot &p : hooks.params) {
    if (!p.hasDefault)
      continue;
    if (p.type == dsl::Type::Float)
      a.fparam[p.slot] = static_cast<float>(p.defaultValue.f);
    else if (p.type == dsl::Type::Bool)
      a.iparam[p.slot] = p.defaultValue.b ? 1 : 0;
    else
      a.iparam[p.slot] = static_cast<int>(p.defaultValue.i);
  }
  return a;
}

/// Evaluates an input dim (shape built-ins, consts, literals, + - * /).
static int64_t evalDim(const dsl::AttentionDecl &attention, const dsl::Expr &e,
                       const AttncArgs &a) {
  switch (e.kind) {
  case dsl::ExprKind::IntLiteral:
    return e.intValue;
  case dsl::ExprKind::Name:
    if (e.ref.kind == dsl::SymbolRef::Const)
      return attention.consts[e.ref.index].folded.i;
    if (e.ref.kind == dsl::SymbolRef::Builtin)
      switch (static_cast<dsl::Builtin>(e.ref.index)) {
      case dsl::Builtin::NumBatch:
        return a.batch;
      case dsl::Builtin::NumHeads:
        return a.heads;
      case dsl::Builtin::NumKvHeads:
        return a.kv_heads;
      case dsl::Builtin::QLen:
        return a.q_len;
      case dsl::Builtin::KvLen:
        return a.kv_len;
      case dsl::Builtin::HeadDim:
        return a.head_dim;
      default:
        return 1;
      }
    return 1;
  case dsl::ExprKind::Binary: {
    int64_t x = evalDim(attention, *e.operands[0], a), y = evalDim(attention, *e.operands[1], a);
    switch (e.binaryOp) {
    case dsl::BinaryOp::Add:
      return x + y;
    case dsl::BinaryOp::Sub:
      return x - y;
    case dsl::BinaryOp::Mul:
      return x * y;
    case dsl::BinaryOp::Div:
      return y ? x / y : 0;
    default:
      return 1;
    }
  }
  default:
    return 1;
  }
}

void HostInputs::bind(const dsl::AttentionDecl &attention, const compiler::GeneratedHooks &hooks,
                      AttncArgs &args, uint64_t seed, int summaryBlock, int segments) {
  std::mt19937_64 rng(seed);
  storage.assign(attention.inputs.size(), {});
  summaries.assign(attention.inputs.size(), {});
  args.summary_block = summaryBlock;
  for (size_t slot = 0; slot < attention.inputs.size(); ++slot) {
    const dsl::InputDecl &in = attention.inputs[slot];
    AttncTensor &t = args.input[slot];
    t.rank = static_cast<int>(in.dims.size());
    t.dtype = static_cast<int>(in.elementType);
    long long count = 1;
    for (int n = 0; n < t.rank; ++n) {
      t.dim[n] = static_cast<int>(std::max<int64_t>(1, evalDim(attention, *in.dims[n], args)));
      count *= t.dim[n];
    }
    if (count > (1 << 22)) {
      // Too large for a test (an additive bias over q x k): bind a tensor with every dim 1.
      // Reads clamp their indices, so they stay in bounds; the classifier never reads
      // non-summarized inputs and masks of the examples do not read such tensors.
      count = 1;
      for (int n = 0; n < t.rank; ++n)
        t.dim[n] = 1;
    }
    for (int n = t.rank - 1; n >= 0; --n)
      t.stride[n] = n == t.rank - 1 ? 1 : t.stride[n + 1] * t.dim[n + 1];
    int last = t.dim[t.rank - 1];
    long long outer = count / last;
    size_t elem =
        in.elementType == dsl::ElementType::I64                                                 ? 8
        : in.elementType == dsl::ElementType::U8                                                ? 1
        : (in.elementType == dsl::ElementType::F16 || in.elementType == dsl::ElementType::BF16) ? 2
                                                                                                : 4;
    storage[slot].assign(count * elem, 0);
    unsigned char *data = storage[slot].data();
    std::vector<int32_t> values(count);
    for (long long o = 0; o < outer; ++o) {
      // Sorted document ids: segments of random length (like packed documents).
      int32_t doc = static_cast<int32_t>(rng() % 3);
      for (int i = 0; i < last; ++i) {
        if (rng() % std::max(2, last / std::max(1, segments)) == 0)
          doc += 1 + static_cast<int32_t>(rng() % 2);
        values[o * last + i] = doc;
      }
    }
    for (long long i = 0; i < count; ++i) {
      switch (in.elementType) {
      case dsl::ElementType::I32:
        std::memcpy(data + 4 * i, &values[i], 4);
        break;
      case dsl::ElementType::I64: {
        int64_t v = values[i] + (static_cast<int64_t>(rng() % 3) << 32); // high bits dropped
        std::memcpy(data + 8 * i, &v, 8);
        break;
      }
      case dsl::ElementType::U8:
        data[i] = static_cast<unsigned char>(rng() % 2 ? rng() % 256 : 0);
        break;
      case dsl::ElementType::F32: {
        float f = static_cast<float>(static_cast<int>(rng() % 2001) - 1000) / 250.0f;
        std::memcpy(data + 4 * i, &f, 4);
        break;
      }
      case dsl::ElementType::F16:
      case dsl::ElementType::BF16: {
        // Small exact values (k / 8) encoded directly.
        float f = static_cast<float>(static_cast<int>(rng() % 65) - 32) / 8.0f;
        uint32_t bits;
        std::memcpy(&bits, &f, 4);
        uint16_t h;
        if (in.elementType == dsl::ElementType::BF16)
          h = static_cast<uint16_t>(bits >> 16);
        else {
          // f32 -> f16 for these exactly representable values.
          uint32_t sign = (bits >> 16) & 0x8000u;
          int exp = static_cast<int>((bits >> 23) & 0xff) - 127 + 15;
          uint32_t man = (bits >> 13) & 0x3ff;
          h = f == 0 ? static_cast<uint16_t>(sign)
                     : static_cast<uint16_t>(sign | (static_cast<uint32_t>(exp) << 10) | man);
        }
        std::memcpy(data + 2 * i, &h, 2);
        break;
      }
      }
    }
    t.data = data;
    // The generic summary pre-pass: [outer][block][min, max] of the i32 view.
    if (slot < hooks.inputs.size() && hooks.inputs[slot].summarized) {
      int nblocks = (last + summaryBlock - 1) / summaryBlock;
      std::vector<int> &s = summaries[slot];
      s.assign(static_cast<size_t>(outer) * nblocks * 2, 0);
      for (long long o = 0; o < outer; ++o)
        for (int blk = 0; blk < nblocks; ++blk) {
          int mn = INT32_MAX, mx = INT32_MIN;
          for (int i = blk * summaryBlock; i < std::min(last, (blk + 1) * summaryBlock); ++i) {
            long long idx = o * last + i;
            int v = in.elementType == dsl::ElementType::U8 ? (data[idx] != 0)
                    : in.elementType == dsl::ElementType::I64
                        ? static_cast<int32_t>(
                              static_cast<uint32_t>(reinterpret_cast<int64_t *>(data)[idx]))
                        : values[idx];
            mn = std::min(mn, v);
            mx = std::max(mx, v);
          }
          s[(o * nblocks + blk) * 2] = mn;
          s[(o * nblocks + blk) * 2 + 1] = mx;
        }
      args.summary[slot] = s.data();
    }
  }
}

} // namespace attnc::test
