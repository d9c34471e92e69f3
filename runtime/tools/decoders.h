//===- decoders.h - Decode schedules of lctx-run's byte models --*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
///
/// \file
/// The two decode schedules model_driver.cpp drives (its file comment
/// describes them): MEGABYTE's two-rate decoder and the token decoder,
/// with its block entries (`prefill_segment`, `prefill_chunk`) and the
/// derived `extend` of windowed models.
///
//===----------------------------------------------------------------------===//

#ifndef LCTX_RUNTIME_TOOLS_DECODERS_H
#define LCTX_RUNTIME_TOOLS_DECODERS_H

#include "lctxrt/lctxrt.hpp"

#include <algorithm>
#include <climits>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

namespace lctxrun {

/// Reads a positive integer entry of the manifest's "model".
inline bool modelInt(const lctxrt::Artifact &artifact, const char *key,
                     int64_t &out, std::string &error) {
  const char *value = artifact.modelValue(key);
  if (!value) {
    error = std::string(artifact.path()) + ": the manifest's model has no '" +
            key + "'";
    return false;
  }
  char *end = nullptr;
  long long v = std::strtoll(value, &end, 10);
  if (*end || v <= 0 || v > (1LL << 40)) {
    error = std::string(artifact.path()) + ": model '" + key + "' is '" +
            value + "', expected a positive integer";
    return false;
  }
  out = v;
  return true;
}

/// The model description checks shared by both schedules: batch 1, a byte
/// vocabulary.
inline bool checkByteModel(const lctxrt::Artifact &artifact, int64_t &vocab,
                           std::string &error) {
  int64_t batch = 0;
  if (!modelInt(artifact, "vocab", vocab, error) ||
      !modelInt(artifact, "batch", batch, error))
    return false;
  if (batch != 1) {
    error = std::string(artifact.path()) +
            ": generate and score drive one "
            "sequence; this model was compiled for batch " +
            std::to_string(batch) + " (set \"batch\": 1 in its config)";
    return false;
  }
  if (vocab > 256) {
    error = std::string(artifact.path()) + ": vocab " + std::to_string(vocab) +
            " is not a byte vocabulary";
    return false;
  }
  return true;
}

inline std::string shapeString(const lctxrt::ArgInfo &arg) {
  std::string out = "[";
  for (size_t i = 0; i < arg.rank; ++i)
    out += (i ? ", " : "") + std::to_string(arg.shape[i]);
  return out + "]";
}

/// MEGABYTE's two-rate decode over one window of `context` bytes.
class TwoRateDecoder {
public:
  bool init(const lctxrt::Artifact &artifact, lctxrt::Session &session,
            std::string &error) {
    this->session = &session;
    if (!checkByteModel(artifact, vocab, error) ||
        !modelInt(artifact, "patch", patch, error) ||
        !modelInt(artifact, "context", context, error))
      return false;
    for (const char *entry : {"decode_global", "decode_local"})
      if (!artifact.findEntryPoint(entry).ok()) {
        error = std::string(artifact.path()) + ": no entry point '" + entry +
                "' for the two-rate decode";
        return false;
      }
    return true;
  }

  int64_t window() const { return context; }
  int64_t vocabSize() const { return vocab; }

  /// Starts a new window (fresh state, no history).
  lctxrt::Status reset() {
    history.clear();
    return session->resetState();
  }

  /// The logits of the next byte after `history` (which must be shorter
  /// than the window): the global step at a patch start, then the local
  /// step.
  lctxrt::Status next(std::vector<float> &logits) {
    const int64_t t = static_cast<int64_t>(history.size());
    static const std::vector<int64_t> prevShape = {1, 1};
    if (t % patch == 0) {
      std::vector<int32_t> ids(patch, 0);
      for (int64_t i = 0; t > 0 && i < patch; ++i)
        ids[i] = history[t - patch + i];
      std::vector<int64_t> shape = {1, patch};
      std::vector<lctxrt_tensor_view_t> in = {{"patch_ids", LCTXRT_DTYPE_I32, 2,
                                               shape.data(), ids.data(),
                                               ids.size() * sizeof(int32_t)}};
      std::vector<lctxrt_tensor_view_t> out;
      lctxrt::Status status = session->run("decode_global", in, out);
      if (!status.ok())
        return status;
    }
    int32_t prev = t % patch ? history[t - 1] : 0;
    std::vector<lctxrt_tensor_view_t> in = {{"prev_id", LCTXRT_DTYPE_I32, 2,
                                             prevShape.data(), &prev,
                                             sizeof(prev)}};
    std::vector<lctxrt_tensor_view_t> out = {
        {"logits", LCTXRT_DTYPE_F32, 0, nullptr, nullptr, 0}};
    lctxrt::Status status = session->run("decode_local", in, out);
    if (!status.ok())
      return status;
    const auto *data = static_cast<const float *>(out[0].data);
    logits.assign(data, data + vocab);
    return status;
  }

  /// Appends a known byte to the history.
  void push(int32_t byte) { history.push_back(byte); }
  bool full() const { return static_cast<int64_t>(history.size()) >= context; }

