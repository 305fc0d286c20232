// Guid: canonical text <-> Microsoft mixed-endian wire bytes.
#include "vmbus/wire/guid.h"

#include <string>

#include <gtest/gtest.h>

#include "wire_test_util.h"

namespace vmbus::wire {
namespace {

using testing::kNetworkGuid;

// The wire bytes of f8615163-df3e-46c5-913f-f2d2f965ed0e, written out by
// hand: Data1, Data2 and Data3 byte-reversed, Data4 as written.
constexpr std::array<std::uint8_t, 16> kNetworkGuidWireBytes = {
    0x63, 0x51, 0x61, 0xf8,  // f8615163
    0x3e, 0xdf,              // df3e
    0xc5, 0x46,              // 46c5
    0x91, 0x3f,              // 913f
    0xf2, 0xd2, 0xf9, 0x65, 0xed, 0x0e,
};

TEST(Guid, ParsesCanonicalTextIntoMixedEndianWireBytes) {
  const auto parsed = Guid::parse("f8615163-df3e-46c5-913f-f2d2f965ed0e");

  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed.value().bytes, kNetworkGuidWireBytes);
}

TEST(Guid, FromFieldsLaysOutTheSameBytesAsParse) {
  EXPECT_EQ(kNetworkGuid.bytes, kNetworkGuidWireBytes);
}

TEST(Guid, FormatsWireBytesAsLowercaseCanonicalText) {
  Guid guid;
  guid.bytes = kNetworkGuidWireBytes;

  EXPECT_EQ(guid.to_string(), "f8615163-df3e-46c5-913f-f2d2f965ed0e");
}

TEST(Guid, AcceptsUppercaseDigitsAndFormatsThemLowercase) {
  const auto parsed = Guid::parse("F8615163-DF3E-46C5-913F-F2D2F965ED0E");

  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed.value(), kNetworkGuid);
  EXPECT_EQ(parsed.value().to_string(), "f8615163-df3e-46c5-913f-f2d2f965ed0e");
}

TEST(Guid, RoundTripsEveryByteValuePosition) {
  const std::string text = "00112233-4455-6677-8899-aabbccddeeff";
  const auto parsed = Guid::parse(text);

  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed.value().bytes,
            (std::array<std::uint8_t, 16>{0x33, 0x22, 0x11, 0x00, 0x55, 0x44, 0x77, 0x66, 0x88,
                                          0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff}));
  EXPECT_EQ(parsed.value().to_string(), text);
}

TEST(Guid, ZeroGuidIsAllZeroText) {
  EXPECT_TRUE(Guid{}.is_zero());
  EXPECT_FALSE(kNetworkGuid.is_zero());
  EXPECT_EQ(Guid{}.to_string(), "00000000-0000-0000-0000-000000000000");
}

TEST(Guid, RejectsTextOfTheWrongLength) {
  for (const char* text :
       {"", "f8615163-df3e-46c5-913f-f2d2f965ed0", "f8615163-df3e-46c5-913f-f2d2f965ed0e0",
        "{f8615163-df3e-46c5-913f-f2d2f965ed0e}"}) {
    const auto parsed = Guid::parse(text);
    ASSERT_FALSE(parsed.ok()) << text;
    EXPECT_EQ(parsed.error(), (GuidParseError{GuidParseErrorCode::kWrongLength, 0})) << text;
  }
}

TEST(Guid, RejectsAMissingDashAtItsOffset) {
  const auto parsed = Guid::parse("f8615163-df3e-46c5x913f-f2d2f965ed0e");

  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.error(), (GuidParseError{GuidParseErrorCode::kExpectedDash, 18}));
}

TEST(Guid, RejectsANonHexDigitAtItsOffset) {
  const auto parsed = Guid::parse("f86g5163-df3e-46c5-913f-f2d2f965ed0e");

  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.error(), (GuidParseError{GuidParseErrorCode::kNotHexDigit, 3}));
}

TEST(Guid, RejectsADashWhereADigitBelongs) {
  const auto parsed = Guid::parse("f8615163-df3e-46c5-913f-f2d2f965ed-e");

  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.error(), (GuidParseError{GuidParseErrorCode::kNotHexDigit, 34}));
}

TEST(Guid, ErrorCodesHaveStableNames) {
  EXPECT_STREQ(guid_parse_error_code_name(GuidParseErrorCode::kWrongLength), "wrong_length");
  EXPECT_STREQ(guid_parse_error_code_name(GuidParseErrorCode::kExpectedDash), "expected_dash");
  EXPECT_STREQ(guid_parse_error_code_name(GuidParseErrorCode::kNotHexDigit), "not_hex_digit");
}

}  // namespace
}  // namespace vmbus::wire
