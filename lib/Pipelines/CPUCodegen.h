//===- CPUCodegen.h - Vector code generation passes for the CPU -*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// Private to lib/Pipelines: the passes of the CPU pipeline that turn linalg
// ops on tensors into vector loops before bufferization.
//
//===----------------------------------------------------------------------===//

#ifndef LCTX_LIB_PIPELINES_CPUCODEGEN_H
#define LCTX_LIB_PIPELINES_CPUCODEGEN_H

#include "lctx/Dialect/LCtx/IR/LCtxOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/Pass/Pass.h"

#include <memory>

namespace mlir::lctx {

/// `lctx-cpu-contraction-codegen` (on func.func, tensors): every f32 linalg
/// contraction (matmul, matmul_transpose_b, batch_matmul, or a generic with a
/// mul-add body and projected-permutation maps) becomes loops over cache
/// blocks and Mr x Nr register tiles whose accumulators stay in vector
/// registers across the reduction loop. Tile sizes default to the host's
/// vector width.
std::unique_ptr<Pass> createCPUContractionCodegenPass();

/// `lctx-cpu-vectorize-generics` (on func.func, tensors): elementwise
/// linalg.generic ops, and reductions along the innermost dim with an add or
/// min/max combiner, become loops over native-length vectors of the
/// innermost dim (CPUGenerics.cpp).
std::unique_ptr<Pass> createCPUGenericVectorizePass();

/// `lctx-guard-partial-transfer-writes` (on func.func, tensors, right before
/// bufferization) and `lctx-fold-unit-transfer-writes` (buffers, after it):
/// work around MLIR 19 taking a low-rank vector.transfer_write at zero
/// indices for a full overwrite of its destination (TransferWriteGuard.cpp).
std::unique_ptr<Pass> createGuardPartialTransferWritesPass();
std::unique_ptr<Pass> createFoldUnitTransferWritesPass();

/// `lctx-moe-grouped` (on func.func, lctx ops): f32 lctx.route.moe layers
/// become routing, a sort of the kept tokens by expert, and a block-tiled
/// grouped FFN where every block of rows runs its own expert's weights
/// (MoeGrouped.cpp).
std::unique_ptr<Pass> createMoeGroupedPass();

/// The FFN of expert `expert` (an index) of a Switch layer `op` on `x`
/// (rows of width D): lctx.ffn on the expert's slices of W_in, W_out (and
/// the gate weights) at a dynamic offset. For the per-token and the
/// row-block forms of a Switch layer (MoeGrouped.cpp).
Value buildExpertFfn(OpBuilder &b, Location loc, RouteMoeOp op,
                     Value expert, Value x);

/// Register the passes with the global registry (for lctx-opt).
void registerMoeGroupedPass();
void registerCPUContractionCodegenPass();
void registerCPUGenericVectorizePass();
void registerTransferWriteGuardPasses();

/// f32 lanes in the host's widest vector register (16, 8 or 4).
int64_t hostF32VectorLanes();

} // namespace mlir::lctx

#endif // LCTX_LIB_PIPELINES_CPUCODEGEN_H
