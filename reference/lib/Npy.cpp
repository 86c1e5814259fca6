//===- Npy.cpp - A strict, bounded reader of NumPy .npy files -------------===//
#include "attnc/reference/Npy.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <limits>
#include <sys/stat.h>
#include <unistd.h>

namespace attnc::reference {
namespace {

constexpr int kMaxRank = 64; // numpy's own limit (NPY_MAXDIMS)
constexpr bool kLittleEndianHost = __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__;

// The 10- or 12-byte preamble: magic, version, header length.
bool parsePreamble(std::string_view bytes, int &major, int &minor, uint64_t &preambleSize,
                   uint64_t &headerSize, std::string &error) {
  static const char kMagic[] = "\x93NUMPY";
  if (bytes.size() < 10 || bytes.substr(0, 6) != std::string_view(kMagic, 6)) {
    error = "not a .npy file (no \\x93NUMPY magic)";
    return false;
  }
  major = static_cast<uint8_t>(bytes[6]);
  minor = static_cast<uint8_t>(bytes[7]);
  if (major < 1 || major > 3 || minor != 0) {
    error = "unsupported .npy format version " + std::to_string(major) + "." +
            std::to_string(minor) + " (1.0, 2.0 and 3.0 are read)";
    return false;
  }
  auto byteAt = [&](size_t i) { return static_cast<uint64_t>(static_cast<uint8_t>(bytes[i])); };
  if (major == 1) {
    preambleSize = 10;
    headerSize = byteAt(8) | byteAt(9) << 8;
  } else {
    if (bytes.size() < 12) {
      error = "truncated .npy header";
      return false;
    }
    preambleSize = 12;
    headerSize = byteAt(8) | byteAt(9) << 8 | byteAt(10) << 16 | byteAt(11) << 24;
  }
  if (headerSize > kNpyMaxHeaderBytes) {
    error = "the .npy header is " + std::to_string(headerSize) + " bytes; at most " +
            std::to_string(kNpyMaxHeaderBytes) + " are read";
    return false;
  }
  return true;
}

// A strict parser of the header dict numpy writes:
//   {'descr': '<i4', 'fortran_order': False, 'shape': (2, 3), }
class HeaderParser {
public:
  explicit HeaderParser(std::string_view text) : text_(text) {}

  bool parse(NpyHeader &h, std::string &error) {
    bool seenDescr = false, seenOrder = false, seenShape = false;
    skipSpace();
    if (!consume('{'))
      return fail("expected '{'", error);
    while (true) {
      skipSpace();
      if (consume('}'))
        break;
      std::string key;
      if (!parseString(key, error))
        return false;
      skipSpace();
      if (!consume(':'))
        return fail("expected ':' after '" + key + "'", error);
      skipSpace();
      if (key == "descr") {
        if (seenDescr)
          return fail("'descr' appears twice", error);
        seenDescr = true;
        if (peek() == '[')
          return fail("structured dtypes (a list 'descr') are not supported", error);
        if (!parseString(h.descr, error))
          return false;
      } else if (key == "fortran_order") {
        if (seenOrder)
          return fail("'fortran_order' appears twice", error);
        seenOrder = true;
        if (consumeWord("True"))
          h.fortranOrder = true;
        else if (consumeWord("False"))
          h.fortranOrder = false;
        else
          return fail("'fortran_order' must be True or False", error);
      } else if (key == "shape") {
        if (seenShape)
          return fail("'shape' appears twice", error);
        seenShape = true;
        if (!parseShape(h.shape, error))
          return false;
      } else {
        return fail("unexpected key '" + key + "'", error);
      }
      skipSpace();
      if (consume(','))
        continue;
      skipSpace();
      if (consume('}'))
        break;
      return fail("expected ',' or '}'", error);
    }
    skipSpace();
    if (pos_ != text_.size())
      return fail("unexpected text after the dict", error);
    if (!seenDescr || !seenOrder || !seenShape)
      return fail(std::string("missing '") +
                      (!seenDescr   ? "descr"
                       : !seenOrder ? "fortran_order"
                                    : "shape") +
                      "'",
                  error);
    return true;
  }

private:
  bool fail(const std::string &what, std::string &error) {
    error = "malformed .npy header: " + what + " at header byte " + std::to_string(pos_);
    return false;
  }
  char peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }
  bool consume(char c) {
    if (peek() != c)
      return false;
    ++pos_;
    return true;
  }
  bool consumeWord(std::string_view word) {
    if (text_.substr(pos_, word.size()) != word)
      return false;
    pos_ += word.size();
    return true;
  }
  void skipSpace() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' ||
                                   text_[pos_] == '\n' || text_[pos_] == '\r'))
      ++pos_;
  }
  bool parseString(std::string &out, std::string &error) {
    char quote = peek();
    if (quote != '\'' && quote != '"')
      return fail("expected a quoted string", error);
    ++pos_;
    size_t end = text_.find(quote, pos_);
    if (end == std::string_view::npos)
      return fail("unterminated string", error);
    out.assign(text_.substr(pos_, end - pos_));
    if (out.find('\\') != std::string::npos)
      return fail("escapes in strings are not supported", error);
    pos_ = end + 1;
    return true;
  }
  bool parseInt(int64_t &value, std::string &error) {
    size_t start = pos_;
    uint64_t v = 0;
    while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') {
      uint64_t digit = static_cast<uint64_t>(text_[pos_] - '0');
      if (v > (static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) - digit) / 10)
        return fail("a dimension does not fit in 64 bits", error);
      v = v * 10 + digit;
      ++pos_;
    }
    if (pos_ == start)
      return fail("expected a non-negative integer", error);
    consume('L'); // Python 2 wrote long integers with a suffix
    value = static_cast<int64_t>(v);
    return true;
  }
  bool parseShape(std::vector<int64_t> &shape, std::string &error) {
    if (!consume('('))
      return fail("'shape' must be a tuple", error);
    skipSpace();
    if (consume(')'))
      return true; // a 0-d array
    bool trailingComma = false;
    while (true) {
      int64_t dim;
      if (!parseInt(dim, error))
        return false;
      if (shape.size() == static_cast<size_t>(kMaxRank))
        return fail("more than " + std::to_string(kMaxRank) + " dimensions", error);
      shape.push_back(dim);
      skipSpace();
      trailingComma = consume(',');
      skipSpace();
      if (consume(')'))
        break;
      if (!trailingComma)
        return fail("expected ',' or ')' in 'shape'", error);
    }
    if (shape.size() == 1 && !trailingComma)
      return fail("'shape' must be a tuple (one dimension is written '(n,)')", error);
    return true;
  }

  std::string_view text_;
  size_t pos_ = 0;
};

