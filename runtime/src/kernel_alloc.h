//===- kernel_alloc.h - Heap allocations of compiled code -------*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
///
/// \file
/// Compiled code allocates its temporaries through the exported slots
/// `lctx_rt_alloc_hook` / `lctx_rt_free_hook` (docs/artifact.md). The
/// loader points them at kernelAlloc / kernelFree, and sessions call entry
/// points through callEntry: when an allocation fails on the calling thread
/// outside a parallel region, the call unwinds to callEntry, which reports
/// it, so that out-of-memory is a status and never a null dereference.
/// Inside a parallel region (on any thread of the team) nothing can unwind:
/// the block comes from a reserve set aside while memory was available, the
/// call completes, and its result is correct. Only an exhausted reserve
/// stops the process, with a message naming the size.
///
//===----------------------------------------------------------------------===//

#ifndef LCTXRT_SRC_KERNEL_ALLOC_H
#define LCTXRT_SRC_KERNEL_ALLOC_H

#include <cstddef>

namespace lctxrt {

using EntryFunction = void (*)(void **);

/// The allocation hooks the loader installs: `align`-aligned `size` bytes,
/// released with kernelFree().
extern "C" void *kernelAlloc(size_t align, size_t size);
extern "C" void kernelFree(void *block);

/// Tells the allocator how to know whether the current thread runs inside
/// an OpenMP parallel region (the code's `omp_in_parallel`), where a failed
/// allocation must not unwind.
void setInParallelQuery(int (*query)());

/// Calls `fn(args)`. Returns false if compiled code could not allocate
/// (`failedBytes` is then the size it asked for); the call's outputs and
/// new state are then unspecified and must not be used.
bool callEntry(EntryFunction fn, void **args, size_t &failedBytes);

} // namespace lctxrt

#endif // LCTXRT_SRC_KERNEL_ALLOC_H
