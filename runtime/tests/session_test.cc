//===- session_test.cc - Sessions: binding, descriptors, errors -*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
///
/// \file
/// Checks the memref descriptors a session passes (through the inspect
/// entry point, which copies them into its output), the weight zero-copy
/// and alignment policy, and every session error: weights that are missing
/// or mistyped and inputs or outputs that are unknown, missing, duplicated,
/// mistyped or overlapping.
///
//===----------------------------------------------------------------------===//

#include "artifact_fixture.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace {

using lctxrt::test::AlignedArray;
using lctxrt::test::ArtifactTest;
using lctxrt::test::kTableCols;
using lctxrt::test::kTableRows;
using lctxrt::test::tableValue;
using lctxrt::test::view;

const std::vector<int64_t> kShape23 = {2, 3};

class Session : public ArtifactTest {
protected:
  /// Writes a safetensors file whose tensor "table" (\p dtype, \p shape)
  /// starts \p residue bytes past a 64-byte boundary of the file (and so of
  /// its page-aligned mapping).
  std::string weightsAt(size_t residue, const std::string &dtype = "F32",
                        const std::string &shape = "[5,4]", size_t bytes = 80) {
    std::string header = "{\"table\":{\"dtype\":\"" + dtype +
                         "\",\"shape\":" + shape + ",\"data_offsets\":[0," +
                         std::to_string(bytes) + "]}}";
    while ((8 + header.size()) % 64 != residue)
      header += ' ';
    std::string data;
    for (int64_t v = 0; v < kTableRows; ++v)
      for (int64_t d = 0; d < kTableCols; ++d) {
        float value = tableValue(v, d);
        data.append(reinterpret_cast<const char *>(&value), 4);
      }
    data.resize(bytes);
    std::string path =
        dir.path("w" + std::to_string(residue) + dtype + ".safetensors");
    lctxrt::test::writeFile(path, lctxrt::test::fileImage(header, data));
    return path;
  }

  /// Expects that creating a session over \p manifest with the weights at
  /// \p weightsPath ("" for none) fails with \p code and \p substring.
  void expectCreateFails(const std::string &manifest,
                         const std::string &weightsPath,
                         lctxrt_status_code_t code,
                         const std::string &substring) {
    auto artifact = open(manifest);
    ASSERT_TRUE(artifact.ok()) << artifact.status().toString();
    std::unique_ptr<lctxrt::SafetensorsFile> weights;
    if (!weightsPath.empty()) {
      auto file = lctxrt::SafetensorsFile::open(weightsPath);
      ASSERT_TRUE(file.ok()) << file.status().toString();
      weights = std::make_unique<lctxrt::SafetensorsFile>(std::move(*file));
    }
    lctxrt_session_t *session = reinterpret_cast<lctxrt_session_t *>(&dir);
    lctxrt::Status status(lctxrt_session_create(
        artifact->get(), weights ? weights->get() : nullptr, &session));
    EXPECT_EQ(session, nullptr);
    EXPECT_EQ(status.code(), code) << status.toString();
    EXPECT_NE(std::string(status.message()).find(substring), std::string::npos)
        << status.message();
  }

  /// Runs inspect with \p weightsPath and \p extra manifest keys; returns
  /// the 20 descriptor fields, the table's data in the mapping and stats.
  void inspect(const std::string &weightsPath, const std::string &extra,
               std::vector<int64_t> &fields, const void *&mapped,
               lctxrt_session_stats_t &stats) {
    auto artifact = open(lctxrt::test::manifestJson(
        {lctxrt::test::inspectEntry()}, {lctxrt::test::tableWeight()}, extra));
    ASSERT_TRUE(artifact.ok()) << artifact.status().toString();
    auto weights = lctxrt::SafetensorsFile::open(weightsPath);
    ASSERT_TRUE(weights.ok()) << weights.status().toString();
    mapped = weights->find("table")->data;
    auto session = lctxrt::Session::create(*artifact, &*weights);
    ASSERT_TRUE(session.ok()) << session.status().toString();
    AlignedArray<float> a(24);
    AlignedArray<double> s(1);
    const std::vector<int64_t> aShape = {2, 3, 4}, scalar = {};
    std::vector<lctxrt_tensor_view_t> inputs = {
        view("a", LCTXRT_DTYPE_F32, aShape, a.data(), a.bytes()),
        view("s", LCTXRT_DTYPE_F64, scalar, s.data(), s.bytes())};
    std::vector<lctxrt_tensor_view_t> outputs = {
        {"out", LCTXRT_DTYPE_I64, 0, nullptr, nullptr, 0}};
    lctxrt::Status status = session->run("inspect", inputs, outputs);
    ASSERT_TRUE(status.ok()) << status.toString();
    const auto *out = static_cast<const int64_t *>(outputs[0].data);
    fields.assign(out, out + 20);
    // Inputs aligned as required are passed in place.
    EXPECT_EQ(fields[0], reinterpret_cast<intptr_t>(a.data()));
    EXPECT_EQ(fields[9], reinterpret_cast<intptr_t>(s.data()));
    EXPECT_EQ(fields[19], reinterpret_cast<intptr_t>(outputs[0].data));
    stats = session->stats();
    // CPU sessions time nothing on a device.
    EXPECT_EQ(stats.last_device_ms, -1.0);
  }
};

