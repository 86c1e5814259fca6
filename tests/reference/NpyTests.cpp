//===- NpyTests.cpp - The .npy reader -------------------------------------===//
//
// Files numpy wrote (tests/reference/inputs, made with numpy.save and
// numpy.lib.format.write_array) pin the reader to the real format; hand-built byte strings
// cover every malformed or hostile header.
//
//===----------------------------------------------------------------------===//
#include "attnc/reference/Npy.h"

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <sys/stat.h>
#include <unistd.h>

using namespace attnc::reference;

namespace {

const std::string kInputs = ATTNC_REFERENCE_TEST_INPUTS;

/// A .npy file: preamble of `major`.0, the given header dict (padded as numpy pads it),
/// then `data`.
std::string npyBytes(const std::string &dict, const std::string &data, int major = 1) {
  std::string header = dict;
  size_t preamble = major == 1 ? 10 : 12;
  while ((preamble + header.size() + 1) % 64)
    header += ' ';
  header += '\n';
  std::string out = "\x93NUMPY";
  out += char(major);
  out += char(0);
  size_t n = header.size();
  out += char(n & 0xff);
  out += char((n >> 8) & 0xff);
  if (major != 1) {
    out += char((n >> 16) & 0xff);
    out += char((n >> 24) & 0xff);
  }
  return out + header + data;
}

template <typename T> std::string raw(std::initializer_list<T> values) {
  std::string s;
  for (T v : values)
    s.append(reinterpret_cast<const char *>(&v), sizeof(T));
  return s;
}

/// A file in a fresh temporary directory, removed at the end of the test.
class TempDir {
public:
  TempDir() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "attnc-npy-test-XXXXXX").string();
    REQUIRE(mkdtemp(pattern.data()) != nullptr);
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  std::string write(const std::string &name, const std::string &bytes) const {
    std::string p = path_ + "/" + name;
    std::ofstream(p, std::ios::binary) << bytes;
    return p;
  }
  const std::string &path() const { return path_; }

private:
  std::string path_;
};

bool readBytes(const std::string &bytes, DType dtype, const std::vector<int64_t> &shape,
               OwnedTensor &out, std::string &error) {
  TempDir dir;
  return readNpyFile(dir.write("a.npy", bytes), dtype, shape, out, error);
}

std::string readError(const std::string &bytes, DType dtype = DType::I32,
                      const std::vector<int64_t> &shape = {2}) {
  OwnedTensor out;
  std::string error;
  CHECK_FALSE(readBytes(bytes, dtype, shape, out, error));
  return error;
}

const std::string kI32Pair =
    npyBytes("{'descr': '<i4', 'fortran_order': False, 'shape': (2,), }", raw<int32_t>({7, -9}));

} // namespace

