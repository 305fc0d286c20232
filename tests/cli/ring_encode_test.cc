// `ring encode`: the image it writes, and every way an input line can be
// refused (with its exact <stdin>:LINE:COL message), leaving OUT untouched.
#include "vmbus/cli/ring_encode.h"

#include <cstdint>
#include <filesystem>
#include <string>
#include <unistd.h>

#include <gtest/gtest.h>

#include "vmbus/ring/memory.h"
#include "vmbus/ring/ring.h"

#include "tool_test_util.h"

namespace vmbus::cli {
namespace {

using testing::bytes;
using testing::encode_text;
using testing::image_bytes;
using testing::read_file;
using testing::RunResult;
using testing::ScratchDir;
using testing::write_packet;
using testing::write_text_file;

TEST(RingEncode, WritesTheImageTheRingWriterWould) {
  ScratchDir dir;
  const RunResult result = encode_text(
      R"({"type":6,"flags":1,"trans_id":42,"offset8":3,"payload":"DEADbeef"}
{"type":11,"flags":0,"trans_id":18446744073709551615,"payload":"000102030405060708090a0b0c0d0e0f"}
{"type":1,"flags":32768,"trans_id":0,"payload":""}
)",
      4096, 4048, dir / "out.img");
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.err, "");

  ring::FlatRingMemory expected(4096);
  ring::initialize_ring(expected, 4048);
  const std::vector<std::byte> first_payload = bytes({0xde, 0xad, 0xbe, 0xef});
  ring::OutgoingPacket first;
  first.type = 6;
  first.flags = 1;
  first.trans_id = 42;
  first.offset8 = 3;
  first.payload = first_payload;
  write_packet(expected, first);
  std::vector<std::byte> second_payload;
  for (unsigned i = 0; i < 16; ++i) {
    second_payload.push_back(static_cast<std::byte>(i));
  }
  ring::OutgoingPacket second;
  second.type = 11;
  second.trans_id = 18446744073709551615u;
  second.payload = second_payload;
  write_packet(expected, second);
  ring::OutgoingPacket third;
  third.type = 1;
  third.flags = 0x8000;
  write_packet(expected, third);

  EXPECT_EQ(read_file(dir / "out.img"), image_bytes(expected));
}

TEST(RingEncode, EmptyInputWritesEmptyRingAtStartIndex) {
  ScratchDir dir;
  ASSERT_EQ(encode_text("", 8192, 800, dir / "out.img").exit_code, 0);
  ring::FlatRingMemory expected(8192);
  ring::initialize_ring(expected, 800);
  EXPECT_EQ(read_file(dir / "out.img"), image_bytes(expected));
}

TEST(RingEncode, SkipsBlankLinesAndDecodeHeaderAndIgnoresOffsetAndLen8) {
  ScratchDir dir;
  const RunResult result = encode_text(
      "\n"
      R"({"write_index":999,"read_index":5,"interrupt_mask":1,"pending_send_sz":7,"feature_bits":0,"data_size":3})"
      "\n"
      "   \t\r\n"
      R"({"offset":123,"type":6,"flags":0,"trans_id":7,"offset8":2,"len8":99,"payload":"01"})"
      "\r\n",
      4096, 0, dir / "out.img");
  ASSERT_EQ(result.exit_code, 0) << result.err;
  ring::FlatRingMemory expected(4096);
  ring::initialize_ring(expected, 0);
  const std::vector<std::byte> payload = bytes({0x01});
  ring::OutgoingPacket packet;
  packet.type = 6;
  packet.trans_id = 7;
  packet.payload = payload;
  write_packet(expected, packet);
  EXPECT_EQ(read_file(dir / "out.img"), image_bytes(expected));
}

TEST(RingEncode, ReplacesAnExistingOutputFile) {
  ScratchDir dir;
  write_text_file(dir / "out.img", "old contents");
  ASSERT_EQ(encode_text("", 4096, 0, dir / "out.img").exit_code, 0);
  EXPECT_EQ(std::filesystem::file_size(dir / "out.img"), 8192u);
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir.path()),
                          std::filesystem::directory_iterator()),
            1);
}

