//===- HostCode.cpp - The GPU host code -----------------------------------===//
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


namespace {

/// The runtime's GEMM (docs/runtime-cuda.md): C = A B + beta C over a
/// strided batch, every operand given by its address and its strides in
/// elements (row-major names: A [batch, M, K], B [batch, K, N], C [batch,
/// M, N]), f32 with fp32 accumulation, on the runtime's stream:
///   mgpuLctxSgemm(batch, M, N, K, A, sAb, sAm, sAk, B, sBb, sBk, sBn,
///                 C, sCb, sCm, sCn, beta)      all i64
constexpr const char kGemmFunction[] = "mgpuLctxSgemm";

/// Dense f32 contractions at host level (linalg.matmul, batch_matmul,
/// their transposed forms and generic contractions such as attention's
/// Q K^T and P V) become calls of the runtime's GEMM (cuBLAS), when every
/// operand has a unit stride in one of its two matrix dimensions and the
/// batch dimensions collapse into one uniform stride. A zero fill of the
/// output just before it becomes beta = 0.
struct LibraryGemmPass
    : PassWrapper<LibraryGemmPass, OperationPass<ModuleOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(LibraryGemmPass)
  StringRef getArgument() const final { return "lctx-cuda-library-gemm"; }

  /// Loop-dimension strides of one operand: stride[d] for each loop d
  /// (0 where the operand does not use d). Fails on non-static strides.
  static LogicalResult loopStrides(linalg::LinalgOp op, OpOperand &operand,
                                   SmallVectorImpl<int64_t> &strides) {
    auto type = cast<MemRefType>(operand.get().getType());
    SmallVector<int64_t> memStrides;
    int64_t offset;
    if (failed(getStridesAndOffset(type, memStrides, offset)) ||
        llvm::any_of(memStrides, ShapedType::isDynamic))
      return failure();
    AffineMap map = op.getMatchingIndexingMap(&operand);
    strides.assign(op.getNumLoops(), 0);
    for (auto [i, expr] : llvm::enumerate(map.getResults())) {
      auto dim = dyn_cast<AffineDimExpr>(expr);
      if (!dim)
        return failure();
      strides[dim.getPosition()] += memStrides[i];
    }
    return success();
  }

