//===- lctx-opt.cpp - The lctx optimizer driver ---------------------------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// MlirOptMain with the lctx dialect, the upstream dialects lctx IR uses, and
// the lctx passes and pipelines.
//
//===----------------------------------------------------------------------===//

#include "lctx/InitAll.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"

int main(int argc, char **argv) {
  mlir::DialectRegistry registry;
  mlir::lctx::registerAllLCtxDialects(registry);
  mlir::lctx::registerAllLCtxPasses();
  return mlir::asMainReturnCode(
      mlir::MlirOptMain(argc, argv, "lctx optimizer driver\n", registry));
}
