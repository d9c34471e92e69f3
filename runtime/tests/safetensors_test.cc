//===- safetensors_test.cc - Safetensors writer/reader tests ----*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#include "test_util.h"

#include "json.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <ostream>
#include <random>
#include <string>
#include <vector>

#include <sys/stat.h>

namespace {

using lctxrt::test::TempDir;

constexpr lctxrt_dtype_t kAllDtypes[] = {
    LCTXRT_DTYPE_F32, LCTXRT_DTYPE_F16, LCTXRT_DTYPE_BF16,
    LCTXRT_DTYPE_F64, LCTXRT_DTYPE_I64, LCTXRT_DTYPE_I32,
    LCTXRT_DTYPE_I8,  LCTXRT_DTYPE_U8,  LCTXRT_DTYPE_BOOL,
};

/// A tensor owned by the test, viewable as lctxrt_tensor_view_t.
struct OwnedTensor {
  std::string name;
  lctxrt_dtype_t dtype;
  std::vector<int64_t> shape;
  std::vector<unsigned char> bytes;

  lctxrt_tensor_view_t view() const {
    return {name.c_str(), dtype,        shape.size(),
            shape.data(), bytes.data(), bytes.size()};
  }
};

/// Makes a tensor with a random shape (rank 0 to 4, possibly empty) and
/// random contents (0/1 for BOOL).
OwnedTensor randomTensor(std::mt19937 &rng, std::string name,
                         lctxrt_dtype_t dtype) {
  OwnedTensor t{std::move(name), dtype, {}, {}};
  size_t rank = rng() % 5;
  size_t elements = 1;
  for (size_t i = 0; i < rank; ++i) {
    t.shape.push_back(static_cast<int64_t>(rng() % 6)); // 0 makes it empty.
    elements *= static_cast<size_t>(t.shape.back());
  }
  t.bytes.resize(elements * lctxrt_dtype_size(dtype));
  for (unsigned char &b : t.bytes)
    b = static_cast<unsigned char>(dtype == LCTXRT_DTYPE_BOOL ? rng() % 2
                                                              : rng());
  return t;
}

lctxrt::Status
write(const std::string &path, const std::vector<OwnedTensor> &tensors,
      const std::vector<std::pair<std::string, std::string>> &metadata = {}) {
  std::vector<lctxrt_tensor_view_t> views;
  for (const OwnedTensor &t : tensors)
    views.push_back(t.view());
  return lctxrt::writeSafetensors(path, views, metadata);
}

/// Checks that \p path holds exactly \p tensors, in order, byte for byte,
/// and that the file layout follows the writer's contract.
void expectFileHolds(const std::string &path,
                     const std::vector<OwnedTensor> &tensors) {
  auto file = lctxrt::SafetensorsFile::open(path);
  ASSERT_TRUE(file.ok()) << file.status().toString();
  ASSERT_EQ(file->numTensors(), tensors.size());
  uint64_t totalBytes = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const OwnedTensor &want = tensors[i];
    auto info = file->tensor(i);
    ASSERT_TRUE(info.ok()) << info.status().toString();
    EXPECT_STREQ(info->name, want.name.c_str());
    EXPECT_EQ(info->dtype, want.dtype) << want.name;
    ASSERT_EQ(info->rank, want.shape.size()) << want.name;
    size_t elements = 1;
    for (size_t d = 0; d < LCTXRT_MAX_RANK; ++d) {
      EXPECT_EQ(info->shape[d], d < want.shape.size() ? want.shape[d] : 0);
      if (d < want.shape.size())
        elements *= static_cast<size_t>(want.shape[d]);
    }
    EXPECT_EQ(info->num_elements, elements) << want.name;
    ASSERT_EQ(info->byte_size, want.bytes.size()) << want.name;
    ASSERT_NE(info->data, nullptr);
    if (!want.bytes.empty()) { // memcmp must not see a NULL pointer.
      EXPECT_EQ(std::memcmp(info->data, want.bytes.data(), want.bytes.size()),
                0)
          << want.name;
    }
    EXPECT_EQ(reinterpret_cast<uintptr_t>(info->data) %
                  lctxrt_dtype_size(want.dtype),
              0u)
        << want.name << " is misaligned";
    auto found = file->find(want.name);
    ASSERT_TRUE(found.ok()) << found.status().toString();
    EXPECT_EQ(found->data, info->data);
    totalBytes += want.bytes.size();
  }
  // The header length is a multiple of 8 and the data section has no gaps.
  std::string bytes = lctxrt::test::readFile(path);
  ASSERT_GE(bytes.size(), 8u);
  uint64_t headerSize = 0;
  for (int i = 7; i >= 0; --i)
    headerSize = headerSize << 8 | static_cast<unsigned char>(bytes[i]);
  EXPECT_EQ(headerSize % 8, 0u);
  EXPECT_EQ(bytes.size(), 8 + headerSize + totalBytes);
}

