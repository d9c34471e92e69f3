//===- LCtxOps.h - Ops of the lctx dialect ----------------------*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#ifndef LCTX_DIALECT_LCTX_IR_LCTXOPS_H
#define LCTX_DIALECT_LCTX_IR_LCTXOPS_H

#include "lctx/Dialect/LCtx/IR/LCtxDialect.h"
#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/IR/TypeUtilities.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "lctx/Dialect/LCtx/IR/LCtxEnums.h.inc"

#define GET_OP_CLASSES
#include "lctx/Dialect/LCtx/IR/LCtxOps.h.inc"

#endif // LCTX_DIALECT_LCTX_IR_LCTXOPS_H
