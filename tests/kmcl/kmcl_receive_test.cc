// The receive path: delivery in DPC drain passes at
// DISPATCH_LEVEL, ProcessingComplete per pass, completion packets back to the
// sender, RequirePassive, the quota, external data, and oversize packets
// (DESIGN 4 row 16).
#include <algorithm>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "kmcl_test_bed.h"

namespace vmbus::kmcl::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

class ReceivePath : public ::testing::Test {
 protected:
  explicit ReceivePath(BedOptions options = {}) : bed(options) {}
  void SetUp() override {
    bed.open();
    bed.vsc.clear_log();
    bed.vsp.clear_log();
  }
  TestBed bed;
};

TEST_F(ReceivePath, DeliversEachPacketAtDispatchAndEndsThePassWithProcessingComplete) {
  for (std::uint64_t i = 0; i < 3; ++i) {
    bed.vsp.send(u64_bytes(i), 0);
  }
  bed.run_until_idle();
  EXPECT_THAT(bed.vsc.log(), ElementsAre("ProcessPacket #0 DISPATCH dpc/1 complete",
                                         "ProcessPacket #1 DISPATCH dpc/1 complete",
                                         "ProcessPacket #2 DISPATCH dpc/1 complete",
                                         "ProcessingComplete DISPATCH dpc/1 3"));
  EXPECT_EQ(bed.vsc.payload_of(2), u64_bytes(2));
  // Only the write that found the ring empty interrupted the guest.
  EXPECT_EQ(bed.host_signals(), 1u);
  EXPECT_EQ(bed.bytes_in(bed.host_to_guest()), 0u);
  EXPECT_EQ(ring::RingView(bed.host_to_guest()).control().interrupt_mask, 0u);
  const ChannelStats stats = bed.guest.channel_stats(bed.guest_channel());
  EXPECT_EQ(stats.packets_dequeued, 3u);
  EXPECT_EQ(stats.packets_completed, 3u);
  EXPECT_EQ(stats.completions_sent, 0u);  // none was requested
  EXPECT_EQ(stats.live_packets, 0u);
  EXPECT_EQ(bed.guest.queue_state(bed.guest_channel()), QueueState::kRunning);
}

class ShortPasses : public ReceivePath {
 protected:
  ShortPasses() : ReceivePath(options()) {}
  static BedOptions options() {
    BedOptions o;
    o.guest_config.max_packets_per_dpc_pass = 2;
    return o;
  }
};

TEST_F(ShortPasses, SplitALongBatchAndCallProcessingCompleteForEach) {
  for (std::uint64_t i = 0; i < 5; ++i) {
    bed.vsp.send(u64_bytes(i), 0);
  }
  bed.run_until_idle();
  EXPECT_THAT(
      bed.vsc.log(),
      ElementsAre(
          "ProcessPacket #0 DISPATCH dpc/1 complete", "ProcessPacket #1 DISPATCH dpc/1 complete",
          "ProcessingComplete DISPATCH dpc/1 2", "ProcessPacket #2 DISPATCH dpc/1 complete",
          "ProcessPacket #3 DISPATCH dpc/1 complete", "ProcessingComplete DISPATCH dpc/1 2",
          "ProcessPacket #4 DISPATCH dpc/1 complete", "ProcessingComplete DISPATCH dpc/1 1"));
}

// Free-running owners let one DPC step handle several packets.
class ManyPacketsPerStep : public ReceivePath {
 protected:
  ManyPacketsPerStep() : ReceivePath(options()) {}
  static BedOptions options() {
    BedOptions o;
    o.guest_config.packets_per_dpc_step = 4;
    return o;
  }
};

std::size_t guest_dpc_steps(const TestBed& bed) {
  return static_cast<std::size_t>(
      std::count(bed.schedule().begin(), bed.schedule().end(), "guest:dpc/1"));
}

