//===- kernel_alloc.cc - Heap allocations of compiled code ----------------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#include "kernel_alloc.h"

#include <algorithm>
#include <atomic>
#include <csetjmp>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <unordered_map>

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

std::atomic<int (*)()> gInParallel{nullptr};

/// The reserve for allocations that fail inside a parallel region: a bump
/// region set aside at the first call (while memory is available), reset
/// when no call is running.
constexpr size_t kReserveBytes = size_t(64) << 20;
std::mutex gReserveMutex;
unsigned char *gReserve = nullptr;
size_t gReserveUsed = 0;
int gActiveCalls = 0;

bool inParallelRegion() {
  int (*query)() = gInParallel.load(std::memory_order_relaxed);
  return query && query() != 0;
}

void *fromReserve(size_t align, size_t size) {
  std::lock_guard<std::mutex> lock(gReserveMutex);
  if (gReserve) {
    size_t start = (gReserveUsed + align - 1) / align * align;
    if (start <= kReserveBytes && size <= kReserveBytes - start) {
      gReserveUsed = start + size;
      return gReserve + start;
    }
  }
  return nullptr;
}

void enterCall() {
  std::lock_guard<std::mutex> lock(gReserveMutex);
  if (!gReserve) {
    void *block = nullptr;
    if (::posix_memalign(&block, 4096, kReserveBytes) == 0)
      gReserve = static_cast<unsigned char *>(block);
  }
  ++gActiveCalls;
}

void leaveCall() {
  std::lock_guard<std::mutex> lock(gReserveMutex);
  if (--gActiveCalls == 0)
    gReserveUsed = 0;
}

/// Large temporaries are kept warm: a freed block of at least kWarmMin
/// bytes goes to a cache keyed by its size, and the next allocation of that
/// size (the same temporaries come back on every call of an entry point)
/// reuses it, pages already mapped, instead of the C library unmapping it
/// and the next call faulting fresh pages in (a quarter of a prefill's
/// time, measured). The cache holds at most LCTXRT_KERNEL_CACHE_BYTES
/// (default 1 GiB); blocks beyond it go back to the C library.
constexpr size_t kWarmMin = size_t(256) << 10;
constexpr size_t kWarmAlign = 64;

size_t warmLimit() {
  static const size_t limit = [] {
    const char *text = std::getenv("LCTXRT_KERNEL_CACHE_BYTES");
    if (!text || !*text)
      return size_t(1) << 30;
    char *end = nullptr;
    unsigned long long v = std::strtoull(text, &end, 10);
    return *end ? size_t(1) << 30 : static_cast<size_t>(v);
  }();
  return limit;
}

std::mutex gWarmMutex;
/// Large blocks handed out, with their sizes.
std::unordered_map<void *, size_t> gWarmLive;
/// Freed large blocks by size.
std::unordered_multimap<size_t, void *> gWarmFree;
size_t gWarmFreeBytes = 0;

void *warmAlloc(size_t align, size_t size) {
  std::lock_guard<std::mutex> lock(gWarmMutex);
  if (auto it = gWarmFree.find(size); it != gWarmFree.end()) {
    void *block = it->second;
    gWarmFree.erase(it);
    gWarmFreeBytes -= size;
    gWarmLive.emplace(block, size);
    return block;
  }
  void *block = nullptr;
  if (::posix_memalign(&block, std::max(align, kWarmAlign), size) != 0)
    return nullptr;
  gWarmLive.emplace(block, size);
  return block;
}

/// Returns whether `block` was a large block (now cached or released).
bool warmFree(void *block) {
  std::lock_guard<std::mutex> lock(gWarmMutex);
  auto it = gWarmLive.find(block);
  if (it == gWarmLive.end())
    return false;
  size_t size = it->second;
  gWarmLive.erase(it);
  if (gWarmFreeBytes + size <= warmLimit()) {
    gWarmFree.emplace(size, block);
    gWarmFreeBytes += size;
  } else {
    std::free(block);
  }
  return true;
}

} // namespace

void lctxrt::setInParallelQuery(int (*query)()) {
  if (query)
    gInParallel.store(query, std::memory_order_relaxed);
}

extern "C" void *lctxrt::kernelAlloc(size_t align, size_t size) {
  void *block = nullptr;
  align = std::max(align, sizeof(void *));
  if (size <= allocationLimit()) {
    if (size >= kWarmMin && align <= kWarmAlign) {
      if ((block = warmAlloc(align, size)))
        return block;
    } else if (::posix_memalign(&block, align, size ? size : 1) == 0) {
      return block;
    }
  }
  if (tUnwind && !inParallelRegion()) {
    tFailedBytes = size;
    std::longjmp(*tUnwind, 1);
  }
  if (void *reserved = fromReserve(align, size ? size : 1))
    return reserved;
  std::fprintf(stderr,
               "lctxrt: fatal: compiled code could not allocate %zu bytes "
               "inside a parallel region, and the %zu-byte reserve for that "
               "is exhausted (out of memory)\n",
               size, kReserveBytes);
  std::abort();
}

extern "C" void lctxrt::kernelFree(void *block) {
  auto *p = static_cast<unsigned char *>(block);
  {
    std::lock_guard<std::mutex> lock(gReserveMutex);
    if (gReserve && p >= gReserve && p < gReserve + kReserveBytes)
      return; // reclaimed when no call is running
  }
  if (warmFree(block))
    return;
  std::free(block);
}

// Nothing with a destructor lives in this frame or in the compiled code's
// frames that longjmp skips.
bool lctxrt::callEntry(EntryFunction fn, void **args, size_t &failedBytes) {
  enterCall();
  std::jmp_buf unwind;
  std::jmp_buf *outer = tUnwind;
  if (setjmp(unwind) != 0) {
    tUnwind = outer;
    failedBytes = tFailedBytes;
    leaveCall();
    return false;
  }
  tUnwind = &unwind;
  fn(args);
  tUnwind = outer;
  leaveCall();
  return true;
}