// Runs a failing encode over a pre-existing OUT and checks the message, the
// exit code, that OUT kept its bytes and that no temporary was left behind.
void expect_refused(std::string_view input, const std::string& message,
                    std::uint64_t data_size = 4096, std::uint64_t start_index = 0) {
  ScratchDir dir;
  write_text_file(dir / "out.img", "precious");
  const RunResult result = encode_text(input, data_size, start_index, dir / "out.img");
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_EQ(result.err, message);
  const std::vector<std::byte> kept = read_file(dir / "out.img");
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(kept.data()), kept.size()), "precious");
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir.path()),
                          std::filesystem::directory_iterator()),
            1);
}

// 1000 payload bytes: len8 127, 1016 bytes + 8-byte trailer = 1024 per packet.
std::string kilobyte_packet(int trans_id) {
  return R"({"type":6,"flags":0,"trans_id":)" + std::to_string(trans_id) + R"(,"payload":")" +
         std::string(2000, 'a') + "\"}\n";
}

TEST(RingEncode, NamesPacketAndLineThatDoesNotFit) {
  // Three packets take 3072 of 4096 bytes; the fourth needs 1024 and 1024 are
  // free, but a ring must never fill completely.
  const std::string input = std::string(R"({"write_index":0})") + "\n\n" + kilobyte_packet(1) +
                            kilobyte_packet(2) + kilobyte_packet(3) + kilobyte_packet(4);
  expect_refused(input,
                 "<stdin>:6:1: packet 4 does not fit in the ring: it needs 1024 bytes (1016-byte "
                 "packet + 8-byte trailer) and 1024 of 4096 bytes are free; a packet needs more "
                 "free bytes than it takes, as a full ring would look empty\n");
}

TEST(RingEncode, NamesPacketLargerThanTheWholeRing) {
  const std::string input =
      R"({"type":6,"flags":0,"trans_id":1,"payload":")" + std::string(8192, '0') + "\"}\n";
  expect_refused(input,
                 "<stdin>:1:1: packet 1 does not fit in the ring: it needs 4120 bytes (4112-byte "
                 "packet + 8-byte trailer) and 4096 of 4096 bytes are free; a packet needs more "
                 "free bytes than it takes, as a full ring would look empty\n");
}

TEST(RingEncode, FillsRingToEightBytesBelowFull) {
  // 3 x 1024 + 1016: the last packet leaves exactly 8 bytes free.
  ScratchDir dir;
  const std::string last = R"({"type":6,"flags":0,"trans_id":4,"payload":")" +
                           std::string(2 * (1000 - 8), 'a') + "\"}\n";
  const RunResult result =
      encode_text(kilobyte_packet(1) + kilobyte_packet(2) + kilobyte_packet(3) + last, 4096, 8,
                  dir / "out.img");
  EXPECT_EQ(result.exit_code, 0) << result.err;
}

struct LineCase {
  const char* name;
  const char* input;
  const char* message;
};

// Names the case in test listings instead of dumping its bytes.
void PrintTo(const LineCase& c, std::ostream* out) {
  *out << c.name;
}

class RingEncodeBadLine : public ::testing::TestWithParam<LineCase> {};

TEST_P(RingEncodeBadLine, ReportsLineAndColumnAndKeepsOutput) {
  expect_refused(GetParam().input, GetParam().message);
}

constexpr const char* kGoodLine = R"({"type":6,"flags":0,"trans_id":1,"payload":"00"})"
                                  "\n";

