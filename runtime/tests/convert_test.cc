//===- convert_test.cc - Tests of dtypes and conversion to f32 --*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#include "lctxrt/lctxrt.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace {

/// Decodes an IEEE-754 binary format with \p exponentBits and
/// \p mantissaBits from its bit fields, in double precision. Independent of
/// lctxrt's bit-shifting implementation.
double decodeIeee(uint32_t bits, int exponentBits, int mantissaBits) {
  uint32_t mantissa = bits & ((1u << mantissaBits) - 1);
  uint32_t exponent = (bits >> mantissaBits) & ((1u << exponentBits) - 1);
  bool negative = (bits >> (mantissaBits + exponentBits)) & 1;
  int bias = (1 << (exponentBits - 1)) - 1;
  double magnitude;
  if (exponent == (1u << exponentBits) - 1)
    magnitude = mantissa ? std::nan("") : INFINITY;
  else if (exponent == 0) // Subnormal: 0.mantissa * 2^(1 - bias).
    magnitude =
        std::ldexp(static_cast<double>(mantissa), 1 - bias - mantissaBits);
  else // Normal: 1.mantissa * 2^(exponent - bias).
    magnitude = std::ldexp(static_cast<double>(mantissa + (1u << mantissaBits)),
                           static_cast<int>(exponent) - bias - mantissaBits);
  return negative ? -magnitude : magnitude;
}

uint32_t floatBits(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof(bits));
  return bits;
}

/// Converts every 16-bit pattern and compares with decodeIeee; returns a
/// description of the mismatches (empty if none).
std::string checkAll16BitPatterns(lctxrt_dtype_t dtype, int exponentBits,
                                  int mantissaBits) {
  std::vector<uint16_t> input(65536);
  for (size_t i = 0; i < input.size(); ++i)
    input[i] = static_cast<uint16_t>(i);
  std::vector<float> output(input.size(), 12345.0f);
  lctxrt::Status status(
      lctxrt_convert_to_f32(input.data(), dtype, input.size(), output.data()));
  if (!status.ok())
    return status.toString();
  std::ostringstream mismatches;
  size_t count = 0;
  for (size_t i = 0; i < input.size(); ++i) {
    double expected = decodeIeee(input[i], exponentBits, mantissaBits);
    float got = output[i];
    bool ok =
        std::isnan(expected)
            ? std::isnan(got) && std::signbit(got) == std::signbit(expected)
            : got == static_cast<float>(expected) &&
                  std::signbit(got) == std::signbit(expected) &&
                  static_cast<double>(got) == expected;
    if (!ok && count++ < 5)
      mismatches << "0x" << std::hex << i << " -> " << got << " expected "
                 << expected << "; ";
  }
  if (count)
    mismatches << count << " mismatches";
  return mismatches.str();
}

TEST(Convert, AllF16ValuesMatchIeeeReference) {
  EXPECT_EQ(checkAll16BitPatterns(LCTXRT_DTYPE_F16, 5, 10), "");
}

TEST(Convert, AllBF16ValuesMatchIeeeReference) {
  EXPECT_EQ(checkAll16BitPatterns(LCTXRT_DTYPE_BF16, 8, 7), "");
}

TEST(Convert, F16SpecialValues) {
  const uint16_t input[] = {0x0001, 0x03ff, 0x0400, 0x7bff,
                            0x7c00, 0xfc00, 0x8000, 0x7e01};
  float out[8];
  lctxrt::Status status(lctxrt_convert_to_f32(input, LCTXRT_DTYPE_F16, 8, out));
  ASSERT_TRUE(status.ok()) << status.toString();
  EXPECT_EQ(out[0], std::ldexp(1.0f, -24));    // Smallest subnormal.
  EXPECT_EQ(out[1], std::ldexp(1023.0f, -24)); // Largest subnormal.
  EXPECT_EQ(out[2], std::ldexp(1.0f, -14));    // Smallest normal.
  EXPECT_EQ(out[3], 65504.0f);                 // Largest finite.
  EXPECT_EQ(out[4], INFINITY);
  EXPECT_EQ(out[5], -INFINITY);
  EXPECT_EQ(floatBits(out[6]), 0x80000000u); // -0.0 keeps its sign.
  // NaN keeps its payload, shifted into the f32 mantissa.
  EXPECT_EQ(floatBits(out[7]), 0x7fc02000u);
}

