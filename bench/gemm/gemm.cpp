//===- bench/gemm/gemm.cpp - lctx GEMM against OpenBLAS cblas_sgemm -------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// usage: gemm ARTIFACT M K N THREADS [REPEAT [median|min]]
//
// ARTIFACT is an lctx artifact whose entry point computes C[M, N] = A[M, K]
// B[K, N] from two f32 inputs (bench/gemm/run compiles it from an
// `lctx.linear`). The program runs it through the runtime C API and times
// cblas_sgemm on the same inputs, both on THREADS threads, and prints one
// markdown table row: shape, threads, lctx ms and GFLOP/s, OpenBLAS ms and
// GFLOP/s, lctx/OpenBLAS (GFLOP/s ratio, > 1 means lctx is faster), and the
// largest difference between the two results relative to max |C|. Times
// are the median (default) or the minimum of REPEAT calls (after 3 warm-up
// calls), taken in 4 alternating rounds of each library; the minimum is the
// steadier statistic on a busy machine.
//
// The thread count must be fixed before the OpenMP runtime starts:
// OMP_NUM_THREADS is set before the artifact (which loads libomp) is opened.
// Each round of one library starts after the other's worker threads have
// gone idle (a pause between rounds), so that neither competes with the
// other's spinning workers.
//
//===----------------------------------------------------------------------===//

#include "lctxrt/lctxrt.h"

#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace {

[[noreturn]] void fail(const std::string &what, lctxrt_status_t status) {
  std::fprintf(stderr, "gemm: %s: %s\n", what.c_str(),
               lctxrt_status_message(status));
  lctxrt_status_free(status);
  std::exit(1);
}

void check(lctxrt_status_t status, const std::string &what) {
  if (status)
    fail(what, status);
}

/// 64-byte aligned float storage (the artifact's buffer alignment), so the
/// runtime passes the caller's buffers through without copies.
struct Buffer {
  explicit Buffer(size_t n)
      : data(static_cast<float *>(
            std::aligned_alloc(64, (n * sizeof(float) + 63) / 64 * 64))),
        size(n) {
    if (!data) {
      std::fprintf(stderr, "gemm: out of memory\n");
      std::exit(1);
    }
  }
  ~Buffer() { std::free(data); }
  Buffer(const Buffer &) = delete;
  Buffer &operator=(const Buffer &) = delete;
  float *data;
  size_t size;
};

/// Appends the times of `repeat` calls, after `warmup` untimed ones, in ms.
template <typename F>
void timeCalls(F &&call, int warmup, int repeat, std::vector<double> &ms) {
  for (int i = 0; i < warmup; ++i)
    call();
  for (int i = 0; i < repeat; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    call();
    auto t1 = std::chrono::steady_clock::now();
    ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
  }
}

double statistic(std::vector<double> ms, bool minimum) {
  std::sort(ms.begin(), ms.end());
  if (minimum)
    return ms.front();
  size_t n = ms.size();
  return n % 2 ? ms[n / 2] : 0.5 * (ms[n / 2 - 1] + ms[n / 2]);
}

/// Rounds the timed calls are split into (see main).
constexpr int kRounds = 4;

} // namespace

