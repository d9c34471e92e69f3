//===- HostAccess.cpp - What host code may touch --------------------------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#include "Passes.h"

#include "lctx/Target/CUDA.h"

#include "lctx/Conversion/Passes.h"
#include "lctx/Dialect/LCtx/Transforms/Passes.h"
#include "lctx/Dialect/LCtx/IR/LCtxOps.h"
#include "lctx/Pipelines/Pipelines.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Conversion/Passes.h"
#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/Transforms/Passes.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Bufferization/Transforms/Passes.h"
#include "mlir/Dialect/Bufferization/Pipelines/Passes.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/GPU/Transforms/Passes.h"
#include "mlir/Dialect/GPU/Transforms/ParallelLoopMapper.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Passes.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/MemRef/Utils/MemRefUtils.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Interfaces/ViewLikeInterface.h"
#include "mlir/Dialect/SCF/Transforms/Passes.h"
#include "mlir/Dialect/SCF/Transforms/Transforms.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Target/LLVM/NVVM/Target.h"
#include "mlir/Target/LLVMIR/Dialect/GPU/GPUToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/NVVM/NVVMToLLVMIRTranslation.h"
#include "mlir/Transforms/Passes.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"

#include <cmath>
#include <functional>
#include <cstdlib>
#include <mutex>

using namespace mlir;
using namespace mlir::lctx;
using namespace mlir::lctx::cuda;


/// The buffer a view is taken of (through view-like ops).
Value cuda::rootBuffer(Value buffer) {
  while (Operation *def = buffer.getDefiningOp()) {
    auto view = dyn_cast<ViewLikeOpInterface>(def);
    if (!view)
      break;
    buffer = view.getViewSource();
  }
  return buffer;
}

/// Host-side bookkeeping that never holds model data: stack buffers, and
/// the arguments of the helper that buffer deallocation generates (arrays
/// of buffer addresses and ownership flags).
bool cuda::isHostScratch(Value buffer) {
  Value root = rootBuffer(buffer);
  if (root.getDefiningOp<memref::AllocaOp>())
    return true;
  auto arg = dyn_cast<BlockArgument>(root);
  auto func = arg ? dyn_cast<func::FuncOp>(arg.getOwner()->getParentOp())
                  : func::FuncOp();
  return func && func.isPrivate() &&
         func.getSymName().starts_with("dealloc_helper");
}

/// The root allocation of a buffer seen through views, if any.
memref::AllocOp cuda::rootAlloc(Value buffer) {
  while (Operation *def = buffer.getDefiningOp()) {
    if (auto alloc = dyn_cast<memref::AllocOp>(def))
      return alloc;
    auto view = dyn_cast<ViewLikeOpInterface>(def);
    if (!view)
      return {};
    buffer = view.getViewSource();
  }
  return {};
}

/// Whether `op`, in host code, would touch device memory on the host: a
/// memory access or a linalg op, except reads and writes of host
/// bookkeeping and of control scalars (positions, counters: integer
/// buffers of at most 8 elements, which the runtime keeps in host-visible
/// memory).
bool cuda::isHostMemoryAccess(Operation *op) {
  if (isa<memref::LoadOp, memref::StoreOp>(op)) {
    Value buffer = isa<memref::LoadOp>(op)
                       ? cast<memref::LoadOp>(op).getMemRef()
                       : cast<memref::StoreOp>(op).getMemRef();
    if (isHostScratch(buffer))
      return false;
    auto type = cast<MemRefType>(buffer.getType());
    if (type.hasStaticShape() && type.getNumElements() <= 8 &&
        type.getElementType().isIntOrIndex())
      return false;
    return true;
  }
  return isa<affine::AffineLoadOp, affine::AffineStoreOp,
             vector::TransferReadOp, vector::TransferWriteOp, vector::LoadOp,
             vector::StoreOp>(op) ||
         isa<linalg::LinalgDialect>(op->getDialect());
}
