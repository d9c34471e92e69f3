//===- InitAll.h - Registration for lctx tools ------------------*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// What lctx's tools register: the lctx dialect plus only the upstream
// dialects and passes lctx uses (not the upstream InitAll*).
//
//===----------------------------------------------------------------------===//

#ifndef LCTX_INITALL_H
#define LCTX_INITALL_H

namespace mlir {
class DialectRegistry;
} // namespace mlir

namespace mlir::lctx {

/// Inserts the lctx dialect and the upstream dialects lctx IR uses.
void registerAllLCtxDialects(DialectRegistry &registry);

/// Registers the lctx passes, the upstream passes lctx pipelines use, and
/// the named lctx pipelines.
void registerAllLCtxPasses();

} // namespace mlir::lctx

#endif // LCTX_INITALL_H
