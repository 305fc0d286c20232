// The two signal decisions at their boundaries: writer -> reader
// (signal on empty, honouring interrupt_mask) and reader -> writer
// (pending_send_sz crossed upwards), plus the blocked-writer handshake.
#include <cstdint>
#include <vector>

#include <gtest/gtest.h>

#include "vmbus/ring/ring.h"

#include "ring_test_util.h"

namespace vmbus::ring {
namespace {

using testing::control_of;
using testing::inband;
using testing::pattern;
using testing::write_one;

// --- writer -> reader --------------------------------------------------------

struct WriterSignalCase {
  const char* name;
  bool mask_set;
  bool ring_empty_before;
  bool expect_signal;
};

class WriterSignal : public ::testing::TestWithParam<WriterSignalCase> {};

TEST_P(WriterSignal, SignalsOnlyOnEmptyToNonEmptyWithMaskClear) {
  const WriterSignalCase& c = GetParam();
  FlatRingMemory memory(4096);
  initialize_ring(memory);
  RingWriter writer(memory);
  RingReader reader(memory, 4096);
  const auto payload = pattern(8, 1);
  if (!c.ring_empty_before) {
    ASSERT_EQ(write_one(writer, inband(payload)), WriteStatus::kOk);
  }
  if (c.mask_set) {
    reader.begin_read();
  }
  const WriterCounters before = writer.counters();

  bool signal = !c.expect_signal;
  ASSERT_EQ(write_one(writer, inband(payload), &signal), WriteStatus::kOk);

  EXPECT_EQ(signal, c.expect_signal);
  EXPECT_EQ(writer.counters().signals - before.signals, c.expect_signal ? 1u : 0u);
  EXPECT_EQ(writer.counters().signals_masked - before.signals_masked, c.mask_set ? 1u : 0u);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, WriterSignal,
    ::testing::Values(WriterSignalCase{"mask_clear_empty", false, true, true},
                      WriterSignalCase{"mask_clear_not_empty", false, false, false},
                      WriterSignalCase{"mask_set_empty", true, true, false},
                      WriterSignalCase{"mask_set_not_empty", true, false, false}),
    [](const auto& test_info) { return std::string(test_info.param.name); });

TEST(WriterSignal, NoSignalWhileReaderHasConsumedButNotPublished) {
  FlatRingMemory memory(4096);
  initialize_ring(memory);
  RingWriter writer(memory);
  RingReader reader(memory, 4096);
  const auto payload = pattern(8, 1);
  ASSERT_EQ(write_one(writer, inband(payload)), WriteStatus::kOk);
  ASSERT_EQ(reader.next().status, ReadStatus::kPacket);  // private cursor only

  bool signal = true;
  ASSERT_EQ(write_one(writer, inband(payload), &signal), WriteStatus::kOk);
  EXPECT_FALSE(signal);
  // The reader's end-of-read re-check is what finds the packet instead.
  EXPECT_EQ(reader.publish(), 32u);
  EXPECT_TRUE(reader.end_read());
  EXPECT_EQ(reader.counters().end_read_races, 1u);
}

TEST(WriterSignal, SignalsAgainOnceReaderHasDrainedAndPublished) {
  FlatRingMemory memory(4096);
  initialize_ring(memory);
  RingWriter writer(memory);
  RingReader reader(memory, 4096);
  const auto payload = pattern(8, 1);
  bool signal = false;
  ASSERT_EQ(write_one(writer, inband(payload), &signal), WriteStatus::kOk);
  ASSERT_TRUE(signal);
  reader.begin_read();
  ASSERT_EQ(reader.next().status, ReadStatus::kPacket);
  ASSERT_EQ(reader.next().status, ReadStatus::kEmpty);
  reader.publish();
  EXPECT_FALSE(reader.end_read());

  ASSERT_EQ(write_one(writer, inband(payload), &signal), WriteStatus::kOk);
  EXPECT_TRUE(signal);
  EXPECT_EQ(writer.counters().signals, 2u);
}

TEST(WriterSignal, DecisionIsTakenOncePerPublish) {
  FlatRingMemory memory(4096);
  initialize_ring(memory);
  RingWriter writer(memory);
  const auto payload = pattern(8, 1);
  const ReserveResult r = writer.reserve(packet_bytes_for(inband(payload)));
  writer.copy(r.reservation, inband(payload));
  EXPECT_FALSE(writer.decide_signal()) << "nothing published yet";
  writer.publish();
  EXPECT_TRUE(writer.decide_signal());
  EXPECT_FALSE(writer.decide_signal()) << "already decided";
  EXPECT_EQ(writer.publish(), 0u);
  EXPECT_FALSE(writer.decide_signal());
}

// --- reader -> writer --------------------------------------------------------

// A ring of 4096 data bytes filled with 63 packets of 64 ring bytes: 64 bytes
// free. The reader then consumes `packets_read` packets (64 bytes each) and
// publishes. With the Linux rule it signals iff
//   free_before <= pending  and  free_after > pending,
// i.e. 64 <= pending < 64 + 64 * packets_read.
struct ReaderSignalCase {
  std::uint32_t pending;
  std::uint32_t packets_read;
  bool feature;
  bool expect_signal;
};

class ReaderSignal : public ::testing::TestWithParam<ReaderSignalCase> {};

TEST_P(ReaderSignal, SignalsOnlyWhenFreeSpaceCrossesPendingSendSize) {
  const ReaderSignalCase& c = GetParam();
  FlatRingMemory memory(4096);
  initialize_ring(memory, 0, c.feature ? kFeaturePendingSendSize : 0);
  RingWriter writer(memory);
  RingReader reader(memory, 4096);
  const auto payload = pattern(40, 2);  // 56-byte packet, 64 on the ring
  for (int i = 0; i < 63; ++i) {
    ASSERT_EQ(write_one(writer, inband(payload)), WriteStatus::kOk);
  }
  control_of(memory).pending_send_sz = c.pending;
  for (std::uint32_t i = 0; i < c.packets_read; ++i) {
    ASSERT_EQ(reader.next().status, ReadStatus::kPacket);
  }

  EXPECT_EQ(reader.publish(), 64 * c.packets_read);
  EXPECT_EQ(reader.decide_signal(), c.expect_signal)
      << "pending " << c.pending << " read " << c.packets_read << " feature " << c.feature;
  EXPECT_EQ(reader.counters().signals, c.expect_signal ? 1u : 0u);
  EXPECT_FALSE(reader.decide_signal()) << "the batch was already judged";
}

INSTANTIATE_TEST_SUITE_P(
    Boundaries, ReaderSignal,
    ::testing::Values(ReaderSignalCase{0, 1, true, false},     // writer not blocked
                      ReaderSignalCase{63, 1, true, false},    // free before (64) > pending
                      ReaderSignalCase{64, 1, true, true},     // before == pending, after 128
                      ReaderSignalCase{127, 1, true, true},    // after (128) > pending
                      ReaderSignalCase{128, 1, true, false},   // after == pending: still blocked
                      ReaderSignalCase{129, 1, true, false},   // after < pending
                      ReaderSignalCase{129, 2, true, true},    // two packets: after 192
                      ReaderSignalCase{191, 2, true, true},    //
                      ReaderSignalCase{192, 2, true, false},   //
                      ReaderSignalCase{64, 1, false, false},   // no feature bit: writer polls
                      ReaderSignalCase{127, 1, false, false},  //
                      ReaderSignalCase{64, 0, true, false}));  // nothing read

TEST(ReaderSignal, JudgesTheWholeBatchSinceTheLastDecision) {
  FlatRingMemory memory(4096);
  initialize_ring(memory);
  RingWriter writer(memory);
  RingReader reader(memory, 4096);
  const auto payload = pattern(40, 2);
  for (int i = 0; i < 63; ++i) {
    ASSERT_EQ(write_one(writer, inband(payload)), WriteStatus::kOk);
  }
  control_of(memory).pending_send_sz = 150;
  // Two publishes, one decision: free goes 64 -> 128 -> 192, crossing 150.
  ASSERT_EQ(reader.next().status, ReadStatus::kPacket);
  reader.publish();
  ASSERT_EQ(reader.next().status, ReadStatus::kPacket);
  reader.publish();
  EXPECT_TRUE(reader.decide_signal());
}

// --- the blocked writer ------------------------------------------------------

TEST(BlockedWriter, SetsPendingSendSizeToPacketPlusTrailerAndIsSignalledOnce) {
  FlatRingMemory memory(4096);
  initialize_ring(memory);
  RingWriter writer(memory);
  RingReader reader(memory, 4096);
  const auto small = pattern(40, 2);  // 64 ring bytes
  for (int i = 0; i < 63; ++i) {
    ASSERT_EQ(write_one(writer, inband(small)), WriteStatus::kOk);
  }
  const auto big = pattern(150, 3);  // 168-byte packet: needs free > 176
  const std::uint32_t big_bytes = packet_bytes_for(inband(big));
  ASSERT_EQ(writer.reserve(big_bytes).status, WriteStatus::kNotEnoughSpace);

  ASSERT_EQ(writer.prepare_to_wait(big_bytes), WaitDecision::kWaitForSignal);
  EXPECT_EQ(control_of(memory).pending_send_sz, 176u);

  // Free: 64 -> 128 (no), -> 192 (crosses 176: yes), -> 256 (already above: no).
  std::vector<bool> signals;
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(reader.next().status, ReadStatus::kPacket);
    signals.push_back(reader.commit());
  }
  EXPECT_EQ(signals, (std::vector<bool>{false, true, false}));

