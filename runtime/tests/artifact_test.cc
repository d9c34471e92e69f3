//===- artifact_test.cc - Running test artifacts ----------------*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
///
/// \file
/// Opens artifacts around the test kernel, inspects them through the C API,
/// runs their entry points and compares the outputs with values computed
/// here; checks the memref descriptors the runtime builds, its alignment and
/// zero-copy policy, several loaded artifacts at once, and concurrent
/// sessions.
///
//===----------------------------------------------------------------------===//

#include "artifact_fixture.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <dlfcn.h>
#include <unistd.h>

namespace {

using lctxrt::test::AlignedArray;
using lctxrt::test::ArtifactTest;
using lctxrt::test::kTableCols;
using lctxrt::test::kTableRows;
using lctxrt::test::tableValue;
using lctxrt::test::view;

const std::vector<int64_t> kShape23 = {2, 3};

class ArtifactRun : public ArtifactTest {
protected:
  /// Writes the test weights ("table") to a safetensors file; returns it.
  std::string writeWeights() {
    std::vector<float> table(kTableRows * kTableCols);
    for (int64_t v = 0; v < kTableRows; ++v)
      for (int64_t d = 0; d < kTableCols; ++d)
        table[v * kTableCols + d] = tableValue(v, d);
    std::string path = dir.path("weights.safetensors");
    const std::vector<int64_t> shape = {kTableRows, kTableCols};
    lctxrt::Status status = lctxrt::writeSafetensors(
        path, {view("table", LCTXRT_DTYPE_F32, shape, table.data(),
                    table.size() * sizeof(float))});
    EXPECT_TRUE(status.ok()) << status.toString();
    return path;
  }

  /// Runs axpy of \p session on random inputs at the given byte offsets
  /// from 64-byte boundaries and checks out = scale * x + y.
  void checkAxpy(lctxrt::Session &session, float scale, size_t inOffset = 0,
                 size_t outOffset = 0, unsigned seed = 1) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> dist(-4, 4);
    AlignedArray<float> x(6, inOffset), y(6, inOffset), out(6, outOffset);
    for (size_t i = 0; i < 6; ++i) {
      x[i] = dist(rng);
      y[i] = dist(rng);
    }
    std::vector<lctxrt_tensor_view_t> inputs = {
        view("y", LCTXRT_DTYPE_F32, kShape23, y.data(), y.bytes()),
        view("x", LCTXRT_DTYPE_F32, kShape23, x.data(), x.bytes())};
    std::vector<lctxrt_tensor_view_t> outputs = {
        view("out", LCTXRT_DTYPE_F32, kShape23, out.data(), out.bytes())};
    lctxrt::Status status = session.run("axpy", inputs, outputs);
    ASSERT_TRUE(status.ok()) << status.toString();
    EXPECT_EQ(outputs[0].data, out.data()); // The caller's buffer.
    for (size_t i = 0; i < 6; ++i)
      EXPECT_EQ(out[i], scale * x[i] + y[i]) << i;
  }
};