TEST_F(ManyPacketsPerStep, AReadStepTakesSeveralPacketsAndDeliversThemInTheSameOrder) {
  for (std::uint64_t i = 0; i < 10; ++i) {
    bed.vsp.send(u64_bytes(i), 0);
  }
  const std::size_t steps_before = guest_dpc_steps(bed);
  bed.run_until_idle();
  // Four units per step: begin_read and reads of 4, 4, then 2 and the empty
  // ring; then finish and end_read.
  EXPECT_EQ(guest_dpc_steps(bed) - steps_before, 2u);
  ASSERT_EQ(bed.vsc.log().size(), 11u);
  for (std::size_t i = 0; i < 10; ++i) {
    EXPECT_EQ(bed.vsc.log()[i], "ProcessPacket #" + std::to_string(i) + " DISPATCH dpc/1 complete");
  }
  EXPECT_EQ(bed.vsc.log()[10], "ProcessingComplete DISPATCH dpc/1 10");
}

TEST_F(ReceivePath, ByDefaultEveryReadStepTakesOnePacket) {
  for (std::uint64_t i = 0; i < 10; ++i) {
    bed.vsp.send(u64_bytes(i), 0);
  }
  const std::size_t steps_before = guest_dpc_steps(bed);
  bed.run_until_idle();
  // begin_read; ten reads and the empty ring's; finish; end_read.
  EXPECT_EQ(guest_dpc_steps(bed) - steps_before, 14u);
  EXPECT_EQ(bed.vsc.log().back(), "ProcessingComplete DISPATCH dpc/1 10");
}

TEST_F(ReceivePath, CompletionIsAVmPktCompCarryingTheRequestsTransIdAndPayload) {
  Action answer;
  answer.completion = text_bytes("answer!!");
  bed.vsc.set_default_action(answer);
  bed.vsp.send(u64_bytes(1), kWait);
  const ring::PacketDescriptor request = next_descriptor(bed.host_to_guest());
  EXPECT_EQ(request.type, static_cast<std::uint16_t>(ring::PacketType::kDataInband));
  EXPECT_EQ(request.flags, ring::kPacketFlagCompletionRequested);
  // Run only the guest, so the completion is still in the ring to look at.
  while (!bed.guest.ready_contexts().empty()) {
    bed.guest.step(bed.guest.ready_contexts().front());
  }
  const ring::PacketDescriptor completion = next_descriptor(bed.guest_to_host());
  EXPECT_EQ(completion.type, static_cast<std::uint16_t>(ring::PacketType::kComp));
  EXPECT_EQ(completion.trans_id, request.trans_id);
  EXPECT_EQ(completion.flags, 0);
  bed.run_until_idle();
  EXPECT_THAT(bed.vsp.log(), ElementsAre("Completion send#0 DISPATCH dpc/1 STATUS_SUCCESS 8B"));
  ASSERT_EQ(bed.vsp.send_completions().size(), 1u);
  EXPECT_EQ(bed.vsp.send_completions()[0].payload, text_bytes("answer!!"));
}

TEST_F(ReceivePath, WithoutWaitForCompletionTheRoutineRunsOncePlacedInTheRing) {
  bed.vsp.send(u64_bytes(1), 0);
  // The packet is in the ring; the guest has not read it.
  EXPECT_THAT(bed.host.ready_contexts(), ElementsAre("dpc/1"));
  bed.host.step("dpc/1");
  EXPECT_THAT(bed.vsp.log(), ElementsAre("Completion send#0 DISPATCH dpc/1 STATUS_SUCCESS 0B"));
  EXPECT_THAT(bed.vsc.log(), IsEmpty());
  bed.run_until_idle();
  EXPECT_EQ(bed.host.channel_stats(bed.host_channel()).completions_received, 0u);
}

