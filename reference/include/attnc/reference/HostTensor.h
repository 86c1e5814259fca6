//===- HostTensor.h - Typed views of host memory for the reference -*- C++ -*-===//
//
// The reference reads Q, K, V and input tensors from host memory in any of the element
// types attnc accepts, with arbitrary element strides (so BHSD, BSHD and slices all work),
// and converts every element exactly to float64 (f16 and bf16 are decoded bit-exactly).
// `OwnedTensor` is a contiguous tensor that owns its bytes (what the random generator
// produces); `TensorView` is a non-owning view of any tensor.
//
//===----------------------------------------------------------------------===//
#ifndef ATTNC_REFERENCE_HOSTTENSOR_H
#define ATTNC_REFERENCE_HOSTTENSOR_H

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace attnc::reference {

/// Element types of host tensors. The first six match dsl::ElementType (and the
/// ATTNC_DT_* codes); F64 is a reference-only convenience for Float data.
enum class DType : uint8_t { I32, I64, F32, F16, BF16, U8, F64 };

const char *dtypeName(DType t);
/// Size of one element in bytes.
size_t dtypeSize(DType t);
/// Parses "f32", "bf16", ...; returns false for an unknown name.
bool parseDType(const std::string &name, DType &out);
bool isFloatDType(DType t);

/// Exact decoding of 16-bit floats.
double halfToDouble(uint16_t bits);
double bfloat16ToDouble(uint16_t bits);
/// Round-to-nearest-even encoding of a float (NaN stays NaN, overflow gives inf).
uint16_t floatToHalf(float value);
uint16_t floatToBFloat16(float value);

/// a * b, or nullopt when either is negative or the product does not fit in int64.
std::optional<int64_t> checkedMul(int64_t a, int64_t b);
/// The product of `dims` (1 for none), or nullopt when a dim is negative or the product
/// does not fit in int64.
std::optional<int64_t> checkedElementCount(const std::vector<int64_t> &dims);
/// Bytes of `dims` elements of `dtype`, or nullopt on overflow.
std::optional<int64_t> checkedByteSize(DType dtype, const std::vector<int64_t> &dims);
/// "[2, 16, 1024]".
std::string dimsText(const std::vector<int64_t> &dims);
/// "3.5 GiB", "12 MiB", "100 bytes".
std::string bytesText(uint64_t bytes);

/// A non-owning strided view: element (i0, i1, ...) lives at
/// data + sum(i_n * strides[n]) elements (strides in elements, not bytes).
struct TensorView {
  DType dtype = DType::F32;
  const void *data = nullptr;
  std::vector<int64_t> dims;
  std::vector<int64_t> strides;

  int rank() const { return static_cast<int>(dims.size()); }
  int64_t numElements() const;
  /// Element at a linear element offset (sum of index * stride), as float64.
  /// Integer types convert exactly; U8 gives 0 or the byte value.
  double loadDouble(int64_t offset) const;
  /// Element at a linear element offset as a 64-bit integer (floats truncate).
  int64_t loadInt(int64_t offset) const;

  /// Row-major (contiguous) strides for `dims`.
  static std::vector<int64_t> contiguousStrides(const std::vector<int64_t> &dims);
};

/// The two memory orders of Q, K, V the runtime accepts. The logical shape is always
/// [batch, heads, seq, d]; BSHD stores it as [batch, seq, heads, d].
enum class QkvLayout : uint8_t { BHSD, BSHD };

/// A 4-D view of a Q/K/V buffer with logical dims [batch, heads, seq, d], densely
/// packed in `layout` order.
TensorView makeQkvView(DType dtype, const void *data, int batch, int heads, int seq, int d,
                       QkvLayout layout);

/// A contiguous tensor that owns its storage.
struct OwnedTensor {
  DType dtype = DType::F32;
  std::vector<int64_t> dims;
  std::vector<uint8_t> bytes;

  OwnedTensor() = default;
  /// Zero-filled. Throws std::length_error when the byte size overflows (check with
  /// checkedByteSize first).
  OwnedTensor(DType dtype, std::vector<int64_t> dims);
  int64_t numElements() const;
  /// Stores a value converted to `dtype` (round-to-nearest-even for floats; integers
  /// are cast; U8 stores value != 0).
  void storeDouble(int64_t index, double value);
  void storeInt(int64_t index, int64_t value);
  double loadDouble(int64_t index) const;
  TensorView view() const;
};

} // namespace attnc::reference

#endif // ATTNC_REFERENCE_HOSTTENSOR_H
