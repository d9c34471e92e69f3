//===- PatchOps.cpp - Lower the MEGABYTE patch ops ------------------------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// The math of each op is in its ODS description (docs/LCtxOps.md).
//
//===----------------------------------------------------------------------===//

#include "Patterns.h"

#include "lctx/Dialect/LCtx/IR/LCtxOps.h"

using namespace mlir;
using namespace mlir::lctx;
using namespace mlir::lctx::lowering;

namespace {

/// table[ids[b, t], d], or a zero row when the id is outside [0, V).
Value lookupRow(OpBuilder &b, Location l, Value table, Value ids, Value bIdx,
                Value t, Value d) {
  Value id = b.create<tensor::ExtractOp>(l, ids, ValueRange{bIdx, t});
  return lookupRowOrZero(b, l, table, id, d);
}

struct PatchEmbedLowering : OpRewritePattern<PatchEmbedOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(PatchEmbedOp op,
                                PatternRewriter &rewriter) const override {
    if (!hasStaticTensorShapes(op))
      return rewriter.notifyMatchFailure(op, "dynamic shapes");
    Location loc = op.getLoc();
    auto outType = op.getType();
    int64_t p = op.getPatchSizeAttr().getInt();
    int64_t dg = op.getTable().getType().getShape()[1];
    Value table = op.getTable(), pad = op.getPad(), ids = op.getIds(),
          pos = op.getPos();
    Type elt = outType.getElementType();
    // out[b, k, c] with slot s = c / D_G and feature d = c % D_G.
    Value result = buildIndexGeneric(
        rewriter, loc, outType.getShape(), elt,
        [&](OpBuilder &b, Location l, ValueRange idx) -> Value {
          Value dgC = indexConst(b, l, dg);
          Value slot = b.create<arith::DivUIOp>(l, idx[2], dgC);
          Value d = b.create<arith::RemUIOp>(l, idx[2], dgC);
          Value isPad = b.create<arith::CmpIOp>(l, arith::CmpIPredicate::eq,
                                                idx[1], indexConst(b, l, 0));
          // Byte t = (k - 1) * P + slot; clamp k to 1 for the pad patch so
          // the (unused) lookup stays in bounds.
          Value one = indexConst(b, l, 1);
          Value k = b.create<arith::SelectOp>(l, isPad, one, idx[1]);
          Value t = b.create<arith::AddIOp>(
              l,
              b.create<arith::MulIOp>(l, b.create<arith::SubIOp>(l, k, one),
                                      indexConst(b, l, p)),
              slot);
          Value e = lookupRow(b, l, table, ids, idx[0], t, d);
          if (pos)
            e = b.create<arith::AddFOp>(
                l, e, b.create<tensor::ExtractOp>(l, pos, ValueRange{t, d}));
          Value padV = b.create<tensor::ExtractOp>(l, pad, ValueRange{slot, d});
          return b.create<arith::SelectOp>(l, isPad, padV, e);
        });
    rewriter.replaceOp(op, result);
    return success();
  }
};

