//===- safetensors_malformed_test.cc - Reader validation tests --*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
///
/// \file
/// One test per validation rule of the safetensors reader. Every file is
/// written byte by byte here; each test expects a specific status code and
/// message, and that the message starts with the file path.
///
//===----------------------------------------------------------------------===//

#include "test_util.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace {

using lctxrt::test::fileImage;

class SafetensorsMalformed : public ::testing::Test {
protected:
  /// Writes \p bytes to a file and checks that opening it fails with
  /// \p code and a message that starts with the path and contains
  /// \p substring.
  ::testing::AssertionResult openFails(std::string_view bytes,
                                       lctxrt_status_code_t code,
                                       const std::string &substring) {
    std::string path = dir.path("bad.safetensors");
    lctxrt::test::writeFile(path, bytes);
    return openPathFails(path, code, substring);
  }

  ::testing::AssertionResult openPathFails(const std::string &path,
                                           lctxrt_status_code_t code,
                                           const std::string &substring) {
    auto *sentinel = reinterpret_cast<lctxrt_safetensors_t *>(&dir);
    lctxrt_safetensors_t *file = sentinel;
    lctxrt::Status status(lctxrt_safetensors_open(path.c_str(), &file));
    std::string message = status.message();
    if (status.ok()) {
      lctxrt_safetensors_close(file);
      return ::testing::AssertionFailure() << "opened successfully";
    }
    if (file != nullptr)
      return ::testing::AssertionFailure() << "*out not cleared";
    if (status.code() != code)
      return ::testing::AssertionFailure()
             << "code " << lctxrt_status_code_name(status.code())
             << ", expected " << lctxrt_status_code_name(code) << ": "
             << message;
    if (message.rfind(path + ": ", 0) != 0)
      return ::testing::AssertionFailure()
             << "message does not start with the path: " << message;
    if (message.find(substring) == std::string::npos)
      return ::testing::AssertionFailure()
             << "message lacks '" << substring << "': " << message;
    return ::testing::AssertionSuccess();
  }

  /// Checks that \p bytes open successfully with \p numTensors tensors.
  ::testing::AssertionResult opens(std::string_view bytes, size_t numTensors) {
    std::string path = dir.path("good.safetensors");
    lctxrt::test::writeFile(path, bytes);
    auto file = lctxrt::SafetensorsFile::open(path);
    if (!file.ok())
      return ::testing::AssertionFailure() << file.status().toString();
    if (file->numTensors() != numTensors)
      return ::testing::AssertionFailure()
             << file->numTensors() << " tensors, expected " << numTensors;
    return ::testing::AssertionSuccess();
  }

  lctxrt::test::TempDir dir;
};

/// A well-formed one-tensor header for \p entry, which is spliced in.
std::string oneTensor(const std::string &entry) {
  return "{\"w\":" + entry + "}";
}

const std::string kData8(8, '\x5a');

// --- Size and header-length rules ---------------------------------------

TEST_F(SafetensorsMalformed, EmptyFile) {
  EXPECT_TRUE(openFails("", LCTXRT_FORMAT_ERROR,
                        "file is 0 bytes, shorter than the 8-byte header"));
}

TEST_F(SafetensorsMalformed, ShorterThan8Bytes) {
  EXPECT_TRUE(openFails(std::string("\x02\0\0\0\0\0\0", 7), LCTXRT_FORMAT_ERROR,
                        "file is 7 bytes"));
}

TEST_F(SafetensorsMalformed, HeaderLengthBeyondFile) {
  std::string bytes = lctxrt::test::u64le(64) + "{}";
  EXPECT_TRUE(openFails(bytes, LCTXRT_FORMAT_ERROR,
                        "header length 64 exceeds the 2 bytes after the "
                        "length field (truncated file?)"));
}

TEST_F(SafetensorsMalformed, HeaderLengthAbsurd) {
  std::string bytes = lctxrt::test::u64le(100000001) + "{}";
  EXPECT_TRUE(openFails(bytes, LCTXRT_FORMAT_ERROR,
                        "header length 100000001 exceeds the limit of "
                        "100000000 bytes"));
  bytes = lctxrt::test::u64le(UINT64_MAX) + "{}";
  EXPECT_TRUE(openFails(bytes, LCTXRT_FORMAT_ERROR,
                        "header length 18446744073709551615 exceeds"));
}

// --- Header JSON rules --------------------------------------------------

