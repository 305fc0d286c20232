// The guest's scenario actions (deterministic mode, between two steps): the
// KMCL driver on a channel does something, as driver code would. send,
// channel_op and set_policy are the driver's (partition/kmcl_actions.h says
// what each does); external data of a send lives in freshly allocated guest
// pages, freed when the send completes. ENABLE/REOPEN of a channel the host
// rescinded is refused; RESCIND is the host's. unload makes the VMBus
// driver post UNLOAD next without closing its channels (only once connected
// with its channels settled). hibernate has every driver with an open
// channel close it (VmbChannelDisable) and the bus suspend; resume has the
// bus connect again (ControlPlane::begin_resume()).
// With side: GUEST, ring_write, raw_packet, tamper and set_index make the
// guest a hostile one (partition/raw_ring.h): it writes raw bytes, packets
// and indices into its open channel's rings, bypassing KMCL's ring writer,
// and the host must cope.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>

#include "vmbus/guest/control_plane.h"
#include "vmbus/guest/kmcl_channels.h"
#include "vmbus/kmcl/device.h"
#include "vmbus/partition/guest_memory.h"
#include "vmbus/partition/partition.h"
#include "vmbus/proto/config.pb.h"

namespace vmbus::guest {

// The rings of each channel the guest has mapped, by child relid.
using GuestRings = std::map<std::uint32_t, partition::ChannelRings>;
// The last packet a raw_packet wrote on a channel, and the device's
// packets_written count then (whichever is later is the channel's last
// packet).
using RawPackets = std::map<std::uint32_t, std::pair<kmcl::WrittenPacket, std::uint64_t>>;

// Carries out `action`; returns "" or why it was refused. The caller syncs
// the drivers afterwards (KmclChannels::sync).
std::string perform_action(const proto::PartitionAction& action, KmclChannels& drivers,
                           ControlPlane& control, GuestRings& rings, RawPackets& raw,
                           const partition::Work& work);

}  // namespace vmbus::guest