TEST_CASE("npy: files written by numpy", "[reference][npy]") {
  OwnedTensor t;
  std::string error;
  SECTION("v1.0, C order, int32") {
    REQUIRE(readNpyFile(kInputs + "/i4_2x3_v1.npy", DType::I32, {2, 3}, t, error));
    CHECK(t.view().loadInt(0) == 1);
    CHECK(t.view().loadInt(1) == -2);
    CHECK(t.view().loadInt(3) == 2147483647);
    CHECK(t.view().loadInt(4) == -2147483648LL);
    // Widening to i64 is exact.
    REQUIRE(readNpyFile(kInputs + "/i4_2x3_v1.npy", DType::I64, {2, 3}, t, error));
    CHECK(t.view().loadInt(4) == -2147483648LL);
  }
  SECTION("v2.0, Fortran order, float32, reordered to row-major") {
    REQUIRE(readNpyFile(kInputs + "/f4_2x3_fortran_v2.npy", DType::F32, {2, 3}, t, error));
    std::vector<double> want = {0.5, 1.5, -2.0, 3.25, double(1e-3f), 7.0};
    for (int i = 0; i < 6; ++i)
      CHECK(t.loadDouble(i) == want[i]);
    // numpy has no bfloat16: float32 data rounds to nearest even.
    REQUIRE(readNpyFile(kInputs + "/f4_2x3_fortran_v2.npy", DType::BF16, {2, 3}, t, error));
    CHECK(t.loadDouble(3) == 3.25);
    CHECK(t.loadDouble(4) == bfloat16ToDouble(floatToBFloat16(1e-3f)));
  }
  SECTION("v3.0, bool into u8") {
    REQUIRE(readNpyFile(kInputs + "/bool_4_v3.npy", DType::U8, {4}, t, error));
    CHECK(t.view().loadInt(0) == 1);
    CHECK(t.view().loadInt(1) == 0);
    CHECK(t.view().loadInt(3) == 1);
  }
  SECTION("numpy's default int64 fills i32 when the values fit") {
    REQUIRE(readNpyFile(kInputs + "/i8_2x3_v1.npy", DType::I32, {2, 3}, t, error));
    for (int i = 0; i < 6; ++i)
      CHECK(t.view().loadInt(i) == i);
  }
  SECTION("the shape must be the expected one") {
    CHECK_FALSE(readNpyFile(kInputs + "/i4_2x3_v1.npy", DType::I32, {3, 2}, t, error));
    CHECK(error.find("has shape (2, 3), expected (3, 2)") != std::string::npos);
    CHECK_FALSE(readNpyFile(kInputs + "/bool_4_v3.npy", DType::U8, {4, 1}, t, error));
    CHECK(error.find("has shape (4,), expected (4, 1)") != std::string::npos);
  }
  SECTION("float data cannot fill an integer tensor, nor the reverse") {
    CHECK_FALSE(readNpyFile(kInputs + "/f4_2x3_fortran_v2.npy", DType::I32, {2, 3}, t, error));
    CHECK(error.find("float32 ('<f4'), which cannot fill a i32 tensor; save it as '<i4'") !=
          std::string::npos);
    CHECK_FALSE(readNpyFile(kInputs + "/i4_2x3_v1.npy", DType::F32, {2, 3}, t, error));
    CHECK(error.find("int32 ('<i4'), which cannot fill a f32 tensor") != std::string::npos);
  }
}

TEST_CASE("npy: header syntax and versions", "[reference][npy]") {
  OwnedTensor t;
  std::string error;
  REQUIRE(readBytes(kI32Pair, DType::I32, {2}, t, error));
  CHECK(t.view().loadInt(1) == -9);
  // Double quotes, no trailing comma, no padding rules: still a valid dict.
  REQUIRE(readBytes(npyBytes("{\"shape\": (2,), \"descr\": \"<i4\", \"fortran_order\": False}",
                             raw<int32_t>({1, 2}), 2),
                    DType::I32, {2}, t, error));
  CHECK(t.view().loadInt(1) == 2);

  CHECK(readError("NUMPY\x01").find("not a .npy file") != std::string::npos);
  CHECK(readError("").find("not a .npy file") != std::string::npos);
  std::string v4 = kI32Pair;
  v4[6] = 4;
  CHECK(readError(v4).find("unsupported .npy format version 4.0") != std::string::npos);
  std::string v11 = kI32Pair;
  v11[7] = 1;
  CHECK(readError(v11).find("version 1.1") != std::string::npos);
  CHECK(readError(kI32Pair.substr(0, 40)).find("truncated .npy header") != std::string::npos);

  auto dictError = [&](const std::string &dict) {
    return readError(npyBytes(dict, raw<int32_t>({1, 2})));
  };
  CHECK(dictError("{'descr': '<i4', 'fortran_order': False}").find("missing 'shape'") !=
        std::string::npos);
  CHECK(dictError("{'descr': '<i4', 'descr': '<i4', 'fortran_order': False, 'shape': (2,)}")
            .find("'descr' appears twice") != std::string::npos);
  CHECK(dictError("{'descr': '<i4', 'fortran_order': False, 'shape': (2,), 'x': 1}")
            .find("unexpected key 'x'") != std::string::npos);
  CHECK(dictError("{'descr': '<i4', 'fortran_order': 0, 'shape': (2,)}")
            .find("must be True or False") != std::string::npos);
  CHECK(dictError("{'descr': '<i4', 'fortran_order': False, 'shape': (2)}")
            .find("one dimension is written '(n,)'") != std::string::npos);
  CHECK(dictError("{'descr': '<i4', 'fortran_order': False, 'shape': (-2,)}")
            .find("expected a non-negative integer") != std::string::npos);
  CHECK(dictError("{'descr': '<i4', 'fortran_order': False, 'shape': (2,)} x")
            .find("unexpected text after the dict") != std::string::npos);
  CHECK(dictError("{'descr': '<i4', 'fortran_order': False, 'shape': (2,)")
            .find("malformed .npy header") != std::string::npos);
  CHECK(dictError("{'descr': [('a', '<i4')], 'fortran_order': False, 'shape': (2,)}")
            .find("structured dtypes") != std::string::npos);
  CHECK(dictError("{'descr': '<i4', 'fortran_order': False, 'shape': (99999999999999999999,)}")
            .find("does not fit in 64 bits") != std::string::npos);
  CHECK(dictError("{'descr': '<i4', 'fortran_order': False, 'shape': (4294967296, 4294967296,)}")
            .find("too many elements") != std::string::npos);
}

