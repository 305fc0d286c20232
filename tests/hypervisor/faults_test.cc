#include "vmbus/hypervisor/faults.h"

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

using Messages = std::vector<SynicMessage>;
using Kind = ArmMessageFault::Kind;
using SignalKind = ArmSignalFault::Kind;
using SignalStage = proto::SignalRecord;

constexpr std::uint32_t kGpadlTorndown = 12;

// A CHANNELMSG_UNLOAD (8 bytes, header only).
SynicMessage unload() {
  const std::vector<std::byte> bytes = wire::encode_message(wire::Unload{});
  return SynicMessage{1, std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size())};
}

ArmMessageFault message_fault(Kind kind, std::uint32_t count = 1) {
  ArmMessageFault fault;
  fault.direction = kToGuest;
  fault.kind = kind;
  fault.count = count;
  return fault;
}

ArmSignalFault signal_fault(SignalKind kind, Direction direction = kToGuest,
                            std::uint32_t child_relid = 0) {
  ArmSignalFault fault;
  fault.direction = direction;
  fault.kind = kind;
  fault.child_relid = child_relid;
  return fault;
}

Event extra_interrupt_at_guest(std::uint32_t child_relid) {
  Event event{Event::Kind::kExtraInterrupt, Side::kGuest};
  event.child_relid = child_relid;
  return event;
}

Event extra_interrupt_at_host(std::uint32_t connection_id) {
  Event event{Event::Kind::kExtraInterrupt, Side::kHost};
  event.connection_id = connection_id;
  return event;
}

TEST(Faults, WithNoRuleArmedAMessagePassesUnchanged) {
  Faults faults(kLatency);

  const MessageFate fate = faults.on_message(kToGuest, torndown(1));

  EXPECT_EQ(fate.effects, Effects{});
  EXPECT_EQ(fate.deliver, Messages{torndown(1)});
}

TEST(Faults, ADropRuleDropsTheNextMessageAndTracesIt) {
  Faults faults(kLatency);
  faults.arm(message_fault(Kind::kDrop));

  const MessageFate dropped = faults.on_message(kToGuest, torndown(1));
  const MessageFate next = faults.on_message(kToGuest, torndown(2));

  EXPECT_EQ(
      dropped.effects,
      (Effects{TraceFault{"message_dropped", "host->guest CHANNELMSG_GPADL_TORNDOWN gpadl=0x1"}}));
  EXPECT_EQ(dropped.deliver, Messages{});
  EXPECT_EQ(next.deliver, Messages{torndown(2)});
}

TEST(Faults, ARuleAppliesToTheNextCountMessages) {
  Faults faults(kLatency);
  faults.arm(message_fault(Kind::kDrop, 2));

  EXPECT_EQ(faults.on_message(kToGuest, torndown(1)).deliver, Messages{});
  EXPECT_EQ(faults.on_message(kToGuest, torndown(2)).deliver, Messages{});
  EXPECT_EQ(faults.on_message(kToGuest, torndown(3)).deliver, Messages{torndown(3)});
}

TEST(Faults, ARuleIgnoresTheOtherDirection) {
  Faults faults(kLatency);
  faults.arm(message_fault(Kind::kDrop));

  EXPECT_EQ(faults.on_message(kToHost, unload()).deliver, Messages{unload()});
  EXPECT_EQ(faults.on_message(kToGuest, torndown(1)).deliver, Messages{});
}

TEST(Faults, ARuleForOneMessageTypeIgnoresOthersAndARuleForAnyTypeTakesAll) {
  Faults faults(kLatency);
  ArmMessageFault only_torndown = message_fault(Kind::kDrop);
  only_torndown.msgtype = kGpadlTorndown;
  faults.arm(only_torndown);

  EXPECT_EQ(faults.on_message(kToGuest, unload()).deliver, Messages{unload()});
  EXPECT_EQ(faults.on_message(kToGuest, torndown(1)).deliver, Messages{});

  faults.arm(message_fault(Kind::kDrop));
  EXPECT_EQ(faults.on_message(kToGuest, unload()).deliver, Messages{});
}

TEST(Faults, ADelayRuleDeliversTheMessageItsDelayAfterTheNormalLatency) {
  Faults faults(kLatency);
  ArmMessageFault delay = message_fault(Kind::kDelay);
  delay.delay_us = 300;
  faults.arm(delay);

  const MessageFate fate = faults.on_message(kToGuest, torndown(1));

  EXPECT_EQ(
      fate.effects,
      (Effects{TraceFault{"message_delayed",
                          "host->guest CHANNELMSG_GPADL_TORNDOWN gpadl=0x1 by 300 us"},
               ScheduleExactly{Event{Event::Kind::kDelayedMessage, Side::kGuest, 0, 0, torndown(1)},
                               5'000 + 300'000}}));
  EXPECT_EQ(fate.deliver, Messages{});
}

