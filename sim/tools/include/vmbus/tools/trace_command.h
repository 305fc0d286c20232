// `vmbus-sim trace show`: a run's trace as a timeline a person can read.
#pragma once

#include <iosfwd>
#include <optional>
#include <string>

#include "vmbus/proto/trace.pb.h"
#include "vmbus/tools/command.h"

namespace vmbus::tools {

const Command& trace_command();

// One trace record as one timeline line (without the trailing newline):
// sequence, simulated time in microseconds, partition, context, IRQL (where
// the record knows it) and the event in words.
std::string format_trace_record(const proto::TraceRecord& record);

// Whether `record` concerns channel `child_relid` (its ring, channel state,
// signals, KMCL context or a control message naming it).
bool trace_record_concerns_channel(const proto::TraceRecord& record, std::uint32_t child_relid);

}  // namespace vmbus::tools
