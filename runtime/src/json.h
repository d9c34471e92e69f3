//===- json.h - Small strict JSON parser ------------------------*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
///
/// \file
/// A strict RFC 8259 JSON parser for untrusted input such as safetensors
/// headers. Beyond the grammar it rejects invalid UTF-8, unpaired surrogate
/// escapes, duplicate object keys, trailing characters after the value,
/// numbers that overflow a double, nesting deeper than a limit and documents
/// with more values than a limit. Integral numbers (no fraction, no exponent)
/// that fit in int64_t are kept exactly; other numbers become doubles.
/// Objects keep their members in document order. Internal to lctxrt.
///
//===----------------------------------------------------------------------===//

#ifndef LCTXRT_SRC_JSON_H
#define LCTXRT_SRC_JSON_H

#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace lctxrt::json {

class Value;
struct Member;
/// A JSON array.
using Array = std::vector<Value>;
/// A JSON object, in document order, without duplicate keys.
using Object = std::vector<Member>;

/// A parsed JSON value.
class Value {
public:
  /// The value's type; the order matches the variant alternatives.
  enum class Kind { Null, Bool, Int, Double, String, Array, Object };

  /// Constructs null.
  Value() = default;
  /// Makes a boolean.
  static Value makeBool(bool value) {
    return Value(Storage(std::in_place_type<bool>, value));
  }
  /// Makes an integral number.
  static Value makeInt(int64_t value) {
    return Value(Storage(std::in_place_type<int64_t>, value));
  }
  /// Makes a non-integral (or out of int64_t range) number.
  static Value makeDouble(double value) {
    return Value(Storage(std::in_place_type<double>, value));
  }
  /// Makes a string.
  static Value makeString(std::string value) {
    return Value(Storage(std::move(value)));
  }
  /// Makes an array.
  static Value makeArray(Array value) {
    return Value(Storage(std::move(value)));
  }
  /// Makes an object; the caller guarantees unique keys.
  static Value makeObject(Object value) {
    return Value(Storage(std::move(value)));
  }

  /// Returns the type of this value.
  Kind kind() const { return static_cast<Kind>(storage.index()); }
  bool isNull() const { return kind() == Kind::Null; }
  bool isBool() const { return kind() == Kind::Bool; }
  bool isInt() const { return kind() == Kind::Int; }
  bool isDouble() const { return kind() == Kind::Double; }
  bool isString() const { return kind() == Kind::String; }
  bool isArray() const { return kind() == Kind::Array; }
  bool isObject() const { return kind() == Kind::Object; }

  /// Accessors; each requires the matching kind.
  bool getBool() const { return std::get<bool>(storage); }
  int64_t getInt() const { return std::get<int64_t>(storage); }
  double getDouble() const { return std::get<double>(storage); }
  const std::string &getString() const {
    return std::get<std::string>(storage);
  }
  const Array &getArray() const { return std::get<Array>(storage); }
  const Object &getObject() const { return std::get<Object>(storage); }

  /// Returns the member \p key of an object, or null if this is not an
  /// object or has no such member. Linear in the number of members.
  const Value *find(std::string_view key) const;

  /// Returns the JSON type name of \p kind ("string", "number", ...).
  static const char *kindName(Kind kind);

private:
  using Storage = std::variant<std::monostate, bool, int64_t, double,
                               std::string, Array, Object>;
  explicit Value(Storage storage) : storage(std::move(storage)) {}
  Storage storage;
};

/// An object member.
struct Member {
  std::string key;
  Value value;
};

/// Limits applied while parsing.
struct ParseOptions {
  /// The deepest nesting of arrays and objects accepted; a top-level scalar
  /// has depth 0 and `[]` has depth 1.
  unsigned maxDepth = 64;
  /// The most values (scalars and containers, keys excluded) accepted.
  size_t maxValues = std::numeric_limits<size_t>::max();
};

/// Where and why parsing failed.
struct ParseError {
  /// Byte offset into the input of the offending character.
  size_t offset = 0;
  std::string message;
  /// Returns "byte OFFSET: MESSAGE".
  std::string str() const;
};

/// Parses the whole of \p text into \p out. Returns false and fills \p error
/// if \p text is not exactly one valid JSON value (plus whitespace).
bool parse(std::string_view text, Value &out, ParseError &error,
           const ParseOptions &options = ParseOptions());

/// Returns true if \p text is well-formed UTF-8 (no overlong forms, no
/// surrogates, nothing above U+10FFFF).
bool isValidUtf8(std::string_view text);

/// Returns \p text as a JSON string literal with quotes. `"`, `\` and
/// control characters are escaped; other bytes are copied, so \p text
/// should be valid UTF-8.
std::string quote(std::string_view text);

/// Describes a value for an error message about its type or range: the
/// integer itself, a quoted string, or its kind ("an array", ...).
std::string describe(const Value &value);

} // namespace lctxrt::json

#endif // LCTXRT_SRC_JSON_H
