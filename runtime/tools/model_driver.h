//===- model_driver.h - lctx-run's generate and score modes -----*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#ifndef LCTXRT_TOOLS_MODEL_DRIVER_H
#define LCTXRT_TOOLS_MODEL_DRIVER_H

#include "lctxrt/lctxrt.hpp"

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

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

/// Called by score() for every scored byte: its offset in the file, the
/// logits that predicted it, the byte and its negative log-likelihood in
/// nats. Returning false stops scoring with an error (exit status 1).
using ScoreObserver =
    std::function<bool(int64_t offset, const std::vector<float> &logits,
                       int32_t byte, double nll)>;

struct ScoreOptions {
  /// A progress line on stderr.
  bool progress = true;
  ScoreObserver observer;
  /// A "token" model without a window only: the file continues the
  /// session's current stream (e.g. state written from a saved file)
  /// instead of a fresh one; its first byte is fed, not predicted, as
  /// always.
  bool continueStream = false;
  /// A "token" model without a window that has a block entry
  /// (`prefill_segment`, `prefill_chunk`: ids [1, N] -> logits [1, N, V],
  /// continuing the stream at a block boundary): whole blocks go through
  /// it, the rest through `decode`. Off: every byte goes through `decode`.
  /// Not with continueStream.
  bool blocks = true;
};

/// Bits per byte of the file at `path` (any size, constant memory). A
/// "token" model predicts every byte after the first from the bytes before
/// it; a "two-rate" model every byte. Returns the exit status.
int score(const lctxrt::Artifact &artifact, lctxrt::Session &session,
          const std::string &path, const ScoreOptions &options);
int score(const lctxrt::Artifact &artifact, lctxrt::Session &session,
          const std::string &path, bool progress);

/// Bytes of runtime-owned state per session (the manifest's states).
size_t stateBytes(const lctxrt::Artifact &artifact);

} // namespace lctxrun

#endif // LCTXRT_TOOLS_MODEL_DRIVER_H
