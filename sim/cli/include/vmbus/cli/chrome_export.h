// Chrome trace-event JSON export of a run's trace (`vmbus-sim trace export
// --format=chrome`), for the viewers that read it: Perfetto UI and the
// Performance panel of Chromium's DevTools.
#pragma once

#include <iosfwd>
#include <span>

#include "vmbus/cli/timeline.h"
#include "vmbus/proto/trace.pb.h"

namespace vmbus::cli {

// Writes the timeline (timeline.h) of a trace as one JSON object ("JSON
// Object Format"):
//
//   {"displayTimeUnit":"ns","otherData":{...},"traceEvents":[ ...one event a line... ]}
//
// "M" events name each process (process_name, process_sort_index = pid) and
// each thread (thread_name, thread_sort_index = tid). Each slice is a
// complete event ("X") with ts and dur in microseconds with 3 decimals (the
// display time in ns / 1000, exact), category "vmbus" ("scheduler" for a
// step) and args {"sequence", "time_ns", "partition", "context", "event",
// the record's fields..., "fault" when one hit it}. Right after a slice come
// its flow events ("s" at a flow's first slice, "t" in between, "f" at its
// last; "bp":"e" on "t" and "f"), each with the slice's ts, pid and tid and
// category "vmbus": Perfetto binds a flow event to the slice open at its
// time on its thread, DevTools to the event of the same category, thread
// and ts, and both find the slice. Then the ring counter sample taken at
// that slice, if any ("C", named after the counter, on the hypervisor
// process, args {"bytes_used": N}).
void write_chrome_trace(const proto::TraceHeader& header,
                        std::span<const proto::TraceRecord> records, const Timeline& timeline,
                        std::ostream& out);

}  // namespace vmbus::cli