  ASSERT_EQ(write_one(writer, inband(big)), WriteStatus::kOk);
  writer.clear_pending_send_size();
  EXPECT_EQ(control_of(memory).pending_send_sz, 0u);
  EXPECT_EQ(writer.counters().pending_send_sz_sets, 1u);
}

TEST(BlockedWriter, RetriesAtOnceWhenTheReaderFreedSpaceMeanwhile) {
  FlatRingMemory memory(4096);
  initialize_ring(memory);
  RingWriter writer(memory);
  RingReader reader(memory, 4096);
  const auto small = pattern(40, 2);
  for (int i = 0; i < 63; ++i) {
    ASSERT_EQ(write_one(writer, inband(small)), WriteStatus::kOk);
  }
  ASSERT_EQ(writer.reserve(168).status, WriteStatus::kNotEnoughSpace);
  // The reader drains between the failed reserve and the wait decision.
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(reader.next().status, ReadStatus::kPacket);
  }
  EXPECT_FALSE(reader.commit()) << "pending_send_sz was not set yet";

  EXPECT_EQ(writer.prepare_to_wait(168), WaitDecision::kRetryNow);
  EXPECT_EQ(control_of(memory).pending_send_sz, 0u);
  EXPECT_EQ(writer.reserve(168).status, WriteStatus::kOk);
}

