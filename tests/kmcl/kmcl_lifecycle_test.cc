// Channel lifecycle: the open sequence, Start on
// the server, auto-pause, the suspend barrier of Pause and Disable, the three
// kinds of close, and the completion status each gives (DESIGN 4 rows 13, 14).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "kmcl_test_bed.h"

namespace vmbus::kmcl::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

Action leave_outstanding() {
  Action action;
  action.kind = PacketAction::kLeaveOutstanding;
  return action;
}

Action fail() {
  Action action;
  action.kind = PacketAction::kFail;
  return action;
}

TEST(ChannelOpen, RunsOpenedStartedAndPostStartedAtPassiveOnTheWorker) {
  TestBed bed;
  bed.open();
  const std::vector<std::string> expected = {"Opened PASSIVE passive", "Started PASSIVE passive",
                                             "PostStarted PASSIVE passive"};
  EXPECT_EQ(bed.vsc.log(), expected);
  EXPECT_EQ(bed.vsp.log(), expected);
  EXPECT_EQ(bed.guest.queue_state(bed.guest_channel()), QueueState::kRunning);
  EXPECT_EQ(bed.host.queue_state(bed.host_channel()), QueueState::kRunning);
  EXPECT_THAT(codes(bed.guest), IsEmpty());
  EXPECT_THAT(codes(bed.host), IsEmpty());
}

TEST(ChannelOpen, DeliversAPacketBeforePostStartedOnceStartedReturned) {
  TestBed bed;
  bed.enable_both();
  // Only the host's open sequence can run: the guest opens when it succeeds.
  EXPECT_THAT(bed.guest.ready_contexts(), IsEmpty());
  EXPECT_THAT(bed.host.ready_contexts(), ElementsAre("passive"));
  bed.host.step("passive");                     // EvtChannelOpened; the guest's open is queued
  bed.host.step("passive");                     // EvtChannelStarted, queue enabled
  bed.host.step("passive");                     // EvtChannelPostStarted
  ASSERT_EQ(bed.vsp.send(u64_bytes(5), 0), 0);  // the host may send: it is open
  bed.guest.step("passive");                    // EvtChannelOpened
  bed.guest.step("passive");                    // EvtChannelStarted, queue enabled
  EXPECT_THAT(bed.guest.ready_contexts(), ElementsAre("dpc/1", "passive"));
  while (bed.guest.ready_contexts().front() == "dpc/1") {
    bed.guest.step("dpc/1");  // the whole drain pass
  }
  bed.guest.step("passive");  // EvtChannelPostStarted
  EXPECT_THAT(bed.vsc.log(),
              ElementsAre("Opened PASSIVE passive", "Started PASSIVE passive",
                          "ProcessPacket #0 DISPATCH dpc/1 complete",
                          "ProcessingComplete DISPATCH dpc/1 1", "PostStarted PASSIVE passive"));
  bed.run_until_idle();
  EXPECT_THAT(codes(bed.guest), IsEmpty());
  EXPECT_THAT(codes(bed.host), IsEmpty());
}

TEST(ServerChannel, StaysPausedAfterOpenUntilVmbChannelStart) {
  BedOptions options;
  options.start_host = false;
  TestBed bed(options);
  bed.open();
  EXPECT_THAT(bed.vsp.log(), ElementsAre("Opened PASSIVE passive"));
  EXPECT_EQ(bed.host.queue_state(bed.host_channel()), QueueState::kPaused);
  ASSERT_EQ(bed.vsc.send(u64_bytes(1), VMBUS_CHANNEL_FORMAT_FLAG_WAIT_FOR_COMPLETION), 0);
  bed.run_until_idle();
  EXPECT_GT(bed.bytes_in(bed.guest_to_host()), 0u);  // nobody reads it yet
  VmbChannelStart(bed.host_channel());
  bed.run_until_idle();
  EXPECT_THAT(bed.vsp.log(),
              ElementsAre("Opened PASSIVE passive", "Started PASSIVE passive",
                          "ProcessPacket #0 DISPATCH dpc/1 complete",
                          "ProcessingComplete DISPATCH dpc/1 1", "PostStarted PASSIVE passive"));
  EXPECT_EQ(bed.host.queue_state(bed.host_channel()), QueueState::kRunning);
  EXPECT_EQ(bed.bytes_in(bed.guest_to_host()), 0u);
  ASSERT_EQ(bed.vsc.send_completions().size(), 1u);
  EXPECT_EQ(bed.vsc.send_completions()[0].status, STATUS_SUCCESS);
}