TEST(SafetensorsRoundTrip, EveryDtype) {
  TempDir dir;
  std::mt19937 rng(42);
  for (lctxrt_dtype_t dtype : kAllDtypes) {
    SCOPED_TRACE(lctxrt_dtype_name(dtype));
    std::vector<OwnedTensor> tensors;
    // Fixed non-empty shapes first, then random ones.
    OwnedTensor t{"fixed", dtype, {3, 7}, {}};
    t.bytes.resize(21 * lctxrt_dtype_size(dtype));
    for (unsigned char &b : t.bytes)
      b = static_cast<unsigned char>(dtype == LCTXRT_DTYPE_BOOL ? rng() % 2
                                                                : rng());
    tensors.push_back(t);
    for (int i = 0; i < 4; ++i)
      tensors.push_back(
          randomTensor(rng, "random." + std::to_string(i), dtype));
    std::string path =
        dir.path(std::string(lctxrt_dtype_name(dtype)) + ".safetensors");
    lctxrt::Status status = write(path, tensors);
    ASSERT_TRUE(status.ok()) << status.toString();
    expectFileHolds(path, tensors);
  }
}

TEST(SafetensorsRoundTrip, RandomMixedFiles) {
  TempDir dir;
  for (unsigned seed = 0; seed < 25; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    std::mt19937 rng(seed);
    std::vector<OwnedTensor> tensors;
    size_t count = rng() % 12;
    for (size_t i = 0; i < count; ++i)
      tensors.push_back(randomTensor(rng, "layers." + std::to_string(i),
                                     kAllDtypes[rng() % 9]));
    std::string path = dir.path("mixed.safetensors");
    lctxrt::Status status = write(path, tensors);
    ASSERT_TRUE(status.ok()) << status.toString();
    expectFileHolds(path, tensors);
  }
}

TEST(SafetensorsRoundTrip, ScalarsEmptyTensorsAndUnusualNames) {
  TempDir dir;
  std::vector<OwnedTensor> tensors = {
      {"scalar", LCTXRT_DTYPE_F64, {}, std::vector<unsigned char>(8, 0x11)},
      {"empty", LCTXRT_DTYPE_F32, {0, 4}, {}},
      {"quote\"back\\slash", LCTXRT_DTYPE_U8, {2}, {1, 2}},
      {"caf\xc3\xa9/\xf0\x9f\x98\x80", LCTXRT_DTYPE_I8, {1}, {0x80}},
      {"new\nline", LCTXRT_DTYPE_BOOL, {1, 1, 1}, {1}},
  };
  std::string path = dir.path("odd.safetensors");
  lctxrt::Status status = write(path, tensors);
  ASSERT_TRUE(status.ok()) << status.toString();
  expectFileHolds(path, tensors);
}

