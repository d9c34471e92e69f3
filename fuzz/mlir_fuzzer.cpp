//===- mlir_fuzzer.cpp - Fuzz parsing and verifying lctx IR ---------------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// The input is IR text, handled as lctx-opt handles a file: screened by
// lctx/Support/InputChecks.h, then parsed and verified in a context with
// every dialect lctx-opt registers. Whatever the text, the result must be
// diagnostics or a verified module, never a crash. A module that verifies
// is printed in the custom and the generic form, and the custom form must
// parse and verify again. Then lctx-derive-decode runs on it: it must
// derive a verified decode entry or reject the input with a diagnostic,
// never crash (its own "a bug in lctx-derive-decode" diagnostic aborts).
//
//===----------------------------------------------------------------------===//

#include "lctx/InitAll.h"
#include "lctx/Dialect/LCtx/Transforms/Passes.h"
#include "lctx/Support/InputChecks.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/OperationSupport.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdio>
#include <cstdlib>
#include <string>

using namespace mlir;

namespace {

const DialectRegistry &registry() {
  static const DialectRegistry *instance = [] {
    auto *r = new DialectRegistry();
    lctx::registerAllLCtxDialects(*r);
    return r;
  }();
  return *instance;
}

OwningOpRef<ModuleOp> parse(MLIRContext &context, llvm::StringRef text) {
  ParserConfig config(&context, /*verifyAfterParse=*/true);
  return parseSourceString<ModuleOp>(text, config, "fuzz.mlir");
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  // MLIR's lexer relies on a NUL after the buffer, as every file lctx-opt
  // reads has one: parse from a std::string, not from the fuzzer's bytes.
  const std::string owned(reinterpret_cast<const char *>(data), size);
  llvm::StringRef text(owned);
  if (lctx::findExcessiveNesting(text))
    return 0; // lctx-opt refuses this input before parsing.
  if (lctx::findMalformedIntegerList(text))
    return 0; // lctx-opt refuses this input before parsing.

  // A fresh context per input keeps inputs independent (uniqued types and
  // attributes would otherwise accumulate).
  MLIRContext context(registry(), MLIRContext::Threading::DISABLED);
  context.allowUnregisteredDialects(false);
  ScopedDiagnosticHandler swallow(&context,
                                  [](Diagnostic &) { return success(); });
  OwningOpRef<ModuleOp> module = parse(context, text);
  if (!module)
    return 0;

  std::string custom, generic;
  {
    llvm::raw_string_ostream os(custom);
    module->print(os);
  }
  {
    llvm::raw_string_ostream os(generic);
    module->print(os, OpPrintingFlags().printGenericOpForm());
  }
  // What verified and printed must read back.
  MLIRContext again(registry(), MLIRContext::Threading::DISABLED);
  bool reparseFailed = false;
  std::string diagnostics;
  ScopedDiagnosticHandler record(&again, [&](Diagnostic &diag) {
    diagnostics += diag.str() + "\n";
    return success();
  });
  if (!parse(again, custom))
    reparseFailed = true;
  if (reparseFailed) {
    std::fprintf(stderr,
                 "lctx-fuzz: a verified module does not parse back from its "
                 "printed form:\n%s\ndiagnostics:\n%s\n",
                 custom.c_str(), diagnostics.c_str());
    std::abort();
  }

  // Deriving decode entries (functions with lctx.decode) from what parsed.
  bool passBug = false;
  std::string passDiagnostics;
  {
    ScopedDiagnosticHandler watch(&context, [&](Diagnostic &diag) {
      std::string text = diag.str();
      passDiagnostics += text + "\n";
      if (text.find("a bug in lctx-derive-decode") != std::string::npos)
        passBug = true;
      return success();
    });
    PassManager pm(&context);
    pm.addPass(lctx::createLCtxDeriveDecodePass());
    (void)pm.run(*module);
  }
  if (passBug) {
    std::fprintf(stderr,
                 "lctx-fuzz: lctx-derive-decode produced an invalid entry "
                 "from:\n%s\ndiagnostics:\n%s\n",
                 custom.c_str(), passDiagnostics.c_str());
    std::abort();
  }
  return 0;
}
