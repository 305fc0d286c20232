// encode then decode gives back the packets, for every start index of rings
// of one, two and three pages, with packet sets that fill the ring to the
// last usable byte (so they wrap at every start index but 0); and decode's
// output encodes back into the identical image.
#include <cstdint>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "vmbus/ring/ring.h"

#include "tool_test_util.h"

namespace vmbus::cli {
namespace {

using testing::decode_file;
using testing::encode_text;
using testing::read_file;
using testing::RunResult;
using testing::ScratchDir;

struct TestPacket {
  unsigned type;
  unsigned flags;
  std::uint64_t trans_id;
  unsigned offset8;
  std::string payload_hex;
};

std::string pattern_hex(std::size_t bytes, unsigned seed) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string hex;
  for (std::size_t i = 0; i < bytes; ++i) {
    const unsigned value = static_cast<unsigned>((i * 7 + seed) % 251);
    hex.push_back(kDigits[value >> 4]);
    hex.push_back(kDigits[value & 0xFu]);
  }
  return hex;
}

std::uint32_t len8_of(const TestPacket& packet) {
  const std::size_t payload_bytes = packet.payload_hex.size() / 2;
  return packet.offset8 + static_cast<std::uint32_t>((payload_bytes + 7) / 8);
}

// Small packets of every shape, then a filler that brings the ring to
// data_size - 8 bytes in use: the fullest a ring can be.
std::vector<TestPacket> packets_filling(std::uint32_t data_size) {
  std::vector<TestPacket> packets = {
      {1, 0, 0, 2, ""},
      {6, 1, 1, 2, "ab"},
      {11, 0xffff, 18446744073709551615u, 5, pattern_hex(7, 3)},
      {13, 2, 12345678901234, 3, pattern_hex(9, 5)},
      {7, 0, 5, 2, pattern_hex(8, 11)},
  };
  std::uint32_t used = 0;
  for (const TestPacket& packet : packets) {
    used += ring::ring_bytes_for_packet(len8_of(packet) * 8);
  }
  const std::uint32_t filler_ring_bytes = data_size - 8 - used;
  const std::uint32_t filler_payload = filler_ring_bytes - ring::kPacketTrailerBytes - 16;
  packets.push_back({8, 0x1234, 77, 2, pattern_hex(filler_payload, 1)});
  return packets;
}

std::string encode_input(const std::vector<TestPacket>& packets) {
  std::string input;
  for (const TestPacket& p : packets) {
    input += "{\"type\":" + std::to_string(p.type) + ",\"flags\":" + std::to_string(p.flags) +
             ",\"trans_id\":" + std::to_string(p.trans_id) +
             ",\"offset8\":" + std::to_string(p.offset8) + ",\"payload\":\"" + p.payload_hex +
             "\"}\n";
  }
  return input;
}

// What decode must print, computed from the packets alone.
std::string expected_listing(const std::vector<TestPacket>& packets, std::uint32_t data_size,
                             std::uint32_t start_index) {
  std::string lines;
  std::uint32_t offset = start_index;
  for (const TestPacket& p : packets) {
    const std::uint32_t len8 = len8_of(p);
    std::string payload = p.payload_hex;
    payload.resize((len8 - p.offset8) * 16, '0');
    lines += "{\"offset\":" + std::to_string(offset) + ",\"type\":" + std::to_string(p.type) +
             ",\"flags\":" + std::to_string(p.flags) +
             ",\"trans_id\":" + std::to_string(p.trans_id) +
             ",\"offset8\":" + std::to_string(p.offset8) + ",\"len8\":" + std::to_string(len8) +
             ",\"payload\":\"" + payload + "\"}\n";
    offset = (offset + ring::ring_bytes_for_packet(len8 * 8)) % data_size;
  }
  return "{\"write_index\":" + std::to_string(offset) +
         ",\"read_index\":" + std::to_string(start_index) +
         ",\"interrupt_mask\":0,\"pending_send_sz\":0,\"feature_bits\":1,\"data_size\":" +
         std::to_string(data_size) + "}\n" + lines;
}

class RingRoundTrip : public ::testing::TestWithParam<std::uint32_t> {};

TEST_P(RingRoundTrip, DecodeReturnsEncodedPacketsAtEveryStartIndex) {
  const std::uint32_t data_size = GetParam();
  const std::vector<TestPacket> packets = packets_filling(data_size);
  const std::string input = encode_input(packets);
  ScratchDir dir;
  for (std::uint32_t start = 0; start < data_size; start += 8) {
    SCOPED_TRACE("data size " + std::to_string(data_size) + ", start index " +
                 std::to_string(start));
    const RunResult encoded = encode_text(input, data_size, start, dir / "a.img");
    ASSERT_EQ(encoded.exit_code, 0) << encoded.err;
    const RunResult decoded = decode_file(dir / "a.img");
    ASSERT_EQ(decoded.exit_code, 0) << decoded.err;
    ASSERT_EQ(decoded.out, expected_listing(packets, data_size, start));

    // decode | encode reproduces the image byte for byte.
    const RunResult again = encode_text(decoded.out, data_size, start, dir / "b.img");
    ASSERT_EQ(again.exit_code, 0) << again.err;
    ASSERT_EQ(read_file(dir / "b.img"), read_file(dir / "a.img"));
  }
}

TEST_P(RingRoundTrip, RingHoldingTheFillingSetHasNoRoomForAnotherPacket) {
  const std::uint32_t data_size = GetParam();
  const std::string input = encode_input(packets_filling(data_size)) +
                            R"({"type":1,"flags":0,"trans_id":0,"payload":""})";
  ScratchDir dir;
  const RunResult result = encode_text(input, data_size, 4000, dir / "a.img");
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_EQ(result.err,
            "<stdin>:7:1: packet 7 does not fit in the ring: it needs 24 bytes "
            "(16-byte packet + 8-byte trailer) and 8 of " +
                std::to_string(data_size) +
                " bytes are free; a packet needs more free bytes than it takes, as a "
                "full ring would look empty\n");
}

INSTANTIATE_TEST_SUITE_P(DataSizes, RingRoundTrip, ::testing::Values(4096u, 8192u, 12288u));

}  // namespace
}  // namespace vmbus::cli