bool parseDescr(NpyHeader &h, std::string &error) {
  const std::string &d = h.descr;
  auto unsupported = [&](const std::string &why) {
    error = "dtype '" + d + "' is not supported: " + why;
    return false;
  };
  if (d.size() < 3)
    return unsupported("bool, integer and float dtypes are read");
  char order = d[0], kind = d[1];
  int size = 0;
  for (size_t i = 2; i < d.size(); ++i) {
    if (d[i] < '0' || d[i] > '9' || size > 1000)
      return unsupported("bool, integer and float dtypes are read");
    size = size * 10 + (d[i] - '0');
  }
  bool sizeOk =
      (kind == 'b' && size == 1) ||
      ((kind == 'i' || kind == 'u') && (size == 1 || size == 2 || size == 4 || size == 8)) ||
      (kind == 'f' && (size == 2 || size == 4 || size == 8));
  if (!sizeOk)
    return unsupported("bool, integer and float dtypes are read (no complex, string, object, "
                       "datetime or structured data)");
  if (order != '<' && order != '|' && order != '>')
    return unsupported("unknown byte order");
  if (order == '>' && size > 1)
    return unsupported(std::string("big-endian data; save it little-endian, e.g. arr.astype('<") +
                       kind + std::to_string(size) + "')");
  if (order == '|' && size > 1)
    return unsupported("a multi-byte type needs a byte order");
  h.kind = kind;
  h.itemSize = size;
  return true;
}

const char *npyTypeName(char kind, int size) {
  switch (kind) {
  case 'b':
    return "bool";
  case 'i':
    return size == 1 ? "int8" : size == 2 ? "int16" : size == 4 ? "int32" : "int64";
  case 'u':
    return size == 1 ? "uint8" : size == 2 ? "uint16" : size == 4 ? "uint32" : "uint64";
  case 'f':
    return size == 2 ? "float16" : size == 4 ? "float32" : "float64";
  }
  return "?";
}

const char *suggestedType(DType t) {
  switch (t) {
  case DType::I32:
    return "'<i4'";
  case DType::I64:
    return "'<i8'";
  case DType::U8:
    return "'|u1' or bool";
  case DType::F16:
    return "'<f2'";
  case DType::BF16:
  case DType::F32:
    return "'<f4'";
  case DType::F64:
    return "'<f8'";
  }
  return "?";
}

// Little-endian loads of the element at `p`.
uint64_t loadBits(const uint8_t *p, int size) {
  uint64_t v = 0;
  for (int i = size - 1; i >= 0; --i)
    v = v << 8 | p[i];
  return v;
}

double loadFloat(uint64_t bits, int size) {
  if (size == 2)
    return halfToDouble(static_cast<uint16_t>(bits));
  if (size == 4) {
    uint32_t word = static_cast<uint32_t>(bits);
    float f;
    std::memcpy(&f, &word, 4);
    return f;
  }
  double d;
  std::memcpy(&d, &bits, 8);
  return d;
}

