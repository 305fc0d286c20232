// The port through which a control plane attaches and detaches a channel's
// rings.
//
// The control planes of both partitions decide when a channel's rings come
// and go -- the host when the guest's OPENCHANNEL is accepted and when the
// channel closes or is rescinded, the guest when it places the rings for an
// open and when the host lets go of them -- and where they lie
// (RingPlacement). They never map memory or touch a ring themselves: the
// port's owner (the host's VSPs, the guest's channel endpoints) does, in the
// shape of OpenVMM's Notifier::notify(offer, Open). That keeps a control
// plane a state machine a test can drive message by message.
#pragma once

#include <cstdint>

#include "vmbus/partition/guest_memory.h"
#include "vmbus/partition/partition.h"

namespace vmbus::partition {

// Why a channel's rings are detached.
enum class DetachReason {
  kClosed,     // the guest closed the channel (CLOSECHANNEL or UNLOAD) or the open failed
  kRescinded,  // the host rescinded the offer
};

class RingPort {
 public:
  virtual ~RingPort() = default;
  // Channel `child_relid`'s rings lie at `placement` from now on.
  virtual void attach_rings(std::uint32_t child_relid, const RingPlacement& placement,
                            const Work& work) = 0;
  // They are gone: stop using them and let go of them.
  virtual void detach_rings(std::uint32_t child_relid, DetachReason reason, const Work& work) = 0;
};

}  // namespace vmbus::partition
