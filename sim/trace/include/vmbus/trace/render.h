// How a trace record reads: the words `vmbus-sim trace show` prints for it.
//
// The renderer is a function of the record alone. It is for people (the
// timeline, failure messages, viewers' labels); programs that need to know
// what a record says read its fields (see match.h), never this text.
#pragma once

#include <cstdint>
#include <string>

#include "vmbus/proto/trace.pb.h"

namespace vmbus::trace {

// The build that wrote a trace, "vmbus-sim 0.1.0 (commit 1a2b3c4d5e6f)", or
// "an unknown build" when its header does not say (traces before format 4).
std::string written_by(const proto::TraceHeader& header);

// "host", "guest" or "sim" (the hypervisor itself).
const char* partition_name(proto::Partition partition);

// "delivered", "coalesced", "crashed": a stage or kind without its enum prefix.
std::string message_stage_name(const proto::MessageEvent& event);
std::string signal_stage_name(const proto::SignalRecord& event);
std::string process_kind_name(const proto::ProcessEvent& event);

// The event of `record` in words: the EVENT column of `trace show`, e.g.
//   fault interrupt_dropped: host->guest relid 1
//   scenario step 3 'burst': host_send on 'c' x4
//   completion relid 1 trans_id 5 STATUS_SUCCESS 16 bytes
std::string event_text(const proto::TraceRecord& record);

// One record as one timeline line (without the trailing newline): sequence,
// simulated time in microseconds, partition, context, IRQL (where the record
// knows it) and then event_text(record).
std::string format_record(const proto::TraceRecord& record);

}  // namespace vmbus::trace
