//===- Hash.h - SHA-256 for cache keys and entry checksums -------*- C++ -*-===//
//
// A self-contained SHA-256 (FIPS 180-4): kernel cache keys must not collide across
// sources, options and versions, and entry checksums must catch torn or corrupted files.
//
//===----------------------------------------------------------------------===//
#ifndef ATTNC_RUNTIME_HASH_H
#define ATTNC_RUNTIME_HASH_H

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace attnc::runtime {

class Sha256 {
public:
  Sha256();
  void update(const void *data, size_t size);
  void update(std::string_view text) { update(text.data(), text.size()); }
  /// Adds a length-prefixed field, so ("ab","c") and ("a","bc") hash differently.
  void updateField(std::string_view field);
  /// The 32-byte digest; the object must not be updated afterwards.
  std::array<uint8_t, 32> finish();
  /// The digest as 64 lowercase hex digits.
  std::string finishHex();

private:
  void compress(const uint8_t *block);
  uint32_t state_[8];
  uint8_t buffer_[64];
  size_t bufferSize_ = 0;
  uint64_t totalBytes_ = 0;
};

/// SHA-256 of `data` as 64 lowercase hex digits.
std::string sha256Hex(std::string_view data);

} // namespace attnc::runtime

#endif // ATTNC_RUNTIME_HASH_H