TEST(SafetensorsRoundTrip, Metadata) {
  TempDir dir;
  std::string path = dir.path("meta.safetensors");
  std::vector<std::pair<std::string, std::string>> metadata = {
      {"format", "pt"},
      {"note", "multi\nline \"quoted\" \\ caf\xc3\xa9"},
      {"empty", ""},
  };
  ASSERT_TRUE(write(path, {}, metadata).ok());
  auto file = lctxrt::SafetensorsFile::open(path);
  ASSERT_TRUE(file.ok()) << file.status().toString();
  EXPECT_EQ(file->numTensors(), 0u);
  auto entries = file->metadataEntries();
  ASSERT_EQ(entries.size(), metadata.size());
  for (size_t i = 0; i < metadata.size(); ++i) {
    EXPECT_EQ(entries[i].first, metadata[i].first);
    EXPECT_EQ(entries[i].second, metadata[i].second);
    EXPECT_EQ(file->metadata(metadata[i].first), metadata[i].second);
  }
  EXPECT_FALSE(file->metadata("absent").has_value());
}

TEST(SafetensorsWriter, EmptyFileIsPaddedHeader) {
  TempDir dir;
  std::string path = dir.path("empty.safetensors");
  ASSERT_TRUE(write(path, {}).ok());
  EXPECT_EQ(lctxrt::test::readFile(path),
            lctxrt::test::fileImage("{}      ", ""));
}

TEST(SafetensorsWriter, HeaderListsTensorsInOrderAndDataByElementSize) {
  TempDir dir;
  std::string path = dir.path("layout.safetensors");
  std::vector<OwnedTensor> tensors = {
      {"b", LCTXRT_DTYPE_U8, {3}, {1, 2, 3}},
      {"h", LCTXRT_DTYPE_F16, {1}, {4, 5}},
      {"d", LCTXRT_DTYPE_F64, {1}, std::vector<unsigned char>(8, 6)},
  };
  ASSERT_TRUE(write(path, tensors).ok());
  const std::string header =
      R"({"b":{"dtype":"U8","shape":[3],"data_offsets":[10,13]},)"
      R"("h":{"dtype":"F16","shape":[1],"data_offsets":[8,10]},)"
      R"("d":{"dtype":"F64","shape":[1],"data_offsets":[0,8]}})";
  std::string padded = header + std::string((8 - header.size() % 8) % 8, ' ');
  std::string data = std::string(8, '\6') + "\4\5" + "\1\2\3";
  EXPECT_EQ(lctxrt::test::readFile(path),
            lctxrt::test::fileImage(padded, data));
  expectFileHolds(path, tensors);
}

TEST(SafetensorsWriter, OverwritesAndLeavesNoTemporaryFile) {
  TempDir dir;
  std::string path = dir.path("out.safetensors");
  lctxrt::test::writeFile(path, "old contents");
  std::vector<OwnedTensor> tensors = {
      {"x", LCTXRT_DTYPE_I32, {1}, {1, 0, 0, 0}}};
  ASSERT_TRUE(write(path, tensors).ok());
  expectFileHolds(path, tensors);
  struct stat info;
  EXPECT_NE(::stat((path + ".tmp").c_str(), &info), 0);
}

struct BadWrite {
  const char *name;
  OwnedTensor tensor;
  const char *message;
};

/// Lets gtest print a case by name instead of as raw bytes.
void PrintTo(const BadWrite &bad, std::ostream *os) { *os << bad.name; }

class SafetensorsWriterRejects : public ::testing::TestWithParam<BadWrite> {};

TEST_P(SafetensorsWriterRejects, InvalidTensor) {
  TempDir dir;
  std::string path = dir.path("bad.safetensors");
  const BadWrite &bad = GetParam();
  std::vector<OwnedTensor> tensors = {{"ok", LCTXRT_DTYPE_U8, {1}, {7}},
                                      bad.tensor};
  lctxrt::Status status = write(path, tensors);
  EXPECT_EQ(status.code(), LCTXRT_INVALID_ARGUMENT) << status.toString();
  std::string message = status.message();
  EXPECT_EQ(message.rfind(path + ": ", 0), 0u) << message;
  EXPECT_NE(message.find(bad.message), std::string::npos) << message;
  struct stat info;
  EXPECT_NE(::stat(path.c_str(), &info), 0) << "file was written";
  EXPECT_NE(::stat((path + ".tmp").c_str(), &info), 0);
}

