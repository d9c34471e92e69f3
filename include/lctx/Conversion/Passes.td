//===- Passes.td - lctx conversion passes ------------------*- tablegen -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// All conversion passes of lctx, alphabetical.
//
//===----------------------------------------------------------------------===//

#ifndef LCTX_CONVERSION_PASSES_TD
#define LCTX_CONVERSION_PASSES_TD

include "mlir/Pass/PassBase.td"

def ConvertLCtxToLinalgPass : Pass<"convert-lctx-to-linalg"> {
  let summary = "Lower lctx ops to linalg, tensor, arith and math on tensors";
  let description = [{
    Rewrites each lctx op into upstream ops on tensors, following the math in
    the op's description: matmul-class work becomes `linalg.matmul` /
    `linalg.batch_matmul` / `linalg.matmul_transpose_b`, reductions and
    elementwise math become `linalg.generic`, gathers become index-driven
    `linalg.generic`s with `tensor.extract`. The result is ready for
    bufferization and the CPU pipeline. Ops without a lowering yet are left
    in place; the pass then fails, naming the first of them.
  }];
  let options = [
    Option<"attentionTile", "attention-tile", "int64_t", /*default=*/"64",
           "Query and key tile of lctx.attention's flash form (0: whole "
           "sequences, one tile per head; -1: no flash form, the scores of "
           "every head at once, as batched contractions: the GPU form)">
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::complex::ComplexDialect",
                           "::mlir::linalg::LinalgDialect",
                           "::mlir::math::MathDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::tensor::TensorDialect"];
}

#endif // LCTX_CONVERSION_PASSES_TD
