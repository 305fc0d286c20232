// VMBus protocol versions and the version-dependent connection choices.
//
// Sources: Linux include/linux/hyperv.h and drivers/hv/connection.c, QEMU
// hw/hyperv/vmbus.c. A version is
// (major << 16) | minor. Versions arrive from the peer in INITIATE_CONTACT,
// so every function here accepts any u32, known or not.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "vmbus/wire/synic.h"

namespace vmbus::wire {

constexpr std::uint32_t make_version(std::uint16_t major, std::uint16_t minor) {
  return (std::uint32_t{major} << 16) | minor;
}
constexpr std::uint16_t version_major(std::uint32_t version) {
  return static_cast<std::uint16_t>(version >> 16);
}
constexpr std::uint16_t version_minor(std::uint32_t version) {
  return static_cast<std::uint16_t>(version & 0xFFFF);
}

inline constexpr std::uint32_t kVersionWs2008 = make_version(0, 13);    // 0x0000000D
inline constexpr std::uint32_t kVersionWin7 = make_version(1, 1);       // 0x00010001
inline constexpr std::uint32_t kVersionWin8 = make_version(2, 4);       // 0x00020004
inline constexpr std::uint32_t kVersionWin8_1 = make_version(3, 0);     // 0x00030000
inline constexpr std::uint32_t kVersionWin10 = make_version(4, 0);      // 0x00040000
inline constexpr std::uint32_t kVersionWin10V4_1 = make_version(4, 1);  // RS3
inline constexpr std::uint32_t kVersionWin10V5 = make_version(5, 0);
inline constexpr std::uint32_t kVersionWin10V5_1 = make_version(5, 1);  // RS4
inline constexpr std::uint32_t kVersionWin10V5_2 = make_version(5, 2);  // WS2019 / RS5
inline constexpr std::uint32_t kVersionWin10V5_3 = make_version(5, 3);  // WS2022

static_assert(kVersionWs2008 == 0x0000000D);
static_assert(kVersionWin7 == 0x00010001);
static_assert(kVersionWin8 == 0x00020004);
static_assert(kVersionWin8_1 == 0x00030000);
static_assert(kVersionWin10 == 0x00040000);
static_assert(kVersionWin10V4_1 == 0x00040001);
static_assert(kVersionWin10V5 == 0x00050000);
static_assert(kVersionWin10V5_1 == 0x00050001);
static_assert(kVersionWin10V5_2 == 0x00050002);
static_assert(kVersionWin10V5_3 == 0x00050003);

// The order a Linux guest offers versions in INITIATE_CONTACT, newest first;
// it moves to the next one when the host answers version_supported = 0.
inline constexpr std::array<std::uint32_t, 8> kGuestVersionTryOrder = {
    kVersionWin10V5_3, kVersionWin10V5_2, kVersionWin10V5_1, kVersionWin10V5,
    kVersionWin10V4_1, kVersionWin10,     kVersionWin8_1,    kVersionWin8,
};

// Every version of section 6.3, oldest first.
inline constexpr std::array<std::uint32_t, 10> kKnownVersions = {
    kVersionWs2008,    kVersionWin7,    kVersionWin8,      kVersionWin8_1,    kVersionWin10,
    kVersionWin10V4_1, kVersionWin10V5, kVersionWin10V5_1, kVersionWin10V5_2, kVersionWin10V5_3,
};

// "WIN10_V5_3" for a version of section 6.3, "" for any other value.
std::string_view version_name(std::uint32_t version);

// "5.3": major.minor in decimal, for any value.
std::string version_number_text(std::uint32_t version);

// "5.3 (0x50003)": how describe() and traces print a version.
std::string version_text(std::uint32_t version);

// From 5.0 on, INITIATE_CONTACT carries msg_sint/msg_vtl instead of the
// interrupt page, is posted to connection id 4, and later messages use the
// msg_conn_id of the VERSION_RESPONSE.
constexpr bool uses_message_connection_id_4(std::uint32_t version) {
  return version >= kVersionWin10V5;
}

// The connection id a guest posts INITIATE_CONTACT to when offering `version`.
constexpr std::uint32_t message_connection_id_for(std::uint32_t version) {
  return uses_message_connection_id_4(version) ? kVmbusMessageConnectionId4
                                               : kVmbusMessageConnectionId;
}

}  // namespace vmbus::wire
