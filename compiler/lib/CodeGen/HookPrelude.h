//===- HookPrelude.h - Helpers the generated hooks call ----------*- C++ -*-===//
//
// The generated device functions call these helpers (by name, through
// emitc.call_opaque). The text is pasted ahead of the hooks; it is valid both as CUDA
// (NVRTC) and as host C++, so the tests compile and run the very code the GPU runs.
// It needs AttncArgs (abi/include/attnc/abi/KernelArgs.h) to be defined first.
//
//===----------------------------------------------------------------------===//
#ifndef ATTNC_COMPILER_CODEGEN_HOOKPRELUDE_H
#define ATTNC_COMPILER_CODEGEN_HOOKPRELUDE_H

namespace attnc::compiler {
/// The helper library text (ATTNC_HD functions, interval domain, loaders).
const char *hookPrelude();
/// The helpers only the backward's hooks call (hook_prelude_backward.cuh), pasted after
/// the prelude when CodegenOptions::backward is set, so the forward's source is unchanged.
const char *hookBackwardPrelude();
} // namespace attnc::compiler

#endif
