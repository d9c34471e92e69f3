//===- kernel_alloc.cc - Heap allocations of compiled code ----------------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#include "kernel_alloc.h"

#include <algorithm>
#include <csetjmp>
#include <cstdio>
#include <cstdlib>

namespace {

/// LCTXRT_KERNEL_ALLOC_LIMIT (bytes): a larger single allocation of
/// compiled code fails as if memory were exhausted. For tests of the
/// out-of-memory path; unset, only the C library limits allocations.
size_t allocationLimit() {
  static const size_t limit = [] {
    const char *text = std::getenv("LCTXRT_KERNEL_ALLOC_LIMIT");
    if (!text || !*text)
      return static_cast<size_t>(-1);
    char *end = nullptr;
    unsigned long long v = std::strtoull(text, &end, 10);
    return *end ? static_cast<size_t>(-1) : static_cast<size_t>(v);
  }();
  return limit;
}

/// Where a failed allocation on this thread unwinds to (set while an entry
/// point runs on it), and what it asked for.
thread_local std::jmp_buf *tUnwind = nullptr;
thread_local size_t tFailedBytes = 0;

} // namespace

extern "C" void *lctxrt::kernelAlloc(size_t align, size_t size) {
  void *block = nullptr;
  align = std::max(align, sizeof(void *));
  if (size <= allocationLimit() &&
      ::posix_memalign(&block, align, size ? size : 1) == 0)
    return block;
  if (tUnwind) {
    tFailedBytes = size;
    std::longjmp(*tUnwind, 1);
  }
  std::fprintf(stderr,
               "lctxrt: fatal: compiled code could not allocate %zu bytes on "
               "a worker thread (out of memory)\n",
               size);
  std::abort();
}

// Nothing with a destructor lives in this frame or in the compiled code's
// frames that longjmp skips.
bool lctxrt::callEntry(EntryFunction fn, void **args, size_t &failedBytes) {
  std::jmp_buf unwind;
  std::jmp_buf *outer = tUnwind;
  if (setjmp(unwind) != 0) {
    tUnwind = outer;
    failedBytes = tFailedBytes;
    return false;
  }
  tUnwind = &unwind;
  fn(args);
  tUnwind = outer;
  return true;
}
