// Guid: a 16-byte GUID exactly as VMBus carries it on the wire.
//
// Microsoft mixed-endian layout (as OFFERCHANNEL carries it): the
// first three fields of the canonical text form (Data1 u32, Data2 u16,
// Data3 u16) are stored little-endian; the last eight bytes (Data4) are
// stored in text order. So "f8615163-df3e-46c5-913f-f2d2f965ed0e" is the
// wire bytes 63 51 61 f8 3e df c5 46 91 3f f2 d2 f9 65 ed 0e.
//
// Guid keeps the wire bytes, so it can sit inside the wire structs at any
// offset (alignment 1) and be copied with memcpy.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "vmbus/wire/result.h"

namespace vmbus::wire {

// Why text is not a canonical GUID. Stable: the names appear in tool output.
enum class GuidParseErrorCode : std::uint8_t {
  kWrongLength,   // not exactly 36 characters
  kExpectedDash,  // a '-' missing at offset 8, 13, 18 or 23
  kNotHexDigit,   // a character other than 0-9, a-f, A-F where a digit belongs
};

// "wrong_length", "expected_dash", "not_hex_digit".
const char* guid_parse_error_code_name(GuidParseErrorCode code);

struct GuidParseError {
  GuidParseErrorCode code{};
  std::size_t offset = 0;  // index into the text of the offending character (0 for kWrongLength)

  friend bool operator==(const GuidParseError&, const GuidParseError&) = default;
};

struct Guid {
  std::array<std::uint8_t, 16> bytes{};  // wire order

  // The GUID whose canonical text is data1-data2-data3-data4[0..1]-data4[2..7].
  static constexpr Guid from_fields(std::uint32_t data1, std::uint16_t data2, std::uint16_t data3,
                                    const std::array<std::uint8_t, 8>& data4) {
    Guid guid;
    for (std::size_t i = 0; i < 4; ++i) {
      guid.bytes[i] = static_cast<std::uint8_t>(data1 >> (8 * i));
    }
    for (std::size_t i = 0; i < 2; ++i) {
      guid.bytes[4 + i] = static_cast<std::uint8_t>(data2 >> (8 * i));
      guid.bytes[6 + i] = static_cast<std::uint8_t>(data3 >> (8 * i));
    }
    for (std::size_t i = 0; i < 8; ++i) {
      guid.bytes[8 + i] = data4[i];
    }
    return guid;
  }

  // Parses "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" (either case of hex digit;
  // no braces, no surrounding space).
  static Result<Guid, GuidParseError> parse(std::string_view text);

  // The canonical text form, lowercase.
  std::string to_string() const;

  bool is_zero() const { return *this == Guid{}; }

  friend bool operator==(const Guid&, const Guid&) = default;
};

static_assert(sizeof(Guid) == 16);
static_assert(alignof(Guid) == 1);

}  // namespace vmbus::wire
