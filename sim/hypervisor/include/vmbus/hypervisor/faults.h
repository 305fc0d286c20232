// The fault rules a scenario arms on the hypervisor's SynIC paths.
//
// A timeline's interrupt_fault and message_fault actions arm rules here
// (ArmSignalFault, ArmMessageFault); the SynIC model (synic.h) hands every
// accepted post and every signal to on_message() / on_signal() before it
// queues the message or raises the interrupt, and follows the fate they
// return. A rule applies to the next `count` messages or interrupts in its
// direction -- of one CHANNELMSG type or any, of one channel or any -- and the
// first armed rule that matches wins. Nothing here does I/O or reads a clock:
// a fate is a list of effects (the fault's trace record, a delivery at an
// exact later time) plus what still goes on to the receiver.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "vmbus/hypervisor/effect.h"
#include "vmbus/hypervisor/event_queue.h"
#include "vmbus/hypervisor/intervention.h"
#include "vmbus/hypervisor/side.h"

namespace vmbus::hypervisor {

// What becomes of a message the SynIC accepted.
struct MessageFate {
  Effects effects;  // the fault's trace record; a delayed delivery
  // What joins the receiver's queue now, in this order. Empty when the
  // message was dropped, delayed or held back.
  std::vector<SynicMessage> deliver;
};

// What becomes of a signalled interrupt.
struct SignalFate {
  Effects effects;         // the fault's trace records; an extra interrupt
  bool deliver = true;     // whether the SynIC still raises it the normal way
  bool to_old_vp = false;  // ... on the VP the channel targeted before its retarget
};

class Faults {
 public:
  // `latency`: a delayed message or interrupt arrives its own delay after
  // the normal latency; a duplicated interrupt twice the normal latency after.
  explicit Faults(SynicLatency latency) : latency_(latency) {}

  void arm(const ArmSignalFault& rule);
  void arm(const ArmMessageFault& rule);

  // A message from the sender of `direction` that passed the SynIC's checks.
  // A message held back by a REORDER rule joins the queue right behind the
  // next message that passes in the same direction.
  MessageFate on_message(Direction direction, SynicMessage message);

  // An interrupt signalled in `direction`: at the guest it names
  // `child_relid`, at the host `connection_id`. `old_vp`: the channel was
  // retargeted and no interrupt has reached its new VP yet; its old VP
  // (only an OLD_VP rule cares).
  SignalFate on_signal(Direction direction, std::uint32_t connection_id, std::uint32_t child_relid,
                       std::optional<std::uint32_t> old_vp = std::nullopt);

  // An interrupt nobody signalled, arriving after the normal latency.
  Effects inject(const InjectSpuriousInterrupt& spurious) const;

  // The message a REORDER rule holds for `receiver`, let go because nothing
  // came to overtake it; nullopt when none is held.
  std::optional<MessageFate> release_held(Side receiver);

 private:
  struct SignalRule {
    ArmSignalFault rule;
    std::uint32_t remaining;
  };
  struct MessageRule {
    ArmMessageFault rule;
    std::uint32_t remaining;
  };

  SignalRule* signal_rule_for(Direction direction, std::uint32_t connection_id,
                              std::uint32_t child_relid, bool retargeting);
  MessageRule* message_rule_for(Direction direction, const SynicMessage& message);
  MessageFate apply(const ArmMessageFault& rule, Direction direction, SynicMessage message);

  SynicLatency latency_;
  std::vector<SignalRule> signal_rules_;
  std::vector<MessageRule> message_rules_;
  std::optional<SynicMessage> held_[2];  // by receiver: a REORDER's message
};

}  // namespace vmbus::hypervisor
