// A randomized run against a reference queue: the ring must give back every
// packet intact and in order, refuse a write exactly when the reference says
// it cannot fit, and keep its indices equal to the reference's.
#include <algorithm>
#include <cstdint>
#include <deque>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "vmbus/ring/ring.h"

#include "ring_test_util.h"

namespace vmbus::ring {
namespace {

using testing::control_of;

struct ReferencePacket {
  std::uint16_t type;
  std::uint16_t flags;
  std::uint64_t trans_id;
  std::vector<std::byte> payload;
  std::uint32_t ring_bytes;
};

struct RandomRunStats {
  std::uint64_t writes = 0;
  std::uint64_t refused = 0;
  std::uint64_t reads = 0;
  std::uint64_t wraps = 0;
};

RandomRunStats run_random(std::uint32_t data_size, std::uint64_t seed, std::uint64_t operations) {
  FlatRingMemory memory(data_size);
  std::mt19937_64 rng(seed);
  const auto start = static_cast<std::uint32_t>(rng() % (data_size / 8)) * 8;
  initialize_ring(memory, start);
  RingWriter writer(memory);
  RingReader reader(memory, data_size);
  std::deque<ReferencePacket> in_flight;  // written, not yet read
  std::uint32_t used_bytes = 0;           // reference ring occupancy (published + reserved)
  std::uint32_t unpublished_write_bytes = 0;
  RandomRunStats stats;

  auto max_payload = [&] { return std::min<std::uint32_t>(data_size / 3, 2000); };

  // Phases of write-heavy, balanced and read-heavy traffic, so the ring both
  // fills up and drains empty.
  std::uint64_t write_percent = 50;
  for (std::uint64_t op = 0; op < operations; ++op) {
    if (op % 1000 == 0) {
      const std::uint64_t phase_percents[] = {25, 50, 80};
      write_percent = phase_percents[rng() % 3];
    }
    if (rng() % 100 < write_percent) {
      // Write one packet, publishing now or leaving it for a later batch.
      ReferencePacket p;
      p.type = static_cast<std::uint16_t>(1 + rng() % kMaxPacketTypeValue);
      p.flags = static_cast<std::uint16_t>(rng() & 1);
      p.trans_id = rng();
      p.payload.resize(rng() % (max_payload() + 1));
      for (auto& b : p.payload) {
        b = static_cast<std::byte>(rng());
      }
      OutgoingPacket out;
      out.type = p.type;
      out.flags = p.flags;
      out.trans_id = p.trans_id;
      out.payload = p.payload;
      const std::uint32_t packet_bytes = packet_bytes_for(out);
      p.ring_bytes = packet_bytes + kPacketTrailerBytes;
      const bool fits = data_size - used_bytes > p.ring_bytes;
      const ReserveResult r = writer.reserve(packet_bytes);
      if (!fits) {
        EXPECT_NE(r.status, WriteStatus::kOk) << "op " << op;
        ++stats.refused;
        continue;
      }
      EXPECT_EQ(r.status, WriteStatus::kOk) << "op " << op << " used " << used_bytes;
      if (r.status != WriteStatus::kOk) {
        return stats;
      }
      if (r.reservation.start_index + p.ring_bytes > data_size) {
        ++stats.wraps;
      }
      writer.copy(r.reservation, out);
      used_bytes += p.ring_bytes;
      unpublished_write_bytes += p.ring_bytes;
      in_flight.push_back(std::move(p));
      ++stats.writes;
      if (rng() % 3 != 0) {
        EXPECT_EQ(writer.publish(), unpublished_write_bytes);
        unpublished_write_bytes = 0;
        writer.decide_signal();
      }
    } else {
      // Read a random number of packets, then publish.
      const auto count = 1 + rng() % 4;
      std::uint32_t freed = 0;
      for (std::uint64_t i = 0; i < count; ++i) {
        const ReadResult result = reader.next();
        if (result.status == ReadStatus::kEmpty) {
          // Empty means every published packet has been read; only
          // reserved-but-unpublished ones may remain.
          EXPECT_EQ(used_bytes - unpublished_write_bytes - freed, 0u) << "op " << op;
          break;
        }
        EXPECT_EQ(result.status, ReadStatus::kPacket) << "op " << op;
        if (result.status != ReadStatus::kPacket || in_flight.empty()) {
          ADD_FAILURE() << "unexpected read result at op " << op;
          return stats;
        }
        const ReferencePacket& expected = in_flight.front();
        EXPECT_EQ(result.packet.descriptor.type, expected.type);
        EXPECT_EQ(result.packet.descriptor.flags, expected.flags);
        EXPECT_EQ(result.packet.descriptor.trans_id, expected.trans_id);
        const auto payload = result.packet.payload();
        EXPECT_EQ(payload.size(), (expected.payload.size() + 7) / 8 * 8);
        EXPECT_TRUE(std::equal(expected.payload.begin(), expected.payload.end(), payload.begin()))
            << "payload mismatch at op " << op;
        for (std::size_t k = expected.payload.size(); k < payload.size(); ++k) {
          EXPECT_EQ(payload[k], std::byte{0});
        }
        freed += expected.ring_bytes;
        in_flight.pop_front();
        ++stats.reads;
      }
      EXPECT_EQ(reader.publish(), freed);
      reader.decide_signal();
      used_bytes -= freed;
      EXPECT_EQ(control_of(memory).read_index, reader.read_cursor());
    }
    if (::testing::Test::HasFailure()) {
      return stats;
    }
  }
  return stats;
}

TEST(RingRandomized, MatchesReferenceQueueOverMixedWritesAndReads) {
  const std::uint32_t sizes[] = {4096, 8192, 65536};
  std::uint64_t total_writes = 0;
  std::uint64_t total_reads = 0;
  for (std::uint32_t size : sizes) {
    for (std::uint64_t seed = 1; seed <= 4; ++seed) {
      const RandomRunStats stats = run_random(size, seed * 7919 + size, 40'000);
      ASSERT_FALSE(HasFailure()) << "data size " << size << " seed " << seed;
      EXPECT_GT(stats.refused, 0u) << "the ring never filled: the test is too gentle";
      EXPECT_GT(stats.wraps, 0u) << "no packet wrapped";
      total_writes += stats.writes;
      total_reads += stats.reads;
    }
  }
  EXPECT_GE(total_writes + total_reads, 100'000u);
}

}  // namespace
}  // namespace vmbus::ring
