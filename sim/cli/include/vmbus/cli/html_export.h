// The offline HTML timeline of a run's trace (`vmbus-sim trace export
// --format=html`): one self-contained page -- its script, styles and data
// inline, nothing fetched -- that opens in any current browser without a
// network, so it can be attached to a bug report.
//
// The page is the template sim/cli/assets/timeline.html (embedded in the
// program at build time) with the timeline's data put in its
// <script id="timeline-data" type="application/json"> element. It draws on
// a canvas: lanes per partition and context, a ring occupancy chart per
// ring, packet lifelines from send to completion, messages and interrupts
// with the faults that hit them; zoom, pan, search, and a click shows a
// record whole. It writes what it drew into the page as text (the outline:
// lanes, counters, lifelines) and a self-check line, which is what the
// browser test reads.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <vector>

#include "vmbus/cli/results.h"
#include "vmbus/cli/timeline.h"
#include "vmbus/proto/trace.pb.h"

namespace vmbus::cli {

// How `vmbus-sim run` judged the run the trace is of (its --json results).
struct RunJudgement {
  std::string verdict;  // "PASS", "FAIL", "ERROR"
  std::string file;     // the scenario file
  std::vector<std::string> failures;
  std::vector<RunOracle> oracles;
  std::string repro;
};

// The data the page draws, as the JSON text put into the template (every
// '<' written \u003c, so that no text can end the script element):
//   {"run": {scenario, seed, build, mode, format_version, records, trace},
//    "verdict": null or {verdict, file, failures, oracles, repro},
//    "findings": [[slice, text], ...]   -- violations, faults, crashes,
//                                          refused scenario steps, in time order
//    "tracks": [[pid, process, name], ...],
//    "strings": [...],                   -- every text of the slices, each once
//    "slices": [[track, start_ns, end_ns, name, kind, fault, [key, value, ...]], ...]
//                                        -- name, kind, fault and keys index strings
//                                           (fault -1: none); a value is a number
//                                           below 2^53, or -(1 + index) of a string
//    "flows": [[name, outcome, [slice, ...]], ...]
//                                        -- outcome: for packets "completed",
//                                           "cancelled", "failed" or "open", and
//                                           " deferred" when a Defer happened
//    "counters": [[name, relid, ring, data_size, [[time_ns, bytes], ...]], ...]}
std::string timeline_data_json(const proto::TraceHeader& header,
                               std::span<const proto::TraceRecord> records,
                               const Timeline& timeline, const std::string& trace_name,
                               const std::optional<RunJudgement>& judgement);

// The page: the template with the data in it.
void write_html_timeline(const proto::TraceHeader& header,
                         std::span<const proto::TraceRecord> records, const Timeline& timeline,
                         const std::string& trace_name,
                         const std::optional<RunJudgement>& judgement, std::string& out);

}  // namespace vmbus::cli
