// The host's scenario actions (deterministic mode, between two steps).
//
// The host plays a malicious root partition here: raw writes bypass the
// RingWriter, but every offset is checked against the ring's data area
// first, and a bad one is an error string, never a write.
//   send        `count` packets on the host->guest sender, as the VSP's own.
//   ring_write  raw bytes into a ring's data area; optionally a write_index
//               store and an interrupt for that ring's reader.
//   raw_packet  a descriptor with the scenario's fields, its payload and a
//               trailer at the host->guest write_index, published as is.
//   tamper      overwrites the payload of the last packet the host wrote.
//   set_index   stores write_index or read_index of either ring.
//   channel_op  RESCIND only (the other ops are the guest driver's).
// An action that moves the host->guest write_index (raw_packet, a ring_write
// with write_index, set_index WRITE_INDEX of that ring) first finishes the
// sender's batch in flight, and afterwards the sender continues from the
// index the action left, valid or not (an invalid one stops the VSP the next
// time it sends, as a corrupt ring does).
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