TEST_F(Session, DescriptorsFollowTheCallingConvention) {
  std::vector<int64_t> f;
  const void *mapped = nullptr;
  lctxrt_session_stats_t stats;
  inspect(weightsAt(0), "", f, mapped, stats);
  ASSERT_EQ(f.size(), 20u);
  // a: F32 [2, 3, 4]: allocated == aligned, offset 0, row-major strides.
  EXPECT_EQ(f[1], f[0]);
  EXPECT_EQ(f[2], 0);
  EXPECT_EQ(std::vector<int64_t>(f.begin() + 3, f.begin() + 9),
            (std::vector<int64_t>{2, 3, 4, 12, 4, 1}));
  // s: F64 [] has no sizes or strides.
  EXPECT_EQ(f[10], f[9]);
  EXPECT_EQ(f[11], 0);
  // table: F32 [5, 4].
  EXPECT_EQ(f[13], f[12]);
  EXPECT_EQ(f[14], 0);
  EXPECT_EQ(std::vector<int64_t>(f.begin() + 15, f.begin() + 19),
            (std::vector<int64_t>{5, 4, 4, 1}));
  for (int i : {0, 9, 12, 19})
    EXPECT_EQ(f[i] % 64, 0) << "field " << i;
}

TEST_F(Session, AlignedWeightsAreZeroCopy) {
  std::vector<int64_t> f;
  const void *mapped = nullptr;
  lctxrt_session_stats_t stats;
  inspect(weightsAt(0), "", f, mapped, stats);
  EXPECT_EQ(f[12], reinterpret_cast<intptr_t>(mapped));
  EXPECT_EQ(stats.weights_zero_copy, 1u);
  EXPECT_EQ(stats.weights_copied, 0u);
}

TEST_F(Session, MisalignedWeightsAreCopied) {
  std::vector<int64_t> f;
  const void *mapped = nullptr;
  lctxrt_session_stats_t stats;
  inspect(weightsAt(8), "", f, mapped, stats); // 8-aligned; 64 required.
  EXPECT_NE(f[12], reinterpret_cast<intptr_t>(mapped));
  EXPECT_EQ(f[12] % 64, 0);
  EXPECT_EQ(stats.weights_zero_copy, 0u);
  EXPECT_EQ(stats.weights_copied, 1u);
  EXPECT_EQ(stats.weight_bytes_copied, 80u);
}

TEST_F(Session, BufferAlignmentRelaxesZeroCopy) {
  std::vector<int64_t> f;
  const void *mapped = nullptr;
  lctxrt_session_stats_t stats;
  inspect(weightsAt(8), "\"buffer_alignment\":4,", f, mapped, stats);
  EXPECT_EQ(f[12], reinterpret_cast<intptr_t>(mapped));
  EXPECT_EQ(stats.weights_zero_copy, 1u);
  // Element alignment still applies: an F32 at an odd 2-byte offset.
  inspect(weightsAt(2), "\"buffer_alignment\":1,", f, mapped, stats);
  EXPECT_NE(f[12], reinterpret_cast<intptr_t>(mapped));
  EXPECT_EQ(stats.weights_copied, 1u);
}

// --- Weights ----------------------------------------------------------------

TEST_F(Session, NoWeightsFile) {
  expectCreateFails(lctxrt::test::modelManifest(), "", LCTXRT_INVALID_ARGUMENT,
                    "test.lctx: needs a weights file: weight 'table' (F32 "
                    "[5, 4]), but no weights file was given");
}

TEST_F(Session, MissingWeight) {
  const std::vector<int64_t> shape = {1};
  float one = 1;
  std::string path = dir.path("other.safetensors");
  ASSERT_TRUE(lctxrt::writeSafetensors(
                  path, {view("tablee", LCTXRT_DTYPE_F32, shape, &one, 4)})
                  .ok());
  expectCreateFails(lctxrt::test::modelManifest(), path, LCTXRT_NOT_FOUND,
                    "other.safetensors: no tensor 'table'; the artifact " +
                        dir.path("test.lctx") + " expects F32 [5, 4]");
}

