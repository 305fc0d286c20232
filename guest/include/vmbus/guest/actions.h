// The guest's scenario actions (deterministic mode, between two steps): the
// KMCL driver on a channel does something, as driver code would.
//  * send: the driver sends `count` (0 = 1) copies of payload.raw (empty: 16
//    counting bytes) with VmbPacketSend, in-line in the action (driver code at
//    PASSIVE_LEVEL outside any scheduled context, KMCL context "external");
//    request_completion -> VMBUS_CHANNEL_FORMAT_FLAG_WAIT_FOR_COMPLETION;
//    external_pages N -> an MDL of N freshly allocated guest pages (freed when
//    the send completes; KMCL sends external data only with
//    WAIT_FOR_COMPLETION, so it is implied). synchronous: the copies go one
//    after the other through VmbChannelSendSynchronousRequest on a new driver
//    thread "thread/sync<N>" (timeout_us 0 = wait forever). trans_id is
//    refused: the guest's KMCL chooses its own.
//  * channel_op: each runs on a new PASSIVE_LEVEL driver thread
//    "thread/op<N>" (N counts per channel from 1), so blocking calls take
//    scheduler steps like real driver code: PAUSE VmbChannelPause, START
//    VmbChannelStart, DISABLE/CLOSE VmbChannelDisable (then the control plane
//    sends CLOSECHANNEL and GPADL_TEARDOWN and frees the ring pages),
//    ENABLE/REOPEN VmbChannelEnable (then a new GPADL, OPENCHANNEL, and the
//    device opens the channel on OPENCHANNEL_RESULT), SET_PASSIVE
//    VmbChannelSetIncomingProcessingAtPassive(value != 0), SET_QUOTA
//    VmbChannelSetTransactionQuota(value), COMPLETE_OUTSTANDING: the driver
//    completes `value` (0 = all) packets it left outstanding, oldest first,
//    with VmbChannelPacketComplete from that thread. RESCIND is the host's.
//  * set_policy: replaces the driver's rules and default action at once.
// Ring writes, raw packets, tampering and index stores are the host's.
#pragma once

#include <string>

#include "vmbus/guest/control_plane.h"
#include "vmbus/guest/kmcl_channels.h"
#include "vmbus/proto/config.pb.h"

namespace vmbus::guest {

// Carries out `action`; returns "" or why it was refused. The caller syncs
// the drivers afterwards (KmclChannels::sync).
std::string perform_action(const proto::PartitionAction& action, KmclChannels& drivers,
                           const ControlPlane& control);

}  // namespace vmbus::guest
