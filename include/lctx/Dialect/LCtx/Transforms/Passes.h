//===- Passes.h - Transformations on the lctx dialect -----------*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#ifndef LCTX_DIALECT_LCTX_TRANSFORMS_PASSES_H
#define LCTX_DIALECT_LCTX_TRANSFORMS_PASSES_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Pass/Pass.h"

namespace mlir::lctx {

#define GEN_PASS_DECL
#include "lctx/Dialect/LCtx/Transforms/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "lctx/Dialect/LCtx/Transforms/Passes.h.inc"

} // namespace mlir::lctx

#endif // LCTX_DIALECT_LCTX_TRANSFORMS_PASSES_H