TEST_F(ArtifactRun, Describe) {
  auto artifact = open(lctxrt::test::modelManifest());
  ASSERT_TRUE(artifact.ok()) << artifact.status().toString();
  EXPECT_STREQ(artifact->manifestJson(), lctxrt::test::modelManifest().c_str());
  lctxrt_artifact_info_t info = artifact->info();
  EXPECT_EQ(info.version, 1u);
  EXPECT_STREQ(info.producer, "lctxrt tests");
  EXPECT_STREQ(info.target_kind, "cpu");
  EXPECT_STREQ(info.target_triple, lctxrt::test::kHostTriple);
  EXPECT_STREQ(info.target_cpu, "generic");
  EXPECT_STREQ(info.target_features, "");
  EXPECT_EQ(info.buffer_alignment, 64u);
  EXPECT_EQ(info.num_sections, 2u);
  EXPECT_EQ(info.num_entry_points, 5u);
  EXPECT_EQ(info.num_weights, 1u);

  auto section = artifact->section(1);
  ASSERT_TRUE(section.ok());
  EXPECT_EQ(section->kind, 2u);
  EXPECT_STREQ(section->kind_name, "cpu.so");
  EXPECT_STREQ(section->name, "cpu.so");
  EXPECT_EQ(section->offset % 64, 0u);
  EXPECT_EQ(section->size, lctxrt::test::kernelBytes().size());
  EXPECT_EQ(artifact->section(2).status().code(), LCTXRT_INVALID_ARGUMENT);

  auto embed = artifact->findEntryPoint("embed");
  ASSERT_TRUE(embed.ok()) << embed.status().toString();
  EXPECT_STREQ(embed->symbol, "lctx_entry_embed");
  EXPECT_STREQ(embed->section, "cpu.so");
  ASSERT_EQ(embed->num_args, 3u);
  EXPECT_EQ(embed->num_inputs, 1u);
  EXPECT_EQ(embed->num_weights, 1u);
  EXPECT_EQ(embed->num_outputs, 1u);
  const lctxrt_arg_info_t &table = embed->args[1];
  EXPECT_STREQ(table.name, "table");
  EXPECT_EQ(table.role, LCTXRT_ARG_ROLE_WEIGHT);
  EXPECT_EQ(table.dtype, LCTXRT_DTYPE_F32);
  EXPECT_EQ(table.rank, 2u);
  EXPECT_EQ(table.shape[0], 5);
  EXPECT_EQ(table.shape[1], 4);
  EXPECT_EQ(table.shape[2], 0);
  EXPECT_EQ(table.num_elements, 20u);
  EXPECT_EQ(table.byte_size, 80u);

  auto inspect = artifact->entryPoint(2);
  ASSERT_TRUE(inspect.ok());
  EXPECT_STREQ(inspect->name, "inspect");
  EXPECT_EQ(inspect->args[1].rank, 0u); // s: F64 [].
  EXPECT_EQ(inspect->args[1].num_elements, 1u);
  EXPECT_EQ(inspect->args[1].byte_size, 8u);
  auto empty = artifact->findEntryPoint("empty");
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->args[0].num_elements, 0u);
  EXPECT_EQ(empty->args[0].byte_size, 0u);

  auto weight = artifact->weight(0);
  ASSERT_TRUE(weight.ok());
  EXPECT_STREQ(weight->name, "table");
  EXPECT_EQ(weight->role, LCTXRT_ARG_ROLE_WEIGHT);
  EXPECT_EQ(weight->byte_size, 80u);

  auto missing = artifact->findEntryPoint("nope");
  EXPECT_EQ(missing.status().code(), LCTXRT_NOT_FOUND);
  EXPECT_NE(std::string(missing.status().message()).find("'nope'"),
            std::string::npos);
  EXPECT_EQ(artifact->entryPoint(5).status().code(), LCTXRT_INVALID_ARGUMENT);
  EXPECT_EQ(artifact->weight(1).status().code(), LCTXRT_INVALID_ARGUMENT);
}

TEST_F(ArtifactRun, NullArguments) {
  lctxrt_artifact_t *artifact = nullptr;
  lctxrt::Status status(lctxrt_artifact_open(nullptr, &artifact));
  EXPECT_EQ(status.code(), LCTXRT_INVALID_ARGUMENT);
  EXPECT_EQ(lctxrt::Status(lctxrt_artifact_open("x", nullptr)).code(),
            LCTXRT_INVALID_ARGUMENT);
  EXPECT_EQ(lctxrt_artifact_num_entry_points(nullptr), 0u);
  EXPECT_EQ(lctxrt_artifact_num_weights(nullptr), 0u);
  EXPECT_EQ(lctxrt_artifact_manifest_json(nullptr), nullptr);
  lctxrt_artifact_close(nullptr);
  lctxrt_session_close(nullptr);
  lctxrt_session_t *session = nullptr;
  EXPECT_EQ(
      lctxrt::Status(lctxrt_session_create(nullptr, nullptr, &session)).code(),
      LCTXRT_INVALID_ARGUMENT);
  EXPECT_EQ(lctxrt::Status(
                lctxrt_session_run(nullptr, "axpy", 0, nullptr, 0, nullptr))
                .code(),
            LCTXRT_INVALID_ARGUMENT);
  EXPECT_STREQ(lctxrt_arg_role_name(LCTXRT_ARG_ROLE_STATE_OUT), "state_out");
  EXPECT_EQ(lctxrt_arg_role_name(LCTXRT_ARG_ROLE_MAX_ENUM), nullptr);
}

