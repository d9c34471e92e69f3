//===- model_driver.h - lctx-run's generate and score modes -----*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#ifndef LCTXRT_TOOLS_MODEL_DRIVER_H
#define LCTXRT_TOOLS_MODEL_DRIVER_H

#include "lctxrt/lctxrt.hpp"

#include <cstdint>
#include <string>

namespace lctxrun {

struct GenerateOptions {
  std::string prompt;
  size_t count = 0;
  /// 0: greedy.
  double temperature = 0;
  double topP = 1.0;
  uint64_t seed = 0;
};

/// Whether lctx-run can drive the artifact's decode schedule (the
/// manifest's model "decode"); otherwise \p error says why.
bool checkSchedule(const lctxrt::Artifact &artifact, std::string &error);

/// Feeds the prompt, then samples `count` bytes; writes prompt and bytes to
/// stdout and the timing to stderr. Returns the exit status.
int generate(const lctxrt::Artifact &artifact, lctxrt::Session &session,
             const GenerateOptions &options);

/// Bits per byte of the file at `path` (any size, constant memory), with a
/// progress line on stderr when `progress`. Returns the exit status.
int score(const lctxrt::Artifact &artifact, lctxrt::Session &session,
          const std::string &path, bool progress);

} // namespace lctxrun

#endif // LCTXRT_TOOLS_MODEL_DRIVER_H
