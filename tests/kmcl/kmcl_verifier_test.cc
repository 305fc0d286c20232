// The verifier: one test (or more) per violation code, checking the record's
// code, API, handle, context and IRQL, what happened to the offending call,
// the sink, and the stop (bug check) mode.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "kmcl_test_bed.h"

namespace vmbus::kmcl::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

PacketMatch first_delivery_of(std::uint64_t index) {
  PacketMatch match;
  match.index = index;
  match.delivery = 1;
  return match;
}

class Verifier : public ::testing::Test {
 protected:
  explicit Verifier(BedOptions options = {}) : bed(options) {}
  void SetUp() override {
    bed.guest.set_trace_sink(&sink);
    bed.open();
    bed.vsc.clear_log();
    bed.vsp.clear_log();
  }
  void TearDown() override { bed.guest.set_trace_sink(nullptr); }
  // The only violation of the guest; fails the test if there is not exactly one.
  const Violation& only_violation() {
    EXPECT_EQ(bed.guest.violations().size(), 1u) << ::testing::PrintToString(codes(bed.guest));
    return bed.guest.violations().front();
  }
  TestBed bed;
  RecordingSink sink;
};

TEST_F(Verifier, DeferOutsideTheCallbackIsRecordedAndIgnored) {
  bed.vsc.add_rule(first_delivery_of(0), misuse(Misuse::kDeferOutsideCallback));
  bed.vsp.send(u64_bytes(0), kWait);
  bed.run_until_idle();
  EXPECT_THAT(bed.vsc.log(),
              ElementsAre("ProcessPacket #0 DISPATCH dpc/1 misuse:defer-outside-callback",
                          "ProcessingComplete DISPATCH dpc/1 1",
                          "Later #0 DISPATCH work/vsc-dpc defer+complete"));
  const Violation& v = only_violation();
  EXPECT_EQ(v.code, ViolationCode::kDeferOutsideCallback);
  EXPECT_EQ(v.api, "VmbChannelPacketDeferToPassive");
  EXPECT_EQ(v.handle, bed.vsc.records()[0].handle);
  EXPECT_EQ(v.context, "work/vsc-dpc");
  EXPECT_EQ(v.irql, DISPATCH_LEVEL);
  EXPECT_EQ(v.device, "guest");
  EXPECT_EQ(v.channel, 1u);
  EXPECT_THAT(v.detail, HasSubstr("packet #0 is outstanding, not being delivered"));
  // Ignored: no redelivery; the Complete that followed retired it normally.
  EXPECT_EQ(bed.vsp.send_completions().size(), 1u);
  EXPECT_EQ(bed.vsp.send_completions()[0].status, STATUS_SUCCESS);
  // The sink saw it as it happened.
  ASSERT_EQ(sink.violations.size(), 1u);
  EXPECT_EQ(to_string(sink.violations[0]), to_string(v));
}

TEST_F(Verifier, FailOutsideTheCallbackIsRecordedAndDoesNotStopTheQueue) {
  bed.vsc.add_rule(first_delivery_of(0), misuse(Misuse::kFailOutsideCallback));
  bed.vsp.send(u64_bytes(0), kWait);
  bed.run_until_idle();
  const Violation& v = only_violation();
  EXPECT_EQ(v.code, ViolationCode::kFailOutsideCallback);
  EXPECT_EQ(v.api, "VmbChannelPacketFail");
  EXPECT_EQ(v.context, "work/vsc-dpc");
  EXPECT_EQ(bed.guest.queue_state(bed.guest_channel()), QueueState::kRunning);
  EXPECT_EQ(bed.vsp.send_completions().size(), 1u);
}

