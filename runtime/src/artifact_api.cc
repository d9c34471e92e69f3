//===- artifact_api.cc - Artifact C API -------------------------*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
///
/// \file
/// The lctxrt_artifact_* query functions over the loaded artifact.
///
//===----------------------------------------------------------------------===//

#include "artifact.h"

#include "lctxrt/artifact_format.h"
#include "status.h"

#include <cstring>
#include <string>

using lctxrt::makeStatus;
using lctxrt::SectionRecord;

static lctxrt_status_t nullArgument(const char *function) {
  return makeStatus(LCTXRT_INVALID_ARGUMENT,
                    std::string(function) + ": NULL argument");
}

static lctxrt_status_t indexOutOfRange(const lctxrt_artifact_t *artifact,
                                       const char *what, size_t index,
                                       size_t count) {
  return makeStatus(LCTXRT_INVALID_ARGUMENT,
                    artifact->path + ": " + what + " index " +
                        std::to_string(index) + " out of range (" +
                        std::to_string(count) + ")");
}

static void fillEntryInfo(const lctxrt_artifact_t *artifact, size_t index,
                          lctxrt_entry_point_info_t &info) {
  const lctxrt::EntryPointSpec &entry = artifact->manifest.entryPoints[index];
  info.name = entry.name.c_str();
  info.symbol = entry.symbol.c_str();
  info.section = entry.section.c_str();
  info.num_args = entry.args.size();
  info.args = artifact->argInfos[index].data();
  info.num_inputs = entry.numInputs;
  info.num_weights = entry.numWeights;
  info.num_outputs = entry.numOutputs;
  info.num_states = entry.numStates;
}

/// Entry \p index of one of the artifact's manifest lists (weights,
/// states) into \p out_info.
static lctxrt_status_t
listedInfo(const char *function, const lctxrt_artifact_t *artifact,
           std::vector<lctxrt_arg_info_t> lctxrt_artifact::*list,
           const char *what, size_t index, lctxrt_arg_info_t *out_info) {
  if (out_info)
    std::memset(out_info, 0, sizeof(*out_info));
  return lctxrt::guardStatus(function, [&]() -> lctxrt_status_t {
    if (!artifact || !out_info)
      return nullArgument(function);
    const std::vector<lctxrt_arg_info_t> &infos = artifact->*list;
    if (index >= infos.size())
      return indexOutOfRange(artifact, what, index, infos.size());
    *out_info = infos[index];
    return nullptr;
  });
}

