//===- Random.cpp - Seeded, platform-independent test inputs ------------===//
#include "attnc/reference/Random.h"

#include <algorithm>

namespace attnc::reference {

uint64_t SplitMix64::next() {
  uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

uint64_t SplitMix64::below(uint64_t bound) {
  if (bound <= 1)
    return 0;
  // Reject the top partial range so every residue is equally likely.
  uint64_t limit = UINT64_MAX - UINT64_MAX % bound;
  uint64_t x;
  do
    x = next();
  while (x >= limit);
  return x % bound;
}

double SplitMix64::uniformSigned() {
  int64_t k = static_cast<int64_t>(next() >> 40); // 24 bits
  return static_cast<double>(2 * k + 1 - (int64_t{1} << 24)) / static_cast<double>(1 << 24);
}

double SplitMix64::normalish() {
  // Each term is exact; the sum of three 25-bit odd multiples of 2^-24 is exact in double.
  double a = uniformSigned();
  double b = uniformSigned();
  double c = uniformSigned();
  return a + b + c;
}

uint64_t fnv1a64(std::string_view text) {
  uint64_t hash = 0xcbf29ce484222325ull;
  for (unsigned char ch : text) {
    hash ^= ch;
    hash *= 0x100000001b3ull;
  }
  return hash;
}

uint64_t mixSeed(uint64_t seed, uint64_t stream) {
  SplitMix64 a(seed ^ 0x6a09e667f3bcc909ull);
  uint64_t x = a.next() ^ stream;
  SplitMix64 b(x);
  return b.next();
}

void fillFloats(OwnedTensor &tensor, SplitMix64 &rng, Distribution dist) {
  int64_t n = tensor.numElements();
  for (int64_t i = 0; i < n; ++i) {
    double value = dist == Distribution::Normal ? rng.normalish() : rng.uniformSigned();
    if (isFloatDType(tensor.dtype))
      tensor.storeDouble(i, value);
    else
      tensor.storeInt(i, value < 0 ? -1 : 1);
  }
}

std::vector<int64_t> segmentIds(int64_t length, SplitMix64 &rng) {
  std::vector<int64_t> ids(static_cast<size_t>(std::max<int64_t>(length, 0)), 0);
  if (length <= 1)
    return ids;
  int64_t segments = std::min<int64_t>(16, std::max<int64_t>(1, length / 16));
  std::vector<int64_t> cuts; // distinct positions in [1, length - 1] where a segment starts
  while (static_cast<int64_t>(cuts.size()) < segments - 1) {
    int64_t cut = 1 + static_cast<int64_t>(rng.below(static_cast<uint64_t>(length - 1)));
    if (std::find(cuts.begin(), cuts.end(), cut) == cuts.end())
      cuts.push_back(cut);
  }
  std::sort(cuts.begin(), cuts.end());
  int64_t id = 0;
  size_t next = 0;
  for (int64_t t = 0; t < length; ++t) {
    if (next < cuts.size() && cuts[next] == t) {
      ++id;
      ++next;
    }
    ids[t] = id;
  }
  return ids;
}

namespace {

/// A view of `t`, or of one zero element with t's dims and zero strides when t has no
/// storage.
TensorView viewOrZero(const OwnedTensor &t) {
  static const uint64_t zero = 0;
  if (!t.bytes.empty())
    return t.view();
  TensorView v;
  v.dtype = t.dtype;
  v.data = &zero;
  v.dims = t.dims;
  v.strides.assign(t.dims.size(), 0);
  return v;
}

} // namespace

ReferenceProblem ProblemInputs::problem() const {
  ReferenceProblem p;
  p.shape = shape;
  p.q = q.bytes.empty() ? viewOrZero(q)
                        : makeQkvView(q.dtype, q.bytes.data(), shape.batch, shape.heads, shape.qLen,
                                      shape.headDim, QkvLayout::BHSD);
  p.k = k.bytes.empty() ? viewOrZero(k)
                        : makeQkvView(k.dtype, k.bytes.data(), shape.batch, shape.kvHeads,
                                      shape.kvLen, shape.headDim, QkvLayout::BHSD);
  p.v = v.bytes.empty() ? viewOrZero(v)
                        : makeQkvView(v.dtype, v.bytes.data(), shape.batch, shape.kvHeads,
                                      shape.kvLen, shape.headDim, QkvLayout::BHSD);
  for (const auto &input : inputs)
    p.inputs.push_back({input.name, viewOrZero(input.tensor)});
  return p;
}

namespace {

DType dtypeOf(dsl::ElementType t) {
  switch (t) {
  case dsl::ElementType::I32:
    return DType::I32;
  case dsl::ElementType::I64:
    return DType::I64;
  case dsl::ElementType::F32:
    return DType::F32;
  case dsl::ElementType::F16:
    return DType::F16;
  case dsl::ElementType::BF16:
    return DType::BF16;
  case dsl::ElementType::U8:
    return DType::U8;
  }
  return DType::F32;
}

bool isTokenLength(const dsl::Expr &e) {
  return e.kind == dsl::ExprKind::Name && e.ref.kind == dsl::SymbolRef::Builtin &&
         (e.ref.index == static_cast<int>(dsl::Builtin::QLen) ||
          e.ref.index == static_cast<int>(dsl::Builtin::KvLen));
}

} // namespace

bool makeProblemInputs(const dsl::Program &program, const dsl::AttentionDecl &attention,
                       const ProblemShape &shape, uint64_t seed, ProblemInputs &inputs,
                       std::string &error, const InputOptions &options) {
  std::vector<std::vector<int64_t>> dims;
  if (!evaluateInputDims(program, attention, shape, dims, error))
    return false;
  // Sizes first, so that a huge shape is an error rather than an allocation.
  const uint64_t limit = options.maxBytes ? options.maxBytes : referenceMemoryLimit();
  uint64_t total = 0;
  auto fits = [&](const std::string &what, DType dtype, const std::vector<int64_t> &dims) {
    std::optional<int64_t> bytes = checkedByteSize(dtype, dims);
    if (!bytes) {
      error = what + " of shape " + dimsText(dims) + " (" + dtypeName(dtype) +
              ") is too large: its size in bytes does not fit in 64 bits";
      return false;
    }
    total =
        static_cast<uint64_t>(*bytes) > limit - std::min(total, limit) ? limit + 1 : total + *bytes;
    if (total > limit) {
      error = what + " of shape " + dimsText(dims) + " (" + dtypeName(dtype) + ", " +
              bytesText(static_cast<uint64_t>(*bytes)) +
              ") takes the generated inputs past the reference's memory limit of " +
              bytesText(limit) + " (ATTNC_REFERENCE_MEMORY_LIMIT sets it)";
      return false;
    }
    return true;
  };
  const std::vector<int64_t> qDims = {shape.batch, shape.heads, shape.qLen, shape.headDim};
  const std::vector<int64_t> kvDims = {shape.batch, shape.kvHeads, shape.kvLen, shape.headDim};
  if (options.qkv && (!fits("Q", options.qkvType, qDims) || !fits("K", options.qkvType, kvDims) ||
                      !fits("V", options.qkvType, kvDims)))
    return false;
  for (size_t i = 0; i < attention.inputs.size(); ++i) {
    const std::string &name = attention.inputs[i].name;
    // Inputs left without storage cost nothing (their sizes must still not overflow).
    const bool stored = !options.onlyInputs ||
                        std::find(options.onlyInputs->begin(), options.onlyInputs->end(), name) !=
                            options.onlyInputs->end();
    if (!stored && !checkedByteSize(dtypeOf(attention.inputs[i].elementType), dims[i])) {
      error = "input '" + name + "' of shape " + dimsText(dims[i]) +
              " is too large: its size in bytes does not fit in 64 bits";
      return false;
    }
    if (stored && !fits("input '" + name + "'", dtypeOf(attention.inputs[i].elementType), dims[i]))
      return false;
  }

  inputs = ProblemInputs();
  inputs.shape = shape;
  if (options.qkv) {
    inputs.q = OwnedTensor(options.qkvType, qDims);
    inputs.k = OwnedTensor(options.qkvType, kvDims);
    inputs.v = OwnedTensor(options.qkvType, kvDims);
    for (auto [tensor, name] : {std::pair{&inputs.q, "Q"}, {&inputs.k, "K"}, {&inputs.v, "V"}}) {
      SplitMix64 rng(mixSeed(seed, fnv1a64(name)));
      fillFloats(*tensor, rng, options.qkvDistribution);
    }
  } else {
    for (auto [tensor, dims] :
         {std::pair{&inputs.q, &qDims}, {&inputs.k, &kvDims}, {&inputs.v, &kvDims}}) {
      tensor->dtype = options.qkvType;
      tensor->dims = *dims;
    }
  }

  for (size_t i = 0; i < attention.inputs.size(); ++i) {
    const dsl::InputDecl &decl = attention.inputs[i];
    if (options.onlyInputs && std::find(options.onlyInputs->begin(), options.onlyInputs->end(),
                                        decl.name) == options.onlyInputs->end()) {
      ProblemInputs::Input empty{decl.name, OwnedTensor()};
      empty.tensor.dtype = dtypeOf(decl.elementType);
      empty.tensor.dims = dims[i];
      inputs.inputs.push_back(std::move(empty));
      continue;
    }
    ProblemInputs::Input input{decl.name, OwnedTensor(dtypeOf(decl.elementType), dims[i])};
    OwnedTensor &t = input.tensor;
    // "input:" keeps input streams apart from Q/K/V even for an input named Q.
    SplitMix64 rng(mixSeed(seed, fnv1a64("input:" + decl.name)));
    int tokenAxis = -1;
    for (size_t a = 0; a < decl.dims.size(); ++a)
      if (isTokenLength(*decl.dims[a]))
        tokenAxis = static_cast<int>(a);
    bool isInt =
        decl.elementType == dsl::ElementType::I32 || decl.elementType == dsl::ElementType::I64;
    if (isInt && tokenAxis >= 0) {
      // Document ids: monotone segments along the token axis, fresh per other index.
      std::vector<int64_t> strides = TensorView::contiguousStrides(t.dims);
      int64_t length = t.dims[tokenAxis];
      int64_t lines = t.numElements() / length;
      for (int64_t line = 0; line < lines; ++line) {
        // Offset of the line's first element: decompose `line` over the other axes.
        int64_t rest = line, base = 0;
        for (int a = static_cast<int>(t.dims.size()) - 1; a >= 0; --a) {
          if (a == tokenAxis)
            continue;
          base += (rest % t.dims[a]) * strides[a];
          rest /= t.dims[a];
        }
        std::vector<int64_t> ids = segmentIds(length, rng);
        for (int64_t pos = 0; pos < length; ++pos)
          t.storeInt(base + pos * strides[tokenAxis], ids[pos]);
      }
    } else if (isInt || decl.elementType == dsl::ElementType::U8) {
      for (int64_t e = 0; e < t.numElements(); ++e)
        t.storeInt(e, rng.coin() ? 1 : 0);
    } else {
      fillFloats(t, rng, Distribution::Uniform);
    }
    inputs.inputs.push_back(std::move(input));
  }
  return true;
}

} // namespace attnc::reference
