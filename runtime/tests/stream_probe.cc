//===- stream_probe.cc - lctx-run's score path, instrumented ----*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
///
/// \file
/// Streams a file through an artifact's decode entry points with exactly
/// the code of `lctx-run --score` (lctxrun::score in model_driver.cpp) and
/// records, through its observer, what the streaming tests check
/// (test/Models/stream_test.py):
///
///   - the negative log-likelihood of every block of `--block` scored bytes
///     (bits per byte per block, e.g. 64K-token windows of a 1M stream);
///   - the logits at sampled offsets (`--logits-every`);
///   - non-finite logits and non-finite state values;
///   - every `--sample-every` bytes: the session's state bytes (the sum of
///     the sizes of every state the session hands out) and the process's
///     resident set size.
///
/// usage: lctx-stream-probe ARTIFACT WEIGHTS DATA OUT.json
///            [--block N] [--logits-every N] [--sample-every N]
///            [--offset N --state-in FILE] [--state-out FILE] [--blocks 0|1]
///
/// Every byte goes through the `decode` entry unless `--blocks 1`: then
/// whole blocks go through prefill_segment / prefill_chunk as in
/// `lctx-run --score`.
///
/// A long stream can be scored in pieces, one process each: `--state-in`
/// continues the stream from saved states (a "token" model without a
/// window; the piece's first byte is the last byte of the previous piece,
/// fed and not scored again), `--offset` is the piece's offset in the whole
/// stream (blocks and sampled logits are numbered in the whole stream), and
/// `--state-out` saves the states at the end.
///
/// Writes OUT.json; exit status 0 when the stream was scored, 1 on an error.
///
//===----------------------------------------------------------------------===//

#include "model_driver.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include <malloc.h>
#include <unistd.h>

namespace {

/// Resident set size of this process in bytes (/proc/self/statm).
long long residentBytes() {
  std::ifstream statm("/proc/self/statm");
  long long size = 0, resident = 0;
  statm >> size >> resident;
  return resident * static_cast<long long>(sysconf(_SC_PAGESIZE));
}

struct Sample {
  int64_t offset;
  long long rss;
  size_t stateBytes;
};

struct Block {
  int64_t start = 0, count = 0;
  double nll = 0;
};

} // namespace

