#include "vmbus/wire/versions.h"

#include <cstdio>

namespace vmbus::wire {

std::string_view version_name(std::uint32_t version) {
  switch (version) {
    case kVersionWs2008:
      return "WS2008";
    case kVersionWin7:
      return "WIN7";
    case kVersionWin8:
      return "WIN8";
    case kVersionWin8_1:
      return "WIN8_1";
    case kVersionWin10:
      return "WIN10";
    case kVersionWin10V4_1:
      return "WIN10_V4_1";
    case kVersionWin10V5:
      return "WIN10_V5";
    case kVersionWin10V5_1:
      return "WIN10_V5_1";
    case kVersionWin10V5_2:
      return "WIN10_V5_2";
    case kVersionWin10V5_3:
      return "WIN10_V5_3";
    default:
      return "";
  }
}

std::string version_number_text(std::uint32_t version) {
  return std::to_string(version_major(version)) + "." + std::to_string(version_minor(version));
}

std::string version_text(std::uint32_t version) {
  char hex[2 + 8 + 1];
  std::snprintf(hex, sizeof(hex), "0x%x", static_cast<unsigned>(version));
  return version_number_text(version) + " (" + hex + ")";
}

}  // namespace vmbus::wire
