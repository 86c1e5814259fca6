//===- ToolSupport.h - Helpers shared by attnc subcommands -------*- C++ -*-===//
#ifndef ATTNC_TOOLS_TOOLSUPPORT_H
#define ATTNC_TOOLS_TOOLSUPPORT_H

#include "attnc/dsl/Frontend.h"
#include "attnc/reference/Random.h"
#include "attnc/reference/Reference.h"

#include <CLI/CLI.hpp>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

namespace attnc::tools {

/// A parsed and checked program with the attention selected on the command line.
struct ProgramBundle {
  std::unique_ptr<dsl::SourceFile> source;
  std::unique_ptr<dsl::Program> program;
  const dsl::AttentionDecl *attention = nullptr;
  std::vector<dsl::ConstOverride> overrides;
};

/// Reads, parses and checks `path` with `-D name=value` overrides, and selects
/// `attentionName` (empty: the only one). Prints diagnostics to stderr (colour on a
/// terminal) and returns false on any error.
bool loadProgram(const std::string &path, const std::vector<std::string> &defines,
                 const std::string &attentionName, ProgramBundle &bundle);

/// Parses `-P name=value` strings against the attention's params. Prints an error and
/// returns false on unknown names or malformed values (parseParamText).
bool parseParamBindings(const dsl::AttentionDecl &attention,
                        const std::vector<std::string> &assignments,
                        std::vector<reference::ParamBinding> &params);

/// Parses the text of one param value, strictly, so that no value changes silently:
/// int: decimal digits with an optional '-', within 32 bits; float: a decimal number
/// (`2`, `0.5`, `-1e-3`) or `inf`/`-inf`, never NaN, at most the float32 range in
/// magnitude (the kernels compute in float32); bool: `true`, `false`, `1`, `0`. No spaces,
/// signs '+', hex or trailing text. False with `error` otherwise.
bool parseParamText(dsl::Type type, const std::string &text, dsl::ConstValue &value,
                    std::string &error);

/// `--dtype` of every command: runtime::parseDataType's spellings, rewritten to the
/// canonical name (bf16, fp16). Use with Option::transform.
CLI::Validator dtypeValidator();
/// `--head-dim` of every command: runtime::checkHeadDim's values and message.
CLI::Validator headDimValidator();

/// True when the kept pairs may differ between (b, h): the mask reads b, h, kv_h or an
/// input tensor (directly or through lets), or the attention routes blocks.
bool variesPerBatchOrHead(const dsl::AttentionDecl &attention);

/// Counts kept (b, h, q, k) pairs with the reference's structural mask, evaluating one
/// (b, h) when the pattern is the same for all. Returns false when more than `limit`
/// pairs would have to be evaluated (counting would take too long).
bool countKeptPairs(const dsl::Program &program, const dsl::AttentionDecl &attention,
                    const reference::ReferenceProblem &problem, uint64_t &kept, std::string &error,
                    double limit = 1.5e8);

/// One `--input NAME=FILE|VALUE`: a .npy file or a constant fill for a declared input.
struct InputBinding {
  std::string name;
  size_t index = 0; ///< in attention.inputs
  bool constant = false;
  std::string text; ///< the file path, or the constant as written
  int64_t intValue = 0;
  double floatValue = 0;
};

/// Parses `--input NAME=FILE|VALUE` strings against the attention's inputs. VALUE is a
/// constant when it is a number (or true/false for u8) and a .npy path otherwise. Unknown
/// and repeated names, and constants the input's element type cannot hold, are errors
/// (printed; returns false: a usage error).
bool parseInputBindings(const dsl::AttentionDecl &attention,
                        const std::vector<std::string> &assignments,
                        std::vector<InputBinding> &bindings);

/// Replaces the generated tensors of `inputs` by the bound files and constants. A file
/// must hold the input's declared dims evaluated at `inputs.shape`, in a dtype that fits
/// its element type (reference/Npy.h). Prints the error naming the input and returns
/// false on a bad file.
bool applyInputBindings(const ProgramBundle &bundle, const std::vector<InputBinding> &bindings,
                        reference::ProblemInputs &inputs);

/// Where the data of input `name` comes from: "doc.npy", "constant 0.5" or
/// "seeded random (seed 1)".
std::string inputSource(const std::vector<InputBinding> &bindings, const std::string &name,
                        uint64_t seed);

bool isTerminal(FILE *stream);

/// Device allocations freed on destruction; the first failure is remembered.
class DeviceBuffers {
public:
  DeviceBuffers() = default;
  DeviceBuffers(const DeviceBuffers &) = delete;
  DeviceBuffers &operator=(const DeviceBuffers &) = delete;
  ~DeviceBuffers();
  void *allocate(size_t bytes);
  void *upload(const void *host, size_t bytes);
  bool ok() const { return error_.empty(); }
  const std::string &error() const { return error_; }

private:
  std::vector<void *> pointers_;
  std::string error_;
};

} // namespace attnc::tools

#endif // ATTNC_TOOLS_TOOLSUPPORT_H
