// The host's scenario actions (deterministic mode, between two steps).
//
// The VSP's driver acts as driver code would (partition/kmcl_actions.h):
//   send        `count` packets through KMCL (VmbPacketSend; KMCL picks the
//               trans_ids); external data names the last pages of guest memory.
//   channel_op  the VSP driver's KMCL calls on a PASSIVE_LEVEL driver thread
//               (PAUSE, START, DISABLE, SET_PASSIVE, SET_QUOTA,
//               COMPLETE_OUTSTANDING); RESCIND is its Disable, which revokes
//               the offer; ENABLE is refused (a revoked offer stays revoked).
//   set_policy  the VSP driver's rules and default action from now on.
// And the host plays a malicious root partition: raw writes bypass KMCL's
// ring writer, but every offset is checked against the ring's data area
// first, and a bad one is an error string, never a write.
//   ring_write  raw bytes into a ring's data area; optionally a write_index
//               store and an interrupt for that ring's reader.
//   raw_packet  a descriptor with the scenario's fields, its payload and a
//               trailer at the host->guest write_index, published as is.
//   tamper      overwrites the payload of the last packet the host wrote.
//   set_index   stores write_index or read_index of either ring.
// An action that moves the host->guest write_index (raw_packet, a ring_write
// with write_index, set_index WRITE_INDEX of that ring) makes the VSP's
// device continue from the index the action left, valid or not (an invalid
// one is a corrupt ring the next time the device writes).
#pragma once

#include <string>

#include "vmbus/host/control_plane.h"
#include "vmbus/host/vsp.h"
#include "vmbus/partition/partition.h"
#include "vmbus/proto/config.pb.h"

namespace vmbus::host {

// Carries out `action`; returns "" or why it was refused.
std::string perform_action(const proto::PartitionAction& action, ControlPlane& control, Vsps& vsps,
                           const partition::Work& work);

}  // namespace vmbus::host