INSTANTIATE_TEST_SUITE_P(
    Json, RingEncodeBadLine,
    ::testing::Values(
        LineCase{"NotAnObject", "[1]\n",
                 "<stdin>:1:1: expected '{' at the start of an object, found \"[\"\n"},
        LineCase{"MissingColon", R"({"type" 6})",
                 "<stdin>:1:9: expected ':' after the key, found \"6\"\n"},
        LineCase{"TrailingComma", R"({"type":6,})",
                 "<stdin>:1:11: expected a string key after ',', found \"}\"\n"},
        LineCase{"MissingComma", R"({"type":6 "flags":0})",
                 "<stdin>:1:11: expected ',' or '}' after a value, found \"\\\"\"\n"},
        LineCase{"UnterminatedString", R"({"type":6,"payload":"00)",
                 "<stdin>:1:21: unterminated string\n"},
        LineCase{"UnclosedObject", R"({"type":6)",
                 "<stdin>:1:10: expected ',' or '}' after a value, found end of line\n"},
        LineCase{"LeadingZero", R"({"type":06})",
                 "<stdin>:1:9: invalid number: leading zeros are not allowed\n"},
        LineCase{"SingleQuotes", R"({'type':6})",
                 "<stdin>:1:2: expected a string key or '}', found \"'\"\n"},
        LineCase{"GarbageAfterObject", R"({"type":6} x)",
                 "<stdin>:1:12: unexpected \"x\" after the object\n"},
        LineCase{"NestedObject", R"({"type":{"a":1}})",
                 "<stdin>:1:9: nested objects and arrays are not supported\n"},
        LineCase{"BadLiteral", R"({"type":tru})", "<stdin>:1:9: expected a value, found \"t\"\n"},
        LineCase{"DuplicateKey", R"({"type":6,"type":7})",
                 "<stdin>:1:11: duplicate key \"type\"\n"},
        LineCase{"ErrorOnThirdLine",
                 "\n{\"type\":6,\"flags\":0,\"trans_id\":1,\"payload\":\"00\"}\n  {\"type\":6,,}\n",
                 "<stdin>:3:13: expected a string key after ',', found \",\"\n"}),
    [](const ::testing::TestParamInfo<LineCase>& param_info) { return param_info.param.name; });

INSTANTIATE_TEST_SUITE_P(
    Packet, RingEncodeBadLine,
    ::testing::Values(
        LineCase{"UnknownKey", R"({"type":6,"flags":0,"trans_id":1,"payload":"","colour":"red"})",
                 "<stdin>:1:47: unknown key \"colour\" (a packet has type, flags, trans_id, "
                 "payload and optionally offset8)\n"},
        LineCase{"DecodeErrorLine", R"({"error":"unknown_packet_type","offset":32})",
                 "<stdin>:1:2: unknown key \"error\" (a packet has type, flags, trans_id, "
                 "payload and optionally offset8)\n"},
        LineCase{"MissingPayload", R"( {"type":6,"flags":0,"trans_id":1})",
                 "<stdin>:1:2: missing key \"payload\"\n"},
        LineCase{"MissingType", R"({"flags":0,"trans_id":1,"payload":""})",
                 "<stdin>:1:1: missing key \"type\"\n"},
        LineCase{"BadHexDigit", R"({"type":6,"flags":0,"trans_id":1,"payload":"00g1"})",
                 "<stdin>:1:47: \"payload\" must hold only hex digits, found \"g\"\n"},
        LineCase{"SpaceInHex", R"({"type":6,"flags":0,"trans_id":1,"payload":"00 11"})",
                 "<stdin>:1:47: \"payload\" must hold only hex digits, found \" \"\n"},
        LineCase{"EscapedNonHex", R"({"type":6,"flags":0,"trans_id":1,"payload":"00\n"})",
                 "<stdin>:1:44: \"payload\" must hold only hex digits, found \"\\x0a\"\n"},
        LineCase{"OddHex", R"({"type":6,"flags":0,"trans_id":1,"payload":"abc"})",
                 "<stdin>:1:44: \"payload\" has an odd number of hex digits (3); each byte "
                 "takes two\n"},
        LineCase{"PayloadNotString", R"({"type":6,"flags":0,"trans_id":1,"payload":12})",
                 "<stdin>:1:44: \"payload\" must be a string of hex digits, got 12\n"},
        LineCase{"TypeZero", R"({"type":0,"flags":0,"trans_id":1,"payload":""})",
                 "<stdin>:1:9: \"type\" must be an integer from 1 to 13, got 0\n"},
        LineCase{"TypeFourteen", R"({"type":14,"flags":0,"trans_id":1,"payload":""})",
                 "<stdin>:1:9: \"type\" must be an integer from 1 to 13, got 14\n"},
        LineCase{"TypeBeyondSixteenBits", R"({"type":65542,"flags":0,"trans_id":1,"payload":""})",
                 "<stdin>:1:9: \"type\" must be an integer from 1 to 13, got 65542\n"},
        LineCase{"TypeAsString", R"({"type":"6","flags":0,"trans_id":1,"payload":""})",
                 "<stdin>:1:9: \"type\" must be an integer from 1 to 13, got a string\n"},
        LineCase{"TypeWithFraction", R"({"type":6.0,"flags":0,"trans_id":1,"payload":""})",
                 "<stdin>:1:9: \"type\" must be an integer from 1 to 13, got 6.0\n"},
        LineCase{"FlagsBeyondSixteenBits", R"({"type":6,"flags":65536,"trans_id":1,"payload":""})",
                 "<stdin>:1:19: \"flags\" must be an integer from 0 to 65535, got 65536\n"},
        LineCase{"FlagsNegative", R"({"type":6,"flags":-1,"trans_id":1,"payload":""})",
                 "<stdin>:1:19: \"flags\" must be an integer from 0 to 65535, got -1\n"},
        LineCase{"TransIdBeyondSixtyFourBits",
                 R"({"type":6,"flags":0,"trans_id":18446744073709551616,"payload":""})",
                 "<stdin>:1:32: \"trans_id\" must be an integer from 0 to 18446744073709551615, "
                 "got 18446744073709551616\n"},
        LineCase{"Offset8BelowTwo", R"({"type":6,"flags":0,"trans_id":1,"offset8":1,"payload":""})",
                 "<stdin>:1:44: \"offset8\" must be an integer from 2 to 65535, got 1\n"},
        LineCase{"Len8BeyondSixteenBits",
                 R"({"type":6,"flags":0,"trans_id":1,"offset8":65535,"payload":"00"})",
                 "<stdin>:1:60: packet too long: offset8 65535 and a 1-byte payload give len8 "
                 "65536, above 65535\n"}),
    [](const ::testing::TestParamInfo<LineCase>& param_info) { return param_info.param.name; });