TEST(VmbChannelPause, WhileDisabledHoldsTheChannelPausedUntilStart) {
  TestBed bed;
  VmbChannelPause(bed.guest_channel());  // Disabled: "automatically pause when enabled"
  bed.open();
  EXPECT_THAT(bed.vsc.log(), ElementsAre("Opened PASSIVE passive"));
  EXPECT_EQ(bed.guest.queue_state(bed.guest_channel()), QueueState::kPaused);
  VmbChannelStart(bed.guest_channel());
  bed.run_until_idle();
  EXPECT_THAT(bed.vsc.log(), ElementsAre("Opened PASSIVE passive", "Started PASSIVE passive",
                                         "PostStarted PASSIVE passive"));
  EXPECT_EQ(bed.guest.queue_state(bed.guest_channel()), QueueState::kRunning);
}

TEST(VmbChannelPause, SuspendsWaitsForOutstandingPacketsAndLeavesNewOnesInTheRing) {
  TestBed bed;
  bed.open();
  bed.vsc.clear_log();
  bed.vsc.set_default_action(leave_outstanding());
  bed.vsp.send(u64_bytes(0), VMBUS_CHANNEL_FORMAT_FLAG_WAIT_FOR_COMPLETION);
  bed.vsp.send(u64_bytes(1), VMBUS_CHANNEL_FORMAT_FLAG_WAIT_FOR_COMPLETION);
  bed.run_until_idle();
  EXPECT_THAT(bed.vsc.log(), ElementsAre("ProcessPacket #0 DISPATCH dpc/1 outstanding",
                                         "ProcessPacket #1 DISPATCH dpc/1 outstanding",
                                         "ProcessingComplete DISPATCH dpc/1 2"));
  bed.vsc.clear_log();

  const VMBCHANNEL channel = bed.guest_channel();
  bed.spawn_guest_thread("pauser", [channel] { VmbChannelPause(channel); });
  bed.run_until_idle();
  EXPECT_TRUE(bed.guest.thread_running("pauser"));
  const std::vector<BlockedWait> waits = bed.guest.blocked_waits();
  ASSERT_EQ(waits.size(), 1u);
  EXPECT_EQ(waits[0].context, "thread/pauser");
  EXPECT_EQ(waits[0].what, "the driver to retire its delivered packets of ch1");
  EXPECT_EQ(bed.guest.queue_state(channel), QueueState::kPausing);
  EXPECT_THAT(bed.vsc.log(), ElementsAre("Suspend PASSIVE thread/pauser"));

  // A packet sent now stays in the ring: nothing is dequeued while paused.
  bed.vsp.send(u64_bytes(2), VMBUS_CHANNEL_FORMAT_FLAG_WAIT_FOR_COMPLETION);
  bed.run_until_idle();
  EXPECT_GT(bed.bytes_in(bed.host_to_guest()), 0u);

  bed.vsc.complete_outstanding();
  bed.run_until_idle();
  EXPECT_FALSE(bed.guest.thread_running("pauser"));
  EXPECT_EQ(bed.guest.queue_state(channel), QueueState::kPaused);
  EXPECT_EQ(bed.vsp.send_completions().size(), 2u);

  bed.vsc.clear_log();
  VmbChannelStart(channel);
  bed.run_until_idle();
  // Outstanding packets are never redelivered: only #2 arrives.
  EXPECT_THAT(bed.vsc.log(),
              ElementsAre("Started PASSIVE passive", "ProcessPacket #2 DISPATCH dpc/1 outstanding",
                          "ProcessingComplete DISPATCH dpc/1 1", "PostStarted PASSIVE passive"));
  EXPECT_EQ(bed.guest.queue_state(channel), QueueState::kRunning);
  EXPECT_THAT(codes(bed.guest), IsEmpty());
}

