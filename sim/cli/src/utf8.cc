#include "vmbus/cli/utf8.h"

namespace vmbus::cli {

std::size_t utf8_sequence_length(std::string_view text, std::size_t pos) {
  const unsigned lead = byte_at(text, pos);
  std::size_t length = 0;
  unsigned min_second = 0x80;
  unsigned max_second = 0xBF;
  if (lead < 0x80) {
    return 1;
  } else if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    if (lead == 0xE0) {
      min_second = 0xA0;  // below is overlong
    } else if (lead == 0xED) {
      max_second = 0x9F;  // above are the UTF-16 surrogates
    }
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    if (lead == 0xF0) {
      min_second = 0x90;  // below is overlong
    } else if (lead == 0xF4) {
      max_second = 0x8F;  // above is beyond U+10FFFF
    }
  } else {
    return 0;
  }
  if (pos + length > text.size()) {
    return 0;
  }
  const unsigned second = byte_at(text, pos + 1);
  if (second < min_second || second > max_second) {
    return 0;
  }
  for (std::size_t i = 2; i < length; ++i) {
    const unsigned next = byte_at(text, pos + i);
    if (next < 0x80 || next > 0xBF) {
      return 0;
    }
  }
  return length;
}

}  // namespace vmbus::cli