TEST_F(Verifier, GetExternalDataOutsideTheCallbackIsRecordedAndRefused) {
  bed.vsc.set_default_action(action_of(PacketAction::kLeaveOutstanding));
  MDL page;
  page.ByteCount = 4096;
  page.PfnArray = {1};
  bed.vsp.send(u64_bytes(0), kWait, &page);
  bed.run_until_idle();
  auto packet = reinterpret_cast<VMBPACKETCOMPLETION>(bed.vsc.records()[0].handle);
  PMDL mdl = nullptr;
  EXPECT_EQ(VmbChannelPacketGetExternalData(packet, 0, &mdl), STATUS_INVALID_DEVICE_STATE);
  EXPECT_EQ(mdl, nullptr);
  const Violation& v = only_violation();
  EXPECT_EQ(v.code, ViolationCode::kExternalDataOutsideCallback);
  EXPECT_EQ(v.context, "external");
  EXPECT_EQ(v.irql, PASSIVE_LEVEL);
  bed.vsc.complete_outstanding();
  bed.run_until_idle();
}

TEST_F(Verifier, CompleteTwiceIsRecordedAndSendsOneCompletion) {
  bed.vsc.set_default_action(misuse(Misuse::kCompleteTwice));
  bed.vsp.send(u64_bytes(0), kWait);
  bed.run_until_idle();
  const Violation& v = only_violation();
  EXPECT_EQ(v.code, ViolationCode::kCompleteTwice);
  EXPECT_EQ(v.api, "VmbChannelPacketComplete");
  EXPECT_EQ(v.context, "dpc/1");
  EXPECT_EQ(v.irql, DISPATCH_LEVEL);
  EXPECT_EQ(v.handle, bed.vsc.records()[0].handle);
  EXPECT_EQ(bed.vsp.send_completions().size(), 1u);
  EXPECT_EQ(bed.guest.channel_stats(bed.guest_channel()).completions_sent, 1u);
}

TEST_F(Verifier, CompleteAfterFailIsRecordedAndSendsNoCompletion) {
  bed.vsc.set_default_action(misuse(Misuse::kCompleteAfterFail));
  bed.vsp.send(u64_bytes(0), kWait);
  bed.run_until_idle();
  EXPECT_EQ(only_violation().code, ViolationCode::kCompleteAfterFail);
  EXPECT_THAT(bed.vsp.send_completions(), IsEmpty());
  EXPECT_EQ(bed.guest.queue_state(bed.guest_channel()), QueueState::kStoppedByFail);
}

TEST_F(Verifier, CompleteAfterDeferIsRecordedAndThePacketIsStillRedelivered) {
  bed.vsc.add_rule(first_delivery_of(0), misuse(Misuse::kCompleteAfterDefer));
  bed.vsp.send(u64_bytes(0), kWait);
  bed.run_until_idle();
  EXPECT_THAT(bed.vsc.log(),
              ElementsAre("ProcessPacket #0 DISPATCH dpc/1 misuse:complete-after-defer",
                          "ProcessPacket #0 PASSIVE passive complete",
                          "ProcessingComplete PASSIVE passive 1"));
  const Violation& v = only_violation();
  EXPECT_EQ(v.code, ViolationCode::kCompleteAfterDefer);
  EXPECT_EQ(v.context, "dpc/1");
  EXPECT_THAT(v.detail, HasSubstr("is deferred"));
  EXPECT_EQ(bed.vsp.send_completions().size(), 1u);
}

class SlowMapping : public Verifier {
 protected:
  SlowMapping() : Verifier(options()) {}
  static BedOptions options() {
    BedOptions o;
    o.guest_config.external_data_latency_steps = 50;
    return o;
  }
};

TEST_F(SlowMapping, CompleteWhileExternalDataIsPendingIsACompleteAfterDefer) {
  bed.vsc.set_default_action(action_of(PacketAction::kGetExternalData));
  MDL page;
  page.ByteCount = 4096;
  page.PfnArray = {1};
  bed.vsp.send(u64_bytes(0), kWait, &page);
  // Only the DPC: the mapping has not finished.
  for (int i = 0; i < 4; ++i) {
    bed.guest.step("dpc/1");
  }
  ASSERT_THAT(bed.vsc.log(), ElementsAre("ProcessPacket #0 DISPATCH dpc/1 external-data-pending"));
  VmbChannelPacketComplete(reinterpret_cast<VMBPACKETCOMPLETION>(bed.vsc.records()[0].handle),
                           nullptr, 0);
  const Violation& v = only_violation();
  EXPECT_EQ(v.code, ViolationCode::kCompleteAfterDefer);
  EXPECT_THAT(v.detail, HasSubstr("external data pending"));
  bed.run_until_idle();
  EXPECT_EQ(bed.vsc.log().back(), "ProcessingComplete PASSIVE passive 1");
  EXPECT_EQ(bed.vsp.send_completions().size(), 1u);
}