TEST_CASE("npy: dtypes", "[reference][npy]") {
  auto dict = [](const std::string &descr, const std::string &shape = "(2,)") {
    return "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shape + ", }";
  };
  CHECK(readError(npyBytes(dict(">i4"), raw<int32_t>({1, 2})))
            .find("big-endian data; save it little-endian, e.g. arr.astype('<i4')") !=
        std::string::npos);
  CHECK(readError(npyBytes(dict("<c8"), std::string(16, '\0'))).find("not supported") !=
        std::string::npos);
  CHECK(readError(npyBytes(dict("|O"), std::string(16, '\0'))).find("not supported") !=
        std::string::npos);
  CHECK(readError(npyBytes(dict("<U3"), std::string(24, '\0'))).find("not supported") !=
        std::string::npos);
  CHECK(readError(npyBytes(dict("|i4"), raw<int32_t>({1, 2}))).find("needs a byte order") !=
        std::string::npos);

  OwnedTensor t;
  std::string error;
  // Integers out of the target's range name the element.
  CHECK(readError(npyBytes(dict("<i8", "(1, 2)"), raw<int64_t>({5, int64_t(1) << 40})), DType::I32,
                  {1, 2})
            .find("element (0, 1) is 1099511627776, outside the range of i32") !=
        std::string::npos);
  CHECK(readError(npyBytes(dict("<u8"), raw<uint64_t>({1, ~uint64_t(0)})), DType::I64)
            .find("is 18446744073709551615, outside the range of i64") != std::string::npos);
  CHECK(readError(npyBytes(dict("<i2"), raw<int16_t>({-1, 2})), DType::U8)
            .find("element (0,) is -1, outside the range of u8") != std::string::npos);
  // Narrow ints sign-extend; '|u1' and '|i1' are byte-order free.
  REQUIRE(readBytes(npyBytes(dict("<i2"), raw<int16_t>({-300, 300})), DType::I32, {2}, t, error));
  CHECK(t.view().loadInt(0) == -300);
  REQUIRE(readBytes(npyBytes(dict("|i1"), raw<int8_t>({-5, 5})), DType::I64, {2}, t, error));
  CHECK(t.view().loadInt(0) == -5);
  REQUIRE(readBytes(npyBytes(dict("|u1"), raw<uint8_t>({200, 1})), DType::U8, {2}, t, error));
  CHECK(t.view().loadInt(0) == 200);
  // Floats: float64 rounds to float32, float16 widens exactly, into f16 via float32.
  REQUIRE(readBytes(npyBytes(dict("<f8"), raw<double>({0.1, -1e300})), DType::F32, {2}, t, error));
  CHECK(t.loadDouble(0) == double(0.1f));
  CHECK(std::isinf(t.loadDouble(1)));
  REQUIRE(
      readBytes(npyBytes(dict("<f2"), raw<uint16_t>({0x3c00, 0xc000})), DType::F32, {2}, t, error));
  CHECK(t.loadDouble(0) == 1.0);
  CHECK(t.loadDouble(1) == -2.0);
  REQUIRE(
      readBytes(npyBytes(dict("<f2"), raw<uint16_t>({0x3c00, 0x7c00})), DType::F16, {2}, t, error));
  CHECK(std::isinf(t.loadDouble(1)));
}

