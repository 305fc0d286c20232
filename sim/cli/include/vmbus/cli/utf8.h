// UTF-8 checks shared by the tools that write JSON and XML.
#pragma once

#include <cstddef>
#include <string_view>

namespace vmbus::cli {

// The byte at `pos` of `text` as a number 0-255 (char may be signed).
inline unsigned byte_at(std::string_view text, std::size_t pos) {
  return static_cast<unsigned char>(text[pos]);
}

// The length (1-4) of the well-formed UTF-8 sequence starting at `pos` of
// `text` (RFC 3629: no overlong forms, no surrogates, nothing above
// U+10FFFF), or 0 if the bytes there are not one. `pos` < text.size().
std::size_t utf8_sequence_length(std::string_view text, std::size_t pos);

}  // namespace vmbus::cli