TEST_F(Verifier, UnknownHandleIsRecordedOnTheDeviceWhoseContextRan) {
  bed.vsc.set_default_action(misuse(Misuse::kCompleteUnknownHandle));
  bed.vsp.send(u64_bytes(0), kWait);
  bed.run_until_idle();
  const Violation& v = only_violation();
  EXPECT_EQ(v.code, ViolationCode::kUnknownHandle);
  EXPECT_EQ(v.handle, 0xDEAD0000u);
  EXPECT_EQ(v.context, "dpc/1");
  EXPECT_EQ(v.detail, "a VMBPACKETCOMPLETION that was never issued");
  EXPECT_EQ(bed.vsp.send_completions().size(), 1u);  // the real one went through
}

TEST_F(Verifier, HandleOfTheWrongTypeOrNullIsAnUnknownHandle) {
  VMBPACKET packet = VmbPacketAllocate(bed.guest_channel());
  VmbChannelPacketComplete(reinterpret_cast<VMBPACKETCOMPLETION>(packet), nullptr, 0);
  // Blamed on the device that issued the handle.
  ASSERT_THAT(codes(bed.guest), ElementsAre("unknown_handle"));
  EXPECT_EQ(bed.guest.violations()[0].detail,
            "a VMBPACKET passed where a VMBPACKETCOMPLETION is expected");
  // A null handle from outside any step, with two devices: nobody to blame.
  take_unattributed_violations();
  VmbChannelPause(nullptr);
  const std::vector<Violation> orphans = take_unattributed_violations();
  ASSERT_EQ(orphans.size(), 1u);
  EXPECT_EQ(orphans[0].detail, "null VMBCHANNEL");
  // From inside a step the running context's device is blamed.
  bed.guest.create_work_queue("dpc", DISPATCH_LEVEL).post([] { VmbChannelPause(nullptr); });
  bed.run_until_idle();
  ASSERT_THAT(codes(bed.guest), ElementsAre("unknown_handle", "unknown_handle"));
  EXPECT_EQ(bed.guest.violations()[1].context, "work/dpc");
  VmbPacketFree(packet);
}

TEST(UnattributedViolation, IsKeptWhenNoDeviceCanBeBlamed) {
  Device first;
  Device second;
  take_unattributed_violations();
  EXPECT_EQ(VmbChannelGetPointer(reinterpret_cast<VMBCHANNEL>(std::uintptr_t{0x1000})), nullptr);
  const std::vector<Violation> orphans = take_unattributed_violations();
  ASSERT_EQ(orphans.size(), 1u);
  EXPECT_EQ(orphans[0].code, ViolationCode::kUnknownHandle);
  EXPECT_EQ(orphans[0].api, "VmbChannelGetPointer");
  EXPECT_THAT(codes(first), IsEmpty());
  EXPECT_THAT(codes(second), IsEmpty());
}

TEST_F(Verifier, StaleHandlesAreRecognisedAfterFreeAndCleanup) {
  VMBPACKET packet = VmbPacketAllocate(bed.guest_channel());
  VmbPacketFree(packet);
  VmbPacketFree(packet);
  VmbChannelDisable(bed.guest_channel());
  VmbChannelCleanup(bed.guest_channel());
  EXPECT_EQ(VmbChannelGetPointer(bed.guest_channel()), nullptr);
  ASSERT_THAT(codes(bed.guest), ElementsAre("stale_handle", "stale_handle"));
  EXPECT_EQ(bed.guest.violations()[0].api, "VmbPacketFree");
  EXPECT_EQ(bed.guest.violations()[0].detail, "VMBPACKET was freed");
  EXPECT_EQ(bed.guest.violations()[1].api, "VmbChannelGetPointer");
  EXPECT_EQ(bed.guest.violations()[1].detail, "VMBCHANNEL was cleaned up");
  bed.run_until_idle();
}

