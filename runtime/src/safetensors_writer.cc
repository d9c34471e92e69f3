//===- safetensors_writer.cc - Safetensors writer ---------------*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
///
/// \file
/// Writes safetensors files that the reference implementation accepts: the
/// data section is contiguous (no gaps), the header is space-padded to a
/// multiple of 8 bytes, and tensors are laid out by decreasing element size,
/// which keeps every tensor aligned to its element size.
///
//===----------------------------------------------------------------------===//

#include "json.h"
#include "status.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <string>
#include <string_view>
#include <system_error>
#include <unordered_set>
#include <vector>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

using lctxrt::makeStatus;

namespace {

std::string errnoMessage(int error) {
  return std::error_code(error, std::generic_category()).message();
}

/// Writes all of [data, data + size) to \p fd; returns 0 or an errno value.
int writeAll(int fd, const void *data, size_t size) {
  const auto *bytes = static_cast<const unsigned char *>(data);
  while (size > 0) {
    ssize_t written = ::write(fd, bytes, size);
    if (written < 0) {
      if (errno == EINTR)
        continue;
      return errno;
    }
    bytes += written;
    size -= static_cast<size_t>(written);
  }
  return 0;
}

class Writer {
public:
  Writer(const char *path, size_t numTensors,
         const lctxrt_tensor_view_t *tensors, size_t numMetadata,
         const lctxrt_metadata_entry_t *metadata)
      : path(path), numTensors(numTensors), tensors(tensors),
        numMetadata(numMetadata), metadata(metadata) {}

  lctxrt_status_t run() {
    if (lctxrt_status_t status = validate())
      return status;
    std::string header = buildHeader();
    if (header.size() > LCTXRT_SAFETENSORS_MAX_HEADER_SIZE)
      return invalid("header of " + std::to_string(header.size()) +
                     " bytes exceeds the limit of " +
                     std::to_string(LCTXRT_SAFETENSORS_MAX_HEADER_SIZE));
    return writeFile(header);
  }

private:
  lctxrt_status_t invalid(const std::string &message) const {
    return makeStatus(LCTXRT_INVALID_ARGUMENT, path + ": " + message);
  }
  lctxrt_status_t validate();
  std::string buildHeader();
  lctxrt_status_t writeFile(const std::string &header) const;

