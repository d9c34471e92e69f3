//===- RouteOps.cpp - Lower the Switch and Mixture-of-Depths ops ----------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// The math of each op is in its ODS description (docs/LCtxOps.md).
// Switch positions are an O(S) scan per row; Mixture-of-Depths ranks and
// prefix counts are O(S^2) reductions (parallel and deterministic; a
// sort-based top-k is future work). lctx.route.moe reaches this pass
// decomposed.
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
    Value init = filledTensor(b, loc, {bs, s}, f32, 0.0);
    return buildGeneric(b, loc, init, {x, router},
                        {selectDims(ctx, 3, {0, 1, 2}), selectDims(ctx, 3, {2})},
                        selectDims(ctx, 3, {0, 1}), {kParallel, kParallel, kReduction},
                        body);
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
    Type elt = outType.getElementType();
    Type ct = computeType(elt);
    Value buf = op.getExpertOut();
    Value out = buildIndexGeneric(
        rewriter, loc, outType.getShape(), elt,
        [&](OpBuilder &b, Location l, ValueRange idx) -> Value {
          Value ex = b.create<tensor::ExtractOp>(l, op.getExpert(),
                                                 idx.take_front(2));
          Value sl = b.create<tensor::ExtractOp>(l, op.getSlot(),
                                                 idx.take_front(2));
          Value g = b.create<tensor::ExtractOp>(l, op.getGate(),
                                                idx.take_front(2));
          // Kept iff expert in [0, E) and slot in [0, C).
          std::pair<Value, Value> exC = clampIndex(b, l, ex, e);
          std::pair<Value, Value> slC = clampIndex(b, l, sl, capacity);
          Value ei = exC.first, si2 = slC.first;
          Value keep = b.create<arith::AndIOp>(l, exC.second, slC.second);
          Value row = b.create<arith::AddIOp>(
              l, b.create<arith::MulIOp>(l, idx[0], indexConst(b, l, capacity)),
              si2);
          Value v = b.create<tensor::ExtractOp>(l, buf,
                                                ValueRange{ei, row, idx[2]});
          Value y = b.create<arith::MulFOp>(l, toCompute(b, l, v, ct),
                                            toCompute(b, l, g, ct));
          // A dropped token's branch output is exactly 0.
          y = b.create<arith::SelectOp>(l, keep, y, floatConst(b, l, ct, 0.0));
          return fromCompute(b, l, y, elt);
        });
    rewriter.replaceOp(op, out);
    return success();
  }
};

//===----------------------------------------------------------------------===//
// Mixture-of-Depths
//===----------------------------------------------------------------------===//

