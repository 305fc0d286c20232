// parse_message(): round trips, and every way a payload can be refused.
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "vmbus/wire/codec.h"

#include "wire_test_util.h"

namespace vmbus::wire {
namespace {

using testing::payload_of_type;
using testing::put_u16;
using testing::put_u32;
using testing::sample_messages;
using testing::sample_offer;

ParseErrorCode error_code_of(const ParseResult& result) {
  EXPECT_FALSE(result.ok());
  return result.ok() ? ParseErrorCode{} : result.error().code;
}

std::vector<std::byte> gpadl_header_payload(std::uint16_t range_buflen, std::uint32_t byte_count,
                                            std::size_t pfns_present,
                                            std::uint16_t rangecount = 1) {
  std::vector<std::byte> bytes = payload_of_type(8, 28 + 8 * pfns_present);
  put_u32(bytes, 8, 7);         // child_relid
  put_u32(bytes, 12, 0xE1E10);  // gpadl
  put_u16(bytes, 16, range_buflen);
  put_u16(bytes, 18, rangecount);
  put_u32(bytes, 20, byte_count);
  for (std::size_t i = 0; i < pfns_present; ++i) {
    put_u32(bytes, 28 + 8 * i, static_cast<std::uint32_t>(0x100 + i));
  }
  return bytes;
}

TEST(ParseMessage, RoundTripsEveryImplementedType) {
  std::set<std::size_t> alternatives_seen;
  for (const Message& message : sample_messages()) {
    const std::vector<std::byte> encoded = encode_message(message);

    const ParseResult parsed = parse_message(encoded);

    ASSERT_TRUE(parsed.ok()) << describe(message) << ": " << to_string(parsed.error());
    EXPECT_EQ(parsed.value(), message) << describe(message);
    EXPECT_EQ(encode_message(parsed.value()), encoded) << describe(message);
    alternatives_seen.insert(message.index());
  }
  EXPECT_EQ(alternatives_seen.size(), std::variant_size_v<Message>);
}

TEST(ParseMessage, AcceptsEveryTypeOnTheSideItTravelsTo) {
  for (const Message& message : sample_messages()) {
    const MessageInfo& info = message_info(message_type_of(message));
    const Receiver right =
        info.direction == Direction::kGuestToHost ? Receiver::kHost : Receiver::kGuest;
    const Receiver wrong = right == Receiver::kHost ? Receiver::kGuest : Receiver::kHost;
    const std::vector<std::byte> encoded = encode_message(message);

    EXPECT_TRUE(parse_message(encoded, right).ok()) << info.name;
    EXPECT_EQ(error_code_of(parse_message(encoded, wrong)), ParseErrorCode::kWrongDirection)
        << info.name;
  }
}

TEST(ParseMessage, RefusesAnOfferReceivedByTheHostAsWrongDirection) {
  const ParseResult parsed = parse_message(encode_message(sample_offer()), Receiver::kHost);

  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.error().code, ParseErrorCode::kWrongDirection);
  EXPECT_EQ(parsed.error().message,
            "CHANNELMSG_OFFERCHANNEL travels host_to_guest but was received by the host");
}

TEST(ParseMessage, AcceptsQemus200ByteOfferAndIgnoresTheTail) {
  std::vector<std::byte> bytes = encode_message(sample_offer());
  bytes.resize(200, std::byte{0xEE});

  const ParseResult parsed = parse_message(bytes, Receiver::kGuest);

  ASSERT_TRUE(parsed.ok()) << to_string(parsed.error());
  EXPECT_EQ(parsed.value(), Message(sample_offer()));
}

TEST(ParseMessage, AcceptsAVersionResponseLongerThan16Bytes) {
  std::vector<std::byte> bytes = payload_of_type(15, 24);
  bytes[8] = std::byte{1};

  const ParseResult parsed = parse_message(bytes, Receiver::kGuest);

  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(std::get<VersionResponse>(parsed.value()).version_supported, 1);
}

TEST(ParseMessage, KeepsNoReferenceToTheCallersBytes) {
  std::vector<std::byte> bytes = encode_message(RescindChannelOffer{.child_relid = 9});

  const ParseResult parsed = parse_message(bytes);
  put_u32(bytes, 8, 1234);  // the peer rewrites its slot after we parsed it

  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(std::get<RescindChannelOffer>(parsed.value()).child_relid, 9u);
}

TEST(ParseMessage, RefusesMoreThan240Bytes) {
  const std::vector<std::byte> bytes = payload_of_type(3, 241);

  const ParseResult parsed = parse_message(bytes);

  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.error().code, ParseErrorCode::kPayloadTooLarge);
  EXPECT_EQ(parsed.error().message, "payload is 241 bytes, at most 240 fit in a SynIC message");
}

