//===- RouteOps.cpp - Lower the Switch and Mixture-of-Depths ops ----------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// The math of each op is in its ODS description (docs/LCtxOps.md).
// Switch positions are an O(S) scan per row; Mixture-of-Depths top-k is a
// radix select plus one ascending scan per row (O(S), ties to the lowest
// index); scatter_add visits only the k routed rows. lctx.route.moe reaches
// this pass decomposed.
//
//===----------------------------------------------------------------------===//

#include "Patterns.h"

#include "lctx/Dialect/LCtx/IR/LCtxOps.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

using namespace mlir;
using namespace mlir::lctx;
using namespace mlir::lctx::lowering;

namespace {

/// Router logits in f32: x [B, S, D] times router [D] ([B, S]) or [D, E]
/// ([B, S, E]).
Value routerLogits(OpBuilder &b, Location loc, Value x, Value router) {
  MLIRContext *ctx = b.getContext();
  auto xType = cast<RankedTensorType>(x.getType());
  auto rType = cast<RankedTensorType>(router.getType());
  int64_t bs = xType.getShape()[0], s = xType.getShape()[1];
  Type f32 = b.getF32Type();
  auto body = [&](OpBuilder &nb, Location l, ValueRange a) {
    Value prod = nb.create<arith::MulFOp>(l, toCompute(nb, l, a[0], f32), a[1]);
    return nb.create<arith::AddFOp>(l, a[2], prod).getResult();
  };
  if (rType.getRank() == 1) {
    // A dot product per token along the contiguous D, computed into
    // [B, S, 1] (dims b, s, unit, d): a reduction along the innermost dim,
    // which the CPU pipeline vectorizes in place; as a [B, S] contraction
    // it would first get x transposed to [B, D, S].
    Value init = filledTensor(b, loc, {bs, s, 1}, f32, 0.0);
    Value dots = buildGeneric(
        b, loc, init, {x, router},
        {selectDims(ctx, 4, {0, 1, 3}), selectDims(ctx, 4, {3})},
        selectDims(ctx, 4, {0, 1, 2}),
        {kParallel, kParallel, kParallel, kReduction}, body);
    return b.create<tensor::CollapseShapeOp>(
        loc, RankedTensorType::get({bs, s}, f32), dots,
        ArrayRef<ReassociationIndices>{{0}, {1, 2}});
  }
  int64_t e = rType.getShape()[1];
  Value init = filledTensor(b, loc, {bs, s, e}, f32, 0.0);
  return buildGeneric(
      b, loc, init, {x, router}, {selectDims(ctx, 4, {0, 1, 3}), selectDims(ctx, 4, {3, 2})},
      selectDims(ctx, 4, {0, 1, 2}), {kParallel, kParallel, kParallel, kReduction},
      body);
}

/// Reduces the last dim of `x` into `init` with acc = f(value, acc).
Value reduceLast(OpBuilder &b, Location loc, Value x,
                 function_ref<Value(OpBuilder &, Location, Value, Value)> f,
                 Value init) {
  MLIRContext *ctx = b.getContext();
  auto type = cast<RankedTensorType>(x.getType());
  unsigned rank = type.getRank();
  SmallVector<unsigned> lead;
  for (unsigned i = 0; i + 1 < rank; ++i)
    lead.push_back(i);
  SmallVector<utils::IteratorType> iters(rank - 1, kParallel);
  iters.push_back(kReduction);
  return buildGeneric(b, loc, init, {x}, {b.getMultiDimIdentityMap(rank)},
                      selectDims(ctx, rank, lead), iters,
                      [&](OpBuilder &nb, Location l, ValueRange a) {
                        return f(nb, l, a[0], a[1]);
                      });
}

//===----------------------------------------------------------------------===//
// Switch
//===----------------------------------------------------------------------===//

struct RouteExpertsLowering : OpRewritePattern<RouteExpertsOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(RouteExpertsOp op,
                                PatternRewriter &rewriter) const override {
    if (!hasStaticTensorShapes(op))
      return rewriter.notifyMatchFailure(op, "dynamic shapes");
    Location loc = op.getLoc();
    MLIRContext *ctx = getContext();
    auto xType = op.getInput().getType();
    int64_t bs = xType.getShape()[0], s = xType.getShape()[1];
    int64_t e = op.getNumExperts();
    int64_t capacity = op.getCapacity(s);
    Type f32 = rewriter.getF32Type(), i32 = rewriter.getI32Type();
    double inf = std::numeric_limits<double>::infinity();

    Value logits = routerLogits(rewriter, loc, op.getInput(), op.getRouter());
    // Softmax over experts.
    Value maxInit = filledTensor(rewriter, loc, {bs, s}, f32, -inf);
    Value rowMax = reduceLast(
        rewriter, loc, logits,
        [&](OpBuilder &b, Location l, Value v, Value acc) -> Value {
          return b.create<arith::MaximumFOp>(l, v, acc);
        },
        maxInit);
    AffineMap id3 = selectDims(ctx, 3, {0, 1, 2}), row3 = selectDims(ctx, 3, {0, 1});
    Value expInit = emptyTensor(rewriter, loc, {bs, s, e}, f32);
    Value exps = buildGeneric(
        rewriter, loc, expInit, {logits, rowMax}, {id3, row3}, id3,
        {kParallel, kParallel, kParallel},
        [](OpBuilder &b, Location l, ValueRange a) {
          return b
              .create<math::ExpOp>(l, b.create<arith::SubFOp>(l, a[0], a[1]))
              .getResult();
        });
    Value sumInit = filledTensor(rewriter, loc, {bs, s}, f32, 0.0);
    Value rowSum = reduceLast(
        rewriter, loc, exps,
        [&](OpBuilder &b, Location l, Value v, Value acc) -> Value {
          return b.create<arith::AddFOp>(l, v, acc);
        },
        sumInit);
    Value probInit = emptyTensor(rewriter, loc, {bs, s, e}, f32);
    Value probs = buildGeneric(
        rewriter, loc, probInit, {exps, rowSum}, {id3, row3}, id3,
        {kParallel, kParallel, kParallel},
        [](OpBuilder &b, Location l, ValueRange a) {
          return b.create<arith::DivFOp>(l, a[0], a[1]).getResult();
        });

    // Argmax (lowest index on ties) and its probability, in one reduction.
    Value gateInit = filledTensor(rewriter, loc, {bs, s}, f32, -inf);
    Value argInit = rewriter
                        .create<linalg::FillOp>(
                            loc, ValueRange{i32Const(rewriter, loc, 0)},
                            ValueRange{emptyTensor(rewriter, loc, {bs, s}, i32)})
                        .getResult(0);
    auto argmax = rewriter.create<linalg::GenericOp>(
        loc, TypeRange{gateInit.getType(), argInit.getType()},
        ValueRange{probs}, ValueRange{gateInit, argInit},
        ArrayRef<AffineMap>{id3, row3, row3},
        ArrayRef<utils::IteratorType>{kParallel, kParallel, kReduction},
        [&](OpBuilder &b, Location l, ValueRange a) {
          Value idx = b.create<arith::IndexCastOp>(
              l, i32, b.create<linalg::IndexOp>(l, 2));
          Value better = b.create<arith::CmpFOp>(l, arith::CmpFPredicate::OGT,
                                                 a[0], a[1]);
          b.create<linalg::YieldOp>(
              l, ValueRange{b.create<arith::SelectOp>(l, better, a[0], a[1]),
                            b.create<arith::SelectOp>(l, better, idx, a[2])});
        });
    Value gate = argmax.getResult(0), expert = argmax.getResult(1);

    // Position in the expert, in sequence order: one O(S) scan per row with
    // a running count per expert (the rows are independent groups).
    Value pos = emptyTensor(rewriter, loc, {bs, s}, i32);
    auto rows = rewriter.create<scf::ForOp>(
        loc, indexConst(rewriter, loc, 0), indexConst(rewriter, loc, bs),
        indexConst(rewriter, loc, 1), ValueRange{pos},
        [&](OpBuilder &b, Location l, Value bi, ValueRange rowArgs) {
          Value counts =
              b.create<linalg::FillOp>(
                   l, ValueRange{i32Const(b, l, 0)},
                   ValueRange{emptyTensor(b, l, {e}, i32)})
                  .getResult(0);
          auto scan = b.create<scf::ForOp>(
              l, indexConst(b, l, 0), indexConst(b, l, s), indexConst(b, l, 1),
              ValueRange{rowArgs[0], counts},
              [&](OpBuilder &sb, Location sl, Value si, ValueRange args) {
                Value ex = sb.create<arith::IndexCastOp>(
                    sl, sb.getIndexType(),
                    sb.create<tensor::ExtractOp>(sl, expert,
                                                 ValueRange{bi, si}));
                Value c = sb.create<tensor::ExtractOp>(sl, args[1], ex);
                Value posNew = sb.create<tensor::InsertOp>(
                    sl, c, args[0], ValueRange{bi, si});
                Value countsNew = sb.create<tensor::InsertOp>(
                    sl, sb.create<arith::AddIOp>(sl, c, i32Const(sb, sl, 1)),
                    args[1], ex);
                sb.create<scf::YieldOp>(sl, ValueRange{posNew, countsNew});
              });
          b.create<scf::YieldOp>(l, scan.getResult(0));
        });
    pos = rows.getResult(0);
    AffineMap id2 = rewriter.getMultiDimIdentityMap(2);
    Value slotInit = emptyTensor(rewriter, loc, {bs, s}, i32);
    Value slot = buildGeneric(
        rewriter, loc, slotInit, {pos}, {id2}, id2, {kParallel, kParallel},
        [&](OpBuilder &b, Location l, ValueRange a) {
          Value kept = b.create<arith::CmpIOp>(
              l, arith::CmpIPredicate::slt, a[0],
              i32Const(b, l, static_cast<int32_t>(capacity)));
          return b.create<arith::SelectOp>(l, kept, a[0], i32Const(b, l, -1))
              .getResult();
        });

    // aux = coef * E * sum_e f_e P_e over the batch: dims (e, b, s).
    Value fInit = filledTensor(rewriter, loc, {e}, f32, 0.0);
    Value counts = buildGeneric(
        rewriter, loc, fInit, {expert}, {selectDims(ctx, 3, {1, 2})},
        selectDims(ctx, 3, {0}), {kParallel, kReduction, kReduction},
        [&](OpBuilder &b, Location l, ValueRange a) {
          Value ei = b.create<arith::IndexCastOp>(
              l, b.getI32Type(), b.create<linalg::IndexOp>(l, 0));
          Value hit = b.create<arith::CmpIOp>(l, arith::CmpIPredicate::eq,
                                              a[0], ei);
          return b
              .create<arith::AddFOp>(
                  l, a[1], b.create<arith::UIToFPOp>(l, b.getF32Type(), hit))
              .getResult();
        });
    Value pInit = filledTensor(rewriter, loc, {e}, f32, 0.0);
    Value psum = buildGeneric(
        rewriter, loc, pInit, {probs}, {selectDims(ctx, 3, {1, 2, 0})},
        selectDims(ctx, 3, {0}), {kParallel, kReduction, kReduction},
        [](OpBuilder &b, Location l, ValueRange a) {
          return b.create<arith::AddFOp>(l, a[1], a[0]).getResult();
        });
    double tokens = static_cast<double>(bs * s);
    double coef = op.getAuxLossCoef().convertToDouble() * e / (tokens * tokens);
    Value auxInit = filledTensor(rewriter, loc, {}, f32, 0.0);
    Value aux = buildGeneric(
        rewriter, loc, auxInit, {counts, psum},
        {selectDims(ctx, 1, {0}), selectDims(ctx, 1, {0})}, AffineMap::get(1, 0, ctx),
        {kReduction}, [&](OpBuilder &b, Location l, ValueRange a) {
          Value fp = b.create<arith::MulFOp>(l, a[0], a[1]);
          return b
              .create<arith::AddFOp>(
                  l, a[2],
                  b.create<arith::MulFOp>(l, fp, floatConst(b, l, f32, coef)))
              .getResult();
        });
    rewriter.replaceOp(op, {expert, gate, slot, aux});
    return success();
  }
};

