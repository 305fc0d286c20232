#include "vmbus/hypervisor/synic.h"

#include <cstring>

#include <gtest/gtest.h>

#include "vmbus/wire/codec.h"
#include "vmbus/wire/messages.h"
#include "vmbus/wire/synic.h"

#include "synic_messages.h"

namespace vmbus::hypervisor {
namespace {

using testing::kLatency;
using testing::kToGuest;
using testing::kToHost;
using testing::torndown;

using Stage = proto::MessageEvent;
using SignalStage = proto::SignalRecord;

ScheduleDelivery message_delivery(Side target) {
  return ScheduleDelivery{Event{Event::Kind::kDeliverMessage, target}, kLatency.message_ns};
}

ScheduleDelivery event_delivery(Side target) {
  return ScheduleDelivery{Event{Event::Kind::kDeliverEvents, target}, kLatency.signal_ns};
}

class SynicTest : public ::testing::Test {
 protected:
  SynicTest() { synic_.set_message_ports(Side::kHost, {wire::kVmbusMessageConnectionId4}); }

  PostResult host_posts(const SynicMessage& message) {
    return synic_.post(Side::kHost, wire::kHvMessageTypeVmbus, message, faults_);
  }

  Effects deliver(Event::Kind kind, Side target) { return synic_.on_event(Event{kind, target}); }