TEST_F(SafetensorsMalformed, HeaderNotJson) {
  EXPECT_TRUE(openFails(fileImage("{\"w\": }", ""), LCTXRT_FORMAT_ERROR,
                        "invalid JSON header at header byte 6: unexpected "
                        "'}', expected a value"));
}

TEST_F(SafetensorsMalformed, HeaderTrailingGarbage) {
  EXPECT_TRUE(openFails(fileImage("{} {}", ""), LCTXRT_FORMAT_ERROR,
                        "at header byte 3: unexpected '{' after the JSON"));
}

TEST_F(SafetensorsMalformed, HeaderInvalidUtf8) {
  EXPECT_TRUE(openFails(fileImage("{\"\xc3\x28\":{}}", ""), LCTXRT_FORMAT_ERROR,
                        "at header byte 2: invalid UTF-8 in string"));
}

TEST_F(SafetensorsMalformed, HeaderTooDeep) {
  EXPECT_TRUE(openFails(fileImage(std::string(40, '['), ""),
                        LCTXRT_FORMAT_ERROR, "nesting deeper than 16"));
}

TEST_F(SafetensorsMalformed, HeaderNotObject) {
  EXPECT_TRUE(openFails(fileImage("[1, 2]", ""), LCTXRT_FORMAT_ERROR,
                        "header is an array, expected a JSON object"));
  EXPECT_TRUE(openFails(fileImage("\"w\"", ""), LCTXRT_FORMAT_ERROR,
                        "header is \"w\", expected a JSON object"));
}

TEST_F(SafetensorsMalformed, DuplicateTensorNames) {
  std::string entry = R"({"dtype":"U8","shape":[1],"data_offsets":[0,1]})";
  EXPECT_TRUE(
      openFails(fileImage("{\"w\":" + entry + ",\"w\":" + entry + "}", kData8),
                LCTXRT_FORMAT_ERROR,
                "at header byte " + std::to_string(6 + entry.size()) +
                    ": duplicate key 'w'"));
}

// --- Tensor entry rules -------------------------------------------------

TEST_F(SafetensorsMalformed, EntryNotObject) {
  EXPECT_TRUE(openFails(fileImage(oneTensor("[0, 8]"), kData8),
                        LCTXRT_FORMAT_ERROR,
                        "tensor 'w': entry is an array, expected an object"));
}

TEST_F(SafetensorsMalformed, MissingField) {
  EXPECT_TRUE(openFails(
      fileImage(oneTensor(R"({"dtype":"U8","shape":[8]})"), kData8),
      LCTXRT_FORMAT_ERROR, "tensor 'w': missing field 'data_offsets'"));
}

TEST_F(SafetensorsMalformed, UnknownField) {
  EXPECT_TRUE(
      openFails(fileImage(oneTensor(R"({"dtype":"U8","shape":[8],)"
                                    R"("data_offsets":[0,8],"offset":0})"),
                          kData8),
                LCTXRT_FORMAT_ERROR, "tensor 'w': unknown field 'offset'"));
}

TEST_F(SafetensorsMalformed, NameWithNul) {
  EXPECT_TRUE(openFails(fileImage(R"({"a\u0000b":{"dtype":"U8","shape":[8],)"
                                  R"("data_offsets":[0,8]}})",
                                  kData8),
                        LCTXRT_FORMAT_ERROR,
                        "tensor name \"a\\u0000b\" contains a NUL character"));
}

TEST_F(SafetensorsMalformed, DtypeNotString) {
  EXPECT_TRUE(openFails(
      fileImage(oneTensor(R"({"dtype":4,"shape":[2],"data_offsets":[0,8]})"),
                kData8),
      LCTXRT_FORMAT_ERROR, "tensor 'w': dtype is 4, expected a string"));
}

TEST_F(SafetensorsMalformed, UnknownDtype) {
  EXPECT_TRUE(openFails(fileImage(oneTensor(R"({"dtype":"F33","shape":[2],)"
                                            R"("data_offsets":[0,8]})"),
                                  kData8),
                        LCTXRT_FORMAT_ERROR,
                        "tensor 'w': unknown dtype \"F33\""));
  // Dtype spellings are case-sensitive.
  EXPECT_TRUE(openFails(fileImage(oneTensor(R"({"dtype":"f32","shape":[2],)"
                                            R"("data_offsets":[0,8]})"),
                                  kData8),
                        LCTXRT_FORMAT_ERROR, "unknown dtype \"f32\""));
}

