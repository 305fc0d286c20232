// The guest's scenario actions (deterministic mode, between two steps): the
// KMCL driver on a channel does something, as driver code would. send,
// channel_op and set_policy are the driver's (partition/kmcl_actions.h says
// what each does); external data of a send lives in freshly allocated guest
// pages, freed when the send completes. ENABLE/REOPEN of a channel the host
// rescinded is refused; RESCIND is the host's. Ring writes, raw packets,
// tampering and index stores are the host's too. unload makes the VMBus
// driver post UNLOAD next without closing its channels (only once connected
// with its channels settled).
#pragma once

#include <string>

#include "vmbus/guest/control_plane.h"
#include "vmbus/guest/kmcl_channels.h"
#include "vmbus/proto/config.pb.h"

namespace vmbus::guest {

// Carries out `action`; returns "" or why it was refused. The caller syncs
// the drivers afterwards (KmclChannels::sync).
std::string perform_action(const proto::PartitionAction& action, KmclChannels& drivers,
                           ControlPlane& control);

}  // namespace vmbus::guest
