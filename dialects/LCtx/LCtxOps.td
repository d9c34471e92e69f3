//===- LCtxOps.td - The ops of the lctx dialect -----------*- tablegen -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// One file per op family; this file only gathers them so that mlir-tblgen
// sees a single op list.
//
//===----------------------------------------------------------------------===//

#ifndef LCTX_DIALECT_LCTX_LCTXOPS_TD
#define LCTX_DIALECT_LCTX_LCTXOPS_TD

include "LCtxDialect.td"
include "LCtxEnums.td"
include "CommonOps.td"
include "PatchOps.td"
include "MemoryOps.td"
include "CemaOps.td"
include "RouteOps.td"

#endif // LCTX_DIALECT_LCTX_LCTXOPS_TD