const BadWrite kBadWrites[] = {
    {"EmptyName", {"", LCTXRT_DTYPE_U8, {1}, {1}}, "tensor #1 has no name"},
    {"Duplicate", {"ok", LCTXRT_DTYPE_U8, {1}, {1}}, "'ok': duplicate name"},
    {"Reserved",
     {"__metadata__", LCTXRT_DTYPE_U8, {1}, {1}},
     "the name is reserved"},
    {"BadUtf8", {"\xff", LCTXRT_DTYPE_U8, {1}, {1}}, "not valid UTF-8"},
    {"BadDtype",
     {"t", static_cast<lctxrt_dtype_t>(17), {1}, {1}},
     "'t': invalid dtype 17"},
    {"RankTooLarge",
     {"t", LCTXRT_DTYPE_U8, std::vector<int64_t>(9, 1), {1}},
     "'t': rank 9 exceeds the maximum rank 8"},
    {"NegativeDim", {"t", LCTXRT_DTYPE_U8, {-1}, {}}, "negative dimension -1"},
    {"SizeMismatch",
     {"t", LCTXRT_DTYPE_F32, {5, 6}, std::vector<unsigned char>(100)},
     "'t': byte_size 100 but shape [5, 6] of F32 needs 120"},
    {"Overflow",
     {"t", LCTXRT_DTYPE_F32, {int64_t(1) << 62, 8}, {}},
     "needs more than 2^64"},
};

INSTANTIATE_TEST_SUITE_P(Cases, SafetensorsWriterRejects,
                         ::testing::ValuesIn(kBadWrites),
                         [](const auto &info) { return info.param.name; });

TEST(SafetensorsWriter, RejectsNullPointersAndDuplicateMetadata) {
  TempDir dir;
  std::string path = dir.path("bad.safetensors");
  const int64_t shape[] = {2};
  lctxrt_tensor_view_t nullData = {"t", LCTXRT_DTYPE_U8, 1, shape, nullptr, 2};
  lctxrt::Status status(
      lctxrt_safetensors_write(path.c_str(), 1, &nullData, 0, nullptr));
  EXPECT_EQ(status.code(), LCTXRT_INVALID_ARGUMENT);
  EXPECT_NE(std::string(status.message()).find("'t': NULL data"),
            std::string::npos)
      << status.message();
  lctxrt_tensor_view_t nullShape = {"t", LCTXRT_DTYPE_U8, 1, nullptr, "ab", 2};
  status = lctxrt::Status(
      lctxrt_safetensors_write(path.c_str(), 1, &nullShape, 0, nullptr));
  EXPECT_NE(std::string(status.message()).find("NULL shape"), std::string::npos)
      << status.message();
  status = lctxrt::Status(
      lctxrt_safetensors_write(path.c_str(), 2, nullptr, 0, nullptr));
  EXPECT_EQ(status.code(), LCTXRT_INVALID_ARGUMENT);
  status =
      lctxrt::Status(lctxrt_safetensors_write(nullptr, 0, nullptr, 0, nullptr));
  EXPECT_EQ(status.code(), LCTXRT_INVALID_ARGUMENT);
  status = write(path, {}, {{"k", "1"}, {"k", "2"}});
  EXPECT_EQ(status.code(), LCTXRT_INVALID_ARGUMENT);
  EXPECT_NE(std::string(status.message()).find("duplicate key 'k'"),
            std::string::npos)
      << status.message();
  struct stat info;
  EXPECT_NE(::stat(path.c_str(), &info), 0) << "file was written";
}

