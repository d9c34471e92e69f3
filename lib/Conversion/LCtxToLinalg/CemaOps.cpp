//===- CemaOps.cpp - Lower Megalodon's CEMA and TimestepNorm --------------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// The math of each op is in its ODS description (docs/LCtxOps.md). This is
// the sequential form: scalar recurrences over time in fp32 with complex
// numbers as explicit (re, im) pairs. The chunked parallel form (per-chunk
// kernel powers with state passing) replaces it in the optimizing pipeline.
//
//===----------------------------------------------------------------------===//

#include "Patterns.h"

#include "lctx/Dialect/LCtx/IR/LCtxOps.h"
#include "mlir/Dialect/Complex/IR/Complex.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

#include <cmath>

using namespace mlir;
using namespace mlir::lctx;
using namespace mlir::lctx::lowering;

namespace {

Value sigmoid(OpBuilder &b, Location l, Value x) {
  Value one = floatConst(b, l, x.getType(), 1.0);
  return b.create<arith::DivFOp>(
      l, one,
      b.create<arith::AddFOp>(
          l, one, b.create<math::ExpOp>(l, b.create<arith::NegFOp>(l, x))));
}

/// A loop over [0, n) carrying `init`; `body` returns the next values.
SmallVector<Value>
forLoop(OpBuilder &b, Location loc, int64_t n, ValueRange init,
        function_ref<SmallVector<Value>(OpBuilder &, Location, Value,
                                        ValueRange)>
            body) {
  auto loop = b.create<scf::ForOp>(
      loc, indexConst(b, loc, 0), indexConst(b, loc, n), indexConst(b, loc, 1),
      init, [&](OpBuilder &nb, Location nl, Value iv, ValueRange args) {
        nb.create<scf::YieldOp>(nl, body(nb, nl, iv, args));
      });
  return SmallVector<Value>(loop.getResults());
}

struct CemaScanLowering : OpRewritePattern<CemaScanOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(CemaScanOp op,
                                PatternRewriter &rewriter) const override {
    if (!hasStaticTensorShapes(op))
      return rewriter.notifyMatchFailure(op, "dynamic shapes");
    Location loc = op.getLoc();
    auto xType = op.getInput().getType();
    int64_t bs = xType.getShape()[0], len = xType.getShape()[1],
            d = xType.getShape()[2];
    int64_t n = op.getAlpha().getType().getShape()[1];
    Type elt = xType.getElementType();
    Type f32 = rewriter.getF32Type();
    auto coef = [&](function_ref<Value(OpBuilder &, Location, ValueRange)> f) {
      return buildIndexGeneric(rewriter, loc, {d, n}, f32, f);
    };
    // p = sigmoid(alpha); q = (1 - sigmoid(alpha) sigmoid(delta)) e^{i theta'}
    // with theta' = sigmoid(theta) 2 pi / N (n + 1); gamma / sqrt(N).
    Value alpha = op.getAlpha(), delta = op.getDelta(), theta = op.getTheta(),
          gamma = op.getGamma();
    auto modulus = [&](OpBuilder &b, Location l, ValueRange i) {
      Value a = sigmoid(b, l, b.create<tensor::ExtractOp>(l, alpha, i));
      Value dl = sigmoid(b, l, b.create<tensor::ExtractOp>(l, delta, i));
      return b.create<arith::SubFOp>(l, floatConst(b, l, f32, 1.0),
                                     b.create<arith::MulFOp>(l, a, dl))
          .getResult();
    };
    auto angle = [&](OpBuilder &b, Location l, ValueRange i) {
      Value th = sigmoid(b, l, b.create<tensor::ExtractOp>(l, theta, i[0]));
      Value k = b.create<arith::UIToFPOp>(
          l, f32,
          b.create<arith::IndexCastOp>(
              l, b.getI64Type(),
              b.create<arith::AddIOp>(l, i[1], indexConst(b, l, 1))));
      return b
          .create<arith::MulFOp>(
              l, b.create<arith::MulFOp>(l, th, k),
              floatConst(b, l, f32, 2.0 * M_PI / static_cast<double>(n)))
          .getResult();
    };
    Value p = coef([&](OpBuilder &b, Location l, ValueRange i) {
      return sigmoid(b, l, b.create<tensor::ExtractOp>(l, alpha, i));
    });
    Value qRe = coef([&](OpBuilder &b, Location l, ValueRange i) {
      return b.create<arith::MulFOp>(l, modulus(b, l, i),
                                     b.create<math::CosOp>(l, angle(b, l, i)))
          .getResult();
    });
    Value qIm = coef([&](OpBuilder &b, Location l, ValueRange i) {
      return b.create<arith::MulFOp>(l, modulus(b, l, i),
                                     b.create<math::SinOp>(l, angle(b, l, i)))
          .getResult();
    });
    double invSqrtN = 1.0 / std::sqrt(static_cast<double>(n));
    Value gRe = coef([&](OpBuilder &b, Location l, ValueRange i) {
      Value g = b.create<tensor::ExtractOp>(l, gamma, i);
      return b.create<arith::MulFOp>(l, b.create<complex::ReOp>(l, g),
                                     floatConst(b, l, f32, invSqrtN))
          .getResult();
    });
    Value gIm = coef([&](OpBuilder &b, Location l, ValueRange i) {
      Value g = b.create<tensor::ExtractOp>(l, gamma, i);
      return b.create<arith::MulFOp>(l, b.create<complex::ImOp>(l, g),
                                     floatConst(b, l, f32, invSqrtN))
          .getResult();
    });
    Value h0 = op.getInitState();
    Value hRe = buildIndexGeneric(
        rewriter, loc, {bs, d, n}, f32, [&](OpBuilder &b, Location l,
                                            ValueRange i) -> Value {
          return b.create<complex::ReOp>(
              l, b.create<tensor::ExtractOp>(l, h0, i));
        });
    Value hIm = buildIndexGeneric(
        rewriter, loc, {bs, d, n}, f32, [&](OpBuilder &b, Location l,
                                            ValueRange i) -> Value {
          return b.create<complex::ImOp>(
              l, b.create<tensor::ExtractOp>(l, h0, i));
        });
    Value y = emptyTensor(rewriter, loc, {bs, len, d}, elt);
    Value x = op.getInput(), omega = op.getOmega();

    // for (b, d): for t: h_n = p x + q h_n; y = Re(sum_n g h_n) + omega x.
    SmallVector<Value> res = forLoop(
        rewriter, loc, bs * d, {y, hRe, hIm},
        [&](OpBuilder &b, Location l, Value bd, ValueRange s0) {
          Value bi = b.create<arith::DivUIOp>(l, bd, indexConst(b, l, d));
          Value di = b.create<arith::RemUIOp>(l, bd, indexConst(b, l, d));
          Value om = b.create<tensor::ExtractOp>(l, omega, di);
          return forLoop(
              b, l, len, s0,
              [&](OpBuilder &tb, Location tl, Value t, ValueRange s1) {
                Value xv = toCompute(
                    tb, tl,
                    tb.create<tensor::ExtractOp>(tl, x, ValueRange{bi, t, di}),
                    f32);
                SmallVector<Value> inner = forLoop(
                    tb, tl, n,
                    {floatConst(tb, tl, f32, 0.0), s1[1], s1[2]},
                    [&](OpBuilder &nb, Location nl, Value ni, ValueRange s2) {
                      SmallVector<Value> dn = {di, ni};
                      SmallVector<Value> bdn = {bi, di, ni};
                      auto at = [&](Value tns, ValueRange idx) {
                        return nb.create<tensor::ExtractOp>(nl, tns, idx)
                            .getResult();
                      };
                      Value hr = at(s2[1], bdn), hi = at(s2[2], bdn);
                      Value qr = at(qRe, dn), qi = at(qIm, dn);
                      Value nr = nb.create<arith::AddFOp>(
                          nl, nb.create<arith::MulFOp>(nl, at(p, dn), xv),
                          nb.create<arith::SubFOp>(
                              nl, nb.create<arith::MulFOp>(nl, qr, hr),
                              nb.create<arith::MulFOp>(nl, qi, hi)));
                      Value nIm = nb.create<arith::AddFOp>(
                          nl, nb.create<arith::MulFOp>(nl, qr, hi),
                          nb.create<arith::MulFOp>(nl, qi, hr));
                      Value re = nb.create<arith::SubFOp>(
                          nl, nb.create<arith::MulFOp>(nl, at(gRe, dn), nr),
                          nb.create<arith::MulFOp>(nl, at(gIm, dn), nIm));
                      return SmallVector<Value>{
                          nb.create<arith::AddFOp>(nl, s2[0], re),
                          nb.create<tensor::InsertOp>(nl, nr, s2[1], bdn),
                          nb.create<tensor::InsertOp>(nl, nIm, s2[2], bdn)};
                    });
                Value out = tb.create<arith::AddFOp>(
                    tl, inner[0], tb.create<arith::MulFOp>(tl, om, xv));
                Value yNew = tb.create<tensor::InsertOp>(
                    tl, fromCompute(tb, tl, out, elt), s1[0],
                    ValueRange{bi, t, di});
                return SmallVector<Value>{yNew, inner[1], inner[2]};
              });
        });
    auto stateType = op.getFinalState().getType();
    AffineMap id = rewriter.getMultiDimIdentityMap(3);
    Value state = buildGeneric(
        rewriter, loc, emptyTensor(rewriter, loc, stateType.getShape(),
                                   stateType.getElementType()),
        {res[1], res[2]}, {id, id}, id, {kParallel, kParallel, kParallel},
        [&](OpBuilder &b, Location l, ValueRange a) {
          return b
              .create<complex::CreateOp>(l, stateType.getElementType(), a[0],
                                         a[1])
              .getResult();
        });
    rewriter.replaceOp(op, {res[0], state});
    return success();
  }
};