TEST(RingEncode, ReportsBadLineAfterGoodOnes) {
  expect_refused(std::string(kGoodLine) + kGoodLine +
                     R"({"type":6,"flags":0,"trans_id":1})"
                     "\n",
                 "<stdin>:3:1: missing key \"payload\"\n");
}

TEST(RingEncode, RefusesInvalidOptionsWithoutWriting) {
  expect_refused("",
                 "vmbus-sim ring encode: --data-size 0 is not a positive multiple of 4096 (at "
                 "most 4294963200)\n",
                 0, 0);
  expect_refused("",
                 "vmbus-sim ring encode: --data-size 6000 is not a positive multiple of 4096 "
                 "(at most 4294963200)\n",
                 6000, 0);
  expect_refused("",
                 "vmbus-sim ring encode: --start-index 4096 is not a multiple of 8 below the "
                 "data size 4096\n",
                 4096, 4096);
  expect_refused("",
                 "vmbus-sim ring encode: --start-index 12 is not a multiple of 8 below the "
                 "data size 4096\n",
                 4096, 12);
}

TEST(RingEncode, NamesOutputWhoseDirectoryIsMissing) {
  ScratchDir dir;
  const std::filesystem::path out = dir / "no-such-dir" / "out.img";
  const RunResult result = encode_text(kGoodLine, 4096, 0, out);
  EXPECT_EQ(result.exit_code, 2);
  const std::string pid = std::to_string(::getpid());
  EXPECT_EQ(result.err, "vmbus-sim ring encode: cannot create a temporary file next to '" +
                            out.string() + "' ('" + (dir / "no-such-dir").string() +
                            "/.out.img.tmp." + pid + ".0'): No such file or directory\n");
}

TEST(RingEncode, NamesOutputThatIsADirectory) {
  ScratchDir dir;
  std::filesystem::create_directory(dir / "out.img");
  const RunResult result = encode_text(kGoodLine, 4096, 0, dir / "out.img");
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_EQ(result.err, "vmbus-sim ring encode: cannot replace '" + (dir / "out.img").string() +
                            "': Is a directory\n");
  EXPECT_TRUE(std::filesystem::is_directory(dir / "out.img"));
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir.path()),
                          std::filesystem::directory_iterator()),
            1);
}

}  // namespace
}  // namespace vmbus::cli