  Synic synic_{kLatency};
  Faults faults_{kLatency};
};

TEST_F(SynicTest, APostToAFreeSlotSchedulesItsDelivery) {
  const PostResult result = host_posts(torndown(7));

  EXPECT_EQ(result.status, wire::kHvStatusSuccess);
  EXPECT_EQ(result.effects, (Effects{TraceMessage{Stage::STAGE_POSTED, kToGuest, torndown(7)},
                                     message_delivery(Side::kGuest)}));
}

TEST_F(SynicTest, APostBehindAnotherIsQueuedAndSchedulesNothing) {
  host_posts(torndown(1));

  const PostResult result = host_posts(torndown(2));

  EXPECT_EQ(result.status, wire::kHvStatusSuccess);
  EXPECT_EQ(result.effects, (Effects{TraceMessage{Stage::STAGE_POSTED, kToGuest, torndown(2)},
                                     TraceMessage{Stage::STAGE_QUEUED, kToGuest, torndown(2)}}));
}

TEST_F(SynicTest, SixteenQueuedMessagesRefuseTheNextWithInsufficientBuffers) {
  for (std::uint32_t i = 0; i < kMessageQueueDepth; ++i) {
    ASSERT_EQ(host_posts(torndown(i)).status, wire::kHvStatusSuccess) << "message " << i;
  }

  const PostResult result = host_posts(torndown(16));

  EXPECT_EQ(result.status, wire::kHvStatusInsufficientBuffers);
  EXPECT_EQ(
      result.effects,
      (Effects{TraceMessage{Stage::STAGE_REJECTED, kToGuest, torndown(16), "message queue full"}}));
  EXPECT_EQ(synic_.queued_messages(Side::kGuest), kMessageQueueDepth);
}

TEST_F(SynicTest, ADeliveryFreesABufferForTheNextPost) {
  for (std::uint32_t i = 0; i < kMessageQueueDepth; ++i) {
    host_posts(torndown(i));
  }
  deliver(Event::Kind::kDeliverMessage, Side::kGuest);

  EXPECT_EQ(host_posts(torndown(16)).status, wire::kHvStatusSuccess);
}

TEST_F(SynicTest, MsgPendingIsSetOnlyWhileMoreMessagesWait) {
  host_posts(torndown(1));
  host_posts(torndown(2));

  const Effects first = deliver(Event::Kind::kDeliverMessage, Side::kGuest);
  const Effects eom = synic_.end_of_message(Side::kGuest, wire::kVmbusMessageSint);
  const Effects second = deliver(Event::Kind::kDeliverMessage, Side::kGuest);

  EXPECT_EQ(first, (Effects{TraceMessage{Stage::STAGE_DELIVERED, kToGuest, torndown(1), "", true},
                            DeliverSlot{Side::kGuest, torndown(1), true}}));
  EXPECT_EQ(eom, (Effects{message_delivery(Side::kGuest)}));
  EXPECT_EQ(second, (Effects{TraceMessage{Stage::STAGE_DELIVERED, kToGuest, torndown(2), "", false},
                             DeliverSlot{Side::kGuest, torndown(2), false}}));
}

TEST_F(SynicTest, TheNextMessageWaitsForTheEndOfMessage) {
  host_posts(torndown(1));
  deliver(Event::Kind::kDeliverMessage, Side::kGuest);

  const PostResult result = host_posts(torndown(2));

  EXPECT_EQ(result.effects, (Effects{TraceMessage{Stage::STAGE_POSTED, kToGuest, torndown(2)},
                                     TraceMessage{Stage::STAGE_QUEUED, kToGuest, torndown(2)}}));
  EXPECT_EQ(synic_.end_of_message(Side::kGuest, wire::kVmbusMessageSint),
            (Effects{message_delivery(Side::kGuest)}));
}

TEST_F(SynicTest, AnEndOfMessageWithNothingQueuedSchedulesNothing) {
  host_posts(torndown(1));
  deliver(Event::Kind::kDeliverMessage, Side::kGuest);

  EXPECT_EQ(synic_.end_of_message(Side::kGuest, wire::kVmbusMessageSint), Effects{});
}

TEST_F(SynicTest, AnEndOfMessageForAnEmptySlotIsAProtocolError) {
  EXPECT_EQ(
      synic_.end_of_message(Side::kGuest, wire::kVmbusMessageSint),
      (Effects{ProtocolError{Side::kGuest, "sent EOM for SINT 2 with no message in its slot"}}));
}

TEST_F(SynicTest, AnEndOfMessageForAnotherSintIsAProtocolError) {
  host_posts(torndown(1));
  deliver(Event::Kind::kDeliverMessage, Side::kGuest);

  EXPECT_EQ(
      synic_.end_of_message(Side::kGuest, 3),
      (Effects{ProtocolError{Side::kGuest, "sent EOM for SINT 3 with no message in its slot"}}));
}

TEST_F(SynicTest, AMessageTypeOtherThanVmbusIsRefused) {
  const PostResult result =
      synic_.post(Side::kHost, wire::kHvMessageTypeTimerExpired, torndown(1), faults_);

  EXPECT_EQ(result.status, wire::kHvStatusInvalidParameter);
  EXPECT_EQ(result.effects, (Effects{TraceMessage{Stage::STAGE_REJECTED, kToGuest, torndown(1),
                                                  "message type 2147483664 is not 1 (VMBus)"}}));
}

TEST_F(SynicTest, APayloadOver240BytesIsRefusedAnd240Pass) {
  const SynicMessage too_long{1, std::string(241, 'x')};
  const SynicMessage longest{1, std::string(240, 'x')};

  const PostResult refused = host_posts(too_long);

  EXPECT_EQ(refused.status, wire::kHvStatusInvalidParameter);
  EXPECT_EQ(refused.effects, (Effects{TraceMessage{Stage::STAGE_REJECTED, kToGuest, too_long,
                                                   "payload of 241 bytes exceeds 240"}}));
  EXPECT_EQ(host_posts(longest).status, wire::kHvStatusSuccess);
}

TEST_F(SynicTest, TheGuestMayPostOnlyToAConnectionIdTheHostListensOn) {
  const SynicMessage to_port{wire::kVmbusMessageConnectionId4, "hello!!!"};
  const SynicMessage no_port{wire::kVmbusMessageConnectionId, "hello!!!"};

  const PostResult refused = synic_.post(Side::kGuest, wire::kHvMessageTypeVmbus, no_port, faults_);
  const PostResult accepted =
      synic_.post(Side::kGuest, wire::kHvMessageTypeVmbus, to_port, faults_);

  EXPECT_EQ(refused.status, wire::kHvStatusInvalidConnectionId);
  EXPECT_EQ(refused.effects, (Effects{TraceMessage{Stage::STAGE_REJECTED, kToHost, no_port,
                                                   "no port for connection id 1"}}));
  EXPECT_EQ(accepted.status, wire::kHvStatusSuccess);
}

TEST_F(SynicTest, TheHostsPostsAreNotCheckedAgainstPorts) {
  EXPECT_EQ(host_posts(torndown(1, 999)).status, wire::kHvStatusSuccess);
}

TEST_F(SynicTest, ASignalToTheGuestSchedulesOneInterrupt) {
  const Effects effects = synic_.signal(Side::kHost, 0x10005, 5, faults_);

  EXPECT_EQ(effects, (Effects{TraceSignal{SignalStage::STAGE_SIGNALLED, kToGuest, 0, 5},
                              event_delivery(Side::kGuest)}));
}

TEST_F(SynicTest, ASignalWhileAnInterruptIsPendingCoalesces) {
  synic_.signal(Side::kHost, 0, 5, faults_);

  const Effects second = synic_.signal(Side::kHost, 0, 6, faults_);
  const Effects again = synic_.signal(Side::kHost, 0, 5, faults_);
  const Effects delivered = deliver(Event::Kind::kDeliverEvents, Side::kGuest);

  EXPECT_EQ(second, (Effects{TraceSignal{SignalStage::STAGE_COALESCED, kToGuest, 0, 6}}));
  EXPECT_EQ(again, (Effects{TraceSignal{SignalStage::STAGE_COALESCED, kToGuest, 0, 5}}));
  EXPECT_EQ(delivered, (Effects{TraceSignal{SignalStage::STAGE_DELIVERED, kToGuest, 0, 5},
                                TraceSignal{SignalStage::STAGE_DELIVERED, kToGuest, 0, 6},
                                DeliverEventFlags{Side::kGuest, {5, 6}, {}}}));
}

TEST_F(SynicTest, ASignalAfterTheDeliveryRaisesANewInterrupt) {
  synic_.signal(Side::kHost, 0, 5, faults_);
  deliver(Event::Kind::kDeliverEvents, Side::kGuest);

  EXPECT_EQ(synic_.signal(Side::kHost, 0, 5, faults_),
            (Effects{TraceSignal{SignalStage::STAGE_SIGNALLED, kToGuest, 0, 5},
                     event_delivery(Side::kGuest)}));
}

TEST_F(SynicTest, ASignalToTheHostNamesTheConnectionId) {
  const Effects effects = synic_.signal(Side::kGuest, 0x10005, 5, faults_);
  const Effects delivered = deliver(Event::Kind::kDeliverEvents, Side::kHost);

  EXPECT_EQ(effects, (Effects{TraceSignal{SignalStage::STAGE_SIGNALLED, kToHost, 0x10005, 0},
                              event_delivery(Side::kHost)}));
  EXPECT_EQ(delivered, (Effects{TraceSignal{SignalStage::STAGE_DELIVERED, kToHost, 0x10005, 0},
                                DeliverEventFlags{Side::kHost, {}, {0x10005}}}));
}

TEST_F(SynicTest, RelidZeroToTheGuestIsRejected) {
  EXPECT_EQ(synic_.signal(Side::kHost, 0x10000, 0, faults_),
            (Effects{TraceSignal{SignalStage::STAGE_REJECTED, kToGuest, 0, 0}}));
  EXPECT_EQ(synic_.signal(Side::kHost, 0, 3, faults_),
            (Effects{TraceSignal{SignalStage::STAGE_SIGNALLED, kToGuest, 0, 3},
                     event_delivery(Side::kGuest)}));
}

TEST_F(SynicTest, AnExtraInterruptMergesWithOneOnItsWay) {
  synic_.signal(Side::kHost, 0, 5, faults_);
  Event extra{Event::Kind::kExtraInterrupt, Side::kGuest};
  extra.child_relid = 7;

  EXPECT_EQ(synic_.on_event(extra), Effects{});
  EXPECT_EQ(deliver(Event::Kind::kDeliverEvents, Side::kGuest),
            (Effects{TraceSignal{SignalStage::STAGE_DELIVERED, kToGuest, 0, 5},
                     TraceSignal{SignalStage::STAGE_DELIVERED, kToGuest, 0, 7},
                     DeliverEventFlags{Side::kGuest, {5, 7}, {}}}));
}

TEST_F(SynicTest, AnExtraInterruptWithNoneOnItsWayIsDeliveredAtOnce) {
  Event extra{Event::Kind::kExtraInterrupt, Side::kHost};
  extra.connection_id = 0x10003;

  EXPECT_EQ(synic_.on_event(extra),
            (Effects{TraceSignal{SignalStage::STAGE_DELIVERED, kToHost, 0x10003, 0},
                     DeliverEventFlags{Side::kHost, {}, {0x10003}}}));
}

TEST_F(SynicTest, ADelayedMessageJoinsTheQueueWhenItArrives) {
  Event delayed{Event::Kind::kDelayedMessage, Side::kGuest};
  delayed.message = torndown(9);

  EXPECT_EQ(synic_.on_event(delayed), (Effects{message_delivery(Side::kGuest)}));
  EXPECT_EQ(synic_.queued_messages(Side::kGuest), 1u);
}

TEST_F(SynicTest, FaultEffectsComeBetweenThePostAndTheQueue) {
  host_posts(torndown(1));
  ArmMessageFault duplicate;
  duplicate.kind = ArmMessageFault::Kind::kDuplicate;
  faults_.arm(duplicate);

  const PostResult result = host_posts(torndown(2));

  EXPECT_EQ(
      result.effects,
      (Effects{TraceMessage{Stage::STAGE_POSTED, kToGuest, torndown(2)},
               TraceFault{"message_duplicated", "host->guest CHANNELMSG_GPADL_TORNDOWN gpadl=0x2"},
               TraceMessage{Stage::STAGE_QUEUED, kToGuest, torndown(2)}}));
  EXPECT_EQ(synic_.queued_messages(Side::kGuest), 3u);
}

TEST_F(SynicTest, ADuplicatedSignalSchedulesAnExtraInterruptAndIsStillRaised) {
  ArmSignalFault duplicate;
  duplicate.kind = ArmSignalFault::Kind::kDuplicate;
  faults_.arm(duplicate);

  const Effects effects = synic_.signal(Side::kHost, 0, 5, faults_);

  Event extra{Event::Kind::kExtraInterrupt, Side::kGuest};
  extra.child_relid = 5;
  EXPECT_EQ(effects, (Effects{TraceFault{"interrupt_duplicated", "host->guest relid 5"},
                              ScheduleExactly{extra, 2 * kLatency.signal_ns},
                              TraceSignal{SignalStage::STAGE_SIGNALLED, kToGuest, 0, 5},
                              event_delivery(Side::kGuest)}));
}

TEST_F(SynicTest, ADroppedSignalRaisesNothing) {
  ArmSignalFault drop;
  drop.kind = ArmSignalFault::Kind::kDrop;
  faults_.arm(drop);

  const Effects effects = synic_.signal(Side::kHost, 0, 5, faults_);

  EXPECT_EQ(effects, (Effects{TraceSignal{SignalStage::STAGE_SIGNALLED, kToGuest, 0, 5},
                              TraceFault{"interrupt_dropped", "host->guest relid 5"}}));
  EXPECT_EQ(synic_.signal(Side::kHost, 0, 6, faults_),
            (Effects{TraceSignal{SignalStage::STAGE_SIGNALLED, kToGuest, 0, 6},
                     event_delivery(Side::kGuest)}));
}

TEST_F(SynicTest, TheSlotCarriesTheMessageAndItsPendingFlag) {
  const SynicMessage message = torndown(0xe1e10, 4);

  const std::string bytes = hv_message_bytes(DeliverSlot{Side::kGuest, message, true});

  ASSERT_EQ(bytes.size(), sizeof(wire::HvMessage));
  wire::HvMessage slot;
  std::memcpy(&slot, bytes.data(), sizeof(slot));
  EXPECT_EQ(slot.message_type, wire::kHvMessageTypeVmbus);
  EXPECT_EQ(slot.payload_size, message.payload.size());
  EXPECT_EQ(slot.message_flags, wire::kHvMessageFlagPending);
  EXPECT_EQ(slot.sender, 4u);
  EXPECT_EQ(std::memcmp(slot.payload, message.payload.data(), message.payload.size()), 0);
}

// --- virtual processors ----------------------------------------------------------

ScheduleDelivery event_delivery_to_vp(std::uint32_t vp) {
  Event event{Event::Kind::kDeliverEvents, Side::kGuest};
  event.vp = vp;
  return ScheduleDelivery{event, kLatency.signal_ns};
}

Effects deliver_to_vp(Synic& synic, std::uint32_t vp) {
  Event event{Event::Kind::kDeliverEvents, Side::kGuest};
  event.vp = vp;
  return synic.on_event(event);
}

TraceSignal guest_signal(SignalStage::Stage stage, std::uint32_t relid, std::uint32_t vp) {
  return TraceSignal{stage, kToGuest, 0, relid, vp};
}

DeliverEventFlags flags_on_vp(std::vector<std::uint32_t> relids, std::uint32_t vp) {
  DeliverEventFlags flags{Side::kGuest, std::move(relids), {}};
  flags.vp = vp;
  return flags;
}

class SynicVpTest : public SynicTest {
 protected:
  SynicVpTest() { synic_.set_guest_vp_count(2); }