TEST(ParseMessage, AcceptsExactly240Bytes) {
  EXPECT_TRUE(parse_message(payload_of_type(3, 240)).ok());
}

TEST(ParseMessage, RefusesPayloadsShorterThanTheHeader) {
  for (const std::size_t size : std::vector<std::size_t>{0, 1, 4, 7}) {
    std::vector<std::byte> bytes(size, std::byte{3});

    EXPECT_EQ(error_code_of(parse_message(bytes)), ParseErrorCode::kPayloadTooShort) << size;
  }
}

TEST(ParseMessage, RefusesPayloadsShorterThanTheTablesMinimum) {
  const std::vector<std::byte> bytes = payload_of_type(5, 147);

  const ParseResult parsed = parse_message(bytes);

  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.error().code, ParseErrorCode::kPayloadTooShort);
  EXPECT_EQ(parsed.error().message, "CHANNELMSG_OPENCHANNEL needs 148 bytes, got 147");
  EXPECT_EQ(to_string(parsed.error()),
            "payload_too_short: CHANNELMSG_OPENCHANNEL needs 148 bytes, got 147");
}

TEST(ParseMessage, RefusesEveryImplementedTypeOneByteShortOfItsMinimum) {
  for (const MessageInfo& info : kMessageTable) {
    if (!info.implemented || info.min_payload_bytes <= 8) {
      continue;
    }
    const std::vector<std::byte> bytes = payload_of_type(info.number, info.min_payload_bytes - 1);

    EXPECT_EQ(error_code_of(parse_message(bytes)), ParseErrorCode::kPayloadTooShort) << info.name;
  }
}

TEST(ParseMessage, RefusesTypesAtOrBeyondChannelMsgCountAsUnknown) {
  for (std::uint32_t msgtype : {25u, 26u, 0x80000000u, 0xFFFFFFFFu}) {
    const ParseResult parsed = parse_message(payload_of_type(msgtype, 64));

    EXPECT_EQ(error_code_of(parsed), ParseErrorCode::kUnknownType) << msgtype;
  }
  EXPECT_EQ(parse_message(payload_of_type(25, 8)).error().message,
            "msgtype 25 (offset 0) is beyond CHANNELMSG_COUNT 25");
}

TEST(ParseMessage, RefusesInvalidAndTheUnusedNumbersAsUnused) {
  for (std::uint32_t msgtype : {0u, 18u, 19u, 20u}) {
    const ParseResult parsed = parse_message(payload_of_type(msgtype, 64));

    EXPECT_EQ(error_code_of(parsed), ParseErrorCode::kUnusedType) << msgtype;
  }
  EXPECT_EQ(parse_message(payload_of_type(19, 8)).error().message,
            "msgtype 19 (offset 0) is CHANNELMSG_19, not a message");
}

TEST(ParseMessage, RefusesTlConnectResultAsUnimplemented) {
  const ParseResult parsed = parse_message(payload_of_type(23, 64));

  EXPECT_EQ(error_code_of(parsed), ParseErrorCode::kUnimplementedType);
}

TEST(ParseMessage, DecodesGpadlHeaderPfnsFromOffset28) {
  const ParseResult parsed = parse_message(gpadl_header_payload(8 + 8 * 2, 2 * 4096, 2));

  ASSERT_TRUE(parsed.ok()) << to_string(parsed.error());
  const auto& header = std::get<GpadlHeaderMessage>(parsed.value());
  EXPECT_EQ(header.fixed.child_relid, 7u);
  EXPECT_EQ(header.fixed.gpadl, 0xE1E10u);
  EXPECT_EQ(header.pfns, (std::vector<std::uint64_t>{0x100, 0x101}));
}

TEST(ParseMessage, AcceptsAGpadlHeaderCarryingFewerPfnsThanAnnounced) {
  // 30 pages announced, 26 in the header: the rest come in a GPADL_BODY.
  const ParseResult parsed = parse_message(gpadl_header_payload(8 + 8 * 30, 30 * 4096, 26));

  ASSERT_TRUE(parsed.ok()) << to_string(parsed.error());
  EXPECT_EQ(std::get<GpadlHeaderMessage>(parsed.value()).pfns.size(), 26u);
}

TEST(ParseMessage, IgnoresATrailingPartialPfn) {
  std::vector<std::byte> bytes = gpadl_header_payload(8 + 8 * 2, 2 * 4096, 1);
  bytes.resize(bytes.size() + 4);  // a sender that rounded 36 bytes up to 40

  const ParseResult parsed = parse_message(bytes);

  ASSERT_TRUE(parsed.ok()) << to_string(parsed.error());
  EXPECT_EQ(std::get<GpadlHeaderMessage>(parsed.value()).pfns, (std::vector<std::uint64_t>{0x100}));
}

