//===- GPULowerings.cpp - GPU forms of lctx ops ---------------------------===//
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

} // namespace

std::unique_ptr<Pass> cuda::createPrepareArgumentsPass() {
  return std::make_unique<PrepareArgumentsPass>();
}

std::unique_ptr<Pass> cuda::createPortableLoweringsPass() {
  return std::make_unique<PortableLoweringsPass>();
}
