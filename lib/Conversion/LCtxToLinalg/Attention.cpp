//===- Attention.cpp - Flash-style lowering of lctx.attention -------------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// lctx.attention (math in docs/LCtxOps.md) as tiled attention with an online
// softmax: for each (batch, head, query tile) the keys are visited one tile
// at a time, keeping the running row max m, the running denominator l and
// the unnormalized output acc:
//
//   S = Q_tile K_tile^T * scale          (masked by positions)
//   m' = max(m, rowmax S);  P = exp(S - m');  c = exp(m - m')
//   l = l c + rowsum P;     acc = acc c + P V_tile;   m = m'
//   O_tile = acc / l        (0 for a row that saw no key)
//
// so no Tq x Tk score matrix is ever materialized: memory is
// O(tile^2 + tile * Dv). Q/K/V are padded to whole tiles; padded keys get
// position -1, which the mask treats as padding, and padded query rows are
// dropped. With default positions and a causal (or chunked) mask, key tiles
// entirely outside a query tile's visible range are skipped.
//
//===----------------------------------------------------------------------===//

#include "Patterns.h"

#include "lctx/Dialect/LCtx/IR/LCtxOps.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

#include <limits>

using namespace mlir;
using namespace mlir::lctx;
using namespace mlir::lctx::lowering;

