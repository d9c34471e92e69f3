//===- Pipelines.h - Named lctx pass pipelines ------------------*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// The one place where lctx's pass pipelines are assembled, so that lctx-opt,
// lctx-compile and the tests run the same code.
//
//===----------------------------------------------------------------------===//

#ifndef LCTX_PIPELINES_PIPELINES_H
#define LCTX_PIPELINES_PIPELINES_H

#include "mlir/Pass/PassOptions.h"

namespace mlir {
class OpPassManager;
} // namespace mlir

namespace mlir::lctx {

/// Options of the frontend pipeline.
struct FrontendPipelineOptions
    : public PassPipelineOptions<FrontendPipelineOptions> {
  PassOptions::Option<bool> decompose{
      *this, "decompose",
      llvm::cl::desc("Rewrite composite lctx ops into primitive ones"),
      llvm::cl::init(true)};
};

/// The model-level pipeline every target starts with: canonicalize, then
/// decompose composite ops (optional), then canonicalize and CSE again.
void buildFrontendPipeline(OpPassManager &pm,
                           const FrontendPipelineOptions &options);

/// Registers every named lctx pipeline with the global pass registry:
/// `lctx-frontend-pipeline`.
void registerLCtxPipelines();

} // namespace mlir::lctx

#endif // LCTX_PIPELINES_PIPELINES_H