struct RouteDispatchLowering : OpRewritePattern<RouteDispatchOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(RouteDispatchOp op,
                                PatternRewriter &rewriter) const override {
    if (!hasStaticTensorShapes(op))
      return rewriter.notifyMatchFailure(op, "dynamic shapes");
    Location loc = op.getLoc();
    auto xType = op.getInput().getType();
    auto outType = op.getType();
    int64_t bs = xType.getShape()[0], s = xType.getShape()[1],
            d = xType.getShape()[2];
    int64_t e = outType.getShape()[0];
    int64_t capacity = outType.getShape()[1] / std::max<int64_t>(bs, 1);
    Type elt = outType.getElementType();
    Value out = filledTensor(rewriter, loc, outType.getShape(), elt, 0.0);
    // Scatter each kept token's row: a loop over the B*S tokens.
    Value c0 = indexConst(rewriter, loc, 0), c1 = indexConst(rewriter, loc, 1);
    auto loop = rewriter.create<scf::ForOp>(
        loc, c0, indexConst(rewriter, loc, bs * s), c1, ValueRange{out},
        [&](OpBuilder &b, Location l, Value iv, ValueRange args) {
          Value sC = indexConst(b, l, s);
          Value bi = b.create<arith::DivUIOp>(l, iv, sC);
          Value si = b.create<arith::RemUIOp>(l, iv, sC);
          Value ex = b.create<tensor::ExtractOp>(l, op.getExpert(),
                                                 ValueRange{bi, si});
          Value sl = b.create<tensor::ExtractOp>(l, op.getSlot(),
                                                 ValueRange{bi, si});
          // Kept iff expert in [0, E) and slot in [0, C).
          std::pair<Value, Value> exC = clampIndex(b, l, ex, e);
          std::pair<Value, Value> slC = clampIndex(b, l, sl, capacity);
          Value ei = exC.first, si2 = slC.first;
          Value keep = b.create<arith::AndIOp>(l, exC.second, slC.second);
          auto ifOp = b.create<scf::IfOp>(
              l, keep,
              [&](OpBuilder &tb, Location tl) {
                Value row = tb.create<tensor::ExtractSliceOp>(
                    tl, op.getInput(),
                    ArrayRef<OpFoldResult>{bi, si, tb.getIndexAttr(0)},
                    ArrayRef<OpFoldResult>{tb.getIndexAttr(1),
                                           tb.getIndexAttr(1),
                                           tb.getIndexAttr(d)},
                    ArrayRef<OpFoldResult>{tb.getIndexAttr(1),
                                           tb.getIndexAttr(1),
                                           tb.getIndexAttr(1)});
                Value dst = tb.create<arith::AddIOp>(
                    tl,
                    tb.create<arith::MulIOp>(tl, bi,
                                             indexConst(tb, tl, capacity)),
                    si2);
                Value ins = tb.create<tensor::InsertSliceOp>(
                    tl, row, args[0], ArrayRef<OpFoldResult>{ei, dst,
                                                             tb.getIndexAttr(0)},
                    ArrayRef<OpFoldResult>{tb.getIndexAttr(1),
                                           tb.getIndexAttr(1),
                                           tb.getIndexAttr(d)},
                    ArrayRef<OpFoldResult>{tb.getIndexAttr(1),
                                           tb.getIndexAttr(1),
                                           tb.getIndexAttr(1)});
                tb.create<scf::YieldOp>(tl, ins);
              },
              [&](OpBuilder &eb, Location el) {
                eb.create<scf::YieldOp>(el, args[0]);
              });
          b.create<scf::YieldOp>(l, ifOp.getResult(0));
        });
    rewriter.replaceOp(op, loop.getResult(0));
    return success();
  }
};

