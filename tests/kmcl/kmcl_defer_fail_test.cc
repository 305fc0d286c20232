// DeferToPassive and Fail: docs/KMCL-SEMANTICS.md section 3 rows 1-10, 12
// and 15, each with the exact callback sequence and the final queue and channel state.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "kmcl_test_bed.h"

namespace vmbus::kmcl::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

PacketMatch packet(std::uint64_t index, std::optional<std::uint32_t> delivery = std::nullopt) {
  PacketMatch match;
  match.index = index;
  match.delivery = delivery;
  return match;
}

class DeferAndFail : public ::testing::Test {
 protected:
  explicit DeferAndFail(BedOptions options = {}) : bed(options) {}
  void SetUp() override {
    bed.open();
    bed.vsc.clear_log();
    bed.vsp.clear_log();
  }
  void send(std::uint64_t count, UINT32 flags = kWait) {
    for (std::uint64_t i = 0; i < count; ++i) {
      ASSERT_GE(bed.vsp.send(u64_bytes(next_++), flags), 0);
    }
  }
  std::vector<NTSTATUS> host_completion_statuses() const {
    std::vector<NTSTATUS> statuses;
    for (const auto& completion : bed.vsp.send_completions()) {
      statuses.push_back(completion.status);
    }
    return statuses;
  }
  TestBed bed;
  std::uint64_t next_ = 0;
};

// --- Defer ------------------------------------------------------------------------------

// Rows 7 and 12: strict FIFO behind a deferred packet; ProcessingComplete once
// per drain pass at that pass's IRQL.
TEST_F(DeferAndFail, DeferKeepsStrictFifoAndReturnsToDispatchAfterTheBacklog) {
  bed.vsc.add_rule(packet(1, 1), action_of(PacketAction::kDefer));
  send(4, 0);
  bed.run_until_idle();
  EXPECT_THAT(bed.vsc.log(), ElementsAre("ProcessPacket #0 DISPATCH dpc/1 complete",
                                         "ProcessPacket #1 DISPATCH dpc/1 defer",
                                         "ProcessingComplete DISPATCH dpc/1 1",
                                         "ProcessPacket #1 PASSIVE passive complete",
                                         "ProcessPacket #2 PASSIVE passive complete",
                                         "ProcessPacket #3 PASSIVE passive complete",
                                         "ProcessingComplete PASSIVE passive 3"));
  EXPECT_FALSE(bed.guest.channel_stats(bed.guest_channel()).passive_delivery);
  bed.vsc.clear_log();
  send(1, 0);
  bed.run_until_idle();
  EXPECT_THAT(bed.vsc.log(), ElementsAre("ProcessPacket #4 DISPATCH dpc/1 complete",
                                         "ProcessingComplete DISPATCH dpc/1 1"));
  EXPECT_EQ(bed.vsc.processed_order(), iota(5));
  for (std::uint64_t i = 0; i < 5; ++i) {
    EXPECT_EQ(bed.vsc.payload_of(i), u64_bytes(i));
  }
  EXPECT_EQ(bed.guest.channel_stats(bed.guest_channel()).defers, 1u);
  EXPECT_THAT(codes(bed.guest), IsEmpty());
}

// Row 7: a packet deferred while others wait behind it keeps its place.
TEST_F(DeferAndFail, DeferAtPassiveKeepsThePacketAheadOfThoseDequeuedBehindIt) {
  VmbChannelSetIncomingProcessingAtPassive(bed.guest_channel(), TRUE);
  bed.vsc.add_rule(packet(0, 1), action_of(PacketAction::kDefer));
  send(3);
  bed.run_until_idle();
  EXPECT_THAT(bed.vsc.log(), ElementsAre("ProcessPacket #0 PASSIVE passive defer",
                                         "ProcessPacket #0 PASSIVE passive complete",
                                         "ProcessPacket #1 PASSIVE passive complete",
                                         "ProcessPacket #2 PASSIVE passive complete",
                                         "ProcessingComplete PASSIVE passive 3"));
  EXPECT_EQ(bed.vsc.processed_order(), iota(3));
}

