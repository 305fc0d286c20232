// A trace's scheduler decisions as a pinned schedule: the context granted
// at each step, in step order, each with the number of the record that
// shows it. `vmbus-sim run --schedule TRACE` pins a run to them (see
// hypervisor::SimulationConfig::schedule); the shrinker keeps a failing
// interleaving with them.
#pragma once

#include <string>
#include <variant>
#include <vector>

#include "vmbus/proto/trace.pb.h"
#include "vmbus/trace/reader.h"

namespace vmbus::trace {

using Schedule = std::vector<proto::PinnedDecision>;

// The decisions of `trace`, or why it holds no usable schedule ("record
// 12: the chosen index 3 is outside its 2 ready contexts", "no scheduler
// decisions"); `name` starts the message.
std::variant<Schedule, std::string> schedule_of(const TraceFile& trace, const std::string& name);

}  // namespace vmbus::trace