TEST(VmbChannelDisable, SuspendsWaitsForOutstandingPacketsThenClosesBothSides) {
  TestBed bed;
  bed.open();
  bed.vsc.clear_log();
  bed.vsp.clear_log();
  bed.vsc.set_default_action(leave_outstanding());
  bed.vsp.send(u64_bytes(0), VMBUS_CHANNEL_FORMAT_FLAG_WAIT_FOR_COMPLETION);
  bed.run_until_idle();

  const VMBCHANNEL channel = bed.guest_channel();
  bed.spawn_guest_thread("remover", [channel] { VmbChannelDisable(channel); });
  bed.run_until_idle();
  EXPECT_TRUE(bed.guest.thread_running("remover"));
  EXPECT_EQ(bed.guest.channel_state(channel), ChannelState::kClosing);

  bed.vsc.complete_outstanding();
  bed.run_until_idle();
  EXPECT_FALSE(bed.guest.thread_running("remover"));
  EXPECT_THAT(bed.vsc.log(),
              ElementsAre("ProcessPacket #0 DISPATCH dpc/1 outstanding",
                          "ProcessingComplete DISPATCH dpc/1 1", "Suspend PASSIVE thread/remover",
                          "Closed PASSIVE thread/remover"));
  EXPECT_EQ(bed.guest.channel_state(channel), ChannelState::kDisabled);
  // The guest closed before the host read the completion packet: the host
  // discards it with its ring and cancels the transaction (DESIGN 4 rows 13, 14).
  EXPECT_THAT(bed.vsp.log(), ElementsAre("Suspend PASSIVE passive",
                                         "Completion send#0 PASSIVE passive STATUS_CANCELLED 0B",
                                         "Closed PASSIVE passive"));
  EXPECT_EQ(bed.host.channel_stats(bed.host_channel()).discarded_at_close, 1u);
  EXPECT_EQ(bed.host.channel_state(bed.host_channel()), ChannelState::kClosed);
  EXPECT_THAT(codes(bed.guest), IsEmpty());
  EXPECT_THAT(codes(bed.host), IsEmpty());
}

TEST(ChannelClose, DiscardsAndCountsThePacketsStillInTheRing) {
  TestBed bed;
  VmbChannelPause(bed.guest_channel());  // never started: nothing is dequeued
  bed.open();
  for (std::uint64_t i = 0; i < 3; ++i) {
    bed.vsp.send(u64_bytes(i), 0);
  }
  bed.run_until_idle();
  VmbChannelDisable(bed.guest_channel());  // nothing to wait for: fine outside a thread
  bed.run_until_idle();
  const ChannelStats stats = bed.guest.channel_stats(bed.guest_channel());
  EXPECT_EQ(stats.discarded_at_close, 3u);
  EXPECT_EQ(stats.deliveries, 0u);
  // Never started, so never suspended.
  EXPECT_THAT(bed.vsc.log(), ElementsAre("Opened PASSIVE passive", "Closed PASSIVE external"));
  EXPECT_EQ(bed.guest.channel_state(bed.guest_channel()), ChannelState::kDisabled);
  EXPECT_THAT(codes(bed.guest), IsEmpty());
}