  static bool rewrite(linalg::LinalgOp op, func::FuncOp callee) {
    if (!op.hasPureBufferSemantics() || op.getNumDpsInputs() != 2 ||
        op.getNumDpsInits() != 1 || !linalg::isaContractionOpInterface(op))
      return false;
    // scf.parallel nests go to the grid; scf.forall stays on the host.
    if (op->getParentOfType<scf::ParallelOp>())
      return false;
    for (OpOperand &operand : op->getOpOperands())
      if (!cast<MemRefType>(operand.get().getType()).getElementType().isF32())
        return false;
    FailureOr<linalg::ContractionDimensions> dims =
        linalg::inferContractionDims(op);
    if (failed(dims) || dims->m.size() != 1 || dims->n.size() != 1 ||
        dims->k.size() != 1)
      return false;
    SmallVector<int64_t> ranges = op.getStaticLoopRanges();
    if (llvm::any_of(ranges, ShapedType::isDynamic))
      return false;
    OpOperand *operands[3] = {op.getDpsInputOperand(0),
                              op.getDpsInputOperand(1),
                              op.getDpsInitOperand(0)};
    SmallVector<int64_t> strides[3];
    for (int i = 0; i < 3; ++i)
      if (failed(loopStrides(op, *operands[i], strides[i])))
        return false;
    unsigned m = dims->m[0], n = dims->n[0], k = dims->k[0];
    // Batch dimensions of extent > 1 must collapse into one: each one's
    // stride is the next one's extent times its stride, in every operand.
    SmallVector<unsigned> batch;
    for (unsigned d : dims->batch)
      if (ranges[d] > 1)
        batch.push_back(d);
    int64_t batchCount = 1;
    for (unsigned d : batch)
      batchCount *= ranges[d];
    for (int i = 0; i < 3; ++i)
      for (size_t j = 0; j + 1 < batch.size(); ++j)
        if (strides[i][batch[j]] !=
            ranges[batch[j + 1]] * strides[i][batch[j + 1]])
          return false;
    auto batchStride = [&](int i) {
      return batch.empty() ? 0 : strides[i][batch.back()];
    };
    // cuBLAS needs a unit stride in one matrix dimension of each operand.
    auto matrixOk = [&](int i, unsigned r, unsigned c) {
      return strides[i][r] == 1 || strides[i][c] == 1;
    };
    if (!matrixOk(0, m, k) || !matrixOk(1, k, n) || !matrixOk(2, m, n) ||
        strides[2][m] == 0 || strides[2][n] == 0)
      return false;

    OpBuilder b(op);
    Location loc = op.getLoc();
    Type i64 = b.getI64Type();
    auto cst = [&](int64_t v) -> Value {
      return b.create<arith::ConstantIntOp>(loc, v, 64);
    };
    // The address of an operand's first element, as i64.
    auto address = [&](Value buffer) -> Value {
      auto meta = b.create<memref::ExtractStridedMetadataOp>(loc, buffer);
      Value base = b.create<memref::ExtractAlignedPointerAsIndexOp>(
          loc, meta.getBaseBuffer());
      Value bytes = b.create<arith::MulIOp>(
          loc, meta.getOffset(), b.create<arith::ConstantIndexOp>(loc, 4));
      return b.create<arith::IndexCastOp>(
          loc, i64, b.create<arith::AddIOp>(loc, base, bytes));
    };
    // beta = 0 when the output was just zero-filled.
    int64_t beta = 1;
    Value out = operands[2]->get();
    if (auto fill =
            dyn_cast_or_null<linalg::FillOp>(op->getPrevNode())) {
      auto zero = fill.getInputs()[0].getDefiningOp<arith::ConstantOp>();
      auto value = zero ? dyn_cast<FloatAttr>(zero.getValue()) : FloatAttr();
      if (fill.getOutputs()[0] == out && value && value.getValue().isZero()) {
        beta = 0;
        fill.erase();
      }
    }
    SmallVector<Value> args = {cst(batchCount), cst(ranges[m]),
                               cst(ranges[n]), cst(ranges[k]),
                               address(operands[0]->get()), cst(batchStride(0)),
                               cst(strides[0][m]), cst(strides[0][k]),
                               address(operands[1]->get()), cst(batchStride(1)),
                               cst(strides[1][k]), cst(strides[1][n]),
                               address(out), cst(batchStride(2)),
                               cst(strides[2][m]), cst(strides[2][n]),
                               cst(beta)};
    b.create<func::CallOp>(loc, callee, args);
    op->erase();
    return true;
  }

  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<linalg::LinalgOp> candidates;
    module.walk([&](linalg::LinalgOp op) { candidates.push_back(op); });
    func::FuncOp callee;
    for (linalg::LinalgOp op : candidates) {
      if (!callee) {
        // Declared once the first candidate is seen.
        if (!op.hasPureBufferSemantics() ||
            !linalg::isaContractionOpInterface(op))
          continue;
        OpBuilder b = OpBuilder::atBlockBegin(module.getBody());
        Type i64 = b.getI64Type();
        callee = b.create<func::FuncOp>(
            module.getLoc(), kGemmFunction,
            b.getFunctionType(SmallVector<Type>(17, i64), {}));
        callee.setPrivate();
      }
      rewrite(op, callee);
    }
    if (callee && callee.getSymbolUses(module)->empty())
      callee.erase();
  }
};