TEST_F(Verifier, CompletionHandleDroppedAtCloseIsStale) {
  VmbChannelSetIncomingProcessingAtPassive(bed.guest_channel(), TRUE);
  bed.vsc.set_default_action(action_of(PacketAction::kDefer));
  bed.vsp.send(u64_bytes(0), kWait);
  // Deliver once (deferred), then stop the device's worker from going on.
  while (bed.vsc.records().empty()) {
    bed.guest.step(bed.guest.ready_contexts().front());
  }
  auto packet = reinterpret_cast<VMBPACKETCOMPLETION>(bed.vsc.records()[0].handle);
  bed.vsc.clear_rules();
  VmbChannelDisable(bed.guest_channel());  // the deferred packet is held: dropped
  EXPECT_EQ(bed.guest.channel_stats(bed.guest_channel()).dropped_at_close, 1u);
  VmbChannelPacketComplete(packet, nullptr, 0);
  const Violation& v = only_violation();
  EXPECT_EQ(v.code, ViolationCode::kStaleHandle);
  EXPECT_EQ(v.detail, "the packet was already dropped at close; the call is ignored");
  bed.run_until_idle();
}

TEST_F(Verifier, BlockingCallAtDispatchIsWrongIrqlAndReturnsAtOnce) {
  bed.vsc.set_default_action(misuse(Misuse::kPauseInline));
  bed.vsp.send(u64_bytes(0), kWait);
  bed.run_until_idle();
  const Violation& v = only_violation();
  EXPECT_EQ(v.code, ViolationCode::kWrongIrql);
  EXPECT_EQ(v.api, "VmbChannelPause");
  EXPECT_EQ(v.context, "dpc/1");
  EXPECT_EQ(v.irql, DISPATCH_LEVEL);
  EXPECT_THAT(v.detail, HasSubstr("requires PASSIVE_LEVEL (it blocks)"));
  // Nothing was paused; the packet was completed after the bad call.
  EXPECT_EQ(bed.guest.queue_state(bed.guest_channel()), QueueState::kRunning);
  EXPECT_EQ(bed.vsp.send_completions().size(), 1u);
}

TEST_F(Verifier, SynchronousRequestAtDispatchIsWrongIrqlPerTheDocumentedRule) {
  bed.vsc.set_default_action(misuse(Misuse::kSendSyncInline));
  bed.vsp.send(u64_bytes(0), kWait);
  bed.run_until_idle();
  const Violation& v = only_violation();
  EXPECT_EQ(v.code, ViolationCode::kWrongIrql);
  EXPECT_EQ(v.api, "VmbChannelSendSynchronousRequest");
  EXPECT_THAT(v.detail, HasSubstr("(documented)"));
  EXPECT_EQ(bed.host.channel_stats(bed.host_channel()).packets_dequeued, 0u);
}

TEST_F(Verifier, AllocateAtDispatchIsWrongIrqlPerTheDocumentedRule) {
  NTSTATUS status = STATUS_PENDING;
  VMBCHANNEL channel = nullptr;
  Device& guest = bed.guest;
  bed.guest.create_work_queue("dpc", DISPATCH_LEVEL).post([&] {
    status = VmbChannelAllocate(&guest, FALSE, &channel);
  });
  bed.run_until_idle();
  EXPECT_EQ(status, STATUS_INVALID_DEVICE_STATE);
  EXPECT_EQ(channel, nullptr);
  const Violation& v = only_violation();
  EXPECT_EQ(v.code, ViolationCode::kWrongIrql);
  EXPECT_EQ(v.context, "work/dpc");
}

