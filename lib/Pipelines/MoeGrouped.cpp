//===- MoeGrouped.cpp - Switch layers as a grouped expert FFN -------------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// `lctx-moe-grouped`: a Switch layer (lctx.route.moe) over many tokens runs
// each kept token through its own expert only, as a block-tiled grouped
// FFN, instead of the decomposed form (dispatch into E capacity buffers of
// C slots each, the FFN of every expert over all its C slots, combine),
// which for a dropless layer (C = S) computes E times the FLOPs of the
// tokens' own experts:
//
//   %e, %g, %slot, %aux = lctx.route.experts %x, %router
//   counts[e]   = #{kept tokens t : expert[t] = e}          (slot[t] >= 0)
//   blocks of R rows: expert e owns ceil(counts[e] / R) consecutive ones,
//     blockExpert[j] = e, rowStart[e] = R * (first block of e)
//   src[p]  = token t placed at row p (token order within an expert),
//             -1 for the padding rows of a block
//   dest[t] = the row of token t, -1 for a dropped token
//   grouped = lctx.route.gather x, src                       [NB * R, D]
//   out     = scf.forall j < #blocks:                      (thread pool)
//     rows  = grouped[j R : j R + R]
//     ffn   = lctx.ffn rows, w_in[e], w_out[e] (, w_gate[e]) e = blockExpert[j]
//     out[j R : j R + R] = ffn * gate of each row
//   y       = lctx.route.gather out, dest                    [B, S, D]
//
// A block's rows are a static R x D slice and the expert's weights a
// static slice at a dynamic offset, so both GEMMs of a block are static
// and reach lctx-cpu-contraction-codegen's register-tiled kernel (inside
// the forall they run sequentially, the blocks run in parallel). The
// padding of each expert's last block (fewer than R rows, zero inputs) is
// the only extra work: at most E (R - 1) rows over the B S tokens.
//
// Capacity: a token with slot -1 (over its expert's capacity in its
// sequence, as lctx.route.experts computes it) is in no block and its
// dest is -1, so the gather gives it an exact 0, as the op's semantics
// require; the kept tokens' outputs do not depend on the order of the
// rows. Every output element is a naive-order K sum of the same products
// as in the decomposed form.
//
// Only f32 layers with static shapes; layers that lctx-moe-tokenwise takes
// (a handful of tokens) are gone before this pass runs.
//
//===----------------------------------------------------------------------===//

#include "CPUCodegen.h"

#include "lctx/Dialect/LCtx/IR/LCtxDialect.h"
#include "lctx/Dialect/LCtx/IR/LCtxOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Pass/Pass.h"

using namespace mlir;

namespace {

/// ceil(a / b) for a >= 0, b > 0.
int64_t ceilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

struct MoeGroupedPass
    : PassWrapper<MoeGroupedPass, OperationPass<func::FuncOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(MoeGroupedPass)
  MoeGroupedPass() = default;
  MoeGroupedPass(const MoeGroupedPass &other) : PassWrapper(other) {}
  StringRef getArgument() const final { return "lctx-moe-grouped"; }
  StringRef getDescription() const final {
    return "Run Switch layers as a grouped FFN over the kept tokens, each "
           "on its own expert, in blocks of rows";
  }
  void getDependentDialects(DialectRegistry &registry) const override {
    registry.insert<scf::SCFDialect, tensor::TensorDialect,
                    arith::ArithDialect, linalg::LinalgDialect>();
  }

  Option<int64_t> blockRows{
      *this, "block-rows",
      llvm::cl::desc("Rows of a block (one expert's GEMMs); 0: chosen from "
                     "the tokens per expert"),
      llvm::cl::init(0)};