  /// Keeps the last half of the window (whole patches) and replays it into
  /// fresh state.
  lctxrt::Status slide() {
    int64_t keep = context / 2 / patch * patch;
    std::vector<int32_t> kept(history.end() - keep, history.end());
    if (lctxrt::Status status = reset(); !status.ok())
      return status;
    std::vector<float> ignored;
    for (int32_t byte : kept) {
      if (lctxrt::Status status = next(ignored); !status.ok())
        return status;
      push(byte);
    }
    return lctxrt::Status();
  }

private:
  lctxrt::Session *session = nullptr;
  int64_t patch = 0, context = 0, vocab = 0;
  std::vector<int32_t> history;
};

/// The "token" decode: `decode(id [1, 1]) -> logits [1, 1, V]` per byte,
/// over a stream without bound, or of at most `window` positions.
class TokenDecoder {
public:
  bool init(const lctxrt::Artifact &artifact, lctxrt::Session &session,
            std::string &error) {
    this->session = &session;
    if (!checkByteModel(artifact, vocab, error))
      return false;
    if (artifact.modelValue("window") &&
        !modelInt(artifact, "window", windowSize, error))
      return false;
    const std::string path = artifact.path();
    auto entry = artifact.findEntryPoint("decode");
    if (!entry.ok()) {
      error = path + ": no entry point 'decode' for the token decode (the "
                     "model's \"decode\" is \"token\")";
      return false;
    }
    // One input: the byte, I32 [1, 1] (named `id` by lctx-gen's decode,
    // `ids` by a decode lctx-compile derives from the prefill).
    bool haveLogits = false;
    for (size_t i = 0; i < entry->num_args; ++i) {
      const lctxrt::ArgInfo &arg = entry->args[i];
      std::string name = arg.name;
      if (arg.role == LCTXRT_ARG_ROLE_INPUT) {
        if (!inputName.empty()) {
          error = path + ": entry 'decode' has the inputs '" + inputName +
                  "' and '" + name + "'; the token decode feeds one byte";
          return false;
        }
        inputName = name;
        if (arg.dtype != LCTXRT_DTYPE_I32 || arg.rank != 2 ||
            arg.shape[0] != 1 || arg.shape[1] != 1) {
          error = path + ": entry 'decode': input '" + name + "' is " +
                  lctxrt_dtype_name(arg.dtype) + " " + shapeString(arg) +
                  ", expected I32 [1, 1] (one byte)";
          return false;
        }
      } else if (arg.role == LCTXRT_ARG_ROLE_OUTPUT && name == "logits") {
        haveLogits = true;
        if (arg.dtype != LCTXRT_DTYPE_F32 || arg.rank != 3 ||
            arg.shape[0] != 1 || arg.shape[1] != 1 || arg.shape[2] != vocab) {
          error = path + ": entry 'decode': output 'logits' is " +
                  lctxrt_dtype_name(arg.dtype) + " " + shapeString(arg) +
                  ", expected F32 [1, 1, " + std::to_string(vocab) + "]";
          return false;
        }
      }
    }
    if (inputName.empty() || !haveLogits) {
      error = path + ": entry 'decode' has no " +
              (haveLogits ? "input" : "output 'logits'") +
              " (expected decode(id I32 [1, 1]) -> logits F32 [1, 1, " +
              std::to_string(vocab) + "])";
      return false;
    }
    return true;
  }

  /// Looks for an entry that continues the stream by a whole block of N
  /// bytes at a block boundary: `prefill_segment` (Infini) or
  /// `prefill_chunk` (Megalodon). Returns N, or 0 when there is none (or
  /// the model has a window).
  int64_t findBlockEntry(const lctxrt::Artifact &artifact) {
    if (windowSize)
      return 0;
    for (const char *name : {"prefill_segment", "prefill_chunk"}) {
      int64_t n = blockTokens(artifact, name, blockInput);
      if (n > 1) {
        blockEntry = name;
        blockSize = n;
        return n;
      }
    }
    return 0;
  }
  const std::string &blockEntryName() const { return blockEntry; }

  /// A windowed model's `extend` entry (derived by lctx-compile: S tokens
  /// at once over the decode caches, at any position inside the window).
  /// Returns S, or 0 when there is none.
  int64_t findExtendEntry(const lctxrt::Artifact &artifact) {
    if (!windowSize)
      return 0;
    int64_t n = blockTokens(artifact, "extend", extendInput);
    extendSize = n <= windowSize ? n : 0;
    return extendSize;
  }
  /// Positions the state can still take before the window is full.
  int64_t room() const {
    return windowSize ? windowSize - consumed : INT64_MAX;
  }

  /// Consumes `blockSize` tokens through the block entry (the stream must be
  /// at a block boundary); `logits` become their N predictions, [N, V].
  lctxrt::Status feedBlock(const std::vector<int32_t> &tokens,
                           std::vector<float> &logits) {
    return runBlock(blockEntry, blockInput, blockSize, tokens.data(), logits);
  }