class RelaxedIrql : public Verifier {
 protected:
  RelaxedIrql() : Verifier(options()) {}
  static BedOptions options() {
    BedOptions o;
    o.guest_config.verifier.enforce_inferred_irql = false;
    return o;
  }
};

TEST_F(RelaxedIrql, InferredRulesCanBeSwitchedOffButBlockingAtDispatchNever) {
  NTSTATUS status = STATUS_PENDING;
  const VMBCHANNEL channel = bed.guest_channel();
  bed.guest.create_work_queue("dpc", DISPATCH_LEVEL).post([&status, channel] {
    VmbChannelStart(channel);                     // inferred PASSIVE: not enforced
    status = VmbChannelInitSetFlags(channel, 0);  // inferred PASSIVE: not enforced...
    VmbChannelDisable(channel);                   // ...but it blocks: always enforced
  });
  bed.run_until_idle();
  EXPECT_EQ(status, STATUS_INVALID_PARAMETER_1);  // init_after_enable still applies
  ASSERT_THAT(codes(bed.guest), ElementsAre("init_after_enable", "wrong_irql"));
  EXPECT_EQ(bed.guest.violations()[1].api, "VmbChannelDisable");
  EXPECT_EQ(bed.guest.channel_state(channel), ChannelState::kOpen);
}

TEST_F(Verifier, PacketNeverRetiredMakesTheCloseStallAndIsReported) {
  bed.vsc.set_default_action(action_of(PacketAction::kLeaveOutstanding));
  bed.vsp.send(u64_bytes(0), kWait);
  bed.run_until_idle();
  const VMBCHANNEL channel = bed.guest_channel();
  bed.spawn_guest_thread("remover", [channel] { VmbChannelDisable(channel); });
  bed.run_until_idle();
  ASSERT_EQ(bed.guest.blocked_waits().size(), 1u);
  EXPECT_FALSE(bed.guest.next_deadline_ns().has_value());
  // The scheduler found nothing runnable anywhere: it asks for the report.
  bed.guest.report_stall();
  ASSERT_THAT(codes(bed.guest), ElementsAre("packet_not_retired_at_close", "wait_never_satisfied"));
  const Violation& packet = bed.guest.violations()[0];
  EXPECT_EQ(packet.api, "VmbChannelDisable");
  EXPECT_EQ(packet.handle, bed.vsc.records()[0].handle);
  EXPECT_EQ(packet.context, "thread/remover");
  EXPECT_THAT(packet.detail, HasSubstr("packet #0 was delivered and never retired"));
  bed.guest.report_stall();  // reported once per wait
  EXPECT_EQ(bed.guest.violations().size(), 2u);
  bed.vsc.complete_outstanding();
  bed.run_until_idle();
  EXPECT_FALSE(bed.guest.thread_running("remover"));
  EXPECT_EQ(bed.guest.channel_state(channel), ChannelState::kDisabled);
}

TEST_F(Verifier, WaitThatNothingCanSatisfyIsReportedAsWaitNeverSatisfied) {
  bed.vsp.set_default_action(action_of(PacketAction::kLeaveOutstanding));
  const VMBCHANNEL channel = bed.guest_channel();
  NTSTATUS status = STATUS_PENDING;
  bed.spawn_guest_thread("ask", [channel, &status] {
    std::uint64_t body = 0;
    status = VmbChannelSendSynchronousRequest(channel, &body, sizeof(body), nullptr, kWait, nullptr,
                                              nullptr, nullptr);
  });
  bed.run_until_idle();
  bed.guest.report_stall();
  const Violation& v = only_violation();
  EXPECT_EQ(v.code, ViolationCode::kWaitNeverSatisfied);
  EXPECT_EQ(v.api, "VmbChannelSendSynchronousRequest");
  EXPECT_EQ(v.context, "thread/ask");
  EXPECT_EQ(v.detail,
            "thread/ask waits for the completion of synchronous request trans_id 1 on ch1, and "
            "no context of any device can make progress");
  bed.vsp.complete_outstanding();
  bed.run_until_idle();
  EXPECT_EQ(status, STATUS_SUCCESS);
}

