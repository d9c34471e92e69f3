//===- lctx-weights.cpp - Inspect safetensors weight files ------*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
///
/// \file
/// `lctx-weights FILE.safetensors` validates a safetensors file with lctxrt
/// and lists its metadata and tensors; `--check` only validates. Exit codes:
/// 0 success, 1 invalid or unreadable file, 2 usage error.
///
//===----------------------------------------------------------------------===//

#include "lctxrt/lctxrt.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

namespace {

void printUsage(std::FILE *stream) {
  std::fprintf(stream,
               "usage: lctx-weights [--check] FILE.safetensors\n"
               "\n"
               "Validates a safetensors file and lists its __metadata__ and\n"
               "tensors (name, dtype, shape, bytes) followed by totals.\n"
               "\n"
               "options:\n"
               "  --check   only validate; print 'FILE: OK' on success\n"
               "  --help    show this help\n"
               "\n"
               "exit status: 0 valid, 1 invalid or unreadable, 2 usage "
               "error\n");
}

std::string shapeString(const lctxrt::TensorInfo &info) {
  std::string out = "[";
  for (size_t i = 0; i < info.rank; ++i)
    out += (i ? ", " : "") + std::to_string(info.shape[i]);
  return out + "]";
}

int list(const lctxrt::SafetensorsFile &file) {
  for (const auto &[key, value] : file.metadataEntries())
    std::printf("metadata %.*s = %.*s\n", static_cast<int>(key.size()),
                key.data(), static_cast<int>(value.size()), value.data());

  struct Row {
    std::string name, dtype, shape, bytes;
  };
  std::vector<Row> rows;
  rows.push_back({"NAME", "DTYPE", "SHAPE", "BYTES"});
  size_t totalElements = 0, totalBytes = 0;
  for (size_t i = 0; i < file.numTensors(); ++i) {
    lctxrt::Expected<lctxrt::TensorInfo> info = file.tensor(i);
    if (!info.ok()) {
      std::fprintf(stderr, "lctx-weights: error: %s\n",
                   info.status().message());
      return 1;
    }
    rows.push_back({info->name, lctxrt_dtype_name(info->dtype),
                    shapeString(*info), std::to_string(info->byte_size)});
    totalElements += info->num_elements;
    totalBytes += info->byte_size;
  }
  size_t widths[3] = {0, 0, 0};
  for (const Row &row : rows) {
    widths[0] = std::max(widths[0], row.name.size());
    widths[1] = std::max(widths[1], row.dtype.size());
    widths[2] = std::max(widths[2], row.shape.size());
  }
  for (const Row &row : rows)
    std::printf("%-*s  %-*s  %-*s  %s\n", static_cast<int>(widths[0]),
                row.name.c_str(), static_cast<int>(widths[1]),
                row.dtype.c_str(), static_cast<int>(widths[2]),
                row.shape.c_str(), row.bytes.c_str());
  std::printf("total: %zu tensors, %zu elements, %zu bytes (%.2f MiB)\n",
              file.numTensors(), totalElements, totalBytes,
              static_cast<double>(totalBytes) / (1024.0 * 1024.0));
  return 0;
}

} // namespace

int main(int argc, char **argv) {
  bool checkOnly = false;
  const char *path = nullptr;
  bool endOfOptions = false;
  for (int i = 1; i < argc; ++i) {
    const char *arg = argv[i];
    if (!endOfOptions && arg[0] == '-' && arg[1] != '\0') {
      if (std::strcmp(arg, "--") == 0) {
        endOfOptions = true;
      } else if (std::strcmp(arg, "--help") == 0 ||
                 std::strcmp(arg, "-h") == 0) {
        printUsage(stdout);
        return 0;
      } else if (std::strcmp(arg, "--check") == 0) {
        checkOnly = true;
      } else {
        std::fprintf(stderr, "lctx-weights: error: unknown option '%s'\n", arg);
        printUsage(stderr);
        return 2;
      }
      continue;
    }
    if (path) {
      std::fprintf(stderr, "lctx-weights: error: expected one file\n");
      printUsage(stderr);
      return 2;
    }
    path = arg;
  }
  if (!path) {
    std::fprintf(stderr, "lctx-weights: error: no input file\n");
    printUsage(stderr);
    return 2;
  }

  lctxrt::Expected<lctxrt::SafetensorsFile> file =
      lctxrt::SafetensorsFile::open(path);
  if (!file.ok()) {
    std::fprintf(stderr, "lctx-weights: error: %s\n", file.status().message());
    return 1;
  }
  if (checkOnly) {
    std::printf("%s: OK (%zu tensors)\n", path, file->numTensors());
    return 0;
  }
  return list(*file);
}
