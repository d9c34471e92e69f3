//===- GridMapping.cpp - Loop nests onto the GPU grid ---------------------===//
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

/// Copies the host will issue as gpu.memcpy are the whole-buffer ones made
/// directly by an entry point (outside any loop nest bound for the grid);
/// every other copy becomes a linalg.copy, so that it is mapped to the grid
/// like any other loop nest instead of running as a host loop over device
/// memory.
struct DeviceCopiesPass
    : PassWrapper<DeviceCopiesPass, OperationPass<func::FuncOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(DeviceCopiesPass)
  StringRef getArgument() const final { return "lctx-cuda-device-copies"; }
  void runOnOperation() override {
    SmallVector<memref::CopyOp> copies;
    getOperation().walk([&](memref::CopyOp copy) { copies.push_back(copy); });
    for (memref::CopyOp copy : copies) {
      auto src = cast<MemRefType>(copy.getSource().getType());
      auto dst = cast<MemRefType>(copy.getTarget().getType());
      bool inLoop = copy->getParentOfType<scf::ParallelOp>() ||
                    copy->getParentOfType<scf::ForallOp>();
      // gpu.memcpy reads the aligned pointers of identity-layout buffers
      // (a view's offset would be lost).
      if (!inLoop && src.hasStaticShape() && dst.hasStaticShape() &&
          src.getLayout().isIdentity() && dst.getLayout().isIdentity())
        continue;
      OpBuilder b(copy);
      b.create<linalg::CopyOp>(copy.getLoc(), copy.getSource(),
                               copy.getTarget());
      copy.erase();
    }
  }
};


/// Reductions with little parallel work (few rows, long rows: a sum over
/// 2048 tokens of 512 rows) leave most of the GPU idle and each thread
/// walking a long row: split the reduction dimension R into R / r steps
/// of r interleaved lanes (linalg's split reduction, inner dimension
/// parallel), so r consecutive threads read consecutive elements, then
/// combine the r partial results in a second, small reduction.
struct SplitReductionsPass
    : PassWrapper<SplitReductionsPass, OperationPass<func::FuncOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(SplitReductionsPass)
  StringRef getArgument() const final { return "lctx-cuda-split-reductions"; }
  void runOnOperation() override {
    SmallVector<linalg::GenericOp> candidates;
    getOperation().walk([&](linalg::GenericOp op) {
      if (op.hasPureTensorSemantics() && op.getNumReductionLoops() == 1 &&
          op.getNumDpsInits() == 1 && !linalg::isaContractionOpInterface(op))
        candidates.push_back(op);
    });
    IRRewriter rewriter(&getContext());
    for (linalg::GenericOp op : candidates) {
      SmallVector<int64_t> ranges = op.getStaticLoopRanges();
      if (llvm::any_of(ranges, ShapedType::isDynamic))
        continue;
      int64_t parallel = 1, reduction = 1;
      for (auto [range, kind] : llvm::zip(ranges, op.getIteratorTypesArray()))
        (kind == utils::IteratorType::reduction ? reduction : parallel) *=
            range;
      // Split when the GPU would be nearly idle, or the rows are long.
      if (!((parallel < 2048 && reduction >= 256) ||
            (parallel < 32768 && reduction >= 2048)))
        continue;
      int64_t ratio = 1;
      while (ratio * 2 <= 256 && ratio * 2 * 8 <= reduction &&
             reduction % (ratio * 2) == 0)
        ratio *= 2;
      if (ratio < 4)
        continue;
      unsigned index = cast<ShapedType>(op.getDpsInits()[0].getType()).getRank();
      rewriter.setInsertionPoint(op);
      auto split = linalg::splitReduction(
          rewriter, op, [&](linalg::LinalgOp) {
            linalg::SplitReductionOptions options;
            options.ratio = ratio;
            options.index = index;
            options.innerParallel = true;
            return options;
          });
      (void)split; // ops whose combiner is not recognized stay whole
    }
    // Reduction loops last: the loop nest is then one scf.parallel over all
    // parallel dimensions (blocks and threads) with the reductions inside
    // each thread, rather than a parallel nest split around a sequential
    // reduction loop, whose inner parallel part would run in one thread.
    SmallVector<linalg::GenericOp> generics;
    getOperation().walk([&](linalg::GenericOp op) {
      if (op.hasPureTensorSemantics())
        generics.push_back(op);
    });
    for (linalg::GenericOp op : generics) {
      SmallVector<utils::IteratorType> kinds = op.getIteratorTypesArray();
      SmallVector<unsigned> order;
      for (unsigned d = 0; d < kinds.size(); ++d)
        if (kinds[d] == utils::IteratorType::parallel)
          order.push_back(d);
      for (unsigned d = 0; d < kinds.size(); ++d)
        if (kinds[d] != utils::IteratorType::parallel)
          order.push_back(d);
      if (llvm::equal(order, llvm::seq<unsigned>(0, kinds.size())))
        continue;
      rewriter.setInsertionPoint(op);
      (void)linalg::interchangeGenericOp(rewriter, op, order);
    }
  }
};