TEST(SafetensorsWriter, ReportsIoErrors) {
  TempDir dir;
  std::string path = dir.path("no-such-dir/out.safetensors");
  lctxrt::Status status = write(path, {});
  EXPECT_EQ(status.code(), LCTXRT_IO_ERROR);
  EXPECT_NE(std::string(status.message()).find("cannot create"),
            std::string::npos)
      << status.message();
}

TEST(SafetensorsReader, FindAndIndexErrors) {
  TempDir dir;
  std::string path = dir.path("find.safetensors");
  ASSERT_TRUE(write(path, {{"w_q", LCTXRT_DTYPE_U8, {1}, {9}}}).ok());
  auto file = lctxrt::SafetensorsFile::open(path);
  ASSERT_TRUE(file.ok()) << file.status().toString();
  EXPECT_STREQ(file->path(), path.c_str());
  auto missing = file->find("w_k");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), LCTXRT_NOT_FOUND);
  EXPECT_EQ(std::string(missing.status().message()),
            path + ": no tensor named 'w_k'");
  auto outOfRange = file->tensor(1);
  ASSERT_FALSE(outOfRange.ok());
  EXPECT_EQ(outOfRange.status().code(), LCTXRT_INVALID_ARGUMENT);
  EXPECT_THROW(outOfRange.value(), lctxrt::Error);
  EXPECT_EQ(file->tensor(0).value().byte_size, 1u);

  lctxrt_tensor_info_t info;
  std::memset(&info, 0xab, sizeof(info));
  lctxrt::Status status(lctxrt_safetensors_find(file->get(), "nope", &info));
  EXPECT_EQ(status.code(), LCTXRT_NOT_FOUND);
  EXPECT_EQ(info.name, nullptr); // Cleared on failure.
  EXPECT_EQ(info.data, nullptr);
  status = lctxrt::Status(lctxrt_safetensors_find(nullptr, "w_q", &info));
  EXPECT_EQ(status.code(), LCTXRT_INVALID_ARGUMENT);
  status =
      lctxrt::Status(lctxrt_safetensors_tensor_info(file->get(), 0, nullptr));
  EXPECT_EQ(status.code(), LCTXRT_INVALID_ARGUMENT);
  const char *key = "x", *value = "y";
  status = lctxrt::Status(
      lctxrt_safetensors_metadata_entry(file->get(), 0, &key, &value));
  EXPECT_EQ(status.code(), LCTXRT_INVALID_ARGUMENT);
  EXPECT_EQ(key, nullptr);
  EXPECT_EQ(lctxrt_safetensors_num_tensors(nullptr), 0u);
  EXPECT_EQ(lctxrt_safetensors_metadata(nullptr, "k"), nullptr);
  lctxrt_safetensors_close(nullptr);
}

TEST(SafetensorsReader, ConvertsMappedF16Data) {
  TempDir dir;
  std::string path = dir.path("f16.safetensors");
  // 1.0, -2.0, 65504, smallest subnormal.
  OwnedTensor t{"h",
                LCTXRT_DTYPE_F16,
                {4},
                {0x00, 0x3c, 0x00, 0xc0, 0xff, 0x7b, 0x01, 0x00}};
  ASSERT_TRUE(write(path, {t}).ok());
  auto file = lctxrt::SafetensorsFile::open(path);
  ASSERT_TRUE(file.ok()) << file.status().toString();
  auto info = file->find("h");
  ASSERT_TRUE(info.ok());
  float out[4];
  lctxrt::Status status(
      lctxrt_convert_to_f32(info->data, info->dtype, info->num_elements, out));
  ASSERT_TRUE(status.ok()) << status.toString();
  EXPECT_EQ(out[0], 1.0f);
  EXPECT_EQ(out[1], -2.0f);
  EXPECT_EQ(out[2], 65504.0f);
  EXPECT_EQ(out[3], 5.9604644775390625e-08f);
}

} // namespace
