// RingWriter: exact bytes on the ring, space accounting, phases.
#include <cstdint>
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

std::vector<std::byte> ring_bytes(RingMemory& memory, std::uint32_t offset, std::uint32_t count) {
  const auto data = data_area(memory);
  std::vector<std::byte> out;
  for (std::uint32_t i = 0; i < count; ++i) {
    out.push_back(data[(offset + i) % data.size()]);
  }
  return out;
}

TEST(RingWriter, WritesDescriptorPayloadPaddingAndTrailerExactly) {
  FlatRingMemory memory(4096);
  initialize_ring(memory);
  RingWriter writer(memory);
  const auto payload = bytes_of(std::string("hello"));

  ASSERT_EQ(write_one(writer, inband(payload, 0x1122334455667788, kPacketFlagCompletionRequested)),
            WriteStatus::kOk);

  // type 6, offset8 2, len8 3 (16 + 5 -> 24 bytes), flags 1, trans_id LE,
  // "hello" + three zero pad bytes, trailer (0 << 32).
  const auto expected = bytes_of({0x06, 0x00, 0x02, 0x00, 0x03, 0x00, 0x01, 0x00,  //
                                  0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11,  //
                                  'h',  'e',  'l',  'l',  'o',  0x00, 0x00, 0x00,  //
                                  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00});
  EXPECT_EQ(ring_bytes(memory, 0, 32), expected);
  EXPECT_EQ(control_of(memory).write_index, 32u);
  EXPECT_EQ(control_of(memory).read_index, 0u);

  // A second packet starts at 32; its trailer holds 32 << 32.
  const auto empty = std::vector<std::byte>{};
  ASSERT_EQ(write_one(writer, inband(empty, 7)), WriteStatus::kOk);
  const auto expected_second = bytes_of({0x06, 0x00, 0x02, 0x00, 0x02, 0x00, 0x00, 0x00,  //
                                         0x07, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  //
                                         0x00, 0x00, 0x00, 0x00, 0x20, 0x00, 0x00, 0x00});
  EXPECT_EQ(ring_bytes(memory, 32, 24), expected_second);
  EXPECT_EQ(control_of(memory).write_index, 56u);
}

TEST(RingWriter, WrapsPacketAcrossTheEndOfTheDataArea) {
  FlatRingMemory memory(4096);
  initialize_ring(memory, /*start_index=*/4080);
  RingWriter writer(memory);
  const auto payload = bytes_of({0xA0, 0xA1, 0xA2, 0xA3, 0xA4, 0xA5, 0xA6, 0xA7, 0xA8});

  ASSERT_EQ(write_one(writer, inband(payload, 0x42)), WriteStatus::kOk);

  // Descriptor at 4080..4095, payload (9 bytes + 7 pad) at 0..15, trailer
  // (4080 << 32 = 0x00000FF0'00000000) at 16..23.
  EXPECT_EQ(ring_bytes(memory, 4080, 16),
            bytes_of({0x06, 0x00, 0x02, 0x00, 0x04, 0x00, 0x00, 0x00,  //
                      0x42, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}));
  EXPECT_EQ(ring_bytes(memory, 0, 24), bytes_of({0xA0, 0xA1, 0xA2, 0xA3, 0xA4, 0xA5, 0xA6, 0xA7,  //
                                                 0xA8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  //
                                                 0x00, 0x00, 0x00, 0x00, 0xF0, 0x0F, 0x00, 0x00}));
  EXPECT_EQ(control_of(memory).write_index, 24u);
}

