// `vmbus-sim trace`: reading the trace files runs write.
//
//   trace show     a run's trace as a timeline a person can read;
//   trace export   the same trace for a viewer: Chrome trace-event JSON
//                  (Perfetto UI, Chromium's DevTools), a Perfetto trace, or
//                  a self-contained HTML timeline (timeline.h is what all
//                  three draw).
//
// Both are functions of their inputs alone: the same trace file (and results
// file) gives the same bytes out, so their output can be compared across
// runs and machines.
#pragma once

#include "vmbus/cli/command.h"

namespace vmbus::cli {

const Command& trace_command();

}  // namespace vmbus::cli