TEST_F(ReceivePath, IncomingProcessingAtPassiveMovesEveryDeliveryToTheWorker) {
  VmbChannelSetIncomingProcessingAtPassive(bed.guest_channel(), TRUE);
  for (std::uint64_t i = 0; i < 3; ++i) {
    bed.vsp.send(u64_bytes(i), kWait);
  }
  bed.run_until_idle();
  EXPECT_THAT(bed.vsc.log(), ElementsAre("ProcessPacket #0 PASSIVE passive complete",
                                         "ProcessPacket #1 PASSIVE passive complete",
                                         "ProcessPacket #2 PASSIVE passive complete",
                                         "ProcessingComplete PASSIVE passive 3"));
  EXPECT_EQ(bed.vsp.send_completions().size(), 3u);
  bed.vsc.clear_log();
  VmbChannelSetIncomingProcessingAtPassive(bed.guest_channel(), FALSE);
  bed.vsp.send(u64_bytes(3), kWait);
  bed.run_until_idle();
  EXPECT_THAT(bed.vsc.log(), ElementsAre("ProcessPacket #3 DISPATCH dpc/1 complete",
                                         "ProcessingComplete DISPATCH dpc/1 1"));
  EXPECT_THAT(codes(bed.guest), IsEmpty());
}

class SmallMaximum : public ReceivePath {
 protected:
  SmallMaximum() : ReceivePath(options()) {}
  static BedOptions options() {
    BedOptions o;
    o.configure_guest = [](VMBCHANNEL channel) {
      ASSERT_EQ(VmbChannelInitSetMaximumPacketSize(channel, 64), STATUS_SUCCESS);
    };
    return o;
  }
};

TEST_F(SmallMaximum, OversizePacketIsAProtocolErrorThatStopsTheQueueAsForFail) {
  RecordingSink sink;
  bed.guest.set_trace_sink(&sink);
  bed.vsp.send(u64_bytes(0), kWait);
  bed.vsp.send(std::vector<std::byte>(128), kWait);  // host maximum is 4096; guest's is 64
  bed.vsp.send(u64_bytes(2), kWait);
  bed.run_until_idle();
  EXPECT_THAT(bed.vsc.log(), ElementsAre("ProcessPacket #0 DISPATCH dpc/1 complete",
                                         "ProcessingComplete DISPATCH dpc/1 1"));
  const ChannelStats stats = bed.guest.channel_stats(bed.guest_channel());
  EXPECT_EQ(stats.protocol_errors, 1u);
  EXPECT_EQ(stats.stop_reason,
            "packet of 128 payload bytes exceeds the channel's maximum packet size 64 "
            "(trans_id 2)");
  EXPECT_EQ(bed.guest.queue_state(bed.guest_channel()), QueueState::kStoppedByProtocolError);
  ASSERT_NE(sink.first("protocol_error"), nullptr);
  EXPECT_EQ(sink.first("protocol_error")->detail, stats.stop_reason);
  EXPECT_EQ(sink.first("protocol_error")->context, "dpc/1");
  // Not delivered, not completed; the packet behind it is still in the ring.
  EXPECT_EQ(bed.vsp.send_completions().size(), 1u);
  EXPECT_EQ(bed.bytes_in(bed.host_to_guest()), 32u);
  // Restart as for Fail: Pause + Start.
  VmbChannelPause(bed.guest_channel());
  VmbChannelStart(bed.guest_channel());
  bed.run_until_idle();
  EXPECT_EQ(bed.vsc.payload_of(1), u64_bytes(2));
  EXPECT_EQ(bed.vsp.send_completions().size(), 2u);
  EXPECT_EQ(bed.guest.queue_state(bed.guest_channel()), QueueState::kRunning);
  EXPECT_THAT(codes(bed.guest), IsEmpty());  // the peer's error, not the driver's
  bed.guest.set_trace_sink(nullptr);
}

// --- Quota ------------------------------------------------------------------------------------