TEST_F(Verifier, SendOnAChannelThatIsNotOpenIsRecordedQueuedAndCancelledAtCleanup) {
  VmbChannelDisable(bed.guest_channel());
  bed.run_until_idle();
  bed.vsc.clear_log();
  EXPECT_EQ(bed.vsc.send(u64_bytes(0), kWait), 0);
  const Violation& v = only_violation();
  EXPECT_EQ(v.code, ViolationCode::kSendOnChannelNotOpen);
  EXPECT_EQ(v.api, "VmbPacketSend");
  EXPECT_THAT(v.detail, HasSubstr("disabled"));
  EXPECT_EQ(bed.guest.channel_stats(bed.guest_channel()).queued_sends, 1u);
  VmbChannelCleanup(bed.guest_channel());
  EXPECT_THAT(bed.vsc.log(), ElementsAre("Completion send#0 PASSIVE external STATUS_CANCELLED 0B"));
}

TEST_F(Verifier, InitAfterEnableIsRecordedAndRefused) {
  EXPECT_EQ(VmbChannelInitSetMaximumPacketSize(bed.guest_channel(), 128),
            STATUS_INVALID_PARAMETER_1);
  const Violation& v = only_violation();
  EXPECT_EQ(v.code, ViolationCode::kInitAfterEnable);
  EXPECT_EQ(v.api, "VmbChannelInitSetMaximumPacketSize");
  EXPECT_EQ(bed.guest.channel_config(bed.guest_channel()).maximum_packet_size_bytes, 4096u);
}

TEST_F(Verifier, InitAfterEnableFromTheCallbackIsRecordedToo) {
  bed.vsc.set_default_action(misuse(Misuse::kInitAfterEnable));
  bed.vsp.send(u64_bytes(0), kWait);
  bed.run_until_idle();
  EXPECT_EQ(only_violation().code, ViolationCode::kInitAfterEnable);
  EXPECT_EQ(only_violation().context, "dpc/1");
}

TEST(VerifierStateCalls, PauseFromAStateChangeCallbackIsRecordedAndIgnored) {
  TestBed bed;
  bed.vsc.on_post_started = [](VMBCHANNEL channel) { VmbChannelPause(channel); };
  bed.open();
  ASSERT_THAT(codes(bed.guest), ElementsAre("state_call_in_callback"));
  EXPECT_EQ(bed.guest.violations()[0].context, "passive");
  EXPECT_EQ(bed.guest.violations()[0].api, "VmbChannelPause");
  EXPECT_EQ(bed.guest.queue_state(bed.guest_channel()), QueueState::kRunning);
}

VOID ignore_completion(VMBPACKET, NTSTATUS, PVOID, UINT32) {}

TEST_F(Verifier, SendingOrFreeingAPacketObjectStillInFlightIsRecordedAndRefused) {
  bed.vsp.set_default_action(action_of(PacketAction::kLeaveOutstanding));
  VMBPACKET packet = VmbPacketAllocate(bed.guest_channel());
  VmbPacketSetCompletionRoutine(packet, ignore_completion);
  std::uint64_t body = 1;
  ASSERT_EQ(VmbPacketSend(packet, &body, sizeof(body), nullptr, kWait), STATUS_SUCCESS);
  EXPECT_EQ(VmbPacketSend(packet, &body, sizeof(body), nullptr, kWait),
            STATUS_INVALID_DEVICE_STATE);
  VmbPacketFree(packet);
  ASSERT_THAT(codes(bed.guest), ElementsAre("send_packet_in_flight", "free_packet_in_flight"));
  bed.run_until_idle();
  bed.vsp.complete_outstanding();
  bed.run_until_idle();
  VmbPacketFree(packet);  // completed now: fine
  EXPECT_EQ(bed.guest.violations().size(), 2u);
  EXPECT_EQ(bed.vsp.packets_seen(), 1u);
}

