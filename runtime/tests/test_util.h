//===- test_util.h - Helpers shared by lctxrt-tests -------------*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#ifndef LCTXRT_TESTS_TEST_UTIL_H
#define LCTXRT_TESTS_TEST_UTIL_H

#include "lctxrt/lctxrt.hpp"

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <string_view>

namespace lctxrt::test {

/// A fresh temporary directory, removed with its contents on destruction.
class TempDir {
public:
  TempDir() {
    const char *base = std::getenv("TMPDIR");
    std::string pattern =
        std::string(base && *base ? base : "/tmp") + "/lctxrt-test-XXXXXX";
    if (!::mkdtemp(pattern.data()))
      throw std::runtime_error("mkdtemp failed for " + pattern);
    dir = pattern;
  }
  TempDir(const TempDir &) = delete;
  TempDir &operator=(const TempDir &) = delete;
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(dir, ignored);
  }
  /// Returns the path of \p name inside the directory.
  std::string path(const std::string &name) const { return dir + "/" + name; }

private:
  std::string dir;
};

/// Returns \p value as 8 little-endian bytes.
inline std::string u64le(uint64_t value) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i)
    out[i] = static_cast<char>(value >> (8 * i));
  return out;
}

/// Returns a safetensors file image: length prefix, \p header, \p data.
inline std::string fileImage(std::string_view header, std::string_view data) {
  return u64le(header.size()) + std::string(header) + std::string(data);
}

/// Writes \p bytes to \p path, replacing it.
inline void writeFile(const std::string &path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out.good())
    throw std::runtime_error("cannot write " + path);
}

/// Returns the contents of \p path.
inline std::string readFile(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw std::runtime_error("cannot read " + path);
  return std::string(std::istreambuf_iterator<char>(in),
                     std::istreambuf_iterator<char>());
}

} // namespace lctxrt::test

#endif // LCTXRT_TESTS_TEST_UTIL_H