  /// Consumes the S tokens at `tokens` at once through `extend` (they must
  /// fit in the window); `logits` become their predictions, [S, V].
  lctxrt::Status feedExtend(const int32_t *tokens, std::vector<float> &logits) {
    lctxrt::Status status =
        runBlock("extend", extendInput, extendSize, tokens, logits);
    if (status.ok())
      history.insert(history.end(), tokens, tokens + extendSize);
    return status;
  }

  /// Positions the state holds; 0: unbounded.
  int64_t window() const { return windowSize; }
  int64_t vocabSize() const { return vocab; }

  /// Starts a new stream (fresh state).
  lctxrt::Status reset() {
    history.clear();
    consumed = 0;
    return session->resetState();
  }

  /// Consumes `token`; `logits` become the prediction of the next byte.
  lctxrt::Status feed(int32_t token, std::vector<float> &logits) {
    static const std::vector<int64_t> shape = {1, 1};
    std::vector<lctxrt_tensor_view_t> in = {{inputName.c_str(),
                                             LCTXRT_DTYPE_I32, 2, shape.data(),
                                             &token, sizeof(token)}};
    std::vector<lctxrt_tensor_view_t> out = {
        {"logits", LCTXRT_DTYPE_F32, 0, nullptr, nullptr, 0}};
    lctxrt::Status status = session->run("decode", in, out);
    if (!status.ok())
      return status;
    const auto *data = static_cast<const float *>(out[0].data);
    logits.assign(data, data + vocab);
    if (windowSize)
      history.push_back(token);
    ++consumed;
    return status;
  }

  /// Whether the state holds `window` positions (never when unbounded).
  bool full() const { return windowSize && consumed >= windowSize; }

  /// Keeps the last half of the window and replays it into fresh state.
  lctxrt::Status slide() {
    int64_t keep = std::max<int64_t>(1, windowSize / 2);
    std::vector<int32_t> kept(history.end() - keep, history.end());
    if (lctxrt::Status status = reset(); !status.ok())
      return status;
    std::vector<float> ignored;
    for (int32_t token : kept)
      if (lctxrt::Status status = feed(token, ignored); !status.ok())
        return status;
    return lctxrt::Status();
  }

private:
  /// Tokens per call of entry `name` when it takes a block of bytes: one
  /// input I32 [1, N] (its name into `input`) and the output logits F32
  /// [1, N, V]. 0 when the entry is missing or has another signature.
  int64_t blockTokens(const lctxrt::Artifact &artifact, const char *name,
                      std::string &input) const {
    auto entry = artifact.findEntryPoint(name);
    if (!entry.ok())
      return 0;
    int64_t n = 0, inputs = 0;
    bool logitsOk = false;
    for (size_t i = 0; i < entry->num_args; ++i) {
      const lctxrt::ArgInfo &arg = entry->args[i];
      if (arg.role == LCTXRT_ARG_ROLE_INPUT) {
        ++inputs;
        if (arg.dtype == LCTXRT_DTYPE_I32 && arg.rank == 2 &&
            arg.shape[0] == 1 && arg.shape[1] >= 1) {
          input = arg.name;
          n = arg.shape[1];
        }
      }
    }
    for (size_t i = 0; i < entry->num_args; ++i) {
      const lctxrt::ArgInfo &arg = entry->args[i];
      if (arg.role == LCTXRT_ARG_ROLE_OUTPUT &&
          std::string(arg.name) == "logits" && arg.dtype == LCTXRT_DTYPE_F32 &&
          arg.rank == 3 && arg.shape[0] == 1 && arg.shape[1] == n &&
          arg.shape[2] == vocab)
        logitsOk = true;
    }
    return inputs == 1 && logitsOk ? n : 0;
  }

  /// Runs the block entry `entry` on `n` tokens; `logits` become [n, V].
  lctxrt::Status runBlock(const std::string &entry, const std::string &input,
                          int64_t n, const int32_t *tokens,
                          std::vector<float> &logits) {
    std::vector<int64_t> shape = {1, n};
    std::vector<lctxrt_tensor_view_t> in = {
        {input.c_str(), LCTXRT_DTYPE_I32, 2, shape.data(), tokens,
         static_cast<size_t>(n) * sizeof(int32_t)}};
    std::vector<lctxrt_tensor_view_t> out = {
        {"logits", LCTXRT_DTYPE_F32, 0, nullptr, nullptr, 0}};
    lctxrt::Status status = session->run(entry, in, out);
    if (!status.ok())
      return status;
    const auto *data = static_cast<const float *>(out[0].data);
    logits.assign(data, data + n * vocab);
    consumed += n;
    return status;
  }

  lctxrt::Session *session = nullptr;
  int64_t vocab = 0, windowSize = 0, consumed = 0;
  std::string inputName;
  std::string blockEntry, blockInput;
  int64_t blockSize = 0;
  std::string extendInput;
  int64_t extendSize = 0;
  // The window's bytes (windowed models only, at most `window`).
  std::vector<int32_t> history;
};

} // namespace lctxrun

#endif // LCTX_RUNTIME_TOOLS_DECODERS_H