  /// Rows per block: a multiple of 6 (the AVX-512 and AVX2 register tile's
  /// rows) near a quarter of the mean tokens per expert, at most 24. Each
  /// block reads its expert's weights once; each expert pads its last
  /// block. Switch prefill, 1024 tokens, 8 experts [256, 512], 1 thread:
  /// 44.4 ms at 24 rows, 44.6 at 36, 45.2 at 48 (lctx-run, median of 3).
  int64_t rowsFor(int64_t tokens, int64_t experts) const {
    if (blockRows > 0)
      return blockRows;
    int64_t quarter = ceilDiv(tokens, 4 * experts);
    return std::clamp<int64_t>(ceilDiv(quarter, 6) * 6, 6, 24);
  }

  static bool isF32(Value v) {
    auto t = dyn_cast<RankedTensorType>(v.getType());
    return t && t.hasStaticShape() && t.getElementType().isF32();
  }

  void runOnOperation() override {
    SmallVector<lctx::RouteMoeOp> ops;
    getOperation().walk([&](lctx::RouteMoeOp op) {
      if (isF32(op.getInput()) && isF32(op.getRouter()) &&
          isF32(op.getWIn()) && isF32(op.getWOut()) &&
          (!op.getWGate() || isF32(op.getWGate())))
        ops.push_back(op);
    });
    for (lctx::RouteMoeOp op : ops)
      rewrite(op);
  }

