//===- Passes.h - The cuda target's passes (internal) -----------*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
///
/// \file
/// The passes buildCUDAPipeline (CUDA.cpp) strings together, by stage:
///  - GPULowerings.cpp: GPU forms of lctx ops whose CPU lowerings are host
///    loops, and the entry points' argument attributes;
///  - GridMapping.cpp: loop nests onto the grid (copies as kernels, split
///    reductions, thread tiles and the block/thread mapping, one-thread
///    kernels for sequential host code);
///  - HostCode.cpp: the host side (library GEMM calls, asynchronous
///    launches and buffers on the runtime's stream, the host-code check,
///    one gpu.module);
///  - HostAccess.cpp: what host code may read and write itself.
///
//===----------------------------------------------------------------------===//

#ifndef LCTX_LIB_TARGET_CUDA_PASSES_H
#define LCTX_LIB_TARGET_CUDA_PASSES_H

#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/Operation.h"
#include "mlir/Pass/Pass.h"

#include <memory>

namespace mlir::lctx::cuda {

// GPULowerings.cpp
std::unique_ptr<Pass> createPrepareArgumentsPass();
std::unique_ptr<Pass> createPortableLoweringsPass();

// GridMapping.cpp
std::unique_ptr<Pass> createDeviceCopiesPass();
std::unique_ptr<Pass> createSplitReductionsPass();
std::unique_ptr<Pass> createTileForThreadsPass();
std::unique_ptr<Pass> createSerialKernelsPass();

// HostCode.cpp
std::unique_ptr<Pass> createLibraryGemmPass();
std::unique_ptr<Pass> createHostRuntimePass();
std::unique_ptr<Pass> createCheckHostCodePass();
std::unique_ptr<Pass> createMergeGPUModulesPass();

// HostAccess.cpp
/// The buffer a view is taken of (through view-like ops).
Value rootBuffer(Value buffer);
/// The root allocation of a buffer seen through views, if any.
memref::AllocOp rootAlloc(Value buffer);
/// Host-side bookkeeping that never holds model data (stack buffers, the
/// buffer-deallocation helper's arrays).
bool isHostScratch(Value buffer);
/// Whether `op`, in host code, would touch device memory on the host.
bool isHostMemoryAccess(Operation *op);

} // namespace mlir::lctx::cuda

#endif // LCTX_LIB_TARGET_CUDA_PASSES_H
