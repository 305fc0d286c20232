// Lowercase hex encoding of byte strings, as the ring tools print payloads.
#pragma once

#include <cstddef>
#include <span>
#include <string>

namespace vmbus::cli {

// Two lowercase hex digits per byte, no separators.
std::string to_hex(std::span<const std::byte> bytes);

// The value of one hex digit (0-9, a-f, A-F), or -1 for any other character.
int hex_digit_value(char c);

}  // namespace vmbus::cli
