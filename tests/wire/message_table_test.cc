// The message table, the protocol versions and the SynIC constants.
#include "vmbus/wire/message_table.h"

#include <set>
#include <string>
#include <string_view>
#include <variant>

#include <gtest/gtest.h>

#include "vmbus/wire/codec.h"
#include "vmbus/wire/versions.h"

#include "wire_test_util.h"

namespace vmbus::wire {
namespace {

template <std::size_t... I>
void expect_minimum_equals_struct_size(std::index_sequence<I...>) {
  (
      [] {
        using T = std::variant_alternative_t<I, Message>;
        const MessageInfo& info = message_info(T::kType);
        EXPECT_TRUE(info.implemented) << info.name;
        EXPECT_EQ(info.min_payload_bytes, sizeof(WireStructOfT<T>)) << info.name;
      }(),
      ...);
}

TEST(MessageTable, EveryImplementedTypesMinimumIsItsStructSize) {
  expect_minimum_equals_struct_size(std::make_index_sequence<std::variant_size_v<Message>>{});
}

TEST(MessageTable, HasOneEntryPerNumberInOrder) {
  ASSERT_EQ(kMessageTable.size(), 25u);
  for (std::uint32_t number = 0; number < kMessageTable.size(); ++number) {
    EXPECT_EQ(kMessageTable[number].number, number);
    EXPECT_EQ(find_message_info(number), &kMessageTable[number]);
  }
  EXPECT_EQ(find_message_info(25), nullptr);
  EXPECT_EQ(find_message_info(0xFFFFFFFF), nullptr);
}

TEST(MessageTable, NamesAreUniqueChannelMsgNames) {
  std::set<std::string_view> names;
  for (const MessageInfo& info : kMessageTable) {
    EXPECT_TRUE(info.name.starts_with("CHANNELMSG_")) << info.name;
    EXPECT_TRUE(names.insert(info.name).second) << "duplicate " << info.name;
  }
}

TEST(MessageTable, InvalidAndUnusedNumbersAreNotValidMessages) {
  for (std::uint32_t number : {0u, 18u, 19u, 20u}) {
    const MessageInfo& info = kMessageTable[number];
    EXPECT_FALSE(info.valid) << info.name;
    EXPECT_FALSE(info.implemented) << info.name;
    EXPECT_EQ(info.direction, Direction::kNone) << info.name;
  }
}

TEST(MessageTable, EveryValidMessageHasADirectionAndAtLeastAHeader) {
  for (const MessageInfo& info : kMessageTable) {
    if (!info.valid) {
      continue;
    }
    EXPECT_NE(info.direction, Direction::kNone) << info.name;
    EXPECT_GE(info.min_payload_bytes, kMessageHeaderBytes) << info.name;
    EXPECT_LE(info.min_payload_bytes, kHvMessagePayloadMaxBytes) << info.name;
  }
}

TEST(MessageTable, OnlyTlConnectResultIsValidButUnimplemented) {
  for (const MessageInfo& info : kMessageTable) {
    EXPECT_EQ(info.valid && !info.implemented, info.number == 23) << info.name;
  }
}

TEST(MessageTable, DirectionsFollowTheReference) {
  using enum Direction;
  const Direction expected[25] = {
      kNone,        kHostToGuest, kHostToGuest, kGuestToHost, kHostToGuest,  // 0..4
      kGuestToHost, kHostToGuest, kGuestToHost, kGuestToHost, kGuestToHost,  // 5..9
      kHostToGuest, kGuestToHost, kHostToGuest, kGuestToHost, kGuestToHost,  // 10..14
      kHostToGuest, kGuestToHost, kHostToGuest, kNone,        kNone,         // 15..19
      kNone,        kGuestToHost, kGuestToHost, kHostToGuest, kHostToGuest,  // 20..24
  };
  for (std::uint32_t number = 0; number < 25; ++number) {
    EXPECT_EQ(kMessageTable[number].direction, expected[number]) << kMessageTable[number].name;
  }
}

TEST(MessageTable, NamesAnUnknownNumber) {
  EXPECT_EQ(message_type_name(1), "CHANNELMSG_OFFERCHANNEL");
  EXPECT_EQ(message_type_name(24), "CHANNELMSG_MODIFYCHANNEL_RESPONSE");
  EXPECT_EQ(message_type_name(99), "CHANNELMSG_UNKNOWN");
}

TEST(MessageTable, MessageTypeOfMatchesTheSamples) {
  for (const Message& message : testing::sample_messages()) {
    const MessageType type = message_type_of(message);
    EXPECT_EQ(encode_message(message)[0], static_cast<std::byte>(type)) << describe(message);
  }
}

TEST(Versions, NamesAndNumbersFollowSection6_3) {
  EXPECT_EQ(version_name(0x00050003), "WIN10_V5_3");
  EXPECT_EQ(version_name(0x00050000), "WIN10_V5");
  EXPECT_EQ(version_name(0x00040001), "WIN10_V4_1");
  EXPECT_EQ(version_name(0x00020004), "WIN8");
  EXPECT_EQ(version_name(0x0000000D), "WS2008");
  EXPECT_EQ(version_name(0x00060000), "");
  EXPECT_EQ(version_number_text(kVersionWin10V5_3), "5.3");
  EXPECT_EQ(version_number_text(kVersionWs2008), "0.13");
  EXPECT_EQ(version_text(kVersionWin10V5_3), "5.3 (0x50003)");
  EXPECT_EQ(version_text(0xFFFFFFFF), "65535.65535 (0xffffffff)");
}

TEST(Versions, EveryKnownVersionHasAName) {
  for (std::uint32_t version : kKnownVersions) {
    EXPECT_NE(version_name(version), "") << version_text(version);
  }
}

TEST(Versions, GuestTriesNewestFirstDownTo2_4) {
  EXPECT_EQ(kGuestVersionTryOrder,
            (std::array<std::uint32_t, 8>{0x00050003, 0x00050002, 0x00050001, 0x00050000,
                                          0x00040001, 0x00040000, 0x00030000, 0x00020004}));
}

TEST(Versions, MessageConnectionIdIs4From5_0On) {
  EXPECT_EQ(message_connection_id_for(kVersionWin10V5_3), 4u);
  EXPECT_EQ(message_connection_id_for(kVersionWin10V5), 4u);
  EXPECT_EQ(message_connection_id_for(kVersionWin10V4_1), 1u);
  EXPECT_EQ(message_connection_id_for(kVersionWin8), 1u);
}

TEST(Synic, ConstantsFollowSections6_4And7) {
  EXPECT_EQ(kVmbusMessageSint, 2u);
  EXPECT_EQ(kVmbusMessageConnectionId, 1u);
  EXPECT_EQ(kVmbusMessageConnectionId4, 4u);
  EXPECT_EQ(kVmbusEventConnectionId, 2u);
  EXPECT_EQ(kVmbusMonitorConnectionId, 3u);
  EXPECT_EQ(kHvMessageTypeVmbus, 1u);
  EXPECT_EQ(kHvMessagePayloadMaxBytes, 240u);
  EXPECT_EQ(kHvStatusInvalidConnectionId, 0x12);
  EXPECT_EQ(kHvStatusInsufficientBuffers, 0x13);
  EXPECT_EQ(kHvStatusInsufficientMemory, 0xB);
  EXPECT_STREQ(hv_status_name(kHvStatusInvalidConnectionId), "HV_STATUS_INVALID_CONNECTION_ID");
  EXPECT_EQ(hv_status_name(0x7777), nullptr);
}

}  // namespace
}  // namespace vmbus::wire