TEST_F(SafetensorsMalformed, UnsupportedDtype) {
  EXPECT_TRUE(
      openFails(fileImage(oneTensor(R"({"dtype":"F8_E4M3","shape":[8],)"
                                    R"("data_offsets":[0,8]})"),
                          kData8),
                LCTXRT_UNSUPPORTED,
                "tensor 'w': dtype 'F8_E4M3' is not supported by lctxrt"));
}

TEST_F(SafetensorsMalformed, ShapeNotArray) {
  EXPECT_TRUE(openFails(
      fileImage(oneTensor(R"({"dtype":"U8","shape":8,"data_offsets":[0,8]})"),
                kData8),
      LCTXRT_FORMAT_ERROR,
      "tensor 'w': shape is 8, expected an array of non-negative integers"));
}

TEST_F(SafetensorsMalformed, ShapeNegative) {
  EXPECT_TRUE(
      openFails(fileImage(oneTensor(R"({"dtype":"U8","shape":[2,-4],)"
                                    R"("data_offsets":[0,8]})"),
                          kData8),
                LCTXRT_FORMAT_ERROR,
                "tensor 'w': shape[1] is -4, expected a non-negative integer"));
}

TEST_F(SafetensorsMalformed, ShapeNotInteger) {
  EXPECT_TRUE(openFails(fileImage(oneTensor(R"({"dtype":"U8","shape":[8.0],)"
                                            R"("data_offsets":[0,8]})"),
                                  kData8),
                        LCTXRT_FORMAT_ERROR,
                        "shape[0] is a non-integer or out-of-range"));
  EXPECT_TRUE(openFails(fileImage(oneTensor(R"({"dtype":"U8","shape":["8"],)"
                                            R"("data_offsets":[0,8]})"),
                                  kData8),
                        LCTXRT_FORMAT_ERROR, "shape[0] is \"8\", expected a non-negative integer"));
  EXPECT_TRUE(openFails(
      fileImage(oneTensor(R"({"dtype":"U8","shape":[9223372036854775808],)"
                          R"("data_offsets":[0,8]})"),
                kData8),
      LCTXRT_FORMAT_ERROR, "shape[0] is a non-integer or out-of-range"));
}

TEST_F(SafetensorsMalformed, RankAboveEight) {
  EXPECT_TRUE(openFails(
      fileImage(oneTensor(R"({"dtype":"U8","shape":[1,1,1,1,1,1,1,1,8],)"
                          R"("data_offsets":[0,8]})"),
                kData8),
      LCTXRT_UNSUPPORTED, "tensor 'w': rank 9 exceeds the maximum rank 8"));
}

TEST_F(SafetensorsMalformed, ElementCountOverflow) {
  EXPECT_TRUE(openFails(
      fileImage(oneTensor(R"({"dtype":"U8","shape":[4294967296,4294967296],)"
                          R"("data_offsets":[0,8]})"),
                kData8),
      LCTXRT_FORMAT_ERROR,
      "tensor 'w': shape [4294967296, 4294967296] of U8 has more than 2^64 "
      "elements"));
}

TEST_F(SafetensorsMalformed, ByteSizeOverflow) {
  // 2^62 * 2 elements fit in 64 bits; times 4 bytes do not.
  EXPECT_TRUE(openFails(
      fileImage(oneTensor(R"({"dtype":"F32","shape":[4611686018427387904,2],)"
                          R"("data_offsets":[0,8]})"),
                kData8),
      LCTXRT_FORMAT_ERROR,
      "shape [4611686018427387904, 2] of F32 needs more than 2^64 bytes"));
}

TEST_F(SafetensorsMalformed, DataOffsetsNotPair) {
  for (const char *offsets : {"8", "[8]", "[0,4,8]", "{}"}) {
    SCOPED_TRACE(offsets);
    EXPECT_TRUE(openFails(
        fileImage(oneTensor(std::string(R"({"dtype":"U8","shape":[8],)") +
                            "\"data_offsets\":" + offsets + "}"),
                  kData8),
        LCTXRT_FORMAT_ERROR, "tensor 'w': data_offsets is "));
  }
}

