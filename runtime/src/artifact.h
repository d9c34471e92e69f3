//===- artifact.h - The object behind lctxrt_artifact_t ---------*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
///
/// \file
/// The validated, loaded form of an artifact, shared by the artifact reader
/// (artifact.cc) and the executor (session.cc). Internal to lctxrt.
///
//===----------------------------------------------------------------------===//

#ifndef LCTXRT_SRC_ARTIFACT_H
#define LCTXRT_SRC_ARTIFACT_H

#include "manifest.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace lctxrt {

/// The CPU calling convention: `void symbol(void **args)`, args[i] pointing
/// to the memref descriptor of the i-th manifest argument.
using EntryFunction = void (*)(void **);

/// One section table entry, validated.
struct SectionRecord {
  uint32_t kind = 0;
  std::string name;
  uint64_t offset = 0;
  uint64_t size = 0;
};

/// Opens, validates and loads the artifact at \p path into \p out.
lctxrt_status_t openArtifact(const char *path, lctxrt_artifact_t **out);

/// A `cpu.so` section loaded with dlopen. Unloaded on destruction.
class LoadedCode {
public:
  LoadedCode() = default;
  LoadedCode(const LoadedCode &) = delete;
  LoadedCode &operator=(const LoadedCode &) = delete;
  ~LoadedCode();

  std::string section;
  /// The dlopen handle.
  void *handle = nullptr;
  /// The memfd the object was loaded from, kept open while it is loaded so
  /// that no other object can be loaded under the same /proc/self/fd name;
  /// -1 when loaded from a (deleted) temporary file.
  int fd = -1;
  /// The names (without the prefix) of the `lctx_rt_gpu_<fn>` slots the
  /// object defines, read from its section headers' dynamic symbol table;
  /// empty when it has none or its section headers are stripped.
  std::vector<std::string> gpuSlots;
};

} // namespace lctxrt

/// The object behind lctxrt_artifact_t. Immutable once open.
struct lctxrt_artifact {
  std::string path;
  std::string manifestJson;
  lctxrt::Manifest manifest;
  std::vector<lctxrt::SectionRecord> sections;
  /// The loaded code sections, referenced by entryFunctions.
  std::vector<std::unique_ptr<lctxrt::LoadedCode>> code;
  /// Per entry point, in manifest order.
  std::vector<lctxrt::EntryFunction> entryFunctions;
  /// A copy of the payload of the manifest's gpu.section (cubin or PTX,
  /// plus a NUL), loaded by cuda sessions; empty without one.
  std::string gpuImage;
  /// C views of the manifest, built once the manifest is final.
  std::vector<std::vector<lctxrt_arg_info_t>> argInfos;
  std::vector<lctxrt_arg_info_t> weightInfos;
  std::vector<lctxrt_arg_info_t> stateInfos;
};

#endif // LCTXRT_SRC_ARTIFACT_H