TEST(BlockedWriter, MustPollWhenTheRingLacksTheFeature) {
  FlatRingMemory memory(4096);
  initialize_ring(memory, 0, /*feature_bits=*/0);
  RingWriter writer(memory);

  EXPECT_EQ(writer.prepare_to_wait(4000), WaitDecision::kMustPoll);
  EXPECT_EQ(control_of(memory).pending_send_sz, 0u);
  EXPECT_EQ(writer.counters().pending_send_sz_sets, 0u);
}

// --- interrupt_mask protocol ---------------------------------------------------

TEST(InterruptMask, EndReadReportsDataThatArrivedWhileMasked) {
  FlatRingMemory memory(4096);
  initialize_ring(memory);
  RingWriter writer(memory);
  RingReader reader(memory, 4096);
  const auto payload = pattern(8, 1);

  reader.begin_read();
  EXPECT_EQ(control_of(memory).interrupt_mask, 1u);
  EXPECT_EQ(reader.next().status, ReadStatus::kEmpty);
  bool signal = true;
  ASSERT_EQ(write_one(writer, inband(payload), &signal), WriteStatus::kOk);
  EXPECT_FALSE(signal) << "masked";

  EXPECT_TRUE(reader.end_read()) << "the re-check finds the packet";
  EXPECT_EQ(control_of(memory).interrupt_mask, 0u);
  ASSERT_EQ(reader.next().status, ReadStatus::kPacket);
  reader.publish();
  EXPECT_FALSE(reader.end_read());
}