/// A row of `buildRowwise`'s result: the [D] source row, whether it is
/// kept (a dropped row is 0), and an optional scale.
struct SourceRow {
  Value row, keep, scale;
};

/// out[b, j, :] = keep ? scale * source : 0 for out : `type` [B, k, D],
/// where `rowFn(b, j)` gives the source row: one vector loop over D per
/// row, the batch rows on the thread pool (instead of a gather per element).
Value buildRowwise(OpBuilder &builder, Location loc, RankedTensorType type,
                   function_ref<SourceRow(OpBuilder &, Location, Value, Value)>
                       rowFn) {
  int64_t bs = type.getShape()[0], k = type.getShape()[1],
          d = type.getShape()[2];
  Type elt = type.getElementType(), ct = computeType(elt);
  auto rows = builder.create<scf::ForallOp>(
      loc, ArrayRef<OpFoldResult>{builder.getIndexAttr(bs)},
      ValueRange{emptyTensor(builder, loc, type.getShape(), elt)},
      std::nullopt, [&](OpBuilder &b, Location l, ValueRange args) {
        Value bi = args[0];
        OpFoldResult z = b.getIndexAttr(0), one = b.getIndexAttr(1);
        Value block = b.create<tensor::ExtractSliceOp>(
            l, RankedTensorType::get({k, d}, elt), args[1],
            ArrayRef<OpFoldResult>{bi, z, z},
            ArrayRef<OpFoldResult>{one, b.getIndexAttr(k), b.getIndexAttr(d)},
            ArrayRef<OpFoldResult>{one, one, one});
        auto loop = b.create<scf::ForOp>(
            l, indexConst(b, l, 0), indexConst(b, l, k), indexConst(b, l, 1),
            ValueRange{block},
            [&](OpBuilder &nb, Location nl, Value j, ValueRange a) {
              SourceRow src = rowFn(nb, nl, bi, j);
              OpFoldResult nz = nb.getIndexAttr(0), n1 = nb.getIndexAttr(1);
              Value dst = nb.create<tensor::ExtractSliceOp>(
                  nl, RankedTensorType::get({d}, elt), a[0],
                  ArrayRef<OpFoldResult>{j, nz},
                  ArrayRef<OpFoldResult>{n1, nb.getIndexAttr(d)},
                  ArrayRef<OpFoldResult>{n1, n1});
              AffineMap id1 = nb.getMultiDimIdentityMap(1);
              Value row = buildGeneric(
                  nb, nl, dst, {src.row}, {id1}, id1, {kParallel},
                  [&](OpBuilder &gb, Location gl, ValueRange v) -> Value {
                    Value x = v[0];
                    if (src.scale)
                      x = fromCompute(
                          gb, gl,
                          gb.create<arith::MulFOp>(
                              gl, toCompute(gb, gl, x, ct),
                              toCompute(gb, gl, src.scale, ct)),
                          elt);
                    return gb.create<arith::SelectOp>(
                        gl, src.keep, x, floatConst(gb, gl, elt, 0.0));
                  });
              Value next = nb.create<tensor::InsertSliceOp>(
                  nl, row, a[0], ArrayRef<OpFoldResult>{j, nz},
                  ArrayRef<OpFoldResult>{n1, nb.getIndexAttr(d)},
                  ArrayRef<OpFoldResult>{n1, n1});
              nb.create<scf::YieldOp>(nl, next);
            });
        auto terminator = b.create<scf::InParallelOp>(l);
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPointToStart(terminator.getBody());
        b.create<tensor::ParallelInsertSliceOp>(
            l, loop.getResult(0), args[1], ArrayRef<OpFoldResult>{bi, z, z},
            ArrayRef<OpFoldResult>{one, b.getIndexAttr(k), b.getIndexAttr(d)},
            ArrayRef<OpFoldResult>{one, one, one});
      });
  return rows.getResult(0);
}