struct RouteDepthLowering : OpRewritePattern<RouteDepthOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(RouteDepthOp op,
                                PatternRewriter &rewriter) const override {
    if (!hasStaticTensorShapes(op))
      return rewriter.notifyMatchFailure(op, "dynamic shapes");
    Location loc = op.getLoc();
    MLIRContext *ctx = getContext();
    auto xType = op.getInput().getType();
    int64_t bs = xType.getShape()[0], s = xType.getShape()[1];
    int64_t k = op.getIndices().getType().getShape()[1];
    Type f32 = rewriter.getF32Type(), i64 = rewriter.getI64Type();
    bool topk = op.getMode() == DepthRouting::topk;
    Value logits = routerLogits(rewriter, loc, op.getInput(), op.getRouter());

    // selected[b, s] (as i64 0/1): top-k by rank (ties: lowest index), or
    // logit > 0 for causal routing.
    Value sel;
    if (topk) {
      Value rankInit = rewriter
                           .create<linalg::FillOp>(
                               loc, ValueRange{i64Const(rewriter, loc, 0)},
                               ValueRange{emptyTensor(rewriter, loc, {bs, s},
                                                      i64)})
                           .getResult(0);
      // rank[b, s] = #{s' : r[s'] > r[s] or (r[s'] == r[s] and s' < s)}.
      Value rank = buildGeneric(
          rewriter, loc, rankInit, {logits, logits},
          {selectDims(ctx, 3, {0, 1}), selectDims(ctx, 3, {0, 2})}, selectDims(ctx, 3, {0, 1}),
          {kParallel, kParallel, kReduction},
          [&](OpBuilder &b, Location l, ValueRange a) {
            Value gt = b.create<arith::CmpFOp>(l, arith::CmpFPredicate::OGT,
                                               a[1], a[0]);
            Value eq = b.create<arith::CmpFOp>(l, arith::CmpFPredicate::OEQ,
                                               a[1], a[0]);
            Value before = b.create<arith::CmpIOp>(
                l, arith::CmpIPredicate::ult, b.create<linalg::IndexOp>(l, 2),
                b.create<linalg::IndexOp>(l, 1));
            Value ahead = b.create<arith::OrIOp>(
                l, gt, b.create<arith::AndIOp>(l, eq, before));
            return b
                .create<arith::AddIOp>(l, a[2],
                                       b.create<arith::ExtUIOp>(l, i64, ahead))
                .getResult();
          });
      AffineMap id2 = rewriter.getMultiDimIdentityMap(2);
      sel = buildGeneric(
          rewriter, loc, emptyTensor(rewriter, loc, {bs, s}, i64), {rank},
          {id2}, id2, {kParallel, kParallel},
          [&](OpBuilder &b, Location l, ValueRange a) {
            Value in = b.create<arith::CmpIOp>(l, arith::CmpIPredicate::slt,
                                               a[0], i64Const(b, l, k));
            return b.create<arith::ExtUIOp>(l, i64, in).getResult();
          });
    } else {
      AffineMap id2 = rewriter.getMultiDimIdentityMap(2);
      sel = buildGeneric(
          rewriter, loc, emptyTensor(rewriter, loc, {bs, s}, i64), {logits},
          {id2}, id2, {kParallel, kParallel},
          [&](OpBuilder &b, Location l, ValueRange a) {
            Value in = b.create<arith::CmpFOp>(l, arith::CmpFPredicate::OGT,
                                               a[0], floatConst(b, l, f32, 0));
            return b.create<arith::ExtUIOp>(l, i64, in).getResult();
          });
    }
    // before[b, s] = number of selected tokens ahead of s.
    Value beforeInit = rewriter
                           .create<linalg::FillOp>(
                               loc, ValueRange{i64Const(rewriter, loc, 0)},
                               ValueRange{emptyTensor(rewriter, loc, {bs, s},
                                                      i64)})
                           .getResult(0);
    Value before = buildGeneric(
        rewriter, loc, beforeInit, {sel}, {selectDims(ctx, 3, {0, 2})},
        selectDims(ctx, 3, {0, 1}), {kParallel, kParallel, kReduction},
        [&](OpBuilder &b, Location l, ValueRange a) {
          Value ahead = b.create<arith::CmpIOp>(
              l, arith::CmpIPredicate::ult, b.create<linalg::IndexOp>(l, 2),
              b.create<linalg::IndexOp>(l, 1));
          return b
              .create<arith::AddIOp>(
                  l, a[1],
                  b.create<arith::SelectOp>(l, ahead, a[0], i64Const(b, l, 0)))
              .getResult();
        });
    // indices[b, j] = the selected s with before == j, else -1: dims (b, j, s).
    Value idxInit = rewriter
                        .create<linalg::FillOp>(
                            loc, ValueRange{i64Const(rewriter, loc, -1)},
                            ValueRange{emptyTensor(rewriter, loc, {bs, k}, i64)})
                        .getResult(0);
    Value indices = buildGeneric(
        rewriter, loc, idxInit, {sel, before},
        {selectDims(ctx, 3, {0, 2}), selectDims(ctx, 3, {0, 2})}, selectDims(ctx, 3, {0, 1}),
        {kParallel, kParallel, kReduction},
        [&](OpBuilder &b, Location l, ValueRange a) {
          Value j = b.create<arith::IndexCastOp>(
              l, i64, b.create<linalg::IndexOp>(l, 1));
          Value sIdx = b.create<arith::IndexCastOp>(
              l, i64, b.create<linalg::IndexOp>(l, 2));
          Value hit = b.create<arith::AndIOp>(
              l,
              b.create<arith::CmpIOp>(l, arith::CmpIPredicate::ne, a[0],
                                      i64Const(b, l, 0)),
              b.create<arith::CmpIOp>(l, arith::CmpIPredicate::eq, a[1], j));
          return b.create<arith::SelectOp>(l, hit, sIdx, a[2]).getResult();
        });
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

struct RouteGatherLowering : OpRewritePattern<RouteGatherOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(RouteGatherOp op,
                                PatternRewriter &rewriter) const override {
    if (!hasStaticTensorShapes(op))
      return rewriter.notifyMatchFailure(op, "dynamic shapes");
    int64_t s = op.getInput().getType().getShape()[1];
    Type elt = op.getType().getElementType();
    Value out = buildIndexGeneric(
        rewriter, op.getLoc(), op.getType().getShape(), elt,
        [&](OpBuilder &b, Location l, ValueRange idx) -> Value {
          Value raw = b.create<tensor::ExtractOp>(l, op.getIndices(),
                                                  idx.take_front(2));
          auto [si, valid] = clampIndex(b, l, raw, s);
          Value v = b.create<tensor::ExtractOp>(
              l, op.getInput(), ValueRange{idx[0], si, idx[2]});
          return b.create<arith::SelectOp>(l, valid, v,
                                           floatConst(b, l, elt, 0.0));
        });
    rewriter.replaceOp(op, out);
    return success();
  }
};

