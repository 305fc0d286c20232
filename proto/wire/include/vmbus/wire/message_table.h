// The one table of the VMBus control-plane message set.
//
// For every msgtype 0 .. CHANNELMSG_COUNT - 1: its protocol name, which way
// it travels, the smallest payload a receiver accepts, whether the number is
// a real message at all, and whether this library implements it (has a
// struct in `Message`). parse_message() takes size, direction and validity
// from here; describe() and traces take the name from here; fault injection
// picks message types from here.
//
// Sources: Linux include/linux/hyperv.h (enum vmbus_channel_message_type and
// the message structs) and QEMU hw/hyperv/vmbus.c. The minimum is the struct
// size (for GPADL_HEADER and GPADL_BODY the fixed part; for messages this
// library does not lay out, the 8-byte header).
#pragma once

#include <array>
#include <cstdint>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>

#include "vmbus/wire/messages.h"

namespace vmbus::wire {

enum class Direction : std::uint8_t {
  kNone,         // not a message (INVALID, the unused numbers)
  kHostToGuest,  // the guest receives it
  kGuestToHost,  // the host receives it
};

// "none", "host_to_guest", "guest_to_host".
const char* direction_name(Direction direction);

struct MessageInfo {
  std::uint32_t number = 0;
  std::string_view name;  // "CHANNELMSG_OFFERCHANNEL"
  Direction direction = Direction::kNone;
  std::uint32_t min_payload_bytes = 0;  // 0 when !valid
  bool valid = false;                   // false: CHANNELMSG_INVALID and the unused 18..20
  bool implemented = false;             // true: `Message` has a struct for it
};

inline constexpr std::array<MessageInfo, kMessageTypeCount> kMessageTable = {{
    {0, "CHANNELMSG_INVALID", Direction::kNone, 0, false, false},
    {1, "CHANNELMSG_OFFERCHANNEL", Direction::kHostToGuest, 196, true, true},
    {2, "CHANNELMSG_RESCIND_CHANNELOFFER", Direction::kHostToGuest, 12, true, true},
    {3, "CHANNELMSG_REQUESTOFFERS", Direction::kGuestToHost, 8, true, true},
    {4, "CHANNELMSG_ALLOFFERS_DELIVERED", Direction::kHostToGuest, 8, true, true},
    {5, "CHANNELMSG_OPENCHANNEL", Direction::kGuestToHost, 148, true, true},
    {6, "CHANNELMSG_OPENCHANNEL_RESULT", Direction::kHostToGuest, 20, true, true},
    {7, "CHANNELMSG_CLOSECHANNEL", Direction::kGuestToHost, 12, true, true},
    {8, "CHANNELMSG_GPADL_HEADER", Direction::kGuestToHost, 28, true, true},
    {9, "CHANNELMSG_GPADL_BODY", Direction::kGuestToHost, 16, true, true},
    {10, "CHANNELMSG_GPADL_CREATED", Direction::kHostToGuest, 20, true, true},
    {11, "CHANNELMSG_GPADL_TEARDOWN", Direction::kGuestToHost, 16, true, true},
    {12, "CHANNELMSG_GPADL_TORNDOWN", Direction::kHostToGuest, 12, true, true},
    {13, "CHANNELMSG_RELID_RELEASED", Direction::kGuestToHost, 12, true, true},
    {14, "CHANNELMSG_INITIATE_CONTACT", Direction::kGuestToHost, 40, true, true},
    {15, "CHANNELMSG_VERSION_RESPONSE", Direction::kHostToGuest, 16, true, true},
    {16, "CHANNELMSG_UNLOAD", Direction::kGuestToHost, 8, true, true},
    {17, "CHANNELMSG_UNLOAD_RESPONSE", Direction::kHostToGuest, 8, true, true},
    {18, "CHANNELMSG_18", Direction::kNone, 0, false, false},
    {19, "CHANNELMSG_19", Direction::kNone, 0, false, false},
    {20, "CHANNELMSG_20", Direction::kNone, 0, false, false},
    {21, "CHANNELMSG_TL_CONNECT_REQUEST", Direction::kGuestToHost, 40, true, true},
    {22, "CHANNELMSG_MODIFYCHANNEL", Direction::kGuestToHost, 16, true, true},
    // No layout in the reference (Linux has no handler): known, not implemented.
    {23, "CHANNELMSG_TL_CONNECT_RESULT", Direction::kHostToGuest, 8, true, false},
    {24, "CHANNELMSG_MODIFYCHANNEL_RESPONSE", Direction::kHostToGuest, 16, true, true},
}};

// The entry for a msgtype read off the wire, or nullptr when msgtype >= 25.
constexpr const MessageInfo* find_message_info(std::uint32_t msgtype) {
  return msgtype < kMessageTable.size() ? &kMessageTable[msgtype] : nullptr;
}

constexpr const MessageInfo& message_info(MessageType type) {
  return kMessageTable[static_cast<std::uint32_t>(type)];
}

// The name of a msgtype read off the wire: "CHANNELMSG_OPENCHANNEL", or
// "CHANNELMSG_UNKNOWN" for msgtype >= 25.
constexpr std::string_view message_type_name(std::uint32_t msgtype) {
  const MessageInfo* info = find_message_info(msgtype);
  return info != nullptr ? info->name : std::string_view("CHANNELMSG_UNKNOWN");
}

// The wire struct whose size is the message's minimum payload: the fixed part
// for the GPADL messages, the struct itself otherwise.
template <typename T>
struct WireStructOf {
  using type = T;
};
template <>
struct WireStructOf<GpadlHeaderMessage> {
  using type = GpadlHeader;
};
template <>
struct WireStructOf<GpadlBodyMessage> {
  using type = GpadlBody;
};
template <typename T>
using WireStructOfT = typename WireStructOf<T>::type;

namespace table_detail {

template <std::size_t... I>
constexpr bool message_variant_matches_table(std::index_sequence<I...>) {
  // How many Message alternatives claim each msgtype.
  std::array<int, kMessageTypeCount> claimed{};
  bool sizes_match = true;
  (
      [&] {
        using T = std::variant_alternative_t<I, Message>;
        const auto number = static_cast<std::uint32_t>(T::kType);
        claimed[number] += 1;
        sizes_match =
            sizes_match && kMessageTable[number].min_payload_bytes == sizeof(WireStructOfT<T>);
      }(),
      ...);
  for (std::uint32_t number = 0; number < kMessageTypeCount; ++number) {
    const MessageInfo& info = kMessageTable[number];
    if (info.number != number || claimed[number] != (info.implemented ? 1 : 0)) {
      return false;
    }
    if (info.implemented && !info.valid) {
      return false;
    }
  }
  return sizes_match;
}

}  // namespace table_detail

// Every implemented entry has exactly one Message alternative, and its
// minimum payload is that struct's size; numbers equal indices.
static_assert(table_detail::message_variant_matches_table(
                  std::make_index_sequence<std::variant_size_v<Message>>{}),
              "kMessageTable and Message disagree");

}  // namespace vmbus::wire
