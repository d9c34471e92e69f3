//===- safetensors.cc - Validating safetensors reader -----------*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
///
/// \file
/// Opens safetensors files with a read-only mmap and validates every field
/// of the header before exposing any of it. The format: an 8-byte
/// little-endian header length N, N bytes of JSON mapping tensor names to
/// {"dtype", "shape", "data_offsets"} (plus an optional "__metadata__"
/// string-to-string object), then the data section that data_offsets index.
///
//===----------------------------------------------------------------------===//

#include "dtype.h"
#include "json.h"
#include "status.h"

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <unordered_map>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace json = lctxrt::json;
using lctxrt::makeStatus;

namespace {

/// A validated tensor; offsets are relative to the data section.
struct TensorEntry {
  std::string name;
  lctxrt_dtype_t dtype = LCTXRT_DTYPE_F32;
  size_t rank = 0;
  int64_t shape[LCTXRT_MAX_RANK] = {};
  size_t numElements = 1;
  uint64_t begin = 0;
  uint64_t end = 0;
};

/// Limits on the JSON header beyond its byte size. A tensor entry needs at
/// most 14 values, so these admit far more tensors than real checkpoints use
/// while bounding the memory a hostile header can make the parser allocate.
constexpr unsigned kMaxHeaderDepth = 16;
constexpr size_t kMaxHeaderValues = size_t(1) << 23;

std::string shapeString(const int64_t *shape, size_t rank) {
  std::string out = "[";
  for (size_t i = 0; i < rank; ++i)
    out += (i ? ", " : "") + std::to_string(shape[i]);
  return out + "]";
}

std::string offsetsString(uint64_t begin, uint64_t end) {
  return "[" + std::to_string(begin) + ", " + std::to_string(end) + "]";
}


/// Returns a * b in \p out, or false on uint64_t overflow.
bool checkedMul(uint64_t a, uint64_t b, uint64_t &out) {
  if (a != 0 && b > UINT64_MAX / a)
    return false;
  out = a * b;
  return true;
}

/// Validates the header of one file, accumulating the results.
class HeaderValidator {
public:
  HeaderValidator(const std::string &path, uint64_t dataSize)
      : path(path), dataSize(dataSize) {}

  lctxrt_status_t
  validate(std::string_view header, std::vector<TensorEntry> &tensors,
           std::vector<std::pair<std::string, std::string>> &metadata) const;

private:
  lctxrt_status_t fileError(lctxrt_status_code_t code,
                            const std::string &message) const {
    return makeStatus(code, path + ": " + message);
  }
  lctxrt_status_t tensorError(lctxrt_status_code_t code,
                              const std::string &name,
                              const std::string &message) const {
    return fileError(code, "tensor '" + name + "': " + message);
  }
  lctxrt_status_t validateTensor(const std::string &name,
                                 const json::Value &entry,
                                 TensorEntry &out) const;
  lctxrt_status_t validateMetadata(
      const json::Value &value,
      std::vector<std::pair<std::string, std::string>> &metadata) const;