extern "C" {

const char *lctxrt_arg_role_name(lctxrt_arg_role_t role) {
  switch (role) {
  case LCTXRT_ARG_ROLE_INPUT:
    return "input";
  case LCTXRT_ARG_ROLE_WEIGHT:
    return "weight";
  case LCTXRT_ARG_ROLE_OUTPUT:
    return "output";
  case LCTXRT_ARG_ROLE_STATE_IN:
    return "state_in";
  case LCTXRT_ARG_ROLE_STATE_OUT:
    return "state_out";
  default:
    return nullptr;
  }
}

lctxrt_status_t lctxrt_artifact_open(const char *path,
                                     lctxrt_artifact_t **out) {
  if (out)
    *out = nullptr;
  return lctxrt::guardStatus(__func__, [&]() -> lctxrt_status_t {
    if (!path || !out)
      return nullArgument(__func__);
    return lctxrt::openArtifact(path, out);
  });
}

void lctxrt_artifact_close(lctxrt_artifact_t *artifact) { delete artifact; }

const char *lctxrt_artifact_path(const lctxrt_artifact_t *artifact) {
  return artifact ? artifact->path.c_str() : nullptr;
}

const char *lctxrt_artifact_manifest_json(const lctxrt_artifact_t *artifact) {
  return artifact ? artifact->manifestJson.c_str() : nullptr;
}

lctxrt_status_t lctxrt_artifact_info(const lctxrt_artifact_t *artifact,
                                     lctxrt_artifact_info_t *out_info) {
  if (out_info)
    std::memset(out_info, 0, sizeof(*out_info));
  if (!artifact || !out_info)
    return nullArgument(__func__);
  const lctxrt::Manifest &manifest = artifact->manifest;
  out_info->version = manifest.version;
  out_info->producer = manifest.producer.c_str();
  out_info->target_kind = manifest.targetKind.c_str();
  out_info->target_triple = manifest.targetTriple.c_str();
  out_info->target_cpu = manifest.targetCpu.c_str();
  out_info->target_features = manifest.targetFeatures.c_str();
  out_info->buffer_alignment = manifest.bufferAlignment;
  out_info->num_sections = artifact->sections.size();
  out_info->num_entry_points = manifest.entryPoints.size();
  out_info->num_weights = manifest.weights.size();
  out_info->num_states = manifest.states.size();
  out_info->state_bytes = manifest.stateBytes;
  out_info->gpu_kind = manifest.gpu.kind.c_str();
  out_info->gpu_arch = manifest.gpu.arch.c_str();
  out_info->gpu_section = manifest.gpu.section.c_str();
  out_info->gpu_format = manifest.gpu.format.c_str();
  out_info->gpu_kernels = static_cast<size_t>(manifest.gpu.kernels);
  out_info->gpu_entry_prefix = manifest.gpu.entryPrefix.c_str();
  return nullptr;
}

size_t lctxrt_artifact_num_sections(const lctxrt_artifact_t *artifact) {
  return artifact ? artifact->sections.size() : 0;
}

lctxrt_status_t lctxrt_artifact_section_info(const lctxrt_artifact_t *artifact,
                                             size_t index,
                                             lctxrt_section_info_t *out_info) {
  if (out_info)
    std::memset(out_info, 0, sizeof(*out_info));
  return lctxrt::guardStatus(__func__, [&]() -> lctxrt_status_t {
    if (!artifact || !out_info)
      return nullArgument(__func__);
    if (index >= artifact->sections.size())
      return indexOutOfRange(artifact, "section", index,
                             artifact->sections.size());
    const SectionRecord &section = artifact->sections[index];
    out_info->kind = section.kind;
    out_info->kind_name = lctxrt::artifactSectionKindName(section.kind);
    out_info->name = section.name.c_str();
    out_info->offset = section.offset;
    out_info->size = section.size;
    return nullptr;
  });
}

size_t lctxrt_artifact_num_entry_points(const lctxrt_artifact_t *artifact) {
  return artifact ? artifact->manifest.entryPoints.size() : 0;
}

lctxrt_status_t
lctxrt_artifact_entry_point_info(const lctxrt_artifact_t *artifact,
                                 size_t index,
                                 lctxrt_entry_point_info_t *out_info) {
  if (out_info)
    std::memset(out_info, 0, sizeof(*out_info));
  return lctxrt::guardStatus(__func__, [&]() -> lctxrt_status_t {
    if (!artifact || !out_info)
      return nullArgument(__func__);
    size_t count = artifact->manifest.entryPoints.size();
    if (index >= count)
      return indexOutOfRange(artifact, "entry point", index, count);
    fillEntryInfo(artifact, index, *out_info);
    return nullptr;
  });
}

lctxrt_status_t
lctxrt_artifact_find_entry_point(const lctxrt_artifact_t *artifact,
                                 const char *name,
                                 lctxrt_entry_point_info_t *out_info) {
  if (out_info)
    std::memset(out_info, 0, sizeof(*out_info));
  return lctxrt::guardStatus(__func__, [&]() -> lctxrt_status_t {
    if (!artifact || !name || !out_info)
      return nullArgument(__func__);
    const auto &index = artifact->manifest.entryIndex;
    auto it = index.find(name);
    if (it == index.end())
      return makeStatus(LCTXRT_NOT_FOUND, artifact->path +
                                              ": no entry point named '" +
                                              name + "'");
    fillEntryInfo(artifact, it->second, *out_info);
    return nullptr;
  });
}

size_t lctxrt_artifact_num_weights(const lctxrt_artifact_t *artifact) {
  return artifact ? artifact->manifest.weights.size() : 0;
}

lctxrt_status_t lctxrt_artifact_weight_info(const lctxrt_artifact_t *artifact,
                                            size_t index,
                                            lctxrt_arg_info_t *out_info) {
  return listedInfo(__func__, artifact, &lctxrt_artifact::weightInfos,
                    "weight", index, out_info);
}

const char *lctxrt_artifact_model_value(const lctxrt_artifact_t *artifact,
                                        const char *key) {
  if (!artifact || !key)
    return nullptr;
  for (const auto &[k, v] : artifact->manifest.model)
    if (k == key)
      return v.c_str();
  return nullptr;
}

size_t lctxrt_artifact_num_states(const lctxrt_artifact_t *artifact) {
  return artifact ? artifact->manifest.states.size() : 0;
}

lctxrt_status_t lctxrt_artifact_state_info(const lctxrt_artifact_t *artifact,
                                           size_t index,
                                           lctxrt_arg_info_t *out_info) {
  return listedInfo(__func__, artifact, &lctxrt_artifact::stateInfos, "state",
                    index, out_info);
}

} // extern "C"
