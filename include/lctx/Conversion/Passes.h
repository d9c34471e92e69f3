//===- Passes.h - lctx conversion passes ------------------------*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#ifndef LCTX_CONVERSION_PASSES_H
#define LCTX_CONVERSION_PASSES_H

#include "lctx/Conversion/LCtxToLinalg/LCtxToLinalg.h"

namespace mlir::lctx {

#define GEN_PASS_REGISTRATION
#include "lctx/Conversion/Passes.h.inc"

} // namespace mlir::lctx

#endif // LCTX_CONVERSION_PASSES_H
