//===- json_test.cc - Tests of the strict JSON parser -----------*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#include "json.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <ostream>
#include <string>

namespace {

using lctxrt::json::parse;
using lctxrt::json::ParseError;
using lctxrt::json::ParseOptions;
using lctxrt::json::Value;
using Kind = lctxrt::json::Value::Kind;

/// Parses \p text, failing the test on error.
Value parseOk(std::string_view text) {
  Value value;
  ParseError error;
  EXPECT_TRUE(parse(text, value, error)) << text << ": " << error.str();
  return value;
}

TEST(Json, Literals) {
  EXPECT_TRUE(parseOk("null").isNull());
  EXPECT_TRUE(parseOk("true").getBool());
  EXPECT_FALSE(parseOk("false").getBool());
  EXPECT_EQ(parseOk(" \t\r\n true \n").kind(), Kind::Bool);
}

TEST(Json, IntegralNumbersAreExactInt64) {
  EXPECT_EQ(parseOk("0").getInt(), 0);
  EXPECT_EQ(parseOk("-0").getInt(), 0);
  EXPECT_EQ(parseOk("123456789").getInt(), 123456789);
  EXPECT_EQ(parseOk("-42").getInt(), -42);
  EXPECT_EQ(parseOk("9223372036854775807").getInt(),
            std::numeric_limits<int64_t>::max());
  EXPECT_EQ(parseOk("-9223372036854775808").getInt(),
            std::numeric_limits<int64_t>::min());
  // One past the int64 range becomes a double.
  Value big = parseOk("9223372036854775808");
  ASSERT_TRUE(big.isDouble());
  EXPECT_EQ(big.getDouble(), 9223372036854775808.0);
  EXPECT_TRUE(parseOk("-9223372036854775809").isDouble());
}

TEST(Json, NonIntegralNumbersAreDoubles) {
  EXPECT_EQ(parseOk("1.5").getDouble(), 1.5);
  EXPECT_EQ(parseOk("-0.25").getDouble(), -0.25);
  // An exponent makes a number non-integral even if its value is whole.
  Value thousand = parseOk("1e3");
  ASSERT_TRUE(thousand.isDouble());
  EXPECT_EQ(thousand.getDouble(), 1000.0);
  EXPECT_EQ(parseOk("2E-2").getDouble(), 0.02);
  EXPECT_EQ(parseOk("1.25e+2").getDouble(), 125.0);
  EXPECT_EQ(parseOk("1e-400").getDouble(), 0.0); // Underflow is fine.
}

TEST(Json, StringEscapes) {
  EXPECT_EQ(parseOk(R"("a\"b\\c\/d\be\ff\ng\rh\ti")").getString(),
            "a\"b\\c/d\be\ff\ng\rh\ti");
  EXPECT_EQ(parseOk(R"("\u0041\u00e9\u20AC")").getString(),
            "A\xc3\xa9\xe2\x82\xac");
  EXPECT_EQ(parseOk(R"("\ud83d\ude00")").getString(), "\xf0\x9f\x98\x80");
  EXPECT_EQ(parseOk(R"("\uDBFF\uDFFF")").getString(), "\xf4\x8f\xbf\xbf");
  EXPECT_EQ(parseOk(R"("nul\u0000byte")").getString(),
            std::string("nul\0byte", 8));
  // Raw UTF-8 passes through unchanged.
  EXPECT_EQ(parseOk("\"caf\xc3\xa9 \xf0\x9f\x98\x80\"").getString(),
            "caf\xc3\xa9 \xf0\x9f\x98\x80");
}

TEST(Json, ContainersKeepDocumentOrder) {
  Value value = parseOk(R"( {"z": [1, [], {}], "a": {"k": "v"}, "m": null} )");
  ASSERT_TRUE(value.isObject());
  const auto &members = value.getObject();
  ASSERT_EQ(members.size(), 3u);
  EXPECT_EQ(members[0].key, "z");
  EXPECT_EQ(members[1].key, "a");
  EXPECT_EQ(members[2].key, "m");
  const auto &z = members[0].value.getArray();
  ASSERT_EQ(z.size(), 3u);
  EXPECT_EQ(z[0].getInt(), 1);
  EXPECT_TRUE(z[1].getArray().empty());
  EXPECT_TRUE(z[2].getObject().empty());
  ASSERT_NE(value.find("a"), nullptr);
  EXPECT_EQ(value.find("a")->find("k")->getString(), "v");
  EXPECT_TRUE(value.find("m")->isNull());
  EXPECT_EQ(value.find("missing"), nullptr);
  EXPECT_EQ(z[0].find("z"), nullptr); // Not an object.
}

TEST(Json, DepthLimit) {
  ParseOptions options;
  options.maxDepth = 4;
  Value value;
  ParseError error;
  EXPECT_TRUE(parse("[[{\"a\":[]}]]", value, error, options)) << error.str();
  EXPECT_FALSE(parse("[[{\"a\":[[]]}]]", value, error, options));
  EXPECT_EQ(error.offset, 8u);
  EXPECT_NE(error.message.find("nesting deeper than 4"), std::string::npos);
  // The default limit stops runaway recursion.
  std::string deep(100000, '[');
  EXPECT_FALSE(parse(deep, value, error));
  EXPECT_EQ(error.offset, 64u);
}

TEST(Json, ValueLimit) {
  ParseOptions options;
  options.maxValues = 4;
  Value value;
  ParseError error;
  EXPECT_TRUE(parse("[1, 2, 3]", value, error, options)) << error.str();
  EXPECT_FALSE(parse("[1, 2, 3, 4]", value, error, options));
  EXPECT_EQ(error.offset, 10u);
  EXPECT_NE(error.message.find("more than 4 values"), std::string::npos);
}

TEST(Json, FailureLeavesOutputUntouched) {
  Value value = Value::makeInt(7);
  ParseError error;
  EXPECT_FALSE(parse("[1,", value, error));
  EXPECT_EQ(value.getInt(), 7);
}

struct InvalidCase {
  const char *name;
  std::string text;
  size_t offset;
  const char *message;
};

/// Lets gtest print a case by name instead of as raw bytes.
void PrintTo(const InvalidCase &c, std::ostream *os) { *os << c.name; }

class JsonInvalid : public ::testing::TestWithParam<InvalidCase> {};

TEST_P(JsonInvalid, IsRejectedWithOffsetAndMessage) {
  const InvalidCase &c = GetParam();
  Value value;
  ParseError error;
  ASSERT_FALSE(parse(c.text, value, error)) << "accepted: " << c.text;
  EXPECT_EQ(error.offset, c.offset) << error.str();
  EXPECT_NE(error.message.find(c.message), std::string::npos) << error.str();
  EXPECT_EQ(error.str(),
            "byte " + std::to_string(error.offset) + ": " + error.message);
}

const InvalidCase kInvalidCases[] = {
    {"Empty", "", 0, "unexpected end of input"},
    {"OnlySpace", "  ", 2, "unexpected end of input"},
    {"TrailingGarbage", "{} x", 3, "unexpected 'x' after the JSON value"},
    {"TwoValues", "{}{}", 2, "after the JSON value"},
    {"TrailingNul", std::string("1\0", 2), 1, "byte 0x00 after the JSON"},
    {"ArrayTrailingComma", "[1,]", 3, "expected a value"},
    {"ObjectTrailingComma", "{\"a\":1,}", 7, "expected a string key"},
    {"MissingComma", "[1 2]", 3, "expected ',' or ']'"},
    {"MissingColon", "{\"a\" 1}", 5, "expected ':'"},
    {"NonStringKey", "{1:2}", 1, "expected a string key"},
    {"UnclosedArray", "[1", 2, "unexpected end of input in array"},
    {"UnclosedObject", "{\"a\":1", 6, "unexpected end of input in object"},
    {"LeadingZero", "01", 0, "leading zeros"},
    {"NegativeLeadingZero", "-012", 1, "leading zeros"},
    {"LonelyMinus", "-", 1, "expected a digit"},
    {"PlusSign", "+1", 0, "unexpected '+'"},
    {"DotWithoutDigits", "1.", 2, "expected a digit after '.'"},
    {"LeadingDot", ".5", 0, "unexpected '.'"},
    {"EmptyExponent", "1e", 2, "expected a digit in the exponent"},
    {"ExponentSignOnly", "1e+", 3, "expected a digit in the exponent"},
    {"Overflow", "1e999", 0, "out of range"},
    {"NegativeOverflow", "[-1e400]", 1, "out of range"},
    {"NaN", "NaN", 0, "unexpected 'N'"},
    {"Infinity", "-Infinity", 1, "expected a digit"},
    {"BadLiteral", "tru", 0, "expected 'true'"},
    {"CapitalLiteral", "True", 0, "unexpected 'T'"},
    {"SingleQuotes", "'a'", 0, "unexpected '''"},
    {"Comment", "[1 /* c */]", 3, "expected ',' or ']'"},
    {"UnterminatedString", "\"abc", 0, "unterminated string"},
    {"UnterminatedEscape", "\"abc\\", 0, "unterminated string"},
    {"RawNewline", "\"a\nb\"", 2, "unescaped control character"},
    {"RawTab", "\"a\tb\"", 2, "unescaped control character"},
    {"BadEscape", "\"a\\xb\"", 2, "invalid escape sequence"},
    {"ShortUnicodeEscape", "\"\\u12\"", 5, "invalid hex digit '\"'"},
    {"BadHexDigit", "\"\\u12G4\"", 5, "invalid hex digit 'G'"},
    {"LoneHighSurrogate", "\"\\ud800\"", 1, "unpaired high surrogate"},
    {"HighSurrogateThenLetter", "\"\\ud800x\"", 1, "unpaired high surrogate"},
    {"HighSurrogateThenBmp", "\"\\ud800\\u0041\"", 1,
     "unpaired high surrogate"},
    {"LoneLowSurrogate", "\"\\udc00\"", 1, "unpaired low surrogate"},
    {"InvalidUtf8Byte", "\"a\xff\"", 2, "invalid UTF-8"},
    {"Utf8Continuation", "\"\x80\"", 1, "invalid UTF-8"},
    {"Utf8Overlong", "\"\xc0\x80\"", 1, "invalid UTF-8"},
    {"Utf8Overlong3", "\"\xe0\x80\xaf\"", 1, "invalid UTF-8"},
    {"Utf8Surrogate", "\"\xed\xa0\x80\"", 1, "invalid UTF-8"},
    {"Utf8AboveMax", "\"\xf4\x90\x80\x80\"", 1, "invalid UTF-8"},
    {"Utf8Truncated", "\"\xe2\x82\"", 1, "invalid UTF-8"},
    {"Utf8OutsideString", "\xc3\xa9", 0, "unexpected byte 0xc3"},
    {"ByteOrderMark", "\xef\xbb\xbf{}", 0, "unexpected byte 0xef"},
    {"DuplicateKey", "{\"a\":1,\"b\":2,\"a\":3}", 13, "duplicate key 'a'"},
    {"NestedDuplicateKey", "[{\"k\":{\"x\":1,\"x\":1}}]", 13,
     "duplicate key 'x'"},
    {"EarliestDuplicateReported", "{\"b\":0,\"a\":0,\"b\":0,\"a\":0}", 13,
     "duplicate key 'b'"},
};

INSTANTIATE_TEST_SUITE_P(Cases, JsonInvalid, ::testing::ValuesIn(kInvalidCases),
                         [](const auto &info) { return info.param.name; });

TEST(Json, IsValidUtf8) {
  using lctxrt::json::isValidUtf8;
  EXPECT_TRUE(isValidUtf8(""));
  EXPECT_TRUE(isValidUtf8("plain ascii"));
  EXPECT_TRUE(isValidUtf8("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"));
  EXPECT_FALSE(isValidUtf8("\xff"));
  EXPECT_FALSE(isValidUtf8("a\xc3"));
  EXPECT_FALSE(isValidUtf8("\xed\xbf\xbf"));
}

TEST(Json, QuoteRoundTrips) {
  using lctxrt::json::quote;
  EXPECT_EQ(quote("a\"b\\c"), R"("a\"b\\c")");
  EXPECT_EQ(quote(std::string("\n\x01\0", 3)), R"("\u000a\u0001\u0000")");
  static const char kTricky[] = "tab\there \"q\" \\ \x1f caf\xc3\xa9 \0 end";
  const std::string tricky(kTricky, sizeof(kTricky) - 1);
  Value value = parseOk(quote(tricky));
  ASSERT_TRUE(value.isString());
  EXPECT_EQ(value.getString(), tricky);
}

} // namespace
