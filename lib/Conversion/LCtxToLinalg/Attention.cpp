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

#include <cmath>
#include <limits>

using namespace mlir;
using namespace mlir::lctx;
using namespace mlir::lctx::lowering;

namespace {


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

/// The extents of an attention: batch, query heads, query length, head
/// dim, key length, query heads per key/value head, value dim.
struct AttentionDims {
  int64_t bsz, heads, tq, dh, tk, group, dv;
  static AttentionDims of(const FlashAttentionArgs &args) {
    ArrayRef<int64_t> q = cast<RankedTensorType>(args.query.getType()).getShape();
    ArrayRef<int64_t> k = cast<RankedTensorType>(args.key.getType()).getShape();
    ArrayRef<int64_t> v = cast<RankedTensorType>(args.value.getType()).getShape();
    return {q[0], q[1], q[2], q[3], k[2], q[1] / k[1], v[3]};
  }
};

/// Whether the key at position `pk` is visible to the query at `pq` (i64):
/// a real key (pk >= 0; padding and empty cache slots are -1), not in the
/// future when causal, in the query's chunk when chunked.
Value keyVisible(OpBuilder &b, Location l, Value pq, Value pk, bool causal,
                 std::optional<int64_t> chunk) {
  Value ok = b.create<arith::CmpIOp>(l, arith::CmpIPredicate::sge, pk,
                                     i64Const(b, l, 0));
  if (causal)
    ok = b.create<arith::AndIOp>(
        l, ok, b.create<arith::CmpIOp>(l, arith::CmpIPredicate::sle, pk, pq));
  if (chunk) {
    Value c = i64Const(b, l, *chunk);
    ok = b.create<arith::AndIOp>(
        l, ok,
        b.create<arith::CmpIOp>(l, arith::CmpIPredicate::eq,
                                b.create<arith::FloorDivSIOp>(l, pq, c),
                                b.create<arith::FloorDivSIOp>(l, pk, c)));
  }
  return ok;
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

} // namespace

/// Attention over whole tensors (tile < 0, the GPU form): the scores of
/// every (batch, head) at once, S = Q K^T [B, H, Tq, Tk], then the masked
/// row max, P = exp(S scale - max), its row sums and O = P V / sum. The two
/// products are batched contractions (one library GEMM each on the GPU)
/// and every other step one kernel over all rows: no loop over heads or
/// tiles on the host. Memory O(B H Tq Tk).
static Value buildBatchedAttention(OpBuilder &b, Location loc,
                                   const FlashAttentionArgs &args) {
  MLIRContext *ctx = b.getContext();
  auto [bsz, heads, tq, dh, tk, group, dv] = AttentionDims::of(args);
  (void)dh;
  Type elt = args.resultElementType;
  Type f32 = b.getF32Type();
  double scale = args.scale, inf = std::numeric_limits<double>::infinity();
  std::optional<int64_t> chunk = args.chunkSize;
  bool causal = args.causal;
  Value qPos = positionsI64(b, loc, args.qPositions, bsz, tq, tq, tk - tq);
  Value kPos = positionsI64(b, loc, args.kPositions, bsz, tk, tk, 0);
  Value q = padToTiles(b, loc, args.query, tq);
  Value k = padToTiles(b, loc, args.key, tk);
  Value v = padToTiles(b, loc, args.value, tk);
  if (args.ropeTheta) {
    q = buildRope(b, loc, q, qPos, *args.ropeTheta, chunk);
    k = buildRope(b, loc, k, kPos, *args.ropeTheta, chunk);
  }
  auto visible = [&](OpBuilder &nb, Location nl, Value pq, Value pk) {
    return keyVisible(nb, nl, pq, pk, causal, chunk);
  };
  // Loop dims (b, h, i, j, x): the key/value head of head h is h / group.
  AffineExpr d0 = getAffineDimExpr(0, ctx), d1 = getAffineDimExpr(1, ctx),
             d2 = getAffineDimExpr(2, ctx), d3 = getAffineDimExpr(3, ctx),
             d4 = getAffineDimExpr(4, ctx);
  AffineExpr kvHead = group == 1 ? d1 : d1.floorDiv(group);
  auto mulAdd = [](OpBuilder &nb, Location nl, ValueRange a) {
    return nb.create<arith::AddFOp>(nl, a[2],
                                    nb.create<arith::MulFOp>(nl, a[0], a[1]))
        .getResult();
  };
  SmallVector<utils::IteratorType> contract = {kParallel, kParallel, kParallel,
                                               kParallel, kReduction};
  // S[b, h, i, j] = sum_x Q[b, h, i, x] K[b, h/g, j, x].
  Value s = buildGeneric(
      b, loc, filledTensor(b, loc, {bsz, heads, tq, tk}, f32, 0.0), {q, k},
      {AffineMap::get(5, 0, {d0, d1, d2, d4}, ctx),
       AffineMap::get(5, 0, {d0, kvHead, d3, d4}, ctx)},
      AffineMap::get(5, 0, {d0, d1, d2, d3}, ctx), contract, mulAdd);
  // Over (b, h, i, j): the scores, the query and key positions, a row.
  AffineMap id4 = selectDims(ctx, 4, {0, 1, 2, 3}),
            qp = selectDims(ctx, 4, {0, 2}), kp = selectDims(ctx, 4, {0, 3}),
            row = selectDims(ctx, 4, {0, 1, 2});
  SmallVector<utils::IteratorType> rows = {kParallel, kParallel, kParallel,
                                           kReduction};
  SmallVector<utils::IteratorType> all(4, kParallel);
  // max(m, visible ? s scale : -inf): a plain max combiner, which the GPU
  // pipeline can split across threads.
  Value m = buildGeneric(
      b, loc, filledTensor(b, loc, {bsz, heads, tq}, f32, -inf),
      {s, qPos, kPos}, {id4, qp, kp}, row, rows,
      [&](OpBuilder &nb, Location nl, ValueRange a) {
        Value sv =
            nb.create<arith::MulFOp>(nl, a[0], floatConst(nb, nl, f32, scale));
        Value masked = nb.create<arith::SelectOp>(
            nl, visible(nb, nl, a[1], a[2]), sv,
            floatConst(nb, nl, f32, -inf));
        return nb.create<arith::MaximumFOp>(nl, a[3], masked).getResult();
      });
  Value p = buildGeneric(
      b, loc, emptyTensor(b, loc, {bsz, heads, tq, tk}, f32),
      {s, m, qPos, kPos}, {id4, row, qp, kp}, id4, all,
      [&](OpBuilder &nb, Location nl, ValueRange a) {
        Value sv =
            nb.create<arith::MulFOp>(nl, a[0], floatConst(nb, nl, f32, scale));
        Value e = nb.create<math::ExpOp>(nl,
                                         nb.create<arith::SubFOp>(nl, sv, a[1]));
        return nb
            .create<arith::SelectOp>(nl, visible(nb, nl, a[2], a[3]), e,
                                     floatConst(nb, nl, f32, 0.0))
            .getResult();
      });
  Value l = buildGeneric(
      b, loc, filledTensor(b, loc, {bsz, heads, tq}, f32, 0.0), {p}, {id4},
      row, rows, [&](OpBuilder &nb, Location nl, ValueRange a) {
        return nb.create<arith::AddFOp>(nl, a[1], a[0]).getResult();
      });
  // O[b, h, i, e] = sum_j P[b, h, i, j] V[b, h/g, j, e]: loops (b, h, i, e, j).
  Value o = buildGeneric(
      b, loc, filledTensor(b, loc, {bsz, heads, tq, dv}, f32, 0.0), {p, v},
      {AffineMap::get(5, 0, {d0, d1, d2, d4}, ctx),
       AffineMap::get(5, 0, {d0, kvHead, d4, d3}, ctx)},
      AffineMap::get(5, 0, {d0, d1, d2, d3}, ctx), contract, mulAdd);
  // O / l, 0 for rows that saw no key.
  return buildGeneric(
      b, loc, emptyTensor(b, loc, {bsz, heads, tq, dv}, elt), {o, l},
      {id4, row}, id4, all, [&](OpBuilder &nb, Location nl, ValueRange a) {
        Value zero = floatConst(nb, nl, f32, 0.0);
        Value seen = nb.create<arith::CmpFOp>(nl, arith::CmpFPredicate::OGT,
                                              a[1], zero);
        Value r = nb.create<arith::SelectOp>(
            nl, seen, nb.create<arith::DivFOp>(nl, a[0], a[1]), zero);
        return fromCompute(nb, nl, r, elt);
      });
}

Value lowering::buildFlashAttention(OpBuilder &rewriter, Location loc,
                                    const FlashAttentionArgs &args,
                                    FlashEpilogue epilogue) {
  MLIRContext *ctx = rewriter.getContext();
  auto [bsz, heads, tq, dh, tk, group, dv] = AttentionDims::of(args);
  Type elt = args.resultElementType;
  Type f32 = rewriter.getF32Type();
  std::optional<int64_t> chunk = args.chunkSize;
  double scale = args.scale;
  bool causal = args.causal;
  bool defaultPositions = !args.qPositions;

    // Tiles: at most args.tile (0: no limit), whole tensors when shorter.
    int64_t limit = args.tile > 0 ? args.tile
                                  : std::numeric_limits<int64_t>::max();
    int64_t bq = std::min(limit, std::max<int64_t>(tq, 1));
    int64_t bk = std::min(limit, std::max<int64_t>(tk, 1));
    int64_t nq = (tq + bq - 1) / bq, nk = (tk + bk - 1) / bk;
    int64_t tqPad = nq * bq, tkPad = nk * bk;

    Value qPos = positionsI64(rewriter, loc, args.qPositions, bsz, tqPad, tq,
                              tk - tq);
    Value kPos = positionsI64(rewriter, loc, args.kPositions, bsz, tkPad, tk,
                              0);
    // In f32 from here on (bf16/f16 operands are extended once).
    Value q = padToTiles(rewriter, loc, args.query, tq),
          k = padToTiles(rewriter, loc, args.key, tk);
    if (args.ropeTheta) {
      // RoPE at the true positions (before padding; padded rows are zero).
      Value qp = positionsI64(rewriter, loc, args.qPositions, bsz, tq, tq,
                              tk - tq);
      Value kp = positionsI64(rewriter, loc, args.kPositions, bsz, tk, tk, 0);
      q = buildRope(rewriter, loc, q, qp, *args.ropeTheta, chunk);
      k = buildRope(rewriter, loc, k, kp, *args.ropeTheta, chunk);
    }
    // The epilogue sees the query without RoPE (Infini retrieval uses none).
    Value qRaw = epilogue ? padToTiles(rewriter, loc, args.query, tqPad)
                          : Value();
    q = padToTiles(rewriter, loc, q, tqPad);
    k = padToTiles(rewriter, loc, k, tkPad);
    Value v = padToTiles(rewriter, loc, args.value, tkPad);

    double inf = std::numeric_limits<double>::infinity();
    auto visible = [&](OpBuilder &nb, Location nl, Value pq, Value pk) {
      return keyVisible(nb, nl, pq, pk, causal, chunk);
    };

    Value out = emptyTensor(rewriter, loc, {bsz, heads, tqPad, dv}, elt);
    Value c0 = indexConst(rewriter, loc, 0), c1 = indexConst(rewriter, loc, 1);
    // The (batch, head, query tile) iterations are independent: an
    // scf.forall, which the CPU pipeline runs on the OpenMP thread pool.
    auto outer = rewriter.create<scf::ForallOp>(
        loc, ArrayRef<OpFoldResult>{rewriter.getIndexAttr(bsz * heads * nq)},
        ValueRange{out}, std::nullopt,
        [&](OpBuilder &b, Location l, ValueRange regionArgs) {
          Value iv = regionArgs[0];
          Value sharedOut = regionArgs[1];
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
                AffineMap id2 = selectDims(ctx, 2, {0, 1}), row = selectDims(ctx, 2, {0}),
                          col = selectDims(ctx, 2, {1});
                // Every loop-carried value (m, l, acc) is updated in place
                // from its iter_arg, after all reads of its old value, so
                // that bufferization keeps the yields equivalent to them.
                AffineMap vec = selectDims(ctx, 1, {0});
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
          // O_tile = acc / l (0 for rows that saw no key).
          Value o = buildGeneric(
              b, l, emptyTensor(b, l, {bq, dv}, f32),
              {inner.getResult(2), inner.getResult(1)},
              {selectDims(ctx, 2, {0, 1}), selectDims(ctx, 2, {0})}, selectDims(ctx, 2, {0, 1}),
              {kParallel, kParallel},
              [&](OpBuilder &nb, Location nl, ValueRange a) {
                Value zero = floatConst(nb, nl, f32, 0.0);
                Value seen = nb.create<arith::CmpFOp>(
                    nl, arith::CmpFPredicate::OGT, a[1], zero);
                return nb
                    .create<arith::SelectOp>(
                        nl, seen, nb.create<arith::DivFOp>(nl, a[0], a[1]),
                        zero)
                    .getResult();
              });
          if (epilogue) {
            Value qRawTile = tile2D(b, l, qRaw, bi, hi, q0, bq, dh);
            o = epilogue(b, l, bi, hi, qRawTile, o);
          } else {
            AffineMap id2 = selectDims(ctx, 2, {0, 1});
            o = buildGeneric(b, l, emptyTensor(b, l, {bq, dv}, elt), {o},
                             {id2}, id2, {kParallel, kParallel},
                             [&](OpBuilder &nb, Location nl, ValueRange a) {
                               return fromCompute(nb, nl, a[0], elt);
                             });
          }
          SmallVector<OpFoldResult> offsets = {bi, hi, q0, b.getIndexAttr(0)};
          SmallVector<OpFoldResult> sizes = {b.getIndexAttr(1),
                                             b.getIndexAttr(1),
                                             b.getIndexAttr(bq),
                                             b.getIndexAttr(dv)};
          SmallVector<OpFoldResult> strides(4, b.getIndexAttr(1));
          // With a body builder, the terminator is ours to create.
          auto terminator = b.create<scf::InParallelOp>(l);
          OpBuilder::InsertionGuard guard(b);
          b.setInsertionPointToStart(terminator.getBody());
          b.create<tensor::ParallelInsertSliceOp>(l, o, sharedOut, offsets,
                                                  sizes, strides);
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
    return result;
}

namespace {

/// Queries up to which attention takes the whole-row form on every target.
constexpr int64_t kFewQueries = 4;

struct AttentionLowering : OpRewritePattern<AttentionOp> {
  AttentionLowering(MLIRContext *context, int64_t tile)
      : OpRewritePattern(context), tile(tile) {}
  int64_t tile;
  LogicalResult matchAndRewrite(AttentionOp op,
                                PatternRewriter &rewriter) const override {
    if (!hasStaticTensorShapes(op))
      return rewriter.notifyMatchFailure(op, "dynamic shapes");
    FlashAttentionArgs args;
    args.query = op.getQuery();
    args.key = op.getKey();
    args.value = op.getValue();
    args.qPositions = op.getQPositions();
    args.kPositions = op.getKPositions();
    args.causal = op.getCausal();
    if (auto c = op.getChunkSize())
      args.chunkSize = static_cast<int64_t>(*c);
    args.scale = *op.getEffectiveScale();
    if (auto theta = op.getRopeThetaAttr())
      args.ropeTheta = theta.getValueAsDouble();
    args.resultElementType = op.getType().getElementType();
    args.tile = tile;
    // A few queries over a cache (a decode step): no tiles to stream, so
    // the whole-row form (scores, softmax, P V as plain loops over the
    // keys) instead of per-tile transposes and statistics.
    bool fewQueries =
        cast<RankedTensorType>(args.query.getType()).getDimSize(2) <=
        kFewQueries;
    rewriter.replaceOp(op, tile < 0 || fewQueries
                               ? buildBatchedAttention(rewriter, op.getLoc(),
                                                       args)
                               : buildFlashAttention(rewriter, op.getLoc(),
                                                     args, nullptr));
    return success();
  }
};

} // namespace

namespace {

/// lctx.memory.attention with the memory retrieval and the gate fused into
/// the flash-attention epilogue of each segment (docs/LCtxOps.md): per query
/// tile, O = sigmoid(beta) A_mem + (1 - sigmoid(beta)) A_dot with
/// A_mem = sigma(Q) M / (sigma(Q) z) computed from the tile while it is hot;
/// the memory update after each segment is an lctx.memory.update, lowered by
/// its own pattern. Segments run in order (a loop over whole segments plus a
/// static tail), carrying (O, M, z).
struct MemoryAttentionLowering : OpRewritePattern<MemoryAttentionOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(MemoryAttentionOp op,
                                PatternRewriter &rewriter) const override {
    if (!hasStaticTensorShapes(op))
      return rewriter.notifyMatchFailure(op, "dynamic shapes");
    Location loc = op.getLoc();
    MLIRContext *ctx = getContext();
    auto qType = op.getQuery().getType();
    int64_t bsz = qType.getShape()[0], heads = qType.getShape()[1];
    int64_t t = qType.getShape()[2], dk = qType.getShape()[3];
    int64_t dv = op.getValue().getType().getShape()[3];
    int64_t n = op.getSegmentSizeAttr().getInt();
    Type elt = qType.getElementType();
    Type f32 = rewriter.getF32Type();
    Value beta = op.getBeta();

    auto slice = [&](OpBuilder &b, Location l, Value src, OpFoldResult off,
                     int64_t len, int64_t d) -> Value {
      auto type = RankedTensorType::get(
          {bsz, heads, len, d},
          cast<RankedTensorType>(src.getType()).getElementType());
      SmallVector<OpFoldResult> offsets = {b.getIndexAttr(0), b.getIndexAttr(0),
                                           off, b.getIndexAttr(0)};
      SmallVector<OpFoldResult> sizes = {b.getIndexAttr(bsz),
                                         b.getIndexAttr(heads),
                                         b.getIndexAttr(len), b.getIndexAttr(d)};
      SmallVector<OpFoldResult> strides(4, b.getIndexAttr(1));
      return b.create<tensor::ExtractSliceOp>(l, type, src, offsets, sizes,
                                              strides);
    };

    // One segment [off, off + len): returns (out, M, z) after it.
    auto segment = [&](OpBuilder &b, Location l, OpFoldResult off, int64_t len,
                       Value out, Value memory, Value norm) {
      Value qs = slice(b, l, op.getQuery(), off, len, dk);
      Value ks = slice(b, l, op.getKey(), off, len, dk);
      Value vs = slice(b, l, op.getValue(), off, len, dv);
      FlashAttentionArgs args;
      args.query = qs;
      args.key = ks;
      args.value = vs;
      args.causal = true;
      args.scale = op.getScaleAttr()
                       ? op.getScaleAttr().getValueAsDouble()
                       : 1.0 / std::sqrt(static_cast<double>(dk));
      if (auto theta = op.getRopeThetaAttr())
        args.ropeTheta = theta.getValueAsDouble();
      args.resultElementType = elt;
      auto epilogue = [&](OpBuilder &eb, Location el, Value bi, Value hi,
                          Value qTile, Value dot) -> Value {
        int64_t rows = cast<RankedTensorType>(qTile.getType()).getShape()[0];
        AffineMap id2 = selectDims(ctx, 2, {0, 1});
        AffineMap row = selectDims(ctx, 2, {0}), col = selectDims(ctx, 2, {1});
        // sigma(Q) = ELU(Q) + 1.
        Value sq = buildGeneric(
            eb, el, emptyTensor(eb, el, {rows, dk}, f32), {qTile}, {id2}, id2,
            {utils::IteratorType::parallel, utils::IteratorType::parallel},
            [&](OpBuilder &nb, Location nl, ValueRange a) {
              Value pos = nb.create<arith::CmpFOp>(
                  nl, arith::CmpFPredicate::OGT, a[0],
                  floatConst(nb, nl, f32, 0.0));
              return nb
                  .create<arith::SelectOp>(
                      nl, pos,
                      nb.create<arith::AddFOp>(nl, a[0],
                                               floatConst(nb, nl, f32, 1.0)),
                      nb.create<math::ExpOp>(nl, a[0]))
                  .getResult();
            });
        // M[b, h] : [Dk, Dv] and z[b, h] : [Dk].
        auto memType = RankedTensorType::get({dk, dv}, f32);
        Value m2 = eb.create<tensor::ExtractSliceOp>(
            el, memType, memory,
            ArrayRef<OpFoldResult>{bi, hi, eb.getIndexAttr(0),
                                   eb.getIndexAttr(0)},
            ArrayRef<OpFoldResult>{eb.getIndexAttr(1), eb.getIndexAttr(1),
                                   eb.getIndexAttr(dk), eb.getIndexAttr(dv)},
            ArrayRef<OpFoldResult>{eb.getIndexAttr(1), eb.getIndexAttr(1),
                                   eb.getIndexAttr(1), eb.getIndexAttr(1)});
        Value z1 = eb.create<tensor::ExtractSliceOp>(
            el, RankedTensorType::get({dk}, f32), norm,
            ArrayRef<OpFoldResult>{bi, hi, eb.getIndexAttr(0)},
            ArrayRef<OpFoldResult>{eb.getIndexAttr(1), eb.getIndexAttr(1),
                                   eb.getIndexAttr(dk)},
            ArrayRef<OpFoldResult>{eb.getIndexAttr(1), eb.getIndexAttr(1),
                                   eb.getIndexAttr(1)});
        Value num = buildMatmul(eb, el, sq, m2);
        Value den = buildGeneric(
            eb, el, filledTensor(eb, el, {rows}, f32, 0.0), {sq, z1},
            {id2, col}, row,
            {utils::IteratorType::parallel, utils::IteratorType::reduction},
            [&](OpBuilder &nb, Location nl, ValueRange a) {
              return nb
                  .create<arith::AddFOp>(
                      nl, a[2], nb.create<arith::MulFOp>(nl, a[0], a[1]))
                  .getResult();
            });
        Value g = toCompute(eb, el, eb.create<tensor::ExtractOp>(el, beta, hi),
                            f32);
        Value one = floatConst(eb, el, f32, 1.0);
        g = eb.create<arith::DivFOp>(
            el, one,
            eb.create<arith::AddFOp>(
                el, one,
                eb.create<math::ExpOp>(el, eb.create<arith::NegFOp>(el, g))));
        return buildGeneric(
            eb, el, emptyTensor(eb, el, {rows, dv}, elt), {num, den, dot},
            {id2, row, id2}, id2,
            {utils::IteratorType::parallel, utils::IteratorType::parallel},
            [&](OpBuilder &nb, Location nl, ValueRange a) {
              Value zero = floatConst(nb, nl, f32, 0.0);
              Value nz = nb.create<arith::CmpFOp>(
                  nl, arith::CmpFPredicate::UNE, a[1], zero);
              Value amem = nb.create<arith::SelectOp>(
                  nl, nz, nb.create<arith::DivFOp>(nl, a[0], a[1]), zero);
              Value mixed = nb.create<arith::AddFOp>(
                  nl, nb.create<arith::MulFOp>(nl, g, amem),
                  nb.create<arith::MulFOp>(
                      nl, nb.create<arith::SubFOp>(nl, one, g), a[2]));
              return fromCompute(nb, nl, mixed, elt);
            });
      };
      Value o = buildFlashAttention(b, l, args, epilogue);
      SmallVector<OpFoldResult> offsets = {b.getIndexAttr(0), b.getIndexAttr(0),
                                           off, b.getIndexAttr(0)};
      SmallVector<OpFoldResult> sizes = {b.getIndexAttr(bsz),
                                         b.getIndexAttr(heads),
                                         b.getIndexAttr(len), b.getIndexAttr(dv)};
      SmallVector<OpFoldResult> strides(4, b.getIndexAttr(1));
      Value outNew = b.create<tensor::InsertSliceOp>(l, o, out, offsets, sizes,
                                                     strides);
      auto update = b.create<MemoryUpdateOp>(l, op.getRuleAttr(), ks, vs,
                                             memory, norm);
      return SmallVector<Value>{outNew, update.getNewMemory(),
                                update.getNewNorm()};
    };

    SmallVector<Value> state = {emptyTensor(rewriter, loc, {bsz, heads, t, dv},
                                            elt),
                                op.getMemory(), op.getNorm()};
    int64_t full = t / n, tail = t % n;
    if (full > 0) {
      auto loop = rewriter.create<scf::ForOp>(
          loc, indexConst(rewriter, loc, 0), indexConst(rewriter, loc, full),
          indexConst(rewriter, loc, 1), state,
          [&](OpBuilder &b, Location l, Value s, ValueRange st) {
            Value off = b.create<arith::MulIOp>(l, s, indexConst(b, l, n));
            b.create<scf::YieldOp>(l, segment(b, l, off, n, st[0], st[1],
                                              st[2]));
          });
      state.assign(loop.getResults().begin(), loop.getResults().end());
    }
    if (tail > 0)
      state = segment(rewriter, loc, rewriter.getIndexAttr(full * n), tail,
                      state[0], state[1], state[2]);
    rewriter.replaceOp(op, state);
    return success();
  }
};

} // namespace

void lowering::populateAttentionPatterns(RewritePatternSet &patterns,
                                         int64_t tile) {
  patterns.add<AttentionLowering>(patterns.getContext(), tile);
  patterns.add<MemoryAttentionLowering>(patterns.getContext());
}