TEST_CASE("npy: Fortran order of three dimensions", "[reference][npy]") {
  // Element (i, j, l) of a (2, 3, 2) array is stored at i + 2 * j + 6 * l.
  std::string data;
  for (int l = 0; l < 2; ++l)
    for (int j = 0; j < 3; ++j)
      for (int i = 0; i < 2; ++i)
        data += raw<int32_t>({100 * i + 10 * j + l});
  OwnedTensor t;
  std::string error;
  REQUIRE(readBytes(npyBytes("{'descr': '<i4', 'fortran_order': True, 'shape': (2, 3, 2), }", data),
                    DType::I64, {2, 3, 2}, t, error));
  int e = 0;
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j)
      for (int l = 0; l < 2; ++l)
        CHECK(t.view().loadInt(e++) == 100 * i + 10 * j + l);
}

TEST_CASE("npy: sizes are checked before reading", "[reference][npy]") {
  std::string dict = "{'descr': '<i4', 'fortran_order': False, 'shape': (2,), }";
  CHECK(readError(npyBytes(dict, raw<int32_t>({1})))
            .find("the header promises 8 bytes of <i4 data, the file has 4 (truncated)") !=
        std::string::npos);
  CHECK(readError(npyBytes(dict, raw<int32_t>({1, 2, 3}))).find("(trailing bytes") !=
        std::string::npos);
  // A header claiming 4 GiB of header, or a shape of 2^60 elements, allocates nothing: the
  // header length and the file size are checked first.
  std::string huge = kI32Pair;
  huge[0 + 6] = 2;
  huge.insert(10, 2, '\0');
  huge[8] = huge[9] = huge[10] = huge[11] = char(0xff);
  CHECK(readError(huge).find("the .npy header is 4294967295 bytes; at most 65536") !=
        std::string::npos);
  CHECK(readError(npyBytes("{'descr': '<i8', 'fortran_order': False, "
                           "'shape': (1152921504606846976,), }",
                           ""),
                  DType::I64, {1152921504606846976LL})
            .find("the file has 0 (truncated)") != std::string::npos);
  CHECK(readError(kI32Pair, DType::I32, {3}).find("has shape (2,), expected (3,)") !=
        std::string::npos);
}

TEST_CASE("npy: only regular files are read", "[reference][npy]") {
  OwnedTensor t;
  std::string error;
  TempDir dir;
  CHECK_FALSE(readNpyFile(dir.path(), DType::I32, {2}, t, error));
  CHECK(error.find("is a directory") != std::string::npos);
  CHECK_FALSE(readNpyFile(dir.path() + "/missing.npy", DType::I32, {2}, t, error));
  CHECK(error.find("missing.npy: cannot open: No such file") != std::string::npos);
  CHECK_FALSE(readNpyFile("/dev/zero", DType::I32, {2}, t, error));
  CHECK(error.find("/dev/zero: is not a regular file") != std::string::npos);
  // A FIFO with no writer: refused at once rather than waiting.
  std::string fifo = dir.path() + "/fifo.npy";
  REQUIRE(mkfifo(fifo.c_str(), 0600) == 0);
  CHECK_FALSE(readNpyFile(fifo, DType::I32, {2}, t, error));
  CHECK(error.find("is not a regular file") != std::string::npos);
  // A symlink to a regular file is fine; to a device it is not.
  std::string good = dir.write("good.npy", kI32Pair);
  REQUIRE(symlink(good.c_str(), (dir.path() + "/link.npy").c_str()) == 0);
  CHECK(readNpyFile(dir.path() + "/link.npy", DType::I32, {2}, t, error));
  REQUIRE(symlink("/dev/zero", (dir.path() + "/zero.npy").c_str()) == 0);
  CHECK_FALSE(readNpyFile(dir.path() + "/zero.npy", DType::I32, {2}, t, error));
  CHECK(error.find("is not a regular file") != std::string::npos);
}
