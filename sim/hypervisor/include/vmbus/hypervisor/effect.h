// What the hypervisor's pure units ask the run loop to do.
//
// The SynIC model, the fault rules and the scheduler's helpers never send a
// frame, wait for a partition or write a trace record: their operations
// return Effects, in the order they must happen, and the run loop
// (simulation.cc) carries them out -- stamping trace records with the
// simulated time, drawing latency jitter from the run's PRNG, sending frames
// and waiting for the partition's acknowledgement. Because the order of the
// list is the order of the trace, a unit test that compares a list of effects
// pins down the trace too.
//
// Every member of an effect has an initializer, so that an effect can be
// written naming only the fields it needs.
#pragma once

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <variant>
#include <vector>

#include "vmbus/hypervisor/event_queue.h"
#include "vmbus/hypervisor/side.h"
#include "vmbus/proto/trace.pb.h"

namespace vmbus::hypervisor {

// Trace a SynIC message record (posted, queued, delivered, rejected).
struct TraceMessage {
  proto::MessageEvent::Stage stage = proto::MessageEvent::STAGE_UNSPECIFIED;
  Direction direction = Direction::kHostToGuest;
  SynicMessage message{};
  std::string reason{};  // why it was rejected
  bool msg_pending = false;

  bool operator==(const TraceMessage&) const = default;
};

// Trace an event signal record (signalled, coalesced, delivered, rejected).
// At the guest a signal names a child relid, at the host a connection id.
struct TraceSignal {
  proto::SignalRecord::Stage stage = proto::SignalRecord::STAGE_UNSPECIFIED;
  Direction direction = Direction::kHostToGuest;
  std::uint32_t connection_id = 0;
  std::uint32_t child_relid = 0;
  // The guest VP the interrupt goes to; set only for a guest with more
  // than one VP (a one-VP run's trace names none).
  std::optional<std::uint32_t> vp{};

  bool operator==(const TraceSignal&) const = default;
};

// Trace a fault record: what a fault rule, a hold or a scenario did.
struct TraceFault {
  std::string kind{};  // "message_dropped", "interrupt_duplicated", ...
  std::string detail{};

  bool operator==(const TraceFault&) const = default;
};

// The SynIC's own delivery path: `event` falls due `latency_ns` plus jitter
// drawn from the run's PRNG from now. (Free-running: it happens at once.)
struct ScheduleDelivery {
  Event event;
  std::uint64_t latency_ns = 0;

  bool operator==(const ScheduleDelivery&) const = default;
};

// A fault's own timing: `event` falls due exactly `latency_ns` from now.
struct ScheduleExactly {
  Event event;
  std::uint64_t latency_ns = 0;

  bool operator==(const ScheduleExactly&) const = default;
};

// Put `message` into `target`'s VMBus message slot and wait for the
// partition to take it. msg_pending: more messages wait behind it.
struct DeliverSlot {
  Side target = Side::kHost;
  SynicMessage message{};
  bool msg_pending = false;

  bool operator==(const DeliverSlot&) const = default;
};

// Raise one interrupt at `target` with these event flags set, and wait for
// the partition to take it.
struct DeliverEventFlags {
  Side target = Side::kHost;
  std::vector<std::uint32_t> child_relids{};    // at the guest
  std::vector<std::uint32_t> connection_ids{};  // at the host
  std::uint32_t vp = 0;                         // the guest VP whose SINT2 fires
  bool operator==(const DeliverEventFlags&) const = default;
};

// `partition` broke the protocol (`what` it did); the run ends.
struct ProtocolError {
  Side partition = Side::kHost;
  std::string what{};

  bool operator==(const ProtocolError&) const = default;
};

using Effect = std::variant<TraceMessage, TraceSignal, TraceFault, ScheduleDelivery,
                            ScheduleExactly, DeliverSlot, DeliverEventFlags, ProtocolError>;
using Effects = std::vector<Effect>;

// Appends `more` to `effects`, keeping their order.
void append(Effects& effects, Effects more);

// One line per effect, for test failure messages.
std::ostream& operator<<(std::ostream& out, const SynicMessage& message);
std::ostream& operator<<(std::ostream& out, const Event& event);
std::ostream& operator<<(std::ostream& out, const TraceMessage& effect);
std::ostream& operator<<(std::ostream& out, const TraceSignal& effect);
std::ostream& operator<<(std::ostream& out, const TraceFault& effect);
std::ostream& operator<<(std::ostream& out, const ScheduleDelivery& effect);
std::ostream& operator<<(std::ostream& out, const ScheduleExactly& effect);
std::ostream& operator<<(std::ostream& out, const DeliverSlot& effect);
std::ostream& operator<<(std::ostream& out, const DeliverEventFlags& effect);
std::ostream& operator<<(std::ostream& out, const ProtocolError& effect);

}  // namespace vmbus::hypervisor