// --- quirks: the historical rules, on purpose ------------------------------------

// The same ring as ReaderSignal (64 bytes free, packets of 64), one packet
// read, with one quirk set: the boundaries move where the old code had them.
bool decide_with(base::Quirk quirk, std::uint32_t pending, bool masked = false) {
  FlatRingMemory memory(4096);
  initialize_ring(memory);
  RingWriter writer(memory);
  RingReader reader(memory, 4096);
  base::QuirkSet quirks;
  quirks.add(quirk);
  reader.set_quirks(quirks);
  const auto payload = pattern(40, 2);
  for (int i = 0; i < 63; ++i) {
    EXPECT_EQ(write_one(writer, inband(payload)), WriteStatus::kOk);
  }
  control_of(memory).pending_send_sz = pending;
  if (masked) {
    reader.begin_read();
  }
  EXPECT_EQ(reader.next().status, ReadStatus::kPacket);
  reader.publish();
  return reader.decide_signal();
}

TEST(ReaderSignalQuirks, OldTestMissesAWriterBlockedAtFreeEqualsPendingAndWakesAtEquality) {
  // Free goes 64 -> 128.
  EXPECT_FALSE(decide_with(base::Quirk::kReaderSignalsOnOldTest, 64)) << "blocked at 64 == 64";
  EXPECT_TRUE(decide_with(base::Quirk::kReaderSignalsOnOldTest, 100));
  EXPECT_TRUE(decide_with(base::Quirk::kReaderSignalsOnOldTest, 128)) << "128 >= 128";
  EXPECT_FALSE(decide_with(base::Quirk::kReaderSignalsOnOldTest, 129));
}

TEST(ReaderSignalQuirks, EqualsCaseWakesAWriterThatStillCannotWrite) {
  EXPECT_TRUE(decide_with(base::Quirk::kReaderSignalsWhenFreeEqualsPending, 64));
  EXPECT_TRUE(decide_with(base::Quirk::kReaderSignalsWhenFreeEqualsPending, 128));
  EXPECT_FALSE(decide_with(base::Quirk::kReaderSignalsWhenFreeEqualsPending, 129));
}

TEST(ReaderSignalQuirks, SkipWhileMaskedSaysNothingToABlockedWriterDuringADrain) {
  EXPECT_FALSE(decide_with(base::Quirk::kReaderSkipsSignalWhileMasked, 100, true));
  EXPECT_TRUE(decide_with(base::Quirk::kReaderSkipsSignalWhileMasked, 100, false));
}

TEST(ReaderSignalQuirks, SkipRecheckLeavesAPacketWrittenWhileMaskedUnread) {
  FlatRingMemory memory(4096);
  initialize_ring(memory);
  RingWriter writer(memory);
  RingReader reader(memory, 4096);
  base::QuirkSet quirks;
  quirks.add(base::Quirk::kReaderSkipsRecheckAfterUnmask);
  reader.set_quirks(quirks);
  reader.begin_read();
  EXPECT_EQ(reader.next().status, ReadStatus::kEmpty);
  bool signal = true;
  ASSERT_EQ(write_one(writer, inband(pattern(8, 1)), &signal), WriteStatus::kOk);
  EXPECT_FALSE(signal) << "masked";
  EXPECT_FALSE(reader.end_read()) << "no re-check";
  EXPECT_EQ(control_of(memory).interrupt_mask, 0u);
}

}  // namespace
}  // namespace vmbus::ring