  const std::string &path;
  uint64_t dataSize;
};

lctxrt_status_t HeaderValidator::validate(
    std::string_view header, std::vector<TensorEntry> &tensors,
    std::vector<std::pair<std::string, std::string>> &metadata) const {
  json::Value root;
  json::ParseError parseError;
  json::ParseOptions options;
  options.maxDepth = kMaxHeaderDepth;
  options.maxValues = kMaxHeaderValues;
  if (!json::parse(header, root, parseError, options))
    return fileError(LCTXRT_FORMAT_ERROR,
                     "invalid JSON header at header byte " +
                         std::to_string(parseError.offset) + ": " +
                         parseError.message);
  if (!root.isObject())
    return fileError(LCTXRT_FORMAT_ERROR, "header is " + json::describe(root) +
                                              ", expected a JSON object");
  for (const json::Member &member : root.getObject()) {
    if (member.key == "__metadata__") {
      if (lctxrt_status_t status = validateMetadata(member.value, metadata))
        return status;
      continue;
    }
    TensorEntry entry;
    if (lctxrt_status_t status =
            validateTensor(member.key, member.value, entry))
      return status;
    tensors.push_back(std::move(entry));
  }

  // Non-empty tensors must not share bytes. After sorting by begin it is
  // enough to compare neighbours: if no earlier pair overlaps, the previous
  // tensor is the one reaching furthest.
  std::vector<size_t> order;
  for (size_t i = 0; i < tensors.size(); ++i)
    if (tensors[i].begin != tensors[i].end)
      order.push_back(i);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return tensors[a].begin < tensors[b].begin;
  });
  for (size_t i = 1; i < order.size(); ++i) {
    const TensorEntry &previous = tensors[order[i - 1]];
    const TensorEntry &current = tensors[order[i]];
    if (current.begin < previous.end)
      return fileError(LCTXRT_FORMAT_ERROR,
                       "tensors '" + previous.name + "' (data_offsets " +
                           offsetsString(previous.begin, previous.end) +
                           ") and '" + current.name + "' (data_offsets " +
                           offsetsString(current.begin, current.end) +
                           ") overlap");
  }
  return nullptr;
}

lctxrt_status_t HeaderValidator::validateMetadata(
    const json::Value &value,
    std::vector<std::pair<std::string, std::string>> &metadata) const {
  if (!value.isObject())
    return fileError(LCTXRT_FORMAT_ERROR,
                     "__metadata__ is " + json::describe(value) +
                         ", expected an object of strings");
  for (const json::Member &member : value.getObject()) {
    if (!member.value.isString())
      return fileError(LCTXRT_FORMAT_ERROR,
                       "__metadata__ entry '" + member.key + "' is " +
                           json::describe(member.value) + ", expected a string");
    if (member.key.find('\0') != std::string::npos ||
        member.value.getString().find('\0') != std::string::npos)
      return fileError(LCTXRT_FORMAT_ERROR, "__metadata__ entry " +
                                                json::quote(member.key) +
                                                " contains a NUL character");
    metadata.emplace_back(member.key, member.value.getString());
  }
  return nullptr;
}