/// Gives every outermost parallel loop nest a thread dimension: its
/// innermost (contiguous) dimension is tiled by up to 256 and the tile put
/// on thread x (consecutive threads, consecutive addresses), the rest of
/// the nest on blocks (mapToGrid).
struct TileForThreadsPass
    : PassWrapper<TileForThreadsPass, OperationPass<func::FuncOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(TileForThreadsPass)
  StringRef getArgument() const final { return "lctx-cuda-tile-for-threads"; }
  void runOnOperation() override {
    SmallVector<scf::ParallelOp> loops;
    getOperation().walk([&](scf::ParallelOp loop) {
      if (!loop->getParentOfType<scf::ParallelOp>())
        loops.push_back(loop);
    });
    for (scf::ParallelOp loop : loops) {
      unsigned rank = loop.getNumLoops();
      auto lb = getConstantIntValue(loop.getLowerBound()[rank - 1]);
      auto ub = getConstantIntValue(loop.getUpperBound()[rank - 1]);
      auto step = getConstantIntValue(loop.getStep()[rank - 1]);
      if (!lb || !ub || !step || *step != 1 || *ub - *lb < 2)
        continue;
      SmallVector<int64_t> sizes(rank, 1);
      sizes.back() = std::min<int64_t>(*ub - *lb, 256);
      // A tile that does not divide the extent gets a guard (scf.if) in
      // the thread loop rather than a min bound, which the grid mapping
      // cannot take.
      SmallVector<int64_t> tiles = extents(loop);
      tiles.back() = (tiles.back() + sizes.back() - 1) / sizes.back();
      auto [outer, inner] =
          scf::tileParallelLoop(loop, sizes, /*noMinMaxBounds=*/true);
      mapToGrid(outer, inner, tiles);
    }
    // Loops left untiled run one thread per block.
    getOperation().walk([&](scf::ParallelOp loop) {
      if (!loop->hasAttr(gpu::getMappingAttrName()) &&
          !loop->getParentOfType<scf::ParallelOp>())
        mapToGrid(loop, nullptr, extents(loop));
    });
  }

  /// The trip count of each dimension of `loop` (int64 max if unknown).
  static SmallVector<int64_t> extents(scf::ParallelOp loop) {
    SmallVector<int64_t> result;
    for (unsigned d = 0, e = loop.getNumLoops(); d < e; ++d) {
      auto lb = getConstantIntValue(loop.getLowerBound()[d]);
      auto ub = getConstantIntValue(loop.getUpperBound()[d]);
      auto step = getConstantIntValue(loop.getStep()[d]);
      result.push_back(lb && ub && step && *step > 0
                           ? (*ub - *lb + *step - 1) / *step
                           : std::numeric_limits<int64_t>::max());
    }
    return result;
  }

  /// Maps `outer`'s dimensions to blocks: the largest extent to x (up to
  /// 2^31 - 1), the next two to y and z when they fit (65535), the rest
  /// run in a loop in the kernel; `inner` (the thread tile, in its last
  /// dimension) to thread x, whose limit is 1024 (y and z allow only 1024
  /// and 64). Loops nested deeper run sequentially in their thread.
  static void mapToGrid(scf::ParallelOp outer, scf::ParallelOp inner,
                        ArrayRef<int64_t> extents) {
    MLIRContext *ctx = outer.getContext();
    AffineMap id = AffineMap::getMultiDimIdentityMap(1, ctx);
    auto attr = [&](gpu::Processor p) {
      return gpu::ParallelLoopDimMappingAttr::get(ctx, p, id, id);
    };
    unsigned rank = outer.getNumLoops();
    SmallVector<unsigned> order;
    for (unsigned d = 0; d < rank; ++d)
      order.push_back(d);
    llvm::sort(order, [&](unsigned a, unsigned b) {
      if (extents[a] == extents[b])
        return a < b;
      return extents[a] > extents[b];
    });
    SmallVector<gpu::ParallelLoopDimMappingAttr> mapping(
        rank, attr(gpu::Processor::Sequential));
    const gpu::Processor blocks[] = {gpu::Processor::BlockX,
                                     gpu::Processor::BlockY,
                                     gpu::Processor::BlockZ};
    unsigned next = 0;
    for (unsigned d : order) {
      if (next == 3)
        break;
      if (next > 0 && extents[d] > 65535)
        continue;
      mapping[d] = attr(blocks[next++]);
    }
    (void)gpu::setMappingAttr(outer, mapping);
    if (inner) {
      SmallVector<gpu::ParallelLoopDimMappingAttr> threads(
          inner.getNumLoops(), attr(gpu::Processor::Sequential));
      threads.back() = attr(gpu::Processor::ThreadX);
      (void)gpu::setMappingAttr(inner, threads);
    }
    // Like gpu-map-parallel-loops: only loops directly in a mapped loop's
    // body are mapped (the next level to threads, deeper levels run in
    // sequence); loops under other ops (an scf.for) stay unmapped and run
    // in sequence in their thread.
    auto sequential = [&](scf::ParallelOp loop) {
      (void)gpu::setMappingAttr(
          loop, SmallVector<gpu::ParallelLoopDimMappingAttr>(
                    loop.getNumLoops(), attr(gpu::Processor::Sequential)));
    };
    auto children = [](scf::ParallelOp loop) {
      SmallVector<scf::ParallelOp> result;
      for (Operation &op : loop.getBody()->getOperations())
        if (auto nested = dyn_cast<scf::ParallelOp>(op))
          result.push_back(nested);
      return result;
    };
    std::function<void(scf::ParallelOp)> deeper = [&](scf::ParallelOp loop) {
      for (scf::ParallelOp nested : children(loop)) {
        sequential(nested);
        deeper(nested);
      }
    };
    if (inner) {
      deeper(inner);
      return;
    }
    for (scf::ParallelOp nested : children(outer)) {
      SmallVector<int64_t> trips = TileForThreadsPass::extents(nested);
      SmallVector<gpu::ParallelLoopDimMappingAttr> threads(
          nested.getNumLoops(), attr(gpu::Processor::Sequential));
      if (trips.back() <= 1024)
        threads.back() = attr(gpu::Processor::ThreadX);
      (void)gpu::setMappingAttr(nested, threads);
      deeper(nested);
    }
  }
};


