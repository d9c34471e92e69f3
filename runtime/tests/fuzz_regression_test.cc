//===- fuzz_regression_test.cc - Regressions found by the fuzz targets ----===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// Each test reproduces an input the fuzz/ targets found, reduced by hand;
// fuzz/regressions/<target>/ keeps the original inputs, which scripts/fuzz
// replays.
//
//===----------------------------------------------------------------------===//

#include "test_util.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

namespace {

using lctxrt::test::fileImage;

class FuzzRegression : public ::testing::Test {
protected:
  std::string write(const std::string &name, std::string_view bytes) {
    std::string path = dir.path(name);
    lctxrt::test::writeFile(path, bytes);
    return path;
  }

  /// Opens \p path, writes every tensor and metadata entry back with
  /// lctxrt_safetensors_write and reopens the copy: what the reader accepts
  /// the writer must accept, unchanged.
  ::testing::AssertionResult roundTrips(const std::string &path) {
    auto file = lctxrt::SafetensorsFile::open(path);
    if (!file.ok())
      return ::testing::AssertionFailure() << file.status().toString();
    std::vector<lctxrt_tensor_info_t> infos;
    std::vector<lctxrt_tensor_view_t> views;
    for (size_t i = 0; i < file->numTensors(); ++i) {
      auto info = file->tensor(i);
      if (!info.ok())
        return ::testing::AssertionFailure() << info.status().toString();
      infos.push_back(*info);
    }
    for (const lctxrt_tensor_info_t &info : infos)
      views.push_back({info.name, info.dtype, info.rank, info.shape, info.data,
                       info.byte_size});
    std::vector<lctxrt_metadata_entry_t> metadata;
    const lctxrt_safetensors_t *handle = file->get();
    for (size_t i = 0; i < lctxrt_safetensors_num_metadata(handle); ++i) {
      lctxrt_metadata_entry_t entry{};
      lctxrt::Status status(lctxrt_safetensors_metadata_entry(
          handle, i, &entry.key, &entry.value));
      if (!status.ok())
        return ::testing::AssertionFailure() << status.toString();
      metadata.push_back(entry);
    }
    const std::string copyPath = path + ".copy";
    lctxrt::Status written(lctxrt_safetensors_write(
        copyPath.c_str(), views.size(), views.data(), metadata.size(),
        metadata.data()));
    if (!written.ok())
      return ::testing::AssertionFailure()
             << "cannot write back: " << written.toString();
    auto copy = lctxrt::SafetensorsFile::open(copyPath);
    if (!copy.ok())
      return ::testing::AssertionFailure() << copy.status().toString();
    if (copy->numTensors() != infos.size())
      return ::testing::AssertionFailure() << "tensor count changed";
    for (const lctxrt_tensor_info_t &info : infos) {
      auto again = copy->find(info.name);
      if (!again.ok())
        return ::testing::AssertionFailure() << again.status().toString();
      if (again->dtype != info.dtype || again->rank != info.rank ||
          std::memcmp(again->shape, info.shape, sizeof(info.shape)) != 0 ||
          again->byte_size != info.byte_size ||
          (info.byte_size &&
           std::memcmp(again->data, info.data, info.byte_size) != 0))
        return ::testing::AssertionFailure()
               << "tensor '" << info.name << "' changed";
    }
    return ::testing::AssertionSuccess();
  }

  lctxrt::test::TempDir dir;
};

// safetensors: the reader accepted a tensor named "" that
// lctxrt_safetensors_write refuses ("tensor #0 has no name") and that no
// manifest argument can name; it is now a FORMAT_ERROR naming the file.
TEST_F(FuzzRegression, SafetensorsEmptyTensorNameIsRejected) {
  const std::string path = write(
      "empty-name.safetensors",
      fileImage(R"({"":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}})",
                "x"));
  lctxrt_safetensors_t *file = nullptr;
  lctxrt::Status status(lctxrt_safetensors_open(path.c_str(), &file));
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(file, nullptr);
  EXPECT_EQ(status.code(), LCTXRT_FORMAT_ERROR);
  EXPECT_EQ(status.message(), path + ": a tensor has an empty name");
  // A one-character name next to it is fine.
  const std::string ok = write(
      "short-name.safetensors",
      fileImage(R"({"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}})",
                "x"));
  EXPECT_TRUE(roundTrips(ok));
}

// The edge cases the reader accepts (see SafetensorsMalformed.
// AcceptedEdgeCases) survive a write/reopen round trip: scalars, empty
// tensors with huge dimensions, gaps and out-of-order offsets, empty
// metadata keys and values.
TEST_F(FuzzRegression, SafetensorsAcceptedEdgeCasesRoundTrip) {
  std::string header =
      R"({"__metadata__":{"":"","k":"v\u00e9"},)"
      R"("s":{"dtype":"F64","shape":[],"data_offsets":[24,32]},)"
      R"("z":{"dtype":"F32","shape":[4294967296,4294967296,0],)"
      R"("data_offsets":[2,2]},)"
      R"("a":{"dtype":"BF16","shape":[2],"data_offsets":[0,4]},)"
      R"("b":{"dtype":"BOOL","shape":[1,1],"data_offsets":[8,9]}})";
  std::string data(32, '\0');
  for (size_t i = 0; i < data.size(); ++i)
    data[i] = static_cast<char>(i * 7 + 1);
  EXPECT_TRUE(roundTrips(write("edge.safetensors", fileImage(header, data))));
}

} // namespace