/// A [D] row of the rank-3 `src` at (i, j).
Value rowOf(OpBuilder &b, Location l, Value src, Value i, Value j) {
  auto type = cast<RankedTensorType>(src.getType());
  int64_t d = type.getShape()[2];
  OpFoldResult z = b.getIndexAttr(0), one = b.getIndexAttr(1);
  return b.create<tensor::ExtractSliceOp>(
      l, RankedTensorType::get({d}, type.getElementType()), src,
      ArrayRef<OpFoldResult>{i, j, z},
      ArrayRef<OpFoldResult>{one, one, b.getIndexAttr(d)},
      ArrayRef<OpFoldResult>{one, one, one});
}

struct RouteCombineLowering : OpRewritePattern<RouteCombineOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(RouteCombineOp op,
                                PatternRewriter &rewriter) const override {
    if (!hasStaticTensorShapes(op))
      return rewriter.notifyMatchFailure(op, "dynamic shapes");
    Location loc = op.getLoc();
    auto bufType = op.getExpertOut().getType();
    auto outType = op.getType();
    int64_t bs = outType.getShape()[0];
    int64_t e = bufType.getShape()[0];
    int64_t capacity = bufType.getShape()[1] / std::max<int64_t>(bs, 1);
    Value buf = op.getExpertOut();
    // One row copy per token, scaled by its gate; a dropped token (slot
    // outside [0, C)) gets exactly 0.
    Value out = buildRowwise(
        rewriter, loc, outType,
        [&](OpBuilder &b, Location l, Value bi, Value si) -> SourceRow {
          SmallVector<Value, 2> at{bi, si};
          Value ex = b.create<tensor::ExtractOp>(l, op.getExpert(), at);
          Value sl = b.create<tensor::ExtractOp>(l, op.getSlot(), at);
          Value g = b.create<tensor::ExtractOp>(l, op.getGate(), at);
          // Kept iff expert in [0, E) and slot in [0, C).
          auto [ei, exOk] = clampIndex(b, l, ex, e);
          auto [slot, slOk] = clampIndex(b, l, sl, capacity);
          Value row = b.create<arith::AddIOp>(
              l, b.create<arith::MulIOp>(l, bi, indexConst(b, l, capacity)),
              slot);
          return {rowOf(b, l, buf, ei, row),
                  b.create<arith::AndIOp>(l, exOk, slOk), g};
        });
    rewriter.replaceOp(op, out);
    return success();
  }
};

