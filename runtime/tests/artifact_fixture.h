//===- artifact_fixture.h - GoogleTest fixture for artifacts ----*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
///
/// \file
/// A fixture that writes artifacts around the test kernel into a temporary
/// directory and checks how opening them fails. The build passes the paths
/// of the kernels as LCTXRT_TEST_KERNEL, LCTXRT_TEST_KERNEL3 and
/// LCTXRT_TEST_KERNEL_UNDEFINED.
///
//===----------------------------------------------------------------------===//

#ifndef LCTXRT_TESTS_ARTIFACT_FIXTURE_H
#define LCTXRT_TESTS_ARTIFACT_FIXTURE_H

#include "artifact_test_util.h"
#include "test_util.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <new>
#include <stdexcept>
#include <string>
#include <vector>

namespace lctxrt::test {

/// Reads (once) and returns the bytes of a test kernel: 2 (axpy by 2), 3
/// (by 3), 4 (by 2, marked NODELETE), otherwise one that cannot load.
inline const std::string &kernelBytes(int which = 2) {
  static const std::string scale2 = readBytes(LCTXRT_TEST_KERNEL);
  static const std::string scale3 = readBytes(LCTXRT_TEST_KERNEL3);
  static const std::string nodelete = readBytes(LCTXRT_TEST_KERNEL_NODELETE);
  static const std::string undefined = readBytes(LCTXRT_TEST_KERNEL_UNDEFINED);
  return which == 2   ? scale2
         : which == 3 ? scale3
         : which == 4 ? nodelete
                      : undefined;
}

class ArtifactTest : public ::testing::Test {
protected:
  /// Writes \p image to \p name in the temporary directory; returns the path.
  std::string writeImage(const std::string &image,
                         const std::string &name = "test.lctx") {
    std::string path = dir.path(name);
    writeFile(path, image);
    return path;
  }

  /// Returns the image of \p manifest plus the test kernel.
  static std::string imageOf(const std::string &manifest, int kernel = 2) {
    return artifactImage(standardSections(manifest, kernelBytes(kernel)));
  }

  /// Writes and opens an artifact of \p manifest (and kernel \p kernel).
  Expected<Artifact> open(const std::string &manifest, int kernel = 2,
                          const std::string &name = "test.lctx") {
    return Artifact::open(writeImage(imageOf(manifest, kernel), name));
  }

  /// Checks that opening \p path fails with \p code, leaves *out NULL, and
  /// gives a message that starts with the path and contains \p substring.
  ::testing::AssertionResult openPathFails(const std::string &path,
                                           lctxrt_status_code_t code,
                                           const std::string &substring) {
    auto *sentinel = reinterpret_cast<lctxrt_artifact_t *>(&dir);
    lctxrt_artifact_t *artifact = sentinel;
    Status status(lctxrt_artifact_open(path.c_str(), &artifact));
    std::string message = status.message();
    if (status.ok()) {
      lctxrt_artifact_close(artifact);
      return ::testing::AssertionFailure() << "opened successfully";
    }
    if (artifact != nullptr)
      return ::testing::AssertionFailure() << "*out not cleared";
    if (status.code() != code)
      return ::testing::AssertionFailure()
             << "code " << lctxrt_status_code_name(status.code())
             << ", expected " << lctxrt_status_code_name(code) << ": "
             << message;
    if (message.rfind(path + ": ", 0) != 0)
      return ::testing::AssertionFailure()
             << "message does not start with the path: " << message;
    if (message.find(substring) == std::string::npos)
      return ::testing::AssertionFailure()
             << "message lacks '" << substring << "': " << message;
    return ::testing::AssertionSuccess();
  }

  /// Like openPathFails() for an artifact holding \p image.
  ::testing::AssertionResult openFails(const std::string &image,
                                       lctxrt_status_code_t code,
                                       const std::string &substring) {
    return openPathFails(writeImage(image, "bad.lctx"), code, substring);
  }

  /// Like openFails() for the artifact of \p manifest and the test kernel;
  /// for a manifest rule (\p inManifest) the message must also start with
  /// "<path>: manifest: ".
  ::testing::AssertionResult manifestFails(const std::string &manifest,
                                           lctxrt_status_code_t code,
                                           const std::string &substring,
                                           bool inManifest = true) {
    std::string path = writeImage(imageOf(manifest), "bad.lctx");
    if (inManifest) {
      ::testing::AssertionResult prefix =
          openPathFails(path, code, path + ": manifest: ");
      if (!prefix)
        return prefix;
    }
    return openPathFails(path, code, substring);
  }

  TempDir dir;
};

/// Returns \p text with the first \p from replaced by \p to; throws if
/// \p from does not occur.
inline std::string replaced(std::string text, const std::string &from,
                            const std::string &to) {
  size_t at = text.find(from);
  if (at == std::string::npos)
    throw std::logic_error("'" + from + "' not in " + text);
  return text.replace(at, from.size(), to);
}

/// \p count elements of T at \p offset bytes past a 64-byte boundary, so
/// that tests control the alignment the runtime sees.
template <typename T> class AlignedArray {
public:
  explicit AlignedArray(size_t count, size_t offset = 0)
      : raw(std::aligned_alloc(64, (count * sizeof(T) + offset + 64) / 64 * 64 +
                                       64)),
        ptr(reinterpret_cast<T *>(static_cast<char *>(raw) + offset)),
        count(count) {
    if (!raw)
      throw std::bad_alloc();
    std::memset(raw, 0, count * sizeof(T) + offset);
  }
  AlignedArray(const AlignedArray &) = delete;
  AlignedArray &operator=(const AlignedArray &) = delete;
  ~AlignedArray() { std::free(raw); }
  T *data() const { return ptr; }
  T &operator[](size_t i) const { return ptr[i]; }
  size_t bytes() const { return count * sizeof(T); }

private:
  void *raw;
  T *ptr;
  size_t count;
};

/// Returns a view of \p bytes bytes at \p data.
inline lctxrt_tensor_view_t view(const char *name, lctxrt_dtype_t dtype,
                                 const std::vector<int64_t> &shape,
                                 const void *data, size_t bytes) {
  return {name, dtype, shape.size(), shape.data(), data, bytes};
}

/// Byte offset of field \p field (0 kind, 4 flags, 8 offset, 16 size, 24
/// name) of section table entry \p index.
inline size_t entryField(size_t index, size_t field) {
  return kArtifactHeaderSize + kArtifactSectionEntrySize * index + field;
}

inline void setU32(std::string &image, size_t at, uint32_t value) {
  storeLE32(reinterpret_cast<unsigned char *>(&image[at]), value);
}
inline void setU64(std::string &image, size_t at, uint64_t value) {
  storeLE64(reinterpret_cast<unsigned char *>(&image[at]), value);
}
inline uint64_t getU64(const std::string &image, size_t at) {
  return loadLE64(reinterpret_cast<const unsigned char *>(&image[at]));
}

} // namespace lctxrt::test

#endif // LCTXRT_TESTS_ARTIFACT_FIXTURE_H
