// Perfetto trace export of a run's trace (`vmbus-sim trace export
// --format=perfetto`): Perfetto's own protobuf format, which ui.perfetto.dev
// and trace_processor open. The schema we write is
// sim/cli/proto/vmbus/cli/perfetto_trace.proto.
#pragma once

#include <string>

#include "vmbus/cli/timeline.h"
#include "vmbus/proto/trace.pb.h"

namespace vmbus::cli {

// Appends the timeline (timeline.h) to `out` as a serialized Trace message:
//  - a track descriptor per process (uuid = pid, process {pid, name}), then
//    per thread (uuid = 1000 + tid, thread {pid, tid, name}), then per ring
//    counter (uuid = 2^40 + its index, parent the hypervisor's process,
//    named after the counter, unit bytes);
//  - then the events in time order: each slice a SLICE_BEGIN (name,
//    category "vmbus" or "scheduler", its args as debug annotations, "fault"
//    when one hit it, the ids of the flows through it, the flow's last slice
//    listing it as terminating) and a SLICE_END, and each ring counter sample
//    a COUNTER event. At one time, slices end before others begin, inner
//    before outer, and outer slices begin before inner ones.
// Timestamps are the timeline's nanoseconds; every packet is on sequence 1.
// The hypervisor's process is named after the run ("hypervisor: scenario
// 'x' seed N") -- Perfetto has no better place for it.
void write_perfetto_trace(const proto::TraceHeader& header, const Timeline& timeline,
                          std::string& out);

}  // namespace vmbus::cli