int main(int argc, char **argv) {
  // As lctx-run does: keep freed memory in the process, reuse warm pages.
  mallopt(M_MMAP_THRESHOLD, 64 << 20);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  if (argc < 5) {
    std::fprintf(stderr,
                 "usage: lctx-stream-probe ARTIFACT WEIGHTS DATA OUT.json "
                 "[--block N] [--logits-every N] [--sample-every N]\n");
    return 2;
  }
  int64_t blockSize = 65536, logitsEvery = 131072, sampleEvery = 1000;
  int64_t base = 0;
  std::string stateIn, stateOut;
  bool useBlocks = false;
  for (int i = 5; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--blocks")) {
      useBlocks = !std::strcmp(argv[i + 1], "1");
      continue;
    }
    if (!std::strcmp(argv[i], "--state-in")) {
      stateIn = argv[i + 1];
      continue;
    }
    if (!std::strcmp(argv[i], "--state-out")) {
      stateOut = argv[i + 1];
      continue;
    }
    long long value = std::atoll(argv[i + 1]);
    if (!std::strcmp(argv[i], "--offset") && value >= 0) {
      base = value;
      continue;
    }
    if (value <= 0) {
      std::fprintf(stderr, "lctx-stream-probe: bad value '%s'\n", argv[i + 1]);
      return 2;
    }
    if (!std::strcmp(argv[i], "--block"))
      blockSize = value;
    else if (!std::strcmp(argv[i], "--logits-every"))
      logitsEvery = value;
    else if (!std::strcmp(argv[i], "--sample-every"))
      sampleEvery = value;
    else {
      std::fprintf(stderr, "lctx-stream-probe: unknown option '%s'\n",
                   argv[i]);
      return 2;
    }
  }
  auto artifact = lctxrt::Artifact::open(argv[1]);
  if (!artifact.ok()) {
    std::fprintf(stderr, "lctx-stream-probe: %s\n",
                 artifact.status().message());
    return 1;
  }
  auto weights = lctxrt::SafetensorsFile::open(argv[2]);
  if (!weights.ok()) {
    std::fprintf(stderr, "lctx-stream-probe: %s\n",
                 weights.status().message());
    return 1;
  }
  auto session = lctxrt::Session::create(*artifact, &*weights);
  if (!session.ok()) {
    std::fprintf(stderr, "lctx-stream-probe: %s\n",
                 session.status().message());
    return 1;
  }

  if (!stateIn.empty()) {
    auto saved = lctxrt::SafetensorsFile::open(stateIn);
    if (!saved.ok()) {
      std::fprintf(stderr, "lctx-stream-probe: %s\n",
                   saved.status().message());
      return 1;
    }
    for (size_t i = 0; i < saved->numTensors(); ++i) {
      auto t = saved->tensor(i);
      lctxrt_tensor_view_t view = {t->name, t->dtype, t->rank, t->shape,
                                   t->data, t->byte_size};
      if (lctxrt::Status status = session->writeState(view); !status.ok()) {
        std::fprintf(stderr, "lctx-stream-probe: %s\n", status.message());
        return 1;
      }
    }
  }

  std::vector<Block> blocks;
  std::vector<std::pair<int64_t, std::vector<float>>> sampledLogits;
  std::vector<Sample> samples;
  long long nonFiniteLogits = 0, nonFiniteState = 0;
  std::string stateError;

  // The bytes of every state the session holds now, checking the values
  // are finite.
  auto stateBytes = [&]() -> size_t {
    size_t bytes = 0;
    for (size_t i = 0; i < artifact->numStates(); ++i) {
      auto info = artifact->state(i);
      if (!info.ok())
        continue;
      auto view = session->readState(info->name);
      if (!view.ok()) {
        stateError = view.status().message();
        continue;
      }
      bytes += view->byte_size;
      if (view->dtype == LCTXRT_DTYPE_F32 || view->dtype == LCTXRT_DTYPE_C64) {
        const float *data = static_cast<const float *>(view->data);
        for (size_t k = 0; k < view->byte_size / sizeof(float); ++k)
          if (!std::isfinite(data[k]))
            ++nonFiniteState;
      }
    }
    return bytes;
  };

  int64_t scored = 0;
  auto observer = [&](int64_t local, const std::vector<float> &logits,
                      int32_t, double nll) {
    const int64_t offset = base + local;
    for (float l : logits)
      if (!std::isfinite(l))
        ++nonFiniteLogits;
    // Block k holds the scored offsets 1 + k * block .. (k + 1) * block.
    const int64_t start = (offset - 1) / blockSize * blockSize + 1;
    if (blocks.empty() || blocks.back().start != start) {
      blocks.emplace_back();
      blocks.back().start = start;
    }
    blocks.back().count += 1;
    blocks.back().nll += nll;
    if (offset % logitsEvery == 0)
      sampledLogits.emplace_back(offset, logits);
    ++scored;
    if (scored % sampleEvery == 0)
      samples.push_back({offset, residentBytes(), stateBytes()});
    return true;
  };
  lctxrun::ScoreOptions options;
  options.progress = false;
  options.observer = observer;
  options.continueStream = !stateIn.empty();
  options.blocks = useBlocks;
  int rc = lctxrun::score(*artifact, *session, argv[3], options);
  if (rc)
    return rc;
  if (!stateOut.empty()) {
    std::vector<lctxrt_tensor_view_t> states;
    for (size_t i = 0; i < artifact->numStates(); ++i) {
      auto value = session->readState(artifact->state(i)->name);
      if (!value.ok()) {
        std::fprintf(stderr, "lctx-stream-probe: %s\n",
                     value.status().message());
        return 1;
      }
      states.push_back(*value);
    }
    if (lctxrt::Status status = lctxrt::writeSafetensors(stateOut, states, {});
        !status.ok()) {
      std::fprintf(stderr, "lctx-stream-probe: %s\n", status.message());
      return 1;
    }
  }

  std::FILE *out = std::fopen(argv[4], "w");
  if (!out) {
    std::fprintf(stderr, "lctx-stream-probe: %s: cannot write\n", argv[4]);
    return 1;
  }
  std::fprintf(out, "{\"scored\": %lld, \"manifest_state_bytes\": %zu,\n",
               static_cast<long long>(scored), lctxrun::stateBytes(*artifact));
  std::fprintf(out, " \"nonfinite_logits\": %lld, \"nonfinite_state\": %lld,\n",
               nonFiniteLogits, nonFiniteState);
  std::fprintf(out, " \"state_error\": \"%s\",\n", stateError.c_str());
  std::fprintf(out, " \"blocks\": [");
  for (size_t i = 0; i < blocks.size(); ++i)
    std::fprintf(out, "%s\n  [%lld, %lld, %.17g]", i ? "," : "",
                 static_cast<long long>(blocks[i].start),
                 static_cast<long long>(blocks[i].count), blocks[i].nll);
  std::fprintf(out, "],\n \"samples\": [");
  for (size_t i = 0; i < samples.size(); ++i)
    std::fprintf(out, "%s[%lld, %lld, %zu]", i ? ", " : "",
                 static_cast<long long>(samples[i].offset), samples[i].rss,
                 samples[i].stateBytes);
  std::fprintf(out, "],\n \"logits\": [");
  for (size_t i = 0; i < sampledLogits.size(); ++i) {
    std::fprintf(out, "%s\n  [%lld, [", i ? "," : "",
                 static_cast<long long>(sampledLogits[i].first));
    const std::vector<float> &l = sampledLogits[i].second;
    for (size_t k = 0; k < l.size(); ++k)
      std::fprintf(out, "%s%.9g", k ? ", " : "", static_cast<double>(l[k]));
    std::fprintf(out, "]]");
  }
  std::fprintf(out, "]}\n");
  std::fclose(out);
  return 0;
}
