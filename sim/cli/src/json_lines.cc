#include "vmbus/cli/json_lines.h"

#include <limits>
#include <utility>

#include "vmbus/cli/hex.h"
#include "vmbus/cli/utf8.h"

namespace vmbus::cli {
namespace {

bool is_json_whitespace(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

void append_utf8(std::uint32_t code_point, std::string* out) {
  if (code_point < 0x80) {
    out->push_back(static_cast<char>(code_point));
  } else if (code_point < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (code_point >> 6)));
    out->push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
  } else if (code_point < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (code_point >> 12)));
    out->push_back(static_cast<char>(0x80 | ((code_point >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (code_point >> 18)));
    out->push_back(static_cast<char>(0x80 | ((code_point >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((code_point >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
  }
}

// Recursive descent over one line. Every failure records the first error
// and unwinds by returning false; positions are 0-based, columns 1-based.
class FlatObjectParser {
 public:
  explicit FlatObjectParser(std::string_view text) : text_(text) {}

  JsonLineResult parse() {
    JsonLineResult result;
    if (parse_object(&result.object)) {
      result.ok = true;
    } else {
      result.error = std::move(error_);
    }
    return result;
  }

 private:
  bool at_end() const { return pos_ >= text_.size(); }
  char peek() const { return text_[pos_]; }

  void skip_whitespace() {
    while (!at_end() && is_json_whitespace(peek())) {
      ++pos_;
    }
  }

  // What stands at the current position, for "expected X, found Y".
  std::string found() const {
    if (at_end()) {
      return "end of line";
    }
    return quote_for_message(text_.substr(pos_, 1));
  }

  bool fail(std::size_t pos, std::string message) {
    error_.column = pos + 1;
    error_.message = std::move(message);
    return false;
  }

  bool parse_object(JsonObject* object) {
    skip_whitespace();
    if (at_end() || peek() != '{') {
      return fail(pos_, "expected '{' at the start of an object, found " + found());
    }
    object->column = pos_ + 1;
    ++pos_;
    skip_whitespace();
    if (!at_end() && peek() == '}') {
      ++pos_;
      return expect_end();
    }
    while (true) {
      skip_whitespace();
      if (at_end() || peek() != '"') {
        return fail(pos_, std::string(object->members.empty() ? "expected a string key or '}'"
                                                              : "expected a string key after ','") +
                              ", found " + found());
      }
      JsonMember member;
      member.key_column = pos_ + 1;
      JsonValue key;
      if (!parse_string(&key)) {
        return false;
      }
      member.key = std::move(key.text);
      if (object->find(member.key) != nullptr) {
        return fail(member.key_column - 1, "duplicate key " + quote_for_message(member.key));
      }
      skip_whitespace();
      if (at_end() || peek() != ':') {
        return fail(pos_, "expected ':' after the key, found " + found());
      }
      ++pos_;
      skip_whitespace();
      if (!parse_value(&member.value)) {
        return false;
      }
      object->members.push_back(std::move(member));
      skip_whitespace();
      if (!at_end() && peek() == ',') {
        ++pos_;
        continue;
      }
      if (!at_end() && peek() == '}') {
        ++pos_;
        return expect_end();
      }
      return fail(pos_, "expected ',' or '}' after a value, found " + found());
    }
  }

  bool expect_end() {
    skip_whitespace();
    if (!at_end()) {
      return fail(pos_, "unexpected " + found() + " after the object");
    }
    return true;
  }

  bool parse_value(JsonValue* value) {
    value->column = pos_ + 1;
    if (at_end()) {
      return fail(pos_, "expected a value, found end of line");
    }
    const char c = peek();
    if (c == '"') {
      return parse_string(value);
    }
    if (c == '-' || is_digit(c)) {
      return parse_number(value);
    }
    if (c == '{' || c == '[') {
      return fail(pos_, "nested objects and arrays are not supported");
    }
    static constexpr std::pair<std::string_view, JsonKind> kLiterals[] = {
        {"true", JsonKind::kTrue}, {"false", JsonKind::kFalse}, {"null", JsonKind::kNull}};
    for (const auto& [word, kind] : kLiterals) {
      if (text_.substr(pos_, word.size()) == word) {
        pos_ += word.size();
        value->kind = kind;
        return true;
      }
    }
    return fail(pos_, "expected a value, found " + found());
  }

  bool parse_number(JsonValue* value) {
    const std::size_t start = pos_;
    if (peek() == '-') {
      ++pos_;
    }
    if (at_end() || !is_digit(peek())) {
      return fail(pos_, "invalid number: expected a digit, found " + found());
    }
    if (peek() == '0') {
      ++pos_;
      if (!at_end() && is_digit(peek())) {
        return fail(start, "invalid number: leading zeros are not allowed");
      }
    } else {
      while (!at_end() && is_digit(peek())) {
        ++pos_;
      }
    }
    if (!at_end() && peek() == '.') {
      ++pos_;
      if (at_end() || !is_digit(peek())) {
        return fail(pos_, "invalid number: expected a digit after '.', found " + found());
      }
      while (!at_end() && is_digit(peek())) {
        ++pos_;
      }
    }
    if (!at_end() && (peek() == 'e' || peek() == 'E')) {
      ++pos_;
      if (!at_end() && (peek() == '+' || peek() == '-')) {
        ++pos_;
      }
      if (at_end() || !is_digit(peek())) {
        return fail(pos_, "invalid number: expected a digit in the exponent, found " + found());
      }
      while (!at_end() && is_digit(peek())) {
        ++pos_;
      }
    }
    value->kind = JsonKind::kNumber;
    value->text = std::string(text_.substr(start, pos_ - start));
    return true;
  }

  // Four hex digits after "\u" at pos_; advances past them.
  bool parse_hex4(std::size_t escape_pos, std::uint32_t* unit) {
    *unit = 0;
    for (int i = 0; i < 4; ++i) {
      const int digit = at_end() ? -1 : hex_digit_value(peek());
      if (digit < 0) {
        return fail(escape_pos, "invalid \\u escape: expected four hex digits");
      }
      *unit = *unit * 16 + static_cast<std::uint32_t>(digit);
      ++pos_;
    }
    return true;
  }

  bool parse_escape(JsonValue* value) {
    const std::size_t escape_pos = pos_;
    ++pos_;  // the backslash
    if (at_end()) {
      return fail(escape_pos, "unterminated escape at end of line");
    }
    const char c = peek();
    ++pos_;
    switch (c) {
      case '"':
      case '\\':
      case '/':
        value->text.push_back(c);
        return true;
      case 'b':
        value->text.push_back('\b');
        return true;
      case 'f':
        value->text.push_back('\f');
        return true;
      case 'n':
        value->text.push_back('\n');
        return true;
      case 'r':
        value->text.push_back('\r');
        return true;
      case 't':
        value->text.push_back('\t');
        return true;
      case 'u':
        break;
      default:
        return fail(escape_pos, "invalid escape " + quote_for_message(text_.substr(escape_pos, 2)));
    }
    std::uint32_t unit = 0;
    if (!parse_hex4(escape_pos, &unit)) {
      return false;
    }
    if (unit >= 0xDC00 && unit <= 0xDFFF) {
      return fail(escape_pos, "invalid \\u escape: unpaired low surrogate");
    }
    if (unit >= 0xD800 && unit <= 0xDBFF) {
      if (text_.substr(pos_, 2) != "\\u") {
        return fail(escape_pos, "invalid \\u escape: unpaired high surrogate");
      }
      pos_ += 2;
      std::uint32_t low = 0;
      if (!parse_hex4(escape_pos, &low)) {
        return false;
      }
      if (low < 0xDC00 || low > 0xDFFF) {
        return fail(escape_pos, "invalid \\u escape: unpaired high surrogate");
      }
      unit = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00);
    }
    append_utf8(unit, &value->text);
    return true;
  }

  bool parse_string(JsonValue* value) {
    const std::size_t open_quote = pos_;
    value->kind = JsonKind::kString;
    value->column = pos_ + 1;
    ++pos_;
    while (true) {
      if (at_end()) {
        return fail(open_quote, "unterminated string");
      }
      const char c = peek();
      if (c == '"') {
        ++pos_;
        return true;
      }
      if (c == '\\') {
        value->had_escapes = true;
        if (!parse_escape(value)) {
          return false;
        }
        continue;
      }
      if (byte_at(text_, pos_) < 0x20) {
        return fail(pos_, "control character " + found() + " in a string; escape it");
      }
      const std::size_t length = utf8_sequence_length(text_, pos_);
      if (length == 0) {
        return fail(pos_, "invalid UTF-8 in a string");
      }
      value->text.append(text_.substr(pos_, length));
      pos_ += length;
    }
  }

  std::string_view text_;
  std::size_t pos_ = 0;
  JsonError error_;
};

}  // namespace

const JsonMember* JsonObject::find(std::string_view key) const {
  for (const JsonMember& member : members) {
    if (member.key == key) {
      return &member;
    }
  }
  return nullptr;
}

JsonLineResult parse_json_object_line(std::string_view line) {
  return FlatObjectParser(line).parse();
}

bool is_blank_json_line(std::string_view line) {
  for (const char c : line) {
    if (!is_json_whitespace(c)) {
      return false;
    }
  }
  return true;
}

std::optional<std::uint64_t> json_unsigned(const JsonValue& value, std::uint64_t max) {
  if (value.kind != JsonKind::kNumber || value.text.empty()) {
    return std::nullopt;
  }
  std::uint64_t result = 0;
  for (const char c : value.text) {
    if (!is_digit(c)) {
      return std::nullopt;  // sign, fraction or exponent
    }
    const auto digit = static_cast<std::uint64_t>(c - '0');
    if (result > (std::numeric_limits<std::uint64_t>::max() - digit) / 10) {
      return std::nullopt;
    }
    result = result * 10 + digit;
  }
  if (result > max) {
    return std::nullopt;
  }
  return result;
}

std::string describe_json_value(const JsonValue& value) {
  switch (value.kind) {
    case JsonKind::kString:
      return "a string";
    case JsonKind::kNumber:
      return value.text;
    case JsonKind::kTrue:
      return "true";
    case JsonKind::kFalse:
      return "false";
    case JsonKind::kNull:
      return "null";
  }
  return "an unknown value";
}

std::string quote_for_message(std::string_view text) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string quoted = "\"";
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      quoted.push_back('\\');
      quoted.push_back(c);
    } else if (byte >= 0x20 && byte < 0x7F) {
      quoted.push_back(c);
    } else {
      quoted += "\\x";
      quoted.push_back(kDigits[byte >> 4]);
      quoted.push_back(kDigits[byte & 0xFu]);
    }
  }
  quoted.push_back('"');
  return quoted;
}

}  // namespace vmbus::cli