std::string indexText(const std::vector<int64_t> &shape, uint64_t flat) {
  std::vector<int64_t> index(shape.size());
  for (size_t a = shape.size(); a-- > 0;) {
    index[a] = static_cast<int64_t>(flat % static_cast<uint64_t>(shape[a]));
    flat /= static_cast<uint64_t>(shape[a]);
  }
  return formatNpyShape(index);
}

ssize_t readFully(int fd, void *buffer, size_t size, off_t offset) {
  size_t done = 0;
  while (done < size) {
    ssize_t n = pread(fd, static_cast<char *>(buffer) + done, size - done,
                      offset + static_cast<off_t>(done));
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return -1;
    if (n == 0)
      break;
    done += static_cast<size_t>(n);
  }
  return static_cast<ssize_t>(done);
}

class FileDescriptor {
public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  FileDescriptor(const FileDescriptor &) = delete;
  FileDescriptor &operator=(const FileDescriptor &) = delete;
  ~FileDescriptor() {
    if (fd_ >= 0)
      close(fd_);
  }
  int get() const { return fd_; }

private:
  int fd_;
};

} // namespace

std::string formatNpyShape(const std::vector<int64_t> &shape) {
  std::string s = "(";
  for (size_t i = 0; i < shape.size(); ++i)
    s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + (shape.size() == 1 ? ",)" : ")");
}

bool parseNpyHeader(std::string_view bytes, NpyHeader &header, std::string &error) {
  header = NpyHeader();
  uint64_t preamble = 0, headerSize = 0;
  if (!parsePreamble(bytes, header.major, header.minor, preamble, headerSize, error))
    return false;
  if (bytes.size() < preamble + headerSize) {
    error = "truncated .npy header";
    return false;
  }
  HeaderParser parser(bytes.substr(preamble, headerSize));
  if (!parser.parse(header, error) || !parseDescr(header, error))
    return false;
  uint64_t elements = 1;
  bool empty = false;
  for (int64_t d : header.shape)
    empty |= d == 0;
  for (int64_t d : header.shape) {
    if (empty)
      break;
    if (elements > std::numeric_limits<uint64_t>::max() / static_cast<uint64_t>(d)) {
      error = "the shape " + formatNpyShape(header.shape) + " has too many elements";
      return false;
    }
    elements *= static_cast<uint64_t>(d);
  }
  header.elements = empty ? 0 : elements;
  if (header.elements > std::numeric_limits<uint64_t>::max() / 8) {
    error = "the shape " + formatNpyShape(header.shape) + " has too many elements";
    return false;
  }
  header.dataOffset = preamble + headerSize;
  header.dataBytes = header.elements * static_cast<uint64_t>(header.itemSize);
  return true;
}

bool npyDTypeAccepted(const NpyHeader &h, DType dtype, std::string &error) {
  bool ok = isFloatDType(dtype) ? h.kind == 'f' : h.kind != 'f';
  if (!ok)
    error = std::string("the data is ") + npyTypeName(h.kind, h.itemSize) + " ('" + h.descr +
            "'), which cannot fill a " + dtypeName(dtype) + " tensor; save it as " +
            suggestedType(dtype) + " (arr.astype(...))";
  return ok;
}

bool convertNpyData(const NpyHeader &h, const uint8_t *data, DType dtype, OwnedTensor &out,
                    std::string &error) {
  if (!npyDTypeAccepted(h, dtype, error))
    return false;
  out = OwnedTensor(dtype, h.shape);
  const size_t rank = h.shape.size();
  // Fortran order: walk the row-major output with an odometer and track the offset of
  // the same index in column-major storage.
  std::vector<uint64_t> fortranStride(rank, 1);
  for (size_t a = 1; a < rank; ++a)
    fortranStride[a] = fortranStride[a - 1] * static_cast<uint64_t>(h.shape[a - 1]);
  std::vector<int64_t> index(rank, 0);
  uint64_t source = 0;
  int64_t lo = 0, hi = 0;
  switch (dtype) {
  case DType::I32:
    lo = std::numeric_limits<int32_t>::min(), hi = std::numeric_limits<int32_t>::max();
    break;
  case DType::U8:
    lo = 0, hi = 255;
    break;
  default:
    lo = std::numeric_limits<int64_t>::min(), hi = std::numeric_limits<int64_t>::max();
    break;
  }
  for (uint64_t e = 0; e < h.elements; ++e) {
    uint64_t at = h.fortranOrder ? source : e;
    const uint8_t *p = data + at * static_cast<uint64_t>(h.itemSize);
    uint64_t bits = loadBits(p, h.itemSize);
    int64_t flat = static_cast<int64_t>(e);
    if (h.kind == 'f') {
      double v = loadFloat(bits, h.itemSize);
      out.storeDouble(flat, v);
    } else {
      bool fits;
      int64_t v = 0;
      if (h.kind == 'b') {
        v = bits != 0;
        fits = true;
      } else if (h.kind == 'u') {
        fits = bits <= static_cast<uint64_t>(hi);
        v = static_cast<int64_t>(bits);
      } else {
        int shift = 64 - 8 * h.itemSize; // sign-extend
        v = static_cast<int64_t>(bits << shift) >> shift;
        fits = v >= lo && v <= hi;
      }
      if (!fits) {
        error = "element " + indexText(h.shape, e) + " is " +
                (h.kind == 'u' ? std::to_string(bits) : std::to_string(v)) +
                ", outside the range of " + dtypeName(dtype);
        return false;
      }
      out.storeInt(flat, v);
    }
    if (h.fortranOrder) {
      for (size_t a = rank; a-- > 0;) {
        source += fortranStride[a];
        if (++index[a] < h.shape[a])
          break;
        source -= fortranStride[a] * static_cast<uint64_t>(h.shape[a]);
        index[a] = 0;
      }
    }
  }
  return true;
}

