#include "run_report.h"

#include <cstdio>
#include <system_error>

#include "vmbus/base/build_info.h"
#include "vmbus/cli/command.h"
#include "vmbus/cli/terminal.h"

namespace vmbus::cli {
namespace {

namespace fs = std::filesystem;

using runner::ScenarioResult;
using runner::Verdict;

// At most this many failures are listed again at the end; all of them are
// above, and in --json and --junit.
constexpr std::size_t kFailuresListedAgainMax = 100;

std::string format_us(std::uint64_t ns) {
  char text[48];
  std::snprintf(text, sizeof(text), "%.3f", static_cast<double>(ns) / 1000.0);
  return text;
}

// Moves `from` to `to`, copying when they are on different file systems.
std::error_code move_file(const fs::path& from, const fs::path& to) {
  std::error_code error;
  fs::rename(from, to, error);
  if (error == std::errc::cross_device_link) {
    error.clear();
    fs::copy_file(from, to, fs::copy_options::overwrite_existing, error);
    if (!error) {
      fs::remove(from, error);
    }
  }
  return error;
}

}  // namespace

RunReporter::RunReporter(ReportSettings settings,
                         const std::vector<runner::CompiledScenario>& scenarios, std::ostream& out,
                         std::ostream& err)
    : settings_(std::move(settings)), scenarios_(scenarios), out_(out), err_(err) {}

std::string RunReporter::label(const Ticket& ticket) const {
  std::string text =
      scenarios_[ticket.scenario].display_path + " seed " + std::to_string(ticket.seed);
  if (settings_.repeat > 1) {
    text += " #" + std::to_string(ticket.repetition);
  }
  return text;
}

void RunReporter::add(Outcome& outcome, const Execution& execution) {
  clear_progress();
  const Ticket& ticket = outcome.ticket;
  RunRecord record;
  record.position = ticket.position;
  record.repetition = ticket.repetition;
  record.pass = ticket.pass;
  record.scenario = static_cast<std::uint32_t>(ticket.scenario);
  record.seed = ticket.seed;
  record.started_s = outcome.started_s;
  record.wall_s = outcome.wall_s;
  const ScenarioResult& result = outcome.result;
  if (!outcome.ran || result.run.outcome == hypervisor::RunOutcome::kInterrupted) {
    record.verdict = RunVerdict::kNotRun;
    record.failure = execution.interrupted() ? "not run: interrupted"
                                             : "not run: --fail-fast stopped after a failure";
    if (outcome.ran && fs::exists(result.trace_path)) {
      partial_traces_.push_back(result.trace_path);
    }
  } else {
    record.steps = result.run.steps;
    record.simulated_ns = result.run.time_ns;
    for (const runner::OracleFiring& oracle : result.oracles) {
      record.oracles.push_back(RunOracle{oracle.name, oracle.channel, oracle.what});
    }
    if (result.verdict == Verdict::kPassed) {
      passed(ticket, result, record);
    } else {
      not_passed(ticket, result, record);
    }
  }
  ++counts_.runs;
  counts_.passed += record.verdict == RunVerdict::kPassed ? 1 : 0;
  counts_.failed += record.verdict == RunVerdict::kFailed ? 1 : 0;
  counts_.errors += record.verdict == RunVerdict::kError ? 1 : 0;
  counts_.not_run += record.verdict == RunVerdict::kNotRun ? 1 : 0;
  const bool failed = record.verdict == RunVerdict::kFailed || record.verdict == RunVerdict::kError;
  if (settings_.keep_every_record || failed) {
    records_.push_back(std::move(record));
  }
  if (settings_.final_state && outcome.ran) {
    print_final_state(outcome.result);
  }
  out_ << std::flush;
  show_progress(execution.elapsed_s());
}

void RunReporter::passed(const Ticket& ticket, const ScenarioResult& result, RunRecord& record) {
  record.verdict = RunVerdict::kPassed;
  if (!settings_.quiet) {
    out_ << colored("PASS", Color::kGreen, settings_.color) << "   " << label(ticket) << "  ("
         << result.run.steps << " steps, " << format_us(result.run.time_ns) << " us simulated)\n";
  }
  if (settings_.keep_every_trace) {
    record.trace = result.trace_path.string();
  } else {
    std::error_code ignored;
    fs::remove(result.trace_path, ignored);
  }
}

void RunReporter::print_final_state(const ScenarioResult& result) {
  for (const runner::FinalStateLine& line : result.final_state) {
    out_ << "       " << line.text << "\n";
  }
}

// FAIL or ERROR with the first reason, the trace and a repro command.
void RunReporter::not_passed(const Ticket& ticket, const ScenarioResult& result,
                             RunRecord& record) {
  const bool is_error = result.verdict == Verdict::kError;
  record.verdict = is_error ? RunVerdict::kError : RunVerdict::kFailed;
  record.failures = result.failures;
  record.failure =
      result.failures.empty() ? std::string("(no reason recorded)") : result.failures.front();
  record.trace = keep_as_artifact(result.trace_path);
  std::error_code ignored;
  if (record.trace == result.trace_path.string() && fs::exists(result.trace_path, ignored)) {
    ++traces_kept_in_trace_dir_;
  }
  record.repro = repro_command(record.trace);
  out_ << (is_error ? colored("ERROR", Color::kBoldRed, settings_.color) + "  "
                    : colored("FAIL", Color::kRed, settings_.color) + "   ")
       << label(ticket) << ": " << record.failure << "\n";
  if (settings_.verbose) {
    for (std::size_t i = 1; i < result.failures.size(); ++i) {
      out_ << "       also: " << result.failures[i] << "\n";
    }
  }
  out_ << "       trace: " << record.trace << "\n";
  out_ << "       repro: " << record.repro << "\n";
}

// The failed run's trace in --artifacts (moved, or copied when --trace-dir
// keeps every trace where it is), or where it is. Returns its path.
std::string RunReporter::keep_as_artifact(const fs::path& trace) {
  std::error_code error;
  if (!settings_.artifacts || !fs::exists(trace, error)) {
    return trace.string();
  }
  const fs::path kept = *settings_.artifacts / trace.filename();
  if (settings_.keep_every_trace) {
    fs::copy_file(trace, kept, fs::copy_options::overwrite_existing, error);
  } else {
    error = move_file(trace, kept);
  }
  if (error) {
    err_ << "vmbus-sim: cannot keep " << trace.string() << " in " << settings_.artifacts->string()
         << ": " << error.message() << "\n";
    return trace.string();
  }
  return kept.string();
}

std::string RunReporter::repro_command(const std::string& trace) const {
  // The trace holds the scenario, seed and schedule; the build rides along
  // as a shell comment, so the line stays a command.
  return "vmbus-sim replay " + shell_quote(trace) +
         (settings_.driver_dirs.empty() ? ""
                                        : " --driver-dir " + shell_quote(settings_.driver_dirs)) +
         "  # vmbus-sim " + base::build_identity();
}

void RunReporter::finish(const Execution& execution, std::uint32_t passes) {
  clear_progress();
  if (settings_.keep_every_trace && !partial_traces_.empty()) {
    out_ << "Interrupted: the partial traces of the runs under way are kept:\n";
    for (const fs::path& trace : partial_traces_) {
      out_ << "       " << trace.string() << "\n";
    }
  }
  print_failures_again();
  print_summary(execution, passes, execution.elapsed_s());
  clean_up_traces();
}

// Without --trace-dir nothing of the temporary directory outlives the
// command but the failed runs' traces that were named above.
void RunReporter::clean_up_traces() {
  if (settings_.keep_every_trace) {
    return;
  }
  std::error_code ignored;
  if (traces_kept_in_trace_dir_ == 0) {
    fs::remove_all(settings_.trace_dir, ignored);
    return;
  }
  for (const fs::path& trace : partial_traces_) {
    fs::remove(trace, ignored);
  }
  fs::remove(settings_.trace_dir, ignored);  // only if nothing else is left in it
}

void RunReporter::print_failures_again() {
  const std::uint64_t not_passed = counts_.failed + counts_.errors;
  if (not_passed == 0) {
    return;
  }
  out_ << "\n" << not_passed << " run(s) did not pass:\n";
  std::size_t listed = 0;
  for (const RunRecord& record : records_) {
    if (record.verdict != RunVerdict::kFailed && record.verdict != RunVerdict::kError) {
      continue;
    }
    if (listed++ == kFailuresListedAgainMax) {
      out_ << "       ... and " << not_passed - kFailuresListedAgainMax
           << " more (listed above, and in --json and --junit)\n";
      break;
    }
    const bool is_error = record.verdict == RunVerdict::kError;
    Ticket ticket;
    ticket.scenario = record.scenario;
    ticket.seed = record.seed;
    ticket.repetition = record.repetition;
    out_ << (is_error ? colored("ERROR", Color::kBoldRed, settings_.color) + "  "
                      : colored("FAIL", Color::kRed, settings_.color) + "   ")
         << label(ticket) << ": " << record.failure << "\n"
         << "       repro: " << record.repro << "\n";
  }
}

void RunReporter::print_summary(const Execution& execution, std::uint32_t passes, double seconds) {
  char elapsed[32];
  std::snprintf(elapsed, sizeof(elapsed), "%.1f", seconds);
  out_ << counts_.runs << " run(s) of " << settings_.scenario_count << " scenario(s)";
  if (!settings_.shard_text.empty()) {
    out_ << " (" << settings_.shard_text << ")";
  }
  if (settings_.total == 0) {
    out_ << " in " << passes << " pass(es) of new seeds (--until-fail)";
  }
  out_ << ": " << counts_.passed << " passed, " << counts_.failed << " failed, " << counts_.errors
       << " errors";
  // Interrupted, the count is there even when it is 0 (a signal while the
  // last run was judged): the summary says the sweep was cut short.
  if (execution.interrupted()) {
    out_ << ", " << counts_.not_run << " not run (interrupted)";
  } else if (counts_.not_run != 0) {
    out_ << ", " << counts_.not_run << " not run (--fail-fast)";
  }
  out_ << " in " << elapsed << " s\n";
  if (counts_.failed + counts_.errors != 0) {
    out_ << "To reproduce a failure byte for byte, run its repro command: it runs the\n"
            "trace's run again and compares (vmbus-sim trace show FILE to read it).\n";
  }
}

void RunReporter::clear_progress() {
  if (progress_shown_) {
    err_ << "\r\033[K" << std::flush;
    progress_shown_ = false;
  }
}

// A redrawn line on a terminal; otherwise, under --quiet, a line every
// tenth of a long run (every 100 runs of an open-ended one).
void RunReporter::show_progress(double elapsed_s) {
  const Progress progress{counts_.runs,   settings_.total, counts_.passed,
                          counts_.failed, counts_.errors,  elapsed_s};
  const bool more_to_come = settings_.total == 0 || counts_.runs < settings_.total;
  if (settings_.progress_redraw && more_to_come) {
    err_ << progress_text(progress) << std::flush;
    progress_shown_ = true;
    return;
  }
  if (!settings_.progress_lines || !more_to_come) {
    return;
  }
  std::uint64_t step = 0;
  if (settings_.total == 0) {
    step = counts_.runs / 100;
  } else if (settings_.total >= 50) {
    step = counts_.runs * 10 / settings_.total;
  }
  if (step > last_progress_step_) {
    last_progress_step_ = step;
    err_ << "progress: " << progress_text(progress) << "\n";
  }
}

}  // namespace vmbus::cli
