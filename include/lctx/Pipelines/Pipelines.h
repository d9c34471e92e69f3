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

/// Options of the CPU pipeline.
struct CPUPipelineOptions : public PassPipelineOptions<CPUPipelineOptions> {
  PassOptions::Option<bool> decompose{
      *this, "decompose",
      llvm::cl::desc("Decompose route.moe before lowering (memory.attention "
                     "is lowered fused)"),
      llvm::cl::init(true)};
  PassOptions::Option<bool> contractions{
      *this, "contractions",
      llvm::cl::desc("Rewrite f32 matmul-class linalg ops into cache-blocked, "
                     "register-tiled vector loops "
                     "(lctx-cpu-contraction-codegen)"),
      llvm::cl::init(true)};
};

/// lctx IR to the LLVM dialect for the host CPU: the frontend pipeline,
/// convert-lctx-to-linalg, elementwise fusion, one-shot bufferization with
/// results turned into caller-provided out-params (the artifact calling
/// convention, docs/artifact.md), deallocation, loops, and the conversions
/// to the LLVM dialect. Entry functions get `llvm.emit_c_interface`.
void buildCPUPipeline(OpPassManager &pm, const CPUPipelineOptions &options);

/// Registers every named lctx pipeline with the global pass registry:
/// `lctx-frontend-pipeline`, `lctx-cpu-pipeline`.
void registerLCtxPipelines();

} // namespace mlir::lctx

#endif // LCTX_PIPELINES_PIPELINES_H
