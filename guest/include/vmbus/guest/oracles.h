// The guest's oracles: what must never hold in its end state. Each returns
// "" or one sentence saying what was found; report.cc turns them into
// OracleFindings. The oracles of a KMCL driver and its device (retired_once,
// fifo, the device's part of lost_wakeup) are partition/kmcl_report.h's.
#pragma once

#include <string>

#include "vmbus/guest/control_plane.h"
#include "vmbus/guest/kmcl_channels.h"
#include "vmbus/partition/guest_memory.h"

namespace vmbus::guest {

// lost_wakeup, asked on a quiet system (`quiet`: nothing ready in the guest
// either): the host->guest ring holds data while the driver's queue runs,
// or sends stay queued while the guest->host ring has the room the guest
// waits for (or it asked for no signal). `rings` are the channel's rings
// while they are attached, else nullptr.
std::string lost_wakeup(const partition::KmclEndpoint& endpoint, const ControlPlane& control,
                        const partition::ChannelRings* rings, bool quiet);

// leak: channels whose ring pages are still allocated although they are
// closed, rescinded, refused or disabled by their driver, and the ring
// pages of a second open of a subchannel, which nothing gives back.
std::string ring_page_leaks(const ControlPlane& control, const KmclChannels& drivers);

// rescind_order: the host rescinded a primary channel while subchannels of
// it were still offered (they must go first).
std::string rescind_order(const ControlPlane& control);

// resume_hang, asked on a quiet system: the guest's bus began to resume from
// hibernation and nothing will ever finish the resume (it waits for offers
// with no deadline, or for a host that does not answer).
std::string resume_hang(const ControlPlane& control, bool quiet);

}  // namespace vmbus::guest