//===----------------------------------------------------------------------===//
// Mixture-of-Depths
//===----------------------------------------------------------------------===//

/// An i32 key of an f32 that orders like the float as an unsigned integer:
/// the sign bit flipped for non-negative values, all bits for negative
/// ones. -0.0 is first made +0.0 (x + 0.0), so that equal floats, which tie,
/// have equal keys.
Value orderedKey(OpBuilder &b, Location l, Value r) {
  Type i32 = b.getI32Type();
  Value f = b.create<arith::AddFOp>(l, r, floatConst(b, l, r.getType(), 0.0));
  Value bits = b.create<arith::BitcastOp>(l, i32, f);
  Value sign = b.create<arith::ShRSIOp>(l, bits, i32Const(b, l, 31));
  Value flip = b.create<arith::OrIOp>(
      l, sign, i32Const(b, l, static_cast<int32_t>(0x80000000u)));
  return b.create<arith::XOrIOp>(l, bits, flip);
}

/// scf.for over [0, n) carrying `init`; `body` returns the next values.
SmallVector<Value>
loopN(OpBuilder &b, Location loc, Value n, ValueRange init,
      function_ref<SmallVector<Value>(OpBuilder &, Location, Value,
                                      ValueRange)>
          body) {
  auto loop = b.create<scf::ForOp>(
      loc, indexConst(b, loc, 0), n, indexConst(b, loc, 1), init,
      [&](OpBuilder &nb, Location nl, Value iv, ValueRange args) {
        nb.create<scf::YieldOp>(nl, body(nb, nl, iv, args));
      });
  return SmallVector<Value>(loop.getResults());
}

/// The key of the k-th largest logit of `row` [S] (k >= 1) and how many
/// logits with exactly that key belong to the top k: a most-significant-
/// digit radix select over the 32-bit keys, 8 bits per pass, each pass a
/// histogram of the candidates (the keys that match the digits chosen so
/// far) and a scan of its 256 bins from the top. O(S) per pass.
std::pair<Value, Value> radixSelect(OpBuilder &b, Location l, Value row,
                                    int64_t s, int64_t k) {
  Type i32 = b.getI32Type();
  Value sC = indexConst(b, l, s);
  Value prefix = i32Const(b, l, 0), mask = i32Const(b, l, 0);
  Value remaining = i32Const(b, l, static_cast<int32_t>(k));
  for (int shift = 24; shift >= 0; shift -= 8) {
    Value hist =
        b.create<linalg::FillOp>(l, ValueRange{i32Const(b, l, 0)},
                                 ValueRange{emptyTensor(b, l, {256}, i32)})
            .getResult(0);
    Value shiftC = i32Const(b, l, shift);
    hist = loopN(b, l, sC, {hist},
                 [&](OpBuilder &nb, Location nl, Value si, ValueRange a) {
                   Value key = orderedKey(
                       nb, nl, nb.create<tensor::ExtractOp>(nl, row, si));
                   Value match = nb.create<arith::CmpIOp>(
                       nl, arith::CmpIPredicate::eq,
                       nb.create<arith::AndIOp>(nl, key, mask), prefix);
                   Value bin = nb.create<arith::AndIOp>(
                       nl, nb.create<arith::ShRUIOp>(nl, key, shiftC),
                       i32Const(nb, nl, 255));
                   Value at = nb.create<arith::IndexCastUIOp>(
                       nl, nb.getIndexType(), bin);
                   Value c = nb.create<tensor::ExtractOp>(nl, a[0], at);
                   Value inc = nb.create<arith::AddIOp>(
                       nl, c, nb.create<arith::ExtUIOp>(nl, i32, match));
                   return SmallVector<Value>{
                       nb.create<tensor::InsertOp>(nl, inc, a[0], at)};
                 })[0];
    // From bin 255 down: the first bin whose count, added to the counts
    // above it, reaches `remaining`.
    Value no = b.create<arith::ConstantOp>(l, b.getBoolAttr(false));
    SmallVector<Value> scan = loopN(
        b, l, indexConst(b, l, 256), {no, i32Const(b, l, 0), i32Const(b, l, 0)},
        [&](OpBuilder &nb, Location nl, Value j, ValueRange a) {
          Value bin = nb.create<arith::SubIOp>(nl, indexConst(nb, nl, 255), j);
          Value c = nb.create<tensor::ExtractOp>(nl, hist, bin);
          Value total = nb.create<arith::AddIOp>(nl, a[2], c);
          Value reach = nb.create<arith::CmpIOp>(
              nl, arith::CmpIPredicate::sge, total, remaining);
          Value hit = nb.create<arith::AndIOp>(
              nl, reach,
              nb.create<arith::XOrIOp>(
                  nl, a[0],
                  nb.create<arith::ConstantOp>(nl, nb.getBoolAttr(true))));
          Value binI32 = nb.create<arith::IndexCastUIOp>(nl, i32, bin);
          return SmallVector<Value>{
              nb.create<arith::OrIOp>(nl, a[0], hit),
              nb.create<arith::SelectOp>(nl, hit, binI32, a[1]),
              nb.create<arith::SelectOp>(nl, a[0], a[2],
                                         nb.create<arith::SelectOp>(
                                             nl, hit, a[2], total))};
        });
    // scan = (found, bin, count of the candidates in higher bins).
    remaining = b.create<arith::SubIOp>(l, remaining, scan[2]);
    prefix = b.create<arith::OrIOp>(
        l, prefix, b.create<arith::ShLIOp>(l, scan[1], shiftC));
    mask = b.create<arith::OrIOp>(
        l, mask, i32Const(b, l, static_cast<int32_t>(0xFFu << shift)));
  }
  return {prefix, remaining};
}