TEST_F(ArtifactRun, AxpyInPlace) {
  auto artifact = open(lctxrt::test::modelManifest());
  ASSERT_TRUE(artifact.ok()) << artifact.status().toString();
  auto weights = lctxrt::SafetensorsFile::open(writeWeights());
  ASSERT_TRUE(weights.ok());
  auto session = lctxrt::Session::create(*artifact, &*weights);
  ASSERT_TRUE(session.ok()) << session.status().toString();
  for (unsigned seed = 1; seed <= 3; ++seed)
    checkAxpy(*session, 2.0f, 0, 0, seed);
  lctxrt_session_stats_t stats = session->stats();
  EXPECT_EQ(stats.runs, 3u);
  EXPECT_EQ(stats.input_bytes_copied, 0u);
  EXPECT_EQ(stats.output_bytes_copied, 0u);
}

TEST_F(ArtifactRun, AxpyMisalignedBuffersAreCopied) {
  auto artifact =
      open(lctxrt::test::manifestJson({lctxrt::test::axpyEntry()}, {}));
  ASSERT_TRUE(artifact.ok()) << artifact.status().toString();
  auto session = lctxrt::Session::create(*artifact);
  ASSERT_TRUE(session.ok()) << session.status().toString();
  checkAxpy(*session, 2.0f, /*inOffset=*/4, /*outOffset=*/4);
  lctxrt_session_stats_t stats = session->stats();
  EXPECT_EQ(stats.input_bytes_copied, 48u);
  EXPECT_EQ(stats.output_bytes_copied, 24u);
  checkAxpy(*session, 2.0f, /*inOffset=*/32, /*outOffset=*/0, 7);
  EXPECT_EQ(session->stats().input_bytes_copied, 96u);
  EXPECT_EQ(session->stats().output_bytes_copied, 24u);
}

TEST_F(ArtifactRun, RuntimeAllocatedOutputs) {
  auto artifact =
      open(lctxrt::test::manifestJson({lctxrt::test::axpyEntry()}, {}));
  ASSERT_TRUE(artifact.ok()) << artifact.status().toString();
  auto session = lctxrt::Session::create(*artifact);
  ASSERT_TRUE(session.ok()) << session.status().toString();
  for (float base : {1.0f, -3.0f}) {
    float x[6], y[6];
    for (int i = 0; i < 6; ++i) {
      x[i] = base * static_cast<float>(i);
      y[i] = static_cast<float>(10 + i);
    }
    std::vector<lctxrt_tensor_view_t> inputs = {
        view("x", LCTXRT_DTYPE_F32, kShape23, x, sizeof(x)),
        view("y", LCTXRT_DTYPE_F32, kShape23, y, sizeof(y))};
    std::vector<lctxrt_tensor_view_t> outputs = {
        {"out", LCTXRT_DTYPE_MAX_ENUM, 0, nullptr, nullptr, 0}};
    lctxrt::Status status = session->run("axpy", inputs, outputs);
    ASSERT_TRUE(status.ok()) << status.toString();
    const lctxrt_tensor_view_t &out = outputs[0];
    EXPECT_EQ(out.dtype, LCTXRT_DTYPE_F32);
    ASSERT_EQ(out.rank, 2u);
    EXPECT_EQ(out.shape[0], 2);
    EXPECT_EQ(out.shape[1], 3);
    EXPECT_EQ(out.byte_size, 24u);
    ASSERT_NE(out.data, nullptr);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(out.data) % 64, 0u);
    const auto *values = static_cast<const float *>(out.data);
    for (int i = 0; i < 6; ++i)
      EXPECT_EQ(values[i], 2 * x[i] + y[i]);
  }
  // Outputs nobody asks for are still computed (into runtime buffers).
  float x[6] = {}, y[6] = {};
  std::vector<lctxrt_tensor_view_t> inputs = {
      view("x", LCTXRT_DTYPE_F32, kShape23, x, sizeof(x)),
      view("y", LCTXRT_DTYPE_F32, kShape23, y, sizeof(y))};
  lctxrt::Status status(
      lctxrt_session_run(session->get(), "axpy", 2, inputs.data(), 0, nullptr));
  EXPECT_TRUE(status.ok()) << status.toString();
}

