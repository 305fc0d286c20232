// What `vmbus-sim run` says about its runs, in the order they were planned:
// a line per run (PASS, FAIL or ERROR, with the first reason, the trace
// and the command that replays it), the progress line, the failures again
// at the end, and the summary; and a RunRecord per run for the results
// file and the JUnit report.
//
// It also decides what happens to each trace: a passed run's trace is
// deleted unless --trace-dir keeps every trace; a failed run's stays where
// it is, or moves (copies, with --trace-dir) into --artifacts; an
// interrupted run's partial trace stays and is named at the end if
// --trace-dir keeps every trace, and is deleted otherwise. Without
// --trace-dir the traces live in a temporary directory, which finish()
// removes with everything in it unless a failed run's trace is kept there.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "vmbus/cli/results.h"
#include "vmbus/runner/scenario.h"

#include "run_execution.h"

namespace vmbus::cli {

struct ReportSettings {
  bool quiet = false;
  bool verbose = false;
  bool final_state = false;       // --report: each run's final state after its line
  bool keep_every_trace = false;  // --trace-dir
  std::filesystem::path trace_dir;
  std::optional<std::filesystem::path> artifacts;
  bool color = false;              // colour the verdicts on stdout
  bool progress_redraw = false;    // stderr is a terminal that redraws a line
  bool progress_lines = false;     // an occasional progress line instead
  bool keep_every_record = false;  // --json or --junit want every run
  std::uint64_t total = 0;         // runs planned; 0: open-ended
  std::uint32_t repeat = 1;
  std::size_t scenario_count = 0;
  std::string shard_text;   // "" or "shard 2/4" or "shard 2/4 from ..."
  std::string driver_dirs;  // --driver-dir, for the repro commands ("" without)
};

class RunReporter {
 public:
  RunReporter(ReportSettings settings, const std::vector<runner::CompiledScenario>& scenarios,
              std::ostream& out, std::ostream& err);

  // The next outcome in plan order.
  void add(Outcome& outcome, const Execution& execution);

  // The partial traces, the failures again, and the summary line.
  void finish(const Execution& execution, std::uint32_t passes);

  std::vector<RunRecord>& records() { return records_; }
  const SweepCounts& counts() const { return counts_; }

 private:
  std::string label(const Ticket& ticket) const;
  void passed(const Ticket& ticket, const runner::ScenarioResult& result, RunRecord& record);
  void not_passed(const Ticket& ticket, const runner::ScenarioResult& result, RunRecord& record);
  std::string keep_as_artifact(const std::filesystem::path& trace);
  std::string repro_command(const std::string& trace) const;
  void print_final_state(const runner::ScenarioResult& result);
  void print_failures_again();
  void print_summary(const Execution& execution, std::uint32_t passes, double seconds);
  void clean_up_traces();
  void clear_progress();
  void show_progress(double elapsed_s);

  const ReportSettings settings_;
  const std::vector<runner::CompiledScenario>& scenarios_;
  std::ostream& out_;
  std::ostream& err_;
  SweepCounts counts_;
  std::vector<RunRecord> records_;
  std::vector<std::filesystem::path> partial_traces_;
  std::uint64_t traces_kept_in_trace_dir_ = 0;  // failed runs' traces left there
  bool progress_shown_ = false;
  std::uint64_t last_progress_step_ = 0;
};

}  // namespace vmbus::cli
