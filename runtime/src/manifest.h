//===- manifest.h - Artifact manifest model and parser ----------*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
///
/// \file
/// The validated in-memory form of an artifact manifest (docs/artifact.md)
/// and the parser that builds it from JSON text. Internal to lctxrt.
///
//===----------------------------------------------------------------------===//

#ifndef LCTXRT_SRC_MANIFEST_H
#define LCTXRT_SRC_MANIFEST_H

#include "lctxrt/lctxrt.h"

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace lctxrt {

/// A tensor type: dtype plus static shape.
struct TensorType {
  lctxrt_dtype_t dtype = LCTXRT_DTYPE_F32;
  std::vector<int64_t> shape;
  /// Product of the dimensions and that times the element size; validated
  /// not to overflow (and to fit in size_t).
  size_t numElements = 1;
  size_t byteSize = 0;

  bool operator==(const TensorType &other) const {
    return dtype == other.dtype && shape == other.shape;
  }
  bool operator!=(const TensorType &other) const { return !(*this == other); }
};

/// One entry point argument or one manifest weight.
struct ArgSpec {
  std::string name;
  lctxrt_arg_role_t role = LCTXRT_ARG_ROLE_INPUT;
  TensorType type;
};

/// One entry point.
struct EntryPointSpec {
  std::string name;
  std::string symbol;
  /// The name of the section holding the code.
  std::string section;
  /// In calling-convention order.
  std::vector<ArgSpec> args;
  /// Index of each input, weight and output argument by name.
  std::unordered_map<std::string, size_t> argIndex;
  /// For each state the entry point uses: the indices of its state_in and
  /// state_out arguments.
  std::unordered_map<std::string, std::pair<size_t, size_t>> stateArgs;
  size_t numInputs = 0, numWeights = 0, numOutputs = 0;
  /// State pairs (each has one state_in and one state_out argument).
  size_t numStates = 0;
  /// The manifest's optional "advance": the entry's caches hold `limit`
  /// positions, and a call needs advanceState[0] + advanceSteps <= limit
  /// (an I64 state of the entry). Empty state: no bound.
  std::string advanceState;
  int64_t advanceSteps = 0, advanceLimit = 0;
  /// The manifest's optional "inplace_states": states the CPU code updates
  /// in place, so the runtime passes one buffer as their state_in and
  /// state_out (docs/artifact.md).
  std::unordered_set<std::string> inPlaceStates;
};

/// The manifest's optional "gpu" object (docs/artifact.md,
/// docs/runtime-cuda.md). `present` is false without it.
struct GpuSpec {
  bool present = false;
  std::string kind, arch, section, format;
  int64_t kernels = 0;
  /// Prefix of the GPU entry symbols; empty when the code has none.
  std::string entryPrefix;
};

/// A validated manifest. Cross-checks that need the container (that each
/// entry's section exists and holds code) are left to the caller.
struct Manifest {
  uint32_t version = 0;
  std::string producer;
  std::string targetKind, targetTriple, targetCpu, targetFeatures;
  /// See lctxrt_artifact_info_t::buffer_alignment.
  size_t bufferAlignment = 64;
  std::vector<EntryPointSpec> entryPoints;
  std::vector<ArgSpec> weights;
  /// Runtime-owned state (role LCTXRT_ARG_ROLE_STATE_IN), each once.
  std::vector<ArgSpec> states;
  /// Sum of the states' byte sizes (validated not to overflow).
  size_t stateBytes = 0;
  /// The optional "model" description: (key, value) with integers in
  /// decimal, in manifest order.
  std::vector<std::pair<std::string, std::string>> model;
  GpuSpec gpu;
  /// Indices by name.
  std::unordered_map<std::string, size_t> entryIndex;
  std::unordered_map<std::string, size_t> weightIndex;
  std::unordered_map<std::string, size_t> stateIndex;
};

/// Parses and validates the manifest \p text of the artifact at \p path into
/// \p out. Error messages start with "<path>: manifest: ".
lctxrt_status_t parseManifest(const std::string &path, std::string_view text,
                              Manifest &out);

/// Returns "[d0, d1, ...]".
std::string shapeString(const std::vector<int64_t> &shape);

/// Returns e.g. "F32 [2, 3]".
std::string typeString(const TensorType &type);

/// Returns the alignment an element of \p dtype needs (its size, except 4
/// for C64).
size_t elementAlignment(lctxrt_dtype_t dtype);

} // namespace lctxrt

#endif // LCTXRT_SRC_MANIFEST_H
