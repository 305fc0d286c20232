// Scenario files: loading (with file:line:col errors), compiling into a run
// of the simulator, and judging the run against the file's expectations and
// the oracles.
//
//   load_scenario()     text format -> proto::Scenario, or every problem found,
//                       each with the line and column it is about. A file with
//                       any problem never runs.
//   compile_scenario()  channel names -> relids, payloads -> bytes, message
//                       names -> types; the host and guest configurations;
//                       each timeline action as a hypervisor::Intervention,
//                       each trace match as a trace::RecordPattern.
//   run_scenario()      one run for one seed: the simulation with a
//                       ScenarioScript as its timeline, then judge().
//
// The schema is proto/schema/vmbus/proto/scenario.proto; docs/SCENARIOS.md
// is the user's guide (every action, expectation, counter and oracle).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "vmbus/hypervisor/simulation.h"
#include "vmbus/proto/config.pb.h"
#include "vmbus/proto/scenario.pb.h"
#include "vmbus/proto/trace.pb.h"
#include "vmbus/trace/match.h"

namespace vmbus::runner {

// "file:line:col: message" (line and column 1-based).
struct ScenarioProblem {
  std::string file;
  int line = 0;
  int column = 0;
  std::string message;
  std::string to_string() const;
};

struct LoadedScenario {
  std::filesystem::path path;
  std::string display_path;  // as given on the command line
  std::string text;          // the file as read (what a trace header carries)
  proto::Scenario scenario;
  // The ring images channels start from (inbound_ring_image), read and
  // checked, by the channel's index in the topology.
  std::map<int, std::string> ring_images;
  std::vector<ScenarioProblem> problems;  // empty: the file is good
  // What is legal but probably not meant (a scenario that expects nothing);
  // the file still runs. Each message starts with "warning: ".
  std::vector<ScenarioProblem> warnings;
  bool ok() const { return problems.empty(); }
};

// How the drivers a scenario names (DriverPolicy.library) are found and
// checked.
struct LoadOptions {
  // Folders where a library named without a '/' is looked for after the
  // scenario file's own (vmbus-sim run --driver-dir).
  std::vector<std::filesystem::path> driver_dirs;
};

// Reads, parses and checks one scenario file. Never throws for bad input.
// Each driver library it names is found (relative to the file's folder,
// then in options.driver_dirs) and loaded once with the driver loader
// (vmbus/kmcl/driver_loader.h) -- so the calling program must export the
// KMCL C API, as vmbus-sim does -- and a library that cannot run is a
// problem of the file; the scenario then names the library by its absolute
// path.
LoadedScenario load_scenario(const std::filesystem::path& path, const std::string& display_path,
                             const LoadOptions& options = {});
// The same for text already in memory (tests), without looking for the
// libraries: a library is kept as written.
LoadedScenario load_scenario_text(const std::string& text, const std::string& display_path);
// Text that came from a file but is no longer read from it (a trace
// header's copy): libraries are looked for as load_scenario() looks for
// them, from `folder` (the original file's) and options.driver_dirs.
LoadedScenario load_scenario_text(const std::string& text, const std::string& display_path,
                                  const std::filesystem::path& folder, const LoadOptions& options);

struct CompiledChannel {
  std::string name;
  std::uint32_t relid = 0;
};

// One timeline entry, compiled.
struct CompiledEntry {
  proto::TimelineEntry entry;             // names resolved, payloads raw
  hypervisor::Intervention intervention;  // what the hypervisor does when it is due
  // The records its conditions count (entry.when() and entry.wait_until()).
  std::optional<trace::RecordPattern> when;
  std::optional<trace::RecordPattern> wait_until;
  // Exploration's hostile writes: a write the host refuses (the channel is
  // not open, no packet to tamper with) did nothing, which is no failure.
  bool refusal_is_no_failure = false;
};

struct CompiledScenario {
  std::string name;
  std::string display_path;
  std::string source_text;  // the file as read
  std::uint64_t default_seed = 1;
  std::uint64_t time_limit_ns = 0;
  proto::HostConfig host;
  proto::GuestConfig guest;
  std::vector<CompiledEntry> timeline;
  proto::Expectations expect;  // as written (channel names kept)
  // The records each trace expectation counts (expect.trace(i).event()),
  // and the record after which it starts counting (its `after`, if set).
  std::vector<trace::RecordPattern> expected_trace;
  std::vector<std::optional<trace::RecordPattern>> expected_trace_after;
  std::vector<CompiledChannel> channels;
  // The scenario's pinned scheduler decisions, each with its step (see
  // hypervisor::SimulationConfig::schedule).
  std::vector<proto::PinnedDecision> pins;
  // Oracle firings that may happen without failing the run (exploration:
  // the ones its faults cause by construction, and the scenario's expected
  // ones, no longer required under faults).
  std::vector<proto::OracleExpectation> allowed_oracles;
  // Exploration under faults: timeline entries whose conditions the faults
  // keep from ever holding are no failure (the run still ends quiet).
  bool timeline_may_stay_unfinished = false;
  // The file names quirks but this run leaves them out (CompileOptions);
  // the quirks a run has are host.quirks() and guest.quirks().
  bool quirks_off = false;