/// Ranks and selection of lctx.route.depth, one row at a time (rows on the
/// thread pool): `topk` finds the k-th largest logit's key by radix select
/// and then takes, in one ascending scan, every token above it and the
/// first of the tokens equal to it (ties: lowest index), so the indices
/// come out sorted; `causal` takes the tokens with a positive logit in the
/// same scan. O(S) per row.
struct RouteDepthLowering : OpRewritePattern<RouteDepthOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(RouteDepthOp op,
                                PatternRewriter &rewriter) const override {
    if (!hasStaticTensorShapes(op))
      return rewriter.notifyMatchFailure(op, "dynamic shapes");
    Location loc = op.getLoc();
    auto xType = op.getInput().getType();
    int64_t bs = xType.getShape()[0], s = xType.getShape()[1];
    int64_t k = op.getIndices().getType().getShape()[1];
    Type f32 = rewriter.getF32Type(), i64 = rewriter.getI64Type();
    bool topk = op.getMode() == DepthRouting::topk;
    Value logits = routerLogits(rewriter, loc, op.getInput(), op.getRouter());

    Value indices;
    if (topk && k == s) {
      // Every token, in order.
      indices = buildIndexGeneric(
          rewriter, loc, {bs, k}, i64,
          [&](OpBuilder &b, Location l, ValueRange i) -> Value {
            return b.create<arith::IndexCastOp>(l, i64, i[1]);
          });
    } else if (k == 0) {
      indices = emptyTensor(rewriter, loc, {bs, 0}, i64);
    } else {
      Value init = rewriter
                       .create<linalg::FillOp>(
                           loc, ValueRange{i64Const(rewriter, loc, -1)},
                           ValueRange{emptyTensor(rewriter, loc, {bs, k}, i64)})
                       .getResult(0);
      auto rows = rewriter.create<scf::ForallOp>(
          loc, ArrayRef<OpFoldResult>{rewriter.getIndexAttr(bs)},
          ValueRange{init}, std::nullopt,
          [&](OpBuilder &b, Location l, ValueRange args) {
            Value bi = args[0];
            OpFoldResult z = b.getIndexAttr(0), one = b.getIndexAttr(1);
            Value row = b.create<tensor::ExtractSliceOp>(
                l, RankedTensorType::get({s}, f32), logits,
                ArrayRef<OpFoldResult>{bi, z},
                ArrayRef<OpFoldResult>{one, b.getIndexAttr(s)},
                ArrayRef<OpFoldResult>{one, one});
            Value out = b.create<tensor::ExtractSliceOp>(
                l, RankedTensorType::get({k}, i64), args[1],
                ArrayRef<OpFoldResult>{bi, z},
                ArrayRef<OpFoldResult>{one, b.getIndexAttr(k)},
                ArrayRef<OpFoldResult>{one, one});
            Value threshold, ties;
            if (topk)
              std::tie(threshold, ties) = radixSelect(b, l, row, s, k);
            // One ascending scan: (out, next slot, ties left to take).
            Value zero = i32Const(b, l, 0);
            SmallVector<Value> scan = loopN(
                b, l, indexConst(b, l, s),
                {out, indexConst(b, l, 0), topk ? ties : zero},
                [&](OpBuilder &nb, Location nl, Value si, ValueRange a) {
                  Value r = nb.create<tensor::ExtractOp>(nl, row, si);
                  Value take, tie;
                  if (topk) {
                    Value key = orderedKey(nb, nl, r);
                    tie = nb.create<arith::AndIOp>(
                        nl,
                        nb.create<arith::CmpIOp>(nl, arith::CmpIPredicate::eq,
                                                 key, threshold),
                        nb.create<arith::CmpIOp>(nl, arith::CmpIPredicate::sgt,
                                                 a[2], zero));
                    take = nb.create<arith::OrIOp>(
                        nl,
                        nb.create<arith::CmpIOp>(nl, arith::CmpIPredicate::ugt,
                                                 key, threshold),
                        tie);
                  } else {
                    // sigmoid(r) > 0.5.
                    take = nb.create<arith::CmpFOp>(
                        nl, arith::CmpFPredicate::OGT, r,
                        floatConst(nb, nl, f32, 0.0));
                  }
                  // Once k tokens are taken nothing else is; the slot is
                  // clamped so the (discarded) read stays in bounds.
                  Value slot = nb.create<arith::MinUIOp>(
                      nl, a[1], indexConst(nb, nl, k - 1));
                  Value old = nb.create<tensor::ExtractOp>(nl, a[0], slot);
                  Value v = nb.create<arith::SelectOp>(
                      nl, take, nb.create<arith::IndexCastOp>(nl, i64, si),
                      old);
                  Value next = nb.create<arith::AddIOp>(
                      nl, a[1],
                      nb.create<arith::SelectOp>(nl, take,
                                                 indexConst(nb, nl, 1),
                                                 indexConst(nb, nl, 0)));
                  Value left = a[2];
                  if (topk)
                    left = nb.create<arith::SubIOp>(
                        nl, a[2],
                        nb.create<arith::ExtUIOp>(nl, nb.getI32Type(), tie));
                  return SmallVector<Value>{
                      nb.create<tensor::InsertOp>(nl, v, a[0], slot), next,
                      left};
                });
            auto terminator = b.create<scf::InParallelOp>(l);
            OpBuilder::InsertionGuard guard(b);
            b.setInsertionPointToStart(terminator.getBody());
            b.create<tensor::ParallelInsertSliceOp>(
                l, scan[0], args[1], ArrayRef<OpFoldResult>{bi, z},
                ArrayRef<OpFoldResult>{one, b.getIndexAttr(k)},
                ArrayRef<OpFoldResult>{one, one});
          });
      indices = rows.getResult(0);
    }
    AffineMap id2 = rewriter.getMultiDimIdentityMap(2);
    Value weights = buildGeneric(
        rewriter, loc, emptyTensor(rewriter, loc, {bs, k}, f32), {indices},
        {id2}, id2, {kParallel, kParallel},
        [&](OpBuilder &b, Location l, ValueRange a) {
          Value valid = b.create<arith::CmpIOp>(l, arith::CmpIPredicate::sge,
                                                a[0], i64Const(b, l, 0));
          Value sIdx = b.create<arith::IndexCastOp>(
              l, b.getIndexType(),
              b.create<arith::SelectOp>(l, valid, a[0], i64Const(b, l, 0)));
          Value r = b.create<tensor::ExtractOp>(
              l, logits, ValueRange{b.create<linalg::IndexOp>(l, 0), sIdx});
          return b.create<arith::SelectOp>(l, valid, r,
                                           floatConst(b, l, f32, 0.0))
              .getResult();
        });
    rewriter.replaceOp(op, {indices, weights});
    return success();
  }
};

