//===- json.cc - Small strict JSON parser -----------------------*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#include "json.h"

#include <algorithm>
#include <cmath>
#include <locale>
#include <sstream>

using lctxrt::json::Value;

namespace {

/// Returns the length of the UTF-8 sequence at \p pos of \p text, or 0 if
/// it is malformed, truncated, overlong, a surrogate or above U+10FFFF.
size_t utf8SequenceLength(std::string_view text, size_t pos) {
  auto byte = [&](size_t i) {
    return static_cast<unsigned char>(text[pos + i]);
  };
  unsigned char lead = byte(0);
  if (lead < 0x80)
    return 1;
  size_t length;
  unsigned char lo = 0x80, hi = 0xbf; // Allowed range of the second byte.
  if (lead >= 0xc2 && lead <= 0xdf) {
    length = 2;
  } else if (lead >= 0xe0 && lead <= 0xef) {
    length = 3;
    if (lead == 0xe0)
      lo = 0xa0; // Overlong below U+0800.
    else if (lead == 0xed)
      hi = 0x9f; // Surrogates U+D800..U+DFFF.
  } else if (lead >= 0xf0 && lead <= 0xf4) {
    length = 4;
    if (lead == 0xf0)
      lo = 0x90; // Overlong below U+10000.
    else if (lead == 0xf4)
      hi = 0x8f; // Above U+10FFFF.
  } else {
    return 0;
  }
  if (text.size() - pos < length)
    return 0;
  if (byte(1) < lo || byte(1) > hi)
    return 0;
  for (size_t i = 2; i < length; ++i)
    if (byte(i) < 0x80 || byte(i) > 0xbf)
      return 0;
  return length;
}

void appendUtf8(std::string &out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xc0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xe0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else {
    out += static_cast<char>(0xf0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  }
}

/// Describes the byte \p c for an error message.
std::string describeByte(char c) {
  auto u = static_cast<unsigned char>(c);
  if (u >= 0x20 && u < 0x7f)
    return std::string("'") + c + "'";
  static const char kHex[] = "0123456789abcdef";
  return std::string("byte 0x") + kHex[u >> 4] + kHex[u & 15];
}

class Parser {
public:
  Parser(std::string_view text, const lctxrt::json::ParseOptions &options,
         lctxrt::json::ParseError &error)
      : text(text), options(options), error(error) {}

  bool parseDocument(Value &out) {
    skipWhitespace();
    if (!parseValue(out, 0))
      return false;
    skipWhitespace();
    if (pos != text.size())
      return fail("unexpected " + describeByte(text[pos]) +
                  " after the JSON value");
    return true;
  }

private:
  bool fail(std::string message) { return failAt(pos, std::move(message)); }
  bool failAt(size_t offset, std::string message) {
    error.offset = offset;
    error.message = std::move(message);
    return false;
  }
  bool atEnd() const { return pos >= text.size(); }
  char peek() const { return text[pos]; }

  void skipWhitespace() {
    while (!atEnd() && (peek() == ' ' || peek() == '\t' || peek() == '\n' ||
                        peek() == '\r'))
      ++pos;
  }

  bool parseValue(Value &out, unsigned depth);
  bool parseLiteral(std::string_view word, Value value, Value &out);
  bool parseNumber(Value &out);
  bool parseString(std::string &out);
  bool parseHex4(uint32_t &out);
  bool parseArray(Value &out, unsigned depth);
  bool parseObject(Value &out, unsigned depth);

  std::string_view text;
  const lctxrt::json::ParseOptions &options;
  lctxrt::json::ParseError &error;
  size_t pos = 0;
  size_t numValues = 0;
};

bool Parser::parseValue(Value &out, unsigned depth) {
  if (atEnd())
    return fail("unexpected end of input, expected a value");
  if (++numValues > options.maxValues)
    return fail("more than " + std::to_string(options.maxValues) + " values");
  switch (peek()) {
  case '{':
    return parseObject(out, depth + 1);
  case '[':
    return parseArray(out, depth + 1);
  case '"': {
    std::string s;
    if (!parseString(s))
      return false;
    out = Value::makeString(std::move(s));
    return true;
  }
  case 't':
    return parseLiteral("true", Value::makeBool(true), out);
  case 'f':
    return parseLiteral("false", Value::makeBool(false), out);
  case 'n':
    return parseLiteral("null", Value(), out);
  default:
    if (peek() == '-' || (peek() >= '0' && peek() <= '9'))
      return parseNumber(out);
    return fail("unexpected " + describeByte(peek()) + ", expected a value");
  }
}

bool Parser::parseLiteral(std::string_view word, Value value, Value &out) {
  if (text.substr(pos, word.size()) != word)
    return fail("invalid literal, expected '" + std::string(word) + "'");
  pos += word.size();
  out = std::move(value);
  return true;
}

bool Parser::parseNumber(Value &out) {
  size_t start = pos;
  auto isDigit = [&] { return !atEnd() && peek() >= '0' && peek() <= '9'; };
  bool negative = !atEnd() && peek() == '-';
  if (negative)
    ++pos;
  if (!isDigit())
    return fail("expected a digit");
  if (peek() == '0') {
    ++pos;
    if (isDigit())
      return failAt(pos - 1, "leading zeros are not allowed");
  } else {
    while (isDigit())
      ++pos;
  }
  bool integral = true;
  if (!atEnd() && peek() == '.') {
    integral = false;
    ++pos;
    if (!isDigit())
      return fail("expected a digit after '.'");
    while (isDigit())
      ++pos;
  }
  if (!atEnd() && (peek() == 'e' || peek() == 'E')) {
    integral = false;
    ++pos;
    if (!atEnd() && (peek() == '+' || peek() == '-'))
      ++pos;
    if (!isDigit())
      return fail("expected a digit in the exponent");
    while (isDigit())
      ++pos;
  }
  std::string_view literal = text.substr(start, pos - start);
  if (integral) {
    // Accumulate the magnitude; -2^63 is representable, 2^63 is not.
    uint64_t limit = negative ? uint64_t(1) << 63 : (uint64_t(1) << 63) - 1;
    uint64_t magnitude = 0;
    bool overflow = false;
    for (char c : literal.substr(negative ? 1 : 0)) {
      auto digit = static_cast<uint64_t>(c - '0');
      if (magnitude > (limit - digit) / 10) {
        overflow = true;
        break;
      }
      magnitude = magnitude * 10 + digit;
    }
    if (!overflow) {
      int64_t value = negative ? static_cast<int64_t>(0 - magnitude)
                               : static_cast<int64_t>(magnitude);
      out = Value::makeInt(value);
      return true;
    }
  }
  // Locale-independent conversion; rejects values beyond double's range.
  std::istringstream stream{std::string(literal)};
  stream.imbue(std::locale::classic());
  double value = 0;
  stream >> value;
  if (stream.fail() || std::isinf(value))
    return failAt(start,
                  "number '" + std::string(literal) + "' is out of range");
  out = Value::makeDouble(value);
  return true;
}

bool Parser::parseHex4(uint32_t &out) {
  out = 0;
  for (int i = 0; i < 4; ++i, ++pos) {
    if (atEnd())
      return fail("unexpected end of input in \\u escape");
    char c = peek();
    uint32_t digit;
    if (c >= '0' && c <= '9')
      digit = c - '0';
    else if (c >= 'a' && c <= 'f')
      digit = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F')
      digit = c - 'A' + 10;
    else
      return fail("invalid hex digit " + describeByte(c) + " in \\u escape");
    out = out * 16 + digit;
  }
  return true;
}

bool Parser::parseString(std::string &out) {
  size_t start = pos;
  ++pos; // Opening quote.
  while (true) {
    if (atEnd())
      return failAt(start, "unterminated string");
    auto c = static_cast<unsigned char>(peek());
    if (c == '"') {
      ++pos;
      return true;
    }
    if (c < 0x20)
      return fail("unescaped control character " + describeByte(peek()) +
                  " in string");
    if (c >= 0x80) {
      size_t length = utf8SequenceLength(text, pos);
      if (length == 0)
        return fail("invalid UTF-8 in string");
      out.append(text.substr(pos, length));
      pos += length;
      continue;
    }
    if (c != '\\') {
      out += static_cast<char>(c);
      ++pos;
      continue;
    }
    size_t escapeStart = pos;
    ++pos;
    if (atEnd())
      return failAt(start, "unterminated string");
    char e = peek();
    ++pos;
    switch (e) {
    case '"':
    case '\\':
    case '/':
      out += e;
      break;
    case 'b':
      out += '\b';
      break;
    case 'f':
      out += '\f';
      break;
    case 'n':
      out += '\n';
      break;
    case 'r':
      out += '\r';
      break;
    case 't':
      out += '\t';
      break;
    case 'u': {
      uint32_t cp;
      if (!parseHex4(cp))
        return false;
      if (cp >= 0xdc00 && cp <= 0xdfff)
        return failAt(escapeStart, "unpaired low surrogate escape");
      if (cp >= 0xd800 && cp <= 0xdbff) {
        if (text.substr(pos, 2) != "\\u")
          return failAt(escapeStart, "unpaired high surrogate escape");
        pos += 2;
        uint32_t low;
        if (!parseHex4(low))
          return false;
        if (low < 0xdc00 || low > 0xdfff)
          return failAt(escapeStart, "unpaired high surrogate escape");
        cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
      }
      appendUtf8(out, cp);
      break;
    }
    default:
      return failAt(escapeStart, "invalid escape sequence: backslash "
                                 "followed by " +
                                     describeByte(e));
    }
  }
}

bool Parser::parseArray(Value &out, unsigned depth) {
  if (depth > options.maxDepth)
    return fail("nesting deeper than " + std::to_string(options.maxDepth));
  ++pos; // '['
  lctxrt::json::Array elements;
  skipWhitespace();
  if (!atEnd() && peek() == ']') {
    ++pos;
    out = Value::makeArray(std::move(elements));
    return true;
  }
  while (true) {
    skipWhitespace();
    elements.emplace_back();
    if (!parseValue(elements.back(), depth))
      return false;
    skipWhitespace();
    if (atEnd())
      return fail("unexpected end of input in array");
    if (peek() == ',') {
      ++pos;
      continue;
    }
    if (peek() == ']') {
      ++pos;
      out = Value::makeArray(std::move(elements));
      return true;
    }
    return fail("expected ',' or ']' in array, found " + describeByte(peek()));
  }
}

bool Parser::parseObject(Value &out, unsigned depth) {
  if (depth > options.maxDepth)
    return fail("nesting deeper than " + std::to_string(options.maxDepth));
  ++pos; // '{'
  lctxrt::json::Object members;
  std::vector<size_t> keyOffsets;
  skipWhitespace();
  if (!atEnd() && peek() == '}') {
    ++pos;
    out = Value::makeObject(std::move(members));
    return true;
  }
  while (true) {
    skipWhitespace();
    if (atEnd())
      return fail("unexpected end of input in object");
    if (peek() != '"')
      return fail("expected a string key in object, found " +
                  describeByte(peek()));
    keyOffsets.push_back(pos);
    members.emplace_back();
    if (!parseString(members.back().key))
      return false;
    skipWhitespace();
    if (atEnd() || peek() != ':')
      return fail("expected ':' after object key");
    ++pos;
    skipWhitespace();
    if (!parseValue(members.back().value, depth))
      return false;
    skipWhitespace();
    if (atEnd())
      return fail("unexpected end of input in object");
    if (peek() == ',') {
      ++pos;
      continue;
    }
    if (peek() == '}') {
      ++pos;
      break;
    }
    return fail("expected ',' or '}' in object, found " + describeByte(peek()));
  }
  // Reject duplicate keys, reporting the earliest repeated occurrence.
  std::vector<size_t> order(members.size());
  for (size_t i = 0; i < order.size(); ++i)
    order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    int cmp = members[a].key.compare(members[b].key);
    return cmp != 0 ? cmp < 0 : a < b;
  });
  size_t duplicate = members.size();
  for (size_t i = 1; i < order.size(); ++i)
    if (members[order[i]].key == members[order[i - 1]].key)
      duplicate = std::min(duplicate, order[i]);
  if (duplicate != members.size())
    return failAt(keyOffsets[duplicate],
                  "duplicate key '" + members[duplicate].key + "'");
  out = Value::makeObject(std::move(members));
  return true;
}

} // namespace

