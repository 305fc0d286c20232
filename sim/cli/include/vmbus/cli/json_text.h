// JSON text for the tools that write it (trace export, sweep results):
// strings that are always valid JSON in valid UTF-8, and durations that
// never go through a locale.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace vmbus::cli {

// Appends `text` as a JSON string. Text comes from anywhere (trace details,
// failure messages, file names), so every control character is escaped and
// a byte that is not well-formed UTF-8 becomes U+FFFD.
void append_json_string(std::string& out, std::string_view text);

// Seconds with exactly six decimals and '.' as the point ("1.500000");
// negative and non-finite values give "0.000000".
std::string json_seconds(double seconds);

// Builds one JSON object on one line, members in the order they are added.
// Spaced separates them with ", " and ": " (results files, which people
// read too); compact with ',' and ':' (trace exports, where size counts).
class JsonObjectBuilder {
 public:
  enum class Style { kSpaced, kCompact };

  explicit JsonObjectBuilder(Style style = Style::kSpaced) : style_(style) {}

  JsonObjectBuilder& text(std::string_view key, std::string_view value) {
    append_json_string(member(key), value);
    return *this;
  }
  JsonObjectBuilder& number(std::string_view key, std::uint64_t value) {
    member(key) += std::to_string(value);
    return *this;
  }
  JsonObjectBuilder& seconds(std::string_view key, double value) {
    member(key) += json_seconds(value);
    return *this;
  }
  JsonObjectBuilder& boolean(std::string_view key, bool value) {
    member(key) += value ? "true" : "false";
    return *this;
  }
  // `json` must already be JSON text: an object, an array, a number.
  JsonObjectBuilder& raw(std::string_view key, std::string_view json) {
    member(key) += json;
    return *this;
  }
  std::string done() const { return text_ + "}"; }

 private:
  std::string& member(std::string_view key) {
    const bool compact = style_ == Style::kCompact;
    if (text_.size() > 1) {
      text_ += compact ? "," : ", ";
    }
    append_json_string(text_, key);
    text_ += compact ? ":" : ": ";
    return text_;
  }

  Style style_;
  std::string text_ = "{";
};

}  // namespace vmbus::cli