// Row 8: identical handle, bytes and flags on redelivery; the buffer stays valid.
TEST_F(DeferAndFail, DeferRedeliversTheSameHandleBufferBytesAndFlags) {
  bed.vsc.add_rule(packet(0, 1), action_of(PacketAction::kDefer));
  bed.vsc.add_rule(packet(0), action_of(PacketAction::kGetExternalData));
  MDL page;
  page.ByteCount = 4096;
  page.PfnArray = {0x42};
  ASSERT_EQ(bed.vsp.send(text_bytes("external"), kWait, &page), 0);
  bed.run_until_idle();
  EXPECT_THAT(bed.vsc.log(), ElementsAre("ProcessPacket #0 DISPATCH dpc/1 defer",
                                         "ProcessPacket #0 PASSIVE passive external-data",
                                         "ProcessingComplete PASSIVE passive 1"));
  EXPECT_EQ(bed.vsc.records()[0].handle, bed.vsc.records()[1].handle);
  // Same buffer address, same bytes, same flags (EXTERNAL_DATA: the second
  // delivery could fetch the external data).
  EXPECT_EQ(bed.vsc.redelivery_mismatches(), 0u);
  EXPECT_THAT(bed.vsc.external_data_seen(), ElementsAre("ranges=1 bytes=4096 pfns=1"));
  EXPECT_EQ(bed.vsc.payload_of(0), text_bytes("external"));
  EXPECT_THAT(host_completion_statuses(), ElementsAre(STATUS_SUCCESS));
}

class DeferLimit : public DeferAndFail {
 protected:
  DeferLimit() : DeferAndFail(options()) {}
  static BedOptions options() {
    BedOptions o;
    o.guest_config.verifier.defer_livelock_limit = 3;
    return o;
  }
};

// Row 9: Defer at PASSIVE is allowed and requeues; more than N defers of one
// packet is flagged once.
TEST_F(DeferLimit, DeferAtPassiveRequeuesAndALivelockIsFlaggedOnce) {
  bed.vsc.add_rule(packet(0), action_of(PacketAction::kDefer));
  send(1);
  ASSERT_TRUE(bed.run_until([&] { return !bed.guest.violations().empty(); }));
  EXPECT_THAT(bed.vsc.log(), ElementsAre("ProcessPacket #0 DISPATCH dpc/1 defer",
                                         "ProcessPacket #0 PASSIVE passive defer",
                                         "ProcessPacket #0 PASSIVE passive defer",
                                         "ProcessPacket #0 PASSIVE passive defer"));
  ASSERT_THAT(codes(bed.guest), ElementsAre("defer_livelock"));
  const Violation& v = bed.guest.violations()[0];
  EXPECT_EQ(v.api, "VmbChannelPacketDeferToPassive");
  EXPECT_EQ(v.handle, bed.vsc.records()[0].handle);
  EXPECT_EQ(v.context, "passive");
  EXPECT_EQ(v.irql, PASSIVE_LEVEL);
  EXPECT_EQ(v.channel, 1u);
  // It keeps being redelivered (record and continue) and is flagged only once.
  for (int i = 0; i < 20; ++i) {
    bed.step();
  }
  EXPECT_THAT(codes(bed.guest), ElementsAre("defer_livelock"));
  bed.vsc.clear_rules();
  bed.vsc.clear_log();
  bed.run_until_idle();
  EXPECT_THAT(bed.vsc.log(), ElementsAre("ProcessPacket #0 PASSIVE passive complete",
                                         "ProcessingComplete PASSIVE passive 1"));
  EXPECT_THAT(host_completion_statuses(), ElementsAre(STATUS_SUCCESS));
}