lctxrt_status_t HeaderValidator::validateTensor(const std::string &name,
                                                const json::Value &entry,
                                                TensorEntry &out) const {
  const auto formatError = [&](const std::string &message) {
    return tensorError(LCTXRT_FORMAT_ERROR, name, message);
  };
  if (name.find('\0') != std::string::npos)
    return fileError(LCTXRT_FORMAT_ERROR, "tensor name " + json::quote(name) +
                                              " contains a NUL character");
  // lctxrt_safetensors_write refuses empty names, and no manifest argument
  // can bind one: a file that has one is not one lctxrt can round-trip.
  if (name.empty())
    return fileError(LCTXRT_FORMAT_ERROR, "a tensor has an empty name");
  out.name = name;
  if (!entry.isObject())
    return formatError("entry is " + json::describe(entry) + ", expected an object");
  for (const json::Member &field : entry.getObject())
    if (field.key != "dtype" && field.key != "shape" &&
        field.key != "data_offsets")
      return formatError("unknown field '" + field.key + "'");
  const json::Value *dtype = entry.find("dtype");
  const json::Value *shape = entry.find("shape");
  const json::Value *offsets = entry.find("data_offsets");
  for (auto [field, fieldName] :
       {std::pair(dtype, "dtype"), std::pair(shape, "shape"),
        std::pair(offsets, "data_offsets")})
    if (!field)
      return formatError(std::string("missing field '") + fieldName + "'");

  // dtype.
  if (!dtype->isString())
    return formatError("dtype is " + json::describe(*dtype) + ", expected a string");
  const std::string &dtypeName = dtype->getString();
  switch (lctxrt::lookupDtype(dtypeName, out.dtype)) {
  case lctxrt::DtypeLookup::Supported:
    break;
  case lctxrt::DtypeLookup::Unsupported:
    return tensorError(LCTXRT_UNSUPPORTED, name,
                       "dtype '" + dtypeName + "' is not supported by lctxrt");
  case lctxrt::DtypeLookup::Unknown:
    return formatError("unknown dtype " + json::quote(dtypeName));
  }

  // shape.
  if (!shape->isArray())
    return formatError("shape is " + json::describe(*shape) +
                       ", expected an array of non-negative integers");
  const json::Array &dims = shape->getArray();
  if (dims.size() > LCTXRT_MAX_RANK)
    return tensorError(LCTXRT_UNSUPPORTED, name,
                       "rank " + std::to_string(dims.size()) +
                           " exceeds the maximum rank " +
                           std::to_string(LCTXRT_MAX_RANK));
  out.rank = dims.size();
  bool hasZeroDim = false;
  for (size_t i = 0; i < dims.size(); ++i) {
    if (!dims[i].isInt() || dims[i].getInt() < 0)
      return formatError("shape[" + std::to_string(i) + "] is " +
                         json::describe(dims[i]) +
                         ", expected a non-negative integer");
    out.shape[i] = dims[i].getInt();
    hasZeroDim |= out.shape[i] == 0;
  }
  const size_t elementSize = lctxrt_dtype_size(out.dtype);
  const std::string shapeDesc =
      "shape " + shapeString(out.shape, out.rank) + " of " + dtypeName;
  uint64_t numElements = 1, numBytes = 0;
  if (hasZeroDim) {
    numElements = 0;
  } else {
    for (size_t i = 0; i < out.rank; ++i)
      if (!checkedMul(numElements, static_cast<uint64_t>(out.shape[i]),
                      numElements))
        return formatError(shapeDesc + " has more than 2^64 elements");
  }
  if (!checkedMul(numElements, elementSize, numBytes))
    return formatError(shapeDesc + " needs more than 2^64 bytes");

  // data_offsets.
  if (!offsets->isArray() || offsets->getArray().size() != 2)
    return formatError("data_offsets is " + json::describe(*offsets) +
                       ", expected [begin, end]");
  for (const json::Value &bound : offsets->getArray())
    if (!bound.isInt() || bound.getInt() < 0)
      return formatError("data_offsets holds " + json::describe(bound) +
                         ", expected non-negative integers");
  out.begin = static_cast<uint64_t>(offsets->getArray()[0].getInt());
  out.end = static_cast<uint64_t>(offsets->getArray()[1].getInt());
  const std::string offsetsDesc =
      "data_offsets " + offsetsString(out.begin, out.end);
  if (out.begin > out.end)
    return formatError(offsetsDesc + " has begin > end");
  if (out.end > dataSize)
    return formatError(offsetsDesc + " end beyond the " +
                       std::to_string(dataSize) + "-byte data section");
  if (out.end - out.begin != numBytes)
    return formatError(offsetsDesc + " hold " +
                       std::to_string(out.end - out.begin) + " bytes but " +
                       shapeDesc + " needs " + std::to_string(numBytes));
  // numBytes <= dataSize <= SIZE_MAX here, so the element count fits too.
  out.numElements = static_cast<size_t>(numElements);
  return nullptr;
}

/// Closes a file descriptor on scope exit.
struct FdCloser {
  int fd;
  ~FdCloser() { ::close(fd); }
};

std::string errnoMessage(int error) {
  return std::error_code(error, std::generic_category()).message();
}

} // namespace

/// The object behind lctxrt_safetensors_t.
struct lctxrt_safetensors {
  std::string path;
  void *mapping = nullptr;
  size_t mappingSize = 0;
  /// First byte of the data section.
  const unsigned char *data = nullptr;
  std::vector<TensorEntry> tensors;
  /// Views into tensors[i].name; built once the vector is final.
  std::unordered_map<std::string_view, size_t> byName;
  std::vector<std::pair<std::string, std::string>> metadata;

