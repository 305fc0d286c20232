#include "vmbus/wire/guid.h"

#include <optional>

namespace vmbus::wire {
namespace {

// Where each wire byte's two hex digits sit in the canonical text. The first
// three groups are little-endian on the wire, so their digits run backwards.
constexpr std::array<std::size_t, 16> kTextOffsetOfByte = {
    6,  4,  2,  0,           // Data1
    11, 9,                   // Data2
    16, 14,                  // Data3
    19, 21,                  // Data4[0..1]
    24, 26, 28, 30, 32, 34,  // Data4[2..7]
};

constexpr std::array<std::size_t, 4> kDashOffsets = {8, 13, 18, 23};
constexpr std::size_t kCanonicalLength = 36;

std::optional<std::uint8_t> hex_digit_value(char c) {
  if (c >= '0' && c <= '9') {
    return static_cast<std::uint8_t>(c - '0');
  }
  if (c >= 'a' && c <= 'f') {
    return static_cast<std::uint8_t>(c - 'a' + 10);
  }
  if (c >= 'A' && c <= 'F') {
    return static_cast<std::uint8_t>(c - 'A' + 10);
  }
  return std::nullopt;
}

bool is_dash_offset(std::size_t offset) {
  for (std::size_t dash : kDashOffsets) {
    if (offset == dash) {
      return true;
    }
  }
  return false;
}

}  // namespace

const char* guid_parse_error_code_name(GuidParseErrorCode code) {
  switch (code) {
    case GuidParseErrorCode::kWrongLength:
      return "wrong_length";
    case GuidParseErrorCode::kExpectedDash:
      return "expected_dash";
    case GuidParseErrorCode::kNotHexDigit:
      return "not_hex_digit";
  }
  return "unknown";
}

Result<Guid, GuidParseError> Guid::parse(std::string_view text) {
  if (text.size() != kCanonicalLength) {
    return GuidParseError{GuidParseErrorCode::kWrongLength, 0};
  }
  // Check the whole text left to right so the reported offset is the first bad character.
  for (std::size_t offset = 0; offset < text.size(); ++offset) {
    if (is_dash_offset(offset)) {
      if (text[offset] != '-') {
        return GuidParseError{GuidParseErrorCode::kExpectedDash, offset};
      }
    } else if (!hex_digit_value(text[offset])) {
      return GuidParseError{GuidParseErrorCode::kNotHexDigit, offset};
    }
  }
  Guid guid;
  for (std::size_t i = 0; i < guid.bytes.size(); ++i) {
    const std::size_t offset = kTextOffsetOfByte[i];
    const std::uint8_t high = *hex_digit_value(text[offset]);
    const std::uint8_t low = *hex_digit_value(text[offset + 1]);
    guid.bytes[i] = static_cast<std::uint8_t>((high << 4) | low);
  }
  return guid;
}

std::string Guid::to_string() const {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string text(kCanonicalLength, '-');
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    const std::size_t offset = kTextOffsetOfByte[i];
    text[offset] = kDigits[bytes[i] >> 4];
    text[offset + 1] = kDigits[bytes[i] & 0xF];
  }
  return text;
}

}  // namespace vmbus::wire