TEST_F(ArtifactRun, EmbedGathersWeightRows) {
  auto artifact = open(lctxrt::test::modelManifest());
  ASSERT_TRUE(artifact.ok()) << artifact.status().toString();
  auto weights = lctxrt::SafetensorsFile::open(writeWeights());
  ASSERT_TRUE(weights.ok());
  auto session = lctxrt::Session::create(*artifact, &*weights);
  ASSERT_TRUE(session.ok()) << session.status().toString();
  const int32_t ids[6] = {3, 3, 0, 4, 1, 2};
  const std::vector<int64_t> idsShape = {6};
  std::vector<float> out(24, -1.0f);
  const std::vector<int64_t> outShape = {6, 4};
  std::vector<lctxrt_tensor_view_t> inputs = {
      view("ids", LCTXRT_DTYPE_I32, idsShape, ids, sizeof(ids))};
  std::vector<lctxrt_tensor_view_t> outputs = {
      view("out", LCTXRT_DTYPE_F32, outShape, out.data(), 96)};
  lctxrt::Status status = session->run("embed", inputs, outputs);
  ASSERT_TRUE(status.ok()) << status.toString();
  for (int n = 0; n < 6; ++n)
    for (int d = 0; d < 4; ++d)
      EXPECT_EQ(out[n * 4 + d], tableValue(ids[n], d)) << n << "," << d;
}

TEST_F(ArtifactRun, ComplexAndEmptyTensors) {
  auto artifact = open(lctxrt::test::manifestJson(
      {lctxrt::test::conjEntry(), lctxrt::test::emptyEntry()}, {}));
  ASSERT_TRUE(artifact.ok()) << artifact.status().toString();
  auto session = lctxrt::Session::create(*artifact);
  ASSERT_TRUE(session.ok()) << session.status().toString();
  const float z[6] = {1, 2, -3, 4, 0.5f, -0.25f};
  const std::vector<int64_t> shape3 = {3};
  std::vector<lctxrt_tensor_view_t> inputs = {
      view("z", LCTXRT_DTYPE_C64, shape3, z, sizeof(z))};
  std::vector<lctxrt_tensor_view_t> outputs = {
      {"out", LCTXRT_DTYPE_C64, 0, nullptr, nullptr, 0}};
  lctxrt::Status status = session->run("conj", inputs, outputs);
  ASSERT_TRUE(status.ok()) << status.toString();
  ASSERT_EQ(outputs[0].byte_size, 24u);
  const auto *conj = static_cast<const float *>(outputs[0].data);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(conj[2 * i], z[2 * i]);
    EXPECT_EQ(conj[2 * i + 1], -z[2 * i + 1]);
  }

  const std::vector<int64_t> emptyShape = {0, 4};
  inputs = {view("x", LCTXRT_DTYPE_F32, emptyShape, nullptr, 0)};
  outputs = {{"out", LCTXRT_DTYPE_I64, 0, nullptr, nullptr, 0}};
  status = session->run("empty", inputs, outputs);
  ASSERT_TRUE(status.ok()) << status.toString();
  const auto *fields = static_cast<const int64_t *>(outputs[0].data);
  EXPECT_EQ(fields[0], 0);
  EXPECT_EQ(fields[1], 4);
  EXPECT_EQ(fields[2], 1); // The descriptor of an empty tensor is not NULL.
}

TEST_F(ArtifactRun, SeveralArtifactsWithDifferentCode) {
  const std::string manifest =
      lctxrt::test::manifestJson({lctxrt::test::axpyEntry()}, {});
  auto two = open(manifest, 2, "two.lctx");
  auto three = open(manifest, 3, "three.lctx");
  ASSERT_TRUE(two.ok()) << two.status().toString();
  ASSERT_TRUE(three.ok()) << three.status().toString();
  {
    auto s2 = lctxrt::Session::create(*two);
    auto s3 = lctxrt::Session::create(*three);
    ASSERT_TRUE(s2.ok() && s3.ok());
    checkAxpy(*s2, 2.0f);
    checkAxpy(*s3, 3.0f);
  }
  // Closing and reopening reuses descriptor numbers (and so the
  // /proc/self/fd names); each artifact must still run its own code.
  for (int round = 0; round < 6; ++round) {
    int kernel = round % 2 ? 3 : 2;
    auto artifact = open(manifest, kernel, "round.lctx");
    ASSERT_TRUE(artifact.ok()) << artifact.status().toString();
    auto session = lctxrt::Session::create(*artifact);
    ASSERT_TRUE(session.ok());
    checkAxpy(*session, static_cast<float>(kernel), 0, 0, round);
    if (round == 2)
      two = lctxrt::Artifact::open(dir.path("three.lctx")); // Replace one.
  }
  auto s2 = lctxrt::Session::create(*two);
  ASSERT_TRUE(s2.ok());
  checkAxpy(*s2, 3.0f);
}

