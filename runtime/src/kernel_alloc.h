//===- kernel_alloc.h - Heap allocations of compiled code -------*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
///
/// \file
/// Compiled code allocates its temporaries through the exported slot
/// `lctx_rt_alloc_hook` (docs/artifact.md). The loader points it at
/// kernelAlloc, and sessions call entry points through callEntry: when an
/// allocation fails on the calling thread, the call unwinds to callEntry,
/// which reports it, so that out-of-memory is a status and never a null
/// dereference. (On an OpenMP worker thread, where nothing can unwind, the
/// process stops with a message naming the size.)
///
//===----------------------------------------------------------------------===//

#ifndef LCTXRT_SRC_KERNEL_ALLOC_H
#define LCTXRT_SRC_KERNEL_ALLOC_H

#include <cstddef>

namespace lctxrt {

using EntryFunction = void (*)(void **);

/// The allocation hook the loader installs: `align`-aligned `size` bytes,
/// released with free().
extern "C" void *kernelAlloc(size_t align, size_t size);

/// Calls `fn(args)`. Returns false if compiled code could not allocate
/// (`failedBytes` is then the size it asked for); the call's outputs and
/// new state are then unspecified and must not be used.
bool callEntry(EntryFunction fn, void **args, size_t &failedBytes);

} // namespace lctxrt

#endif // LCTXRT_SRC_KERNEL_ALLOC_H