TEST_F(Session, WeightOfWrongDtype) {
  expectCreateFails(lctxrt::test::modelManifest(),
                    weightsAt(0, "BF16", "[5,4]", 40), LCTXRT_INVALID_ARGUMENT,
                    "tensor 'table' is BF16 [5, 4], but the artifact " +
                        dir.path("test.lctx") + " expects F32 [5, 4]");
}

TEST_F(Session, WeightOfWrongShape) {
  expectCreateFails(lctxrt::test::modelManifest(), weightsAt(0, "F32", "[4,5]"),
                    LCTXRT_INVALID_ARGUMENT,
                    "tensor 'table' is F32 [4, 5], but the artifact");
  expectCreateFails(lctxrt::test::modelManifest(), weightsAt(0, "F32", "[20]"),
                    LCTXRT_INVALID_ARGUMENT, "tensor 'table' is F32 [20]");
}

// --- Inputs and outputs
// -------------------------------------------------------

class SessionRun : public Session {
protected:
  void SetUp() override {
    auto opened = open(lctxrt::test::modelManifest());
    ASSERT_TRUE(opened.ok()) << opened.status().toString();
    artifact = std::make_unique<lctxrt::Artifact>(std::move(*opened));
    auto file = lctxrt::SafetensorsFile::open(weightsAt(0));
    ASSERT_TRUE(file.ok());
    weights = std::make_unique<lctxrt::SafetensorsFile>(std::move(*file));
    auto created = lctxrt::Session::create(*artifact, weights.get());
    ASSERT_TRUE(created.ok()) << created.status().toString();
    session = std::make_unique<lctxrt::Session>(std::move(*created));
    inputs = {view("x", LCTXRT_DTYPE_F32, kShape23, x, sizeof(x)),
              view("y", LCTXRT_DTYPE_F32, kShape23, y, sizeof(y))};
    outputs = {view("out", LCTXRT_DTYPE_F32, kShape23, out, sizeof(out))};
  }

  /// Expects run(entry) with the current inputs and outputs to fail with
  /// \p code and a message starting with the artifact path.
  void expectRunFails(lctxrt_status_code_t code, const std::string &substring,
                      const std::string &entry = "axpy") {
    out[0] = 123.0f;
    lctxrt::Status status = session->run(entry, inputs, outputs);
    EXPECT_EQ(status.code(), code) << status.toString();
    std::string message = status.message();
    EXPECT_EQ(message.rfind(dir.path("test.lctx") + ": ", 0), 0u) << message;
    EXPECT_NE(message.find(substring), std::string::npos) << message;
    EXPECT_EQ(out[0], 123.0f) << "output written by a failed run";
  }

  std::unique_ptr<lctxrt::Artifact> artifact;
  std::unique_ptr<lctxrt::SafetensorsFile> weights;
  std::unique_ptr<lctxrt::Session> session;
  float x[6] = {1, 2, 3, 4, 5, 6}, y[6] = {}, out[6] = {};
  std::vector<lctxrt_tensor_view_t> inputs, outputs;
};

TEST_F(SessionRun, Baseline) {
  ASSERT_TRUE(session->run("axpy", inputs, outputs).ok());
  EXPECT_EQ(out[5], 12.0f);
}

TEST_F(SessionRun, UnknownEntryPoint) {
  expectRunFails(LCTXRT_NOT_FOUND,
                 "no entry point named 'nope' (entry points: 'axpy', "
                 "'embed', 'inspect', 'conj', 'empty')",
                 "nope");
}

TEST_F(SessionRun, UnknownInputName) {
  inputs[1].name = "q";
  expectRunFails(LCTXRT_INVALID_ARGUMENT,
                 "entry 'axpy': no input named 'q' (inputs: 'x', 'y')");
  inputs[1].name = nullptr;
  expectRunFails(LCTXRT_INVALID_ARGUMENT, "inputs[1] has no name");
}

TEST_F(SessionRun, MissingInput) {
  inputs.pop_back();
  expectRunFails(LCTXRT_INVALID_ARGUMENT,
                 "entry 'axpy': missing input 'y' (F32 [2, 3])");
  inputs.clear();
  expectRunFails(LCTXRT_INVALID_ARGUMENT, "missing input 'x'");
}

TEST_F(SessionRun, DuplicateInput) {
  inputs.push_back(inputs[0]);
  expectRunFails(LCTXRT_INVALID_ARGUMENT,
                 "entry 'axpy': input 'x': given twice");
}

