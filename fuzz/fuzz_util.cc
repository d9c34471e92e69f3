//===- fuzz_util.cc - Helpers shared by the lctx fuzz targets -------------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#include "fuzz_util.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include <sanitizer/common_interface_defs.h>
#include <sys/mman.h>
#include <unistd.h>

namespace lctx::fuzz {

void fail(const std::string &what) {
  // Through the sanitizer's report channel as well: -close_fd_mask=2 closes
  // stderr, and this message is the only description of the finding.
  const std::string message = "lctx-fuzz: invariant violated: " + what;
  std::fprintf(stderr, "%s\n", message.c_str());
  __sanitizer_report_error_summary(message.c_str());
  std::abort();
}

MemFile::MemFile(const char *label) {
  fd_ = ::memfd_create(label, MFD_CLOEXEC);
  if (fd_ < 0)
    fail(std::string("memfd_create: ") + std::strerror(errno));
  path_ = "/proc/self/fd/" + std::to_string(fd_);
}

MemFile::~MemFile() {
  if (fd_ >= 0)
    ::close(fd_);
}

void MemFile::assign(const void *data, size_t size) {
  if (::ftruncate(fd_, 0) != 0)
    fail(std::string("ftruncate: ") + std::strerror(errno));
  const auto *bytes = static_cast<const char *>(data);
  size_t done = 0;
  while (done < size) {
    ssize_t n = ::pwrite(fd_, bytes + done, size - done,
                         static_cast<off_t>(done));
    if (n <= 0)
      fail(std::string("pwrite: ") + std::strerror(errno));
    done += static_cast<size_t>(n);
  }
}

void consume(lctxrt_status_t status) {
  if (!status)
    return;
  const lctxrt_status_code_t code = lctxrt_status_code(status);
  const std::string message = lctxrt_status_message(status);
  lctxrt_status_free(status);
  if (code == LCTXRT_INTERNAL)
    fail("INTERNAL status (a bug in lctxrt): " + message);
  if (code <= LCTXRT_OK || code > LCTXRT_INTERNAL)
    fail("status with code " + std::to_string(code) + ": " + message);
  if (message.empty())
    fail("error status with an empty message");
}

uint64_t touch(const void *data, size_t size) {
  const auto *bytes = static_cast<const volatile unsigned char *>(data);
  uint64_t sum = 0;
  for (size_t i = 0; i < size; ++i)
    sum += bytes[i];
  return sum;
}

const std::string &scratchDir() {
  // Never destroyed, so that the exit handler below can still use it.
  static const std::string *dir = [] {
    const char *tmp = std::getenv("TMPDIR");
    auto *path = new std::string(std::string(tmp && *tmp ? tmp : "/tmp") +
                                 "/lctx-fuzz-XXXXXX");
    if (!::mkdtemp(path->data()))
      fail("mkdtemp " + *path + ": " + std::strerror(errno));
    std::atexit([] {
      std::error_code ignored;
      std::filesystem::remove_all(scratchDir(), ignored);
    });
    return path;
  }();
  return *dir;
}

} // namespace lctx::fuzz
