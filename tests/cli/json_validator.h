// A strict JSON validator (RFC 8259) for the tests of the tools that write
// JSON (trace export, the HTML timeline's data): enough to prove the output
// parses.
#pragma once

#include <string>
#include <string_view>

namespace vmbus::cli::testing {

class JsonValidator {
 public:
  explicit JsonValidator(std::string_view text) : text_(text) {}

  // Empty when `text` is exactly one JSON value (with optional whitespace).
  std::string error() {
    skip_space();
    if (!value()) {
      return failure_;
    }
    skip_space();
    if (pos_ != text_.size()) {
      return fail("trailing text");
    }
    return "";
  }

 private:
  static constexpr int kMaxDepth = 64;

  std::string fail(const std::string& what) {
    if (failure_.empty()) {
      failure_ = what + " at byte " + std::to_string(pos_);
    }
    return failure_;
  }

  bool at_end() const { return pos_ >= text_.size(); }
  char peek() const { return at_end() ? '\0' : text_[pos_]; }

  void skip_space() {
    while (!at_end() && (peek() == ' ' || peek() == '\t' || peek() == '\n' || peek() == '\r')) {
      ++pos_;
    }
  }

  bool expect(char c) {
    if (peek() != c) {
      fail(std::string("expected '") + c + "'");
      return false;
    }
    ++pos_;
    return true;
  }

  bool value() {
    if (++depth_ > kMaxDepth) {
      fail("nested too deeply");
      return false;
    }
    bool ok = false;
    switch (peek()) {
      case '{':
        ok = object();
        break;
      case '[':
        ok = array();
        break;
      case '"':
        ok = string();
        break;
      case 't':
        ok = literal("true");
        break;
      case 'f':
        ok = literal("false");
        break;
      case 'n':
        ok = literal("null");
        break;
      default:
        ok = number();
        break;
    }
    --depth_;
    return ok;
  }

  bool object() {
    ++pos_;
    skip_space();
    if (peek() == '}') {
      ++pos_;
      return true;
    }
    while (true) {
      skip_space();
      if (peek() != '"' || !string()) {
        fail("expected a member name");
        return false;
      }
      skip_space();
      if (!expect(':')) {
        return false;
      }
      skip_space();
      if (!value()) {
        return false;
      }
      skip_space();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      return expect('}');
    }
  }

  bool array() {
    ++pos_;
    skip_space();
    if (peek() == ']') {
      ++pos_;
      return true;
    }
    while (true) {
      skip_space();
      if (!value()) {
        return false;
      }
      skip_space();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      return expect(']');
    }
  }

  static bool is_hex(char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
  }

  bool string() {
    ++pos_;
    while (!at_end()) {
      const auto byte = static_cast<unsigned char>(text_[pos_]);
      if (byte == '"') {
        ++pos_;
        return true;
      }
      if (byte < 0x20) {
        fail("raw control character in a string");
        return false;
      }
      if (byte == '\\') {
        ++pos_;
        const char escaped = peek();
        if (escaped == 'u') {
          for (int i = 1; i <= 4; ++i) {
            if (pos_ + static_cast<std::size_t>(i) >= text_.size() ||
                !is_hex(text_[pos_ + static_cast<std::size_t>(i)])) {
              fail("bad \\u escape");
              return false;
            }
          }
          pos_ += 5;
          continue;
        }
        if (std::string_view("\"\\/bfnrt").find(escaped) == std::string_view::npos || at_end()) {
          fail("bad escape");
          return false;
        }
        ++pos_;
        continue;
      }
      if (byte >= 0x80) {
        // Lead byte and continuation bytes of one UTF-8 sequence.
        const std::size_t length = byte > 0xF4    ? 0
                                   : byte >= 0xF0 ? 4
                                   : byte >= 0xE0 ? 3
                                   : byte >= 0xC2 ? 2
                                                  : 0;
        if (length == 0 || pos_ + length > text_.size()) {
          fail("bad UTF-8");
          return false;
        }
        for (std::size_t i = 1; i < length; ++i) {
          if ((static_cast<unsigned char>(text_[pos_ + i]) & 0xC0) != 0x80) {
            fail("bad UTF-8");
            return false;
          }
        }
        pos_ += length;
        continue;
      }
      ++pos_;
    }
    fail("unterminated string");
    return false;
  }

  bool literal(std::string_view word) {
    if (text_.substr(pos_, word.size()) != word) {
      fail("bad literal");
      return false;
    }
    pos_ += word.size();
    return true;
  }

  bool digits() {
    const std::size_t begin = pos_;
    while (peek() >= '0' && peek() <= '9') {
      ++pos_;
    }
    return pos_ > begin;
  }

  bool number() {
    if (peek() == '-') {
      ++pos_;
    }
    if (peek() == '0') {
      ++pos_;
    } else if (!digits()) {
      fail("expected a value");
      return false;
    }
    if (peek() == '.') {
      ++pos_;
      if (!digits()) {
        fail("expected digits after '.'");
        return false;
      }
    }
    if (peek() == 'e' || peek() == 'E') {
      ++pos_;
      if (peek() == '+' || peek() == '-') {
        ++pos_;
      }
      if (!digits()) {
        fail("expected exponent digits");
        return false;
      }
    }
    return true;
  }

  std::string_view text_;
  std::size_t pos_ = 0;
  int depth_ = 0;
  std::string failure_;
};

}  // namespace vmbus::cli::testing