struct CemaTimestepNormLowering : OpRewritePattern<CemaTimestepNormOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(CemaTimestepNormOp op,
                                PatternRewriter &rewriter) const override {
    if (!hasStaticTensorShapes(op))
      return rewriter.notifyMatchFailure(op, "dynamic shapes");
    Location loc = op.getLoc();
    auto xType = op.getInput().getType();
    int64_t bs = xType.getShape()[0], len = xType.getShape()[1],
            d = xType.getShape()[2];
    int64_t groups = op.getNumGroupsAttr().getInt();
    int64_t dg = d / groups;
    Type elt = xType.getElementType();
    Type f32 = rewriter.getF32Type();
    double eps = op.getEpsilon().convertToDouble();
    Value x = op.getInput(), weight = op.getWeight(), bias = op.getBias();
    Value y = emptyTensor(rewriter, loc, {bs, len, d}, elt);

    SmallVector<Value> res = forLoop(
        rewriter, loc, bs, {y, op.getCount(), op.getMean(), op.getVar()},
        [&](OpBuilder &b, Location l, Value bi, ValueRange s0) {
          Value cnt0 = b.create<tensor::ExtractOp>(l, s0[1], bi);
          SmallVector<Value> steps = forLoop(
              b, l, len, {s0[0], s0[2], s0[3], cnt0},
              [&](OpBuilder &tb, Location tl, Value t, ValueRange s1) {
                // Elements merged so far per group: count * D/G.
                Value na = tb.create<arith::MulFOp>(
                    tl, tb.create<arith::SIToFPOp>(tl, f32, s1[3]),
                    floatConst(tb, tl, f32, static_cast<double>(dg)));
                SmallVector<Value> g = forLoop(
                    tb, tl, groups, {s1[0], s1[1], s1[2]},
                    [&](OpBuilder &gb, Location gl, Value gi, ValueRange s2) {
                      Value base = gb.create<arith::MulIOp>(
                          gl, gi, indexConst(gb, gl, dg));
                      auto xAt = [&](OpBuilder &ib, Location il, Value j) {
                        Value f = ib.create<arith::AddIOp>(il, base, j);
                        return toCompute(ib, il,
                                         ib.create<tensor::ExtractOp>(
                                             il, x, ValueRange{bi, t, f}),
                                         f32);
                      };
                      // This step's group mean and M2 (two passes).
                      Value sum = forLoop(
                          gb, gl, dg, {floatConst(gb, gl, f32, 0.0)},
                          [&](OpBuilder &ib, Location il, Value j,
                              ValueRange a) {
                            return SmallVector<Value>{ib.create<arith::AddFOp>(
                                il, a[0], xAt(ib, il, j))};
                          })[0];
                      Value mb = gb.create<arith::DivFOp>(
                          gl, sum, floatConst(gb, gl, f32, dg));
                      Value m2b = forLoop(
                          gb, gl, dg, {floatConst(gb, gl, f32, 0.0)},
                          [&](OpBuilder &ib, Location il, Value j,
                              ValueRange a) {
                            Value dv = ib.create<arith::SubFOp>(
                                il, xAt(ib, il, j), mb);
                            return SmallVector<Value>{ib.create<arith::AddFOp>(
                                il, a[0], ib.create<arith::MulFOp>(il, dv, dv))};
                          })[0];
                      // Welford merge with the carried (na, mean, var).
                      Value ma = gb.create<tensor::ExtractOp>(
                          gl, s2[1], ValueRange{bi, gi});
                      Value va = gb.create<tensor::ExtractOp>(
                          gl, s2[2], ValueRange{bi, gi});
                      Value nbv = floatConst(gb, gl, f32, dg);
                      Value ntot = gb.create<arith::AddFOp>(gl, na, nbv);
                      Value dlt = gb.create<arith::SubFOp>(gl, mb, ma);
                      Value mean = gb.create<arith::AddFOp>(
                          gl, ma,
                          gb.create<arith::MulFOp>(
                              gl, dlt,
                              gb.create<arith::DivFOp>(gl, nbv, ntot)));
                      Value m2 = gb.create<arith::AddFOp>(
                          gl,
                          gb.create<arith::AddFOp>(
                              gl, gb.create<arith::MulFOp>(gl, va, na), m2b),
                          gb.create<arith::MulFOp>(
                              gl, gb.create<arith::MulFOp>(gl, dlt, dlt),
                              gb.create<arith::DivFOp>(
                                  gl, gb.create<arith::MulFOp>(gl, na, nbv),
                                  ntot)));
                      Value var = gb.create<arith::DivFOp>(gl, m2, ntot);
                      Value rstd = gb.create<arith::DivFOp>(
                          gl, floatConst(gb, gl, f32, 1.0),
                          gb.create<math::SqrtOp>(
                              gl, gb.create<arith::AddFOp>(
                                      gl, var, floatConst(gb, gl, f32, eps))));
                      Value yNew = forLoop(
                          gb, gl, dg, {s2[0]},
                          [&](OpBuilder &ib, Location il, Value j,
                              ValueRange a) {
                            Value f = ib.create<arith::AddIOp>(il, base, j);
                            Value w1 = ib.create<arith::AddFOp>(
                                il,
                                toCompute(ib, il,
                                          ib.create<tensor::ExtractOp>(
                                              il, weight, f),
                                          f32),
                                floatConst(ib, il, f32, 1.0));
                            Value bv = toCompute(
                                ib, il, ib.create<tensor::ExtractOp>(il, bias, f),
                                f32);
                            Value v = ib.create<arith::AddFOp>(
                                il,
                                ib.create<arith::MulFOp>(
                                    il,
                                    ib.create<arith::MulFOp>(
                                        il,
                                        ib.create<arith::SubFOp>(
                                            il, xAt(ib, il, j), mean),
                                        rstd),
                                    w1),
                                bv);
                            return SmallVector<Value>{ib.create<tensor::InsertOp>(
                                il, fromCompute(ib, il, v, elt), a[0],
                                ValueRange{bi, t, f})};
                          })[0];
                      return SmallVector<Value>{
                          yNew,
                          gb.create<tensor::InsertOp>(gl, mean, s2[1],
                                                      ValueRange{bi, gi}),
                          gb.create<tensor::InsertOp>(gl, var, s2[2],
                                                      ValueRange{bi, gi})};
                    });
                Value cnt = tb.create<arith::AddIOp>(
                    tl, s1[3],
                    tb.create<arith::ConstantOp>(tl, tb.getI64IntegerAttr(1)));
                return SmallVector<Value>{g[0], g[1], g[2], cnt};
              });
          Value count = b.create<tensor::InsertOp>(l, steps[3], s0[1], bi);
          return SmallVector<Value>{steps[0], count, steps[1], steps[2]};
        });
    rewriter.replaceOp(op, res);
    return success();
  }
};

} // namespace

void lowering::populateCemaOpsPatterns(RewritePatternSet &patterns) {
  // clang-format off
  patterns.add<
      CemaScanLowering,
      CemaTimestepNormLowering
  >(patterns.getContext());
  // clang-format on
}
