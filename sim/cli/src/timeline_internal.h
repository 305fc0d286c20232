// The parts of build_timeline (timeline.h) that live in their own files:
// the flows and ring counters (timeline_flows.cc), found from the records
// in the order the timeline lays them out.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "vmbus/cli/timeline.h"
#include "vmbus/proto/trace.pb.h"

namespace vmbus::cli::detail {

// The records as the timeline lays them out: `order[k]` is the record of
// slice k.
struct LaidOut {
  std::span<const proto::TraceRecord> records;
  std::vector<std::size_t> order;
};

// Every flow of the timeline, ids dense from 1 in the order they start.
std::vector<TimelineFlow> find_flows(const LaidOut& laid_out);

// The ring counters and their samples; `slices` gives each sample's time.
void add_ring_counters(const LaidOut& laid_out, Timeline& timeline);

// For each record, the record a fault record hit (see timeline.h), as pairs
// (fault record, hit record) in record order.
std::vector<std::pair<std::size_t, std::size_t>> fault_targets(
    std::span<const proto::TraceRecord> records);

}  // namespace vmbus::cli::detail