  ~lctxrt_safetensors() {
    if (mapping)
      ::munmap(mapping, mappingSize);
  }

  void fillInfo(const TensorEntry &tensor, lctxrt_tensor_info_t &info) const {
    info.name = tensor.name.c_str();
    info.dtype = tensor.dtype;
    info.rank = tensor.rank;
    std::copy(std::begin(tensor.shape), std::end(tensor.shape), info.shape);
    info.num_elements = tensor.numElements;
    info.data = data + tensor.begin;
    info.byte_size = static_cast<size_t>(tensor.end - tensor.begin);
  }
};

static lctxrt_status_t openImpl(const char *path, lctxrt_safetensors_t **out) {
  auto file = std::make_unique<lctxrt_safetensors>();
  file->path = path;
  const std::string &p = file->path;
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int error = errno;
    return makeStatus(error == ENOENT ? LCTXRT_NOT_FOUND : LCTXRT_IO_ERROR,
                      p + ": cannot open: " + errnoMessage(error));
  }
  FdCloser closer{fd};
  struct stat info;
  if (::fstat(fd, &info) != 0)
    return makeStatus(LCTXRT_IO_ERROR,
                      p + ": cannot stat: " + errnoMessage(errno));
  if (!S_ISREG(info.st_mode))
    return makeStatus(LCTXRT_IO_ERROR, p + ": not a regular file");
  const auto fileSize = static_cast<uint64_t>(info.st_size);
  if (fileSize < 8)
    return makeStatus(LCTXRT_FORMAT_ERROR,
                      p + ": file is " + std::to_string(fileSize) +
                          " bytes, shorter than the 8-byte header length");
  if (fileSize > SIZE_MAX)
    return makeStatus(LCTXRT_UNSUPPORTED,
                      p + ": file is too large to map on this platform");
  void *mapping = ::mmap(nullptr, static_cast<size_t>(fileSize), PROT_READ,
                         MAP_PRIVATE, fd, 0);
  if (mapping == MAP_FAILED) {
    int error = errno;
    return makeStatus(error == ENOMEM ? LCTXRT_OUT_OF_MEMORY : LCTXRT_IO_ERROR,
                      p + ": cannot mmap: " + errnoMessage(error));
  }
  file->mapping = mapping;
  file->mappingSize = static_cast<size_t>(fileSize);
  const auto *bytes = static_cast<const unsigned char *>(mapping);

  uint64_t headerSize = 0;
  for (int i = 7; i >= 0; --i)
    headerSize = (headerSize << 8) | bytes[i];
  if (headerSize > LCTXRT_SAFETENSORS_MAX_HEADER_SIZE)
    return makeStatus(LCTXRT_FORMAT_ERROR,
                      p + ": header length " + std::to_string(headerSize) +
                          " exceeds the limit of " +
                          std::to_string(LCTXRT_SAFETENSORS_MAX_HEADER_SIZE) +
                          " bytes");
  if (headerSize > fileSize - 8)
    return makeStatus(LCTXRT_FORMAT_ERROR,
                      p + ": header length " + std::to_string(headerSize) +
                          " exceeds the " + std::to_string(fileSize - 8) +
                          " bytes after the length field (truncated file?)");
  std::string_view header(reinterpret_cast<const char *>(bytes + 8),
                          static_cast<size_t>(headerSize));
  file->data = bytes + 8 + headerSize;
  HeaderValidator validator(p, fileSize - 8 - headerSize);
  if (lctxrt_status_t status =
          validator.validate(header, file->tensors, file->metadata))
    return status;
  file->byName.reserve(file->tensors.size());
  for (size_t i = 0; i < file->tensors.size(); ++i)
    file->byName.emplace(file->tensors[i].name, i);
  *out = file.release();
  return nullptr;
}

