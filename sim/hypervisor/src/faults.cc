#include "vmbus/hypervisor/faults.h"

#include <algorithm>
#include <cstring>
#include <span>
#include <string>
#include <utility>

#include "vmbus/wire/codec.h"
#include "vmbus/wire/synic.h"

namespace vmbus::hypervisor {
namespace {

std::string arrow_text(Direction direction) {
  return direction == Direction::kHostToGuest ? "host->guest" : "guest->host";
}

// The CHANNELMSG type a payload starts with (0 if it is too short for one).
std::uint32_t msgtype_of(const std::string& payload) {
  std::uint32_t msgtype = 0;
  if (payload.size() >= sizeof(msgtype)) {
    std::memcpy(&msgtype, payload.data(), sizeof(msgtype));
  }
  return msgtype;
}

std::string describe_message(const std::string& payload) {
  return wire::describe_payload(std::as_bytes(std::span(payload.data(), payload.size())));
}

// An interrupt outside the normal path: at the guest it sets the channel's
// flag, at the host the channel's connection id.
ScheduleExactly extra_interrupt(Side target, std::uint32_t child_relid, std::uint64_t latency_ns) {
  Event event{Event::Kind::kExtraInterrupt, target};
  if (target == Side::kGuest) {
    event.child_relid = child_relid;
  } else {
    event.connection_id = wire::connection_id_of(child_relid);
  }
  return ScheduleExactly{std::move(event), latency_ns};
}

// Writes `bytes` at `offset`, never past the payload's end; returns how many
// bytes were written.
std::size_t corrupt(std::string& payload, std::size_t offset, const std::string& bytes) {
  std::size_t written = 0;
  for (; written < bytes.size() && offset + written < payload.size(); ++written) {
    payload[offset + written] = bytes[written];
  }
  return written;
}

}  // namespace

void Faults::arm(const ArmSignalFault& rule) {
  signal_rules_.push_back(SignalRule{rule, std::max<std::uint32_t>(1, rule.count)});
}

void Faults::arm(const ArmMessageFault& rule) {
  message_rules_.push_back(MessageRule{rule, std::max<std::uint32_t>(1, rule.count)});
}

Faults::SignalRule* Faults::signal_rule_for(Direction direction, std::uint32_t connection_id,
                                            std::uint32_t child_relid, bool retargeting) {
  for (SignalRule& fault : signal_rules_) {
    if (fault.remaining == 0 || fault.rule.direction != direction) {
      continue;
    }
    // An OLD_VP rule waits for an interrupt that has an old VP to land on.
    if (fault.rule.kind == ArmSignalFault::Kind::kOldVp && !retargeting) {
      continue;
    }
    const std::uint32_t only = fault.rule.child_relid;
    if (only != 0 &&
        (direction == Direction::kHostToGuest ? child_relid != only
                                              : connection_id != wire::connection_id_of(only))) {
      continue;
    }
    return &fault;
  }
  return nullptr;
}

Faults::MessageRule* Faults::message_rule_for(Direction direction, const SynicMessage& message) {
  const std::uint32_t msgtype = msgtype_of(message.payload);
  for (MessageRule& fault : message_rules_) {
    if (fault.remaining == 0 || fault.rule.direction != direction) {
      continue;
    }
    if (fault.rule.msgtype && *fault.rule.msgtype != msgtype) {
      continue;
    }
    return &fault;
  }
  return nullptr;
}

MessageFate Faults::on_message(Direction direction, SynicMessage message) {
  MessageFate fate;
  if (MessageRule* fault = message_rule_for(direction, message)) {
    --fault->remaining;
    fate = apply(fault->rule, direction, std::move(message));
  } else {
    fate.deliver.push_back(std::move(message));
  }
  std::optional<SynicMessage>& held = held_[index_of(receiver_of(direction))];
  if (!fate.deliver.empty() && held) {  // the held message comes after the one that overtook it
    fate.deliver.push_back(std::move(*held));
    held.reset();
  }
  return fate;
}

MessageFate Faults::apply(const ArmMessageFault& rule, Direction direction, SynicMessage message) {
  using Kind = ArmMessageFault::Kind;
  const std::string what = arrow_text(direction) + " " + describe_message(message.payload);
  MessageFate fate;
  switch (rule.kind) {
    case Kind::kDrop:
      fate.effects.emplace_back(TraceFault{"message_dropped", what});
      return fate;
    case Kind::kDelay:
      fate.effects.emplace_back(
          TraceFault{"message_delayed", what + " by " + std::to_string(rule.delay_us) + " us"});
      fate.effects.emplace_back(ScheduleExactly{
          Event{Event::Kind::kDelayedMessage, receiver_of(direction), 0, 0, std::move(message)},
          latency_.message_ns + rule.delay_us * 1000});
      return fate;
    case Kind::kDuplicate:
      fate.effects.emplace_back(TraceFault{"message_duplicated", what});
      fate.deliver = {message, message};
      return fate;
    case Kind::kReorder: {
      std::optional<SynicMessage>& held = held_[index_of(receiver_of(direction))];
      if (held) {  // one message is held at a time; this one passes
        fate.deliver.push_back(std::move(message));
        return fate;
      }
      fate.effects.emplace_back(
          TraceFault{"message_reordered", what + " held back behind the next message"});
      held = std::move(message);
      return fate;
    }
    case Kind::kCorrupt: {
      const std::size_t written = corrupt(message.payload, rule.corrupt_offset, rule.corrupt_bytes);
      fate.effects.emplace_back(
          TraceFault{"message_corrupted", what + ": " + std::to_string(written) +
                                              " bytes overwritten at offset " +
                                              std::to_string(rule.corrupt_offset)});
      break;
    }
  }
  fate.deliver.push_back(std::move(message));
  return fate;
}

SignalFate Faults::on_signal(Direction direction, std::uint32_t connection_id,
                             std::uint32_t child_relid, std::optional<std::uint32_t> old_vp) {
  SignalFate fate;
  SignalRule* fault = signal_rule_for(direction, connection_id, child_relid,
                                      direction == Direction::kHostToGuest && old_vp.has_value());
  if (fault == nullptr) {
    return fate;
  }
  --fault->remaining;
  const ArmSignalFault& rule = fault->rule;
  if (rule.kind == ArmSignalFault::Kind::kOldVp) {
    // Delivered the normal way (the SynIC traces the signal), to the old VP.
    fate.effects.emplace_back(TraceFault{
        "interrupt_on_old_vp", arrow_text(direction) + " relid " + std::to_string(child_relid) +
                                   " lands on vp " + std::to_string(*old_vp) +
                                   ": the retarget has not taken effect yet"});
    fate.to_old_vp = true;
    return fate;
  }
  if (rule.kind != ArmSignalFault::Kind::kDuplicate) {
    // The sender did signal; on the normal path the SynIC traces that itself.
    fate.effects.emplace_back(
        TraceSignal{proto::SignalRecord::STAGE_SIGNALLED, direction, connection_id, child_relid});
  }
  const std::uint32_t relid = direction == Direction::kHostToGuest
                                  ? child_relid
                                  : wire::relid_of_connection_id(connection_id);
  const std::string what = arrow_text(direction) + " relid " + std::to_string(relid);
  const Side receiver = receiver_of(direction);
  switch (rule.kind) {
    case ArmSignalFault::Kind::kDrop:
      fate.effects.emplace_back(TraceFault{"interrupt_dropped", what});
      fate.deliver = false;
      break;
    case ArmSignalFault::Kind::kDelay:
      fate.effects.emplace_back(
          TraceFault{"interrupt_delayed", what + " by " + std::to_string(rule.delay_us) + " us"});
      fate.effects.emplace_back(
          extra_interrupt(receiver, relid, latency_.signal_ns + rule.delay_us * 1000));
      fate.deliver = false;
      break;
    case ArmSignalFault::Kind::kDuplicate:
      fate.effects.emplace_back(TraceFault{"interrupt_duplicated", what});
      fate.effects.emplace_back(extra_interrupt(receiver, relid, 2 * latency_.signal_ns));
      break;  // and delivered normally too
    case ArmSignalFault::Kind::kOldVp:
      break;  // handled above
  }
  return fate;
}

Effects Faults::inject(const InjectSpuriousInterrupt& spurious) const {
  return {
      TraceFault{"interrupt_spurious",
                 arrow_text(spurious.direction) + " relid " + std::to_string(spurious.child_relid)},
      extra_interrupt(receiver_of(spurious.direction), spurious.child_relid, latency_.signal_ns)};
}

std::optional<MessageFate> Faults::release_held(Side receiver) {
  std::optional<SynicMessage>& held = held_[index_of(receiver)];
  if (!held) {
    return std::nullopt;
  }
  MessageFate fate;
  fate.effects.emplace_back(
      TraceFault{"message_released", std::string("no later message overtook it; delivered to ") +
                                         partition_name(receiver) + " now"});
  fate.deliver.push_back(std::move(*held));
  held.reset();
  return fate;
}

}  // namespace vmbus::hypervisor
