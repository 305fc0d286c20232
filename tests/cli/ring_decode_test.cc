// `ring decode` on images built with the ring library: exact JSON lines and
// text, every corruption the reader reports, and the images it must refuse.
#include "vmbus/cli/ring_decode.h"

#include <cstdint>
#include <limits>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "vmbus/cli/ring_picture.h"
#include "vmbus/ring/layout.h"
#include "vmbus/ring/memory.h"
#include "vmbus/ring/ring.h"

#include "tool_test_util.h"

namespace vmbus::cli {
namespace {

using testing::bytes;
using testing::decode_file;
using testing::image_bytes;
using testing::poke_u16;
using testing::poke_u32;
using testing::RunResult;
using testing::ScratchDir;
using testing::write_file;
using testing::write_packet;

constexpr std::size_t kControl = ring::kHvPageSizeBytes;  // data area offset in an image
constexpr std::size_t kWriteIndexAt = 0x00;
constexpr std::size_t kReadIndexAt = 0x04;
constexpr std::size_t kInterruptMaskAt = 0x08;
constexpr std::size_t kPendingSendSzAt = 0x0C;
// Descriptor fields, relative to a packet's start.
constexpr std::size_t kTypeAt = 0;
constexpr std::size_t kOffset8At = 2;
constexpr std::size_t kLen8At = 4;

// Three packets in a 4096-byte ring starting at 4048: the first has a header
// extension (offset8 3), the second's descriptor straddles the end of the
// data area, the third starts after the wrap.
std::vector<std::byte> wrapping_image() {
  ring::FlatRingMemory memory(4096);
  ring::initialize_ring(memory, 4048);

  const std::vector<std::byte> extension = bytes({0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18});
  const std::vector<std::byte> first_payload = bytes({0xde, 0xad, 0xbe, 0xef});
  ring::OutgoingPacket first;
  first.type = 6;
  first.flags = 1;
  first.trans_id = 42;
  first.offset8 = 3;
  first.header_extension = extension;
  first.payload = first_payload;
  write_packet(memory, first);  // 4048..4088 with trailer

  std::vector<std::byte> second_payload;
  for (unsigned i = 0; i < 16; ++i) {
    second_payload.push_back(static_cast<std::byte>(i));
  }
  ring::OutgoingPacket second;
  second.type = 11;
  second.trans_id = std::numeric_limits<std::uint64_t>::max();
  second.payload = second_payload;
  write_packet(memory, second);  // 4088..4096, 0..32

  ring::OutgoingPacket third;
  third.type = 1;
  third.flags = 0x8000;
  write_packet(memory, third);  // 32..56

  std::vector<std::byte> image = image_bytes(memory);
  poke_u32(image, kInterruptMaskAt, 1);
  poke_u32(image, kPendingSendSzAt, 200);
  return image;
}

// Two 24-byte data packets at offsets 0 and 32 of a 4096-byte ring; tests
// corrupt the second one.
std::vector<std::byte> two_packet_image() {
  ring::FlatRingMemory memory(4096);
  ring::initialize_ring(memory, 0);
  const std::vector<std::byte> payload = bytes({1, 2, 3, 4, 5, 6, 7, 8});
  for (std::uint64_t trans_id = 1; trans_id <= 2; ++trans_id) {
    ring::OutgoingPacket packet;
    packet.type = 6;
    packet.trans_id = trans_id;
    packet.payload = payload;
    write_packet(memory, packet);
  }
  return image_bytes(memory);
}

constexpr std::string_view kFirstOfTwo =
    R"({"offset":0,"type":6,"flags":0,"trans_id":1,"offset8":2,"len8":3,"payload":"0102030405060708"})"
    "\n";
constexpr std::string_view kHeaderOfTwo =
    R"({"write_index":64,"read_index":0,"interrupt_mask":0,"pending_send_sz":0,"feature_bits":1,"data_size":4096})"
    "\n";

RunResult decode_image(const std::vector<std::byte>& image, bool text = false) {
  ScratchDir dir;
  write_file(dir / "ring.img", image);
  RunResult result = decode_file(dir / "ring.img", text);
  // Every message names the file; replace the scratch path for exact checks.
  const std::string path = (dir / "ring.img").string();
  for (std::size_t at; (at = result.err.find(path)) != std::string::npos;) {
    result.err.replace(at, path.size(), "ring.img");
  }
  return result;
}

TEST(RingDecode, ListsHeaderAndPacketsIncludingWrapAndHeaderExtension) {
  const RunResult result = decode_image(wrapping_image());
  EXPECT_EQ(result.exit_code, 0);
  EXPECT_EQ(result.err, "");
  EXPECT_EQ(
      result.out,
      R"({"write_index":56,"read_index":4048,"interrupt_mask":1,"pending_send_sz":200,"feature_bits":1,"data_size":4096}
{"offset":4048,"type":6,"flags":1,"trans_id":42,"offset8":3,"len8":4,"payload":"deadbeef00000000"}
{"offset":4088,"type":11,"flags":0,"trans_id":18446744073709551615,"offset8":2,"len8":4,"payload":"000102030405060708090a0b0c0d0e0f"}
{"offset":32,"type":1,"flags":32768,"trans_id":0,"offset8":2,"len8":2,"payload":""}
)");
}

TEST(RingDecode, PrintsAlignedTextTableWithTextFlag) {
  const RunResult result = decode_image(wrapping_image(), /*text=*/true);
  EXPECT_EQ(result.exit_code, 0);
  EXPECT_EQ(result.err, "");
  EXPECT_EQ(result.out,
            "write_index      56\n"
            "read_index       4048\n"
            "interrupt_mask   1\n"
            "pending_send_sz  200\n"
            "feature_bits     1\n"
            "data_size        4096\n"
            "\n"
            "offset  type  name                flags               trans_id  offset8  len8  "
            "payload_len  payload_hex\n"
            "  4048     6  VM_PKT_DATA_INBAND  0x0001                    42        3     4  "
            "          8  deadbeef00000000\n"
            "  4088    11  VM_PKT_COMP         0x0000  18446744073709551615        2     4  "
            "         16  000102030405060708090a0b0c0d0e0f\n"
            "    32     1  VM_PKT_SYNCH        0x8000                     0        2     2  "
            "          0\n"
            "3 packets\n"
            // The picture: R in the last column, W in the first, the used
            // bytes wrapping round the end.
            "\n"
            "the data area (4096 bytes, 64 a column; # used, . free):\n"
            "|#..............................................................#|\n"
            "                                                                "
            "^ R read_index=4048 (the reader's next byte)\n"
            " ^ W write_index=56 (where the writer's next packet goes)\n"
            "used 104 bytes from 4048 to 56 (wrapping at 4096), free 3992 bytes\n"
            "packet at 4048: 40 bytes to 4088: descriptor 16, header extension 8, payload and "
            "padding 8, trailer 8\n"
            "packet at 4088: 40 bytes to 32 (wraps): descriptor 16, payload and padding 16, "
            "trailer 8\n"
            "packet at 32: 24 bytes to 56: descriptor 16, payload and padding 0, trailer 8\n");
}

TEST(RingDecode, TextShowsCorruptPacketInWordsWithItsRawDescriptor) {
  std::vector<std::byte> image = two_packet_image();
  poke_u16(image, kControl + 32 + kLen8At, 40);
  const RunResult result = decode_image(image, /*text=*/true);
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_EQ(result.err, "");
  EXPECT_EQ(result.out,
            "write_index      64\n"
            "read_index       0\n"
            "interrupt_mask   0\n"
            "pending_send_sz  0\n"
            "feature_bits     1\n"
            "data_size        4096\n"
            "\n"
            "offset  type  name                flags   trans_id  offset8  len8  payload_len  "
            "payload_hex\n"
            "     0     6  VM_PKT_DATA_INBAND  0x0000         1        2     3            8  "
            "0102030405060708\n"
            "1 packet\n"
            "corrupt packet at offset 32: the packet and its trailer are longer than the bytes "
            "the writer published (packet_beyond_available)\n"
            "  descriptor: type 6, offset8 2, len8 40, flags 0x0000, trans_id 2; 32 bytes "
            "published from this offset\n"
            "\n"
            "the data area (4096 bytes, 64 a column; # used, . free):\n"
            "|#...............................................................|\n"
            " ^ R read_index=0 (the reader's next byte)\n"
            "  ^ W write_index=64 (where the writer's next packet goes)\n"
            "used 64 bytes from 0 to 64, free 4032 bytes\n"
            "packet at 0: 32 bytes to 32: descriptor 16, payload and padding 8, trailer 8\n");
}

TEST(RingDecode, TextOfEmptyRingSaysZeroPackets) {
  ring::FlatRingMemory memory(8192);
  ring::initialize_ring(memory, 8184);
  const RunResult result = decode_image(image_bytes(memory), /*text=*/true);
  EXPECT_EQ(result.exit_code, 0);
  EXPECT_EQ(result.out,
            "write_index      8184\n"
            "read_index       8184\n"
            "interrupt_mask   0\n"
            "pending_send_sz  0\n"
            "feature_bits     1\n"
            "data_size        8192\n"
            "\n"
            "0 packets\n"
            "\n"
            "the data area (8192 bytes, 128 a column; # used, . free):\n"
            "|................................................................|\n"
            "                                                                "
            "^ R read_index=8184 (the reader's next byte)\n"
            "                                                                "
            "^ W write_index=8184 (where the writer's next packet goes)\n"
            "used 0 bytes, free 8192 bytes\n");
}

TEST(RingDecode, TextShortensLongPayloadsToSixteenBytes) {
  ring::FlatRingMemory memory(4096);
  ring::initialize_ring(memory, 0);
  std::vector<std::byte> payload(17, std::byte{0xab});
  ring::OutgoingPacket packet;
  packet.type = 13;
  packet.payload = payload;
  write_packet(memory, packet);
  const RunResult result = decode_image(image_bytes(memory), /*text=*/true);
  EXPECT_EQ(result.exit_code, 0);
  EXPECT_NE(result.out.find("     0    13  VM_PKT_ADDITIONAL_DATA  0x0000         0        2     "
                            "5           24  abababababababababababababababab...\n"),
            std::string::npos)
      << result.out;
}

TEST(RingPicture, BarMarksEveryColumnHoldingAUsedByteBetweenReadAndWriteIndex) {
  DecodedRing ring;
  ring.data_size = 4096;    // 64 bytes a column
  ring.read_index = 1000;   // column 15
  ring.write_index = 2056;  // column 32: bytes 2048..2055 are used
  std::ostringstream out;
  write_ring_picture(ring, out);
  EXPECT_EQ(out.str(),
            "\n"
            "the data area (4096 bytes, 64 a column; # used, . free):\n"
            "|...............##################.............................."
            ".|\n"
            "                ^ R read_index=1000 (the reader's next byte)\n"
            "                                 ^ W write_index=2056 (where the writer's next "
            "packet goes)\n"
            "used 1056 bytes from 1000 to 2056, free 3040 bytes\n");
}

TEST(RingPicture, AnIndexOutsideTheDataAreaIsSaidInsteadOfDrawn) {
  DecodedRing ring;
  ring.data_size = 4096;
  ring.read_index = 0xFFFFFFF8;  // a mark this far right would be 4 GiB of spaces
  ring.write_index = 64;
  std::ostringstream out;
  write_ring_picture(ring, out);
  EXPECT_EQ(out.str(),
            "\n"
            "the data area (4096 bytes): no picture, an index lies outside it (read_index "
            "4294967288, write_index 64)\n");
  ring.read_index = 0;
  ring.write_index = 4096;
  out.str("");
  write_ring_picture(ring, out);
  EXPECT_EQ(out.str(),
            "\n"
            "the data area (4096 bytes): no picture, an index lies outside it (read_index 0, "
            "write_index 4096)\n");
}

TEST(RingDecode, DoesNotModifyTheImage) {
  ScratchDir dir;
  const std::vector<std::byte> image = wrapping_image();
  write_file(dir / "ring.img", image);
  ASSERT_EQ(decode_file(dir / "ring.img").exit_code, 0);
  EXPECT_EQ(testing::read_file(dir / "ring.img"), image);
}

struct CorruptCase {
  const char* name;
  std::size_t field_at;  // descriptor field of the second packet
  std::uint16_t value;
  const char* reason;
  const char* words;
};

void PrintTo(const CorruptCase& c, std::ostream* out) {
  *out << c.name;
}

class RingDecodeCorruptPacket : public ::testing::TestWithParam<CorruptCase> {};

TEST_P(RingDecodeCorruptPacket, EndsListingWithErrorLineAndExitsOne) {
  const CorruptCase& c = GetParam();
  std::vector<std::byte> image = two_packet_image();
  poke_u16(image, kControl + 32 + c.field_at, c.value);
  const RunResult result = decode_image(image);
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_EQ(result.out, std::string(kHeaderOfTwo) + std::string(kFirstOfTwo) + "{\"error\":\"" +
                            c.reason + "\",\"offset\":32}\n");
  EXPECT_EQ(result.err, std::string("vmbus-sim ring decode: 'ring.img': corrupt packet at offset "
                                    "32: ") +
                            c.words + " (" + c.reason + ")\n");
}

INSTANTIATE_TEST_SUITE_P(
    Cases, RingDecodeCorruptPacket,
    ::testing::Values(
        CorruptCase{"Len8BelowOffset8", kLen8At, 1, "offset8_beyond_len8",
                    "offset8 is greater than len8"},
        CorruptCase{"Offset8BelowTwo", kOffset8At, 1, "offset8_below_descriptor",
                    "offset8 is below 2, so the payload would start inside the descriptor"},
        CorruptCase{"Offset8Zero", kOffset8At, 0, "offset8_below_descriptor",
                    "offset8 is below 2, so the payload would start inside the descriptor"},
        CorruptCase{"TypeZero", kTypeAt, 0, "unknown_packet_type",
                    "the type is not a packet type (1 to 13)"},
        CorruptCase{"TypeFourteen", kTypeAt, 14, "unknown_packet_type",
                    "the type is not a packet type (1 to 13)"},
        CorruptCase{"LongerThanPublished", kLen8At, 5, "packet_beyond_available",
                    "the packet and its trailer are longer than the bytes the writer published"}),
    [](const ::testing::TestParamInfo<CorruptCase>& param_info) { return param_info.param.name; });

TEST(RingDecode, ReportsTruncatedPacketWhenFewerThanTwentyFourBytesArePublished) {
  std::vector<std::byte> image = two_packet_image();
  poke_u32(image, kWriteIndexAt, 40);  // 8 bytes after the first packet
  const RunResult result = decode_image(image);
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_EQ(
      result.out,
      R"({"write_index":40,"read_index":0,"interrupt_mask":0,"pending_send_sz":0,"feature_bits":1,"data_size":4096}
)" + std::string(kFirstOfTwo) +
          R"({"error":"truncated_packet","offset":32}
)");
}

TEST(RingDecode, ReportsCorruptFirstPacketAtReadIndex) {
  ring::FlatRingMemory memory(4096);
  ring::initialize_ring(memory, 4072);
  ring::OutgoingPacket packet;
  packet.type = 6;
  write_packet(memory, packet);
  std::vector<std::byte> image = image_bytes(memory);
  poke_u16(image, kControl + 4072 + kTypeAt, 0x20);
  const RunResult result = decode_image(image);
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_EQ(
      result.out,
      R"({"write_index":0,"read_index":4072,"interrupt_mask":0,"pending_send_sz":0,"feature_bits":1,"data_size":4096}
{"error":"unknown_packet_type","offset":4072}
)");
}

struct BadIndexCase {
  const char* name;
  std::size_t field_at;
  std::uint32_t value;
  const char* message;
};

void PrintTo(const BadIndexCase& c, std::ostream* out) {
  *out << c.name;
}

class RingDecodeBadIndex : public ::testing::TestWithParam<BadIndexCase> {};

TEST_P(RingDecodeBadIndex, RefusesRingWithExitTwo) {
  const BadIndexCase& c = GetParam();
  std::vector<std::byte> image = two_packet_image();
  poke_u32(image, c.field_at, c.value);
  const RunResult result = decode_image(image);
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_EQ(result.out, "");
  EXPECT_EQ(result.err, std::string("vmbus-sim ring decode: 'ring.img' is a corrupt ring: ") +
                            c.message + "\n");
}

INSTANTIATE_TEST_SUITE_P(
    Cases, RingDecodeBadIndex,
    ::testing::Values(
        BadIndexCase{"WriteIndexAtDataSize", kWriteIndexAt, 4096,
                     "write_index 4096 is out of range for a data area of 4096 bytes "
                     "(write_index_out_of_range)"},
        BadIndexCase{"WriteIndexHuge", kWriteIndexAt, 0xFFFFFFF8u,
                     "write_index 4294967288 is out of range for a data area of 4096 bytes "
                     "(write_index_out_of_range)"},
        BadIndexCase{"WriteIndexMisaligned", kWriteIndexAt, 12,
                     "write_index 12 is not a multiple of 8 (write_index_misaligned)"},
        BadIndexCase{"ReadIndexMisaligned", kReadIndexAt, 4,
                     "read_index 4 is not a multiple of 8 (read_index_misaligned)"},
        BadIndexCase{"ReadIndexOutOfRange", kReadIndexAt, 8192,
                     "read_index 8192 is out of range for a data area of 4096 bytes "
                     "(read_index_out_of_range)"}),
    [](const ::testing::TestParamInfo<BadIndexCase>& param_info) { return param_info.param.name; });

class RingDecodeBadSize : public ::testing::TestWithParam<std::size_t> {};

TEST_P(RingDecodeBadSize, RefusesFileWithExitTwo) {
  const std::size_t size = GetParam();
  const RunResult result = decode_image(std::vector<std::byte>(size));
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_EQ(result.out, "");
  EXPECT_EQ(result.err, "vmbus-sim ring decode: 'ring.img' is not a ring image: its size is " +
                            std::to_string(size) +
                            " bytes, but a ring image is a 4096-byte control page followed by a "
                            "data area of a positive multiple of 4096 bytes (at most "
                            "4294963200)\n");
}

INSTANTIATE_TEST_SUITE_P(Sizes, RingDecodeBadSize,
                         ::testing::Values(0u, 4096u, 4097u, 8191u, 8200u, 12287u));

TEST(RingDecode, NamesMissingFileAndOsReason) {
  ScratchDir dir;
  const RunResult result = decode_file(dir / "missing.img");
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_EQ(result.out, "");
  EXPECT_EQ(result.err, "vmbus-sim ring decode: cannot open '" + (dir / "missing.img").string() +
                            "': No such file or directory\n");
}

TEST(RingDecode, NamesDirectoryAndOsReason) {
  ScratchDir dir;
  const RunResult result = decode_file(dir.path());
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_EQ(result.err,
            "vmbus-sim ring decode: cannot read '" + dir.path().string() + "': Is a directory\n");
}

TEST(RingDecode, AcceptsLargestIndexAndMultiPageDataArea) {
  ring::FlatRingMemory memory(12288);
  ring::initialize_ring(memory, 12280);
  ring::OutgoingPacket packet;
  packet.type = 2;
  packet.trans_id = 9;
  const std::vector<std::byte> payload = bytes({0xff});
  packet.payload = payload;
  write_packet(memory, packet);
  const RunResult result = decode_image(image_bytes(memory));
  EXPECT_EQ(result.exit_code, 0);
  EXPECT_EQ(
      result.out,
      R"({"write_index":24,"read_index":12280,"interrupt_mask":0,"pending_send_sz":0,"feature_bits":1,"data_size":12288}
{"offset":12280,"type":2,"flags":0,"trans_id":9,"offset8":2,"len8":3,"payload":"ff00000000000000"}
)");
}

}  // namespace
}  // namespace vmbus::cli
