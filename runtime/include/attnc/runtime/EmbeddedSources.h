//===- EmbeddedSources.h - Kernel sources compiled into the library -*- C++ -*-===//
//
// The kernel templates, the summary and routing kernels (runtime/kernels/*.cuh) and the hook
// contract (KernelArgs.h) are embedded into libattnc at build time, so JIT compilation needs no
// source tree.
//
//===----------------------------------------------------------------------===//
#ifndef ATTNC_RUNTIME_EMBEDDEDSOURCES_H
#define ATTNC_RUNTIME_EMBEDDEDSOURCES_H

#include <string>
#include <vector>

namespace attnc::runtime {

struct EmbeddedFile {
  const char *name; ///< file name, e.g. "KernelArgs.h"
  const char *path; ///< path relative to the source tree
  const char *text;
};

/// Every embedded file.
const std::vector<EmbeddedFile> &embeddedFiles();

/// The text of the embedded file called `name` (file name or relative path); null when
/// there is none.
const char *embeddedFile(const std::string &name);

} // namespace attnc::runtime

#endif // ATTNC_RUNTIME_EMBEDDEDSOURCES_H