TEST(Faults, ADuplicateRuleDeliversTheMessageTwice) {
  Faults faults(kLatency);
  faults.arm(message_fault(Kind::kDuplicate));

  const MessageFate fate = faults.on_message(kToGuest, torndown(1));

  EXPECT_EQ(fate.effects, (Effects{TraceFault{"message_duplicated",
                                              "host->guest CHANNELMSG_GPADL_TORNDOWN gpadl=0x1"}}));
  EXPECT_EQ(fate.deliver, (Messages{torndown(1), torndown(1)}));
}

TEST(Faults, AReorderRuleHoldsTheMessageUntilTheNextOnePasses) {
  Faults faults(kLatency);
  faults.arm(message_fault(Kind::kReorder));

  const MessageFate held = faults.on_message(kToGuest, torndown(1));
  const MessageFate other_direction = faults.on_message(kToHost, unload());
  const MessageFate next = faults.on_message(kToGuest, torndown(2));

  EXPECT_EQ(held.effects,
            (Effects{TraceFault{"message_reordered",
                                "host->guest CHANNELMSG_GPADL_TORNDOWN gpadl=0x1 held back behind "
                                "the next message"}}));
  EXPECT_EQ(held.deliver, Messages{});
  EXPECT_EQ(other_direction.deliver, Messages{unload()});
  EXPECT_EQ(next.effects, Effects{});
  EXPECT_EQ(next.deliver, (Messages{torndown(2), torndown(1)}));
}

TEST(Faults, AReorderRuleHoldsOneMessageAtATime) {
  Faults faults(kLatency);
  faults.arm(message_fault(Kind::kReorder, 2));

  faults.on_message(kToGuest, torndown(1));
  const MessageFate second = faults.on_message(kToGuest, torndown(2));

  EXPECT_EQ(second.effects, Effects{});
  EXPECT_EQ(second.deliver, (Messages{torndown(2), torndown(1)}));
}

TEST(Faults, AHeldMessageStaysBehindADroppedOne) {
  Faults faults(kLatency);
  faults.arm(message_fault(Kind::kReorder));
  faults.arm(message_fault(Kind::kDrop));

  faults.on_message(kToGuest, torndown(1));
  const MessageFate dropped = faults.on_message(kToGuest, torndown(2));
  const MessageFate next = faults.on_message(kToGuest, torndown(3));

  EXPECT_EQ(dropped.deliver, Messages{});
  EXPECT_EQ(next.deliver, (Messages{torndown(3), torndown(1)}));
}

TEST(Faults, AHeldMessageNothingOvertookIsReleasedToItsReceiver) {
  Faults faults(kLatency);
  faults.arm(message_fault(Kind::kReorder));
  faults.on_message(kToGuest, torndown(1));

  EXPECT_EQ(faults.release_held(Side::kHost), std::nullopt);
  const std::optional<MessageFate> released = faults.release_held(Side::kGuest);

  ASSERT_TRUE(released.has_value());
  EXPECT_EQ(released->effects,
            (Effects{TraceFault{"message_released",
                                "no later message overtook it; delivered to vmbus-guest now"}}));
  EXPECT_EQ(released->deliver, Messages{torndown(1)});
  EXPECT_EQ(faults.release_held(Side::kGuest), std::nullopt);
}

TEST(Faults, ACorruptWriteStopsAtThePayloadsEnd) {
  Faults faults(kLatency);
  ArmMessageFault corrupt = message_fault(Kind::kCorrupt);
  corrupt.corrupt_offset = 10;
  corrupt.corrupt_bytes = std::string("\xAA\xBB\xCC\xDD", 4);
  faults.arm(corrupt);

  const MessageFate fate = faults.on_message(kToGuest, torndown(0x11223344));

  SynicMessage expected = torndown(0x11223344);
  expected.payload[10] = '\xAA';
  expected.payload[11] = '\xBB';
  EXPECT_EQ(fate.effects,
            (Effects{TraceFault{"message_corrupted",
                                "host->guest CHANNELMSG_GPADL_TORNDOWN gpadl=0x11223344: 2 bytes "
                                "overwritten at offset 10"}}));
  EXPECT_EQ(fate.deliver, Messages{expected});
}