/// One row copy per selected token (a vector loop over D, zeros for an
/// index outside [0, S)); the batch rows run on the thread pool.
struct RouteGatherLowering : OpRewritePattern<RouteGatherOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(RouteGatherOp op,
                                PatternRewriter &rewriter) const override {
    if (!hasStaticTensorShapes(op))
      return rewriter.notifyMatchFailure(op, "dynamic shapes");
    Location loc = op.getLoc();
    auto type = op.getType();
    int64_t s = op.getInput().getType().getShape()[1];
    Value input = op.getInput(), indices = op.getIndices();
    Value rows = buildRowwise(
        rewriter, loc, type,
        [&](OpBuilder &b, Location l, Value bi, Value j) -> SourceRow {
          Value raw = b.create<tensor::ExtractOp>(l, indices, ValueRange{bi, j});
          auto [si, valid] = clampIndex(b, l, raw, s);
          return {rowOf(b, l, input, bi, si), valid, Value()};
        });
    rewriter.replaceOp(op, rows);
    return success();
  }
};

/// y = x, then y[b, idx[b, j]] += w[b, j] u[b, j] for j = 0, 1, ... in
/// order (repeats accumulate in that order; an index outside [0, S) is
/// skipped): O(k D) per row, each update one vector loop over D; the rows
/// run on the thread pool.
struct RouteScatterAddLowering : OpRewritePattern<RouteScatterAddOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(RouteScatterAddOp op,
                                PatternRewriter &rewriter) const override {
    if (!hasStaticTensorShapes(op))
      return rewriter.notifyMatchFailure(op, "dynamic shapes");
    Location loc = op.getLoc();
    auto type = op.getType();
    int64_t bs = type.getShape()[0], s = type.getShape()[1],
            d = type.getShape()[2];
    int64_t k = op.getIndices().getType().getShape()[1];
    Type elt = type.getElementType();
    Type ct = computeType(elt);
    Value weights = op.getWeights();
    Value updates = op.getUpdates(), indices = op.getIndices();
    AffineMap id3 = rewriter.getMultiDimIdentityMap(3);
    // The accumulator starts as x in the compute type.
    Value acc = op.getInput();
    if (ct != elt)
      acc = buildGeneric(rewriter, loc, emptyTensor(rewriter, loc, {bs, s, d}, ct),
                         {acc}, {id3}, id3, {kParallel, kParallel, kParallel},
                         [&](OpBuilder &b, Location l, ValueRange a) {
                           return toCompute(b, l, a[0], ct);
                         });
    auto rows = rewriter.create<scf::ForallOp>(
        loc, ArrayRef<OpFoldResult>{rewriter.getIndexAttr(bs)},
        ValueRange{acc}, std::nullopt,
        [&](OpBuilder &b, Location l, ValueRange args) {
          Value bi = args[0];
          OpFoldResult z = b.getIndexAttr(0), one = b.getIndexAttr(1);
          auto slice = [&](OpBuilder &sb, Value src, ArrayRef<OpFoldResult> at,
                           ArrayRef<int64_t> sizes, ArrayRef<int64_t> shape) {
            SmallVector<OpFoldResult> sz, st;
            for (int64_t v : sizes) {
              sz.push_back(sb.getIndexAttr(v));
              st.push_back(sb.getIndexAttr(1));
            }
            return sb
                .create<tensor::ExtractSliceOp>(
                    l,
                    RankedTensorType::get(
                        shape,
                        cast<RankedTensorType>(src.getType()).getElementType()),
                    src, at, sz, st)
                .getResult();
          };
          Value row = slice(b, args[1], {bi, z, z}, {1, s, d}, {s, d});
          auto loop = b.create<scf::ForOp>(
              l, indexConst(b, l, 0), indexConst(b, l, k), indexConst(b, l, 1),
              ValueRange{row},
              [&](OpBuilder &nb, Location nl, Value j, ValueRange a) {
                Value raw = nb.create<tensor::ExtractOp>(nl, indices,
                                                         ValueRange{bi, j});
                auto [si, valid] = clampIndex(nb, nl, raw, s);
                auto ifOp = nb.create<scf::IfOp>(
                    nl, valid,
                    [&](OpBuilder &tb, Location tl) {
                      OpFoldResult tz = tb.getIndexAttr(0);
                      Value w = weights ? tb.create<tensor::ExtractOp>(
                                              tl, weights, ValueRange{bi, j})
                                              .getResult()
                                        : Value();
                      if (w)
                        w = toCompute(tb, tl, w, ct);
                      Value upd = slice(tb, updates, {bi, j, tz}, {1, 1, d}, {d});
                      Value dst = slice(tb, a[0], {si, tz}, {1, d}, {d});
                      AffineMap id1 = tb.getMultiDimIdentityMap(1);
                      Value sum = buildGeneric(
                          tb, tl, dst, {upd}, {id1}, id1, {kParallel},
                          [&](OpBuilder &gb, Location gl, ValueRange v) {
                            Value u = toCompute(gb, gl, v[0], ct);
                            if (w)
                              u = gb.create<arith::MulFOp>(gl, w, u);
                            return gb.create<arith::AddFOp>(gl, v[1], u)
                                .getResult();
                          });
                      Value next = tb.create<tensor::InsertSliceOp>(
                          tl, sum, a[0], ArrayRef<OpFoldResult>{si, tz},
                          ArrayRef<OpFoldResult>{tb.getIndexAttr(1),
                                                 tb.getIndexAttr(d)},
                          ArrayRef<OpFoldResult>{tb.getIndexAttr(1),
                                                 tb.getIndexAttr(1)});
                      tb.create<scf::YieldOp>(tl, next);
                    },
                    [&](OpBuilder &eb, Location el) {
                      eb.create<scf::YieldOp>(el, a[0]);
                    });
                nb.create<scf::YieldOp>(nl, ifOp.getResult(0));
              });
          auto terminator = b.create<scf::InParallelOp>(l);
          OpBuilder::InsertionGuard guard(b);
          b.setInsertionPointToStart(terminator.getBody());
          b.create<tensor::ParallelInsertSliceOp>(
              l, loop.getResult(0), args[1], ArrayRef<OpFoldResult>{bi, z, z},
              ArrayRef<OpFoldResult>{one, b.getIndexAttr(s), b.getIndexAttr(d)},
              ArrayRef<OpFoldResult>{one, one, one});
        });
    Value out = rows.getResult(0);
    if (ct != elt)
      out = buildGeneric(rewriter, loc,
                         emptyTensor(rewriter, loc, type.getShape(), elt), {out},
                         {id3}, id3, {kParallel, kParallel, kParallel},
                         [&](OpBuilder &b, Location l, ValueRange a) {
                           return fromCompute(b, l, a[0], elt);
                         });
    rewriter.replaceOp(op, out);
    return success();
  }
};

} // namespace

void lowering::populateRouteOpsPatterns(RewritePatternSet &patterns) {
  // clang-format off
  patterns.add<
      RouteCombineLowering,
      RouteDepthLowering,
      RouteDispatchLowering,
      RouteExpertsLowering,
      RouteGatherLowering,
      RouteScatterAddLowering
  >(patterns.getContext());
  // clang-format on
}
