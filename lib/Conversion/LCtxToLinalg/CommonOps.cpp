//===- CommonOps.cpp - Lower attention, RoPE, norms, linear, FFN ----------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// The math of each op is in its ODS description (docs/LCtxOps.md).
//
//===----------------------------------------------------------------------===//

#include "Patterns.h"

#include "lctx/Dialect/LCtx/IR/LCtxOps.h"

#include <cmath>
#include <limits>
#include <optional>

using namespace mlir;
using namespace mlir::lctx;
using namespace mlir::lctx::lowering;

namespace {

/// Shared guard: static shapes only, for now.
template <typename OpTy>
struct StaticPattern : OpRewritePattern<OpTy> {
  using OpRewritePattern<OpTy>::OpRewritePattern;
  LogicalResult matchAndRewrite(OpTy op,
                                PatternRewriter &rewriter) const final {
    if (!hasStaticTensorShapes(op))
      return rewriter.notifyMatchFailure(op, "dynamic shapes");
    return lower(op, rewriter);
  }
  virtual LogicalResult lower(OpTy op, PatternRewriter &rewriter) const = 0;
};

/// Sum over the last dim of f(x) into a [..., ] tensor of the compute type.
Value reduceLastDim(OpBuilder &b, Location loc, Value x, Type ct,
                    function_ref<Value(OpBuilder &, Location, Value)> f) {
  auto type = cast<RankedTensorType>(x.getType());
  unsigned rank = type.getRank();
  SmallVector<unsigned> lead;
  for (unsigned i = 0; i + 1 < rank; ++i)
    lead.push_back(i);
  MLIRContext *ctx = b.getContext();
  SmallVector<utils::IteratorType> iters(rank - 1, kParallel);
  iters.push_back(kReduction);
  Value init = filledTensor(b, loc, type.getShape().drop_back(), ct, 0.0);
  return buildGeneric(b, loc, init, {x}, {b.getMultiDimIdentityMap(rank)},
                      selectDims(ctx, rank, lead), iters,
                      [&](OpBuilder &nb, Location nl, ValueRange args) {
                        Value v = f(nb, nl, toCompute(nb, nl, args[0], ct));
                        return nb.create<arith::AddFOp>(nl, args[1], v)
                            .getResult();
                      });
}

//===----------------------------------------------------------------------===//
// Norms
//===----------------------------------------------------------------------===//

/// y = (x - mean) * rstd * w + b, with optional mean / w / b; `mean` and
/// `rstd` are [...] row statistics (mean may be null).
Value normalize(OpBuilder &b, Location loc, Value x, Value mean, Value rstd,
                Value weight, Value bias, Type ct) {
  auto type = cast<RankedTensorType>(x.getType());
  unsigned rank = type.getRank();
  MLIRContext *ctx = b.getContext();
  SmallVector<unsigned> lead;
  for (unsigned i = 0; i + 1 < rank; ++i)
    lead.push_back(i);
  AffineMap id = b.getMultiDimIdentityMap(rank);
  AffineMap leadMap = selectDims(ctx, rank, lead);
  AffineMap lastMap = selectDims(ctx, rank, {rank - 1});
  SmallVector<Value> inputs = {x, rstd};
  SmallVector<AffineMap> maps = {id, leadMap};
  int meanIdx = -1, wIdx = -1, bIdx = -1;
  if (mean) {
    meanIdx = inputs.size();
    inputs.push_back(mean);
    maps.push_back(leadMap);
  }
  if (weight) {
    wIdx = inputs.size();
    inputs.push_back(weight);
    maps.push_back(lastMap);
  }
  if (bias) {
    bIdx = inputs.size();
    inputs.push_back(bias);
    maps.push_back(lastMap);
  }
  Type elt = type.getElementType();
  Value init = emptyTensor(b, loc, type.getShape(), elt);
  SmallVector<utils::IteratorType> iters(rank, kParallel);
  return buildGeneric(
      b, loc, init, inputs, maps, id, iters,
      [&](OpBuilder &nb, Location nl, ValueRange a) {
        Value v = toCompute(nb, nl, a[0], ct);
        if (meanIdx >= 0)
          v = nb.create<arith::SubFOp>(nl, v, a[meanIdx]);
        v = nb.create<arith::MulFOp>(nl, v, a[1]);
        if (wIdx >= 0)
          v = nb.create<arith::MulFOp>(nl, v, toCompute(nb, nl, a[wIdx], ct));
        if (bIdx >= 0)
          v = nb.create<arith::AddFOp>(nl, v, toCompute(nb, nl, a[bIdx], ct));
        return fromCompute(nb, nl, v, elt);
      });
}

/// Multiplies every element of a stats tensor by `factor`; with `eps`, the
/// reciprocal square root of that plus eps (once per row, not per element).
Value scaleStats(OpBuilder &b, Location loc, Value stats, double factor,
                 std::optional<double> eps = std::nullopt) {
  auto type = cast<RankedTensorType>(stats.getType());
  unsigned rank = type.getRank();
  AffineMap id = b.getMultiDimIdentityMap(rank);
  SmallVector<utils::IteratorType> iters(rank, kParallel);
  Value init = emptyTensor(b, loc, type.getShape(), type.getElementType());
  return buildGeneric(b, loc, init, {stats}, {id}, id, iters,
                      [&](OpBuilder &nb, Location nl, ValueRange a) {
                        Type ct = type.getElementType();
                        Value v = nb.create<arith::MulFOp>(
                            nl, a[0], floatConst(nb, nl, ct, factor));
                        if (!eps)
                          return v;
                        return nb
                            .create<arith::DivFOp>(
                                nl, floatConst(nb, nl, ct, 1.0),
                                nb.create<math::SqrtOp>(
                                    nl, nb.create<arith::AddFOp>(
                                            nl, v,
                                            floatConst(nb, nl, ct, *eps))))
                            .getResult();
                      });
}

struct RmsNormLowering : StaticPattern<RmsNormOp> {
  using StaticPattern::StaticPattern;
  LogicalResult lower(RmsNormOp op, PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    auto type = op.getInput().getType();
    Type ct = computeType(type.getElementType());
    Value sumsq = reduceLastDim(rewriter, loc, op.getInput(), ct,
                                [](OpBuilder &b, Location l, Value v) {
                                  return b.create<arith::MulFOp>(l, v, v)
                                      .getResult();
                                });
    Value rstd = scaleStats(rewriter, loc, sumsq, 1.0 / type.getShape().back(),
                            op.getEpsilon().convertToDouble());
    rewriter.replaceOp(op, normalize(rewriter, loc, op.getInput(), Value(),
                                     rstd, op.getWeight(), Value(), ct));
    return success();
  }
};

struct LayerNormLowering : StaticPattern<LayerNormOp> {
  using StaticPattern::StaticPattern;
  LogicalResult lower(LayerNormOp op,
                      PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    auto type = op.getInput().getType();
    Type ct = computeType(type.getElementType());
    unsigned rank = type.getRank();
    double invD = 1.0 / type.getShape().back();
    Value sum = reduceLastDim(rewriter, loc, op.getInput(), ct,
                              [](OpBuilder &, Location, Value v) { return v; });
    Value mean = scaleStats(rewriter, loc, sum, invD);
    // Biased variance: mean((x - mean)^2), two-pass for accuracy.
    SmallVector<unsigned> lead;
    for (unsigned i = 0; i + 1 < rank; ++i)
      lead.push_back(i);
    AffineMap leadMap = selectDims(getContext(), rank, lead);
    SmallVector<utils::IteratorType> iters(rank - 1, kParallel);
    iters.push_back(kReduction);
    Value init = filledTensor(rewriter, loc, type.getShape().drop_back(), ct, 0);
    Value sq = buildGeneric(
        rewriter, loc, init, {op.getInput(), mean},
        {rewriter.getMultiDimIdentityMap(rank), leadMap}, leadMap, iters,
        [&](OpBuilder &b, Location l, ValueRange a) {
          Value d = b.create<arith::SubFOp>(l, toCompute(b, l, a[0], ct), a[1]);
          return b
              .create<arith::AddFOp>(l, a[2], b.create<arith::MulFOp>(l, d, d))
              .getResult();
        });
    Value rstd =
        scaleStats(rewriter, loc, sq, invD, op.getEpsilon().convertToDouble());
    rewriter.replaceOp(op, normalize(rewriter, loc, op.getInput(), mean, rstd,
                                     op.getWeight(), op.getBias(), ct));
    return success();
  }
};

//===----------------------------------------------------------------------===//
// Embedding / linear / FFN
//===----------------------------------------------------------------------===//

/// A loop over the ids copying one table row per id (buildRowGather),
/// straight into the result's shape.
struct EmbeddingLowering : StaticPattern<EmbeddingOp> {
  using StaticPattern::StaticPattern;
  LogicalResult lower(EmbeddingOp op,
                      PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    auto outType = op.getType();
    Value table = op.getTable(), ids = op.getIds();
    ArrayRef<int64_t> idsShape =
        cast<RankedTensorType>(ids.getType()).getShape();
    int64_t n = 1;
    for (int64_t e : idsShape)
      n *= e;
    Value rows = buildRowGather(
        rewriter, loc, table,
        emptyTensor(rewriter, loc, outType.getShape(),
                    outType.getElementType()),
        Value(), n, [&](OpBuilder &b, Location l, Value r) {
          // Row-major position of id r.
          SmallVector<Value> idx(idsShape.size());
          for (int64_t i = static_cast<int64_t>(idsShape.size()) - 1; i >= 0;
               --i) {
            Value extent = indexConst(b, l, idsShape[i]);
            idx[i] = i == 0 ? r : b.create<arith::RemUIOp>(l, r, extent);
            if (i > 0)
              r = b.create<arith::DivUIOp>(l, r, extent);
          }
          return RowGatherRow{b.create<tensor::ExtractOp>(l, ids, idx), idx,
                              Value(), Value()};
        });
    rewriter.replaceOp(op, rows);
    return success();
  }
};

/// y += bias[last] over a [M, O] matrix.
Value addBias(OpBuilder &b, Location loc, Value m, Value bias) {
  auto type = cast<RankedTensorType>(m.getType());
  MLIRContext *ctx = b.getContext();
  AffineMap id = b.getMultiDimIdentityMap(2);
  Value init = emptyTensor(b, loc, type.getShape(), type.getElementType());
  return buildGeneric(b, loc, init, {m, bias}, {id, selectDims(ctx, 2, {1})},
                      id, {kParallel, kParallel},
                      [](OpBuilder &nb, Location nl, ValueRange a) {
                        return nb.create<arith::AddFOp>(nl, a[0], a[1])
                            .getResult();
                      });
}

/// Matmul-class ops accumulate in f32 for bf16/f16 operands and round
/// once, at the end, to the result type.
struct LinearLowering : StaticPattern<LinearOp> {
  using StaticPattern::StaticPattern;
  LogicalResult lower(LinearOp op, PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Type elt = op.getType().getElementType();
    Type acc = computeType(elt);
    Value x2 = collapseToMatrix(rewriter, loc, op.getInput());
    Value y = buildMatmul(rewriter, loc, x2, op.getWeight(),
                          op.getTransposeWeight(), acc);
    if (Value bias = op.getBias())
      y = addBias(rewriter, loc, y,
                  convertElements(rewriter, loc, bias, acc));
    y = convertElements(rewriter, loc, y, elt);
    rewriter.replaceOp(op,
                       expandFromMatrix(rewriter, loc, y,
                                        op.getType().getShape()));
    return success();
  }
};

/// The FFN activation applied elementwise to `h` (and the gate `g`).
Value activate(OpBuilder &b, Location loc, Activation act, Value h, Value g) {
  auto type = cast<RankedTensorType>(h.getType());
  unsigned rank = type.getRank();
  Type elt = type.getElementType();
  Type ct = computeType(elt);
  AffineMap id = b.getMultiDimIdentityMap(rank);
  SmallVector<Value> inputs = {h};
  if (g)
    inputs.push_back(g);
  SmallVector<AffineMap> maps(inputs.size(), id);
  SmallVector<utils::IteratorType> iters(rank, kParallel);
  Value init = emptyTensor(b, loc, type.getShape(), elt);
  return buildGeneric(
      b, loc, init, inputs, maps, id, iters,
      [&](OpBuilder &nb, Location nl, ValueRange a) -> Value {
        Value x = toCompute(nb, nl, a[0], ct);
        Value y;
        switch (act) {
        case Activation::relu:
          y = nb.create<arith::MaximumFOp>(nl, x, floatConst(nb, nl, ct, 0));
          break;
        case Activation::gelu: {
          // 0.5 x (1 + erf(x / sqrt(2))).
          Value e = nb.create<math::ErfOp>(
              nl, nb.create<arith::MulFOp>(
                      nl, x, floatConst(nb, nl, ct, 1.0 / std::sqrt(2.0))));
          Value one = floatConst(nb, nl, ct, 1.0);
          y = nb.create<arith::MulFOp>(
              nl, nb.create<arith::MulFOp>(nl, x, floatConst(nb, nl, ct, 0.5)),
              nb.create<arith::AddFOp>(nl, one, e));
          break;
        }
        case Activation::swiglu: {
          // silu(g) * h = g / (1 + exp(-g)) * h.
          Value gv = toCompute(nb, nl, a[1], ct);
          Value one = floatConst(nb, nl, ct, 1.0);
          Value sig = nb.create<arith::DivFOp>(
              nl, one,
              nb.create<arith::AddFOp>(
                  nl, one,
                  nb.create<math::ExpOp>(nl,
                                         nb.create<arith::NegFOp>(nl, gv))));
          y = nb.create<arith::MulFOp>(
              nl, nb.create<arith::MulFOp>(nl, gv, sig), x);
          break;
        }
        }
        return fromCompute(nb, nl, y, elt);
      });
}

struct FfnLowering : StaticPattern<FfnOp> {
  using StaticPattern::StaticPattern;
  LogicalResult lower(FfnOp op, PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    bool grouped = op.getWIn().getType().getRank() == 3;
    Value x = grouped ? op.getInput()
                      : collapseToMatrix(rewriter, loc, op.getInput());
    // Hidden activations stay in f32 for bf16/f16 models: one rounding at
    // the end.
    Type elt = op.getType().getElementType();
    Type acc = computeType(elt);
    Value h = buildMatmul(rewriter, loc, x, op.getWIn(), false, acc);
    Value g;
    if (Value wGate = op.getWGate())
      g = buildMatmul(rewriter, loc, x, wGate, false, acc);
    Value a = activate(rewriter, loc, op.getActivation(), h, g);
    Value y = convertElements(
        rewriter, loc, buildMatmul(rewriter, loc, a, op.getWOut(), false, acc),
        elt);
    if (!grouped)
      y = expandFromMatrix(rewriter, loc, y, op.getType().getShape());
    rewriter.replaceOp(op, y);
    return success();
  }
};

//===----------------------------------------------------------------------===//
// RoPE
//===----------------------------------------------------------------------===//

/// lctx.rope: the shared buildRope (cos/sin tables per position, then one
/// rotation pass).
struct RopeLowering : StaticPattern<RopeOp> {
  using StaticPattern::StaticPattern;
  LogicalResult lower(RopeOp op, PatternRewriter &rewriter) const override {
    rewriter.replaceOp(op, buildRope(rewriter, op.getLoc(), op.getInput(),
                                     op.getPositions(),
                                     op.getTheta().convertToDouble(),
                                     std::nullopt));
    return success();
  }
};

} // namespace

void lowering::populateCommonOpsPatterns(RewritePatternSet &patterns) {
  // clang-format off
  patterns.add<
      EmbeddingLowering,
      FfnLowering,
      LayerNormLowering,
      LinearLowering,
      RmsNormLowering,
      RopeLowering
  >(patterns.getContext());
  // clang-format on
}