struct PatchToLocalLowering : OpRewritePattern<PatchToLocalOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(PatchToLocalOp op,
                                PatternRewriter &rewriter) const override {
    if (!hasStaticTensorShapes(op))
      return rewriter.notifyMatchFailure(op, "dynamic shapes");
    Location loc = op.getLoc();
    auto gType = op.getGlobalOut().getType();
    int64_t bsz = gType.getShape()[0], patches = gType.getShape()[1];
    int64_t p = op.getPatchSizeAttr().getInt();
    int64_t dg = op.getWGl().getType().getShape()[0];
    int64_t dl = op.getWGl().getType().getShape()[1];
    Type elt = gType.getElementType();
    // [B, K, P*D_G] -> [B*K*P, D_G], one shared projection, -> [B*K, P, D_L].
    auto slotsType = RankedTensorType::get({bsz * patches * p, dg}, elt);
    Value slots = rewriter.create<tensor::ExpandShapeOp>(
        loc, RankedTensorType::get({bsz, patches, p, dg}, elt),
        op.getGlobalOut(), SmallVector<ReassociationIndices>{{0}, {1}, {2, 3}});
    slots = rewriter.create<tensor::CollapseShapeOp>(
        loc, slotsType, slots,
        SmallVector<ReassociationIndices>{{0, 1, 2}, {3}});
    Value proj = buildMatmul(rewriter, loc, slots, op.getWGl());
    proj = rewriter.create<tensor::ExpandShapeOp>(
        loc, RankedTensorType::get({bsz * patches, p, dl}, elt), proj,
        SmallVector<ReassociationIndices>{{0, 1}, {2}});
    // + local embedding of the previous byte (local_pad at slot 0).
    Value ids = op.getIds(), table = op.getLocalTable(),
          lpad = op.getLocalPad();
    AffineMap id = rewriter.getMultiDimIdentityMap(3);
    Value init = emptyTensor(rewriter, loc, {bsz * patches, p, dl}, elt);
    Value result = buildGeneric(
        rewriter, loc, init, {proj}, {id}, id,
        {utils::IteratorType::parallel, utils::IteratorType::parallel,
         utils::IteratorType::parallel},
        [&](OpBuilder &b, Location l, ValueRange a) -> Value {
          Value n = b.create<linalg::IndexOp>(l, 0);
          Value slot = b.create<linalg::IndexOp>(l, 1);
          Value d = b.create<linalg::IndexOp>(l, 2);
          Value kC = indexConst(b, l, patches);
          Value bIdx = b.create<arith::DivUIOp>(l, n, kC);
          Value k = b.create<arith::RemUIOp>(l, n, kC);
          Value first = b.create<arith::CmpIOp>(l, arith::CmpIPredicate::eq,
                                                slot, indexConst(b, l, 0));
          // Previous byte t = k*P + slot - 1, clamped at slot 0 (unused).
          Value one = indexConst(b, l, 1);
          Value s = b.create<arith::SelectOp>(l, first, one, slot);
          Value t = b.create<arith::SubIOp>(
              l,
              b.create<arith::AddIOp>(
                  l, b.create<arith::MulIOp>(l, k, indexConst(b, l, p)), s),
              one);
          Value e = lookupRow(b, l, table, ids, bIdx, t, d);
          Value padV = b.create<tensor::ExtractOp>(l, lpad, ValueRange{d});
          Value add = b.create<arith::SelectOp>(l, first, padV, e);
          return b.create<arith::AddFOp>(l, a[0], add);
        });
    rewriter.replaceOp(op, result);
    return success();
  }
};

/// [B*K, P, X] -> [B*K*P, X] -> [B, K*P, X]: a pure reshape.
struct PatchMergeLowering : OpRewritePattern<PatchMergeOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(PatchMergeOp op,
                                PatternRewriter &rewriter) const override {
    if (!hasStaticTensorShapes(op))
      return rewriter.notifyMatchFailure(op, "dynamic shapes");
    Location loc = op.getLoc();
    auto in = op.getInput().getType();
    auto flat = RankedTensorType::get(
        {in.getShape()[0] * in.getShape()[1], in.getShape()[2]},
        in.getElementType());
    Value m = rewriter.create<tensor::CollapseShapeOp>(
        loc, flat, op.getInput(),
        SmallVector<ReassociationIndices>{{0, 1}, {2}});
    rewriter.replaceOpWithNewOp<tensor::ExpandShapeOp>(
        op, op.getType(), m, SmallVector<ReassociationIndices>{{0, 1}, {2}});
    return success();
  }
};

} // namespace

void lowering::populatePatchOpsPatterns(RewritePatternSet &patterns) {
  // clang-format off
  patterns.add<
      PatchEmbedLowering,
      PatchMergeLowering,
      PatchToLocalLowering
  >(patterns.getContext());
  // clang-format on
}
