//===- LCtxToLinalg.h - Lower lctx ops to linalg on tensors -----*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#ifndef LCTX_CONVERSION_LCTXTOLINALG_LCTXTOLINALG_H
#define LCTX_CONVERSION_LCTXTOLINALG_LCTXTOLINALG_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Complex/IR/Complex.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Pass/Pass.h"

namespace mlir {
class RewritePatternSet;

namespace lctx {

#define GEN_PASS_DECL_CONVERTLCTXTOLINALGPASS
#include "lctx/Conversion/Passes.h.inc"

/// Populates `patterns` with the lowering of every lctx op that has one.
/// `attentionTile`: lctx.attention's flash tile (0: whole sequences).
void populateLCtxToLinalgPatterns(RewritePatternSet &patterns,
                                  int64_t attentionTile = 64);

} // namespace lctx
} // namespace mlir

#endif // LCTX_CONVERSION_LCTXTOLINALG_LCTXTOLINALG_H
