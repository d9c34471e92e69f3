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
/// comes from the manifest's "model" description (docs/models.md):
///
/// - "two-rate" is MEGABYTE's: `decode_global(patch_ids [1, P])` before
///   every patch, `decode_local(prev_id [1, 1]) -> logits [1, 1, V]` for
///   every byte, over a window of `context` bytes (state sized for it).
///   When the window is full, generation keeps the last half (whole
///   patches) and replays it into fresh state; scoring scores the file in
///   consecutive windows, each from fresh state.
/// - "token" (Infini-Transformer, Megalodon, Switch, Mixture-of-Depths):
///   `decode(id [1, 1]) -> logits [1, 1, V]` (its one input, whatever its
///   name: `ids` when lctx-compile derives the decode) consumes one byte
///   and predicts
///   the next. Without a `window` key the decode state is constant-size and
///   the stream is unbounded: a prompt or a file of any length goes through
///   one stream. With `window = N` the state holds at most N positions:
///   generation keeps the last N/2 bytes and replays them into fresh state,
///   scoring feeds consecutive windows of N bytes, each from fresh state,
///   overlapping by one byte so that every byte but the first is predicted.
///
//===----------------------------------------------------------------------===//

#include "model_driver.h"

#include "decoders.h"

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

#include <sys/resource.h>

