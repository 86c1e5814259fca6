//===- Prepared.h - A bound reference problem ------------------*- C++ -*-===//
//
// Internal to the reference: the state shared by the forward (Reference.cpp) and the
// backward (Backward.cpp): a bound problem with float64 copies of Q, K, V and the routing
// selection, the memory budget, and the worker pool.
//
//===----------------------------------------------------------------------===//
#ifndef ATTNC_REFERENCE_LIB_PREPARED_H
#define ATTNC_REFERENCE_LIB_PREPARED_H

#include "Interpreter.h"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace attnc::reference::detail {

/// The bytes one reference run allocates, counted against referenceMemoryLimit() before
/// each allocation, so that a huge shape is an error and never an allocation.
struct MemoryBudget {
  uint64_t limit = referenceMemoryLimit();
  uint64_t used = 0;

  /// Reserves the product of `factors` bytes for `what`; false (and `error`) past the limit.
  bool reserve(std::initializer_list<int64_t> factors, const std::string &what,
               std::string &error) {
    std::optional<int64_t> bytes = 1;
    for (int64_t f : factors)
      if (bytes)
        bytes = checkedMul(*bytes, f);
    if (bytes && static_cast<uint64_t>(*bytes) <= limit - std::min(used, limit)) {
      used += static_cast<uint64_t>(*bytes);
      return true;
    }
    error =
        "the reference needs " +
        (bytes ? bytesText(static_cast<uint64_t>(*bytes)) : std::string("more than 2^63 bytes")) +
        " for " + what + ", past its memory limit of " + bytesText(limit) +
        (used ? " (" + bytesText(used) + " already in use)" : std::string()) +
        "; ATTNC_REFERENCE_MEMORY_LIMIT sets the limit";
    return false;
  }
};

/// A bound problem, ready to execute.
struct Prepared {
  MemoryBudget memory;
  Binding binding;
  std::vector<double> q, k, v; // contiguous [B, H|Hkv, S, D]
  // Routing: selected[((b * H + h) * units + unit) * numBlocks + blk].
  bool routed = false;
  int units = 1;
  int unitSize = 1; // query tokens per unit (qLen for per = head)
  int numBlocks = 0;
  std::vector<int32_t> blockOfKey; // per key token
  std::vector<uint8_t> selected;

  const double *qRow(int b, int h, int t) const {
    const ProblemShape &s = binding.shape;
    return &q[((static_cast<size_t>(b) * s.heads + h) * s.qLen + t) * s.headDim];
  }
  const double *kRow(int b, int kvh, int t) const {
    const ProblemShape &s = binding.shape;
    return &k[((static_cast<size_t>(b) * s.kvHeads + kvh) * s.kvLen + t) * s.headDim];
  }
  const double *vRow(int b, int kvh, int t) const {
    const ProblemShape &s = binding.shape;
    return &v[((static_cast<size_t>(b) * s.kvHeads + kvh) * s.kvLen + t) * s.headDim];
  }
  int kvHeadOf(int h) const { return h / (binding.shape.heads / binding.shape.kvHeads); }
  bool isRouted(int b, int h, int t, int key) const {
    if (!routed)
      return true;
    size_t unit = static_cast<size_t>(t / unitSize);
    return selected[((static_cast<size_t>(b) * binding.shape.heads + h) * units + unit) *
                        numBlocks +
                    blockOfKey[key]] != 0;
  }
};

inline int threadCount(int requested, size_t work) {
  int n = requested > 0 ? requested : static_cast<int>(std::thread::hardware_concurrency());
  n = std::max(1, std::min(n, 64));
  return static_cast<int>(std::min<size_t>(static_cast<size_t>(n), std::max<size_t>(work, 1)));
}

/// Runs fn(item, evaluator) for item in [0, count) on worker threads, one evaluator each.
template <typename Fn> void parallelFor(const Binding &binding, int threads, size_t count, Fn fn) {
  int n = threadCount(threads, count);
  std::atomic<size_t> next{0};
  auto worker = [&](int id) {
    Evaluator ev(binding);
    for (size_t item; (item = next.fetch_add(1)) < count;)
      fn(item, ev, id);
  };
  if (n == 1) {
    worker(0);
    return;
  }
  std::vector<std::thread> pool;
  for (int i = 0; i < n; ++i)
    pool.emplace_back(worker, i);
  for (auto &t : pool)
    t.join();
}

/// Binds `problem` to `attention`: validates shapes, params and inputs, converts Q, K and
/// V to float64 and computes the routing selection. `structural`: only the keep predicate
/// will be evaluated, so Q and K are converted only for routing and V never.
bool prepare(const dsl::Program &program, const dsl::AttentionDecl &attention,
             const ReferenceProblem &problem, Prepared &p, std::string &error,
             bool structural = false);

/// Sets the evaluator to (b, h, q, k) and returns routed && mask.
bool keeps(const Prepared &p, Evaluator &ev, int b, int h, int t, int key);

/// Checks that `t` is a 4-D float tensor of logical dims [batch, heads, seq, d].
bool checkQkv(const TensorView &t, const char *name, int batch, int heads, int seq, int d,
              std::string &error);

/// Contiguous float64 copy of a [B, H, S, D] view.
std::vector<double> toDouble(const TensorView &t);

} // namespace attnc::reference::detail

#endif // ATTNC_REFERENCE_LIB_PREPARED_H