  void rewrite(lctx::RouteMoeOp op) {
    OpBuilder b(op);
    Location loc = op.getLoc();
    auto xType = cast<RankedTensorType>(op.getInput().getType());
    int64_t bsz = xType.getDimSize(0), seq = xType.getDimSize(1);
    int64_t d = xType.getDimSize(2);
    auto w1Type = cast<RankedTensorType>(op.getWIn().getType());
    auto w2Type = cast<RankedTensorType>(op.getWOut().getType());
    int64_t experts = w1Type.getDimSize(0);
    int64_t dOut = w2Type.getDimSize(2);
    int64_t tokens = bsz * seq;
    int64_t rows = rowsFor(tokens, experts);
    // Each expert's blocks but its last are full: at most
    // ceil(T / R) + E - 1 blocks, and never more than one per token.
    int64_t maxBlocks =
        std::max<int64_t>(1, std::min(ceilDiv(tokens, rows) + experts - 1,
                                      tokens));
    int64_t padded = maxBlocks * rows;
    Type f32 = b.getF32Type(), i32 = b.getI32Type(), i64 = b.getI64Type();
    Type idxT = b.getIndexType();

    auto cIdx = [&](OpBuilder &nb, int64_t v) -> Value {
      return nb.create<arith::ConstantIndexOp>(loc, v);
    };
    auto attrs = [&](OpBuilder &nb, ArrayRef<int64_t> v) {
      SmallVector<OpFoldResult> r;
      for (int64_t i : v)
        r.push_back(nb.getIndexAttr(i));
      return r;
    };
    auto filled = [&](OpBuilder &nb, ArrayRef<int64_t> shape, Type elt,
                      TypedAttr value) -> Value {
      Value empty = nb.create<tensor::EmptyOp>(loc, shape, elt);
      Value v = nb.create<arith::ConstantOp>(loc, value);
      return nb.create<linalg::FillOp>(loc, v, empty).getResult(0);
    };
    // scf.for over [lo, hi) carrying `init`.
    using Body =
        function_ref<SmallVector<Value>(OpBuilder &, Value, ValueRange)>;
    auto loop = [&](OpBuilder &nb, Value lo, Value hi, ValueRange init,
                    Body body) {
      auto forOp = nb.create<scf::ForOp>(
          loc, lo, hi, cIdx(nb, 1), init,
          [&](OpBuilder &lb, Location, Value iv, ValueRange args) {
            lb.create<scf::YieldOp>(loc, body(lb, iv, args));
          });
      return SmallVector<Value>(forOp.getResults());
    };
    // Token t of the flattened B x S: its (b, s) indices.
    auto tokenAt = [&](OpBuilder &nb, Value t) -> SmallVector<Value, 2> {
      Value sC = cIdx(nb, seq);
      return {nb.create<arith::DivUIOp>(loc, t, sC),
              nb.create<arith::RemUIOp>(loc, t, sC)};
    };

    auto route = b.create<lctx::RouteExpertsOp>(
        loc, op.getInput(), op.getRouter(), op.getCapacityFactorAttr(),
        op.getDroplessAttr(), op.getAuxLossCoefAttr());
    Value expert = route.getExpert(), slot = route.getSlot(),
          gate = route.getGate();
    // (expert index, kept) of token t.
    auto expertOf = [&](OpBuilder &nb, Value t) -> std::pair<Value, Value> {
      SmallVector<Value, 2> at = tokenAt(nb, t);
      Value e = nb.create<arith::IndexCastOp>(
          loc, idxT, nb.create<tensor::ExtractOp>(loc, expert, at));
      Value kept = nb.create<arith::CmpIOp>(
          loc, arith::CmpIPredicate::sge,
          nb.create<tensor::ExtractOp>(loc, slot, at),
          nb.create<arith::ConstantIntOp>(loc, 0, 32));
      return {e, kept};
    };

    // Kept tokens per expert.
    Value zeroIdx = cIdx(b, 0);
    Value counts = filled(b, {experts}, idxT, b.getIndexAttr(0));
    counts = loop(b, zeroIdx, cIdx(b, tokens), {counts},
                  [&](OpBuilder &nb, Value t, ValueRange a) {
                    Value e, kept;
                    std::tie(e, kept) = expertOf(nb, t);
                    Value c = nb.create<tensor::ExtractOp>(loc, a[0], e);
                    Value inc = nb.create<arith::SelectOp>(
                        loc, kept, cIdx(nb, 1), cIdx(nb, 0));
                    return SmallVector<Value>{nb.create<tensor::InsertOp>(
                        loc, nb.create<arith::AddIOp>(loc, c, inc), a[0], e)};
                  })[0];

    // Block layout: expert e's blocks [first, first + ceil(n / R)), its
    // first row R * first; blocks past the last one stay -1.
    Value rowsC = cIdx(b, rows);
    Value blockExpert = filled(b, {maxBlocks}, i32, b.getI32IntegerAttr(-1));
    Value rowStart = b.create<tensor::EmptyOp>(
        loc, ArrayRef<int64_t>{experts}, idxT);
    SmallVector<Value> layout = loop(
        b, zeroIdx, cIdx(b, experts), {blockExpert, rowStart, zeroIdx},
        [&](OpBuilder &nb, Value e, ValueRange a) {
          Value n = nb.create<tensor::ExtractOp>(loc, counts, e);
          Value nBlocks = nb.create<arith::CeilDivUIOp>(loc, n, rowsC);
          Value first = a[2];
          Value start = nb.create<tensor::InsertOp>(
              loc, nb.create<arith::MulIOp>(loc, first, rowsC), a[1], e);
          Value end = nb.create<arith::AddIOp>(loc, first, nBlocks);
          Value eI32 = nb.create<arith::IndexCastOp>(loc, i32, e);
          Value owners = loop(nb, first, end, {a[0]},
                              [&](OpBuilder &lb, Value j, ValueRange la) {
                                return SmallVector<Value>{
                                    lb.create<tensor::InsertOp>(loc, eI32,
                                                                la[0], j)};
                              })[0];
          return SmallVector<Value>{owners, start, end};
        });
    blockExpert = layout[0];
    rowStart = layout[1];
    Value numBlocks = layout[2];

    // Rows of the kept tokens, in token order within each expert: src
    // (row -> token, -1 for padding), dest (token -> row, -1 if dropped),
    // and the gate of each row.
    Value src = filled(b, {1, padded}, i64, b.getI64IntegerAttr(-1));
    Value dest = b.create<tensor::EmptyOp>(
        loc, ArrayRef<int64_t>{1, tokens}, i64);
    Value rowGate = filled(b, {padded}, f32, b.getF32FloatAttr(0.0f));
    SmallVector<Value> placed = loop(
        b, zeroIdx, cIdx(b, tokens), {src, dest, rowGate, rowStart},
        [&](OpBuilder &nb, Value t, ValueRange a) {
          Value e, kept;
          std::tie(e, kept) = expertOf(nb, t);
          Value row = nb.create<tensor::ExtractOp>(loc, a[3], e);
          Value rowI64 = nb.create<arith::IndexCastOp>(loc, i64, row);
          Value none = nb.create<arith::ConstantIntOp>(loc, -1, 64);
          Value destNew = nb.create<tensor::InsertOp>(
              loc, nb.create<arith::SelectOp>(loc, kept, rowI64, none), a[1],
              ValueRange{cIdx(nb, 0), t});
          auto ifOp = nb.create<scf::IfOp>(
              loc, kept,
              [&](OpBuilder &tb, Location) {
                Value tI64 = tb.create<arith::IndexCastOp>(loc, i64, t);
                Value s2 = tb.create<tensor::InsertOp>(
                    loc, tI64, a[0], ValueRange{cIdx(tb, 0), row});
                Value g = tb.create<tensor::ExtractOp>(loc, gate,
                                                       tokenAt(tb, t));
                Value g2 = tb.create<tensor::InsertOp>(loc, g, a[2], row);
                Value c2 = tb.create<tensor::InsertOp>(
                    loc, tb.create<arith::AddIOp>(loc, row, cIdx(tb, 1)),
                    a[3], e);
                tb.create<scf::YieldOp>(loc, ValueRange{s2, g2, c2});
              },
              [&](OpBuilder &eb, Location) {
                eb.create<scf::YieldOp>(loc, ValueRange{a[0], a[2], a[3]});
              });
          return SmallVector<Value>{ifOp.getResult(0), destNew,
                                    ifOp.getResult(1), ifOp.getResult(2)};
        });
    src = placed[0];
    dest = placed[1];
    rowGate = placed[2];

    // Token rows [1, T, D] gathered into expert order [1, NB R, D].
    Value xFlat = op.getInput();
    if (bsz != 1) {
      xFlat = b.create<tensor::CollapseShapeOp>(
          loc, RankedTensorType::get({tokens, d}, f32), xFlat,
          ArrayRef<ReassociationIndices>{{0, 1}, {2}});
      xFlat = b.create<tensor::ExpandShapeOp>(
          loc, RankedTensorType::get({1, tokens, d}, f32), xFlat,
          ArrayRef<ReassociationIndices>{{0, 1}, {2}});
    }
    Value grouped = b.create<lctx::RouteGatherOp>(
        loc, RankedTensorType::get({1, padded, d}, f32), xFlat, src);
    grouped = b.create<tensor::CollapseShapeOp>(
        loc, RankedTensorType::get({padded, d}, f32), grouped,
        ArrayRef<ReassociationIndices>{{0, 1}, {2}});

    // One block of R rows per iteration, on its expert's weights.
    Value outInit = b.create<tensor::EmptyOp>(
        loc, ArrayRef<int64_t>{padded, dOut}, f32);
    auto forall = b.create<scf::ForallOp>(
        loc, ArrayRef<OpFoldResult>{numBlocks}, ValueRange{outInit},
        std::nullopt, [&](OpBuilder &fb, Location, ValueRange args) {
          Value j = args[0];
          Value e = fb.create<arith::IndexCastOp>(
              loc, idxT, fb.create<tensor::ExtractOp>(loc, blockExpert, j));
          Value r0 = fb.create<arith::MulIOp>(loc, j, rowsC);
          SmallVector<OpFoldResult> offs = {r0, fb.getIndexAttr(0)};
          Value x = fb.create<tensor::ExtractSliceOp>(
              loc, RankedTensorType::get({rows, d}, f32), grouped, offs,
              attrs(fb, {rows, d}), attrs(fb, {1, 1}));
          Value y = buildExpertFfn(fb, loc, op, e, x);
          // Scale each row by its token's gate.
          Value g = fb.create<tensor::ExtractSliceOp>(
              loc, RankedTensorType::get({rows}, f32), rowGate,
              ArrayRef<OpFoldResult>{r0}, attrs(fb, {rows}), attrs(fb, {1}));
          MLIRContext *ctx = fb.getContext();
          AffineMap id2 = fb.getMultiDimIdentityMap(2);
          AffineMap rowMap =
              AffineMap::get(2, 0, {getAffineDimExpr(0, ctx)}, ctx);
          Value scaled =
              fb.create<linalg::GenericOp>(
                    loc, y.getType(), ValueRange{y, g},
                    ValueRange{fb.create<tensor::EmptyOp>(
                        loc, ArrayRef<int64_t>{rows, dOut}, f32)},
                    ArrayRef<AffineMap>{id2, rowMap, id2},
                    ArrayRef<utils::IteratorType>{
                        utils::IteratorType::parallel,
                        utils::IteratorType::parallel},
                    [&](OpBuilder &gb, Location, ValueRange v) {
                      gb.create<linalg::YieldOp>(
                          loc, ValueRange{gb.create<arith::MulFOp>(
                                   loc, v[0], v[1])});
                    })
                  .getResult(0);
          auto terminator = fb.create<scf::InParallelOp>(loc);
          OpBuilder::InsertionGuard guard(fb);
          fb.setInsertionPointToStart(terminator.getBody());
          fb.create<tensor::ParallelInsertSliceOp>(
              loc, scaled, args[1], offs, attrs(fb, {rows, dOut}),
              attrs(fb, {1, 1}));
        });

    // Back to token order; a dropped token (dest -1) gets a zero row.
    Value out = b.create<tensor::ExpandShapeOp>(
        loc, RankedTensorType::get({1, padded, dOut}, f32),
        forall.getResult(0), ArrayRef<ReassociationIndices>{{0, 1}, {2}});
    Value y = b.create<lctx::RouteGatherOp>(
        loc, RankedTensorType::get({1, tokens, dOut}, f32), out, dest);
    if (bsz != 1) {
      y = b.create<tensor::CollapseShapeOp>(
          loc, RankedTensorType::get({tokens, dOut}, f32), y,
          ArrayRef<ReassociationIndices>{{0, 1}, {2}});
      y = b.create<tensor::ExpandShapeOp>(
          loc, RankedTensorType::get({bsz, seq, dOut}, f32), y,
          ArrayRef<ReassociationIndices>{{0, 1}, {2}});
    }
    op.getResult().replaceAllUsesWith(y);
    op.getAuxLoss().replaceAllUsesWith(route.getAuxLoss());
    op->erase();
  }
};

} // namespace

