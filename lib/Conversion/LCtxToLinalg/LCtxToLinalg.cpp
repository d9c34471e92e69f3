//===- LCtxToLinalg.cpp - Lower lctx ops to linalg on tensors -------------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#include "lctx/Conversion/LCtxToLinalg/LCtxToLinalg.h"

#include "Patterns.h"
#include "lctx/Dialect/LCtx/IR/LCtxDialect.h"
#include "lctx/Dialect/LCtx/IR/LCtxOps.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::lctx {
#define GEN_PASS_DEF_CONVERTLCTXTOLINALGPASS
#include "lctx/Conversion/Passes.h.inc"
} // namespace mlir::lctx

using namespace mlir;
using namespace mlir::lctx;

void lctx::populateLCtxToLinalgPatterns(RewritePatternSet &patterns,
                                        int64_t attentionTile) {
  lowering::populateAttentionPatterns(patterns, attentionTile);
  lowering::populateCemaOpsPatterns(patterns);
  lowering::populateCommonOpsPatterns(patterns);
  lowering::populateMemoryOpsPatterns(patterns);
  lowering::populatePatchOpsPatterns(patterns);
  lowering::populateRouteOpsPatterns(patterns);
}

namespace {
struct ConvertLCtxToLinalgPass
    : lctx::impl::ConvertLCtxToLinalgPassBase<ConvertLCtxToLinalgPass> {
  using Base::Base;
  void runOnOperation() override {
    if (attentionTile < -1) {
      getOperation()->emitError()
          << "convert-lctx-to-linalg: attention-tile must be >= -1, got "
          << attentionTile;
      return signalPassFailure();
    }
    RewritePatternSet patterns(&getContext());
    populateLCtxToLinalgPatterns(patterns, attentionTile);
    if (failed(applyPatternsAndFoldGreedily(getOperation(),
                                            std::move(patterns))))
      return signalPassFailure();
    // Every lctx op must be gone; name the first one that is not.
    WalkResult left = getOperation()->walk([](Operation *op) {
      if (isa<RouteMoeOp>(op)) {
        op->emitError() << "convert-lctx-to-linalg: composite op '"
                        << op->getName()
                        << "' must be decomposed first (lctx-decompose)";
        return WalkResult::interrupt();
      }
      if (isa<LCtxDialect>(op->getDialect())) {
        op->emitError() << "convert-lctx-to-linalg: no CPU lowering yet for '"
                        << op->getName() << "'"
                        << (op->getNumResults() &&
                                    isa<RankedTensorType>(
                                        op->getResult(0).getType()) &&
                                    !cast<RankedTensorType>(
                                         op->getResult(0).getType())
                                         .hasStaticShape()
                                ? " with dynamic shapes"
                                : "");
        return WalkResult::interrupt();
      }
      return WalkResult::advance();
    });
    if (left.wasInterrupted())
      signalPassFailure();
  }
};
} // namespace