// Row 10: a deferred packet counts as outstanding; it counts in
// PacketsProcessed only when it is processed.
TEST_F(DeferAndFail, DeferredPacketCountsAgainstTheQuotaButNotInPacketsProcessed) {
  VmbChannelSetTransactionQuota(bed.guest_channel(), 1);
  bed.vsc.add_rule(packet(0, 1), action_of(PacketAction::kDefer));
  send(2);
  // Run only the DPC: #0 is deferred and, with quota 1, #1 stays in the ring.
  while (!bed.guest.ready_contexts().empty() && bed.guest.ready_contexts().front() == "dpc/1") {
    bed.guest.step("dpc/1");
  }
  EXPECT_THAT(bed.vsc.log(), ElementsAre("ProcessPacket #0 DISPATCH dpc/1 defer"));
  EXPECT_EQ(bed.guest.queue_state(bed.guest_channel()), QueueState::kQuotaBlocked);
  EXPECT_EQ(bed.guest.channel_stats(bed.guest_channel()).live_packets, 1u);
  EXPECT_EQ(bed.bytes_in(bed.host_to_guest()), 32u);
  bed.run_until_idle();
  // Completing #0 restarts the queue; the DPC's pass and the worker's pass
  // each report only what they processed.
  EXPECT_THAT(bed.vsc.log(), ElementsAre("ProcessPacket #0 DISPATCH dpc/1 defer",
                                         "ProcessPacket #0 PASSIVE passive complete",
                                         "ProcessPacket #1 DISPATCH dpc/1 complete",
                                         "ProcessingComplete DISPATCH dpc/1 1",
                                         "ProcessingComplete PASSIVE passive 1"));
  EXPECT_EQ(bed.vsc.processed_order(), iota(2));
}

// --- Fail ---------------------------------------------------------------------------------

// Rows 1 and 15: no completion packet; the sender's transaction completes
// with STATUS_CANCELLED only when the channel closes. Fail on the guest.
TEST_F(DeferAndFail, FailSendsNoCompletionAndTheSenderIsCancelledOnlyAtClose) {
  bed.vsc.set_default_action(action_of(PacketAction::kFail));
  send(1);
  bed.run_until_idle();
  EXPECT_THAT(bed.vsc.log(), ElementsAre("ProcessPacket #0 DISPATCH dpc/1 fail",
                                         "ProcessingComplete DISPATCH dpc/1 1"));
  EXPECT_THAT(bed.vsp.send_completions(), IsEmpty());
  EXPECT_EQ(bed.host.channel_stats(bed.host_channel()).sends_in_flight, 1u);
  VmbChannelDisable(bed.guest_channel());
  bed.run_until_idle();
  EXPECT_THAT(bed.vsp.log(), ElementsAre("Suspend PASSIVE passive",
                                         "Completion send#0 PASSIVE passive STATUS_CANCELLED 0B",
                                         "Closed PASSIVE passive"));
  EXPECT_THAT(codes(bed.guest), IsEmpty());
}

// Row 2: Fail retires the packet: Pause does not wait for it.
TEST_F(DeferAndFail, FailRetiresThePacketSoPauseDoesNotWaitForIt) {
  bed.vsc.set_default_action(action_of(PacketAction::kFail));
  send(1);
  bed.run_until_idle();
  const ChannelStats stats = bed.guest.channel_stats(bed.guest_channel());
  EXPECT_EQ(stats.packets_failed, 1u);
  EXPECT_EQ(stats.live_packets, 0u);
  EXPECT_EQ(stats.driver_owned, 0u);
  // Outside any scheduled context Pause cannot block; it returns because
  // nothing is outstanding.
  VmbChannelPause(bed.guest_channel());
  EXPECT_EQ(bed.guest.queue_state(bed.guest_channel()), QueueState::kPaused);
  EXPECT_THAT(bed.vsc.log(),
              ElementsAre("ProcessPacket #0 DISPATCH dpc/1 fail",
                          "ProcessingComplete DISPATCH dpc/1 1", "Suspend PASSIVE external"));
}

class SmallRing : public DeferAndFail {
 protected:
  SmallRing() : DeferAndFail(options()) {}
  static BedOptions options() {
    BedOptions o;
    o.ring_data_bytes = 8192;
    return o;
  }
};

