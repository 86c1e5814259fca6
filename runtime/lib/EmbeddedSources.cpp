//===- EmbeddedSources.cpp - Lookup of embedded kernel sources ------------===//
#include "attnc/runtime/EmbeddedSources.h"

namespace attnc::runtime {

const char *embeddedFile(const std::string &name) {
  for (const auto &file : embeddedFiles())
    if (name == file.name || name == file.path)
      return file.text;
  return nullptr;
}

} // namespace attnc::runtime
