//===- DqAccumTests.cpp - The dQ accumulator layouts (attention/dq_accum.cuh) ===//
//
// The fragment order is what the sm90 key-tile kernel stages and bulk-adds and what the dQ
// store reads back: a wrong offset would send a gradient to another row without failing to
// compile, so the mapping is checked here, on the host, against the wgmma accumulator layout.
//
//===----------------------------------------------------------------------===//
#include "attention/dq_accum.cuh"

#include <catch2/catch.hpp>

#include <vector>

using attnc::backward::FragmentDqAccum;
using attnc::backward::RowMajorDqAccum;

namespace {

/// Every (q, d) of a q_len x D head maps into [0, rows(q_len) * D), no two to the same float.
template <class Layout, int kHeadDim> void checkPermutation(int qLen) {
  const long long size = Layout::rows(qLen) * kHeadDim;
  REQUIRE(Layout::rows(qLen) >= qLen);
  std::vector<int> hits(size_t(size), 0);
  for (int q = 0; q < qLen; ++q)
    for (int d = 0; d < kHeadDim; ++d) {
      const long long at = Layout::offset(q, d);
      REQUIRE(at >= 0);
      REQUIRE(at < size);
      ++hits[size_t(at)];
    }
  for (int hit : hits)
    REQUIRE(hit <= 1);
}

} // namespace

TEST_CASE("the dQ accumulator layouts are permutations of the head's floats", "[backward]") {
  checkPermutation<RowMajorDqAccum<64>, 64>(77);
  checkPermutation<FragmentDqAccum<64>, 64>(77);    // a partial last tile
  checkPermutation<FragmentDqAccum<128>, 128>(128); // whole tiles, two parts
  checkPermutation<FragmentDqAccum<128>, 128>(1031);
  CHECK(FragmentDqAccum<128>::rows(1031) == 1088);
  // The sm90 kernel's 80-query tiles (kQueryTile).
  checkPermutation<FragmentDqAccum<128, 80>, 128>(77);
  checkPermutation<FragmentDqAccum<128, 80>, 128>(1031);
  CHECK(FragmentDqAccum<128, 80>::rows(1031) == 1040);
  CHECK(RowMajorDqAccum<128>::rows(1031) == 1031);
}

namespace {

/// wgmma m64nNk16 accumulator (N = kRows): thread 32 w + 4 g + t, register 4 c8 + 2 half + j
/// holds row 16 w + 8 half + g, column 8 c8 + 2 t + j. The kernel stores registers 4 c8 ..
/// 4 c8 + 3 at stagingOffset(thread, c8); a part holds dQ^T (rows: head-dim columns, columns:
/// queries).
template <int kRows> void checkStaging() {
  using Layout = FragmentDqAccum<128, kRows>;
  for (int thread = 0; thread < 128; ++thread)
    for (int reg = 0; reg < kRows / 2; ++reg) {
      const int w = thread / 32, g = (thread % 32) / 4, t = thread % 4;
      const int c8 = reg / 4, half = (reg / 2) % 2, j = reg % 2;
      const int row = 16 * w + 8 * half + g, col = 8 * c8 + 2 * t + j;
      REQUIRE(Layout::fragmentOffset(row, col) == Layout::stagingOffset(thread, c8) + reg % 4);
      // Part p holds head-dim columns 64 p .. 64 p + 63; queries of tile q / kRows.
      REQUIRE(Layout::offset(kRows * 3 + col, 64 + row) ==
              3 * kRows * 128 + Layout::kPartFloats + Layout::fragmentOffset(row, col));
    }
  // 16-byte stores: consecutive threads at consecutive 16-byte slots.
  CHECK(Layout::stagingOffset(1, 0) - Layout::stagingOffset(0, 0) == 4);
}

/// attention/dq_store.cuh reads a tile's floats 4 k .. 4 k + 3 as chunk k and puts float i at
/// chunkElement(k, i): that must be the (q, d) whose offset it is, for every float.
template <int kHeadDim, int kRows> void checkChunks() {
  using Layout = FragmentDqAccum<kHeadDim, kRows>;
  for (int k = 0; k < kRows * kHeadDim / 4; ++k)
    for (int i = 0; i < 4; ++i) {
      int q = -1, d = -1;
      Layout::chunkElement(k, i, q, d);
      REQUIRE(q >= 0);
      REQUIRE(q < kRows);
      REQUIRE(d >= 0);
      REQUIRE(d < kHeadDim);
      REQUIRE(Layout::offset(q, d) == 4 * k + i);
    }
}

} // namespace

TEST_CASE("the fragment order is where the kernel's staging stores put each register",
          "[backward]") {
  checkStaging<64>();
  checkStaging<80>();
}

TEST_CASE("the dQ store's chunk order inverts the fragment order", "[backward]") {
  checkChunks<64, 64>();
  checkChunks<128, 64>();
  checkChunks<128, 80>();
}