// Row 3: Fail stops dequeuing on this endpoint; packets stay in the ring, and
// the peer sees back-pressure.
TEST_F(SmallRing, FailStopsDequeuingSoLaterPacketsStayInTheRingAndTheSenderBacksUp) {
  bed.vsc.add_rule(packet(0), action_of(PacketAction::kFail));
  send(400, 0);
  bed.run_until_idle();
  EXPECT_THAT(bed.vsc.log(), ElementsAre("ProcessPacket #0 DISPATCH dpc/1 fail",
                                         "ProcessingComplete DISPATCH dpc/1 1"));
  EXPECT_EQ(bed.guest.queue_state(bed.guest_channel()), QueueState::kStoppedByFail);
  EXPECT_EQ(bed.guest.channel_stats(bed.guest_channel()).stop_reason,
            "VmbChannelPacketFail of packet #0");
  // 32 bytes a packet: the 8 KiB ring holds 255 (it is never completely
  // full). Reading #0 freed room for one more, and the host is blocked again.
  EXPECT_EQ(bed.bytes_in(bed.host_to_guest()), 255u * 32u);
  EXPECT_EQ(bed.host.channel_stats(bed.host_channel()).queued_sends, 400u - 256u);
  EXPECT_NE(ring::RingView(bed.host_to_guest()).control().pending_send_sz, 0u);
  EXPECT_EQ(bed.guest.channel_state(bed.guest_channel()), ChannelState::kOpen);
}

// Row 3: restart by Pause + Start delivers what was left, in order.
TEST_F(DeferAndFail, PauseThenStartRestartsAFailedQueueInOrder) {
  bed.vsc.add_rule(packet(0), action_of(PacketAction::kFail));
  send(3);
  bed.run_until_idle();
  VmbChannelPause(bed.guest_channel());
  VmbChannelStart(bed.guest_channel());
  bed.run_until_idle();
  EXPECT_THAT(bed.vsc.log(),
              ElementsAre("ProcessPacket #0 DISPATCH dpc/1 fail",
                          "ProcessingComplete DISPATCH dpc/1 1", "Suspend PASSIVE external",
                          "Started PASSIVE passive", "ProcessPacket #1 DISPATCH dpc/1 complete",
                          "ProcessPacket #2 DISPATCH dpc/1 complete",
                          "ProcessingComplete DISPATCH dpc/1 2", "PostStarted PASSIVE passive"));
  EXPECT_EQ(bed.guest.queue_state(bed.guest_channel()), QueueState::kRunning);
  ASSERT_EQ(bed.vsp.send_completions().size(), 2u);
  EXPECT_EQ(bed.vsp.send_completions()[0].send_index, 1);
  EXPECT_EQ(bed.vsp.send_completions()[1].send_index, 2);
}

// Row 3: restart by Disable + Enable, on fresh rings.
TEST_F(DeferAndFail, DisableThenEnableRestartsAFailedQueue) {
  bed.vsc.add_rule(packet(0), action_of(PacketAction::kFail));
  send(3);
  bed.run_until_idle();
  VmbChannelDisable(bed.guest_channel());
  bed.run_until_idle();
  EXPECT_EQ(bed.guest.channel_stats(bed.guest_channel()).discarded_at_close, 2u);
  EXPECT_THAT(host_completion_statuses(),
              ElementsAre(STATUS_CANCELLED, STATUS_CANCELLED, STATUS_CANCELLED));
  ASSERT_EQ(VmbChannelEnable(bed.guest_channel()), STATUS_SUCCESS);
  bed.run_until_idle();
  EXPECT_EQ(bed.guest.queue_state(bed.guest_channel()), QueueState::kRunning);
  bed.vsc.clear_log();
  send(1);
  bed.run_until_idle();
  EXPECT_THAT(bed.vsc.log(), ElementsAre("ProcessPacket #1 DISPATCH dpc/1 complete",
                                         "ProcessingComplete DISPATCH dpc/1 1"));
  EXPECT_EQ(bed.vsc.payload_of(1), u64_bytes(3));
  EXPECT_EQ(bed.vsp.send_completions().back().status, STATUS_SUCCESS);
}

