//===- kernel_alloc_test.cc - Allocations of compiled code ------*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
///
/// \file
/// The allocator behind `lctx_rt_alloc_hook`: large blocks are kept warm
/// (a freed block is reused by the next allocation of its size, so repeated
/// calls of an entry point do not fault fresh pages in), small ones go to
/// the C library, and alignment is honoured either way.
///
//===----------------------------------------------------------------------===//

#include "kernel_alloc.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <set>
#include <vector>

namespace {

using lctxrt::kernelAlloc;
using lctxrt::kernelFree;

bool aligned(void *p, size_t a) {
  return reinterpret_cast<uintptr_t>(p) % a == 0;
}

TEST(KernelAlloc, LargeBlocksAreReusedBySize) {
  const size_t mib = size_t(1) << 20;
  void *a = kernelAlloc(64, 3 * mib);
  ASSERT_NE(a, nullptr);
  EXPECT_TRUE(aligned(a, 64));
  std::memset(a, 1, 3 * mib);
  kernelFree(a);
  // The same size comes back warm; another size does not take it.
  void *other = kernelAlloc(64, 3 * mib + 4096);
  EXPECT_NE(other, a);
  void *again = kernelAlloc(16, 3 * mib);
  EXPECT_EQ(again, a);
  kernelFree(again);
  kernelFree(other);
}

TEST(KernelAlloc, EveryFreedBlockOfASizeIsReused) {
  const size_t size = size_t(5) << 19;
  std::set<void *> first;
  std::vector<void *> blocks;
  for (int i = 0; i < 3; ++i) {
    blocks.push_back(kernelAlloc(64, size));
    ASSERT_NE(blocks.back(), nullptr);
    first.insert(blocks.back());
  }
  EXPECT_EQ(first.size(), 3u);
  for (void *b : blocks)
    kernelFree(b);
  std::set<void *> second;
  for (int i = 0; i < 3; ++i)
    second.insert(kernelAlloc(64, size));
  EXPECT_EQ(first, second);
  for (void *b : second)
    kernelFree(b);
}

TEST(KernelAlloc, SmallBlocksAndLargeAlignments) {
  void *small = kernelAlloc(32, 100);
  ASSERT_NE(small, nullptr);
  EXPECT_TRUE(aligned(small, 32));
  kernelFree(small);
  // An alignment beyond the cache's 64 bytes still holds.
  void *page = kernelAlloc(4096, size_t(1) << 20);
  ASSERT_NE(page, nullptr);
  EXPECT_TRUE(aligned(page, 4096));
  kernelFree(page);
}

} // namespace
