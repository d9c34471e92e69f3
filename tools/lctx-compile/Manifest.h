//===- Manifest.h - The artifact manifest of a compiled module --*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// Entry-point signatures are read from the lctx IR before lowering (weights
// and inputs by their lctx.weight / lctx.input names) and written as the
// manifest of docs/artifact.md.
//
//===----------------------------------------------------------------------===//

#ifndef LCTX_TOOLS_LCTX_COMPILE_MANIFEST_H
#define LCTX_TOOLS_LCTX_COMPILE_MANIFEST_H

#include "mlir/IR/BuiltinOps.h"

#include <string>
#include <vector>

namespace lctxc {

struct ManifestArg {
  std::string name;
  std::string role; // input | weight | output | state_in | state_out
  std::string dtype;
  std::vector<int64_t> shape;
};

/// A derived entry whose caches hold a window of positions
/// (`lctx.advance`): a call needs state[0] + steps <= limit. Empty `state`:
/// none.
struct ManifestAdvance {
  std::string state;
  int64_t steps = 0, limit = 0;
};

struct ManifestEntry {
  std::string name;
  std::vector<ManifestArg> args;
  ManifestAdvance advance;
  /// States the CPU code updates in place (one buffer for state_in and
  /// state_out; lctx-alias-states).
  std::vector<std::string> inPlaceStates;
};

struct ManifestTarget {
  std::string triple, cpu, features;
};

/// GPU kernels carried beside the CPU code (`--target=cuda`): the section
/// holding them and what they are. Empty `section`: none.
struct ManifestGPU {
  std::string arch, section, format;
  /// Prefix of the packed entry points that run on the GPU (the host code
  /// launching the kernels), e.g. "lctx_entry_cuda_"; empty when the
  /// artifact carries kernels only.
  std::string entryPrefix;
  int64_t kernels = 0;
};

/// The module's `lctx.model` description: (key, value) in dictionary order;
/// integers are kept as integers in the manifest.
struct ManifestModelEntry {
  std::string key;
  std::string text;
  int64_t integer = 0;
  bool isInteger = false;
};
using ManifestModel = std::vector<ManifestModelEntry>;

/// Reads the module's `lctx.model` attribute (verified by the dialect).
ManifestModel collectModel(mlir::ModuleOp module);

/// Collects the entry points (public functions) of `module`; emits an error
/// and fails on a signature the artifact cannot describe (non-tensor or
/// dynamic argument, unsupported element type).
mlir::LogicalResult collectEntryPoints(mlir::ModuleOp module,
                                       std::vector<ManifestEntry> &entries);

/// The bytes of runtime-owned state a session of these entry points holds
/// (each state once), and how many states there are.
uint64_t stateBytes(const std::vector<ManifestEntry> &entries,
                    size_t *numStates = nullptr);

/// The manifest JSON text.
std::string writeManifest(const std::vector<ManifestEntry> &entries,
                          const ManifestGPU &gpu,
                          const ManifestTarget &target,
                          const ManifestModel &model = {});

/// A C header declaring the packed entry points of `entries`.
std::string writeCHeader(const std::vector<ManifestEntry> &entries,
                         llvm::StringRef guard);

} // namespace lctxc

#endif // LCTX_TOOLS_LCTX_COMPILE_MANIFEST_H
