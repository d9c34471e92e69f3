//===- Decompose.cpp - Composite lctx ops into primitive lctx ops ---------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// The math of each composite op is in its ODS description; this file emits
// exactly that composition.
//
//===----------------------------------------------------------------------===//

#include "lctx/Dialect/LCtx/Transforms/Passes.h"

#include "lctx/Dialect/LCtx/IR/LCtxOps.h"
#include "lctx/Dialect/LCtx/IR/ShapeUtils.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/IR/PatternMatch.h"
#include "llvm/ADT/StringSet.h"

namespace mlir::lctx {
#define GEN_PASS_DEF_LCTXDECOMPOSEPASS
#include "lctx/Dialect/LCtx/Transforms/Passes.h.inc"
} // namespace mlir::lctx

using namespace mlir;
using namespace mlir::lctx;

//===----------------------------------------------------------------------===//
// lctx.memory.attention
//===----------------------------------------------------------------------===//

namespace {
/// Emits one Infini-attention segment [offset, offset + size) of the
/// sequence dim (dim 2) and returns (output accumulator, M, z) after it.
struct SegmentEmitter {
  MemoryAttentionOp op;
  SmallVector<OpFoldResult> qSizes, vSizes;

  SmallVector<Value> emit(OpBuilder &b, Location loc, OpFoldResult offset,
                          OpFoldResult size, Value acc, Value memory,
                          Value norm) {
    OpFoldResult zero = b.getIndexAttr(0), one = b.getIndexAttr(1);
    SmallVector<OpFoldResult> offsets = {zero, zero, offset, zero};
    SmallVector<OpFoldResult> strides(4, one);
    auto slice = [&](Value src, ArrayRef<OpFoldResult> full) -> Value {
      SmallVector<OpFoldResult> sizes = {full[0], full[1], size, full[3]};
      return b.create<tensor::ExtractSliceOp>(loc, src, offsets, sizes,
                                              strides);
    };
    Value qs = slice(op.getQuery(), qSizes);
    Value ks = slice(op.getKey(), qSizes);
    Value vs = slice(op.getValue(), vSizes);

    Value dot = b.create<AttentionOp>(
        loc, qs, ks, vs, /*q_positions=*/Value(), /*k_positions=*/Value(),
        b.getBoolAttr(true), /*chunk_size=*/IntegerAttr(), op.getScaleAttr(),
        op.getRopeThetaAttr());
    Value mem = b.create<MemoryRetrieveOp>(loc, qs, memory, norm);
    Value gated = b.create<MemoryGateOp>(loc, mem, dot, op.getBeta());
    auto update = b.create<MemoryUpdateOp>(loc, op.getRuleAttr(), ks, vs,
                                           memory, norm);

    SmallVector<OpFoldResult> outSizes = {vSizes[0], vSizes[1], size,
                                          vSizes[3]};
    Value inserted = b.create<tensor::InsertSliceOp>(loc, gated, acc, offsets,
                                                     outSizes, strides);
    return {inserted, update.getNewMemory(), update.getNewNorm()};
  }
};
} // namespace

static LogicalResult decomposeMemoryAttention(RewriterBase &rewriter,
                                              MemoryAttentionOp op) {
  Location loc = op.getLoc();
  OpBuilder::InsertionGuard guard(rewriter);
  rewriter.setInsertionPoint(op);

  SegmentEmitter seg{op, tensor::getMixedSizes(rewriter, loc, op.getQuery()),
                     tensor::getMixedSizes(rewriter, loc, op.getValue())};
  SmallVector<OpFoldResult> outSizes = {seg.qSizes[0], seg.qSizes[1],
                                        seg.qSizes[2], seg.vSizes[3]};
  Value init = rewriter.create<tensor::EmptyOp>(
      loc, outSizes, getElementTypeOrSelf(op.getResult().getType()));

  int64_t n = op.getSegmentSizeAttr().getInt();
  int64_t t = op.getQuery().getType().getDimSize(2);
  Value segSize = rewriter.create<arith::ConstantIndexOp>(loc, n);
  Value c0 = rewriter.create<arith::ConstantIndexOp>(loc, 0);
  Value c1 = rewriter.create<arith::ConstantIndexOp>(loc, 1);

  SmallVector<Value> state = {init, op.getMemory(), op.getNorm()};
  auto emitLoop = [&](Value numSegments, bool dynamicTail) {
    auto loop = rewriter.create<scf::ForOp>(
        loc, c0, numSegments, c1, state,
        [&](OpBuilder &b, Location l, Value iv, ValueRange args) {
          Value offset = b.create<arith::MulIOp>(l, iv, segSize);
          OpFoldResult size = b.getIndexAttr(n);
          if (dynamicTail) {
            // The last segment may be short: min(N, T - offset).
            Value rest = b.create<arith::SubIOp>(
                l, getValueOrCreateConstantIndexOp(b, l, seg.qSizes[2]),
                offset);
            size = b.create<arith::MinSIOp>(l, segSize, rest).getResult();
          }
          b.create<scf::YieldOp>(
              l, seg.emit(b, l, offset, size, args[0], args[1], args[2]));
        });
    state.assign(loop.getResults().begin(), loop.getResults().end());
  };

  if (ShapedType::isDynamic(t)) {
    Value length = getValueOrCreateConstantIndexOp(rewriter, loc,
                                                   seg.qSizes[2]);
    Value count = rewriter.create<arith::CeilDivUIOp>(loc, length, segSize);
    emitLoop(count, /*dynamicTail=*/true);
  } else {
    int64_t full = t / n, tail = t % n;
    if (full > 0)
      emitLoop(rewriter.create<arith::ConstantIndexOp>(loc, full),
               /*dynamicTail=*/false);
    if (tail > 0)
      state = seg.emit(rewriter, loc, rewriter.getIndexAttr(full * n),
                       rewriter.getIndexAttr(tail), state[0], state[1],
                       state[2]);
  }
  rewriter.replaceOp(op, state);
  return success();
}