/// Turns the host side of the outlined module into GPU runtime calls:
///  - buffers the host reads or writes (control scalars) become
///    `gpu.alloc host_shared` (pinned host memory the kernels also see);
///    every other buffer, and every constant a kernel reads, is device
///    memory;
///  - kernel launches, allocations, frees and copies are asynchronous on the
///    runtime's one stream (`gpu.wait async` hands it out), so the host
///    waits only before it touches a control scalar (and the runtime at the
///    end of the call);
///  - the function `f` is renamed `cuda_f` and gets a C interface.
struct HostRuntimePass
    : PassWrapper<HostRuntimePass, OperationPass<ModuleOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(HostRuntimePass)
  StringRef getArgument() const final { return "lctx-cuda-host-runtime"; }
  void runOnOperation() override {
    ModuleOp module = getOperation();
    MLIRContext *ctx = &getContext();
    Type tokenType = gpu::AsyncTokenType::get(ctx);
    auto stream = [&](OpBuilder &b, Location loc) {
      return b.create<gpu::WaitOp>(loc, tokenType, ValueRange{})
          .getAsyncToken();
    };
    bool ok = true;
    for (auto func : llvm::to_vector(module.getOps<func::FuncOp>())) {
      if (func.isExternal())
        continue;
      // Buffers the host touches.
      DenseSet<Operation *> shared;
      func.walk([&](Operation *op) {
        Value buffer;
        if (auto load = dyn_cast<memref::LoadOp>(op))
          buffer = load.getMemRef();
        else if (auto store = dyn_cast<memref::StoreOp>(op))
          buffer = store.getMemRef();
        if (buffer)
          if (memref::AllocOp alloc = rootAlloc(buffer))
            shared.insert(alloc);
      });
      SmallVector<Operation *> ops;
      func.walk([&](Operation *op) {
        if (isa<memref::AllocOp, memref::AllocaOp, memref::DeallocOp,
                memref::CopyOp, memref::GetGlobalOp, gpu::LaunchFuncOp,
                memref::LoadOp, memref::StoreOp>(op))
          ops.push_back(op);
      });
      for (Operation *op : ops) {
        OpBuilder b(op);
        Location loc = op->getLoc();
        if (auto alloc = dyn_cast<memref::AllocOp>(op)) {
          Value buffer;
          if (shared.contains(alloc)) {
            buffer = b.create<gpu::AllocOp>(
                          loc, alloc.getType(), Type(), ValueRange{},
                          alloc.getDynamicSizes(), alloc.getSymbolOperands(),
                          /*hostShared=*/true)
                         .getMemref();
          } else {
            buffer = b.create<gpu::AllocOp>(
                          loc, alloc.getType(), tokenType,
                          ValueRange{stream(b, loc)}, alloc.getDynamicSizes(),
                          alloc.getSymbolOperands(), /*hostShared=*/false)
                         .getMemref();
          }
          alloc.getResult().replaceAllUsesWith(buffer);
          alloc.erase();
        } else if (auto alloca = dyn_cast<memref::AllocaOp>(op)) {
          bool toKernel = llvm::any_of(alloca->getUsers(), [](Operation *u) {
            return isa<gpu::LaunchFuncOp>(u);
          });
          if (toKernel) {
            alloca.emitError("the cuda target cannot pass a host stack "
                             "buffer to a kernel");
            ok = false;
          }
        } else if (auto dealloc = dyn_cast<memref::DeallocOp>(op)) {
          b.create<gpu::DeallocOp>(loc, tokenType, ValueRange{stream(b, loc)},
                                   dealloc.getMemref());
          dealloc.erase();
        } else if (auto copy = dyn_cast<memref::CopyOp>(op)) {
          b.create<gpu::MemcpyOp>(loc, tokenType, ValueRange{stream(b, loc)},
                                  copy.getTarget(), copy.getSource());
          copy.erase();
        } else if (auto global = dyn_cast<memref::GetGlobalOp>(op)) {
          // Constants live in the host code's data: kernels read a device
          // copy, made once per call.
          bool hostOnly = llvm::all_of(global->getUsers(), [](Operation *u) {
            return isa<memref::LoadOp>(u);
          });
          if (hostOnly)
            continue;
          b.setInsertionPointAfter(global);
          Value device =
              b.create<gpu::AllocOp>(loc, global.getType(), tokenType,
                                     ValueRange{stream(b, loc)}, ValueRange{},
                                     ValueRange{}, /*hostShared=*/false)
                  .getMemref();
          global.getResult().replaceUsesWithIf(device, [&](OpOperand &use) {
            return !isa<memref::LoadOp>(use.getOwner());
          });
          b.create<gpu::MemcpyOp>(loc, tokenType, ValueRange{stream(b, loc)},
                                  device, global.getResult());
        } else if (auto launch = dyn_cast<gpu::LaunchFuncOp>(op)) {
          if (launch.getAsyncToken())
            continue;
          b.create<gpu::LaunchFuncOp>(
              loc, launch.getKernel(), launch.getGridSizeOperandValues(),
              launch.getBlockSizeOperandValues(),
              launch.getDynamicSharedMemorySize(), launch.getKernelOperands(),
              tokenType, ValueRange{stream(b, loc)},
              launch.hasClusterSize()
                  ? std::optional<gpu::KernelDim3>(
                        launch.getClusterSizeOperandValues())
                  : std::nullopt);
          launch.erase();
        } else if (isHostScratch(isa<memref::LoadOp>(op)
                                     ? cast<memref::LoadOp>(op).getMemRef()
                                     : cast<memref::StoreOp>(op).getMemRef())) {
          continue;
        } else {
          // A host load or store of a control scalar: wait for the kernels
          // before it.
          b.create<gpu::WaitOp>(loc, Type(), ValueRange{stream(b, loc)});
        }
      }
    }
    if (!ok)
      return signalPassFailure();
    // Rename every function (entry points and their callees) to cuda_*.
    SymbolTable symbols(module);
    for (auto func : llvm::to_vector(module.getOps<func::FuncOp>())) {
      if (func.isExternal()) // runtime functions keep their names
        continue;
      auto name = StringAttr::get(
          ctx, Twine(kCUDAEntryPrefix) + func.getSymName());
      if (failed(symbols.replaceAllSymbolUses(func, name, module)))
        return signalPassFailure();
      symbols.setSymbolName(func, name);
      if (func.isPublic() && !func.isExternal())
        func->setAttr(LLVM::LLVMDialect::getEmitCWrapperAttrName(),
                      UnitAttr::get(ctx));
    }
  }
};