// Row 3: the channel option escalates Fail to a close.
TEST_F(DeferAndFail, FailEscalatesToACloseWhenTheChannelOptionSaysSo) {
  ChannelOptions options;
  options.escalate_fail_to_close = true;
  bed.guest.set_channel_options(bed.guest_channel(), options);
  bed.vsc.add_rule(packet(0), action_of(PacketAction::kFail));
  send(2);
  bed.run_until_idle();
  EXPECT_THAT(bed.vsc.log(), ElementsAre("ProcessPacket #0 DISPATCH dpc/1 fail",
                                         "ProcessingComplete DISPATCH dpc/1 1",
                                         "Suspend PASSIVE passive", "Closed PASSIVE passive"));
  EXPECT_EQ(bed.guest.channel_state(bed.guest_channel()), ChannelState::kDisabled);
  EXPECT_EQ(bed.host.channel_state(bed.host_channel()), ChannelState::kClosed);
  EXPECT_EQ(bed.guest.channel_stats(bed.guest_channel()).discarded_at_close, 1u);
  EXPECT_THAT(host_completion_statuses(), ElementsAre(STATUS_CANCELLED, STATUS_CANCELLED));
}

class PassiveDelivery : public DeferAndFail {
 protected:
  void SetUp() override {
    DeferAndFail::SetUp();
    VmbChannelSetIncomingProcessingAtPassive(bed.guest_channel(), TRUE);
    bed.vsc.add_rule(packet(0), action_of(PacketAction::kFail));
    send(3);
    bed.run_until_idle();
  }
};

// Row 4: packets dequeued behind a failed one are held...
TEST_F(PassiveDelivery, PacketsDequeuedBehindAFailedOneAreHeldThenDeliveredInOrderAfterRestart) {
  EXPECT_THAT(bed.vsc.log(), ElementsAre("ProcessPacket #0 PASSIVE passive fail",
                                         "ProcessingComplete PASSIVE passive 1"));
  ChannelStats stats = bed.guest.channel_stats(bed.guest_channel());
  EXPECT_EQ(stats.held_packets, 2u);
  EXPECT_EQ(stats.live_packets, 2u);
  EXPECT_EQ(stats.driver_owned, 0u);
  EXPECT_EQ(bed.bytes_in(bed.host_to_guest()), 0u);  // dequeued already
  EXPECT_EQ(bed.guest.queue_state(bed.guest_channel()), QueueState::kStoppedByFail);
  bed.vsc.clear_log();
  VmbChannelPause(bed.guest_channel());  // held packets are KMCL's: no wait
  VmbChannelStart(bed.guest_channel());
  bed.run_until_idle();
  EXPECT_THAT(bed.vsc.log(), ElementsAre("Suspend PASSIVE external", "Started PASSIVE passive",
                                         "PostStarted PASSIVE passive",
                                         "ProcessPacket #1 PASSIVE passive complete",
                                         "ProcessPacket #2 PASSIVE passive complete",
                                         "ProcessingComplete PASSIVE passive 2"));
  stats = bed.guest.channel_stats(bed.guest_channel());
  EXPECT_EQ(stats.held_packets, 0u);
  EXPECT_EQ(stats.live_packets, 0u);
  EXPECT_EQ(bed.guest.queue_state(bed.guest_channel()), QueueState::kRunning);
}

