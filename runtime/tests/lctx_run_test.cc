//===- lctx_run_test.cc - lctx-run end to end -------------------*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
///
/// \file
/// Runs the lctx-run tool (path LCTXRT_RUN_PATH) on artifacts around the
/// test kernel and compares the outputs it writes with --output against
/// values computed here.
///
//===----------------------------------------------------------------------===//

#include "artifact_fixture.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <vector>

#include <sys/wait.h>

namespace {

using lctxrt::test::ArtifactTest;
using lctxrt::test::tableValue;
using lctxrt::test::view;

class LctxRun : public ArtifactTest {
protected:
  /// Runs lctx-run with \p args; returns its exit status. Output goes to
  /// files in the temporary directory.
  int run(const std::string &args) {
    std::string command = std::string(LCTXRT_RUN_PATH) + " " + args + " >" +
                          dir.path("stdout") + " 2>" + dir.path("stderr");
    int status = std::system(command.c_str());
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  std::string stderrText() {
    return lctxrt::test::readFile(dir.path("stderr"));
  }
};

TEST_F(LctxRun, AxpyFromSafetensorsInputs) {
  auto artifact =
      open(lctxrt::test::manifestJson({lctxrt::test::axpyEntry()}, {}));
  ASSERT_TRUE(artifact.ok()) << artifact.status().toString();
  float x[6], y[6];
  for (int i = 0; i < 6; ++i) {
    x[i] = 0.25f * static_cast<float>(i) - 1.0f;
    y[i] = static_cast<float>(i * i);
  }
  const std::vector<int64_t> shape = {2, 3};
  std::string inputs = dir.path("in.safetensors");
  ASSERT_TRUE(
      lctxrt::writeSafetensors(
          inputs, {view("x", LCTXRT_DTYPE_F32, shape, x, sizeof(x)),
                   view("y", LCTXRT_DTYPE_F32, shape, y, sizeof(y)),
                   view("unused", LCTXRT_DTYPE_F32, shape, y, sizeof(y))})
          .ok());
  std::string output = dir.path("out.safetensors");
  ASSERT_EQ(run(dir.path("test.lctx") + " --inputs " + inputs + " --output " +
                output + " --repeat 5"),
            0)
      << stderrText();
  auto file = lctxrt::SafetensorsFile::open(output);
  ASSERT_TRUE(file.ok()) << file.status().toString();
  EXPECT_EQ(file->metadata("entry").value_or(""), "axpy");
  auto out = file->find("out");
  ASSERT_TRUE(out.ok());
  ASSERT_EQ(out->dtype, LCTXRT_DTYPE_F32);
  ASSERT_EQ(out->num_elements, 6u);
  const auto *values = static_cast<const float *>(out->data);
  for (int i = 0; i < 6; ++i)
    EXPECT_EQ(values[i], 2 * x[i] + y[i]) << i;
}

TEST_F(LctxRun, EmbedWithWeightsAndRawIds) {
  auto artifact = open(lctxrt::test::modelManifest());
  ASSERT_TRUE(artifact.ok()) << artifact.status().toString();
  std::vector<float> table(20);
  for (int v = 0; v < 5; ++v)
    for (int d = 0; d < 4; ++d)
      table[v * 4 + d] = tableValue(v, d);
  const std::vector<int64_t> tableShape = {5, 4};
  std::string weights = dir.path("w.safetensors");
  ASSERT_TRUE(
      lctxrt::writeSafetensors(weights, {view("table", LCTXRT_DTYPE_F32,
                                              tableShape, table.data(), 80)})
          .ok());
  const int32_t ids[6] = {1, 1, 4, 0, 2, 3};
  lctxrt::test::writeFile(
      dir.path("ids.bin"),
      std::string(reinterpret_cast<const char *>(ids), sizeof(ids)));
  std::string output = dir.path("out.safetensors");
  ASSERT_EQ(run(dir.path("test.lctx") + " --entry embed --weights " + weights +
                " --input ids=" + dir.path("ids.bin") + " --output " + output),
            0)
      << stderrText();
  auto file = lctxrt::SafetensorsFile::open(output);
  ASSERT_TRUE(file.ok()) << file.status().toString();
  auto out = file->find("out");
  ASSERT_TRUE(out.ok());
  ASSERT_EQ(out->num_elements, 24u);
  const auto *values = static_cast<const float *>(out->data);
  for (int n = 0; n < 6; ++n)
    for (int d = 0; d < 4; ++d)
      EXPECT_EQ(values[n * 4 + d], tableValue(ids[n], d));
}

TEST_F(LctxRun, RandomInputsAreReproducible) {
  auto artifact =
      open(lctxrt::test::manifestJson({lctxrt::test::axpyEntry()}, {}));
  ASSERT_TRUE(artifact.ok());
  const std::string base = dir.path("test.lctx") + " --random-inputs 42";
  ASSERT_EQ(run(base + " --output " + dir.path("a.safetensors")), 0);
  ASSERT_EQ(run(base + " --output " + dir.path("b.safetensors")), 0);
  auto a = lctxrt::SafetensorsFile::open(dir.path("a.safetensors"));
  auto b = lctxrt::SafetensorsFile::open(dir.path("b.safetensors"));
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(std::memcmp(a->find("out")->data, b->find("out")->data, 24), 0);
}

TEST_F(LctxRun, ErrorsExitWithStatus1) {
  auto artifact =
      open(lctxrt::test::manifestJson({lctxrt::test::axpyEntry()}, {}));
  ASSERT_TRUE(artifact.ok());
  const std::vector<int64_t> shape = {3, 2};
  float x[6] = {};
  std::string inputs = dir.path("in.safetensors");
  ASSERT_TRUE(lctxrt::writeSafetensors(
                  inputs, {view("x", LCTXRT_DTYPE_F32, shape, x, sizeof(x))})
                  .ok());
  EXPECT_EQ(run(dir.path("test.lctx") + " --inputs " + inputs), 1);
  EXPECT_NE(stderrText().find("in.safetensors: tensor 'x' is F32 [3, 2], but "
                              "input 'x' of entry 'axpy' is F32 [2, 3]"),
            std::string::npos)
      << stderrText();
  EXPECT_EQ(run(dir.path("test.lctx") + " --weights " + dir.path("no.st")), 1);
  EXPECT_NE(stderrText().find("no.st: cannot open"), std::string::npos);
}

} // namespace