/// After outlining, host functions may only launch kernels and manage
/// buffers: any other memory access would run on the host. Those are the
/// ops whose lowering is not mapped to the GPU yet; report them where the
/// model wrote them.
struct CheckHostCodePass
    : PassWrapper<CheckHostCodePass, OperationPass<ModuleOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(CheckHostCodePass)
  StringRef getArgument() const final { return "lctx-check-gpu-host-code"; }
  void runOnOperation() override {
    bool ok = true;
    for (auto func : getOperation().getOps<func::FuncOp>()) {
      func.walk([&](Operation *op) {
        if (!isHostMemoryAccess(op))
          return WalkResult::advance();
        // A buffer of the code's own that the host reads to decide what to
        // launch (a router's counts) becomes pinned host memory
        // (lctx-cuda-host-runtime), readable by both after a wait.
        if (isa<memref::LoadOp, memref::StoreOp>(op) &&
            rootAlloc(isa<memref::LoadOp>(op)
                          ? cast<memref::LoadOp>(op).getMemRef()
                          : cast<memref::StoreOp>(op).getMemRef()))
          return WalkResult::advance();
        op->emitError()
            << "the cuda target cannot run this on the GPU yet ('"
            << op->getName() << "' left on the host after mapping loops "
            << "to the GPU grid)";
        ok = false;
        return WalkResult::interrupt();
      });
      if (!ok)
        return signalPassFailure();
    }
  }
};


/// Moves every outlined kernel into one gpu.module, `@lctx_kernels`, so
/// that a model is one PTX/cubin; each kernel takes the unique name of the
/// module it came from.
struct MergeGPUModulesPass
    : PassWrapper<MergeGPUModulesPass, OperationPass<ModuleOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(MergeGPUModulesPass)
  StringRef getArgument() const final { return "lctx-merge-gpu-modules"; }
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<gpu::GPUModuleOp> modules(module.getOps<gpu::GPUModuleOp>());
    if (modules.empty())
      return;
    OpBuilder b(modules.front());
    auto merged = b.create<gpu::GPUModuleOp>(module.getLoc(), "lctx_kernels");
    Block &body = merged.getBodyRegion().front();
    DenseMap<StringAttr, StringAttr> renamed; // module name -> kernel
    for (gpu::GPUModuleOp m : modules) {
      SmallVector<Operation *> ops;
      for (Operation &op : m.getBodyRegion().front().without_terminator())
        ops.push_back(&op);
      for (Operation *op : ops) {
        if (auto func = dyn_cast<gpu::GPUFuncOp>(op)) {
          func.setName(m.getName());
          renamed[m.getNameAttr()] = func.getNameAttr();
        }
        op->moveBefore(body.getTerminator());
      }
      m.erase();
    }
    module.walk([&](gpu::LaunchFuncOp launch) {
      StringAttr from = launch.getKernelModuleName();
      launch.setKernelAttr(SymbolRefAttr::get(
          merged.getNameAttr(),
          {FlatSymbolRefAttr::get(renamed.lookup(from))}));
    });
  }
};

} // namespace

std::unique_ptr<Pass> cuda::createLibraryGemmPass() {
  return std::make_unique<LibraryGemmPass>();
}

std::unique_ptr<Pass> cuda::createHostRuntimePass() {
  return std::make_unique<HostRuntimePass>();
}

std::unique_ptr<Pass> cuda::createCheckHostCodePass() {
  return std::make_unique<CheckHostCodePass>();
}

std::unique_ptr<Pass> cuda::createMergeGPUModulesPass() {
  return std::make_unique<MergeGPUModulesPass>();
}