  std::string path;
  size_t numTensors;
  const lctxrt_tensor_view_t *tensors;
  size_t numMetadata;
  const lctxrt_metadata_entry_t *metadata;
  /// Data offsets of each tensor, relative to the data section.
  std::vector<uint64_t> begins;
  /// Tensor indices in data-section order.
  std::vector<size_t> layout;
};

lctxrt_status_t Writer::validate() {
  if (numTensors > 0 && !tensors)
    return invalid("NULL tensor array");
  if (numMetadata > 0 && !metadata)
    return invalid("NULL metadata array");
  std::unordered_set<std::string_view> names;
  for (size_t i = 0; i < numTensors; ++i) {
    const lctxrt_tensor_view_t &t = tensors[i];
    std::string where = "tensor #" + std::to_string(i);
    if (!t.name || !*t.name)
      return invalid(where + " has no name");
    std::string_view name = t.name;
    where = "tensor '" + std::string(name) + "'";
    if (name == "__metadata__")
      return invalid(where + ": the name is reserved");
    if (!lctxrt::json::isValidUtf8(name))
      return invalid(where + ": the name is not valid UTF-8");
    if (!names.insert(name).second)
      return invalid(where + ": duplicate name");
    size_t elementSize = lctxrt_dtype_size(t.dtype);
    if (elementSize == 0)
      return invalid(where + ": invalid dtype " +
                     std::to_string(static_cast<int>(t.dtype)));
    if (t.rank > LCTXRT_MAX_RANK)
      return invalid(where + ": rank " + std::to_string(t.rank) +
                     " exceeds the maximum rank " +
                     std::to_string(LCTXRT_MAX_RANK));
    if (t.rank > 0 && !t.shape)
      return invalid(where + ": NULL shape");
    bool hasZeroDim = false;
    std::string shape = "[";
    for (size_t d = 0; d < t.rank; ++d) {
      if (t.shape[d] < 0)
        return invalid(where + ": negative dimension " +
                       std::to_string(t.shape[d]));
      hasZeroDim |= t.shape[d] == 0;
      shape += (d ? ", " : "") + std::to_string(t.shape[d]);
    }
    shape += "]";
    uint64_t bytes = hasZeroDim ? 0 : elementSize;
    bool overflow = false;
    for (size_t d = 0; !hasZeroDim && !overflow && d < t.rank; ++d) {
      auto dim = static_cast<uint64_t>(t.shape[d]);
      overflow = bytes > UINT64_MAX / dim;
      bytes *= dim;
    }
    if (overflow || bytes != t.byte_size)
      return invalid(where + ": byte_size " + std::to_string(t.byte_size) +
                     " but shape " + shape + " of " +
                     lctxrt_dtype_name(t.dtype) + " needs " +
                     (overflow ? "more than 2^64" : std::to_string(bytes)));
    if (t.byte_size > 0 && !t.data)
      return invalid(where + ": NULL data");
  }
  std::unordered_set<std::string_view> keys;
  for (size_t i = 0; i < numMetadata; ++i) {
    const lctxrt_metadata_entry_t &entry = metadata[i];
    std::string where = "metadata entry #" + std::to_string(i);
    if (!entry.key || !entry.value)
      return invalid(where + " has a NULL key or value");
    if (!lctxrt::json::isValidUtf8(entry.key) ||
        !lctxrt::json::isValidUtf8(entry.value))
      return invalid(where + " is not valid UTF-8");
    if (!keys.insert(entry.key).second)
      return invalid(where + ": duplicate key '" + entry.key + "'");
  }

  // Decreasing element size keeps each offset a multiple of the element
  // size: all sizes are powers of two and every earlier tensor's byte size
  // is a multiple of its (larger or equal) element size.
  layout.resize(numTensors);
  for (size_t i = 0; i < numTensors; ++i)
    layout[i] = i;
  // (std::stable_sort trips a libstdc++ deprecation warning with clang.)
  std::sort(layout.begin(), layout.end(), [&](size_t a, size_t b) {
    size_t sizeA = lctxrt_dtype_size(tensors[a].dtype);
    size_t sizeB = lctxrt_dtype_size(tensors[b].dtype);
    return sizeA != sizeB ? sizeA > sizeB : a < b;
  });
  begins.assign(numTensors, 0);
  uint64_t offset = 0;
  for (size_t index : layout) {
    begins[index] = offset;
    offset += tensors[index].byte_size;
  }
  return nullptr;
}

std::string Writer::buildHeader() {
  using lctxrt::json::quote;
  std::string header = "{";
  if (numMetadata > 0) {
    header += "\"__metadata__\":{";
    for (size_t i = 0; i < numMetadata; ++i)
      header += (i ? "," : "") + quote(metadata[i].key) + ":" +
                quote(metadata[i].value);
    header += "}";
  }
  for (size_t i = 0; i < numTensors; ++i) {
    const lctxrt_tensor_view_t &t = tensors[i];
    if (i > 0 || numMetadata > 0)
      header += ",";
    header += quote(t.name) + ":{\"dtype\":\"" + lctxrt_dtype_name(t.dtype) +
              "\",\"shape\":[";
    for (size_t d = 0; d < t.rank; ++d)
      header += (d ? "," : "") + std::to_string(t.shape[d]);
    header += "],\"data_offsets\":[" + std::to_string(begins[i]) + "," +
              std::to_string(begins[i] + t.byte_size) + "]}";
  }
  header += "}";
  header.append((8 - header.size() % 8) % 8, ' ');
  return header;
}

lctxrt_status_t Writer::writeFile(const std::string &header) const {
  // Written to <path>.tmp and renamed, so that a reader never sees half a
  // file; a path that exists and is not a regular file (/dev/null, a pipe)
  // is written in place instead, never replaced.
  struct stat existing;
  const bool special =
      ::stat(path.c_str(), &existing) == 0 && !S_ISREG(existing.st_mode);
  const std::string tmpPath = special ? path : path + ".tmp";
  int fd =
      ::open(tmpPath.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  if (fd < 0) {
    int error = errno;
    return makeStatus(LCTXRT_IO_ERROR,
                      tmpPath + ": cannot create: " + errnoMessage(error));
  }
  unsigned char prefix[8];
  uint64_t headerSize = header.size();
  for (int i = 0; i < 8; ++i)
    prefix[i] = static_cast<unsigned char>(headerSize >> (8 * i));
  int error = writeAll(fd, prefix, sizeof(prefix));
  if (!error)
    error = writeAll(fd, header.data(), header.size());
  for (size_t i = 0; !error && i < layout.size(); ++i)
    error = writeAll(fd, tensors[layout[i]].data, tensors[layout[i]].byte_size);
  if (::close(fd) != 0 && !error)
    error = errno;
  if (!error && !special && std::rename(tmpPath.c_str(), path.c_str()) != 0)
    error = errno;
  if (error) {
    if (!special)
      ::unlink(tmpPath.c_str());
    return makeStatus(LCTXRT_IO_ERROR,
                      path + ": cannot write: " + errnoMessage(error));
  }
  return nullptr;
}

} // namespace

extern "C" lctxrt_status_t lctxrt_safetensors_write(
    const char *path, size_t num_tensors, const lctxrt_tensor_view_t *tensors,
    size_t num_metadata, const lctxrt_metadata_entry_t *metadata) {
  return lctxrt::guardStatus(__func__, [&]() -> lctxrt_status_t {
    if (!path || !*path)
      return makeStatus(LCTXRT_INVALID_ARGUMENT,
                        "lctxrt_safetensors_write: NULL or empty path");
    return Writer(path, num_tensors, tensors, num_metadata, metadata).run();
  });
}
