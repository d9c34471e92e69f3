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

/// ids[b, t].
Value idAt(OpBuilder &b, Location l, Value ids, Value bIdx, Value t) {
  return b.create<tensor::ExtractOp>(l, ids, ValueRange{bIdx, t});
}

/// [R, D] rows as [B, K, P*D] (R = B*K*P).
Value rowsToPatches(OpBuilder &b, Location l, Value rows, int64_t bsz,
                    int64_t patches, int64_t p) {
  auto type = cast<RankedTensorType>(rows.getType());
  int64_t d = type.getShape()[1];
  Type elt = type.getElementType();
  Value x = b.create<tensor::ExpandShapeOp>(
      l, RankedTensorType::get({bsz, patches, p, d}, elt), rows,
      SmallVector<ReassociationIndices>{{0, 1, 2}, {3}});
  return b.create<tensor::CollapseShapeOp>(
      l, RankedTensorType::get({bsz, patches, p * d}, elt), x,
      SmallVector<ReassociationIndices>{{0}, {1}, {2, 3}});
}

/// The output [B, K, P*D_G] is the rows [B*T, D_G]: row (b, t) is pad[t]
/// for t < P, else table[ids[b, t - P]] (+ pos[t - P]). Two row-copy loops
/// (buildRowGather), one for the embedded bytes and one for the pad.
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
    int64_t bsz = outType.getShape()[0], patches = outType.getShape()[1];
    int64_t t = patches * p;
    Value table = op.getTable(), pad = op.getPad(), ids = op.getIds(),
          pos = op.getPos();
    Type elt = outType.getElementType();
    Value rows = emptyTensor(rewriter, loc, {bsz * t, dg}, elt);
    // Embedded bytes: B * (T - P) rows.
    int64_t shifted = t - p;
    if (shifted > 0)
      rows = buildRowGather(
          rewriter, loc, table, rows, pos, bsz * shifted,
          [&](OpBuilder &b, Location l, Value r) {
            Value sC = indexConst(b, l, shifted);
            Value bIdx = b.create<arith::DivUIOp>(l, r, sC);
            Value src = b.create<arith::RemUIOp>(l, r, sC); // byte t - P
            Value dest = b.create<arith::AddIOp>(
                l, b.create<arith::MulIOp>(l, bIdx, indexConst(b, l, t)),
                b.create<arith::AddIOp>(l, src, indexConst(b, l, p)));
            return RowGatherRow{idAt(b, l, ids, bIdx, src), dest, src};
          });
    // The pad patch: B * P rows, row s of pad.
    rows = buildRowGather(
        rewriter, loc, pad, rows, Value(), bsz * p,
        [&](OpBuilder &b, Location l, Value r) {
          Value pC = indexConst(b, l, p);
          Value bIdx = b.create<arith::DivUIOp>(l, r, pC);
          Value slot = b.create<arith::RemUIOp>(l, r, pC);
          Value dest = b.create<arith::AddIOp>(
              l, b.create<arith::MulIOp>(l, bIdx, indexConst(b, l, t)), slot);
          Value id =
              b.create<arith::IndexCastOp>(l, b.getI64Type(), slot);
          return RowGatherRow{id, dest, Value()};
        });
    rewriter.replaceOp(op, rowsToPatches(rewriter, loc, rows, bsz, patches, p));
    return success();
  }
};

/// `x` reshaped to `shape` by tensor.reshape rather than expand/collapse,
/// which elementwise fusion would fold into an adjacent matmul by expanding
/// its loops (the register tiles would then span only P rows).
Value reshape(OpBuilder &b, Location l, Value x, ArrayRef<int64_t> shape) {
  auto type = cast<RankedTensorType>(x.getType());
  auto shapeType = RankedTensorType::get({static_cast<int64_t>(shape.size())},
                                         b.getI64Type());
  Value shapeV = b.create<arith::ConstantOp>(
      l, DenseIntElementsAttr::get(shapeType, shape));
  return b.create<tensor::ReshapeOp>(
      l, RankedTensorType::get(shape, type.getElementType()), x, shapeV);
}

/// The local embedding of the previous byte (local_pad at slot 0) is
/// gathered row by row (buildRowGather) into the accumulator of the shared
/// projection, which then adds global_out w_gl onto it.
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
    int64_t rows = bsz * patches * p;
    // [B, K, P*D_G] -> [B*K*P, D_G].
    Value slots = reshape(rewriter, loc, op.getGlobalOut(), {rows, dg});
    // The addend rows: [0; local_pad] ([2, D_L]), row 1 for slot 0.
    Value lpad = rewriter.create<tensor::ExpandShapeOp>(
        loc, RankedTensorType::get({1, dl}, elt), op.getLocalPad(),
        SmallVector<ReassociationIndices>{{0, 1}});
    Value addend = rewriter.create<tensor::InsertSliceOp>(
        loc, lpad, filledTensor(rewriter, loc, {2, dl}, elt, 0.0),
        ArrayRef<OpFoldResult>{rewriter.getIndexAttr(1), rewriter.getIndexAttr(0)},
        ArrayRef<OpFoldResult>{rewriter.getIndexAttr(1), rewriter.getIndexAttr(dl)},
        ArrayRef<OpFoldResult>{rewriter.getIndexAttr(1), rewriter.getIndexAttr(1)});
    Value ids = op.getIds();
    Type idType = cast<RankedTensorType>(ids.getType()).getElementType();
    // Row r = (b, k, slot): table[ids[b, k*P + slot - 1]] for slot > 0; a
    // zero row (id -1) plus local_pad for slot 0.
    Value prev = buildRowGather(
        rewriter, loc, op.getLocalTable(),
        emptyTensor(rewriter, loc, {rows, dl}, elt), addend, rows,
        [&](OpBuilder &b, Location l, Value r) {
          Value lC = indexConst(b, l, patches * p);
          Value bIdx = b.create<arith::DivUIOp>(l, r, lC);
          Value t = b.create<arith::RemUIOp>(l, r, lC); // k*P + slot
          Value slot = b.create<arith::RemUIOp>(l, t, indexConst(b, l, p));
          Value first = b.create<arith::CmpIOp>(l, arith::CmpIPredicate::eq,
                                                slot, indexConst(b, l, 0));
          Value one = indexConst(b, l, 1);
          // Previous byte, clamped at slot 0 (where it is unused).
          Value tPrev = b.create<arith::SubIOp>(
              l, b.create<arith::SelectOp>(l, first, one, t), one);
          Value id = b.create<arith::SelectOp>(
              l, first,
              b.create<arith::ConstantOp>(l, b.getIntegerAttr(idType, -1)),
              idAt(b, l, ids, bIdx, tPrev));
          Value addRow = b.create<arith::SelectOp>(l, first, one,
                                                   indexConst(b, l, 0));
          return RowGatherRow{id, r, addRow};
        });
    // prev + slots w_gl: the matmul accumulates onto the gathered rows.
    Value proj = rewriter
                     .create<linalg::MatmulOp>(loc, ValueRange{slots, op.getWGl()},
                                               ValueRange{prev})
                     .getResult(0);
    rewriter.replaceOp(op, reshape(rewriter, loc, proj, {bsz * patches, p, dl}));
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
