// `vmbus-sim trace`: reading the trace files runs write.
//
//   trace show     a run's trace as a timeline a person can read;
//   trace export   the same trace as Chrome trace-event JSON, for Perfetto UI
//                  (ui.perfetto.dev) and chrome://tracing.
//
// Both are functions of the trace alone: the same trace file gives the same
// bytes out, so their output can be compared across runs and machines.
#pragma once

#include "vmbus/cli/command.h"

namespace vmbus::cli {

const Command& trace_command();

}  // namespace vmbus::cli