// What the trace's KMCL records carry as fields: the sender's send and its
// completion routine name the transaction id, the receiver's records name
// the packet, and a ProcessPacket callback which delivery it is.
TEST_F(DeferAndFail, TraceEventsNameTheTransactionThePacketAndTheDelivery) {
  RecordingSink guest_sink;
  RecordingSink host_sink;
  bed.guest.set_trace_sink(&guest_sink);
  bed.host.set_trace_sink(&host_sink);
  bed.vsc.add_rule(packet(0, 1), action_of(PacketAction::kDefer));
  send(1);
  bed.run_until_idle();

  const TraceEvent* sent = host_sink.first("send");
  ASSERT_NE(sent, nullptr);
  ASSERT_TRUE(sent->facts.trans_id.has_value());
  const std::uint64_t trans_id = *sent->facts.trans_id;
  const TraceEvent* dequeued = guest_sink.first("dequeue");
  ASSERT_NE(dequeued, nullptr);
  EXPECT_EQ(dequeued->facts.trans_id, trans_id);
  EXPECT_EQ(dequeued->facts.packet, 0u);
  std::vector<std::uint32_t> deliveries;
  for (const TraceEvent& e : guest_sink.events) {
    if (e.facts.callback == "EvtVmbChannelProcessPacket") {
      EXPECT_EQ(e.facts.packet, 0u);
      deliveries.push_back(e.facts.delivery);
    }
  }
  EXPECT_THAT(deliveries, ElementsAre(1u, 2u));
  ASSERT_NE(guest_sink.first("defer"), nullptr);
  EXPECT_EQ(guest_sink.first("defer")->facts.packet, 0u);
  ASSERT_NE(guest_sink.first("complete"), nullptr);
  EXPECT_EQ(guest_sink.first("complete")->facts.packet, 0u);
  bool routine_named_it = false;
  for (const TraceEvent& e : host_sink.events) {
    routine_named_it = routine_named_it || (e.facts.callback == "EvtVmbPacketCompletionRoutine" &&
                                            e.facts.trans_id == trans_id);
  }
  EXPECT_TRUE(routine_named_it);
  bed.guest.set_trace_sink(nullptr);
  bed.host.set_trace_sink(nullptr);
}

// Row 4: ... and dropped, and counted, on Disable.
TEST_F(PassiveDelivery, PacketsHeldBehindAFailedOneAreDroppedAndCountedOnDisable) {
  RecordingSink sink;
  bed.guest.set_trace_sink(&sink);
  VmbChannelDisable(bed.guest_channel());
  bed.run_until_idle();
  EXPECT_THAT(bed.vsc.log(), ElementsAre("ProcessPacket #0 PASSIVE passive fail",
                                         "ProcessingComplete PASSIVE passive 1",
                                         "Suspend PASSIVE external", "Closed PASSIVE external"));
  EXPECT_EQ(bed.guest.channel_stats(bed.guest_channel()).dropped_at_close, 2u);
  EXPECT_EQ(sink.count("dropped_at_close"), 2u);
  EXPECT_EQ(bed.guest.channel_state(bed.guest_channel()), ChannelState::kDisabled);
  // None of the three transactions was answered: all cancelled at close.
  EXPECT_THAT(host_completion_statuses(),
              ElementsAre(STATUS_CANCELLED, STATUS_CANCELLED, STATUS_CANCELLED));
  bed.guest.set_trace_sink(nullptr);
}

// Row 5: ProcessingComplete is still called; the count includes the failed packet.
TEST_F(DeferAndFail, ProcessingCompleteAfterFailCountsTheFailedPacket) {
  bed.vsc.add_rule(packet(1), action_of(PacketAction::kFail));
  send(3);
  bed.run_until_idle();
  EXPECT_THAT(bed.vsc.log(), ElementsAre("ProcessPacket #0 DISPATCH dpc/1 complete",
                                         "ProcessPacket #1 DISPATCH dpc/1 fail",
                                         "ProcessingComplete DISPATCH dpc/1 2"));
  EXPECT_EQ(bed.bytes_in(bed.host_to_guest()), 32u);
}

// Row 15 (and the docs' own case): Fail on the server endpoint.
TEST_F(DeferAndFail, FailOnTheServerEndpointStopsTheHostsQueue) {
  bed.vsp.set_default_action(action_of(PacketAction::kFail));
  bed.vsc.send(u64_bytes(0), kWait);
  bed.vsc.send(u64_bytes(1), kWait);
  bed.run_until_idle();
  EXPECT_THAT(bed.vsp.log(), ElementsAre("ProcessPacket #0 DISPATCH dpc/1 fail",
                                         "ProcessingComplete DISPATCH dpc/1 1"));
  EXPECT_EQ(bed.host.queue_state(bed.host_channel()), QueueState::kStoppedByFail);
  EXPECT_EQ(bed.guest.queue_state(bed.guest_channel()), QueueState::kRunning);
  EXPECT_THAT(bed.vsc.send_completions(), IsEmpty());
  EXPECT_EQ(bed.bytes_in(bed.guest_to_host()), 32u);
}

}  // namespace
}  // namespace vmbus::kmcl::testing
