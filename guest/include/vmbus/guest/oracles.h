// The guest's oracles: what must never hold in its end state. Each returns
// "" or one sentence saying what was found; report.cc turns them into
// OracleFindings.
#pragma once

#include <string>

#include "vmbus/guest/control_plane.h"
#include "vmbus/guest/kmcl_channels.h"
#include "vmbus/partition/guest_memory.h"

namespace vmbus::guest {

// retired_once: a packet of the driver's channel retired more than once,
// KMCL's counts not adding up, or a dequeued packet nobody can retire any
// more (not left outstanding by the driver, not held for a queue restart).
std::string retired_once(const KmclEndpoint& endpoint);

// fifo: the first packet the driver processed out of order.
std::string fifo(const KmclEndpoint& endpoint);

// lost_wakeup, asked on a quiet system (`quiet`: nothing ready in the guest
// either): the host->guest ring holds data while the driver's queue runs,
// or sends stay queued while the guest->host ring has the room the guest
// waits for (or it asked for no signal). `rings` are the channel's rings
// while they are attached, else nullptr.
std::string lost_wakeup(const KmclEndpoint& endpoint, const ControlPlane& control,
                        const partition::ChannelRings* rings, bool quiet);

// leak: channels whose ring pages are still allocated although they are
// closed, rescinded, refused or disabled by their driver.
std::string ring_page_leaks(const ControlPlane& control, const KmclChannels& drivers);

}  // namespace vmbus::guest
