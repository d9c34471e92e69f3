//===- Pipelines.cpp - Named lctx pass pipelines --------------------------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#include "lctx/Pipelines/Pipelines.h"

#include "lctx/Dialect/LCtx/Transforms/Passes.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;

void lctx::buildFrontendPipeline(OpPassManager &pm,
                                 const FrontendPipelineOptions &options) {
  pm.addPass(createCanonicalizerPass());
  if (options.decompose)
    pm.addPass(createLCtxDecomposePass());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
}

void lctx::registerLCtxPipelines() {
  PassPipelineRegistration<FrontendPipelineOptions>(
      "lctx-frontend-pipeline",
      "Model-level lctx pipeline: canonicalize, decompose composite ops, "
      "canonicalize, CSE",
      buildFrontendPipeline);
}