TEST_F(ReceivePath, QuotaBlocksDequeuingAndOnlyACompletionRestartsIt) {
  RecordingSink sink;
  bed.guest.set_trace_sink(&sink);
  VmbChannelSetTransactionQuota(bed.guest_channel(), 2);
  bed.vsc.set_default_action(action_of(PacketAction::kLeaveOutstanding));
  for (std::uint64_t i = 0; i < 4; ++i) {
    bed.vsp.send(u64_bytes(i), kWait);
  }
  bed.run_until_idle();
  EXPECT_THAT(bed.vsc.log(), ElementsAre("ProcessPacket #0 DISPATCH dpc/1 outstanding",
                                         "ProcessPacket #1 DISPATCH dpc/1 outstanding",
                                         "ProcessingComplete DISPATCH dpc/1 2"));
  EXPECT_EQ(bed.guest.queue_state(bed.guest_channel()), QueueState::kQuotaBlocked);
  EXPECT_EQ(bed.bytes_in(bed.host_to_guest()), 64u);  // two packets wait in the ring
  EXPECT_EQ(sink.count("quota_hit"), 1u);
  // Raising the quota does not restart a blocked queue.
  VmbChannelSetTransactionQuota(bed.guest_channel(), 10);
  bed.run_until_idle();
  EXPECT_EQ(bed.vsc.log().size(), 3u);
  EXPECT_EQ(bed.guest.queue_state(bed.guest_channel()), QueueState::kQuotaBlocked);
  bed.vsc.complete_outstanding({}, 1);
  bed.run_until_idle();
  EXPECT_THAT(bed.vsc.log(), ElementsAre("ProcessPacket #0 DISPATCH dpc/1 outstanding",
                                         "ProcessPacket #1 DISPATCH dpc/1 outstanding",
                                         "ProcessingComplete DISPATCH dpc/1 2",
                                         "ProcessPacket #2 DISPATCH dpc/1 outstanding",
                                         "ProcessPacket #3 DISPATCH dpc/1 outstanding",
                                         "ProcessingComplete DISPATCH dpc/1 2"));
  EXPECT_EQ(bed.guest.queue_state(bed.guest_channel()), QueueState::kRunning);
  EXPECT_EQ(sink.count("quota_restart"), 1u);
  bed.guest.set_trace_sink(nullptr);
}

TEST_F(ReceivePath, QuotaLoweredBelowTheOutstandingCountHoldsUntilEnoughComplete) {
  bed.vsc.set_default_action(action_of(PacketAction::kLeaveOutstanding));
  for (std::uint64_t i = 0; i < 3; ++i) {
    bed.vsp.send(u64_bytes(i), kWait);
  }
  bed.run_until_idle();
  VmbChannelSetTransactionQuota(bed.guest_channel(), 1);
  bed.vsp.send(u64_bytes(3), kWait);
  bed.run_until_idle();
  EXPECT_EQ(bed.vsc.packets_seen(), 3u);
  EXPECT_EQ(bed.guest.queue_state(bed.guest_channel()), QueueState::kQuotaBlocked);
  bed.vsc.complete_outstanding({}, 1);  // 2 outstanding, quota 1: blocks again
  bed.run_until_idle();
  EXPECT_EQ(bed.vsc.packets_seen(), 3u);
  bed.vsc.complete_outstanding({}, 2);
  bed.run_until_idle();
  EXPECT_EQ(bed.vsc.packets_seen(), 4u);
  EXPECT_EQ(bed.guest.channel_stats(bed.guest_channel()).live_packets, 1u);
}

TEST_F(ReceivePath, QuotaWithAsynchronousCompletionsNeverHasMoreThanTheQuotaOutstanding) {
  VmbChannelSetTransactionQuota(bed.guest_channel(), 3);
  Action later = action_of(PacketAction::kCompleteLater);
  later.later_steps = 3;
  bed.vsc.set_default_action(later);
  constexpr std::uint64_t kPackets = 40;
  for (std::uint64_t i = 0; i < kPackets; ++i) {
    bed.vsp.send(u64_bytes(i), kWait);
  }
  std::uint64_t most_outstanding = 0;
  while (bed.step()) {
    most_outstanding =
        std::max(most_outstanding, bed.guest.channel_stats(bed.guest_channel()).live_packets);
  }
  EXPECT_EQ(most_outstanding, 3u);
  EXPECT_EQ(bed.vsc.processed_order(), iota(kPackets));
  ASSERT_EQ(bed.vsp.send_completions().size(), kPackets);
  for (const auto& completion : bed.vsp.send_completions()) {
    EXPECT_EQ(completion.status, STATUS_SUCCESS);
  }
  for (const auto& [index, count] : bed.vsc.retirements()) {
    EXPECT_EQ(count, 1u) << "packet " << index;
  }
  EXPECT_THAT(codes(bed.guest), IsEmpty());
}