TEST(RingWriter, WritesHeaderExtensionAndZeroFillsUpToOffset8) {
  FlatRingMemory memory(4096);
  initialize_ring(memory);
  RingWriter writer(memory);
  const auto extension = bytes_of({0x11, 0x22, 0x33});
  const auto payload = bytes_of({0x99});
  OutgoingPacket packet = inband(payload, 1);
  packet.type = static_cast<std::uint16_t>(PacketType::kDataUsingGpaDirect);
  packet.offset8 = 4;  // 32-byte header: descriptor + 16 bytes of extension area
  packet.header_extension = extension;

  ASSERT_EQ(packet_bytes_for(packet), 40u);
  ASSERT_EQ(write_one(writer, packet), WriteStatus::kOk);

  EXPECT_EQ(ring_bytes(memory, 0, 48), bytes_of({0x09, 0x00, 0x04, 0x00, 0x05, 0x00, 0x00, 0x00,  //
                                                 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  //
                                                 0x11, 0x22, 0x33, 0x00, 0x00, 0x00, 0x00, 0x00,  //
                                                 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  //
                                                 0x99, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  //
                                                 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}));
}

TEST(RingWriter, OverwritesStaleBytesWithZeroPadding) {
  FlatRingMemory memory(4096);
  initialize_ring(memory);
  for (auto& b : data_area(memory)) {
    b = std::byte{0xEE};
  }
  RingWriter writer(memory);
  const auto payload = bytes_of({0x01});

  ASSERT_EQ(write_one(writer, inband(payload)), WriteStatus::kOk);

  EXPECT_EQ(ring_bytes(memory, 16, 8), bytes_of({0x01, 0, 0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(ring_bytes(memory, 32, 1), bytes_of({0xEE}));  // nothing past the trailer
}

TEST(PacketBytesFor, RejectsPacketsThatCannotBeExpressed) {
  const std::vector<std::byte> none;
  OutgoingPacket packet = inband(none);
  EXPECT_EQ(packet_bytes_for(packet), 16u);

  packet.offset8 = 1;
  EXPECT_EQ(packet_bytes_for(packet), 0u) << "offset8 below the descriptor";

  packet.offset8 = 2;
  const auto extension = bytes_of({1});
  packet.header_extension = extension;
  EXPECT_EQ(packet_bytes_for(packet), 0u) << "extension with no room before the payload";

  packet.header_extension = {};
  std::vector<std::byte> largest(0xFFFFu * 8 - 16);
  packet.payload = largest;
  EXPECT_EQ(packet_bytes_for(packet), 0xFFFFu * 8);
  std::vector<std::byte> too_large(0xFFFFu * 8 - 15);
  packet.payload = too_large;
  EXPECT_EQ(packet_bytes_for(packet), 0u) << "len8 above 65535";
}

// Fill the ring so that exactly `free_bytes` remain, with packets of 64 ring
// bytes and one smaller filler.
void fill_to_free(RingWriter& writer, std::uint32_t data_size, std::uint32_t free_bytes) {
  std::uint32_t used = data_size - free_bytes;
  while (used > 0) {
    const std::uint32_t chunk = used >= 64 + 24 ? 64 : used;  // ring bytes incl. trailer
    ASSERT_GE(chunk, 24u);
    const std::vector<std::byte> payload(chunk - 8 - 16);
    ASSERT_EQ(write_one(writer, inband(payload)), WriteStatus::kOk);
    used -= chunk;
  }
}

class RingWriterSpace : public ::testing::TestWithParam<std::uint32_t> {};

TEST_P(RingWriterSpace, RefusesPacketEqualToFreeSpaceAndAcceptsOneSlotLess) {
  const std::uint32_t free_bytes = GetParam();
  FlatRingMemory memory(4096);
  initialize_ring(memory, /*start_index=*/1000);
  RingWriter writer(memory);
  fill_to_free(writer, 4096, free_bytes);
  ASSERT_EQ(bytes_to_write(control_of(memory).write_index, control_of(memory).read_index, 4096),
            free_bytes);

  // packet + trailer == free space: refused, nothing changes.
  const std::uint32_t exact_packet = free_bytes - kPacketTrailerBytes;
  const ReserveResult refused = writer.reserve(exact_packet);
  EXPECT_EQ(refused.status, WriteStatus::kNotEnoughSpace);
  EXPECT_EQ(refused.free_bytes, free_bytes);
  EXPECT_EQ(writer.counters().full_events, 1u);

  // One 8-byte unit less: accepted, leaving exactly 8 bytes free.
  const std::vector<std::byte> payload(exact_packet - 8 - kPacketDescriptorBytes);
  bool signal = true;
  ASSERT_EQ(write_one(writer, inband(payload), &signal), WriteStatus::kOk);
  EXPECT_EQ(bytes_to_write(control_of(memory).write_index, control_of(memory).read_index, 4096),
            8u);
  // The ring is never exactly full: even the smallest packet is refused now.
  EXPECT_EQ(writer.reserve(16).status, WriteStatus::kNotEnoughSpace);
}

INSTANTIATE_TEST_SUITE_P(FreeSpace, RingWriterSpace, ::testing::Values(32u, 64u, 72u, 520u, 2048u));

TEST(RingWriter, ReportsPacketThatCanNeverFitAsTooLarge) {
  FlatRingMemory memory(4096);
  initialize_ring(memory);
  RingWriter writer(memory);

  EXPECT_EQ(writer.reserve(4088).status, WriteStatus::kTooLarge);  // 4088 + 8 == data size
  EXPECT_EQ(writer.reserve(4080).status, WriteStatus::kOk);        // 4080 + 8 < data size
}

TEST(RingWriter, BatchesSeveralReservationsIntoOnePublish) {
  FlatRingMemory memory(8192);
  initialize_ring(memory);
  RingWriter writer(memory);
  const auto a = pattern(10, 1);
  const auto b = pattern(30, 2);

  const ReserveResult ra = writer.reserve(packet_bytes_for(inband(a)));
  const ReserveResult rb = writer.reserve(packet_bytes_for(inband(b)));
  ASSERT_EQ(ra.status, WriteStatus::kOk);
  ASSERT_EQ(rb.status, WriteStatus::kOk);
  EXPECT_EQ(ra.reservation.start_index, 0u);
  EXPECT_EQ(rb.reservation.start_index, 40u);  // 32-byte packet + trailer
  writer.copy(ra.reservation, inband(a));
  writer.copy(rb.reservation, inband(b));
  EXPECT_EQ(control_of(memory).write_index, 0u) << "nothing visible before publish";

  EXPECT_EQ(writer.publish(), 40u + 56u);
  EXPECT_EQ(control_of(memory).write_index, 96u);
  EXPECT_TRUE(writer.decide_signal());
  EXPECT_EQ(writer.counters().packets, 2u);
  EXPECT_EQ(writer.counters().publishes, 1u);
  EXPECT_EQ(writer.counters().signals, 1u);
}

TEST(RingWriter, ReportsCorruptReadIndexAndStaysUnchanged) {
  struct Case {
    std::uint32_t read_index;
    CorruptReason reason;
  };
  for (const Case& c : {Case{4096, CorruptReason::kReadIndexOutOfRange},
                        Case{0xFFFFFFF8, CorruptReason::kReadIndexOutOfRange},
                        Case{12, CorruptReason::kReadIndexMisaligned}}) {
    GuardedRingMemory memory(4096);
    initialize_ring(memory);
    RingWriter writer(memory);
    control_of(memory).read_index = c.read_index;

    const ReserveResult result = writer.reserve(24);

    EXPECT_EQ(result.status, WriteStatus::kCorrupt);
    EXPECT_EQ(result.reason, c.reason) << corrupt_reason_name(c.reason);
    EXPECT_EQ(writer.write_cursor(), 0u);
    EXPECT_EQ(writer.counters().corrupt[static_cast<std::size_t>(c.reason)], 1u);
    EXPECT_EQ(writer.prepare_to_wait(24), WaitDecision::kCorrupt);
    EXPECT_EQ(control_of(memory).pending_send_sz, 0u);
  }
}

TEST(RingWriter, ReportsCorruptOwnWriteIndexFoundAtAttach) {
  GuardedRingMemory memory(4096);
  initialize_ring(memory);
  control_of(memory).write_index = 4100;
  RingWriter writer(memory);

  const ReserveResult result = writer.reserve(24);

  EXPECT_EQ(result.status, WriteStatus::kCorrupt);
  EXPECT_EQ(result.reason, CorruptReason::kWriteIndexOutOfRange);
}

}  // namespace
}  // namespace vmbus::ring