TEST_F(Verifier, InitializedPacketSentWithoutACompletionRoutineIsRecordedAndRefused) {
  alignas(16) std::array<std::byte, 8192> storage{};
  auto packet = reinterpret_cast<VMBPACKET>(storage.data());
  ASSERT_EQ(VmbPacketInitialize(bed.guest_channel(), packet, storage.size()), STATUS_SUCCESS);
  std::uint64_t body = 1;
  EXPECT_EQ(VmbPacketSend(packet, &body, sizeof(body), nullptr, 0), STATUS_INVALID_DEVICE_STATE);
  EXPECT_EQ(only_violation().code, ViolationCode::kSendWithoutCompletionRoutine);
  VmbPacketSetCompletionRoutine(packet, ignore_completion);
  EXPECT_EQ(VmbPacketSend(packet, &body, sizeof(body), nullptr, 0), STATUS_SUCCESS);
  bed.run_until_idle();
  VmbPacketFree(packet);
  EXPECT_EQ(bed.guest.violations().size(), 1u);
}

TEST_F(Verifier, CleanupOfAChannelThatIsNotDisabledIsRecordedAndIgnored) {
  VmbChannelCleanup(bed.guest_channel());
  EXPECT_EQ(only_violation().code, ViolationCode::kCleanupWhileEnabled);
  EXPECT_EQ(bed.guest.channel_state(bed.guest_channel()), ChannelState::kOpen);
}

TEST_F(Verifier, CompletionPayloadAboveTheMaximumPacketSizeIsRecordedAndTruncated) {
  Action big;
  big.completion = std::vector<std::byte>(5000);
  bed.vsc.set_default_action(big);
  bed.vsp.send(u64_bytes(0), kWait);
  bed.run_until_idle();
  EXPECT_EQ(only_violation().code, ViolationCode::kCompletionBufferTooLarge);
  ASSERT_EQ(bed.vsp.send_completions().size(), 1u);
  EXPECT_EQ(bed.vsp.send_completions()[0].payload.size(), 4096u);
}

TEST_F(Verifier, ZeroQuotaIsAnInvalidParameterAndIgnored) {
  VmbChannelSetTransactionQuota(bed.guest_channel(), 0);
  EXPECT_EQ(only_violation().code, ViolationCode::kInvalidParameter);
  EXPECT_EQ(bed.guest.channel_stats(bed.guest_channel()).quota, 0xFFFFFFFFu);
}

class StopMode : public Verifier {
 protected:
  StopMode() : Verifier(options()) {}
  static BedOptions options() {
    BedOptions o;
    o.guest_config.verifier.mode = VerifierMode::kStop;
    o.guest_config.verifier.defer_livelock_limit = 2;
    return o;
  }
};

TEST_F(StopMode, FirstViolationStopsTheDeviceLikeABugCheck) {
  bed.vsc.set_default_action(action_of(PacketAction::kDefer));
  bed.vsp.send(u64_bytes(0), kWait);
  bed.vsp.send(u64_bytes(1), kWait);
  bed.run_until_idle();
  ASSERT_NE(bed.guest.bugcheck(), nullptr);
  EXPECT_EQ(bed.guest.bugcheck()->code, ViolationCode::kDeferLivelock);
  EXPECT_THAT(bed.guest.ready_contexts(), IsEmpty());
  // The third delivery was the one that crossed the limit; nothing after it.
  EXPECT_THAT(bed.vsc.log(), ElementsAre("ProcessPacket #0 DISPATCH dpc/1 defer",
                                         "ProcessPacket #0 PASSIVE passive defer",
                                         "ProcessPacket #0 PASSIVE passive defer"));
  // Later calls do nothing and report nothing.
  EXPECT_EQ(VmbChannelGetPointer(bed.guest_channel()), nullptr);
  VmbChannelSetTransactionQuota(bed.guest_channel(), 0);
  EXPECT_EQ(bed.guest.violations().size(), 1u);
  EXPECT_EQ(sink.violations.size(), 1u);
}

}  // namespace
}  // namespace vmbus::kmcl::testing