namespace lctxrun {
namespace {

int fail(const std::string &message) {
  std::fprintf(stderr, "lctx-run: error: %s\n", message.c_str());
  return 1;
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

/// -log softmax(logits)[byte], in nats.
double negLogLikelihood(const std::vector<float> &logits, int32_t byte) {
  double mx = *std::max_element(logits.begin(), logits.end()), z = 0;
  for (float l : logits)
    z += std::exp(l - mx);
  return mx + std::log(z) - logits[byte];
}

double peakRssMiB() {
  struct rusage usage;
  if (::getrusage(RUSAGE_SELF, &usage) != 0)
    return 0;
  return static_cast<double>(usage.ru_maxrss) / 1024.0;
}

/// The prompt, teacher-forced, then `count` sampled bytes, through any
/// decoder with `full()`, `slide()` and a `step(byte, logits)` that
/// consumes a known byte and leaves the next prediction in `logits` (for a
/// two-rate decoder the prediction comes first: see below).
template <typename Decoder, typename Step>
int generateWith(Decoder &decoder, const GenerateOptions &opt, Step step,
                 std::vector<float> &logits) {
  std::mt19937_64 rng(opt.seed);
  auto start = std::chrono::steady_clock::now();
  if (lctxrt::Status status = decoder.reset(); !status.ok())
    return fail(status.message());
  // Teacher-forced prompt (through sliding windows if it is longer than
  // one).
  for (unsigned char byte : opt.prompt)
    if (lctxrt::Status status = step(byte); !status.ok())
      return fail(status.message());
  double promptSeconds = seconds(start);
  std::fwrite(opt.prompt.data(), 1, opt.prompt.size(), stdout);
  start = std::chrono::steady_clock::now();
  for (size_t i = 0; i < opt.count; ++i) {
    int32_t byte = sample(logits, opt, rng);
    std::fputc(byte, stdout);
    std::fflush(stdout);
    if (i + 1 < opt.count)
      if (lctxrt::Status status = step(byte); !status.ok())
        return fail(status.message());
  }
  double genSeconds = seconds(start);
  std::fprintf(stderr,
               "\ngenerate: prompt %zu bytes in %.3f s, generated %zu bytes "
               "in %.3f s (%.1f bytes/s)\n",
               opt.prompt.size(), promptSeconds, opt.count, genSeconds,
               genSeconds > 0 ? opt.count / genSeconds : 0.0);
  return 0;
}

/// Streams the file at `path` in blocks, calling `byteFn(offset, byte)`
/// for every byte; shows progress on stderr. Returns the exit status
/// (`byteFn` returns one too: nonzero stops).
template <typename ByteFn>
int streamFile(const std::string &path, bool progress, int64_t &total,
               double &elapsed, ByteFn byteFn) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return fail(path + ": cannot open");
  in.seekg(0, std::ios::end);
  total = static_cast<int64_t>(in.tellg());
  in.seekg(0);
  if (total <= 0)
    return fail(path + ": the file is empty; there is nothing to score");
  std::vector<char> buffer(1 << 16);
  int64_t offset = 0;
  auto start = std::chrono::steady_clock::now();
  double lastReport = 0;
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    std::streamsize got = in.gcount();
    if (got <= 0)
      break;
    for (std::streamsize i = 0; i < got; ++i, ++offset)
      if (int rc = byteFn(offset, static_cast<unsigned char>(buffer[i])))
        return rc;
    elapsed = seconds(start);
    if (progress && (elapsed - lastReport > 0.5 || offset == total)) {
      lastReport = elapsed;
      std::fprintf(stderr, "\rscore: %lld / %lld bytes (%.1f%%), %.0f bytes/s",
                   static_cast<long long>(offset),
                   static_cast<long long>(total), 100.0 * offset / total,
                   elapsed > 0 ? offset / elapsed : 0.0);
    }
  }
  elapsed = seconds(start);
  if (progress)
    std::fprintf(stderr, "\n");
  return 0;
}

int badByte(const std::string &path, int32_t byte, int64_t offset,
            int64_t vocab) {
  return fail(path + ": byte " + std::to_string(byte) + " at offset " +
              std::to_string(offset) + " is outside the model's " +
              "vocabulary of " + std::to_string(vocab));
}

bool isTokenSchedule(const lctxrt::Artifact &artifact) {
  const char *schedule = artifact.modelValue("decode");
  return schedule && std::string(schedule) == "token";
}

int generateTwoRate(const lctxrt::Artifact &artifact,
                    lctxrt::Session &session, const GenerateOptions &opt) {
  TwoRateDecoder decoder;
  std::string error;
  if (!decoder.init(artifact, session, error))
    return fail(error);
  // The two-rate decoder predicts before it consumes: `next` gives the
  // logits of the byte after the history, `push` appends the byte.
  std::vector<float> logits;
  bool havePrediction = false;
  auto step = [&](int32_t byte) -> lctxrt::Status {
    if (!havePrediction) {
      if (decoder.full())
        if (lctxrt::Status status = decoder.slide(); !status.ok())
          return status;
      if (lctxrt::Status status = decoder.next(logits); !status.ok())
        return status;
    }
    decoder.push(byte);
    if (decoder.full())
      if (lctxrt::Status status = decoder.slide(); !status.ok())
        return status;
    havePrediction = true;
    return decoder.next(logits);
  };
  return generateWith(decoder, opt, step, logits);
}

int generateToken(const lctxrt::Artifact &artifact, lctxrt::Session &session,
                  const GenerateOptions &opt) {
  TokenDecoder decoder;
  std::string error;
  if (!decoder.init(artifact, session, error))
    return fail(error);
  // A windowed model with an `extend` entry takes the prompt S bytes at a
  // time while they fit in the window; the rest goes byte by byte.
  const int64_t extend = decoder.findExtendEntry(artifact);
  std::vector<float> logits, blockLogits;
  std::vector<int32_t> block;
  size_t promptSeen = 0; // prompt bytes passed to `step` so far
  int64_t skip = 0;      // bytes of the last block, already fed
  auto step = [&](int32_t byte) -> lctxrt::Status {
    const bool inPrompt = promptSeen < opt.prompt.size();
    const size_t at = promptSeen; // `byte` is opt.prompt[at] in the prompt
    if (inPrompt)
      ++promptSeen;
    if (skip > 0) {
      --skip;
      return lctxrt::Status();
    }
    if (extend && inPrompt &&
        at + static_cast<size_t>(extend) <= opt.prompt.size() &&
        decoder.room() >= extend) {
      block.assign(opt.prompt.begin() + at,
                   opt.prompt.begin() + at + extend);
      for (int32_t &b : block)
        b = static_cast<unsigned char>(b);
      if (lctxrt::Status status = decoder.feedExtend(block.data(),
                                                     blockLogits);
          !status.ok())
        return status;
      logits.assign(blockLogits.end() - decoder.vocabSize(),
                    blockLogits.end());
      skip = extend - 1;
      return lctxrt::Status();
    }
    if (decoder.full())
      if (lctxrt::Status status = decoder.slide(); !status.ok())
        return status;
    return decoder.feed(byte, logits);
  };
  return generateWith(decoder, opt, step, logits);
}

int scoreTwoRate(const lctxrt::Artifact &artifact, lctxrt::Session &session,
                 const std::string &path, bool progress,
                 const ScoreObserver &observer) {
  TwoRateDecoder decoder;
  std::string error;
  if (!decoder.init(artifact, session, error))
    return fail(error);
  const int64_t window = decoder.window();
  std::vector<float> logits;
  double nll = 0; // nats
  int64_t total = 0;
  double elapsed = 0;
  int rc = streamFile(
      path, progress, total, elapsed, [&](int64_t offset, int32_t byte) {
        if (offset % window == 0)
          if (lctxrt::Status status = decoder.reset(); !status.ok())
            return fail(status.message());
        if (lctxrt::Status status = decoder.next(logits); !status.ok())
          return fail(status.message());
        if (byte >= decoder.vocabSize())
          return badByte(path, byte, offset, decoder.vocabSize());
        double term = negLogLikelihood(logits, byte);
        nll += term;
        if (observer && !observer(offset, logits, byte, term))
          return fail(path + ": stopped at offset " + std::to_string(offset));
        decoder.push(byte);
        return 0;
      });
  if (rc)
    return rc;
  std::printf("score: %s: %lld bytes, %.6f bits per byte (windows of %lld "
              "bytes, each from fresh state), %.3f s, %.0f bytes/s\n",
              path.c_str(), static_cast<long long>(total),
              nll / std::log(2.0) / total, static_cast<long long>(window),
              elapsed, elapsed > 0 ? total / elapsed : 0.0);
  std::printf("score: state %zu bytes per session, peak RSS %.1f MiB\n",
              stateBytes(artifact), peakRssMiB());
  return 0;
}

int scoreToken(const lctxrt::Artifact &artifact, lctxrt::Session &session,
               const std::string &path, const ScoreOptions &options) {
  TokenDecoder decoder;
  std::string error;
  if (!decoder.init(artifact, session, error))
    return fail(error);
  if (options.continueStream && decoder.window())
    return fail(std::string(artifact.path()) +
                ": a windowed model's score starts every window from "
                "fresh state; it cannot continue a stream");
  if (!options.continueStream)
    if (lctxrt::Status status = decoder.reset(); !status.ok())
      return fail(status.message());
  // Whole blocks through prefill_segment / prefill_chunk (a fresh stream is
  // at a block boundary), the rest through decode.
  const int64_t block = options.blocks && !options.continueStream
                            ? decoder.findBlockEntry(artifact)
                            : 0;
  // A windowed model: S bytes at a time through `extend` while they fit in
  // the window, the rest through decode.
  const int64_t extend = options.blocks && !options.continueStream
                             ? decoder.findExtendEntry(artifact)
                             : 0;
  const int64_t vocab = decoder.vocabSize();
  std::vector<float> logits, blockLogits, row;
  std::vector<int32_t> pending; // unfed bytes of the current block
  int64_t pendingStart = 0;
  double nll = 0; // nats
  int64_t total = 0;
  double elapsed = 0;
  auto scoreByte = [&](int64_t offset, int32_t byte,
                       const std::vector<float> &prediction) {
    double term = negLogLikelihood(prediction, byte);
    nll += term;
    if (options.observer && !options.observer(offset, prediction, byte, term))
      return fail(path + ": stopped at offset " + std::to_string(offset));
    return 0;
  };
  // Feeds the full pending block and scores its bytes after the first
  // (which the previous prediction scored).
  auto flushBlock = [&]() {
    if (lctxrt::Status status = decoder.feedBlock(pending, blockLogits);
        !status.ok())
      return fail(status.message());
    for (int64_t i = 1; i < block; ++i) {
      row.assign(blockLogits.begin() + (i - 1) * vocab,
                 blockLogits.begin() + i * vocab);
      if (int rc = scoreByte(pendingStart + i, pending[i], row))
        return rc;
    }
    logits.assign(blockLogits.end() - vocab, blockLogits.end());
    pending.clear();
    return 0;
  };
  // With `extend`: `pending` holds the unfed bytes from file offset
  // `pendingStart`, the first of them already scored; feeding byte i
  // predicts byte i + 1, so a block of S is fed once the byte after it is
  // known. A full window starts again from fresh state.
  auto pump = [&](bool last) {
    size_t used = 0;
    for (;;) {
      if (decoder.full())
        if (lctxrt::Status status = decoder.reset(); !status.ok())
          return fail(status.message());
      const size_t left = pending.size() - used;
      if (decoder.room() >= extend && left >= static_cast<size_t>(extend) + 1) {
        if (lctxrt::Status status =
                decoder.feedExtend(pending.data() + used, blockLogits);
            !status.ok())
          return fail(status.message());
        for (int64_t i = 0; i < extend; ++i) {
          row.assign(blockLogits.begin() + i * vocab,
                     blockLogits.begin() + (i + 1) * vocab);
          if (int rc = scoreByte(pendingStart + used + i + 1,
                                 pending[used + i + 1], row))
            return rc;
        }
        used += extend;
        continue;
      }
      if (left >= 2 && (last || decoder.room() < extend)) {
        if (lctxrt::Status status = decoder.feed(pending[used], logits);
            !status.ok())
          return fail(status.message());
        if (int rc = scoreByte(pendingStart + used + 1, pending[used + 1],
                               logits))
          return rc;
        ++used;
        continue;
      }
      break;
    }
    pending.erase(pending.begin(), pending.begin() + used);
    pendingStart += used;
    return 0;
  };
  int rc = streamFile(
      path, options.progress, total, elapsed,
      [&](int64_t offset, int32_t byte) {
        if (byte >= vocab)
          return badByte(path, byte, offset, vocab);
        if (extend) {
          pending.push_back(byte);
          return pump(offset + 1 == total);
        }
        if (block) {
          // A full block with more bytes after it: feed it.
          if (static_cast<int64_t>(pending.size()) == block)
            if (int rc = flushBlock())
              return rc;
          if (pending.empty()) {
            if (offset > 0)
              if (int rc = scoreByte(offset, byte, logits))
                return rc;
            pendingStart = offset;
          }
          pending.push_back(byte);
          return 0;
        }
        if (offset > 0)
          if (int rc = scoreByte(offset, byte, logits))
            return rc;
        if (offset + 1 == total)
          return 0; // nothing left to predict
        // A full window: the next one starts from fresh state with this
        // byte (already scored) as its first.
        if (decoder.full())
          if (lctxrt::Status status = decoder.reset(); !status.ok())
            return fail(status.message());
        if (lctxrt::Status status = decoder.feed(byte, logits); !status.ok())
          return fail(status.message());
        return 0;
      });
  if (rc)
    return rc;
  // The last block: byte by byte through decode (its last byte is not fed).
  for (size_t i = 0; !extend && i + 1 < pending.size(); ++i) {
    if (lctxrt::Status status = decoder.feed(pending[i], logits);
        !status.ok())
      return fail(status.message());
    if (int rc = scoreByte(pendingStart + static_cast<int64_t>(i) + 1,
                           pending[i + 1], logits))
      return rc;
  }
  if (total < 2)
    return fail(path + ": the file has one byte; a token model predicts "
                       "each byte from the bytes before it, so there is "
                       "nothing to score");
  const int64_t predicted = total - 1;
  std::string how =
      decoder.window()
          ? "windows of " + std::to_string(decoder.window()) +
                " bytes overlapping by one, each from fresh state" +
                (extend ? "; blocks of " + std::to_string(extend) +
                              " bytes through extend, the rest through "
                              "decode"
                        : "")
      : block ? "one stream: blocks of " + std::to_string(block) +
                    " bytes through " + decoder.blockEntryName() +
                    ", the rest through decode"
              : std::string("one stream");
  std::printf("score: %s: %lld bytes, %.6f bits per byte (%lld bytes "
              "predicted from the bytes before them, %s), %.3f s, "
              "%.0f bytes/s\n",
              path.c_str(), static_cast<long long>(total),
              nll / std::log(2.0) / predicted,
              static_cast<long long>(predicted), how.c_str(), elapsed,
              elapsed > 0 ? total / elapsed : 0.0);
  std::printf("score: state %zu bytes per session, peak RSS %.1f MiB\n",
              stateBytes(artifact), peakRssMiB());
  return 0;
}

} // namespace

