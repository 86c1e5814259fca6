//===- HostTensor.cpp - Typed host tensors ------------------------------===//
#include "attnc/reference/HostTensor.h"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <stdexcept>

namespace attnc::reference {

const char *dtypeName(DType t) {
  switch (t) {
  case DType::I32:
    return "i32";
  case DType::I64:
    return "i64";
  case DType::F32:
    return "f32";
  case DType::F16:
    return "f16";
  case DType::BF16:
    return "bf16";
  case DType::U8:
    return "u8";
  case DType::F64:
    return "f64";
  }
  return "?";
}

size_t dtypeSize(DType t) {
  switch (t) {
  case DType::I32:
  case DType::F32:
    return 4;
  case DType::I64:
  case DType::F64:
    return 8;
  case DType::F16:
  case DType::BF16:
    return 2;
  case DType::U8:
    return 1;
  }
  return 0;
}

bool parseDType(const std::string &name, DType &out) {
  for (DType t :
       {DType::I32, DType::I64, DType::F32, DType::F16, DType::BF16, DType::U8, DType::F64}) {
    if (name == dtypeName(t)) {
      out = t;
      return true;
    }
  }
  return false;
}

bool isFloatDType(DType t) {
  return t == DType::F32 || t == DType::F16 || t == DType::BF16 || t == DType::F64;
}

double halfToDouble(uint16_t bits) {
  int sign = bits >> 15;
  int exponent = (bits >> 10) & 0x1f;
  int mantissa = bits & 0x3ff;
  double value;
  if (exponent == 0)
    value = std::ldexp(static_cast<double>(mantissa), -24);
  else if (exponent == 31)
    value = mantissa ? std::numeric_limits<double>::quiet_NaN()
                     : std::numeric_limits<double>::infinity();
  else
    value = std::ldexp(static_cast<double>(mantissa | 0x400), exponent - 25);
  return sign ? -value : value;
}

double bfloat16ToDouble(uint16_t bits) {
  uint32_t word = static_cast<uint32_t>(bits) << 16;
  float value;
  std::memcpy(&value, &word, 4);
  return value;
}

uint16_t floatToBFloat16(float value) {
  uint32_t word;
  std::memcpy(&word, &value, 4);
  if ((word & 0x7fffffffu) > 0x7f800000u) // NaN: keep it quiet
    return static_cast<uint16_t>((word >> 16) | 0x40);
  uint32_t roundingBias = 0x7fff + ((word >> 16) & 1);
  return static_cast<uint16_t>((word + roundingBias) >> 16);
}

uint16_t floatToHalf(float value) {
  uint32_t word;
  std::memcpy(&word, &value, 4);
  uint16_t sign = static_cast<uint16_t>((word >> 16) & 0x8000);
  uint32_t magnitude = word & 0x7fffffffu;
  if (magnitude > 0x7f800000u)
    return sign | 0x7e00;
  if (magnitude >= 0x477ff000u) // rounds to >= 65520: overflow to inf
    return sign | 0x7c00;
  if (magnitude < 0x33000001u) // <= 2^-25: rounds to zero (ties to even)
    return sign;
  int exponent = static_cast<int>(magnitude >> 23);
  uint32_t mantissa = (magnitude & 0x7fffffu) | 0x800000u;
  if (exponent < 113) {         // subnormal half
    int shift = 126 - exponent; // value = mantissa * 2^(exponent-150); unit 2^-24
    uint32_t result = mantissa >> shift;
    uint32_t remainder = mantissa & ((1u << shift) - 1);
    uint32_t halfway = 1u << (shift - 1);
    if (remainder > halfway || (remainder == halfway && (result & 1)))
      ++result;
    return sign | static_cast<uint16_t>(result);
  }
  uint32_t result = ((static_cast<uint32_t>(exponent - 112)) << 10) | ((mantissa >> 13) & 0x3ff);
  uint32_t remainder = mantissa & 0x1fff;
  if (remainder > 0x1000 || (remainder == 0x1000 && (result & 1)))
    ++result; // may carry into the exponent, which is correct
  return sign | static_cast<uint16_t>(result);
}

std::optional<int64_t> checkedMul(int64_t a, int64_t b) {
  int64_t product = 0;
  if (a < 0 || b < 0 || __builtin_mul_overflow(a, b, &product))
    return std::nullopt;
  return product;
}

std::optional<int64_t> checkedElementCount(const std::vector<int64_t> &dims) {
  std::optional<int64_t> n = 1;
  for (int64_t d : dims)
    if (!(n = checkedMul(*n, d)))
      return std::nullopt;
  return n;
}

std::optional<int64_t> checkedByteSize(DType dtype, const std::vector<int64_t> &dims) {
  std::optional<int64_t> n = checkedElementCount(dims);
  return n ? checkedMul(*n, static_cast<int64_t>(dtypeSize(dtype))) : std::nullopt;
}

std::string dimsText(const std::vector<int64_t> &dims) {
  std::string s = "[";
  for (size_t i = 0; i < dims.size(); ++i)
    s += (i ? ", " : "") + std::to_string(dims[i]);
  return s + "]";
}

std::string bytesText(uint64_t bytes) {
  static const char *const units[] = {"bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  double value = static_cast<double>(bytes);
  int unit = 0;
  while (value >= 1024.0 && unit < 6) {
    value /= 1024.0;
    ++unit;
  }
  char text[32];
  std::snprintf(text, sizeof text, unit == 0 ? "%.0f %s" : "%.1f %s", value, units[unit]);
  return text;
}

int64_t TensorView::numElements() const {
  int64_t n = 1;
  for (int64_t d : dims)
    n *= d;
  return n;
}

double TensorView::loadDouble(int64_t offset) const {
  const char *base = static_cast<const char *>(data) + offset * dtypeSize(dtype);
  switch (dtype) {
  case DType::I32: {
    int32_t v;
    std::memcpy(&v, base, 4);
    return v;
  }
  case DType::I64: {
    int64_t v;
    std::memcpy(&v, base, 8);
    return static_cast<double>(v);
  }
  case DType::F32: {
    float v;
    std::memcpy(&v, base, 4);
    return v;
  }
  case DType::F64: {
    double v;
    std::memcpy(&v, base, 8);
    return v;
  }
  case DType::F16: {
    uint16_t v;
    std::memcpy(&v, base, 2);
    return halfToDouble(v);
  }
  case DType::BF16: {
    uint16_t v;
    std::memcpy(&v, base, 2);
    return bfloat16ToDouble(v);
  }
  case DType::U8:
    return static_cast<uint8_t>(*base);
  }
  return 0.0;
}

int64_t TensorView::loadInt(int64_t offset) const {
  const char *base = static_cast<const char *>(data) + offset * dtypeSize(dtype);
  switch (dtype) {
  case DType::I32: {
    int32_t v;
    std::memcpy(&v, base, 4);
    return v;
  }
  case DType::I64: {
    int64_t v;
    std::memcpy(&v, base, 8);
    return v;
  }
  case DType::U8:
    return static_cast<uint8_t>(*base);
  default:
    return static_cast<int64_t>(loadDouble(offset));
  }
}

std::vector<int64_t> TensorView::contiguousStrides(const std::vector<int64_t> &dims) {
  std::vector<int64_t> strides(dims.size(), 1);
  for (int i = static_cast<int>(dims.size()) - 2; i >= 0; --i)
    strides[i] = strides[i + 1] * dims[i + 1];
  return strides;
}

TensorView makeQkvView(DType dtype, const void *data, int batch, int heads, int seq, int d,
                       QkvLayout layout) {
  TensorView view;
  view.dtype = dtype;
  view.data = data;
  view.dims = {batch, heads, seq, d};
  if (layout == QkvLayout::BHSD)
    view.strides = TensorView::contiguousStrides(view.dims);
  else // memory [batch, seq, heads, d]
    view.strides = {static_cast<int64_t>(seq) * heads * d, d, static_cast<int64_t>(heads) * d, 1};
  return view;
}

OwnedTensor::OwnedTensor(DType dtype, std::vector<int64_t> dims)
    : dtype(dtype), dims(std::move(dims)) {
  std::optional<int64_t> size = checkedByteSize(this->dtype, this->dims);
  if (!size || static_cast<uint64_t>(*size) > bytes.max_size())
    throw std::length_error("tensor of shape " + dimsText(this->dims) + " is too large");
  bytes.assign(static_cast<size_t>(*size), 0);
}

int64_t OwnedTensor::numElements() const {
  int64_t n = 1;
  for (int64_t d : dims)
    n *= d;
  return n;
}

void OwnedTensor::storeDouble(int64_t index, double value) {
  char *base = reinterpret_cast<char *>(bytes.data()) + index * dtypeSize(dtype);
  switch (dtype) {
  case DType::I32: {
    int32_t v = static_cast<int32_t>(value);
    std::memcpy(base, &v, 4);
    break;
  }
  case DType::I64: {
    int64_t v = static_cast<int64_t>(value);
    std::memcpy(base, &v, 8);
    break;
  }
  case DType::F32: {
    float v = static_cast<float>(value);
    std::memcpy(base, &v, 4);
    break;
  }
  case DType::F64:
    std::memcpy(base, &value, 8);
    break;
  case DType::F16: {
    uint16_t v = floatToHalf(static_cast<float>(value));
    std::memcpy(base, &v, 2);
    break;
  }
  case DType::BF16: {
    uint16_t v = floatToBFloat16(static_cast<float>(value));
    std::memcpy(base, &v, 2);
    break;
  }
  case DType::U8:
    *base = value != 0.0 ? 1 : 0;
    break;
  }
}

void OwnedTensor::storeInt(int64_t index, int64_t value) {
  char *base = reinterpret_cast<char *>(bytes.data()) + index * dtypeSize(dtype);
  switch (dtype) {
  case DType::I32: {
    int32_t v = static_cast<int32_t>(static_cast<uint32_t>(value));
    std::memcpy(base, &v, 4);
    break;
  }
  case DType::I64:
    std::memcpy(base, &value, 8);
    break;
  case DType::U8:
    *base = static_cast<char>(static_cast<uint8_t>(value));
    break;
  default:
    storeDouble(index, static_cast<double>(value));
    break;
  }
}

double OwnedTensor::loadDouble(int64_t index) const { return view().loadDouble(index); }

TensorView OwnedTensor::view() const {
  TensorView v;
  v.dtype = dtype;
  v.data = bytes.data();
  v.dims = dims;
  v.strides = TensorView::contiguousStrides(dims);
  return v;
}

} // namespace attnc::reference