TEST(CloseStatus, LocalDisableCancelsTheSendsInFlightWithStatusCancelled) {
  TestBed bed;
  bed.open();
  bed.vsc.clear_log();
  bed.vsp.set_default_action(leave_outstanding());
  bed.vsc.send(u64_bytes(7), VMBUS_CHANNEL_FORMAT_FLAG_WAIT_FOR_COMPLETION);
  bed.run_until_idle();
  VmbChannelDisable(bed.guest_channel());
  EXPECT_THAT(bed.vsc.log(), ElementsAre("Suspend PASSIVE external",
                                         "Completion send#0 PASSIVE external STATUS_CANCELLED 0B",
                                         "Closed PASSIVE external"));
  // The host's close now waits for its own outstanding packet.
  bed.run_until_idle();
  EXPECT_EQ(bed.host.channel_state(bed.host_channel()), ChannelState::kClosing);
  bed.vsp.complete_outstanding();
  bed.run_until_idle();
  EXPECT_EQ(bed.host.channel_state(bed.host_channel()), ChannelState::kClosed);
  EXPECT_EQ(bed.vsc.send_completions().size(), 1u);  // the late answer reached nobody
  EXPECT_THAT(codes(bed.guest), IsEmpty());
  EXPECT_THAT(codes(bed.host), IsEmpty());
}

TEST(CloseStatus, RescindCompletesTheSendsInFlightWithStatusDeviceRemoved) {
  TestBed bed;
  bed.open();
  bed.vsc.clear_log();
  bed.vsp.set_default_action(fail());  // no completion will ever come back
  bed.vsc.send(u64_bytes(7), VMBUS_CHANNEL_FORMAT_FLAG_WAIT_FOR_COMPLETION);
  bed.run_until_idle();
  EXPECT_THAT(bed.vsc.log(), IsEmpty());
  VmbChannelDisable(bed.host_channel());  // the host revokes the offer: a rescind
  bed.run_until_idle();
  EXPECT_THAT(bed.vsc.log(),
              ElementsAre("Suspend PASSIVE passive",
                          "Completion send#0 PASSIVE passive STATUS_DEVICE_REMOVED 0B",
                          "Closed PASSIVE passive"));
  EXPECT_EQ(bed.guest.channel_state(bed.guest_channel()), ChannelState::kDisabled);
  EXPECT_EQ(bed.host.channel_state(bed.host_channel()), ChannelState::kDisabled);
}

TEST(CloseStatus, AnsweredTransactionsCompleteWithStatusSuccessAndThePayload) {
  TestBed bed;
  bed.open();
  Action echo;
  echo.echo_payload = true;
  bed.vsp.set_default_action(echo);
  bed.vsc.send(text_bytes("ping0000"), VMBUS_CHANNEL_FORMAT_FLAG_WAIT_FOR_COMPLETION);
  bed.run_until_idle();
  ASSERT_EQ(bed.vsc.send_completions().size(), 1u);
  EXPECT_EQ(bed.vsc.send_completions()[0].status, STATUS_SUCCESS);
  EXPECT_EQ(bed.vsc.send_completions()[0].payload, text_bytes("ping0000"));
  EXPECT_EQ(bed.vsc.send_completions()[0].irql, DISPATCH_LEVEL);
  EXPECT_EQ(bed.vsc.send_completions()[0].context, "dpc/1");
}

