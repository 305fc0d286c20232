// A strict parser for one line of a JSON-lines file holding a flat object.
//
// vmbus-sim's line formats (the output of `ring decode`, the input of `ring
// encode`) are flat JSON objects: string keys mapped to strings, numbers,
// true, false or null. This parser accepts exactly RFC 8259 for such objects:
// no comments, no trailing commas, no single quotes, no leading zeros, strings
// must be valid UTF-8 without raw control characters. Nested objects and
// arrays are refused with their own message, and so are duplicate keys.
// Every error carries the 1-based byte column where it was found, so callers
// can print FILE:LINE:COL.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace vmbus::cli {

enum class JsonKind : std::uint8_t { kString, kNumber, kTrue, kFalse, kNull };

struct JsonValue {
  JsonKind kind = JsonKind::kNull;
  // kString: the decoded string. kNumber: the literal as written ("-1.5e3").
  std::string text;
  std::size_t column = 0;    // 1-based byte column of the value's first character
  bool had_escapes = false;  // kString: the source used backslash escapes
};

struct JsonMember {
  std::string key;
  std::size_t key_column = 0;  // of the key's opening quote
  JsonValue value;
};

struct JsonObject {
  std::size_t column = 0;           // of '{'
  std::vector<JsonMember> members;  // in source order, keys unique

  const JsonMember* find(std::string_view key) const;
};

struct JsonError {
  std::size_t column = 0;
  std::string message;
};

struct JsonLineResult {
  bool ok = false;
  JsonObject object;  // when ok
  JsonError error;    // when !ok
};

// Parses `line` (without its newline) as exactly one flat JSON object,
// optionally surrounded by JSON whitespace.
JsonLineResult parse_json_object_line(std::string_view line);

// True when `line` is empty or holds only JSON whitespace (space, tab, CR, LF).
bool is_blank_json_line(std::string_view line);

// The value of a number that is a plain non-negative integer literal (no
// sign, fraction or exponent) no greater than `max`; nullopt otherwise.
std::optional<std::uint64_t> json_unsigned(const JsonValue& value, std::uint64_t max);

// How a value reads in an error message: the number literal, "true",
// "false", "null", or "a string".
std::string describe_json_value(const JsonValue& value);

// `text` in double quotes, with bytes outside printable ASCII, '"' and '\'
// escaped, for error messages.
std::string quote_for_message(std::string_view text);

}  // namespace vmbus::cli