TEST_F(SafetensorsMalformed, DataOffsetsNotNonNegativeIntegers) {
  for (const char *offsets : {"[-8,0]", "[0,8.5]", "[\"0\",8]", "[0,null]"}) {
    SCOPED_TRACE(offsets);
    EXPECT_TRUE(openFails(
        fileImage(oneTensor(std::string(R"({"dtype":"U8","shape":[8],)") +
                            "\"data_offsets\":" + offsets + "}"),
                  kData8),
        LCTXRT_FORMAT_ERROR, ", expected non-negative integers"));
  }
}

TEST_F(SafetensorsMalformed, DataOffsetsBeginAfterEnd) {
  EXPECT_TRUE(openFails(fileImage(oneTensor(R"({"dtype":"U8","shape":[0],)"
                                            R"("data_offsets":[8,4]})"),
                                  kData8),
                        LCTXRT_FORMAT_ERROR,
                        "tensor 'w': data_offsets [8, 4] has begin > end"));
}

TEST_F(SafetensorsMalformed, DataOffsetsBeyondDataSection) {
  EXPECT_TRUE(
      openFails(fileImage(oneTensor(R"({"dtype":"U8","shape":[16],)"
                                    R"("data_offsets":[0,16]})"),
                          kData8),
                LCTXRT_FORMAT_ERROR,
                "tensor 'w': data_offsets [0, 16] end beyond the 8-byte data "
                "section"));
  // A zero-size tensor past the end is still out of bounds.
  EXPECT_TRUE(openFails(fileImage(oneTensor(R"({"dtype":"U8","shape":[0],)"
                                            R"("data_offsets":[9,9]})"),
                                  kData8),
                        LCTXRT_FORMAT_ERROR, "data_offsets [9, 9] end beyond"));
}

TEST_F(SafetensorsMalformed, ByteSizeMismatch) {
  std::string header = R"({"w_q":{"dtype":"F32","shape":[5,6],)"
                       R"("data_offsets":[0,100]}})";
  EXPECT_TRUE(openFails(fileImage(header, std::string(120, '\0')),
                        LCTXRT_FORMAT_ERROR,
                        "tensor 'w_q': data_offsets [0, 100] hold 100 bytes "
                        "but shape [5, 6] of F32 needs 120"));
}

TEST_F(SafetensorsMalformed, OverlappingTensors) {
  std::string header =
      R"({"a":{"dtype":"U8","shape":[16],"data_offsets":[0,16]},)"
      R"("b":{"dtype":"U8","shape":[16],"data_offsets":[8,24]}})";
  EXPECT_TRUE(openFails(fileImage(header, std::string(24, '\0')),
                        LCTXRT_FORMAT_ERROR,
                        "tensors 'a' (data_offsets [0, 16]) and 'b' "
                        "(data_offsets [8, 24]) overlap"));
  // Header order does not matter, and a tensor inside another overlaps.
  header = R"({"inner":{"dtype":"U8","shape":[2],"data_offsets":[4,6]},)"
           R"("c":{"dtype":"U8","shape":[1],"data_offsets":[7,8]},)"
           R"("outer":{"dtype":"U8","shape":[8],"data_offsets":[0,8]}})";
  EXPECT_TRUE(openFails(fileImage(header, kData8), LCTXRT_FORMAT_ERROR,
                        "tensors 'outer' (data_offsets [0, 8]) and 'inner' "
                        "(data_offsets [4, 6]) overlap"));
}

// --- __metadata__ rules -------------------------------------------------

TEST_F(SafetensorsMalformed, MetadataNotObject) {
  EXPECT_TRUE(openFails(fileImage(R"({"__metadata__":["pt"]})", ""),
                        LCTXRT_FORMAT_ERROR,
                        "__metadata__ is an array, expected an object of "
                        "strings"));
}

TEST_F(SafetensorsMalformed, MetadataValueNotString) {
  EXPECT_TRUE(
      openFails(fileImage(R"({"__metadata__":{"format":"pt","step":100}})", ""),
                LCTXRT_FORMAT_ERROR,
                "__metadata__ entry 'step' is 100, expected a string"));
  EXPECT_TRUE(openFails(fileImage(R"({"__metadata__":{"k":{}}})", ""),
                        LCTXRT_FORMAT_ERROR,
                        "__metadata__ entry 'k' is an object"));
}

TEST_F(SafetensorsMalformed, MetadataWithNul) {
  EXPECT_TRUE(openFails(fileImage(R"({"__metadata__":{"k":"a\u0000"}})", ""),
                        LCTXRT_FORMAT_ERROR, "contains a NUL character"));
}

// --- File system errors -------------------------------------------------

