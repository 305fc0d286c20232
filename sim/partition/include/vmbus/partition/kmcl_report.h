// What a KMCL endpoint reports at the end of a scripted run, on either side:
// its channel's KmclChannelReport (proto/schema/vmbus/proto/report.proto)
// and the oracles that look at a driver and its device. Each oracle returns
// "" or one sentence saying what was found; the partitions' report.cc turn
// them into OracleFindings.
#pragma once

#include <string>

#include "vmbus/partition/kmcl_endpoint.h"
#include "vmbus/proto/report.pb.h"
#include "vmbus/ring/memory.h"

namespace vmbus::partition {

// The endpoint's channel: KMCL's states and ChannelStats, the driver's own
// counts and the ring library's counters.
proto::KmclChannelReport kmcl_channel_report(const KmclEndpoint& endpoint);

// retired_once: a packet of the driver's channel retired more than once,
// KMCL's counts not adding up, or a dequeued packet nobody can retire any
// more (not left outstanding by the driver, not held for a queue restart).
std::string retired_once(const KmclEndpoint& endpoint);

// fifo: the first packet the driver processed out of order.
std::string fifo(const KmclEndpoint& endpoint);

// lost_wakeup, asked on a quiet system of a channel whose device has its
// rings (`incoming` and `outgoing` as the device reads and writes them):
// the incoming ring holds data while the driver's queue runs, or sends stay
// queued while the outgoing ring has the room the device waits for (or it
// asked for no signal). `side` ("guest", "host") words the sentence.
std::string kmcl_lost_wakeup(const KmclEndpoint& endpoint, ring::RingMemory& incoming,
                             ring::RingMemory& outgoing, const std::string& side);

}  // namespace vmbus::partition
