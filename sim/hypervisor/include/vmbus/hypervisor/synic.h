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
// Virtual processors: the guest may have several VPs, each with its own
// SINT2 and event flags (the host is modelled with one). A channel's
// interrupts go to its target VP, which the host's VMBus server sets when
// it accepts the channel's OPENCHANNEL or MODIFYCHANNEL
// (set_event_target); each VP's flags coalesce and are delivered on their
// own. Hyper-V moves a channel's route asynchronously: until an interrupt
// has reached the new VP the retarget is in flight, and an OLD_VP fault
// rule (faults.h) can make an interrupt land on the old VP -- the race a
// guest must survive. With one VP there is nothing to route and the trace
// names no VP.
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
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "vmbus/hypervisor/effect.h"
#include "vmbus/hypervisor/event_queue.h"
#include "vmbus/hypervisor/faults.h"
#include "vmbus/hypervisor/side.h"
#include "vmbus/wire/synic.h"

namespace vmbus::hypervisor {

// "every message port has 16 buffers"
inline constexpr std::size_t kMessageQueueDepth = 16;

// The most VPs a simulated guest may have.
inline constexpr std::uint32_t kMaxVps = wire::kMaxSimulatedGuestVps;

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

  // The guest's VPs (its HelloAck's vp_count; 1 until told). 1..kMaxVps.
  void set_guest_vp_count(std::uint32_t vp_count);
  std::uint32_t guest_vp_count() const {
    return static_cast<std::uint32_t>(at(Side::kGuest).vps.size());
  }

  // The host routes channel `child_relid`'s interrupts to guest VP `vp`
  // from now on. A VP the guest does not have is a protocol error of the
  // host's.
  Effects set_event_target(std::uint32_t child_relid, std::uint32_t vp);

  // The VP channel `child_relid`'s interrupts go to now.
  std::uint32_t target_vp(std::uint32_t child_relid) const;

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
  // One VP's SINT2: event flags set but not yet delivered (coalesced until
  // delivery).
  struct VpEvents {
    std::set<std::uint32_t> pending_relids;
    std::set<std::uint32_t> pending_connection_ids;
    bool event_scheduled = false;  // a kDeliverEvents is on its way
  };

  struct Partition {
    std::vector<std::uint32_t> message_ports;
    std::deque<SynicMessage> message_queue;
    bool slot_busy = false;                                // delivered, no EOM yet
    bool delivery_scheduled = false;                       // a kDeliverMessage is on its way
    std::vector<VpEvents> vps = std::vector<VpEvents>(1);  // by VP index
  };

  // Where a guest channel's interrupts go: its target VP and, while the
  // last retarget is in flight (no interrupt has reached `vp` since), the
  // VP before it.
  struct Route {
    std::uint32_t vp = 0;
    std::optional<std::uint32_t> old_vp;
  };

  Partition& at(Side side) { return partitions_[side == Side::kHost ? 0 : 1]; }
  const Partition& at(Side side) const { return partitions_[side == Side::kHost ? 0 : 1]; }

  // Why HvPostMessage refuses the message (with its status), or nothing.
  std::optional<std::pair<std::uint32_t, std::string>> refusal(Side sender,
                                                               std::uint32_t message_type,
                                                               const SynicMessage& message) const;
  Effects enqueue(Side receiver, SynicMessage message);
  Effects deliver_message(Side target);
  Effects deliver_events(Side target, std::uint32_t vp);
  Effects extra_interrupt(const Event& event);
  // Sets `flag` in `receiver`'s VP `vp` and traces it; schedules the VP's
  // interrupt unless one is on its way.
  Effects raise(Side receiver, std::uint32_t vp, std::uint32_t connection_id,
                std::uint32_t child_relid);
  // What the trace says of guest VP `vp`: nothing with one VP.
  std::optional<std::uint32_t> vp_label(Side receiver, std::uint32_t vp) const;

  SynicLatency latency_;
  Partition partitions_[2];
  std::map<std::uint32_t, Route> routes_;  // guest channels, by child_relid
};

// The 256-byte hv_message the receiver finds in its slot.
std::string hv_message_bytes(const DeliverSlot& delivery);

}  // namespace vmbus::hypervisor