TEST(Convert, BF16IsTheHighHalfOfF32) {
  std::mt19937 rng(1234);
  std::vector<float> reference(1000);
  std::vector<uint16_t> truncated(reference.size());
  for (size_t i = 0; i < reference.size(); ++i) {
    uint32_t bits = rng() & 0xffff0000u;
    std::memcpy(&reference[i], &bits, sizeof(bits));
    truncated[i] = static_cast<uint16_t>(bits >> 16);
  }
  std::vector<float> out(reference.size());
  lctxrt::Status status(lctxrt_convert_to_f32(
      truncated.data(), LCTXRT_DTYPE_BF16, truncated.size(), out.data()));
  ASSERT_TRUE(status.ok()) << status.toString();
  for (size_t i = 0; i < out.size(); ++i)
    ASSERT_EQ(floatBits(out[i]), floatBits(reference[i])) << "index " << i;
}

TEST(Convert, F32IsBitExactCopyFromUnalignedSource) {
  std::mt19937 rng(99);
  std::vector<uint32_t> bits(257);
  for (uint32_t &b : bits)
    b = static_cast<uint32_t>(rng());
  bits[0] = 0x7f800001u; // Signalling NaN.
  bits[1] = 0xffc12345u; // Negative quiet NaN with payload.
  std::vector<unsigned char> buffer(bits.size() * 4 + 1);
  std::memcpy(buffer.data() + 1, bits.data(), bits.size() * 4);
  std::vector<float> out(bits.size());
  lctxrt::Status status(lctxrt_convert_to_f32(
      buffer.data() + 1, LCTXRT_DTYPE_F32, bits.size(), out.data()));
  ASSERT_TRUE(status.ok()) << status.toString();
  for (size_t i = 0; i < bits.size(); ++i)
    ASSERT_EQ(floatBits(out[i]), bits[i]) << "index " << i;
}

TEST(Convert, F16FromUnalignedSource) {
  const unsigned char buffer[] = {0xaa, 0x00, 0x3c, 0x00, 0xc0}; // 1.0, -2.0
  float out[2] = {0, 0};
  lctxrt::Status status(
      lctxrt_convert_to_f32(buffer + 1, LCTXRT_DTYPE_F16, 2, out));
  ASSERT_TRUE(status.ok()) << status.toString();
  EXPECT_EQ(out[0], 1.0f);
  EXPECT_EQ(out[1], -2.0f);
}

TEST(Convert, RejectsUnsupportedDtypesAndNullBuffers) {
  int32_t ints[2] = {1, 2};
  float out[2];
  lctxrt::Status unsupported(
      lctxrt_convert_to_f32(ints, LCTXRT_DTYPE_I32, 2, out));
  EXPECT_EQ(unsupported.code(), LCTXRT_UNSUPPORTED);
  EXPECT_NE(std::string(unsupported.message()).find("I32"), std::string::npos);
  lctxrt::Status invalid(
      lctxrt_convert_to_f32(ints, static_cast<lctxrt_dtype_t>(42), 2, out));
  EXPECT_EQ(invalid.code(), LCTXRT_UNSUPPORTED);
  EXPECT_NE(std::string(invalid.message()).find("42"), std::string::npos);
  lctxrt::Status nullSource(
      lctxrt_convert_to_f32(nullptr, LCTXRT_DTYPE_F16, 2, out));
  EXPECT_EQ(nullSource.code(), LCTXRT_INVALID_ARGUMENT);
  lctxrt::Status nullDest(
      lctxrt_convert_to_f32(ints, LCTXRT_DTYPE_F32, 1, nullptr));
  EXPECT_EQ(nullDest.code(), LCTXRT_INVALID_ARGUMENT);
  lctxrt::Status empty(
      lctxrt_convert_to_f32(nullptr, LCTXRT_DTYPE_F16, 0, nullptr));
  EXPECT_TRUE(empty.ok()) << empty.toString();
}

