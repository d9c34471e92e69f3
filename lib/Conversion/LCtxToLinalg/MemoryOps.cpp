//===- MemoryOps.cpp - Lower the Infini-attention memory ops --------------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// The math of each op is in its ODS description (docs/LCtxOps.md).
// lctx.memory.attention is lowered fused in Attention.cpp; its memory
// update after each segment is an lctx.memory.update, lowered here.
//
//===----------------------------------------------------------------------===//

#include "Patterns.h"

#include "lctx/Dialect/LCtx/IR/LCtxOps.h"

using namespace mlir;
using namespace mlir::lctx;
using namespace mlir::lctx::lowering;

namespace {

/// sigma(x) = ELU(x) + 1 = (x > 0 ? x + 1 : exp(x)), in f32.
Value sigma(OpBuilder &b, Location l, Value x) {
  Type f32 = b.getF32Type();
  x = toCompute(b, l, x, f32);
  Value zero = floatConst(b, l, f32, 0.0);
  Value pos = b.create<arith::CmpFOp>(l, arith::CmpFPredicate::OGT, x, zero);
  return b.create<arith::SelectOp>(
      l, pos, b.create<arith::AddFOp>(l, x, floatConst(b, l, f32, 1.0)),
      b.create<math::ExpOp>(l, x));
}

/// Elementwise map over one [..] tensor into a fresh tensor of `elt`.
Value mapElementwise(OpBuilder &b, Location loc, Value x, Type elt,
                     function_ref<Value(OpBuilder &, Location, Value)> f) {
  auto type = cast<RankedTensorType>(x.getType());
  unsigned rank = type.getRank();
  AffineMap id = b.getMultiDimIdentityMap(rank);
  SmallVector<utils::IteratorType> iters(rank, kParallel);
  Value init = emptyTensor(b, loc, type.getShape(), elt);
  return buildGeneric(b, loc, init, {x}, {id}, id, iters,
                      [&](OpBuilder &nb, Location l, ValueRange v) {
                        return f(nb, l, v[0]);
                      });
}

/// sigma(x) of every element, as a fresh f32 tensor (computed once, so that
/// the contractions below have plain multiply-add bodies).
Value sigmaTensor(OpBuilder &b, Location loc, Value x) {
  return mapElementwise(b, loc, x, b.getF32Type(),
                        [](OpBuilder &nb, Location l, Value v) {
                          return sigma(nb, l, v);
                        });
}

/// `x` with f32 elements (x itself when it already has them).
Value toF32(OpBuilder &b, Location loc, Value x) {
  Type f32 = b.getF32Type();
  if (cast<RankedTensorType>(x.getType()).getElementType() == f32)
    return x;
  return mapElementwise(b, loc, x, f32, [&](OpBuilder &nb, Location l,
                                            Value v) {
    return toCompute(nb, l, v, f32);
  });
}

/// sigma(A) M / (sigma(A) z) with 0 where the denominator is 0, for
/// `sa` = sigma(A) [B, H, N, Dk] in f32; the result [B, H, N, Dv] in f32.
/// Numerator and denominator are generics with plain multiply-add bodies on
/// `sa`, which the CPU pipeline register-tiles; since `sa` has two users,
/// elementwise fusion leaves it a tensor of its own instead of recomputing
/// sigma inside them.
Value retrieve(OpBuilder &b, Location loc, Value sa, Value memory,
               Value norm) {
  MLIRContext *ctx = b.getContext();
  auto aType = cast<RankedTensorType>(sa.getType());
  auto mType = cast<RankedTensorType>(memory.getType());
  int64_t bs = aType.getShape()[0], h = aType.getShape()[1],
          n = aType.getShape()[2], dv = mType.getShape()[3];
  Type f32 = b.getF32Type();
  auto mulAdd = [](OpBuilder &nb, Location l, ValueRange v) {
    return nb
        .create<arith::AddFOp>(l, v[2], nb.create<arith::MulFOp>(l, v[0], v[1]))
        .getResult();
  };
  // Dims (b, h, n, v, k): numerator reduces k.
  Value numInit = filledTensor(b, loc, {bs, h, n, dv}, f32, 0.0);
  Value num = buildGeneric(
      b, loc, numInit, {sa, memory},
      {selectDims(ctx, 5, {0, 1, 2, 4}), selectDims(ctx, 5, {0, 1, 4, 3})},
      selectDims(ctx, 5, {0, 1, 2, 3}),
      {kParallel, kParallel, kParallel, kParallel, kReduction}, mulAdd);
  // Dims (b, h, n, k): denominator.
  Value denInit = filledTensor(b, loc, {bs, h, n}, f32, 0.0);
  Value den = buildGeneric(
      b, loc, denInit, {sa, norm},
      {selectDims(ctx, 4, {0, 1, 2, 3}), selectDims(ctx, 4, {0, 1, 3})},
      selectDims(ctx, 4, {0, 1, 2}),
      {kParallel, kParallel, kParallel, kReduction}, mulAdd);
  Value init = emptyTensor(b, loc, {bs, h, n, dv}, f32);
  return buildGeneric(
      b, loc, init, {num, den},
      {selectDims(ctx, 4, {0, 1, 2, 3}), selectDims(ctx, 4, {0, 1, 2})},
      selectDims(ctx, 4, {0, 1, 2, 3}), {kParallel, kParallel, kParallel, kParallel},
      [&](OpBuilder &nb, Location l, ValueRange v) {
        Value zero = floatConst(nb, l, f32, 0.0);
        Value nz = nb.create<arith::CmpFOp>(l, arith::CmpFPredicate::UNE,
                                            v[1], zero);
        return nb
            .create<arith::SelectOp>(
                l, nz, nb.create<arith::DivFOp>(l, v[0], v[1]), zero)
            .getResult();
      });
}

struct MemoryRetrieveLowering : OpRewritePattern<MemoryRetrieveOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(MemoryRetrieveOp op,
                                PatternRewriter &rewriter) const override {
    if (!hasStaticTensorShapes(op))
      return rewriter.notifyMatchFailure(op, "dynamic shapes");
    Location loc = op.getLoc();
    Value q = op.getQuery();
    Value r = retrieve(rewriter, loc, sigmaTensor(rewriter, loc, q),
                       op.getMemory(), op.getNorm());
    Type elt = op.getType().getElementType();
    if (elt == rewriter.getF32Type()) {
      rewriter.replaceOp(op, r);
      return success();
    }
    rewriter.replaceOp(op, mapElementwise(rewriter, loc, r, elt,
                                          [&](OpBuilder &b, Location l,
                                              Value v) {
                                            return fromCompute(b, l, v, elt);
                                          }));
    return success();
  }
};