/// Returns the descriptor numbers of open memfds named after a cpu.so
/// section ("/memfd:lctx:cpu.so (deleted)").
std::vector<int> codeMemfds() {
  std::vector<int> fds;
  for (int fd = 0; fd < 1024; ++fd) {
    char target[256];
    std::string link = "/proc/self/fd/" + std::to_string(fd);
    ssize_t n = ::readlink(link.c_str(), target, sizeof(target) - 1);
    if (n > 0 &&
        std::string(target, static_cast<size_t>(n)).find("memfd:lctx:cpu.so") !=
            std::string::npos)
      fds.push_back(fd);
  }
  return fds;
}

TEST_F(ArtifactRun, StaleLoadedObjectDoesNotShadowNewCode) {
  // glibc's dlopen returns an already-loaded object of the same name. Keep
  // the code of a closed artifact loaded under /proc/self/fd/N (an extra
  // handle), and check that the next artifact runs its own code. The
  // runtime keeps descriptor N open while its code stays loaded, so N is
  // not reused.
  const std::string manifest =
      lctxrt::test::manifestJson({lctxrt::test::axpyEntry()}, {});
  auto two = open(manifest, 2, "two.lctx");
  ASSERT_TRUE(two.ok()) << two.status().toString();
  std::vector<int> fds = codeMemfds();
  ASSERT_EQ(fds.size(), 1u);
  const std::string name = "/proc/self/fd/" + std::to_string(fds[0]);
  void *extra = ::dlopen(name.c_str(), RTLD_LAZY | RTLD_NOLOAD);
  ASSERT_NE(extra, nullptr) << "the code is not loaded under " << name;
  two = lctxrt::Artifact::open(dir.path("none.lctx")); // Closes it.
  ASSERT_EQ(codeMemfds(), fds) << "the still-loaded code's name was freed";
  auto three = open(manifest, 3, "three.lctx");
  ASSERT_TRUE(three.ok()) << three.status().toString();
  auto session = lctxrt::Session::create(*three);
  ASSERT_TRUE(session.ok());
  checkAxpy(*session, 3.0f);
  ::dlclose(extra);
}

TEST_F(ArtifactRun, ConcurrentSessions) {
  auto artifact =
      open(lctxrt::test::manifestJson({lctxrt::test::axpyEntry()}, {}));
  ASSERT_TRUE(artifact.ok()) << artifact.status().toString();
  std::vector<std::thread> threads;
  std::vector<int> failures(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      auto session = lctxrt::Session::create(*artifact);
      if (!session.ok()) {
        failures[t] = -1;
        return;
      }
      for (int r = 0; r < 200; ++r) {
        float x[6], y[6], out[6];
        for (int i = 0; i < 6; ++i) {
          x[i] = static_cast<float>(t * 1000 + r + i);
          y[i] = static_cast<float>(i);
        }
        std::vector<lctxrt_tensor_view_t> inputs = {
            view("x", LCTXRT_DTYPE_F32, kShape23, x, sizeof(x)),
            view("y", LCTXRT_DTYPE_F32, kShape23, y, sizeof(y))};
        std::vector<lctxrt_tensor_view_t> outputs = {
            view("out", LCTXRT_DTYPE_F32, kShape23, out, sizeof(out))};
        if (!session->run("axpy", inputs, outputs).ok()) {
          ++failures[t];
          continue;
        }
        for (int i = 0; i < 6; ++i)
          failures[t] += out[i] != 2 * x[i] + y[i];
      }
    });
  }
  for (std::thread &thread : threads)
    thread.join();
  for (int t = 0; t < 4; ++t)
    EXPECT_EQ(failures[t], 0) << "thread " << t;
}

} // namespace
