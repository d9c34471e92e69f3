//===- model_driver.cpp - lctx-run's generate and score modes ---*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
///
/// \file
/// Drives a byte model's decode entry points through a session: teacher-
/// forced prompts, sampling (greedy, temperature, top-p) and bits-per-byte
/// scoring of a file of any size in constant memory. The decode schedule
/// comes from the manifest's "model" description; "two-rate" is MEGABYTE's
/// (docs/models.md): `decode_global(patch_ids [1, P])` before every patch,
/// `decode_local(prev_id [1, 1]) -> logits [1, 1, V]` for every byte, over a
/// window of `context` bytes (state sized for it). When the window is full,
/// generation keeps the last half (whole patches) and replays it into fresh
/// state; scoring scores the file in consecutive windows, each from fresh
/// state.
///
//===----------------------------------------------------------------------===//

#include "model_driver.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <numeric>
#include <random>
#include <string>
#include <vector>

namespace lctxrun {
namespace {

int fail(const std::string &message) {
  std::fprintf(stderr, "lctx-run: error: %s\n", message.c_str());
  return 1;
}

/// Reads a positive integer entry of the manifest's "model".
bool modelInt(const lctxrt::Artifact &artifact, const char *key,
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

/// MEGABYTE's two-rate decode over one window of `context` bytes.
class TwoRateDecoder {
public:
  bool init(const lctxrt::Artifact &artifact, lctxrt::Session &session,
            std::string &error) {
    this->session = &session;
    int64_t batch = 0;
    if (!modelInt(artifact, "patch", patch, error) ||
        !modelInt(artifact, "context", context, error) ||
        !modelInt(artifact, "vocab", vocab, error) ||
        !modelInt(artifact, "batch", batch, error))
      return false;
    if (batch != 1) {
      error = std::string(artifact.path()) + ": generate and score drive one "
              "sequence; this model was compiled for batch " +
              std::to_string(batch) + " (set \"batch\": 1 in its config)";
      return false;
    }
    if (vocab > 256) {
      error = std::string(artifact.path()) + ": vocab " +
              std::to_string(vocab) + " is not a byte vocabulary";
      return false;
    }
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
      std::vector<lctxrt_tensor_view_t> in = {
          {"patch_ids", LCTXRT_DTYPE_I32, 2, shape.data(), ids.data(),
           ids.size() * sizeof(int32_t)}};
      std::vector<lctxrt_tensor_view_t> out;
      lctxrt::Status status = session->run("decode_global", in, out);
      if (!status.ok())
        return status;
    }
    int32_t prev = t % patch ? history[t - 1] : 0;
    std::vector<lctxrt_tensor_view_t> in = {
        {"prev_id", LCTXRT_DTYPE_I32, 2, prevShape.data(), &prev,
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
  bool full() const {
    return static_cast<int64_t>(history.size()) >= context;
  }

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

bool makeDecoder(const lctxrt::Artifact &artifact, lctxrt::Session &session,
                 TwoRateDecoder &decoder, std::string &error) {
  return checkSchedule(artifact, error) &&
         decoder.init(artifact, session, error);
}

/// Picks a byte from logits: argmax at temperature 0, otherwise a sample
/// from softmax(logits / temperature) restricted to the smallest set of
/// most likely bytes whose probability reaches top_p.
int32_t sample(const std::vector<float> &logits, const GenerateOptions &opt,
               std::mt19937_64 &rng) {
  if (opt.temperature <= 0)
    return static_cast<int32_t>(
        std::max_element(logits.begin(), logits.end()) - logits.begin());
  std::vector<double> p(logits.size());
  double mx = *std::max_element(logits.begin(), logits.end());
  double sum = 0;
  for (size_t i = 0; i < p.size(); ++i)
    sum += p[i] = std::exp((logits[i] - mx) / opt.temperature);
  std::vector<size_t> order(p.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(),
            [&](size_t a, size_t b) { return p[a] > p[b]; });
  double kept = 0;
  size_t n = 0;
  while (n < order.size() && (n == 0 || kept < opt.topP * sum))
    kept += p[order[n++]];
  double r = std::uniform_real_distribution<double>(0, kept)(rng);
  for (size_t i = 0; i < n; ++i) {
    r -= p[order[i]];
    if (r <= 0)
      return static_cast<int32_t>(order[i]);
  }
  return static_cast<int32_t>(order[n - 1]);
}

double seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                       since)
      .count();
}

} // namespace

bool checkSchedule(const lctxrt::Artifact &artifact, std::string &error) {
  const char *schedule = artifact.modelValue("decode");
  if (!schedule) {
    error = std::string(artifact.path()) +
            ": the manifest describes no decode schedule (compile a "
            "definition written by lctx-gen, which records it)";
    return false;
  }
  if (std::string(schedule) != "two-rate") {
    error = std::string(artifact.path()) + ": decode schedule '" + schedule +
            "' is not supported by lctx-run (supported: two-rate)";
    return false;
  }
  return true;
}

int generate(const lctxrt::Artifact &artifact, lctxrt::Session &session,
             const GenerateOptions &opt) {
  TwoRateDecoder decoder;
  std::string error;
  if (!makeDecoder(artifact, session, decoder, error))
    return fail(error);
  if (opt.prompt.empty())
    return fail("--prompt is empty: give at least one byte to start from");
  std::mt19937_64 rng(opt.seed);
  auto start = std::chrono::steady_clock::now();
  std::vector<float> logits;
  if (lctxrt::Status status = decoder.reset(); !status.ok())
    return fail(status.message());
  // Teacher-forced prompt (its last window if it is longer than one).
  std::string prompt = opt.prompt;
  for (unsigned char byte : prompt) {
    if (decoder.full())
      if (lctxrt::Status status = decoder.slide(); !status.ok())
        return fail(status.message());
    if (lctxrt::Status status = decoder.next(logits); !status.ok())
      return fail(status.message());
    decoder.push(byte);
  }
  double promptSeconds = seconds(start);
  std::fwrite(prompt.data(), 1, prompt.size(), stdout);
  start = std::chrono::steady_clock::now();
  for (size_t i = 0; i < opt.count; ++i) {
    if (decoder.full())
      if (lctxrt::Status status = decoder.slide(); !status.ok())
        return fail(status.message());
    if (lctxrt::Status status = decoder.next(logits); !status.ok())
      return fail(status.message());
    int32_t byte = sample(logits, opt, rng);
    decoder.push(byte);
    std::fputc(byte, stdout);
    std::fflush(stdout);
  }
  double genSeconds = seconds(start);
  std::fprintf(stderr,
               "\ngenerate: prompt %zu bytes in %.3f s, generated %zu bytes "
               "in %.3f s (%.1f bytes/s)\n",
               prompt.size(), promptSeconds, opt.count, genSeconds,
               genSeconds > 0 ? opt.count / genSeconds : 0.0);
  return 0;
}

int score(const lctxrt::Artifact &artifact, lctxrt::Session &session,
          const std::string &path, bool progress) {
  TwoRateDecoder decoder;
  std::string error;
  if (!makeDecoder(artifact, session, decoder, error))
    return fail(error);
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return fail(path + ": cannot open");
  in.seekg(0, std::ios::end);
  const std::streamoff total = in.tellg();
  in.seekg(0);
  if (total <= 0)
    return fail(path + ": the file is empty; there is nothing to score");
  const int64_t window = decoder.window();
  std::vector<char> buffer(static_cast<size_t>(window));
  std::vector<float> logits;
  double nll = 0; // nats
  int64_t scored = 0;
  auto start = std::chrono::steady_clock::now();
  double lastReport = 0;
  while (in) {
    in.read(buffer.data(), window);
    std::streamsize got = in.gcount();
    if (got <= 0)
      break;
    if (lctxrt::Status status = decoder.reset(); !status.ok())
      return fail(status.message());
    for (std::streamsize i = 0; i < got; ++i) {
      if (lctxrt::Status status = decoder.next(logits); !status.ok())
        return fail(status.message());
      int32_t byte = static_cast<unsigned char>(buffer[i]);
      if (byte >= decoder.vocabSize())
        return fail(path + ": byte " + std::to_string(byte) + " at offset " +
                    std::to_string(scored) + " is outside the model's " +
                    "vocabulary of " + std::to_string(decoder.vocabSize()));
      double mx = *std::max_element(logits.begin(), logits.end()), z = 0;
      for (float l : logits)
        z += std::exp(l - mx);
      nll += mx + std::log(z) - logits[byte];
      decoder.push(byte);
      ++scored;
    }
    double elapsed = seconds(start);
    if (progress && (elapsed - lastReport > 0.5 || scored == total)) {
      lastReport = elapsed;
      std::fprintf(stderr, "\rscore: %lld / %lld bytes (%.1f%%), %.0f bytes/s",
                   static_cast<long long>(scored),
                   static_cast<long long>(total), 100.0 * scored / total,
                   elapsed > 0 ? scored / elapsed : 0.0);
    }
  }
  double elapsed = seconds(start);
  if (progress)
    std::fprintf(stderr, "\n");
  std::printf("score: %s: %lld bytes, %.4f bits per byte (windows of %lld "
              "bytes, each from fresh state), %.3f s, %.0f bytes/s\n",
              path.c_str(), static_cast<long long>(scored),
              nll / std::log(2.0) / scored, static_cast<long long>(window),
              elapsed, elapsed > 0 ? scored / elapsed : 0.0);
  return 0;
}

} // namespace lctxrun
