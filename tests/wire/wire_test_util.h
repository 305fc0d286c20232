// Helpers for the wire tests: byte vectors written out by hand, and one
// sample of every implemented message with every field non-zero.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <vector>

#include "vmbus/wire/guid.h"
#include "vmbus/wire/messages.h"

namespace vmbus::wire::testing {

inline std::vector<std::byte> bytes_of(std::initializer_list<int> values) {
  std::vector<std::byte> out;
  for (int value : values) {
    out.push_back(static_cast<std::byte>(value));
  }
  return out;
}

// Overwrites bytes[offset ..] with `values`.
inline void put(std::vector<std::byte>& bytes, std::size_t offset,
                std::initializer_list<int> values) {
  for (int value : values) {
    bytes.at(offset++) = static_cast<std::byte>(value);
  }
}

inline void put_u32(std::vector<std::byte>& bytes, std::size_t offset, std::uint32_t value) {
  for (int i = 0; i < 4; ++i) {
    bytes.at(offset++) = static_cast<std::byte>(value >> (8 * i));
  }
}

inline void put_u16(std::vector<std::byte>& bytes, std::size_t offset, std::uint16_t value) {
  bytes.at(offset) = static_cast<std::byte>(value);
  bytes.at(offset + 1) = static_cast<std::byte>(value >> 8);
}

// A payload of `size` zero bytes whose header says `msgtype`.
inline std::vector<std::byte> payload_of_type(std::uint32_t msgtype, std::size_t size) {
  std::vector<std::byte> bytes(size);
  put_u32(bytes, 0, msgtype);
  return bytes;
}

// The synthetic network adapter class: f8615163-df3e-46c5-913f-f2d2f965ed0e.
inline constexpr Guid kNetworkGuid =
    Guid::from_fields(0xf8615163, 0xdf3e, 0x46c5, {0x91, 0x3f, 0xf2, 0xd2, 0xf9, 0x65, 0xed, 0x0e});
// 12345678-9abc-def0-0123-456789abcdef.
inline constexpr Guid kInstanceGuid =
    Guid::from_fields(0x12345678, 0x9abc, 0xdef0, {0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef});

inline OfferChannel sample_offer() {
  OfferChannel offer;
  offer.if_type = kNetworkGuid;
  offer.if_instance = kInstanceGuid;
  offer.chn_flags =
      kChannelFlagRequestMonitoredNotification | kChannelFlagConfidentialExternalMemory;
  offer.mmio_megabytes = 0x0102;
  offer.user_def[0] = 4;
  offer.user_def[119] = 0xAA;
  offer.sub_channel_index = 3;
  offer.child_relid = 0x11223344;
  offer.monitorid = 0x45;
  offer.monitor_flags = kOfferMonitorAllocated;
  offer.interrupt_flags = kOfferDedicatedInterrupt;
  offer.connection_id = 0x00012345;
  return offer;
}

// One message of every implemented type, every field set to something
// recognisable (header padding included, to show it survives).
inline std::vector<Message> sample_messages() {
  std::vector<Message> messages;
  messages.emplace_back(sample_offer());
  messages.emplace_back(RescindChannelOffer{.child_relid = 9});
  messages.emplace_back(RequestOffers{.header = {3, 0x77}});
  messages.emplace_back(AllOffersDelivered{});
  {
    OpenChannel open{.child_relid = 7,
                     .openid = 7,
                     .ringbuffer_gpadlhandle = 0xE1E10,
                     .target_vp = 2,
                     .downstream_ringbuffer_pageoffset = 0x10};
    open.userdata[0] = 0xAB;
    open.userdata[119] = 0xCD;
    messages.emplace_back(open);
  }
  messages.emplace_back(OpenChannelResult{.child_relid = 7, .openid = 7, .status = 0xC0000001});
  messages.emplace_back(CloseChannel{.child_relid = 7});
  messages.emplace_back(GpadlHeaderMessage{.fixed = {.child_relid = 7,
                                                     .gpadl = 0xE1E10,
                                                     .range_buflen = 8 + 8 * 3,
                                                     .rangecount = 1,
                                                     .byte_count = 3 * 4096,
                                                     .byte_offset = 0},
                                           .pfns = {0x100, 0x2345, 0x1'0000'0000}});
  messages.emplace_back(
      GpadlBodyMessage{.fixed = {.msgnumber = 5, .gpadl = 0xE1E10}, .pfns = {0x42, 0x43}});
  messages.emplace_back(GpadlCreated{.child_relid = 7, .gpadl = 0xE1E10, .creation_status = 1});
  messages.emplace_back(GpadlTeardown{.child_relid = 7, .gpadl = 0xE1E10});
  messages.emplace_back(GpadlTorndown{.gpadl = 0xE1E10});
  messages.emplace_back(RelidReleased{.child_relid = 7});
  {
    InitiateContact contact{.vmbus_version_requested = 0x00050003,
                            .target_vcpu = 1,
                            .monitor_page1 = 0x123456000,
                            .monitor_page2 = 0x123457000};
    contact.set_msg_target(2, 0);
    messages.emplace_back(contact);
  }
  messages.emplace_back(VersionResponse{
      .version_supported = 1, .connection_state = 0, .padding = 0, .msg_conn_id = 4});
  messages.emplace_back(Unload{});
  messages.emplace_back(UnloadResponse{});
  messages.emplace_back(
      TlConnectRequest{.guest_endpoint_id = kInstanceGuid, .host_service_id = kNetworkGuid});
  messages.emplace_back(ModifyChannel{.child_relid = 7, .target_vp = 3});
  messages.emplace_back(ModifyChannelResponse{.child_relid = 7, .status = 0});
  return messages;
}

}  // namespace vmbus::wire::testing
