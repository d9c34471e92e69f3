//===- LCtxDialect.h - The lctx dialect -------------------------*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#ifndef LCTX_DIALECT_LCTX_IR_LCTXDIALECT_H
#define LCTX_DIALECT_LCTX_IR_LCTXDIALECT_H

#include "mlir/IR/Dialect.h"

#include "lctx/Dialect/LCtx/IR/LCtxDialect.h.inc"

#endif // LCTX_DIALECT_LCTX_IR_LCTXDIALECT_H
