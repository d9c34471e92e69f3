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

/// Row (b, t) of the output [B, K, P*D_G], i.e. out[b, t / P, (t % P) *
/// D_G :+ D_G], is pad[t] for t < P, else table[ids[b, t - P]] (+ pos[t -
/// P]). Two row-copy loops (buildRowGather) straight into the output, one
/// for the embedded bytes and one for the pad.
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
    Value out = emptyTensor(rewriter, loc, outType.getShape(),
                            outType.getElementType());
    // Where byte row `tt` (t >= 0) of batch `bIdx` goes.
    auto place = [&](OpBuilder &b, Location l, Value bIdx, Value tt,
                     RowGatherRow &row) {
      Value pC = indexConst(b, l, p);
      row.destIdx = {bIdx, b.create<arith::DivUIOp>(l, tt, pC)};
      row.destCol = b.create<arith::MulIOp>(
          l, b.create<arith::RemUIOp>(l, tt, pC), indexConst(b, l, dg));
    };
    // Embedded bytes: B * (T - P) rows.
    int64_t shifted = t - p;
    if (shifted > 0)
      out = buildRowGather(
          rewriter, loc, table, out, pos, bsz * shifted,
          [&](OpBuilder &b, Location l, Value r) {
            Value sC = indexConst(b, l, shifted);
            Value bIdx = b.create<arith::DivUIOp>(l, r, sC);
            Value src = b.create<arith::RemUIOp>(l, r, sC); // byte t - P
            RowGatherRow row;
            row.id = idAt(b, l, ids, bIdx, src);
            row.addRow = src;
            place(b, l, bIdx,
                  b.create<arith::AddIOp>(l, src, indexConst(b, l, p)), row);
            return row;
          });
    // The pad patch: B * P rows, row s of pad.
    out = buildRowGather(
        rewriter, loc, pad, out, Value(), bsz * p,
        [&](OpBuilder &b, Location l, Value r) {
          Value pC = indexConst(b, l, p);
          Value bIdx = b.create<arith::DivUIOp>(l, r, pC);
          Value slot = b.create<arith::RemUIOp>(l, r, pC);
          RowGatherRow row;
          row.id = b.create<arith::IndexCastOp>(l, b.getI64Type(), slot);
          place(b, l, bIdx, slot, row);
          return row;
        });
    rewriter.replaceOp(op, out);
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

/// The shared projection first, slots [B*K*P, D_G] x w_gl (the slots a
/// tensor.reshape of global_out, since expand/collapse shapes next to the
/// matmul would be folded into it by elementwise fusion, leaving register
/// tiles of only P rows); then one row-copy loop (buildRowGather) writes
/// each output row straight into the result: the local embedding of the
/// previous byte, from [local_pad; local_table] (row 0 for slot 0), plus the
/// projected row.
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
    Value slots = reshape(rewriter, loc, op.getGlobalOut(), {rows, dg});
    Value proj = buildMatmul(rewriter, loc, slots, op.getWGl());
    // [local_pad; local_table]: [V + 1, D_L].
    Value table = op.getLocalTable();
    int64_t v = op.getLocalTable().getType().getShape()[0];
    auto ofr = [&](int64_t x) -> OpFoldResult { return rewriter.getIndexAttr(x); };
    Value lpad = rewriter.create<tensor::ExpandShapeOp>(
        loc, RankedTensorType::get({1, dl}, elt), op.getLocalPad(),
        SmallVector<ReassociationIndices>{{0, 1}});
    Value both = emptyTensor(rewriter, loc, {v + 1, dl}, elt);
    both = rewriter.create<tensor::InsertSliceOp>(
        loc, lpad, both, ArrayRef<OpFoldResult>{ofr(0), ofr(0)},
        ArrayRef<OpFoldResult>{ofr(1), ofr(dl)},
        ArrayRef<OpFoldResult>{ofr(1), ofr(1)});
    both = rewriter.create<tensor::InsertSliceOp>(
        loc, table, both, ArrayRef<OpFoldResult>{ofr(1), ofr(0)},
        ArrayRef<OpFoldResult>{ofr(v), ofr(dl)},
        ArrayRef<OpFoldResult>{ofr(1), ofr(1)});
    Value ids = op.getIds();
    Type idType = cast<RankedTensorType>(ids.getType()).getElementType();
    // Row r = (n, slot) of the result [B*K, P, D_L]: row 0 of `both` for
    // slot 0, else 1 + ids[b, k*P + slot - 1] (-1, a zero row, for an id
    // outside [0, V)).
    Value out = buildRowGather(
        rewriter, loc, both,
        emptyTensor(rewriter, loc, {bsz * patches, p, dl}, elt), proj, rows,
        [&](OpBuilder &b, Location l, Value r) {
          auto cst = [&](int64_t x) -> Value {
            return b.create<arith::ConstantOp>(l, b.getIntegerAttr(idType, x));
          };
          Value pC = indexConst(b, l, p);
          Value lC = indexConst(b, l, patches * p);
          Value n = b.create<arith::DivUIOp>(l, r, pC);
          Value slot = b.create<arith::RemUIOp>(l, r, pC);
          Value bIdx = b.create<arith::DivUIOp>(l, r, lC);
          Value t = b.create<arith::RemUIOp>(l, r, lC); // k*P + slot
          Value first = b.create<arith::CmpIOp>(l, arith::CmpIPredicate::eq,
                                                slot, indexConst(b, l, 0));
          Value one = indexConst(b, l, 1);
          // Previous byte, clamped at slot 0 (where it is unused).
          Value tPrev = b.create<arith::SubIOp>(
              l, b.create<arith::SelectOp>(l, first, one, t), one);
          Value id = idAt(b, l, ids, bIdx, tPrev);
          Value valid = b.create<arith::AndIOp>(
              l, b.create<arith::CmpIOp>(l, arith::CmpIPredicate::sge, id, cst(0)),
              b.create<arith::CmpIOp>(l, arith::CmpIPredicate::slt, id, cst(v)));
          Value shifted = b.create<arith::SelectOp>(
              l, valid, b.create<arith::AddIOp>(l, id, cst(1)), cst(-1));
          RowGatherRow row;
          row.id = b.create<arith::SelectOp>(l, first, cst(0), shifted);
          row.destIdx = {n, slot};
          row.addRow = r;
          return row;
        });
    rewriter.replaceOp(op, out);
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