extern "C" {

lctxrt_status_t lctxrt_safetensors_open(const char *path,
                                        lctxrt_safetensors_t **out) {
  if (out)
    *out = nullptr;
  return lctxrt::guardStatus(__func__, [&]() -> lctxrt_status_t {
    if (!path || !out)
      return makeStatus(LCTXRT_INVALID_ARGUMENT,
                        "lctxrt_safetensors_open: NULL argument");
    return openImpl(path, out);
  });
}

void lctxrt_safetensors_close(lctxrt_safetensors_t *file) { delete file; }

const char *lctxrt_safetensors_path(const lctxrt_safetensors_t *file) {
  return file ? file->path.c_str() : nullptr;
}

size_t lctxrt_safetensors_num_tensors(const lctxrt_safetensors_t *file) {
  return file ? file->tensors.size() : 0;
}

lctxrt_status_t lctxrt_safetensors_tensor_info(const lctxrt_safetensors_t *file,
                                               size_t index,
                                               lctxrt_tensor_info_t *out_info) {
  if (out_info)
    std::memset(out_info, 0, sizeof(*out_info));
  return lctxrt::guardStatus(__func__, [&]() -> lctxrt_status_t {
    if (!file || !out_info)
      return makeStatus(LCTXRT_INVALID_ARGUMENT,
                        "lctxrt_safetensors_tensor_info: NULL argument");
    if (index >= file->tensors.size())
      return makeStatus(LCTXRT_INVALID_ARGUMENT,
                        file->path + ": tensor index " + std::to_string(index) +
                            " out of range (" +
                            std::to_string(file->tensors.size()) + " tensors)");
    file->fillInfo(file->tensors[index], *out_info);
    return nullptr;
  });
}

lctxrt_status_t lctxrt_safetensors_find(const lctxrt_safetensors_t *file,
                                        const char *name,
                                        lctxrt_tensor_info_t *out_info) {
  if (out_info)
    std::memset(out_info, 0, sizeof(*out_info));
  return lctxrt::guardStatus(__func__, [&]() -> lctxrt_status_t {
    if (!file || !name || !out_info)
      return makeStatus(LCTXRT_INVALID_ARGUMENT,
                        "lctxrt_safetensors_find: NULL argument");
    auto it = file->byName.find(name);
    if (it == file->byName.end())
      return makeStatus(LCTXRT_NOT_FOUND,
                        file->path + ": no tensor named '" + name + "'");
    file->fillInfo(file->tensors[it->second], *out_info);
    return nullptr;
  });
}

const char *lctxrt_safetensors_metadata(const lctxrt_safetensors_t *file,
                                        const char *key) {
  if (!file || !key)
    return nullptr;
  for (const auto &[entryKey, value] : file->metadata)
    if (entryKey == key)
      return value.c_str();
  return nullptr;
}

size_t lctxrt_safetensors_num_metadata(const lctxrt_safetensors_t *file) {
  return file ? file->metadata.size() : 0;
}

lctxrt_status_t
lctxrt_safetensors_metadata_entry(const lctxrt_safetensors_t *file,
                                  size_t index, const char **out_key,
                                  const char **out_value) {
  if (out_key)
    *out_key = nullptr;
  if (out_value)
    *out_value = nullptr;
  return lctxrt::guardStatus(__func__, [&]() -> lctxrt_status_t {
    if (!file || !out_key || !out_value)
      return makeStatus(LCTXRT_INVALID_ARGUMENT,
                        "lctxrt_safetensors_metadata_entry: NULL argument");
    if (index >= file->metadata.size())
      return makeStatus(LCTXRT_INVALID_ARGUMENT,
                        file->path + ": metadata index " +
                            std::to_string(index) + " out of range");
    *out_key = file->metadata[index].first.c_str();
    *out_value = file->metadata[index].second.c_str();
    return nullptr;
  });
}

} // extern "C"