TEST_F(SessionRun, InputOfWrongShape) {
  const std::vector<int64_t> shape32 = {3, 2}, shape6 = {6};
  inputs[0] = view("x", LCTXRT_DTYPE_F32, shape32, x, sizeof(x));
  expectRunFails(LCTXRT_INVALID_ARGUMENT,
                 "entry 'axpy': input 'x': shape [3, 2], expected [2, 3]");
  inputs[0] = view("x", LCTXRT_DTYPE_F32, shape6, x, sizeof(x));
  expectRunFails(LCTXRT_INVALID_ARGUMENT,
                 "input 'x': rank 1, expected 2 (shape [2, 3])");
  inputs[0] = view("x", LCTXRT_DTYPE_F32, kShape23, x, sizeof(x));
  inputs[0].shape = nullptr;
  expectRunFails(LCTXRT_INVALID_ARGUMENT, "input 'x': NULL shape");
}

TEST_F(SessionRun, InputOfWrongDtypeOrSize) {
  inputs[1].dtype = LCTXRT_DTYPE_F64;
  expectRunFails(LCTXRT_INVALID_ARGUMENT,
                 "entry 'axpy': input 'y': dtype F64, expected F32");
  inputs[1].dtype = static_cast<lctxrt_dtype_t>(77);
  expectRunFails(LCTXRT_INVALID_ARGUMENT, "input 'y': dtype 77, expected F32");
  inputs[1].dtype = LCTXRT_DTYPE_F32;
  inputs[1].byte_size = 20;
  expectRunFails(LCTXRT_INVALID_ARGUMENT,
                 "input 'y': byte_size 20, expected 24");
  inputs[1].byte_size = 24;
  inputs[1].data = nullptr;
  expectRunFails(LCTXRT_INVALID_ARGUMENT, "input 'y': NULL data");
}

TEST_F(SessionRun, WeightsAndOutputsAreNotInputs) {
  const std::vector<int64_t> tableShape = {5, 4}, idsShape = {6};
  float table[20] = {};
  int32_t ids[6] = {};
  inputs = {view("ids", LCTXRT_DTYPE_I32, idsShape, ids, sizeof(ids)),
            view("table", LCTXRT_DTYPE_F32, tableShape, table, 80)};
  const std::vector<int64_t> outShape = {6, 4};
  float embedded[24];
  outputs = {view("out", LCTXRT_DTYPE_F32, outShape, embedded, 96)};
  expectRunFails(LCTXRT_INVALID_ARGUMENT,
                 "entry 'embed': 'table' is a weight, bound from the weights "
                 "file, not an input",
                 "embed");
  inputs = {view("ids", LCTXRT_DTYPE_I32, idsShape, ids, sizeof(ids)),
            view("out", LCTXRT_DTYPE_F32, outShape, embedded, 96)};
  expectRunFails(LCTXRT_INVALID_ARGUMENT,
                 "entry 'embed': 'out' is an output, not an input", "embed");
}

TEST_F(SessionRun, OutputErrors) {
  outputs[0].name = "z";
  expectRunFails(LCTXRT_INVALID_ARGUMENT,
                 "entry 'axpy': no output named 'z' (outputs: 'out')");
  outputs[0].name = "x";
  expectRunFails(LCTXRT_INVALID_ARGUMENT, "'x' is an input, not an output");
  const std::vector<int64_t> shape6 = {6};
  outputs[0] = view("out", LCTXRT_DTYPE_F32, shape6, out, sizeof(out));
  expectRunFails(LCTXRT_INVALID_ARGUMENT, "output 'out': rank 1, expected 2");
  outputs[0] = view("out", LCTXRT_DTYPE_I32, kShape23, out, sizeof(out));
  expectRunFails(LCTXRT_INVALID_ARGUMENT,
                 "output 'out': dtype I32, expected F32");
  outputs = {view("out", LCTXRT_DTYPE_F32, kShape23, out, sizeof(out)),
             view("out", LCTXRT_DTYPE_F32, kShape23, out, sizeof(out))};
  expectRunFails(LCTXRT_INVALID_ARGUMENT, "output 'out': given twice");
  lctxrt::Status status(
      lctxrt_session_run(session->get(), "axpy", 2, inputs.data(), 1, nullptr));
  EXPECT_EQ(status.code(), LCTXRT_INVALID_ARGUMENT);
  EXPECT_NE(std::string(status.message()).find("NULL outputs"),
            std::string::npos);
}

TEST_F(SessionRun, OutputOverlappingAnInput) {
  outputs[0].data = x + 2;
  expectRunFails(LCTXRT_INVALID_ARGUMENT,
                 "entry 'axpy': output 'out' overlaps the buffer of 'x'");
  outputs[0].data = y;
  expectRunFails(LCTXRT_INVALID_ARGUMENT, "overlaps the buffer of 'y'");
}

} // namespace
