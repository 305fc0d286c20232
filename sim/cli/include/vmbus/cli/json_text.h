// JSON text for the tools that write it (trace export, sweep results):
// strings that are always valid JSON in valid UTF-8, and durations that
// never go through a locale.
#pragma once

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

}  // namespace vmbus::cli