namespace {

constexpr auto kParallel = utils::IteratorType::parallel;
constexpr auto kReduction = utils::IteratorType::reduction;
constexpr int64_t kTile = 64;

AffineMap map(MLIRContext *ctx, unsigned n, ArrayRef<unsigned> dims) {
  return selectDims(ctx, n, dims);
}

Value i64Const(OpBuilder &b, Location l, int64_t v) {
  return b.create<arith::ConstantOp>(l, b.getI64IntegerAttr(v));
}

/// Positions [B, T] as i64: `given` converted, or `offset + t`; entries at
/// t >= `valid` (padding to whole tiles) are -1, i.e. masked keys.
Value positionsI64(OpBuilder &b, Location loc, Value given, int64_t batch,
                   int64_t length, int64_t valid, int64_t offset) {
  Type i64 = b.getI64Type();
  return buildIndexGeneric(
      b, loc, {batch, length}, i64,
      [&](OpBuilder &nb, Location nl, ValueRange idx) -> Value {
        Value inside = nb.create<arith::CmpIOp>(
            nl, arith::CmpIPredicate::ult, idx[1], indexConst(nb, nl, valid));
        Value p;
        if (!given) {
          p = nb.create<arith::IndexCastOp>(
              nl, i64,
              nb.create<arith::AddIOp>(nl, idx[1], indexConst(nb, nl, offset)));
        } else {
          // Clamp the read for padded rows; the select below discards it.
          Value t = nb.create<arith::SelectOp>(nl, inside, idx[1],
                                               indexConst(nb, nl, 0));
          p = nb.create<tensor::ExtractOp>(nl, given, ValueRange{idx[0], t});
          if (!p.getType().isInteger(64))
            p = nb.create<arith::ExtSIOp>(nl, i64, p);
        }
        return nb.create<arith::SelectOp>(nl, inside, p, i64Const(nb, nl, -1));
      });
}

/// `x` [B, H, T, D] converted to f32 and zero-padded along T to `padded`.
Value padToTiles(OpBuilder &b, Location loc, Value x, int64_t padded) {
  auto type = cast<RankedTensorType>(x.getType());
  Type f32 = b.getF32Type();
  if (type.getElementType() != f32) {
    AffineMap id = b.getMultiDimIdentityMap(4);
    x = buildGeneric(b, loc, emptyTensor(b, loc, type.getShape(), f32), {x},
                     {id}, id, {kParallel, kParallel, kParallel, kParallel},
                     [&](OpBuilder &nb, Location nl, ValueRange a) {
                       return toCompute(nb, nl, a[0], f32);
                     });
  }
  int64_t t = type.getShape()[2];
  if (padded == t)
    return x;
  SmallVector<OpFoldResult> low(4, b.getIndexAttr(0)), high(4, b.getIndexAttr(0));
  high[2] = b.getIndexAttr(padded - t);
  auto padType = RankedTensorType::get(
      {type.getShape()[0], type.getShape()[1], padded, type.getShape()[3]}, f32);
  return b.create<tensor::PadOp>(loc, padType, x, low, high,
                                 floatConst(b, loc, f32, 0.0));
}

/// A [rows, cols] slice of `src` [B, H, T, D] at (b, h, t0, 0).
Value tile2D(OpBuilder &b, Location l, Value src, Value bi, Value hi, Value t0,
             int64_t rows, int64_t cols) {
  auto type = RankedTensorType::get(
      {rows, cols}, cast<RankedTensorType>(src.getType()).getElementType());
  SmallVector<OpFoldResult> offsets = {bi, hi, t0, b.getIndexAttr(0)};
  SmallVector<OpFoldResult> sizes = {b.getIndexAttr(1), b.getIndexAttr(1),
                                     b.getIndexAttr(rows), b.getIndexAttr(cols)};
  SmallVector<OpFoldResult> strides(4, b.getIndexAttr(1));
  return b.create<tensor::ExtractSliceOp>(l, type, src, offsets, sizes,
                                          strides);
}

/// A [len] slice of positions [B, T] at (b, t0).
Value posTile(OpBuilder &b, Location l, Value pos, Value bi, Value t0,
              int64_t len) {
  auto type = RankedTensorType::get({len}, b.getI64Type());
  SmallVector<OpFoldResult> offsets = {bi, t0};
  SmallVector<OpFoldResult> sizes = {b.getIndexAttr(1), b.getIndexAttr(len)};
  SmallVector<OpFoldResult> strides(2, b.getIndexAttr(1));
  return b.create<tensor::ExtractSliceOp>(l, type, pos, offsets, sizes,
                                          strides);
}

struct AttentionLowering : OpRewritePattern<AttentionOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(AttentionOp op,
                                PatternRewriter &rewriter) const override {
    if (!hasStaticTensorShapes(op))
      return rewriter.notifyMatchFailure(op, "dynamic shapes");
    Location loc = op.getLoc();
    MLIRContext *ctx = getContext();
    auto qType = op.getQuery().getType();
    int64_t bsz = qType.getShape()[0], heads = qType.getShape()[1];
    int64_t tq = qType.getShape()[2], dh = qType.getShape()[3];
    int64_t tk = op.getKey().getType().getShape()[2];
    int64_t group = heads / op.getKey().getType().getShape()[1];
    int64_t dv = op.getValue().getType().getShape()[3];
    Type elt = qType.getElementType();
    Type f32 = rewriter.getF32Type();
    std::optional<int64_t> chunk;
    if (auto c = op.getChunkSize())
      chunk = static_cast<int64_t>(*c);
    double scale = *op.getEffectiveScale();
    bool causal = op.getCausal();
    bool defaultPositions = !op.getQPositions();

    // Tiles: at most kTile, whole tensors when shorter.
    int64_t bq = std::min(kTile, std::max<int64_t>(tq, 1));
    int64_t bk = std::min(kTile, std::max<int64_t>(tk, 1));
    int64_t nq = (tq + bq - 1) / bq, nk = (tk + bk - 1) / bk;
    int64_t tqPad = nq * bq, tkPad = nk * bk;

    Value qPos = positionsI64(rewriter, loc, op.getQPositions(), bsz, tqPad, tq,
                              tk - tq);
    Value kPos = positionsI64(rewriter, loc, op.getKPositions(), bsz, tkPad, tk,
                              0);
    Value q = op.getQuery(), k = op.getKey();
    if (auto theta = op.getRopeThetaAttr()) {
      // RoPE at the true positions (before padding; padded rows are zero).
      Value qp = positionsI64(rewriter, loc, op.getQPositions(), bsz, tq, tq,
                              tk - tq);
      Value kp = positionsI64(rewriter, loc, op.getKPositions(), bsz, tk, tk,
                              0);
      q = buildRope(rewriter, loc, q, qp, theta.getValueAsDouble(), chunk);
      k = buildRope(rewriter, loc, k, kp, theta.getValueAsDouble(), chunk);
    }
    q = padToTiles(rewriter, loc, q, tqPad);
    k = padToTiles(rewriter, loc, k, tkPad);
    Value v = padToTiles(rewriter, loc, op.getValue(), tkPad);

    double inf = std::numeric_limits<double>::infinity();
    // Visibility of key j to query i from their positions.
    auto visible = [&](OpBuilder &nb, Location nl, Value pq, Value pk) {
      Value ok = nb.create<arith::CmpIOp>(nl, arith::CmpIPredicate::sge, pk,
                                          i64Const(nb, nl, 0));
      if (causal)
        ok = nb.create<arith::AndIOp>(
            nl, ok,
            nb.create<arith::CmpIOp>(nl, arith::CmpIPredicate::sle, pk, pq));
      if (chunk) {
        Value c = i64Const(nb, nl, *chunk);
        ok = nb.create<arith::AndIOp>(
            nl, ok,
            nb.create<arith::CmpIOp>(nl, arith::CmpIPredicate::eq,
                                     nb.create<arith::FloorDivSIOp>(nl, pq, c),
                                     nb.create<arith::FloorDivSIOp>(nl, pk, c)));
      }
      return ok;
    };

    Value out = emptyTensor(rewriter, loc, {bsz, heads, tqPad, dv}, elt);
    Value c0 = indexConst(rewriter, loc, 0), c1 = indexConst(rewriter, loc, 1);
    auto outer = rewriter.create<scf::ForOp>(
        loc, c0, indexConst(rewriter, loc, bsz * heads * nq), c1,
        ValueRange{out},
        [&](OpBuilder &b, Location l, Value iv, ValueRange acc0) {
          Value nqC = indexConst(b, l, nq);
          Value qi = b.create<arith::RemUIOp>(l, iv, nqC);
          Value bh = b.create<arith::DivUIOp>(l, iv, nqC);
          Value bi = b.create<arith::DivUIOp>(l, bh, indexConst(b, l, heads));
          Value hi = b.create<arith::RemUIOp>(l, bh, indexConst(b, l, heads));
          Value gi = b.create<arith::DivUIOp>(l, hi, indexConst(b, l, group));
          Value q0 = b.create<arith::MulIOp>(l, qi, indexConst(b, l, bq));
          Value qTile = tile2D(b, l, q, bi, hi, q0, bq, dh);
          Value qpTile = posTile(b, l, qPos, bi, q0, bq);

          // Key tiles this query tile can see, with default positions: up to
          // the last query's position (causal), from its chunk's start.
          Value kBegin = c0, kEnd = indexConst(b, l, nk);
          if (defaultPositions && (causal || chunk)) {
            int64_t off = tk - tq;
            Value first = b.create<arith::AddIOp>(l, q0, indexConst(b, l, off));
            if (causal) {
              // ceil((q0 + off + bq) / bk), clamped to nk.
              Value hiPos = b.create<arith::AddIOp>(
                  l, first, indexConst(b, l, bq + bk - 1));
              kEnd = b.create<arith::MinSIOp>(
                  l, kEnd,
                  b.create<arith::DivSIOp>(l, hiPos, indexConst(b, l, bk)));
              kEnd = b.create<arith::MaxSIOp>(l, kEnd, c0);
            }
            if (chunk && off >= 0) {
              Value chunkStart = b.create<arith::MulIOp>(
                  l,
                  b.create<arith::DivSIOp>(l, first,
                                           indexConst(b, l, *chunk)),
                  indexConst(b, l, *chunk));
              kBegin = b.create<arith::MinSIOp>(
                  l, kEnd,
                  b.create<arith::DivSIOp>(l, chunkStart,
                                           indexConst(b, l, bk)));
            }
          }

          Value mInit = filledTensor(b, l, {bq}, f32, -inf);
          Value lInit = filledTensor(b, l, {bq}, f32, 0.0);
          Value accInit = filledTensor(b, l, {bq, dv}, f32, 0.0);
          auto inner = b.create<scf::ForOp>(
              l, kBegin, kEnd, c1, ValueRange{mInit, lInit, accInit},
              [&](OpBuilder &kb, Location kl, Value kj, ValueRange st) {
                Value k0 = kb.create<arith::MulIOp>(kl, kj,
                                                    indexConst(kb, kl, bk));
                Value kTile = tile2D(kb, kl, k, bi, gi, k0, bk, dh);
                Value vTile = tile2D(kb, kl, v, bi, gi, k0, bk, dv);
                Value kpTile = posTile(kb, kl, kPos, bi, k0, bk);
                Value s = buildMatmul(kb, kl, qTile, kTile,
                                      /*transposeB=*/true);
                AffineMap id2 = map(ctx, 2, {0, 1}), row = map(ctx, 2, {0}),
                          col = map(ctx, 2, {1});
                // Every loop-carried value (m, l, acc) is updated in place
                // from its iter_arg, after all reads of its old value, so
                // that bufferization keeps the yields equivalent to them.
                AffineMap vec = map(ctx, 1, {0});
                // Row max of this tile's visible scaled scores.
                Value rmax = buildGeneric(
                    kb, kl, filledTensor(kb, kl, {bq}, f32, -inf),
                    {s, qpTile, kpTile}, {id2, row, col}, row,
                    {kParallel, kReduction},
                    [&](OpBuilder &nb, Location nl, ValueRange a) {
                      Value sv = nb.create<arith::MulFOp>(
                          nl, a[0], floatConst(nb, nl, f32, scale));
                      return nb
                          .create<arith::SelectOp>(
                              nl, visible(nb, nl, a[1], a[2]),
                              nb.create<arith::MaximumFOp>(nl, a[3], sv), a[3])
                          .getResult();
                    });
                // c = exp(m - m') with m' = max(m, rmax); 1 when equal
                // (which also covers -inf == -inf).
                Value corr = buildGeneric(
                    kb, kl, emptyTensor(kb, kl, {bq}, f32), {st[0], rmax},
                    {vec, vec}, vec, {kParallel},
                    [&](OpBuilder &nb, Location nl, ValueRange a) {
                      Value mNew = nb.create<arith::MaximumFOp>(nl, a[0], a[1]);
                      Value same = nb.create<arith::CmpFOp>(
                          nl, arith::CmpFPredicate::OEQ, a[0], mNew);
                      Value e = nb.create<math::ExpOp>(
                          nl, nb.create<arith::SubFOp>(nl, a[0], mNew));
                      return nb
                          .create<arith::SelectOp>(
                              nl, same, floatConst(nb, nl, f32, 1.0), e)
                          .getResult();
                    });
                Value mNew = buildGeneric(
                    kb, kl, st[0], {rmax}, {vec}, vec, {kParallel},
                    [&](OpBuilder &nb, Location nl, ValueRange a) {
                      return nb.create<arith::MaximumFOp>(nl, a[1], a[0])
                          .getResult();
                    });
                // P = visible ? exp(s * scale - m') : 0.
                Value p = buildGeneric(
                    kb, kl, emptyTensor(kb, kl, {bq, bk}, f32),
                    {s, mNew, qpTile, kpTile}, {id2, row, row, col}, id2,
                    {kParallel, kParallel},
                    [&](OpBuilder &nb, Location nl, ValueRange a) {
                      Value sv = nb.create<arith::MulFOp>(
                          nl, a[0], floatConst(nb, nl, f32, scale));
                      Value e = nb.create<math::ExpOp>(
                          nl, nb.create<arith::SubFOp>(nl, sv, a[1]));
                      return nb
                          .create<arith::SelectOp>(
                              nl, visible(nb, nl, a[2], a[3]), e,
                              floatConst(nb, nl, f32, 0.0))
                          .getResult();
                    });
                // l = l c + rowsum P.
                Value lScaled = buildGeneric(
                    kb, kl, st[1], {corr}, {vec}, vec, {kParallel},
                    [&](OpBuilder &nb, Location nl, ValueRange a) {
                      return nb.create<arith::MulFOp>(nl, a[1], a[0])
                          .getResult();
                    });
                Value lNew = buildGeneric(
                    kb, kl, lScaled, {p}, {id2}, row, {kParallel, kReduction},
                    [&](OpBuilder &nb, Location nl, ValueRange a) {
                      return nb.create<arith::AddFOp>(nl, a[1], a[0])
                          .getResult();
                    });
                // acc = acc c + P V.
                Value accScaled = buildGeneric(
                    kb, kl, st[2], {corr}, {row}, id2, {kParallel, kParallel},
                    [&](OpBuilder &nb, Location nl, ValueRange a) {
                      return nb.create<arith::MulFOp>(nl, a[1], a[0])
                          .getResult();
                    });
                Value accNew =
                    kb.create<linalg::MatmulOp>(kl, ValueRange{p, vTile},
                                                ValueRange{accScaled})
                        .getResult(0);
                kb.create<scf::YieldOp>(kl, ValueRange{mNew, lNew, accNew});
              });
          // O_tile = acc / l (0 for rows that saw no key), in the op's type.
          Value o = buildGeneric(
              b, l, emptyTensor(b, l, {bq, dv}, elt),
              {inner.getResult(2), inner.getResult(1)},
              {map(ctx, 2, {0, 1}), map(ctx, 2, {0})}, map(ctx, 2, {0, 1}),
              {kParallel, kParallel},
              [&](OpBuilder &nb, Location nl, ValueRange a) {
                Value zero = floatConst(nb, nl, f32, 0.0);
                Value seen = nb.create<arith::CmpFOp>(
                    nl, arith::CmpFPredicate::OGT, a[1], zero);
                Value r = nb.create<arith::SelectOp>(
                    nl, seen, nb.create<arith::DivFOp>(nl, a[0], a[1]), zero);
                return fromCompute(nb, nl, r, elt);
              });
          SmallVector<OpFoldResult> offsets = {bi, hi, q0, b.getIndexAttr(0)};
          SmallVector<OpFoldResult> sizes = {b.getIndexAttr(1),
                                             b.getIndexAttr(1),
                                             b.getIndexAttr(bq),
                                             b.getIndexAttr(dv)};
          SmallVector<OpFoldResult> strides(4, b.getIndexAttr(1));
          Value ins = b.create<tensor::InsertSliceOp>(l, o, acc0[0], offsets,
                                                      sizes, strides);
          b.create<scf::YieldOp>(l, ins);
        });
    Value result = outer.getResult(0);
    if (tqPad != tq) {
      SmallVector<OpFoldResult> offsets(4, rewriter.getIndexAttr(0));
      SmallVector<OpFoldResult> sizes = {
          rewriter.getIndexAttr(bsz), rewriter.getIndexAttr(heads),
          rewriter.getIndexAttr(tq), rewriter.getIndexAttr(dv)};
      SmallVector<OpFoldResult> strides(4, rewriter.getIndexAttr(1));
      result = rewriter.create<tensor::ExtractSliceOp>(loc, result, offsets,
                                                       sizes, strides);
    }
    rewriter.replaceOp(op, result);
    return success();
  }
};

} // namespace

void lowering::populateAttentionPatterns(RewritePatternSet &patterns) {
  patterns.add<AttentionLowering>(patterns.getContext());
}