bool readNpyFile(const std::string &path, DType dtype, const std::vector<int64_t> &expectedShape,
                 OwnedTensor &out, std::string &error) {
  auto fail = [&](const std::string &what) {
    error = path + ": " + what;
    return false;
  };
  // O_NONBLOCK: opening a FIFO must not wait for a writer (it is refused below).
  FileDescriptor fd(open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY));
  if (fd.get() < 0)
    return fail(std::string("cannot open: ") + std::strerror(errno));
  struct stat st;
  if (fstat(fd.get(), &st) != 0)
    return fail(std::string("cannot stat: ") + std::strerror(errno));
  if (S_ISDIR(st.st_mode))
    return fail("is a directory, not a .npy file");
  if (!S_ISREG(st.st_mode))
    return fail("is not a regular file (devices, FIFOs and sockets are not read)");
  uint64_t fileSize = static_cast<uint64_t>(st.st_size);

  char preamble[12];
  ssize_t got = readFully(fd.get(), preamble, std::min<uint64_t>(fileSize, 12), 0);
  if (got < 0)
    return fail(std::string("cannot read: ") + std::strerror(errno));
  int major, minor;
  uint64_t preambleSize, headerSize;
  if (!parsePreamble(std::string_view(preamble, static_cast<size_t>(got)), major, minor,
                     preambleSize, headerSize, error))
    return fail(error);
  if (preambleSize + headerSize > fileSize)
    return fail("truncated .npy header");
  std::string prefix(preambleSize + headerSize, '\0');
  if (readFully(fd.get(), prefix.data(), prefix.size(), 0) != static_cast<ssize_t>(prefix.size()))
    return fail("cannot read the .npy header");
  NpyHeader h;
  if (!parseNpyHeader(prefix, h, error) || !npyDTypeAccepted(h, dtype, error))
    return fail(error);
  if (h.shape != expectedShape)
    return fail("has shape " + formatNpyShape(h.shape) + ", expected " +
                formatNpyShape(expectedShape));
  if (fileSize - h.dataOffset != h.dataBytes)
    return fail("the header promises " + std::to_string(h.dataBytes) + " bytes of " + h.descr +
                " data, the file has " + std::to_string(fileSize - h.dataOffset) +
                (fileSize - h.dataOffset < h.dataBytes ? " (truncated)"
                                                       : " (trailing bytes, or several arrays)"));

  // Same layout and type: read straight into the tensor.
  bool direct = kLittleEndianHost && !h.fortranOrder &&
                ((dtype == DType::I32 && h.kind == 'i' && h.itemSize == 4) ||
                 (dtype == DType::I64 && h.kind == 'i' && h.itemSize == 8) ||
                 (dtype == DType::U8 && h.kind == 'u' && h.itemSize == 1) ||
                 (dtype == DType::F16 && h.kind == 'f' && h.itemSize == 2) ||
                 (dtype == DType::F32 && h.kind == 'f' && h.itemSize == 4) ||
                 (dtype == DType::F64 && h.kind == 'f' && h.itemSize == 8));
  std::vector<uint8_t> buffer;
  if (direct)
    out = OwnedTensor(dtype, h.shape);
  else
    buffer.resize(h.dataBytes);
  uint8_t *target = direct ? out.bytes.data() : buffer.data();
  if (readFully(fd.get(), target, h.dataBytes, static_cast<off_t>(h.dataOffset)) !=
      static_cast<ssize_t>(h.dataBytes))
    return fail("cannot read the data (the file changed or a read failed)");
  if (!direct && !convertNpyData(h, buffer.data(), dtype, out, error))
    return fail(error);
  return true;
}

} // namespace attnc::reference