TEST_F(SafetensorsMalformed, MissingFile) {
  EXPECT_TRUE(openPathFails(dir.path("absent.safetensors"), LCTXRT_NOT_FOUND,
                            "cannot open: "));
}

TEST_F(SafetensorsMalformed, Directory) {
  EXPECT_TRUE(
      openPathFails(dir.path(""), LCTXRT_IO_ERROR, "not a regular file"));
}

TEST_F(SafetensorsMalformed, NullArguments) {
  lctxrt_safetensors_t *file = nullptr;
  EXPECT_EQ(lctxrt::Status(lctxrt_safetensors_open(nullptr, &file)).code(),
            LCTXRT_INVALID_ARGUMENT);
  EXPECT_EQ(lctxrt::Status(lctxrt_safetensors_open("x", nullptr)).code(),
            LCTXRT_INVALID_ARGUMENT);
}

// --- Accepted edge cases (the rules above must not over-reject) ---------

TEST_F(SafetensorsMalformed, AcceptedEdgeCases) {
  // Empty header object, unpadded; space padding; trailing unused data.
  EXPECT_TRUE(opens(fileImage("{}", ""), 0));
  EXPECT_TRUE(opens(fileImage(" \t\r\n{}     ", "extra"), 0));
  // Scalars, zero-size tensors (also inside another tensor's bytes),
  // zero dimensions that make huge shapes empty, gaps between tensors,
  // offsets out of header order, and all lctxrt dtypes.
  std::string header =
      R"({"__metadata__":{},)"
      R"("s":{"dtype":"F64","shape":[],"data_offsets":[24,32]},)"
      R"("z":{"dtype":"F32","shape":[4294967296,4294967296,0],)"
      R"("data_offsets":[2,2]},)"
      R"("a":{"dtype":"BF16","shape":[2],"data_offsets":[0,4]},)"
      R"("b":{"dtype":"BOOL","shape":[1,1],"data_offsets":[8,9]}})";
  EXPECT_TRUE(opens(fileImage(header, std::string(32, '\1')), 3 + 1));
}

// --- Robustness ---------------------------------------------------------

TEST_F(SafetensorsMalformed, RandomCorruptionIsRejectedOrStaysInBounds) {
  // A valid file with several tensors; corrupt bytes (mostly in the header)
  // and truncate at random. Every open must either fail cleanly or describe
  // tensors that lie inside the file. Run under ASan to catch overreads.
  const std::string header =
      R"({"__metadata__":{"format":"pt"},)"
      R"("a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},)"
      R"("b":{"dtype":"BF16","shape":[4],"data_offsets":[16,24]},)"
      R"("c":{"dtype":"I64","shape":[],"data_offsets":[24,32]}})";
  const std::string valid = fileImage(header, std::string(32, '\x11'));
  ASSERT_TRUE(opens(valid, 3));
  std::mt19937 rng(7);
  const std::string path = dir.path("fuzz.safetensors");
  const char kAlphabet[] = "{}[]\",:0123456789-eE.\\u \x00\xff";
  size_t failures = 0;
  for (int iteration = 0; iteration < 2000; ++iteration) {
    std::string bytes = valid;
    int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e) {
      size_t pos = rng() % bytes.size();
      bytes[pos] = rng() % 2 ? kAlphabet[rng() % (sizeof(kAlphabet) - 1)]
                             : static_cast<char>(rng());
    }
    if (rng() % 8 == 0)
      bytes.resize(rng() % bytes.size());
    lctxrt::test::writeFile(path, bytes);
    auto file = lctxrt::SafetensorsFile::open(path);
    if (!file.ok()) {
      ++failures;
      ASSERT_NE(file.status().code(), LCTXRT_INTERNAL)
          << file.status().message();
      continue;
    }
    for (size_t i = 0; i < file->numTensors(); ++i) {
      auto info = file->tensor(i);
      ASSERT_TRUE(info.ok());
      ASSERT_LE(info->byte_size, bytes.size());
      ASSERT_EQ(info->byte_size,
                info->num_elements * lctxrt_dtype_size(info->dtype));
      volatile unsigned char sink = 0;
      for (size_t b = 0; b < info->byte_size; ++b)
        sink = sink ^ static_cast<const unsigned char *>(info->data)[b];
      (void)sink;
    }
  }
  // Most corruptions must be caught; a few hit data bytes or whitespace.
  EXPECT_GT(failures, 1000u) << failures;
}

} // namespace