int main(int argc, char **argv) {
  if (argc < 6 || argc > 8 ||
      (argc == 8 && std::strcmp(argv[7], "median") != 0 &&
       std::strcmp(argv[7], "min") != 0)) {
    std::fprintf(stderr,
                 "usage: gemm ARTIFACT M K N THREADS [REPEAT [median|min]]\n");
    return 2;
  }
  const char *path = argv[1];
  int64_t m = std::atoll(argv[2]), k = std::atoll(argv[3]),
          n = std::atoll(argv[4]);
  int threads = std::atoi(argv[5]);
  int repeat = argc >= 7 ? std::atoi(argv[6]) : 20;
  bool minimum = argc == 8 && std::strcmp(argv[7], "min") == 0;
  if (m < 1 || k < 1 || n < 1 || threads < 1 || repeat < 1) {
    std::fprintf(stderr, "gemm: sizes, threads and repeat must be >= 1\n");
    return 2;
  }
  std::string count = std::to_string(threads);
  setenv("OMP_NUM_THREADS", count.c_str(), 1);
  openblas_set_num_threads(threads);

  lctxrt_artifact_t *artifact = nullptr;
  check(lctxrt_artifact_open(path, &artifact), path);
  lctxrt_entry_point_info_t entry;
  check(lctxrt_artifact_entry_point_info(artifact, 0, &entry), "entry point");
  if (entry.num_inputs != 2 || entry.num_outputs != 1 ||
      entry.num_weights != 0) {
    std::fprintf(stderr, "gemm: %s: expected 2 inputs and 1 output\n", path);
    return 1;
  }
  lctxrt_session_t *session = nullptr;
  check(lctxrt_session_create(artifact, nullptr, &session), "session");

  Buffer a(m * k), b(k * n), c(m * n), ref(m * n);
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  for (size_t i = 0; i < a.size; ++i)
    a.data[i] = dist(rng);
  for (size_t i = 0; i < b.size; ++i)
    b.data[i] = dist(rng);

  // Bind the inputs and the output by the manifest's names and shapes.
  std::vector<lctxrt_tensor_view_t> inputs;
  lctxrt_tensor_view_t output{};
  const Buffer *inputBuffers[] = {&a, &b};
  size_t nextInput = 0;
  for (size_t i = 0; i < entry.num_args; ++i) {
    const lctxrt_arg_info_t &arg = entry.args[i];
    lctxrt_tensor_view_t view{arg.name, arg.dtype, arg.rank, arg.shape,
                              nullptr, arg.byte_size};
    if (arg.role == LCTXRT_ARG_ROLE_INPUT) {
      const Buffer *buf = inputBuffers[nextInput++];
      if (arg.byte_size != buf->size * sizeof(float)) {
        std::fprintf(stderr, "gemm: %s: input '%s' is not %lldx%lld\n", path,
                     arg.name, static_cast<long long>(nextInput == 1 ? m : k),
                     static_cast<long long>(nextInput == 1 ? k : n));
        return 1;
      }
      view.data = buf->data;
      inputs.push_back(view);
    } else if (arg.role == LCTXRT_ARG_ROLE_OUTPUT) {
      if (arg.byte_size != c.size * sizeof(float)) {
        std::fprintf(stderr, "gemm: %s: the output is not %lldx%lld\n", path,
                     static_cast<long long>(m), static_cast<long long>(n));
        return 1;
      }
      view.data = c.data;
      output = view;
    }
  }

  auto runLctx = [&] {
    check(lctxrt_session_run(session, entry.name, inputs.size(), inputs.data(),
                             1, &output),
          "run");
  };
  auto runBlas = [&] {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1.0f,
                a.data, k, b.data, n, 0.0f, ref.data, n);
  };

  // Rounds of lctx calls and OpenBLAS calls, so that both see the same
  // machine load; a pause lets the other library's workers stop spinning.
  std::vector<double> lctxTimes, blasTimes;
  for (int round = 0; round < kRounds; ++round) {
    int calls = (repeat + kRounds - 1 - round) / kRounds;
    timeCalls(runLctx, round == 0 ? 3 : 1, calls, lctxTimes);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    timeCalls(runBlas, round == 0 ? 3 : 1, calls, blasTimes);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
  }
  double lctxMs = statistic(lctxTimes, minimum);
  double blasMs = statistic(blasTimes, minimum);

  double maxAbs = 0, maxDiff = 0;
  for (size_t i = 0; i < c.size; ++i) {
    maxAbs = std::max(maxAbs, std::fabs(double(ref.data[i])));
    maxDiff = std::max(maxDiff, std::fabs(double(c.data[i]) - ref.data[i]));
  }
  double flops = 2.0 * double(m) * double(k) * double(n);
  double lctxGflops = flops / (lctxMs * 1e6), blasGflops = flops / (blasMs * 1e6);
  std::printf("| %lldx%lldx%lld | %d | %.3f | %.1f | %.3f | %.1f | %.2f | %.1e "
              "|\n",
              static_cast<long long>(m), static_cast<long long>(k),
              static_cast<long long>(n), threads, lctxMs, lctxGflops, blasMs,
              blasGflops, lctxGflops / blasGflops,
              maxAbs > 0 ? maxDiff / maxAbs : maxDiff);

  lctxrt_session_close(session);
  lctxrt_artifact_close(artifact);
  return 0;
}