size_t stateBytes(const lctxrt::Artifact &artifact) {
  size_t bytes = 0;
  for (size_t i = 0; i < artifact.numStates(); ++i)
    if (auto state = artifact.state(i); state.ok())
      bytes += state->byte_size;
  return bytes;
}

bool checkSchedule(const lctxrt::Artifact &artifact, std::string &error) {
  const char *schedule = artifact.modelValue("decode");
  if (!schedule) {
    error = std::string(artifact.path()) +
            ": the manifest describes no decode schedule (compile a "
            "definition written by lctx-gen, which records it)";
    return false;
  }
  std::string name = schedule;
  if (name != "two-rate" && name != "token") {
    error = std::string(artifact.path()) + ": decode schedule '" + name +
            "' is not supported by lctx-run (supported: two-rate, token)";
    return false;
  }
  return true;
}

int generate(const lctxrt::Artifact &artifact, lctxrt::Session &session,
             const GenerateOptions &opt) {
  if (std::string error; !checkSchedule(artifact, error))
    return fail(error);
  if (opt.prompt.empty())
    return fail("--prompt is empty: give at least one byte to start from");
  return isTokenSchedule(artifact) ? generateToken(artifact, session, opt)
                                   : generateTwoRate(artifact, session, opt);
}

int score(const lctxrt::Artifact &artifact, lctxrt::Session &session,
          const std::string &path, const ScoreOptions &options) {
  if (std::string error; !checkSchedule(artifact, error))
    return fail(error);
  if (isTokenSchedule(artifact))
    return scoreToken(artifact, session, path, options);
  if (options.continueStream)
    return fail(std::string(artifact.path()) +
                ": the two-rate score starts every window from fresh "
                "state; it cannot continue a stream");
  return scoreTwoRate(artifact, session, path, options.progress,
                      options.observer);
}

int score(const lctxrt::Artifact &artifact, lctxrt::Session &session,
          const std::string &path, bool progress) {
  ScoreOptions options;
  options.progress = progress;
  return score(artifact, session, path, options);
}

} // namespace lctxrun
