// The SynIC model: how VMBus messages and event signals cross the hypervisor.
//
// Per partition the model keeps what Hyper-V keeps per SINT: one VMBus
// message slot (SINT 2), the messages queued behind it (16 buffers per port;
// a post to a full queue fails with HV_STATUS_INSUFFICIENT_BUFFERS), and the
// event flags set but not yet delivered. A message goes into the slot only
// when the slot is free; msg_pending tells the receiver that more wait, and
// its EOM frees the slot for the next one. Flags set while an interrupt is
// already on its way are coalesced into that interrupt, as a real SINT's
// are.
//
// The run loop calls post(), signal() and end_of_message() for what a
// partition asks of the hypervisor, and on_event() when a scheduled delivery
// falls due. Every call returns Effects (effect.h) -- trace this, deliver this
// slot, schedule that delivery, the partition broke the protocol -- which the
// loop carries out in order. The model itself sends nothing and reads no
// clock; fault rules (faults.h) get their say between the hypercall's checks
// and the queue.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "vmbus/hypervisor/effect.h"
#include "vmbus/hypervisor/event_queue.h"
#include "vmbus/hypervisor/faults.h"
#include "vmbus/hypervisor/side.h"

namespace vmbus::hypervisor {

// "every message port has 16 buffers"
inline constexpr std::size_t kMessageQueueDepth = 16;

// What HvPostMessage returns to its caller, and what the loop must do.
struct PostResult {
  std::uint32_t status = 0;  // HV_STATUS_*
  Effects effects;
};

class Synic {
 public:
  explicit Synic(SynicLatency latency) : latency_(latency) {}

  // The connection ids `side` receives messages on (its HelloAck's ports).
  // Only the guest's posts are checked against the host's ports.
  void set_message_ports(Side side, std::vector<std::uint32_t> connection_ids);

  // HvPostMessage from `sender` to the other partition.
  PostResult post(Side sender, std::uint32_t message_type, SynicMessage message, Faults& faults);

  // HvSignalEvent from `sender`: to the guest it sets `child_relid`'s flag
  // (relid 0 is refused: bit 0 of SINT2's flags belongs to the channel
  // protocol's messages), to the host `connection_id`'s.
  Effects signal(Side sender, std::uint32_t connection_id, std::uint32_t child_relid,
                 Faults& faults);

  // Messages the fault rules let go, into `receiver`'s queue.
  Effects accept(Side receiver, MessageFate fate);

  // `side` wrote its EOM register for `sint`: its message slot is free.
  Effects end_of_message(Side side, std::uint32_t sint);

  // A scheduled delivery fell due.
  Effects on_event(const Event& event);

  // How many messages wait for `side`'s slot.
  std::size_t queued_messages(Side side) const;

 private:
  struct Partition {
    std::vector<std::uint32_t> message_ports;
    std::deque<SynicMessage> message_queue;
    bool slot_busy = false;           // delivered, no EOM yet
    bool delivery_scheduled = false;  // a kDeliverMessage is on its way
    // Event flags set but not yet delivered (coalesced until delivery).
    std::set<std::uint32_t> pending_relids;
    std::set<std::uint32_t> pending_connection_ids;
    bool event_scheduled = false;  // a kDeliverEvents is on its way
  };

  Partition& at(Side side) { return partitions_[side == Side::kHost ? 0 : 1]; }
  const Partition& at(Side side) const { return partitions_[side == Side::kHost ? 0 : 1]; }

  // Why HvPostMessage refuses the message (with its status), or nothing.
  std::optional<std::pair<std::uint32_t, std::string>> refusal(Side sender,
                                                               std::uint32_t message_type,
                                                               const SynicMessage& message) const;
  Effects enqueue(Side receiver, SynicMessage message);
  Effects deliver_message(Side target);
  Effects deliver_events(Side target);
  Effects extra_interrupt(const Event& event);

  SynicLatency latency_;
  Partition partitions_[2];
};

// The 256-byte hv_message the receiver finds in its slot.
std::string hv_message_bytes(const DeliverSlot& delivery);

}  // namespace vmbus::hypervisor
