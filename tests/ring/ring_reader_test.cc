// RingReader: reading what the writer wrote, at every position, and refusing
// every kind of corrupt ring without moving or reading outside the ring.
#include <cstdint>
#include <cstring>
#include <vector>

#include <gtest/gtest.h>

#include "vmbus/ring/ring.h"

#include "ring_test_util.h"

namespace vmbus::ring {
namespace {

using testing::bytes_of;
using testing::control_of;
using testing::data_area;
using testing::GuardedRingMemory;
using testing::inband;
using testing::pattern;
using testing::write_one;

std::vector<std::byte> to_vector(std::span<const std::byte> s) {
  return {s.begin(), s.end()};
}

std::vector<std::byte> padded(std::vector<std::byte> v) {
  v.resize((v.size() + 7) / 8 * 8);
  return v;
}

TEST(RingReader, ReadsBackPacketWithItsDescriptorAndPaddedPayload) {
  FlatRingMemory memory(4096);
  initialize_ring(memory);
  RingWriter writer(memory);
  RingReader reader(memory, 4096);
  const auto payload = pattern(13, 5);
  ASSERT_EQ(write_one(writer, inband(payload, 99, kPacketFlagCompletionRequested)),
            WriteStatus::kOk);

  const ReadResult result = reader.next();

  ASSERT_EQ(result.status, ReadStatus::kPacket);
  EXPECT_EQ(result.packet.offset, 0u);
  EXPECT_EQ(result.packet.descriptor.type, 6);
  EXPECT_EQ(result.packet.descriptor.offset8, 2);
  EXPECT_EQ(result.packet.descriptor.len8, 4);
  EXPECT_EQ(result.packet.descriptor.flags, kPacketFlagCompletionRequested);
  EXPECT_EQ(result.packet.descriptor.trans_id, 99u);
  EXPECT_EQ(result.packet.bytes.size(), 32u);
  EXPECT_EQ(to_vector(result.packet.payload()), padded(payload));
  EXPECT_EQ(reader.read_cursor(), 40u);
  EXPECT_EQ(control_of(memory).read_index, 0u) << "consumed, not yet published";
  EXPECT_EQ(reader.next().status, ReadStatus::kEmpty);
  EXPECT_EQ(reader.publish(), 40u);
  EXPECT_EQ(control_of(memory).read_index, 40u);
}

// Every 8-byte start position of a 4 KiB ring, with a packet long enough to
// straddle the end for the last 64 of them: the bytes on the ring are the
// expected image at that position and the reader gets the packet back.
TEST(RingReader, ReadsPacketsWrappingAtEveryEightBytePosition) {
  const auto payload = pattern(45, 9);  // 16 + 48 = 64-byte packet, 72 on the ring
  std::vector<std::byte> image(72);
  const PacketDescriptor d{6, 2, 8, 0, 0xABCDEF};
  std::memcpy(image.data(), &d, sizeof(d));
  std::memcpy(image.data() + 16, payload.data(), payload.size());

  for (std::uint32_t start = 0; start < 4096; start += 8) {
    GuardedRingMemory memory(4096);
    initialize_ring(memory, start);
    RingWriter writer(memory);
    RingReader reader(memory, 4096);
    const std::uint64_t trailer = std::uint64_t{start} << 32;
    std::memcpy(image.data() + 64, &trailer, 8);

    ASSERT_EQ(write_one(writer, inband(payload, 0xABCDEF)), WriteStatus::kOk) << start;

    const auto data = data_area(memory);
    for (std::uint32_t i = 0; i < image.size(); ++i) {
      ASSERT_EQ(data[(start + i) % 4096], image[i]) << "start " << start << " byte " << i;
    }
    EXPECT_EQ(control_of(memory).write_index, (start + 72) % 4096);
    const ReadResult result = reader.next();
    ASSERT_EQ(result.status, ReadStatus::kPacket) << start;
    EXPECT_EQ(to_vector(result.packet.bytes),
              std::vector<std::byte>(image.begin(), image.begin() + 64));
    EXPECT_EQ(reader.read_cursor(), (start + 72) % 4096);
    EXPECT_EQ(reader.next().status, ReadStatus::kEmpty);
  }
}

TEST(RingReader, PacketViewIsAPrivateCopyTheWriterCannotChange) {
  FlatRingMemory memory(4096);
  initialize_ring(memory);
  RingWriter writer(memory);
  RingReader reader(memory, 4096);
  const auto payload = pattern(16, 1);
  ASSERT_EQ(write_one(writer, inband(payload, 5)), WriteStatus::kOk);

  const ReadResult result = reader.next();
  ASSERT_EQ(result.status, ReadStatus::kPacket);
  // A hostile writer rewrites the packet (header and payload) after the copy.
  for (std::uint32_t i = 0; i < 40; ++i) {
    data_area(memory)[i] = std::byte{0xFF};
  }

  EXPECT_EQ(result.packet.descriptor.len8, 4);
  EXPECT_EQ(result.packet.descriptor.trans_id, 5u);
  EXPECT_EQ(to_vector(result.packet.payload()), payload);
}

// --- corruption --------------------------------------------------------------

struct CorruptCase {
  const char* name;
  CorruptReason reason;
  // Applied to a ring holding one valid 32-byte inband packet at offset 0.
  void (*corrupt)(RingControlPage& control, std::span<std::byte> data);
};

void set_u16(std::span<std::byte> data, std::size_t offset, std::uint16_t value) {
  std::memcpy(data.data() + offset, &value, sizeof(value));
}

const CorruptCase kCorruptCases[] = {
    {"write_index_at_data_size", CorruptReason::kWriteIndexOutOfRange,
     [](RingControlPage& c, std::span<std::byte>) { c.write_index = 4096; }},
    {"write_index_huge", CorruptReason::kWriteIndexOutOfRange,
     [](RingControlPage& c, std::span<std::byte>) { c.write_index = 0xFFFFFFF0; }},
    {"write_index_misaligned", CorruptReason::kWriteIndexMisaligned,
     [](RingControlPage& c, std::span<std::byte>) { c.write_index = 44; }},
    {"truncated_packet", CorruptReason::kTruncatedPacket,
     [](RingControlPage& c, std::span<std::byte>) { c.write_index = 16; }},
    {"offset8_zero", CorruptReason::kOffsetBelowDescriptor,
     [](RingControlPage&, std::span<std::byte> d) { set_u16(d, 2, 0); }},
    {"offset8_one", CorruptReason::kOffsetBelowDescriptor,
     [](RingControlPage&, std::span<std::byte> d) { set_u16(d, 2, 1); }},
    {"offset8_beyond_len8", CorruptReason::kOffsetBeyondLength,
     [](RingControlPage&, std::span<std::byte> d) { set_u16(d, 2, 5); }},
    {"len8_below_offset8", CorruptReason::kOffsetBeyondLength,
     [](RingControlPage&, std::span<std::byte> d) { set_u16(d, 4, 1); }},
    {"len8_beyond_available", CorruptReason::kPacketBeyondAvailable,
     [](RingControlPage&, std::span<std::byte> d) { set_u16(d, 4, 5); }},
    {"len8_max", CorruptReason::kPacketBeyondAvailable,
     [](RingControlPage&, std::span<std::byte> d) { set_u16(d, 4, 0xFFFF); }},
    {"type_invalid", CorruptReason::kUnknownPacketType,
     [](RingControlPage&, std::span<std::byte> d) { set_u16(d, 0, 0); }},
    {"type_above_additional_data", CorruptReason::kUnknownPacketType,
     [](RingControlPage&, std::span<std::byte> d) { set_u16(d, 0, 0xE); }},
    {"type_max", CorruptReason::kUnknownPacketType,
     [](RingControlPage&, std::span<std::byte> d) { set_u16(d, 0, 0xFFFF); }},
};

class RingReaderCorrupt : public ::testing::TestWithParam<CorruptCase> {};

TEST_P(RingReaderCorrupt, ReportsReasonAndLeavesReaderUnchanged) {
  const CorruptCase& c = GetParam();
  GuardedRingMemory memory(4096);
  initialize_ring(memory);
  RingWriter writer(memory);
  RingReader reader(memory, 4096);
  const auto payload = pattern(16, 3);
  ASSERT_EQ(write_one(writer, inband(payload)), WriteStatus::kOk);
  const RingControlPage saved_control = control_of(memory);
  const std::vector<std::byte> saved_data = to_vector(data_area(memory).first(64));
  c.corrupt(control_of(memory), data_area(memory));

  for (int attempt = 0; attempt < 2; ++attempt) {
    const ReadResult result = reader.next();
    ASSERT_EQ(result.status, ReadStatus::kCorrupt) << c.name;
    EXPECT_EQ(result.reason, c.reason) << c.name << ": got " << corrupt_reason_name(result.reason);
    EXPECT_EQ(result.offset, 0u);
    EXPECT_EQ(reader.read_cursor(), 0u);
    EXPECT_EQ(reader.counters().packets, 0u);
  }
  EXPECT_EQ(reader.counters().corrupt[static_cast<std::size_t>(c.reason)], 2u);
  EXPECT_EQ(reader.publish(), 0u);
  EXPECT_EQ(control_of(memory).read_index, 0u);

  // Undo the damage: the same reader now reads the packet normally.
  control_of(memory) = saved_control;
  std::memcpy(data_area(memory).data(), saved_data.data(), saved_data.size());
  const ReadResult repaired = reader.next();
  ASSERT_EQ(repaired.status, ReadStatus::kPacket) << c.name;
  EXPECT_EQ(to_vector(repaired.packet.payload()), payload);
}

INSTANTIATE_TEST_SUITE_P(Cases, RingReaderCorrupt, ::testing::ValuesIn(kCorruptCases),
                         [](const auto& test_info) { return std::string(test_info.param.name); });

TEST(RingReader, RefusesPacketAboveItsMaximumSize) {
  GuardedRingMemory memory(4096);
  initialize_ring(memory);
  RingWriter writer(memory);
  RingReader reader(memory, /*max_packet_bytes=*/64);
  const auto fits = pattern(48, 1);     // 64-byte packet
  const auto too_big = pattern(49, 2);  // 72-byte packet
  ASSERT_EQ(write_one(writer, inband(fits)), WriteStatus::kOk);
  ASSERT_EQ(write_one(writer, inband(too_big)), WriteStatus::kOk);

  ASSERT_EQ(reader.next().status, ReadStatus::kPacket);
  const ReadResult result = reader.next();

  EXPECT_EQ(result.status, ReadStatus::kCorrupt);
  EXPECT_EQ(result.reason, CorruptReason::kPacketAboveMaximum);
  EXPECT_EQ(result.offset, 72u);
  EXPECT_EQ(reader.read_cursor(), 72u);
}

TEST(RingReader, ReportsCorruptReadIndexFoundAtAttach) {
  for (const auto& [index, reason] : {std::pair{4096u, CorruptReason::kReadIndexOutOfRange},
                                      std::pair{4u, CorruptReason::kReadIndexMisaligned}}) {
    GuardedRingMemory memory(4096);
    initialize_ring(memory);
    control_of(memory).read_index = index;
    RingReader reader(memory, 4096);

    const ReadResult result = reader.next();

    EXPECT_EQ(result.status, ReadStatus::kCorrupt);
    EXPECT_EQ(result.reason, reason);
    EXPECT_EQ(reader.publish(), 0u);
    EXPECT_EQ(control_of(memory).read_index, index) << "never publishes a bad cursor";
  }
}

TEST(RingReader, CorruptDescriptorThatWrapsReadsOnlyInsideTheRing) {
  // A descriptor claiming the largest packet, placed so it straddles the end.
  GuardedRingMemory memory(4096);
  initialize_ring(memory, 4088);
  RingReader reader(memory, 4096);
  const PacketDescriptor d{6, 2, 0xFFFF, 0, 0};
  std::memcpy(data_area(memory).data() + 4088, &d, 8);
  std::memcpy(data_area(memory).data(), reinterpret_cast<const std::byte*>(&d) + 8, 8);
  control_of(memory).write_index = 4080;  // everything but 8 bytes is "published"

  const ReadResult result = reader.next();

  EXPECT_EQ(result.status, ReadStatus::kCorrupt);
  EXPECT_EQ(result.reason, CorruptReason::kPacketBeyondAvailable);
  EXPECT_EQ(result.offset, 4088u);
}

TEST(RingReader, CorruptReasonNamesAreStable) {
  EXPECT_STREQ(corrupt_reason_name(CorruptReason::kWriteIndexOutOfRange),
               "write_index_out_of_range");
  EXPECT_STREQ(corrupt_reason_name(CorruptReason::kOffsetBeyondLength), "offset8_beyond_len8");
  EXPECT_STREQ(corrupt_reason_name(CorruptReason::kUnknownPacketType), "unknown_packet_type");
  EXPECT_STREQ(packet_type_name(0xb), "VM_PKT_COMP");
  EXPECT_EQ(packet_type_name(0xe), nullptr);
}

}  // namespace
}  // namespace vmbus::ring