TEST(Faults, ACorruptWritePastThePayloadWritesNothing) {
  Faults faults(kLatency);
  ArmMessageFault corrupt = message_fault(Kind::kCorrupt);
  corrupt.corrupt_offset = 200;
  corrupt.corrupt_bytes = "x";
  faults.arm(corrupt);

  const MessageFate fate = faults.on_message(kToGuest, unload());

  EXPECT_EQ(fate.effects, (Effects{TraceFault{"message_corrupted",
                                              "host->guest CHANNELMSG_UNLOAD: 0 bytes overwritten "
                                              "at offset 200"}}));
  EXPECT_EQ(fate.deliver, Messages{unload()});
}

TEST(Faults, WithNoRuleArmedASignalIsDeliveredAndNothingElse) {
  Faults faults(kLatency);

  const SignalFate fate = faults.on_signal(kToGuest, 0, 5);

  EXPECT_EQ(fate.effects, Effects{});
  EXPECT_TRUE(fate.deliver);
}

TEST(Faults, ADuplicateSignalRuleSchedulesAnExtraInterruptAndStillDelivers) {
  Faults faults(kLatency);
  faults.arm(signal_fault(SignalKind::kDuplicate));

  const SignalFate fate = faults.on_signal(kToGuest, 0, 5);

  EXPECT_EQ(fate.effects, (Effects{TraceFault{"interrupt_duplicated", "host->guest relid 5"},
                                   ScheduleExactly{extra_interrupt_at_guest(5), 2 * 2'000}}));
  EXPECT_TRUE(fate.deliver);
}

TEST(Faults, ADropSignalRuleTracesTheSignalAndTheDrop) {
  Faults faults(kLatency);
  faults.arm(signal_fault(SignalKind::kDrop));

  const SignalFate fate = faults.on_signal(kToGuest, 0, 5);

  EXPECT_EQ(fate.effects, (Effects{TraceSignal{SignalStage::STAGE_SIGNALLED, kToGuest, 0, 5},
                                   TraceFault{"interrupt_dropped", "host->guest relid 5"}}));
  EXPECT_FALSE(fate.deliver);
  EXPECT_TRUE(faults.on_signal(kToGuest, 0, 5).deliver);
}

TEST(Faults, ADelayedSignalToTheHostArrivesOnItsChannelsConnectionId) {
  Faults faults(kLatency);
  ArmSignalFault delay = signal_fault(SignalKind::kDelay, kToHost);
  delay.delay_us = 100;
  faults.arm(delay);

  const SignalFate fate = faults.on_signal(kToHost, wire::connection_id_of(5), 0);

  EXPECT_EQ(fate.effects,
            (Effects{TraceSignal{SignalStage::STAGE_SIGNALLED, kToHost, 0x10005, 0},
                     TraceFault{"interrupt_delayed", "guest->host relid 5 by 100 us"},
                     ScheduleExactly{extra_interrupt_at_host(0x10005), 2'000 + 100'000}}));
  EXPECT_FALSE(fate.deliver);
}

TEST(Faults, ASignalRuleForOneChannelIgnoresTheOthers) {
  Faults faults(kLatency);
  faults.arm(signal_fault(SignalKind::kDrop, kToGuest, 5));
  faults.arm(signal_fault(SignalKind::kDrop, kToHost, 5));

  EXPECT_TRUE(faults.on_signal(kToGuest, 0, 6).deliver);
  EXPECT_TRUE(faults.on_signal(kToHost, wire::connection_id_of(6), 0).deliver);
  EXPECT_FALSE(faults.on_signal(kToGuest, 0, 5).deliver);
  EXPECT_FALSE(faults.on_signal(kToHost, wire::connection_id_of(5), 0).deliver);
}

TEST(Faults, ASpuriousInterruptArrivesAfterTheNormalLatency) {
  Faults faults(kLatency);

  const Effects to_host = faults.inject(InjectSpuriousInterrupt{kToHost, 3});
  const Effects to_guest = faults.inject(InjectSpuriousInterrupt{kToGuest, 3});

  EXPECT_EQ(to_host, (Effects{TraceFault{"interrupt_spurious", "guest->host relid 3"},
                              ScheduleExactly{extra_interrupt_at_host(0x10003), 2'000}}));
  EXPECT_EQ(to_guest, (Effects{TraceFault{"interrupt_spurious", "host->guest relid 3"},
                               ScheduleExactly{extra_interrupt_at_guest(3), 2'000}}));
}

}  // namespace
}  // namespace vmbus::hypervisor
