//===- CUDA.cpp - NVIDIA GPU code generation ------------------------------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

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

namespace {

/// The buffer a view is taken of (through view-like ops).
Value rootBuffer(Value buffer) {
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
bool isHostScratch(Value buffer) {
  Value root = rootBuffer(buffer);
  if (root.getDefiningOp<memref::AllocaOp>())
    return true;
  auto arg = dyn_cast<BlockArgument>(root);
  auto func = arg ? dyn_cast<func::FuncOp>(arg.getOwner()->getParentOp())
                  : func::FuncOp();
  return func && func.isPrivate() &&
         func.getSymName().starts_with("dealloc_helper");
}

/// Entry points own none of their arguments (inputs, weights and state
/// belong to the runtime): bufferization must not write into them. The
/// lctx argument and result attributes, already used by the frontend, are
/// dropped before results become out-params.
struct PrepareArgumentsPass
    : PassWrapper<PrepareArgumentsPass, OperationPass<ModuleOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(PrepareArgumentsPass)
  StringRef getArgument() const final { return "lctx-cuda-prepare-arguments"; }
  void runOnOperation() override {
    auto notWritable = BoolAttr::get(&getContext(), false);
    auto isLCtx = [](NamedAttribute a) {
      return a.getName().getValue().starts_with("lctx.");
    };
    for (auto func : getOperation().getOps<func::FuncOp>()) {
      for (unsigned i = 0, e = func.getNumArguments(); i < e; ++i) {
        NamedAttrList attrs(func.getArgAttrDict(i));
        for (NamedAttribute a : llvm::make_early_inc_range(attrs))
          if (isLCtx(a))
            attrs.erase(a.getName());
        func.setArgAttrs(i, attrs.getDictionary(&getContext()));
        if (!func.isExternal() && isa<TensorType>(func.getArgument(i).getType()))
          func.setArgAttr(i,
                          bufferization::BufferizationDialect::kWritableAttrName,
                          notWritable);
      }
      for (unsigned i = 0, e = func.getNumResults(); i < e; ++i) {
        NamedAttrList attrs(func.getResultAttrDict(i));
        for (NamedAttribute a : llvm::make_early_inc_range(attrs))
          if (isLCtx(a))
            attrs.erase(a.getName());
        func.setResultAttrs(i, attrs.getDictionary(&getContext()));
      }
    }
  }
};

/// Per-element forms of the ops whose CPU lowerings are host loops (row
/// copies, vector rotations): one linalg.generic each, which the loop
/// mapping puts on the grid like any other.
Value gpuEmbedding(OpBuilder &b, EmbeddingOp op) {
  Location loc = op.getLoc();
  auto outType = cast<RankedTensorType>(op.getType());
  auto tableType = cast<RankedTensorType>(op.getTable().getType());
  unsigned rank = outType.getRank();
  Value init = b.create<tensor::EmptyOp>(loc, outType.getShape(),
                                         outType.getElementType());
  // ids are indexed by every loop but the last (the feature).
  AffineMap identity = b.getMultiDimIdentityMap(rank);
  SmallVector<AffineMap> maps = {
      AffineMap::get(rank, 0, identity.getResults().drop_back(),
                     b.getContext()),
      identity};
  SmallVector<utils::IteratorType> iters(rank, utils::IteratorType::parallel);
  Value table = op.getTable();
  int64_t rows = tableType.getDimSize(0);
  return b
      .create<linalg::GenericOp>(
          loc, outType, ValueRange{op.getIds()}, ValueRange{init}, maps, iters,
          [&](OpBuilder &nb, Location nl, ValueRange args) {
            Value id = args[0];
            Type t = id.getType();
            auto cst = [&](int64_t v) {
              return nb.create<arith::ConstantOp>(nl, nb.getIntegerAttr(t, v))
                  .getResult();
            };
            // An id outside [0, V) reads a zero row (docs/conventions.md).
            Value valid = nb.create<arith::AndIOp>(
                nl,
                nb.create<arith::CmpIOp>(nl, arith::CmpIPredicate::sge, id,
                                         cst(0)),
                nb.create<arith::CmpIOp>(nl, arith::CmpIPredicate::slt, id,
                                         cst(rows)));
            Value row = nb.create<arith::IndexCastOp>(
                nl, nb.getIndexType(),
                nb.create<arith::SelectOp>(nl, valid, id, cst(0)));
            Value col = nb.create<linalg::IndexOp>(nl, rank - 1);
            Value v = nb.create<tensor::ExtractOp>(nl, table,
                                                   ValueRange{row, col});
            Value zero = nb.create<arith::ConstantOp>(
                nl, nb.getZeroAttr(outType.getElementType()));
            nb.create<linalg::YieldOp>(
                nl, ValueRange{nb.create<arith::SelectOp>(nl, valid, v, zero)});
          })
      .getResult(0);
}

/// y[2i] = x[2i] cos a - x[2i+1] sin a, y[2i+1] = x[2i] sin a + x[2i+1] cos a
/// with a = p * theta^(-2i/Dh), the angle in f64 (positions up to 2^53).
Value gpuRope(OpBuilder &b, RopeOp op) {
  Location loc = op.getLoc();
  auto type = cast<RankedTensorType>(op.getType());
  auto posType = cast<RankedTensorType>(op.getPositions().getType());
  int64_t dh = type.getDimSize(3);
  Value x = op.getInput();
  Value init = b.create<tensor::EmptyOp>(loc, type.getShape(),
                                         type.getElementType());
  MLIRContext *ctx = b.getContext();
  AffineExpr d0 = getAffineDimExpr(0, ctx), d2 = getAffineDimExpr(2, ctx);
  AffineMap posMap =
      posType.getRank() == 2 ? AffineMap::get(4, 0, {d0, d2}, ctx)
                             : AffineMap::get(4, 0, {d2}, ctx);
  SmallVector<AffineMap> maps = {posMap, b.getMultiDimIdentityMap(4)};
  SmallVector<utils::IteratorType> iters(4, utils::IteratorType::parallel);
  double logTheta = std::log(static_cast<double>(op.getTheta().convertToFloat()));
  return b
      .create<linalg::GenericOp>(
          loc, type, ValueRange{op.getPositions()}, ValueRange{init}, maps,
          iters,
          [&](OpBuilder &nb, Location nl, ValueRange args) {
            Type f64 = nb.getF64Type(), elt = type.getElementType();
            SmallVector<Value> idx;
            for (unsigned i = 0; i < 4; ++i)
              idx.push_back(nb.create<linalg::IndexOp>(nl, i));
            Value d = idx[3];
            Value one = nb.create<arith::ConstantIndexOp>(nl, 1);
            Value pairBase = nb.create<arith::AndIOp>(
                nl, d, nb.create<arith::ConstantIndexOp>(nl, ~int64_t(1)));
            Value odd = nb.create<arith::CmpIOp>(nl, arith::CmpIPredicate::ne,
                                                 d, pairBase);
            SmallVector<Value> evenIdx(idx), oddIdx(idx);
            evenIdx[3] = pairBase;
            oddIdx[3] = nb.create<arith::AddIOp>(nl, pairBase, one);
            auto load = [&](ArrayRef<Value> at) -> Value {
              Value v = nb.create<tensor::ExtractOp>(nl, x, at);
              return nb.create<arith::ExtFOp>(nl, f64, v);
            };
            Value xe = load(evenIdx), xo = load(oddIdx);
            Value pos = nb.create<arith::SIToFPOp>(
                nl, f64,
                args[0].getType().isInteger(64)
                    ? args[0]
                    : nb.create<arith::ExtSIOp>(nl, nb.getI64Type(), args[0])
                          .getResult());
            Value pairF = nb.create<arith::SIToFPOp>(
                nl, f64,
                nb.create<arith::IndexCastOp>(nl, nb.getI64Type(), pairBase));
            // theta^(-2i/Dh) = exp(-(2i/Dh) ln theta); pairBase = 2i.
            Value expo = nb.create<arith::MulFOp>(
                nl, pairF,
                nb.create<arith::ConstantOp>(
                    nl, nb.getF64FloatAttr(-logTheta / double(dh))));
            Value angle =
                nb.create<arith::MulFOp>(nl, pos, nb.create<math::ExpOp>(nl, expo));
            Value c = nb.create<math::CosOp>(nl, angle);
            Value sn = nb.create<math::SinOp>(nl, angle);
            Value ye = nb.create<arith::SubFOp>(
                nl, nb.create<arith::MulFOp>(nl, xe, c),
                nb.create<arith::MulFOp>(nl, xo, sn));
            Value yo = nb.create<arith::AddFOp>(
                nl, nb.create<arith::MulFOp>(nl, xe, sn),
                nb.create<arith::MulFOp>(nl, xo, c));
            Value y = nb.create<arith::SelectOp>(nl, odd, yo, ye);
            nb.create<linalg::YieldOp>(
                nl, ValueRange{nb.create<arith::TruncFOp>(nl, elt, y)});
          })
      .getResult(0);
}

/// A zero-row-for-out-of-range lookup `table[id, col]` inside a body.
Value lookupOrZero(OpBuilder &nb, Location nl, Value table, Value id,
                   Value col) {
  auto tableType = cast<RankedTensorType>(table.getType());
  Type t = id.getType();
  auto cst = [&](int64_t v) {
    return nb.create<arith::ConstantOp>(nl, nb.getIntegerAttr(t, v))
        .getResult();
  };
  Value valid = nb.create<arith::AndIOp>(
      nl, nb.create<arith::CmpIOp>(nl, arith::CmpIPredicate::sge, id, cst(0)),
      nb.create<arith::CmpIOp>(nl, arith::CmpIPredicate::slt, id,
                               cst(tableType.getDimSize(0))));
  Value row = nb.create<arith::IndexCastOp>(
      nl, nb.getIndexType(), nb.create<arith::SelectOp>(nl, valid, id, cst(0)));
  Value v = nb.create<tensor::ExtractOp>(nl, table, ValueRange{row, col});
  Value zero = nb.create<arith::ConstantOp>(
      nl, nb.getZeroAttr(tableType.getElementType()));
  return nb.create<arith::SelectOp>(nl, valid, v, zero);
}

/// A linalg.generic producing `type` whose body computes each element from
/// its indices.
Value elementwiseFromIndices(
    OpBuilder &b, Location loc, RankedTensorType type,
    function_ref<Value(OpBuilder &, Location, ArrayRef<Value>)> fn) {
  unsigned rank = type.getRank();
  Value init = b.create<tensor::EmptyOp>(loc, type.getShape(),
                                         type.getElementType());
  SmallVector<utils::IteratorType> iters(rank, utils::IteratorType::parallel);
  return b
      .create<linalg::GenericOp>(
          loc, type, ValueRange{}, ValueRange{init},
          ArrayRef<AffineMap>{b.getMultiDimIdentityMap(rank)}, iters,
          [&](OpBuilder &nb, Location nl, ValueRange) {
            SmallVector<Value> idx;
            for (unsigned i = 0; i < rank; ++i)
              idx.push_back(nb.create<linalg::IndexOp>(nl, i));
            nb.create<linalg::YieldOp>(nl, ValueRange{fn(nb, nl, idx)});
          })
      .getResult(0);
}

/// MEGABYTE's patch ops as per-element gathers and reshapes (PatchOps.td):
/// patch.embed out[b,k,p*D+d] = k == 0 ? pad[p,d] : table[ids[b,(k-1)P+p],d];
/// patch.to_local = linear(global slot p, w_gl) + previous byte's local
/// embedding (local pad at p = 0); patch.merge is a reshape.
void lowerPatchOp(Operation *op) {
  OpBuilder b(op);
  Location loc = op->getLoc();
  auto idx = [&](OpBuilder &nb, Location nl, int64_t v) -> Value {
    return nb.create<arith::ConstantIndexOp>(nl, v);
  };
  Value result;
  if (auto embed = dyn_cast<PatchEmbedOp>(op)) {
    auto type = cast<RankedTensorType>(embed.getType());
    int64_t p = embed.getPatchSize();
    int64_t width = type.getDimSize(2) / p;
    Value ids = embed.getIds(), table = embed.getTable(), pad = embed.getPad();
    result = elementwiseFromIndices(
        b, loc, type, [&](OpBuilder &nb, Location nl, ArrayRef<Value> i) {
          Value slot = nb.create<arith::DivUIOp>(nl, i[2], idx(nb, nl, width));
          Value col = nb.create<arith::RemUIOp>(nl, i[2], idx(nb, nl, width));
          Value first = nb.create<arith::CmpIOp>(nl, arith::CmpIPredicate::eq,
                                                 i[1], idx(nb, nl, 0));
          // Byte (k-1)*P + slot, clamped to 0 for k = 0 (then unused).
          Value km1 = nb.create<arith::SelectOp>(
              nl, first, idx(nb, nl, 0),
              nb.create<arith::SubIOp>(nl, i[1], idx(nb, nl, 1)));
          Value t = nb.create<arith::AddIOp>(
              nl, nb.create<arith::MulIOp>(nl, km1, idx(nb, nl, p)), slot);
          Value id = nb.create<tensor::ExtractOp>(nl, ids, ValueRange{i[0], t});
          Value e = lookupOrZero(nb, nl, table, id, col);
          Value padded = nb.create<tensor::ExtractOp>(nl, pad,
                                                      ValueRange{slot, col});
          return nb.create<arith::SelectOp>(nl, first, padded, e).getResult();
        });
  } else if (auto toLocal = dyn_cast<PatchToLocalOp>(op)) {
    auto type = cast<RankedTensorType>(toLocal.getType()); // [B*K, P, DL]
    auto gType = cast<RankedTensorType>(toLocal.getGlobalOut().getType());
    int64_t p = toLocal.getPatchSize(), k = gType.getDimSize(1);
    int64_t width = gType.getDimSize(2) / p;
    Value g4 = b.create<tensor::ExpandShapeOp>(
        loc,
        RankedTensorType::get({gType.getDimSize(0), k, p, width},
                              gType.getElementType()),
        toLocal.getGlobalOut(),
        ArrayRef<ReassociationIndices>{{0}, {1}, {2, 3}});
    Value g3 = b.create<tensor::CollapseShapeOp>(
        loc, g4, ArrayRef<ReassociationIndices>{{0, 1}, {2}, {3}});
    Value proj = b.create<LinearOp>(loc, g3, toLocal.getWGl(), Value(),
                                    UnitAttr());
    Value ids = toLocal.getIds(), table = toLocal.getLocalTable(),
          pad = toLocal.getLocalPad();
    Value prev = elementwiseFromIndices(
        b, loc, type, [&](OpBuilder &nb, Location nl, ArrayRef<Value> i) {
          Value first = nb.create<arith::CmpIOp>(nl, arith::CmpIPredicate::eq,
                                                 i[1], idx(nb, nl, 0));
          Value row = nb.create<arith::DivUIOp>(nl, i[0], idx(nb, nl, k));
          Value patch = nb.create<arith::RemUIOp>(nl, i[0], idx(nb, nl, k));
          // Byte k*P + p - 1 (clamped to the patch start for p = 0).
          Value pm1 = nb.create<arith::SelectOp>(
              nl, first, idx(nb, nl, 0),
              nb.create<arith::SubIOp>(nl, i[1], idx(nb, nl, 1)));
          Value t = nb.create<arith::AddIOp>(
              nl, nb.create<arith::MulIOp>(nl, patch, idx(nb, nl, p)), pm1);
          Value id = nb.create<tensor::ExtractOp>(nl, ids, ValueRange{row, t});
          Value e = lookupOrZero(nb, nl, table, id, i[2]);
          Value padded = nb.create<tensor::ExtractOp>(nl, pad, ValueRange{i[2]});
          return nb.create<arith::SelectOp>(nl, first, padded, e).getResult();
        });
    result = b.create<arith::AddFOp>(loc, proj, prev);
  } else {
    auto merge = cast<PatchMergeOp>(op);
    auto inType = cast<RankedTensorType>(merge.getInput().getType());
    auto outType = cast<RankedTensorType>(merge.getType());
    int64_t batch = outType.getDimSize(0);
    Value x4 = b.create<tensor::ExpandShapeOp>(
        loc,
        RankedTensorType::get({batch, inType.getDimSize(0) / batch,
                               inType.getDimSize(1), inType.getDimSize(2)},
                              inType.getElementType()),
        merge.getInput(), ArrayRef<ReassociationIndices>{{0, 1}, {2}, {3}});
    result = b.create<tensor::CollapseShapeOp>(
        loc, outType, x4, ArrayRef<ReassociationIndices>{{0}, {1, 2}, {3}});
  }
  op->getResult(0).replaceAllUsesWith(result);
  op->erase();
}

/// Attention with `rope_theta`: rotate q and k first (lctx.rope at the
/// op's positions: explicit ones, or query i at Tk - Tq + i and key j at j;
/// modulo the chunk when chunked), then attend without rotation.
void hoistAttentionRope(AttentionOp op) {
  FloatAttr theta = op.getRopeThetaAttr();
  if (!theta)
    return;
  OpBuilder b(op);
  Location loc = op.getLoc();
  auto qType = cast<RankedTensorType>(op.getQuery().getType());
  auto kType = cast<RankedTensorType>(op.getKey().getType());
  int64_t tq = qType.getDimSize(2), tk = kType.getDimSize(2);
  std::optional<int64_t> chunk = op.getChunkSize();
  // positions(n, offset)[i] = (offset + i) mod chunk, as a [n] i64 tensor.
  auto iota = [&](int64_t n, int64_t offset) -> Value {
    auto type = RankedTensorType::get({n}, b.getI64Type());
    Value init = b.create<tensor::EmptyOp>(loc, type.getShape(),
                                           b.getI64Type());
    return b
        .create<linalg::GenericOp>(
            loc, type, ValueRange{}, ValueRange{init},
            ArrayRef<AffineMap>{b.getMultiDimIdentityMap(1)},
            ArrayRef<utils::IteratorType>{utils::IteratorType::parallel},
            [&](OpBuilder &nb, Location nl, ValueRange) {
              Value i = nb.create<arith::IndexCastOp>(
                  nl, nb.getI64Type(), nb.create<linalg::IndexOp>(nl, 0));
              Value p = nb.create<arith::AddIOp>(
                  nl, i, nb.create<arith::ConstantIntOp>(nl, offset, 64));
              if (chunk)
                p = nb.create<arith::RemSIOp>(
                    nl, p, nb.create<arith::ConstantIntOp>(nl, *chunk, 64));
              nb.create<linalg::YieldOp>(nl, p);
            })
        .getResult(0);
  };
  auto modChunk = [&](Value positions) -> Value {
    if (!chunk)
      return positions;
    auto type = cast<RankedTensorType>(positions.getType());
    Value init = b.create<tensor::EmptyOp>(loc, type.getShape(),
                                           type.getElementType());
    AffineMap id = b.getMultiDimIdentityMap(type.getRank());
    SmallVector<utils::IteratorType> iters(type.getRank(),
                                           utils::IteratorType::parallel);
    return b
        .create<linalg::GenericOp>(
            loc, type, ValueRange{positions}, ValueRange{init},
            ArrayRef<AffineMap>{id, id}, iters,
            [&](OpBuilder &nb, Location nl, ValueRange args) {
              Value c = nb.create<arith::ConstantOp>(
                  nl, nb.getIntegerAttr(type.getElementType(), *chunk));
              nb.create<linalg::YieldOp>(
                  nl, ValueRange{nb.create<arith::RemSIOp>(nl, args[0], c)});
            })
        .getResult(0);
  };
  Value qp, kp;
  if (op.getQPositions()) {
    qp = modChunk(op.getQPositions());
    kp = modChunk(op.getKPositions());
  } else {
    qp = iota(tq, tk - tq);
    kp = iota(tk, 0);
  }
  Value q = b.create<RopeOp>(loc, op.getQuery(), qp, theta);
  Value k = b.create<RopeOp>(loc, op.getKey(), kp, theta);
  Value out = b.create<AttentionOp>(
      loc, q, k, op.getValue(), op.getQPositions(), op.getKPositions(),
      op.getCausalAttr(), op.getChunkSizeAttr(), op.getScaleAttr(),
      FloatAttr());
  op.getResult().replaceAllUsesWith(out);
  op.erase();
}

struct PortableLoweringsPass
    : PassWrapper<PortableLoweringsPass, OperationPass<ModuleOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(PortableLoweringsPass)
  StringRef getArgument() const final { return "lctx-cuda-portable-lowerings"; }
  void runOnOperation() override {
    SmallVector<AttentionOp> attentions;
    getOperation().walk([&](AttentionOp op) { attentions.push_back(op); });
    for (AttentionOp op : attentions)
      hoistAttentionRope(op);
    SmallVector<Operation *> patchOps;
    getOperation().walk([&](Operation *op) {
      if (isa<PatchEmbedOp, PatchToLocalOp, PatchMergeOp>(op) &&
          cast<ShapedType>(op->getResult(0).getType()).hasStaticShape() &&
          !(isa<PatchEmbedOp>(op) && cast<PatchEmbedOp>(op).getPos()))
        patchOps.push_back(op);
    });
    for (Operation *op : patchOps)
      lowerPatchOp(op);
    SmallVector<Operation *> ops;
    getOperation().walk([&](Operation *op) {
      if (isa<EmbeddingOp, RopeOp>(op) &&
          cast<ShapedType>(op->getResult(0).getType()).hasStaticShape())
        ops.push_back(op);
    });
    for (Operation *op : ops) {
      OpBuilder b(op);
      Value v = isa<EmbeddingOp>(op) ? gpuEmbedding(b, cast<EmbeddingOp>(op))
                                     : gpuRope(b, cast<RopeOp>(op));
      op->getResult(0).replaceAllUsesWith(v);
      op->erase();
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

/// The root allocation of a buffer seen through views, if any.
memref::AllocOp rootAlloc(Value buffer) {
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
bool isHostMemoryAccess(Operation *op) {
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

void registerPasses() {
  static std::once_flag once;
  std::call_once(once, [] {
    registerConversionPasses();
    registerGPUPasses();
    registerLinalgPasses();
    bufferization::registerBufferizationPasses();
    bufferization::registerBufferizationPipelines();
    registerTransformsPasses();
    registerSCFPasses();
    arith::registerArithPasses();
    memref::registerMemRefPasses();
  });
}

} // namespace

void lctx::registerCUDATarget(DialectRegistry &registry) {
  registry.insert<gpu::GPUDialect, NVVM::NVVMDialect, LLVM::LLVMDialect,
                  affine::AffineDialect, vector::VectorDialect>();
  NVVM::registerNVVMTargetInterfaceExternalModels(registry);
  registerGPUDialectTranslation(registry);
  gpu::registerOffloadingLLVMTranslationInterfaceExternalModels(registry);
  registerLLVMDialectTranslation(registry);
  registerNVVMDialectTranslation(registry);
}

std::string lctx::findCUDAToolkit() {
  auto hasPtxas = [](StringRef dir) {
    SmallString<128> path(dir);
    llvm::sys::path::append(path, "bin", "ptxas");
    return !dir.empty() && llvm::sys::fs::can_execute(path);
  };
  for (const char *var : {"CUDA_HOME", "CUDA_PATH", "CUDA_ROOT"})
    if (const char *dir = std::getenv(var); dir && hasPtxas(dir))
      return dir;
  if (hasPtxas("/usr/local/cuda"))
    return "/usr/local/cuda";
  if (auto ptxas = llvm::sys::findProgramByName("ptxas")) {
    StringRef dir = llvm::sys::path::parent_path(
        llvm::sys::path::parent_path(*ptxas));
    if (hasPtxas(dir))
      return dir.str();
  }
  return "";
}

LogicalResult lctx::buildCUDAPipeline(OpPassManager &pm,
                                      const CUDAOptions &options,
                                      std::string &error) {
  registerPasses();
  StringRef chip = options.chip;
  unsigned sm = 0;
  if (!chip.consume_front("sm_") || chip.getAsInteger(10, sm) || sm < 50) {
    error = "unknown GPU architecture '" + options.chip +
            "' (expected sm_<N>, N >= 50, e.g. sm_80 or sm_90)";
    return failure();
  }
  std::string toolkit = options.toolkit;
  if (options.cubin && !toolkit.empty()) {
    SmallString<128> ptxas(toolkit);
    llvm::sys::path::append(ptxas, "bin", "ptxas");
    if (!llvm::sys::fs::can_execute(ptxas)) {
      error = "the CUDA toolkit '" + toolkit + "' has no bin/ptxas";
      return failure();
    }
  }
  if (options.cubin && toolkit.empty()) {
    toolkit = findCUDAToolkit();
    if (toolkit.empty()) {
      error = "cubin needs ptxas from the CUDA toolkit: none found in "
              "$CUDA_HOME, $CUDA_PATH, /usr/local/cuda or $PATH (set "
              "--cuda-path, or emit PTX)";
      return failure();
    }
  }

  // lctx ops to linalg on tensors, as for the CPU (with Infini's
  // memory.attention and Switch's route.moe decomposed: no fused kernel
  // for them on the GPU yet).
  FrontendPipelineOptions frontend;
  frontend.decompose = true;
  buildFrontendPipeline(pm, frontend);
  pm.addPass(std::make_unique<PortableLoweringsPass>());
  // Attention over whole tensors: every head's scores at once, so that its
  // two products are single batched library GEMMs and nothing loops on the
  // host.
  ConvertLCtxToLinalgPassOptions lowering;
  lowering.attentionTile = options.libraryGemm ? -1 : 64;
  pm.addPass(createConvertLCtxToLinalgPass(lowering));
  pm.addPass(createConvertElementwiseToLinalgPass());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
  if (options.hostCode)
    pm.nest<func::FuncOp>().addPass(std::make_unique<SplitReductionsPass>());
  pm.addPass(std::make_unique<PrepareArgumentsPass>());

  auto parse = [&](StringRef text) {
    std::string message;
    llvm::raw_string_ostream os(message);
    if (succeeded(parsePassPipeline(text, pm, os)))
      return success();
    error = "internal error: cuda pipeline: " + message;
    return failure();
  };
  // Buffers, then every parallel loop nest on the grid: outer loops to
  // blocks, inner ones to threads; kernels outlined.
  if (failed(parse(
          "one-shot-bufferize{bufferize-function-boundaries "
          "function-boundary-type-conversion=identity-layout-map},"
          "buffer-results-to-out-params,canonicalize,"
          "buffer-deallocation-pipeline,canonicalize")))
    return failure();
  if (options.libraryGemm)
    pm.addPass(std::make_unique<LibraryGemmPass>());
  pm.nest<func::FuncOp>().addPass(std::make_unique<DeviceCopiesPass>());
  if (failed(parse("func.func(convert-linalg-to-parallel-loops)")))
    return failure();
  pm.nest<func::FuncOp>().addPass(std::make_unique<TileForThreadsPass>());
  if (failed(parse("func.func(convert-parallel-loops-to-gpu)")))
    return failure();
  pm.nest<func::FuncOp>().addPass(std::make_unique<SerialKernelsPass>());
  if (failed(parse("lower-affine,gpu-kernel-outlining,canonicalize,cse")))
    return failure();
  pm.addPass(std::make_unique<CheckHostCodePass>());
  pm.addPass(std::make_unique<MergeGPUModulesPass>());
  std::string binary =
      options.cubin ? "format=bin toolkit=" + toolkit : std::string("format=isa");
  if (failed(parse("nvvm-attach-target{chip=" + options.chip +
                   " O=3},gpu.module(gpu.func(convert-linalg-to-loops),"
                   "expand-strided-metadata,"
                   "lower-affine,convert-scf-to-cf,"
                   "convert-gpu-to-nvvm,arith-expand,"
                   "convert-arith-to-llvm,convert-index-to-llvm,"
                   "convert-math-to-llvm,convert-complex-to-llvm,canonicalize,"
                   "cse,reconcile-unrealized-casts),gpu-module-to-binary{" +
                   binary + "}")))
    return failure();
  if (!options.hostCode)
    return success();
  // The host side: launches and buffers through the GPU runtime calls,
  // then the LLVM dialect like the CPU code.
  pm.addPass(std::make_unique<HostRuntimePass>());
  if (!options.hostToLLVM)
    return success();
  return parse("scf-forall-to-for,expand-strided-metadata,lower-affine,"
               "convert-bufferization-to-memref,convert-scf-to-cf,"
               "gpu-to-llvm,finalize-memref-to-llvm,convert-math-to-llvm,"
               "convert-func-to-llvm,convert-arith-to-llvm,"
               "convert-index-to-llvm,convert-cf-to-llvm,canonicalize,"
               "reconcile-unrealized-casts");
}

SmallVector<std::string> lctx::collectGPUObjects(ModuleOp module) {
  SmallVector<std::string> objects;
  for (auto binary : module.getOps<gpu::BinaryOp>())
    for (Attribute attr : binary.getObjects()) {
      std::string bytes = cast<gpu::ObjectAttr>(attr).getObject().str();
      // PTX ends in a NUL for cuModuleLoadData; files do not want it.
      if (cast<gpu::ObjectAttr>(attr).getFormat() ==
              gpu::CompilationTarget::Assembly &&
          !bytes.empty() && bytes.back() == '\0')
        bytes.pop_back();
      objects.push_back(std::move(bytes));
    }
  return objects;
}