/// Host code that would touch device memory and was not mapped onto the
/// grid (sequential steps of an op's lowering: TimestepNorm's pass over
/// time, a router's top-k, a scan's bookkeeping) runs as a kernel of one
/// thread: the outermost host op around it that launches nothing itself
/// (a whole loop, not each access) is wrapped in a gpu.launch of one block
/// of one thread. Correct everywhere, fast nowhere: these ops have no
/// parallel GPU form yet. Ops whose results the host needs stay put (and
/// are reported by lctx-check-gpu-host-code).
struct SerialKernelsPass
    : PassWrapper<SerialKernelsPass, OperationPass<func::FuncOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(SerialKernelsPass)
  StringRef getArgument() const final { return "lctx-cuda-serial-kernels"; }
  void runOnOperation() override {
    func::FuncOp func = getOperation();
    auto launches = [](Operation *op) {
      return op->walk([](Operation *inner) {
                 return isa<gpu::LaunchOp, func::CallOp>(inner)
                            ? WalkResult::interrupt()
                            : WalkResult::advance();
               })
          .wasInterrupted();
    };
    SetVector<Operation *> roots;
    func.walk([&](Operation *op) {
      if (op->getParentOfType<gpu::LaunchOp>() || !isHostMemoryAccess(op))
        return;
      Operation *root = op;
      while (root->getParentOp() != func.getOperation() &&
             !launches(root->getParentOp()) &&
             root->getParentOp()->getNumResults() == 0)
        root = root->getParentOp();
      if (root->getNumResults() == 0 && !launches(root))
        roots.insert(root);
    });
    // An enclosing root covers the ones inside it.
    for (Operation *root : roots) {
      bool covered = false;
      for (Operation *parent = root->getParentOp(); parent && !covered;
           parent = parent->getParentOp())
        covered = roots.contains(parent);
      if (covered)
        continue;
      OpBuilder b(root);
      Location loc = root->getLoc();
      Value one = b.create<arith::ConstantIndexOp>(loc, 1);
      auto launch = b.create<gpu::LaunchOp>(loc, one, one, one, one, one, one);
      Block &body = launch.getBody().front();
      OpBuilder::atBlockEnd(&body).create<gpu::TerminatorOp>(loc);
      root->moveBefore(body.getTerminator());
      // Copies inside run as loops in the kernel (gpu.memcpy and the C
      // library's memrefCopy are host calls).
      SmallVector<memref::CopyOp> copies;
      root->walk([&](memref::CopyOp copy) { copies.push_back(copy); });
      for (memref::CopyOp copy : copies) {
        OpBuilder cb(copy);
        cb.create<linalg::CopyOp>(copy.getLoc(), copy.getSource(),
                                  copy.getTarget());
        copy.erase();
      }
    }
  }
};

} // namespace

std::unique_ptr<Pass> cuda::createDeviceCopiesPass() {
  return std::make_unique<DeviceCopiesPass>();
}

std::unique_ptr<Pass> cuda::createSplitReductionsPass() {
  return std::make_unique<SplitReductionsPass>();
}

std::unique_ptr<Pass> cuda::createTileForThreadsPass() {
  return std::make_unique<TileForThreadsPass>();
}

std::unique_ptr<Pass> cuda::createSerialKernelsPass() {
  return std::make_unique<SerialKernelsPass>();
}