TEST(PeerClose, LeavesTheServerClosedAndReadyToOpenForTheNextClient) {
  TestBed bed;
  bed.open();
  bed.vsc.clear_log();
  bed.vsp.clear_log();
  VmbChannelDisable(bed.guest_channel());
  bed.run_until_idle();
  EXPECT_EQ(bed.host.channel_state(bed.host_channel()), ChannelState::kClosed);
  EXPECT_EQ(bed.host.queue_state(bed.host_channel()), QueueState::kOff);
  ASSERT_EQ(VmbChannelEnable(bed.guest_channel()), STATUS_SUCCESS);
  bed.run_until_idle();
  EXPECT_THAT(bed.vsp.log(), ElementsAre("Suspend PASSIVE passive", "Closed PASSIVE passive",
                                         "Opened PASSIVE passive", "Started PASSIVE passive",
                                         "PostStarted PASSIVE passive"));
  EXPECT_THAT(bed.vsc.log(), ElementsAre("Suspend PASSIVE external", "Closed PASSIVE external",
                                         "Opened PASSIVE passive", "Started PASSIVE passive",
                                         "PostStarted PASSIVE passive"));
  EXPECT_EQ(bed.guest.channel_state(bed.guest_channel()), ChannelState::kOpen);
  EXPECT_EQ(bed.host.channel_state(bed.host_channel()), ChannelState::kOpen);
  // And traffic flows on the fresh rings.
  bed.vsc.send(u64_bytes(1), VMBUS_CHANNEL_FORMAT_FLAG_WAIT_FOR_COMPLETION);
  bed.run_until_idle();
  ASSERT_EQ(bed.vsc.send_completions().size(), 1u);
  EXPECT_EQ(bed.vsc.send_completions()[0].status, STATUS_SUCCESS);
}

TEST(EvtChannelOpened, AFailureRollsTheChannelBackSoNoTrafficFlows) {
  TestBed bed;
  bed.vsp.opened_status = STATUS_UNSUCCESSFUL;
  bed.enable_both();
  bed.run_until_idle();
  EXPECT_THAT(bed.vsp.log(), ElementsAre("Opened PASSIVE passive STATUS_UNSUCCESSFUL"));
  EXPECT_THAT(bed.vsc.log(), IsEmpty());
  EXPECT_EQ(bed.host.channel_state(bed.host_channel()), ChannelState::kEnabled);
  EXPECT_EQ(bed.guest.channel_state(bed.guest_channel()), ChannelState::kEnabled);
  EXPECT_EQ(bed.host.queue_state(bed.host_channel()), QueueState::kOff);
}

TEST(SendBeforeOpen, IsQueuedAndWrittenOnceTheChannelOpens) {
  TestBed bed;
  ASSERT_EQ(VmbChannelEnable(bed.guest_channel()), STATUS_SUCCESS);  // no offer yet
  ASSERT_EQ(bed.vsc.send(u64_bytes(9), VMBUS_CHANNEL_FORMAT_FLAG_WAIT_FOR_COMPLETION), 0);
  EXPECT_EQ(bed.guest.channel_stats(bed.guest_channel()).queued_sends, 1u);
  ASSERT_EQ(VmbChannelEnable(bed.host_channel()), STATUS_SUCCESS);
  VmbChannelStart(bed.host_channel());
  bed.run_until_idle();
  ASSERT_EQ(bed.vsc.send_completions().size(), 1u);
  EXPECT_EQ(bed.vsc.send_completions()[0].status, STATUS_SUCCESS);
  EXPECT_EQ(bed.vsp.payload_of(0), u64_bytes(9));
  EXPECT_THAT(codes(bed.guest), IsEmpty());  // queuing before open is legal
}

TEST(DeviceTeardown, UnwindsADriverThreadBlockedInAWait) {
  bool returned = false;
  {
    TestBed bed;
    bed.open();
    bed.vsp.set_default_action(action_of(PacketAction::kLeaveOutstanding));
    const VMBCHANNEL channel = bed.guest_channel();
    bed.spawn_guest_thread("stuck", [channel, &returned] {
      std::uint64_t body = 0;
      VmbChannelSendSynchronousRequest(channel, &body, sizeof(body), nullptr,
                                       VMBUS_CHANNEL_FORMAT_FLAG_WAIT_FOR_COMPLETION, nullptr,
                                       nullptr, nullptr);
      returned = true;
    });
    bed.run_until_idle();
    ASSERT_TRUE(bed.guest.thread_running("stuck"));
    // The bed (and both devices) go away with the thread still blocked.
  }
  EXPECT_FALSE(returned);  // its stack was unwound, not resumed
}

}  // namespace
}  // namespace vmbus::kmcl::testing
