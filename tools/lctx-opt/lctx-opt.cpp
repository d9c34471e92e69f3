//===- lctx-opt.cpp - The lctx optimizer driver ---------------------------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// MlirOptMain with the lctx dialect, the upstream dialects lctx IR uses, and
// the lctx passes and pipelines. The input is read and screened here (see
// lctx/Support/InputChecks.h) before MlirOptMain parses it.
//
//===----------------------------------------------------------------------===//

#include "lctx/InitAll.h"
#include "lctx/Support/InputChecks.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/Support/FileUtilities.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/ToolOutputFile.h"

using namespace mlir;

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  DialectRegistry registry;
  lctx::registerAllLCtxDialects(registry);
  lctx::registerAllLCtxPasses();

  auto [inputFile, outputFile] = registerAndParseCLIOptions(
      argc, argv, "lctx optimizer driver\n", registry);
  MlirOptMainConfig config = MlirOptMainConfig::createFromCLOptions();

  std::string error;
  std::unique_ptr<llvm::MemoryBuffer> input = openInputFile(inputFile, &error);
  if (!input) {
    llvm::errs() << "lctx-opt: " << error << "\n";
    return 1;
  }
  {
    // Screen a copy of the buffer; MlirOptMain takes ownership of `input`.
    llvm::SourceMgr screen;
    screen.AddNewSourceBuffer(llvm::MemoryBuffer::getMemBuffer(
                                  input->getMemBufferRef(),
                                  /*RequiresNullTerminator=*/false),
                              llvm::SMLoc());
    if (!lctx::checkIRText(screen))
      return 1;
  }
  std::unique_ptr<llvm::ToolOutputFile> output =
      openOutputFile(outputFile, &error);
  if (!output) {
    llvm::errs() << "lctx-opt: " << error << "\n";
    return 1;
  }
  if (failed(MlirOptMain(output->os(), std::move(input), registry, config)))
    return 1;
  output->keep();
  return 0;
}