// --- External data ------------------------------------------------------------------------

struct TwoRanges {
  TwoRanges() {
    first.ByteCount = 8192;
    first.ByteOffset = 100;  // 100 .. 8292 spans three pages
    first.PfnArray = {0x10, 0x11, 0x12};
    second.ByteCount = 16;
    second.ByteOffset = 0;
    second.PfnArray = {0x20};
    first.Next = &second;
  }
  MDL first;
  MDL second;
};

TEST_F(ReceivePath, GpaDirectPacketHandsItsRangesToGetExternalData) {
  bed.vsc.set_default_action(action_of(PacketAction::kGetExternalData));
  TwoRanges ranges;
  ASSERT_EQ(bed.vsp.send(u64_bytes(1), kWait, &ranges.first), 0);
  EXPECT_EQ(next_descriptor(bed.host_to_guest()).type,
            static_cast<std::uint16_t>(ring::PacketType::kDataUsingGpaDirect));
  bed.run_until_idle();
  EXPECT_THAT(bed.vsc.log(), ElementsAre("ProcessPacket #0 DISPATCH dpc/1 external-data",
                                         "ProcessingComplete DISPATCH dpc/1 1"));
  EXPECT_THAT(bed.vsc.external_data_seen(), ElementsAre("ranges=2 bytes=8208 pfns=4"));
  EXPECT_EQ(bed.vsc.payload_of(0), u64_bytes(1));
  EXPECT_EQ(bed.vsp.send_completions().size(), 1u);
}

TEST_F(ReceivePath, InbandPacketHasNoExternalData) {
  bed.vsc.set_default_action(action_of(PacketAction::kGetExternalData));
  bed.vsp.send(u64_bytes(1), kWait);
  bed.run_until_idle();
  EXPECT_THAT(bed.vsc.log(),
              ElementsAre("ProcessPacket #0 DISPATCH dpc/1 external-data-error STATUS_NOT_FOUND",
                          "ProcessingComplete DISPATCH dpc/1 1"));
}

class SlowExternalData : public ReceivePath {
 protected:
  SlowExternalData() : ReceivePath(options()) {}
  static BedOptions options() {
    BedOptions o;
    o.guest_config.external_data_latency_steps = 2;
    return o;
  }
};

TEST_F(SlowExternalData, PendingRedeliversTheSamePacketAtPassiveOnceMappedInFifoOrder) {
  PacketMatch first;
  first.index = 0;
  bed.vsc.add_rule(first, action_of(PacketAction::kGetExternalData));
  TwoRanges ranges;
  bed.vsp.send(u64_bytes(0), kWait, &ranges.first);
  bed.vsp.send(u64_bytes(1), kWait);
  bed.run_until_idle();
  EXPECT_THAT(bed.vsc.log(), ElementsAre("ProcessPacket #0 DISPATCH dpc/1 external-data-pending",
                                         "ProcessPacket #0 PASSIVE passive external-data",
                                         "ProcessPacket #1 PASSIVE passive complete",
                                         "ProcessingComplete PASSIVE passive 2"));
  EXPECT_EQ(bed.vsc.records()[0].handle, bed.vsc.records()[1].handle);
  EXPECT_EQ(bed.vsc.redelivery_mismatches(), 0u);
  EXPECT_THAT(bed.vsc.external_data_seen(), ElementsAre("ranges=2 bytes=8208 pfns=4"));
  EXPECT_EQ(bed.vsc.processed_order(), iota(2));
  // With the backlog delivered, delivery is back at DISPATCH_LEVEL.
  bed.vsc.clear_log();
  bed.vsp.send(u64_bytes(2), kWait);
  bed.run_until_idle();
  EXPECT_THAT(bed.vsc.log(), ElementsAre("ProcessPacket #2 DISPATCH dpc/1 complete",
                                         "ProcessingComplete DISPATCH dpc/1 1"));
  EXPECT_EQ(bed.vsp.send_completions().size(), 3u);
  EXPECT_THAT(codes(bed.guest), IsEmpty());
}

}  // namespace
}  // namespace vmbus::kmcl::testing