namespace vmbus::cli {
namespace {

using testing::read_file;
using testing::run_cli;
using testing::RunResult;
using testing::ScratchDir;

// What `ring decode` makes of an image encode wrote, as JSON lines.
std::string decoded(const std::filesystem::path& image) {
  const RunResult result = run_cli({"ring", "decode", image.string()});
  return result.out;
}

TEST(RingEncodeMalformed, AsWrittenKeepsLen8SoDecodeFindsTheCorruptPacketAtItsOffset) {
  ScratchDir dir;
  const std::string image = (dir / "bad.img").string();
  const RunResult result = run_cli(
      {"ring", "encode", "--as-written", "--data-size", "4096", image},
      R"({"write_index":0,"read_index":0,"interrupt_mask":1,"pending_send_sz":512,"feature_bits":1,"data_size":4096}
{"type":6,"flags":0,"trans_id":1,"payload":"0102030405060708"}
{"type":6,"flags":0,"trans_id":2,"offset8":4,"len8":3,"payload":"00"}
)");
  ASSERT_EQ(result.exit_code, 0) << result.err;
  // The first packet takes 24 + 8 bytes; the malformed one starts at 32
  // and is 32 bytes of header and 8 of payload, then its trailer.
  EXPECT_EQ(
      decoded(image),
      R"({"write_index":80,"read_index":0,"interrupt_mask":1,"pending_send_sz":512,"feature_bits":1,"data_size":4096}
{"offset":0,"type":6,"flags":0,"trans_id":1,"offset8":2,"len8":3,"payload":"0102030405060708"}
{"error":"offset8_beyond_len8","offset":32}
)");
}

TEST(RingEncodeMalformed, DescriptorAndTrailerAreWrittenVerbatim) {
  ScratchDir dir;
  const std::filesystem::path image = dir / "raw.img";
  const RunResult result = run_cli(
      {"ring", "encode", "--data-size", "4096", image.string()},
      R"({"descriptor":"0e00020003000000ffffffffffffffff","payload":"aabbccdd","trailer":"0102030405060708"}
)");
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const std::vector<std::byte> image_bytes = read_file(image);
  const std::string bytes(reinterpret_cast<const char*>(image_bytes.data()), image_bytes.size());
  ASSERT_EQ(bytes.size(), 8192u);
  // Descriptor (type 14: no packet type), payload padded to 8, trailer.
  EXPECT_EQ(bytes.substr(4096, 32),
            std::string("\x0e\x00\x02\x00\x03\x00\x00\x00\xff\xff\xff\xff\xff\xff\xff\xff"
                        "\xaa\xbb\xcc\xdd\x00\x00\x00\x00\x01\x02\x03\x04\x05\x06\x07\x08",
                        32));
  EXPECT_EQ(bytes.substr(0, 4), std::string("\x20\x00\x00\x00", 4));  // write_index 32
  EXPECT_NE(decoded(image).find(R"({"error":"unknown_packet_type","offset":0})"),
            std::string::npos);
}

TEST(RingEncodeMalformed, WithoutAsWrittenLen8IsStillIgnoredAndABadDescriptorIsRefused) {
  ScratchDir dir;
  const std::string image = (dir / "x.img").string();
  RunResult result = run_cli({"ring", "encode", "--data-size", "4096", image},
                             R"({"type":6,"flags":0,"trans_id":1,"len8":99,"payload":"01"})"
                             "\n");
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(decoded(image).find("error"), std::string::npos);
  result = run_cli({"ring", "encode", "--data-size", "4096", image},
                   R"({"descriptor":"0e00","payload":""})"
                   "\n");
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_EQ(result.err,
            "<stdin>:1:15: \"descriptor\" must be 32 hex digits (16 bytes as they sit in the "
            "ring), got 4\n");
}

}  // namespace
}  // namespace vmbus::cli
