// The scenario actions a KMCL driver carries out (deterministic mode,
// between two steps), the same on either side of a channel: the driver does
// something, as driver code would.
//  * send: the driver sends `count` (0 = 1) copies of payload.raw (empty: 16
//    counting bytes) with VmbPacketSend, in-line in the action (driver code at
//    PASSIVE_LEVEL outside any scheduled context, KMCL context "external");
//    request_completion -> VMBUS_CHANNEL_FORMAT_FLAG_WAIT_FOR_COMPLETION;
//    external_pages N -> an MDL of N guest pages lent by the partition
//    (ExternalPages; back when the send completes; KMCL sends external data
//    only with WAIT_FOR_COMPLETION, so it is implied). synchronous: the copies
//    go one after the other through VmbChannelSendSynchronousRequest on a new
//    driver thread "thread/sync<N>" (timeout_us 0 = wait forever). trans_id is
//    refused: KMCL chooses its own.
//  * channel_op: each runs on a new PASSIVE_LEVEL driver thread
//    "thread/op<N>" (N counts per channel from 1), so blocking calls take
//    scheduler steps like real driver code: PAUSE VmbChannelPause, START
//    VmbChannelStart, DISABLE/CLOSE VmbChannelDisable, ENABLE/REOPEN
//    VmbChannelEnable, SET_PASSIVE VmbChannelSetIncomingProcessingAtPassive
//    (value != 0), SET_QUOTA VmbChannelSetTransactionQuota(value),
//    COMPLETE_OUTSTANDING: the driver completes `value` (0 = all) packets it
//    left outstanding, oldest first, with VmbChannelPacketComplete from that
//    thread.
//  * set_policy: replaces the driver's rules and default action at once.
// A channel run by a loaded driver refuses sends, COMPLETE_OUTSTANDING and
// set_policy (the driver decides those itself); the other channel_ops make
// their KMCL call on its channel as driver code would.
// The caller syncs the endpoint afterwards (KmclEndpoints::sync).
#pragma once

#include <string>

#include "vmbus/partition/kmcl_endpoints.h"
#include "vmbus/proto/config.pb.h"

namespace vmbus::partition {

// Carries out a send on `endpoint` (one of `endpoints`); "" or why not.
std::string kmcl_send(KmclEndpoints& endpoints, KmclEndpoint& endpoint,
                      const proto::SendAction& send);

// Carries out a channel operation on `endpoint`'s driver; "" or why not. A
// non-empty `enable_refused` refuses ENABLE/REOPEN with that reason.
std::string kmcl_channel_op(KmclEndpoint& endpoint, const proto::ChannelOpAction& op,
                            const std::string& enable_refused);

// Replaces `endpoint`'s driver policy; "" or why not (the policy stays).
std::string kmcl_set_policy(KmclEndpoint& endpoint, const proto::SetPolicyAction& policy);

}  // namespace vmbus::partition