  std::optional<std::uint32_t> relid_of(const std::string& channel) const;
  std::string channel_name(std::uint32_t relid) const;
};

// How a scenario is compiled. A scenario with guest_quirks or host_quirks
// (historical bugs put back on purpose) runs in two modes: with its quirks
// (the default) or without them (`vmbus-sim run --quirks off`), each with
// its own expectations (expectations_for_mode).
struct CompileOptions {
  bool quirks = true;
};

// Requires a good LoadedScenario.
CompiledScenario compile_scenario(const LoadedScenario& loaded, const CompileOptions& options = {});

// What a run in one mode must show: `expect` with its with_quirks (or
// without_quirks) block merged in -- lists appended, outcome,
// negotiated_version and driver_crash replaced when the block sets them --
// and neither block left.
proto::Expectations expectations_for_mode(const proto::Expectations& expect, bool quirks_on);

// A compiled timeline entry (names resolved, payloads raw) in the
// hypervisor's words: its action's row in the action table decides who
// carries it out and how (an entry without an action: nothing to do).
hypervisor::Intervention intervention_of(const proto::TimelineEntry& entry);

// One oracle that fired.
struct OracleFiring {
  std::string name;     // lost_wakeup, spurious_signal, retired_once, fifo, leak
  std::string channel;  // the channel's name, or "" for the whole run
  std::string what;     // one sentence
};

enum class Verdict {
  kPassed,
  kFailed,  // an expectation did not hold, an oracle fired unexpectedly, or a
            // loaded driver crashed or hung unexpectedly
  kError,   // the simulator itself failed (crash, hang, lost child, setup)
};

// One line of a run's final state: what `vmbus-sim run --report` prints,
// and what the trace's last records (FinalStateEvent) say.
struct FinalStateLine {
  std::string kind;  // "version", "channel", "oracle" or "verdict"
  // Whose report the line is ("channel"); PARTITION_UNSPECIFIED: the run's.
  proto::Partition partition = proto::PARTITION_UNSPECIFIED;
  std::string channel;  // the channel's name in the scenario
  std::uint32_t child_relid = 0;
  std::string name;  // an oracle's name; the verdict
  std::string text;
};

struct ScenarioResult {
  Verdict verdict = Verdict::kError;
  std::vector<std::string> failures;  // in words, most telling first
  std::vector<OracleFiring> oracles;
  hypervisor::RunResult run;
  std::uint64_t seed = 0;
  std::filesystem::path trace_path;
  std::size_t entries_run = 0;  // timeline entries that ran
  // The run's final state, judged (final_state_of); also the trace's end.
  std::vector<FinalStateLine> final_state;
};

// A judged run's final state, in this order: the negotiated version; for
// each channel the guest's and the host's KMCL driver (channel and queue
// states, every counter a scenario may expect, by its name) and the host
// VSP (its state, its counters, the rings' control words while open) and,
// from a run of run_scenario(), the signals and interrupts the trace counts
// for it; every oracle's verdict; the run's verdict.
std::vector<FinalStateLine> final_state_of(const CompiledScenario& scenario,
                                           const ScenarioResult& result);

// "PASS", "FAIL", "ERROR".
const char* verdict_name(Verdict verdict);

struct RunOptions {
  std::filesystem::path host_binary;
  std::filesystem::path guest_binary;
  std::filesystem::path trace_path;  // where the run's trace goes (required)
  std::chrono::milliseconds response_timeout{10'000};
  // Step mode: sees every trace record as the run writes it (the run waits
  // meanwhile); returning false stops the run, which then ends interrupted.
  std::function<bool(const proto::TraceRecord&)> watch;
  // For the trace header: the command that runs this one run ("vmbus-sim
  // run FILE --seed N"): a function of the scenario and seed, so that two
  // sweeps that differ only in where they write give identical traces.
  std::string command_line;
  // A pinned schedule (vmbus-sim run --schedule) and the trace it came
  // from; see hypervisor::SimulationConfig::schedule.
  std::vector<proto::PinnedDecision> schedule;
  std::string schedule_source;
};

// Runs `scenario` once with `seed` and judges the run.
ScenarioResult run_scenario(const CompiledScenario& scenario, std::uint64_t seed,
                            const RunOptions& options);

// Judges a finished run from its trace records (exposed for tests):
// expectations, then oracles. run_scenario() judges the same way, but from
// a tally gathered while the run went on, so it never holds the trace.
void judge(const CompiledScenario& scenario, const std::vector<proto::TraceRecord>& records,
           ScenarioResult& result);

// Counter names a CounterExpectation may use.
const std::vector<std::string>& scenario_counter_names();
// Oracle names.
const std::vector<std::string>& scenario_oracle_names();
// The callbacks a loaded driver can crash in (driver_crash.callback).
const std::vector<std::string>& driver_callback_names();

}  // namespace vmbus::runner