Value mlir::lctx::buildExpertFfn(OpBuilder &b, Location loc, RouteMoeOp op,
                                 Value expert, Value x) {
  Type f32 = b.getF32Type();
  auto slice = [&](Value w) -> Value {
    auto type = cast<RankedTensorType>(w.getType());
    int64_t rows = type.getDimSize(1), cols = type.getDimSize(2);
    SmallVector<OpFoldResult> offsets = {expert, b.getIndexAttr(0),
                                         b.getIndexAttr(0)};
    SmallVector<OpFoldResult> sizes = {b.getIndexAttr(1),
                                       b.getIndexAttr(rows),
                                       b.getIndexAttr(cols)};
    SmallVector<OpFoldResult> strides(3, b.getIndexAttr(1));
    return b.create<tensor::ExtractSliceOp>(
        loc, RankedTensorType::get({rows, cols}, f32), w, offsets, sizes,
        strides);
  };
  Value wg = op.getWGate() ? slice(op.getWGate()) : Value();
  return b.create<FfnOp>(loc, op.getActivationAttr(), x, slice(op.getWIn()),
                         slice(op.getWOut()), wg);
}

std::unique_ptr<Pass> mlir::lctx::createMoeGroupedPass() {
  return std::make_unique<MoeGroupedPass>();
}

void mlir::lctx::registerMoeGroupedPass() { PassRegistration<MoeGroupedPass>(); }