TEST(Dtype, SizesAndNames) {
  struct Expected {
    lctxrt_dtype_t dtype;
    size_t size;
    const char *name;
  };
  const Expected table[] = {
      {LCTXRT_DTYPE_F32, 4, "F32"},   {LCTXRT_DTYPE_F16, 2, "F16"},
      {LCTXRT_DTYPE_BF16, 2, "BF16"}, {LCTXRT_DTYPE_F64, 8, "F64"},
      {LCTXRT_DTYPE_I64, 8, "I64"},   {LCTXRT_DTYPE_I32, 4, "I32"},
      {LCTXRT_DTYPE_I8, 1, "I8"},     {LCTXRT_DTYPE_U8, 1, "U8"},
      {LCTXRT_DTYPE_BOOL, 1, "BOOL"}, {LCTXRT_DTYPE_C64, 8, "C64"},
  };
  for (const Expected &e : table) {
    EXPECT_EQ(lctxrt_dtype_size(e.dtype), e.size) << e.name;
    ASSERT_NE(lctxrt_dtype_name(e.dtype), nullptr);
    EXPECT_STREQ(lctxrt_dtype_name(e.dtype), e.name);
    lctxrt_dtype_t parsed = LCTXRT_DTYPE_MAX_ENUM;
    lctxrt::Status status(lctxrt_dtype_from_name(e.name, &parsed));
    EXPECT_TRUE(status.ok()) << status.toString();
    EXPECT_EQ(parsed, e.dtype);
  }
  const auto bogus = static_cast<lctxrt_dtype_t>(10);
  EXPECT_EQ(lctxrt_dtype_size(bogus), 0u);
  EXPECT_EQ(lctxrt_dtype_name(bogus), nullptr);
  EXPECT_EQ(lctxrt_dtype_size(LCTXRT_DTYPE_MAX_ENUM), 0u);
  lctxrt_dtype_t out;
  EXPECT_EQ(lctxrt::Status(lctxrt_dtype_from_name("f32", &out)).code(),
            LCTXRT_NOT_FOUND);
  EXPECT_EQ(lctxrt::Status(lctxrt_dtype_from_name("F8_E4M3", &out)).code(),
            LCTXRT_UNSUPPORTED);
  EXPECT_EQ(lctxrt::Status(lctxrt_dtype_from_name(nullptr, &out)).code(),
            LCTXRT_INVALID_ARGUMENT);
}

TEST(Status, NullMeansOk) {
  EXPECT_EQ(lctxrt_status_code(nullptr), LCTXRT_OK);
  EXPECT_STREQ(lctxrt_status_message(nullptr), "OK");
  lctxrt_status_free(nullptr);
  lctxrt::Status ok;
  EXPECT_TRUE(ok.ok());
  EXPECT_EQ(ok.toString(), "OK");
}

TEST(Status, CodeNames) {
  EXPECT_STREQ(lctxrt_status_code_name(LCTXRT_OK), "OK");
  EXPECT_STREQ(lctxrt_status_code_name(LCTXRT_INVALID_ARGUMENT),
               "INVALID_ARGUMENT");
  EXPECT_STREQ(lctxrt_status_code_name(LCTXRT_NOT_FOUND), "NOT_FOUND");
  EXPECT_STREQ(lctxrt_status_code_name(LCTXRT_IO_ERROR), "IO_ERROR");
  EXPECT_STREQ(lctxrt_status_code_name(LCTXRT_FORMAT_ERROR), "FORMAT_ERROR");
  EXPECT_STREQ(lctxrt_status_code_name(LCTXRT_OUT_OF_MEMORY), "OUT_OF_MEMORY");
  EXPECT_STREQ(lctxrt_status_code_name(LCTXRT_UNSUPPORTED), "UNSUPPORTED");
  EXPECT_STREQ(lctxrt_status_code_name(LCTXRT_INTERNAL), "INTERNAL");
  EXPECT_STREQ(lctxrt_status_code_name(static_cast<lctxrt_status_code_t>(99)),
               "UNKNOWN");
}

TEST(Status, WrapperOwnsAndThrows) {
  lctxrt::Status status(lctxrt_convert_to_f32(
      nullptr, static_cast<lctxrt_dtype_t>(42), 0, nullptr));
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.toString().rfind("UNSUPPORTED: ", 0), 0u)
      << status.toString();
  lctxrt::Status moved = std::move(status);
  EXPECT_TRUE(status.ok()); // NOLINT(bugprone-use-after-move): documented.
  EXPECT_EQ(moved.code(), LCTXRT_UNSUPPORTED);
  try {
    moved.throwIfError();
    FAIL() << "throwIfError did not throw";
  } catch (const lctxrt::Error &error) {
    EXPECT_EQ(error.code(), LCTXRT_UNSUPPORTED);
    EXPECT_STREQ(error.what(), moved.message());
  }
}

} // namespace
