// The scenario engine's internals, shared by its files (not installed).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "vmbus/proto/scenario.pb.h"
#include "vmbus/runner/scenario.h"
#include "vmbus/trace/match.h"

namespace vmbus::runner {

// A channel's ring size when its scenario gives none (the loader checks the
// channels with it, the compiler configures the partitions with it).
inline constexpr std::uint32_t kDefaultRingPages = 4;

// describe.cc: words shared by the engine's messages.
std::string quoted(const std::string& channel);
// "HOST_TO_GUEST" -> "host to guest".
std::string enum_words(const std::string& name);
// "the trace shows \"kmcl fail\" from guest 2 times".
std::string describe_condition(const proto::Condition& condition);

// judge.cc: "" or why counter `name` cannot be expected of `side` (the
// KMCL counters and violations take a side, the host_* counters only HOST,
// the signal counts none).
std::string counter_side_problem(const std::string& name, proto::Side side);

// judge.cc: the counters a scenario may expect that a partition's report
// holds, as "name=value": those of a KMCL driver's channel (either side's),
// or the host VSP's ("host_*", interrupts_suppressed).
std::string kmcl_counter_words(const proto::KmclChannelReport& report);
std::string host_counter_words(const proto::HostChannelReport& report);

// actions.cc: a timeline entry's action in words (its row's describe).
std::string describe_action(const proto::TimelineEntry& entry);

// trace_match.cc: the record a match looks for in the words of `trace
// show`, then its side and channel: "\"kmcl fail\" from guest on 'net'".
std::string describe_match(const proto::TraceMatch& match);
// judge.cc: judges a finished run by what its tally gathered (after
// finish()): expectations, then oracles.
class TraceTally;
void judge(const CompiledScenario& scenario, const TraceTally& tally, ScenarioResult& result);

// compile.cc: the relid of every channel, in file order: as written, or
// else the smallest relid no channel names (1, 2, 3, ...).
std::vector<std::uint32_t> assign_relids(const proto::Topology& topology);
// The relids of every channel's subchannels (ChannelSpec.subchannels), by
// channel in file order: the smallest relids no channel has, after every
// channel's own.
std::vector<std::vector<std::uint32_t>> assign_subchannel_relids(const proto::Topology& topology);
// How actions and expectations name subchannel `index` (1..) of `channel`.
std::string subchannel_name(const std::string& channel, std::uint32_t index);
// The instance GUID the host offers channel `relid` with: the relid in the
// last group.
std::string instance_guid_of(std::uint32_t relid);

// final_state.cc: final_state_of() with the trace's per-channel signal and
// interrupt counts from the run's tally (null: without them).
std::vector<FinalStateLine> final_state_of(const CompiledScenario& scenario,
                                           const ScenarioResult& result, const TraceTally* tally);

// trace_match.cc: a checked match as the trace component's pattern.
trace::RecordPattern compile_match(const proto::TraceMatch& match,
                                   const CompiledScenario& scenario);

}  // namespace vmbus::runner
