//===- Artifact.h - Native code and artifact emission -----------*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#ifndef LCTX_TOOLS_LCTX_COMPILE_ARTIFACT_H
#define LCTX_TOOLS_LCTX_COMPILE_ARTIFACT_H

#include "Manifest.h"

#include "llvm/IR/Module.h"
#include "llvm/Target/TargetMachine.h"

#include <memory>
#include <string>

namespace lctxc {

/// A TargetMachine for the host triple and `cpu` (host CPU and features
/// when empty); sets `target` to what was chosen.
std::unique_ptr<llvm::TargetMachine> createHostTargetMachine(
    const std::string &cpu, ManifestTarget &target, std::string &error);

/// Adds `void lctx_entry_<name>(void **args)` for each entry point, calling
/// `_mlir_ciface_<name>` with args[0..n) (docs/artifact.md).
bool addPackedEntryPoints(llvm::Module &module,
                          const std::vector<ManifestEntry> &entries,
                          std::string &error);

/// Replaces every call of a GPU runtime function (`mgpu*`, declared by the
/// cuda target's host code) by a call through an exported pointer slot
/// `lctx_rt_gpu_<name>`, which the runtime fills when it runs the code on a
/// GPU (docs/runtime-cuda.md): the shared object has no undefined GPU
/// symbols and loads on machines without CUDA. Returns the slot names.
std::vector<std::string> addGPURuntimeSlots(llvm::Module &module);

/// Moves every fixed-size alloca of `module`'s functions into the entry
/// block. The GPU host code's kernel launches build their parameter arrays
/// with allocas where they launch, inside loops over chunks or heads: left
/// there, each iteration grows the stack until it overflows.
void hoistStaticAllocas(llvm::Module &module);

/// Runs the LLVM O3 pipeline on `module` for `tm`.
void optimizeModule(llvm::Module &module, llvm::TargetMachine &tm);

/// Emits `module` as an object file (or assembly) into `out`.
bool emitCode(llvm::Module &module, llvm::TargetMachine &tm, bool assembly,
              std::string &out, std::string &error);

/// Links an object into a shared object with clang (found as clang-19 or
/// clang, or $LCTX_CLANG), returning its bytes.
bool linkSharedObject(const std::string &object, std::string &sharedObject,
                      std::string &error);

} // namespace lctxc

#endif // LCTX_TOOLS_LCTX_COMPILE_ARTIFACT_H