//===----------------------------------------------------------------------===//
// lctx.route.moe
//===----------------------------------------------------------------------===//

static LogicalResult decomposeRouteMoe(RewriterBase &rewriter, RouteMoeOp op) {
  auto xType = op.getInput().getType();
  int64_t batch = xType.getDimSize(0), tokens = xType.getDimSize(1);
  if (ShapedType::isDynamic(batch) || ShapedType::isDynamic(tokens))
    return rewriter.notifyMatchFailure(
        op, "the expert buffer size needs a static batch and token count");

  Location loc = op.getLoc();
  OpBuilder::InsertionGuard guard(rewriter);
  rewriter.setInsertionPoint(op);
  auto route = rewriter.create<RouteExpertsOp>(
      loc, op.getInput(), op.getRouter(), op.getCapacityFactorAttr(),
      op.getDroplessAttr(), op.getAuxLossCoefAttr());
  int64_t experts = route.getNumExperts();
  int64_t capacity = route.getCapacity(tokens);
  auto bufType = RankedTensorType::get(
      {experts, mulDims(batch, capacity), xType.getDimSize(2)},
      xType.getElementType());
  Value buf = rewriter.create<RouteDispatchOp>(
      loc, bufType, op.getInput(), route.getExpert(), route.getSlot());
  Value expertOut = rewriter.create<FfnOp>(loc, op.getActivationAttr(), buf,
                                           op.getWIn(), op.getWOut(),
                                           op.getWGate());
  Value y = rewriter.create<RouteCombineOp>(loc, expertOut, route.getExpert(),
                                            route.getSlot(), route.getGate());
  rewriter.replaceOp(op, ValueRange{y, route.getAuxLoss()});
  return success();
}

//===----------------------------------------------------------------------===//
// Pass
//===----------------------------------------------------------------------===//

namespace {
struct LCtxDecomposePass
    : lctx::impl::LCtxDecomposePassBase<LCtxDecomposePass> {
  using LCtxDecomposePassBase::LCtxDecomposePassBase;

  void runOnOperation() override {
    llvm::StringSet<> selected;
    for (const std::string &name : ops) {
      if (name != "memory.attention" && name != "route.moe") {
        getOperation()->emitError()
            << "lctx-decompose: unknown op '" << name
            << "' in ops= (expected memory.attention or route.moe)";
        return signalPassFailure();
      }
      selected.insert(name);
    }
    auto wanted = [&](StringRef name) {
      return selected.empty() || selected.contains(name);
    };

    // A direct walk rather than a greedy driver: this pass rewrites exactly
    // the composite ops and folds nothing else.
    SmallVector<Operation *> work;
    getOperation()->walk([&](Operation *op) {
      if ((isa<MemoryAttentionOp>(op) && wanted("memory.attention")) ||
          (isa<RouteMoeOp>(op) && wanted("route.moe")))
        work.push_back(op);
    });
    IRRewriter rewriter(&getContext());
    for (Operation *op : work) {
      if (auto mem = dyn_cast<MemoryAttentionOp>(op)) {
        (void)decomposeMemoryAttention(rewriter, mem);
      } else if (auto moe = dyn_cast<RouteMoeOp>(op)) {
        if (failed(decomposeRouteMoe(rewriter, moe)))
          op->emitRemark("lctx-decompose: left lctx.route.moe fused: the "
                         "expert buffer size needs a static batch and token "
                         "count");
      }
    }
  }
};
} // namespace