struct MemoryUpdateLowering : OpRewritePattern<MemoryUpdateOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(MemoryUpdateOp op,
                                PatternRewriter &rewriter) const override {
    if (!hasStaticTensorShapes(op))
      return rewriter.notifyMatchFailure(op, "dynamic shapes");
    Location loc = op.getLoc();
    MLIRContext *ctx = getContext();
    Type f32 = rewriter.getF32Type();
    Value k = op.getKey(), v = op.getValue();
    Value sk = sigmaTensor(rewriter, loc, k);
    // delta: V - sigma(K) M / (sigma(K) z), computed with the old memory.
    Value target = toF32(rewriter, loc, v);
    if (op.getRule() == MemoryRule::delta) {
      // A named op: elementwise fusion would otherwise fold this
      // subtraction (and the retrieval's division) into the contraction
      // below, which would then no longer be a plain multiply-add.
      Value r = retrieve(rewriter, loc, sk, op.getMemory(), op.getNorm());
      Value init = emptyTensor(
          rewriter, loc, cast<RankedTensorType>(target.getType()).getShape(),
          f32);
      target = rewriter
                   .create<linalg::SubOp>(loc, ValueRange{target, r},
                                          ValueRange{init})
                   .getResult(0);
    }
    // M' = M + sigma(K)^T target: dims (b, h, k, v, n), reducing n; a plain
    // multiply-add body, so the CPU pipeline register-tiles it.
    Value memory = buildGeneric(
        rewriter, loc, op.getMemory(), {sk, target},
        {selectDims(ctx, 5, {0, 1, 4, 2}), selectDims(ctx, 5, {0, 1, 4, 3})},
        selectDims(ctx, 5, {0, 1, 2, 3}),
        {kParallel, kParallel, kParallel, kParallel, kReduction},
        [&](OpBuilder &b, Location l, ValueRange a) {
          return b
              .create<arith::AddFOp>(l, a[2],
                                     b.create<arith::MulFOp>(l, a[0], a[1]))
              .getResult();
        });
    // z' = z + sum_n sigma(K_n): dims (b, h, n, k) with k innermost, so the
    // sum runs on vectors along the contiguous Dk (n ascending per element).
    Value norm = buildGeneric(
        rewriter, loc, op.getNorm(), {sk}, {selectDims(ctx, 4, {0, 1, 2, 3})},
        selectDims(ctx, 4, {0, 1, 3}), {kParallel, kParallel, kReduction, kParallel},
        [&](OpBuilder &b, Location l, ValueRange a) {
          return b.create<arith::AddFOp>(l, a[1], a[0]).getResult();
        });
    rewriter.replaceOp(op, {memory, norm});
    return success();
  }
};

struct MemoryGateLowering : OpRewritePattern<MemoryGateOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(MemoryGateOp op,
                                PatternRewriter &rewriter) const override {
    if (!hasStaticTensorShapes(op))
      return rewriter.notifyMatchFailure(op, "dynamic shapes");
    Location loc = op.getLoc();
    MLIRContext *ctx = getContext();
    auto type = op.getType();
    Type elt = type.getElementType();
    Type ct = computeType(elt);
    AffineMap id = rewriter.getMultiDimIdentityMap(4);
    Value init = emptyTensor(rewriter, loc, type.getShape(), elt);
    Value out = buildGeneric(
        rewriter, loc, init, {op.getMemoryOut(), op.getLocalOut(), op.getBeta()},
        {id, id, selectDims(ctx, 4, {1})}, id,
        {kParallel, kParallel, kParallel, kParallel},
        [&](OpBuilder &b, Location l, ValueRange a) {
          Value one = floatConst(b, l, ct, 1.0);
          Value beta = toCompute(b, l, a[2], ct);
          Value g = b.create<arith::DivFOp>(
              l, one,
              b.create<arith::AddFOp>(
                  l, one,
                  b.create<math::ExpOp>(l, b.create<arith::NegFOp>(l, beta))));
          Value mem = b.create<arith::MulFOp>(l, g, toCompute(b, l, a[0], ct));
          Value loc2 = b.create<arith::MulFOp>(
              l, b.create<arith::SubFOp>(l, one, g), toCompute(b, l, a[1], ct));
          return fromCompute(b, l, b.create<arith::AddFOp>(l, mem, loc2), elt);
        });
    rewriter.replaceOp(op, out);
    return success();
  }
};

} // namespace

void lowering::populateMemoryOpsPatterns(RewritePatternSet &patterns) {
  // clang-format off
  patterns.add<
      MemoryGateLowering,
      MemoryRetrieveLowering,
      MemoryUpdateLowering
  >(patterns.getContext());
  // clang-format on
}
