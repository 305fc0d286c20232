#include "vmbus/cli/json_text.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <iterator>

#include "vmbus/cli/utf8.h"

namespace vmbus::cli {

void append_json_string(std::string& out, std::string_view text) {
  out += '"';
  for (std::size_t pos = 0; pos < text.size();) {
    const char c = text[pos];
    const auto byte = static_cast<unsigned char>(c);
    const char* escape = nullptr;
    switch (c) {
      case '"':
        escape = "\\\"";
        break;
      case '\\':
        escape = "\\\\";
        break;
      case '\n':
        escape = "\\n";
        break;
      case '\r':
        escape = "\\r";
        break;
      case '\t':
        escape = "\\t";
        break;
      case '\b':
        escape = "\\b";
        break;
      case '\f':
        escape = "\\f";
        break;
      default:
        break;
    }
    if (escape != nullptr) {
      out += escape;
      ++pos;
    } else if (byte < 0x20 || byte == 0x7F) {
      char unicode[8];
      std::snprintf(unicode, sizeof(unicode), "\\u%04x", byte);
      out += unicode;
      ++pos;
    } else if (const std::size_t length = utf8_sequence_length(text, pos); length == 0) {
      out += "\\ufffd";
      ++pos;
    } else {
      out.append(text.substr(pos, length));
      pos += length;
    }
  }
  out += '"';
}

std::string json_seconds(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) {
    seconds = 0;
  }
  char buffer[64];
  const std::to_chars_result result =
      std::to_chars(std::begin(buffer), std::end(buffer), seconds, std::chars_format::fixed, 6);
  return std::string(std::begin(buffer), result.ptr);
}

}  // namespace vmbus::cli
