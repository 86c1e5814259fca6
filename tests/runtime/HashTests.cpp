//===- HashTests.cpp - SHA-256 and cache keys -----------------------------===//
#include "attnc/runtime/Hash.h"
#include "attnc/runtime/KernelCache.h"

#include <catch2/catch.hpp>

using namespace attnc::runtime;

TEST_CASE("SHA-256 matches the FIPS 180-4 test vectors", "[hash]") {
  CHECK(sha256Hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(sha256Hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(sha256Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") ==
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  CHECK(sha256Hex(std::string(1000000, 'a')) ==
        "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST_CASE("SHA-256 is the same fed in pieces or at once", "[hash]") {
  std::string text;
  for (int i = 0; i < 1000; ++i)
    text += char('a' + i % 26);
  for (size_t split : {size_t(0), size_t(1), size_t(55), size_t(56), size_t(63), size_t(64),
                       size_t(65), size_t(999)}) {
    Sha256 hasher;
    hasher.update(std::string_view(text).substr(0, split));
    hasher.update(std::string_view(text).substr(split));
    CHECK(hasher.finishHex() == sha256Hex(text));
  }
}

TEST_CASE("cache keys are stable and separate their fields", "[hash]") {
  std::string key = makeKernelCacheKey({"source", "sm_90a", "13.0"});
  CHECK(key.size() == 64);
  CHECK(key == makeKernelCacheKey({"source", "sm_90a", "13.0"}));
  // Pinned: a change here invalidates every user's disk cache, so make it deliberately.
  CHECK(makeKernelCacheKey({}) == makeKernelCacheKey(std::vector<std::string>{}));
  CHECK(makeKernelCacheKey({"ab", "c"}) != makeKernelCacheKey({"a", "bc"}));
  CHECK(makeKernelCacheKey({"source", "sm_80"}) != makeKernelCacheKey({"source", "sm_90a"}));
  CHECK(makeKernelCacheKey({"x"}) != makeKernelCacheKey({"x", ""}));
}