  void arm_old_vp() {
    ArmSignalFault old_vp;
    old_vp.kind = ArmSignalFault::Kind::kOldVp;
    faults_.arm(old_vp);
  }
};

TEST_F(SynicVpTest, AChannelsInterruptGoesToItsTargetVpAndTheRecordsNameIt) {
  EXPECT_EQ(synic_.set_event_target(5, 1), Effects{});

  EXPECT_EQ(synic_.signal(Side::kHost, 0, 5, faults_),
            (Effects{guest_signal(SignalStage::STAGE_SIGNALLED, 5, 1), event_delivery_to_vp(1)}));
  EXPECT_EQ(deliver_to_vp(synic_, 1),
            (Effects{guest_signal(SignalStage::STAGE_DELIVERED, 5, 1), flags_on_vp({5}, 1)}));
  EXPECT_EQ(synic_.target_vp(5), 1u);
  EXPECT_EQ(synic_.target_vp(6), 0u);  // never routed: VP 0
}

TEST_F(SynicVpTest, EachVpCoalescesItsOwnFlagsAndRaisesItsOwnInterrupt) {
  synic_.set_event_target(5, 1);
  synic_.signal(Side::kHost, 0, 5, faults_);

  EXPECT_EQ(synic_.signal(Side::kHost, 0, 6, faults_),
            (Effects{guest_signal(SignalStage::STAGE_SIGNALLED, 6, 0), event_delivery_to_vp(0)}));
  EXPECT_EQ(synic_.signal(Side::kHost, 0, 5, faults_),
            (Effects{guest_signal(SignalStage::STAGE_COALESCED, 5, 1)}));
  EXPECT_EQ(deliver_to_vp(synic_, 0),
            (Effects{guest_signal(SignalStage::STAGE_DELIVERED, 6, 0), flags_on_vp({6}, 0)}));
  EXPECT_EQ(deliver_to_vp(synic_, 1),
            (Effects{guest_signal(SignalStage::STAGE_DELIVERED, 5, 1), flags_on_vp({5}, 1)}));
}

TEST_F(SynicVpTest, ARouteToAVpTheGuestDoesNotHaveIsAProtocolErrorOfTheHost) {
  EXPECT_EQ(
      synic_.set_event_target(5, 2),
      (Effects{ProtocolError{
          Side::kHost, "routed relid 5's interrupts to vp 2, which the guest does not have"}}));
  EXPECT_EQ(synic_.target_vp(5), 0u);
}

TEST_F(SynicVpTest, AnExtraInterruptGoesToTheChannelsTargetVp) {
  synic_.set_event_target(5, 1);
  Event extra{Event::Kind::kExtraInterrupt, Side::kGuest};
  extra.child_relid = 5;

  EXPECT_EQ(synic_.on_event(extra),
            (Effects{guest_signal(SignalStage::STAGE_DELIVERED, 5, 1), flags_on_vp({5}, 1)}));
}

TEST_F(SynicVpTest, AnOldVpFaultLandsTheNextInterruptAfterARetargetOnTheOldVp) {
  synic_.set_event_target(5, 1);  // from VP 0
  arm_old_vp();

  EXPECT_EQ(synic_.signal(Side::kHost, 0, 5, faults_),
            (Effects{TraceFault{"interrupt_on_old_vp",
                                "host->guest relid 5 lands on vp 0: the retarget has not taken "
                                "effect yet"},
                     guest_signal(SignalStage::STAGE_SIGNALLED, 5, 0), event_delivery_to_vp(0)}));
  deliver_to_vp(synic_, 0);
  // The rule is used up: the next interrupt takes the new route ...
  EXPECT_EQ(synic_.signal(Side::kHost, 0, 5, faults_),
            (Effects{guest_signal(SignalStage::STAGE_SIGNALLED, 5, 1), event_delivery_to_vp(1)}));
  deliver_to_vp(synic_, 1);
  // ... and once one has reached the new VP, the move is over: a new rule
  // finds nothing in flight.
  arm_old_vp();
  EXPECT_EQ(synic_.signal(Side::kHost, 0, 5, faults_),
            (Effects{guest_signal(SignalStage::STAGE_SIGNALLED, 5, 1), event_delivery_to_vp(1)}));
}

TEST_F(SynicVpTest, AnOldVpFaultLeavesChannelsThatAreNotMovingAlone) {
  arm_old_vp();

  EXPECT_EQ(synic_.signal(Side::kHost, 0, 6, faults_),
            (Effects{guest_signal(SignalStage::STAGE_SIGNALLED, 6, 0), event_delivery_to_vp(0)}));
  synic_.set_event_target(5, 1);
  // The rule is still armed for the channel that moves.
  EXPECT_EQ(synic_.signal(Side::kHost, 0, 5, faults_).front(),
            (Effect{TraceFault{"interrupt_on_old_vp",
                               "host->guest relid 5 lands on vp 0: the retarget has not taken "
                               "effect yet"}}));
}

TEST_F(SynicTest, WithOneVpNoSignalRecordNamesAVp) {
  const Effects effects = synic_.signal(Side::kHost, 0, 5, faults_);

  ASSERT_FALSE(effects.empty());
  EXPECT_FALSE(std::get<TraceSignal>(effects.front()).vp.has_value());
  EXPECT_EQ(synic_.guest_vp_count(), 1u);
}

}  // namespace
}  // namespace vmbus::hypervisor