const Value *Value::find(std::string_view key) const {
  if (!isObject())
    return nullptr;
  for (const Member &member : getObject())
    if (member.key == key)
      return &member.value;
  return nullptr;
}

const char *Value::kindName(Kind kind) {
  switch (kind) {
  case Kind::Null:
    return "null";
  case Kind::Bool:
    return "boolean";
  case Kind::Int:
  case Kind::Double:
    return "number";
  case Kind::String:
    return "string";
  case Kind::Array:
    return "array";
  case Kind::Object:
    return "object";
  }
  return "?";
}

std::string lctxrt::json::ParseError::str() const {
  return "byte " + std::to_string(offset) + ": " + message;
}

bool lctxrt::json::parse(std::string_view text, Value &out, ParseError &error,
                         const ParseOptions &options) {
  Parser parser(text, options, error);
  Value result;
  if (!parser.parseDocument(result))
    return false;
  out = std::move(result);
  return true;
}

bool lctxrt::json::isValidUtf8(std::string_view text) {
  for (size_t pos = 0; pos < text.size();) {
    size_t length = utf8SequenceLength(text, pos);
    if (length == 0)
      return false;
    pos += length;
  }
  return true;
}

std::string lctxrt::json::quote(std::string_view text) {
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(text.size() + 2);
  out += '"';
  for (char c : text) {
    auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20) {
      out += "\\u00";
      out += kHex[u >> 4];
      out += kHex[u & 15];
    } else {
      out += c;
    }
  }
  out += '"';
  return out;
}

std::string lctxrt::json::describe(const Value &value) {
  switch (value.kind()) {
  case Value::Kind::Int:
    return std::to_string(value.getInt());
  case Value::Kind::Double:
    return "a non-integer or out-of-range number";
  case Value::Kind::String:
    return quote(value.getString());
  case Value::Kind::Array:
    return "an array";
  case Value::Kind::Object:
    return "an object";
  default:
    return std::string("a ") + Value::kindName(value.kind());
  }
}