struct RouteScatterAddLowering : OpRewritePattern<RouteScatterAddOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(RouteScatterAddOp op,
                                PatternRewriter &rewriter) const override {
    if (!hasStaticTensorShapes(op))
      return rewriter.notifyMatchFailure(op, "dynamic shapes");
    Location loc = op.getLoc();
    MLIRContext *ctx = getContext();
    auto type = op.getType();
    int64_t bs = type.getShape()[0], s = type.getShape()[1],
            d = type.getShape()[2];
    Type elt = type.getElementType();
    Type ct = computeType(elt);
    // acc[b, s, d] = sum_j [indices[b, j] == s] w[b, j] updates[b, j, d]:
    // dims (b, s, d, j).
    SmallVector<Value> inputs = {op.getIndices(), op.getUpdates()};
    SmallVector<AffineMap> maps = {selectDims(ctx, 4, {0, 3}), selectDims(ctx, 4, {0, 3, 2})};
    if (Value w = op.getWeights()) {
      inputs.push_back(w);
      maps.push_back(selectDims(ctx, 4, {0, 3}));
    }
    bool weighted = static_cast<bool>(op.getWeights());
    Value accInit = filledTensor(rewriter, loc, {bs, s, d}, ct, 0.0);
    Value acc = buildGeneric(
        rewriter, loc, accInit, inputs, maps, selectDims(ctx, 4, {0, 1, 2}),
        {kParallel, kParallel, kParallel, kReduction},
        [&](OpBuilder &b, Location l, ValueRange a) {
          Value target = b.create<arith::IndexCastOp>(
              l, a[0].getType(), b.create<linalg::IndexOp>(l, 1));
          Value hit = b.create<arith::CmpIOp>(l, arith::CmpIPredicate::eq,
                                              a[0], target);
          Value u = toCompute(b, l, a[1], ct);
          if (weighted)
            u = b.create<arith::MulFOp>(l, u, toCompute(b, l, a[2], ct));
          Value add = b.create<arith::AddFOp>(l, a.back(), u);
          return b.create<arith::SelectOp>(l, hit, add, a.back()).getResult();
        });
    AffineMap id = rewriter.getMultiDimIdentityMap(3);
    Value out = buildGeneric(
        rewriter, loc, emptyTensor(rewriter, loc, type.getShape(), elt),
        {op.getInput(), acc}, {id, id}, id, {kParallel, kParallel, kParallel},
        [&](OpBuilder &b, Location l, ValueRange a) {
          return fromCompute(
              b, l, b.create<arith::AddFOp>(l, toCompute(b, l, a[0], ct), a[1]),
              elt);
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
