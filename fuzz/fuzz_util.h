//===- fuzz_util.h - Helpers shared by the lctx fuzz targets ----*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#ifndef LCTX_FUZZ_FUZZ_UTIL_H
#define LCTX_FUZZ_FUZZ_UTIL_H

#include "lctxrt/lctxrt.h"

#include <cstddef>
#include <cstdint>
#include <string>

namespace lctx::fuzz {

/// Reports a broken invariant of the code under test and aborts, so that
/// libFuzzer records the input as a crash.
[[noreturn]] void fail(const std::string &what);

/// Aborts unless \p condition holds.
inline void check(bool condition, const char *what) {
  if (!condition)
    fail(what);
}

/// An in-memory file (memfd) that the runtime can open by path
/// (/proc/self/fd/N). One per process, rewritten for every input.
class MemFile {
public:
  explicit MemFile(const char *label);
  ~MemFile();
  MemFile(const MemFile &) = delete;
  MemFile &operator=(const MemFile &) = delete;

  /// Replaces the contents with \p size bytes at \p data.
  void assign(const void *data, size_t size);
  const std::string &path() const { return path_; }

private:
  int fd_ = -1;
  std::string path_;
};

/// Consumes a status of the runtime: NULL or any documented error code is
/// fine; LCTXRT_INTERNAL (a bug in lctxrt), an out-of-range code or an empty
/// message is a failure.
void consume(lctxrt_status_t status);

/// Reads every byte of \p size bytes at \p data (ASan checks the access)
/// and returns their sum, so that the reads are not optimized away.
uint64_t touch(const void *data, size_t size);

/// A private scratch directory under $TMPDIR (or /tmp), created on first use.
const std::string &scratchDir();

} // namespace lctx::fuzz

#endif // LCTX_FUZZ_FUZZ_UTIL_H