TEST(ParseMessage, RefusesGpadlHeaderWhoseRangeBuflenIsNotAWholePageList) {
  for (const std::uint16_t range_buflen : std::vector<std::uint16_t>{0, 4, 7, 13, 23}) {
    const ParseResult parsed = parse_message(gpadl_header_payload(range_buflen, 4096, 0));

    EXPECT_EQ(error_code_of(parsed), ParseErrorCode::kGpadlRangeBuflenInvalid) << range_buflen;
  }
}

TEST(ParseMessage, RefusesGpadlHeaderCarryingMorePfnsThanRangeBuflenAnnounces) {
  const ParseResult parsed = parse_message(gpadl_header_payload(8 + 8 * 1, 4096, 2));

  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.error().code, ParseErrorCode::kGpadlPfnCountMismatch);
  EXPECT_EQ(parsed.error().message,
            "CHANNELMSG_GPADL_HEADER carries 2 PFNs but range_buflen=16 announces 1");
}

TEST(ParseMessage, RefusesGpadlHeaderWhoseByteCountSpansOtherThanTheAnnouncedPages) {
  const ParseResult parsed = parse_message(gpadl_header_payload(8 + 8 * 2, 3 * 4096, 2));

  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.error().code, ParseErrorCode::kGpadlPfnCountMismatch);
  EXPECT_EQ(parsed.error().message,
            "CHANNELMSG_GPADL_HEADER byte_offset=0 byte_count=12288 (offset 20) span 3 pages but "
            "range_buflen=24 announces 2");
}

TEST(ParseMessage, LeavesMultiRangeGpadlHeadersToTheAssembler) {
  // rangecount 2: byte_count describes only range 0, so it is not compared.
  const ParseResult parsed = parse_message(gpadl_header_payload(8 + 8 * 2, 4096, 2, 2));

  ASSERT_TRUE(parsed.ok()) << to_string(parsed.error());
  EXPECT_EQ(std::get<GpadlHeaderMessage>(parsed.value()).fixed.rangecount, 2);
}

TEST(ParseMessage, DecodesGpadlBodyPfnsFromOffset16) {
  std::vector<std::byte> bytes = payload_of_type(9, 16 + 8 * 28);
  put_u32(bytes, 12, 0xE1E10);
  put_u32(bytes, 16 + 8 * 27, 0xFEED);

  const ParseResult parsed = parse_message(bytes, Receiver::kHost);

  ASSERT_TRUE(parsed.ok());
  const auto& body = std::get<GpadlBodyMessage>(parsed.value());
  EXPECT_EQ(body.fixed.gpadl, 0xE1E10u);
  ASSERT_EQ(body.pfns.size(), 28u);
  EXPECT_EQ(body.pfns[27], 0xFEEDu);
}

TEST(ParseHvMessage, ParsesTheSlotsPayload) {
  const HvMessage slot = make_hv_message(encode_message(GpadlTorndown{.gpadl = 0xE1E10}));

  const ParseResult parsed = parse_hv_message(slot, Receiver::kGuest);

  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(std::get<GpadlTorndown>(parsed.value()).gpadl, 0xE1E10u);
}

TEST(ParseHvMessage, RefusesASlotThatIsNotAVmbusMessage) {
  HvMessage slot = make_hv_message(encode_message(RequestOffers{}));
  slot.message_type = kHvMessageTypeNone;

  EXPECT_EQ(error_code_of(parse_hv_message(slot)), ParseErrorCode::kNotVmbusMessage);
}

TEST(ParseHvMessage, RefusesAPayloadSizeAbove240WithoutReadingPastTheSlot) {
  HvMessage slot = make_hv_message(encode_message(RequestOffers{}));
  slot.payload_size = 255;

  EXPECT_EQ(error_code_of(parse_hv_message(slot)), ParseErrorCode::kPayloadTooLarge);
}

TEST(ParseError, CodesHaveStableDistinctNames) {
  const std::vector<std::string> expected = {"payload_too_large",
                                             "payload_too_short",
                                             "unknown_type",
                                             "unused_type",
                                             "unimplemented_type",
                                             "wrong_direction",
                                             "gpadl_range_buflen_invalid",
                                             "gpadl_pfn_count_mismatch",
                                             "not_vmbus_message"};
  ASSERT_EQ(expected.size(), kParseErrorCodeCount);
  for (std::size_t i = 0; i < kParseErrorCodeCount; ++i) {
    EXPECT_EQ(parse_error_code_name(static_cast<ParseErrorCode>(i)), expected[i]);
  }
}

}  // namespace
}  // namespace vmbus::wire
