// One run of a compiled scenario: the simulation with the timeline as its
// script, then the judge.
#include <filesystem>

#include "vmbus/trace/writer.h"

#include "internal.h"
#include "script.h"

namespace vmbus::runner {
namespace {

// The trace ends with the final state, so that `trace show` ends with the
// verdict. A run that never created its trace has none to end.
void append_final_state(ScenarioResult& result) {
  std::error_code error;
  if (result.trace_path.empty() || !std::filesystem::exists(result.trace_path, error)) {
    return;
  }
  try {
    trace::TraceWriter writer;
    writer.append_to(result.trace_path, result.run.trace_records);
    for (const FinalStateLine& line : result.final_state) {
      proto::TraceRecord record;
      record.set_time_ns(result.run.time_ns);
      record.set_partition(line.partition);
      auto* event = record.mutable_final_state();
      event->set_kind(line.kind);
      event->set_channel(line.channel);
      event->set_child_relid(line.child_relid);
      event->set_name(line.name);
      event->set_text(line.text);
      writer.write(record);
    }
    writer.close();
  } catch (const std::exception& e) {
    result.failures.push_back(e.what());
    if (result.verdict == Verdict::kPassed) {
      result.verdict = Verdict::kError;
    }
  }
}

}  // namespace

ScenarioResult run_scenario(const CompiledScenario& scenario, std::uint64_t seed,
                            const RunOptions& options) {
  ScenarioScript script(scenario);
  script.set_watch(options.watch);
  hypervisor::SimulationConfig config;
  config.host_binary = options.host_binary;
  config.guest_binary = options.guest_binary;
  config.mode = proto::SCHEDULING_MODE_DETERMINISTIC;
  config.seed = seed;
  config.scenario_name = scenario.name;
  config.trace_path = options.trace_path;
  config.response_timeout = options.response_timeout;
  config.time_limit_ns = scenario.time_limit_ns;
  config.segment_size_bytes = 16ull << 20;
  std::string host_config;
  std::string guest_config;
  scenario.host.SerializeToString(&host_config);
  scenario.guest.SerializeToString(&guest_config);
  config.host_config = host_config;
  config.guest_config = guest_config;
  config.script = &script;
  config.provenance.set_scenario_text(scenario.source_text);
  config.provenance.set_scenario_path(scenario.display_path);
  config.provenance.set_command_line(options.command_line);
  config.provenance.set_schedule_source(options.schedule_source);
  *config.provenance.mutable_guest_quirks() = scenario.guest.quirks();
  *config.provenance.mutable_host_quirks() = scenario.host.quirks();
  config.provenance.set_quirks_off(scenario.quirks_off);
  // A recorded schedule (run --schedule, replay) replaces the scenario's
  // own pins; a replay of a pinned run passes the same pins back.
  config.schedule = options.schedule.empty() ? scenario.pins : options.schedule;

  ScenarioResult result;
  result.seed = seed;
  result.trace_path = options.trace_path;
  result.run = hypervisor::run_simulation(config);
  result.entries_run = script.entries_run();
  script.tally().finish();
  judge(scenario, script.tally(), result);
  if (!script.error().empty()) {
    result.failures.insert(result.failures.begin(), script.error());
    if (result.verdict == Verdict::kPassed) {
      result.verdict = Verdict::kFailed;
    }
  }
  const bool expect_crash = scenario.expect.outcome() != proto::Expectations::COMPLETED;
  if (!expect_crash && !scenario.timeline_may_stay_unfinished &&
      result.run.outcome == hypervisor::RunOutcome::kCompleted) {
    const std::string unfinished = script.unfinished(result.run.time_ns);
    if (!unfinished.empty()) {
      result.failures.insert(result.failures.begin(), unfinished);
      if (result.verdict == Verdict::kPassed) {
        result.verdict = Verdict::kFailed;
      }
    }
  }
  result.final_state = final_state_of(scenario, result, &script.tally());
  append_final_state(result);
  return result;
}

}  // namespace vmbus::runner
