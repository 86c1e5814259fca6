//===- Npy.h - A strict, bounded reader of NumPy .npy files -------*- C++ -*-===//
//
// Reads the arrays people save with `numpy.save` into OwnedTensor, for `attnc --input`.
// Format versions 1.0, 2.0 and 3.0; little-endian (or byte-order-free) bool, integer and
// float dtypes; C or Fortran order (Fortran data is reordered to row-major). Structured,
// object, complex, string and big-endian dtypes are refused with an error saying so.
//
// The reader never trusts the header: the header is at most kNpyMaxHeaderBytes, the
// shape's element count and byte size are computed with overflow checks, and the file's
// size (fstat of the opened descriptor) must equal the header plus exactly that many
// bytes before anything is allocated. Only regular files are read (a FIFO, device or
// directory is refused without blocking), so a hostile path or header cannot make it
// hang or allocate more than the data the file really holds.
//
//===----------------------------------------------------------------------===//
#ifndef ATTNC_REFERENCE_NPY_H
#define ATTNC_REFERENCE_NPY_H

#include "attnc/reference/HostTensor.h"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace attnc::reference {

/// The most header bytes (after the 10- or 12-byte preamble) the reader accepts. numpy
/// writes headers of 64 to a few hundred bytes and itself refuses more than 10000 unless
/// asked.
constexpr uint64_t kNpyMaxHeaderBytes = 65536;

/// What the header of a .npy file says.
struct NpyHeader {
  int major = 1, minor = 0; ///< format version
  std::string descr;        ///< the dtype as numpy wrote it, e.g. "<i4"
  char kind = 0;            ///< 'b' bool, 'i' signed int, 'u' unsigned int, 'f' float
  int itemSize = 0;         ///< bytes per element: 1, 2, 4 or 8
  bool fortranOrder = false;
  std::vector<int64_t> shape;
  uint64_t dataOffset = 0; ///< byte offset of the data (preamble + header)
  uint64_t elements = 0;   ///< product of the shape
  uint64_t dataBytes = 0;  ///< elements * itemSize
};

/// Parses the preamble and header at the start of a .npy file. `bytes` must hold at least
/// the preamble and the whole header (it may hold more). Checks the magic, the version,
/// the header length, the dict syntax, the dtype and the shape (overflow-checked).
bool parseNpyHeader(std::string_view bytes, NpyHeader &header, std::string &error);

/// "(2, 2048)" -- a shape as numpy prints it.
std::string formatNpyShape(const std::vector<int64_t> &shape);

/// Which .npy dtypes can fill a tensor of `dtype`, and how they convert:
///  - I32, I64, U8: any bool or integer dtype; every value must fit the target's range
///    (an error names the first element that does not);
///  - F32, F16, BF16, F64: any float dtype (f2, f4, f8), rounded to nearest even
///    (exact when the file's type is not wider). numpy has no bfloat16, so a BF16 tensor is
///    read from float16/32/64 data.
/// Returns false with a message suggesting the astype() to use otherwise.
bool npyDTypeAccepted(const NpyHeader &header, DType dtype, std::string &error);

/// Converts the `header.dataBytes` bytes at `data` into a row-major tensor of `dtype` with
/// the header's shape. Fails (with the flat element index) when an integer does not fit.
bool convertNpyData(const NpyHeader &header, const uint8_t *data, DType dtype, OwnedTensor &out,
                    std::string &error);

/// Reads the .npy file at `path` into `out`, as `dtype`, requiring its shape to equal
/// `expectedShape`. The shape and dtype are checked from the header and the file size
/// against them before the data is read. Errors start with the path.
bool readNpyFile(const std::string &path, DType dtype, const std::vector<int64_t> &expectedShape,
                 OwnedTensor &out, std::string &error);

} // namespace attnc::reference

#endif // ATTNC_REFERENCE_NPY_H
