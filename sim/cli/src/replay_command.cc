#include "vmbus/cli/replay_command.h"

#include <filesystem>
#include <optional>
#include <ostream>
#include <string>

#include "vmbus/base/build_info.h"
#include "vmbus/cli/output_paths.h"
#include "vmbus/hypervisor/interrupt.h"
#include "vmbus/hypervisor/simulation.h"
#include "vmbus/runner/scenario.h"
#include "vmbus/trace/compare.h"
#include "vmbus/trace/reader.h"
#include "vmbus/trace/render.h"

namespace vmbus::cli {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kDescription =
    R"(Runs again the run TRACE records and compares the two traces. A trace
(format 6 on) carries everything the run was: the scenario file's text and
path, or the configurations of a `simulate` run; the seed; the schedule it
was pinned to (run --schedule); the command line; and the build. The replay
runs that, writes a new trace and compares it with TRACE record by record.

Prints what ran and its verdict, then either
  identical: N records, byte for byte
or the first record that differs, by its number, as each trace renders it
(both lines; the record in full where the lines agree), and where the
replay's trace is. A trace written by another build is replayed with a
warning: a seed reproduces a run only with the build that made it.

Options:
  --trace FILE      write the replay's trace to FILE (default: a temporary
                    file, kept only when the traces differ); never TRACE
  --driver-dir DIRS where driver libraries the scenario names are looked
                    for after the scenario file's folder, as with run
  --timeout-ms N    a partition silent this long (wall clock) is hung
                    (default 10000)
  --host-binary PATH, --guest-binary PATH
                    the partition programs (default: next to vmbus-sim)
  --help            print this help

Exit status:
  0    the replay is byte-identical (headers aside from the build)
  1    the traces differ
  2    usage error, or TRACE cannot be replayed: not a trace, another
       format version, truncated, no run in its header, a scenario that no
       longer loads, or a schedule that does not fit; nothing is written
  130  interrupted
)";

constexpr std::string_view kExamples =
    R"(  vmbus-sim replay /tmp/vmbus-sim-run-Qx3v7a/fails.seed5.trace
  vmbus-sim replay --trace again.trace customer.trace
)";

constexpr FlagSpec kFlags[] = {{"--trace", true},
                               {"--driver-dir", true},
                               {"--timeout-ms", true},
                               {"--host-binary", true},
                               {"--guest-binary", true}};

struct ReplayRequest {
  fs::path trace;
  std::optional<fs::path> out;
  runner::LoadOptions load;
  std::chrono::milliseconds timeout{10'000};
  fs::path host_binary;
  fs::path guest_binary;
};

std::optional<ReplayRequest> parse_request(const Invocation& invocation) {
  const std::optional<ParsedArgs> args = parse_args(invocation, kFlags);
  if (!args) {
    return std::nullopt;
  }
  if (args->positionals.size() != 1) {
    usage_error(invocation.command_path, invocation.io.err,
                args->positionals.empty() ? "missing TRACE" : "expected one TRACE");
    return std::nullopt;
  }
  ReplayRequest request;
  request.trace = std::string(args->positionals.front());
  if (auto text = args->value("--trace")) {
    request.out = std::string(*text);
  }
  if (auto text = args->value("--timeout-ms")) {
    const auto value = parse_decimal_flag(invocation, "--timeout-ms", *text, 3'600'000);
    if (!value || *value == 0) {
      if (value) {
        usage_error(invocation.command_path, invocation.io.err, "--timeout-ms must be at least 1");
      }
      return std::nullopt;
    }
    request.timeout = std::chrono::milliseconds(*value);
  }
  if (auto text = args->value("--driver-dir")) {
    std::string_view rest = *text;
    for (std::size_t colon = rest.find(':');; colon = rest.find(':')) {
      if (!rest.substr(0, colon).empty()) {
        request.load.driver_dirs.emplace_back(std::string(rest.substr(0, colon)));
      }
      if (colon == std::string_view::npos) {
        break;
      }
      rest.remove_prefix(colon + 1);
    }
  }
  const fs::path here = own_directory();
  request.host_binary =
      std::string(args->value("--host-binary").value_or((here / "vmbus-host").string()));
  request.guest_binary =
      std::string(args->value("--guest-binary").value_or((here / "vmbus-guest").string()));
  return request;
}

// What the replayed run came to, in words, or why it could not run.
struct Rerun {
  std::string problem;  // non-empty: the header cannot be run (exit 2)
  std::string verdict;  // "PASS", "FAIL: ...", "completed", ...
  bool diverged = false;
};

Rerun rerun_scenario(const ReplayRequest& request, const proto::TraceHeader& header,
                     const fs::path& out) {
  Rerun rerun;
  const fs::path folder = fs::path(header.scenario_path()).parent_path();
  const runner::LoadedScenario loaded = runner::load_scenario_text(
      header.scenario_text(), header.scenario_path(), folder, request.load);
  if (!loaded.ok()) {
    rerun.problem =
        "the scenario in its header does not load: " + loaded.problems.front().to_string();
    return rerun;
  }
  runner::RunOptions options;
  options.host_binary = request.host_binary;
  options.guest_binary = request.guest_binary;
  options.trace_path = out;
  options.response_timeout = request.timeout;
  options.command_line = header.command_line();
  options.schedule_source = header.schedule_source();
  options.schedule.assign(header.schedule().begin(), header.schedule().end());
  const runner::ScenarioResult result = runner::run_scenario(
      runner::compile_scenario(loaded, {.quirks = !header.quirks_off()}), header.seed(), options);
  rerun.diverged = result.run.outcome == hypervisor::RunOutcome::kScheduleDiverged;
  const char* words[] = {"PASS", "FAIL", "ERROR"};
  rerun.verdict = words[static_cast<int>(result.verdict)];
  if (!result.failures.empty()) {
    rerun.verdict += ": " + result.failures.front();
  }
  return rerun;
}

Rerun rerun_simulate(const ReplayRequest& request, const proto::TraceHeader& header,
                     const fs::path& out) {
  hypervisor::SimulationConfig config;
  config.host_binary = request.host_binary;
  config.guest_binary = request.guest_binary;
  config.mode = header.mode();
  config.seed = header.seed();
  config.scenario_name = header.scenario();
  config.trace_path = out;
  config.response_timeout = request.timeout;
  config.host_config = header.simulate().host().SerializeAsString();
  config.guest_config = header.simulate().guest().SerializeAsString();
  *config.provenance.mutable_simulate() = header.simulate();
  config.provenance.set_command_line(header.command_line());
  config.schedule.assign(header.schedule().begin(), header.schedule().end());
  const hypervisor::RunResult result = hypervisor::run_simulation(config);
  Rerun rerun;
  rerun.diverged = result.outcome == hypervisor::RunOutcome::kScheduleDiverged;
  rerun.verdict = hypervisor::run_outcome_name(result.outcome);
  if (!result.detail.empty()) {
    rerun.verdict += ": " + result.detail;
  }
  return rerun;
}

void print_difference(const trace::TraceComparison& comparison, const CommandIo& io) {
  if (comparison.record) {
    io.out << "differs at record " << *comparison.record << " (the recorded trace has "
           << comparison.records_recorded << " records, the replay " << comparison.records_replayed
           << "):\n"
           << "  recorded: " << comparison.recorded << "\n"
           << "  replayed: " << comparison.replayed << "\n";
  } else {
    io.out << "the records agree (" << comparison.records_recorded
           << "), but the headers differ in " << comparison.header_field << "\n";
  }
}

// Where the replay writes: --trace, or a file in a fresh temporary
// directory. "" or why not.
std::string choose_output(const ReplayRequest& request, fs::path& out, fs::path& temporary) {
  if (request.out) {
    std::error_code ignored;
    if (fs::equivalent(*request.out, request.trace, ignored)) {
      return "--trace: " + request.out->string() + " is TRACE itself; it is not written over";
    }
    out = *request.out;
    const std::string problem = check_output_file(out);
    return problem.empty() ? "" : "--trace: " + problem;
  }
  const char* tmp = std::getenv("TMPDIR");
  const fs::path parent = tmp != nullptr && *tmp != '\0' ? tmp : "/tmp";
  if (std::string problem = make_temporary_directory(parent, "vmbus-sim-replay-", temporary);
      !problem.empty()) {
    return "the temporary trace directory: " + problem;
  }
  out = temporary / request.trace.filename();
  return "";
}

int replay(const Invocation& invocation, const ReplayRequest& request,
           const trace::TraceFile& recorded, const fs::path& out) {
  const proto::TraceHeader& header = recorded.header;
  const CommandIo& io = invocation.io;
  io.out << "replay: " << request.trace.string() << " ("
         << (header.scenario_text().empty() ? "simulate" : header.scenario_path()) << ", seed "
         << header.seed()
         << (header.schedule().empty()
                 ? std::string()
                 : ", " + std::to_string(header.schedule_size()) + " pinned decisions")
         << ")\n";
  const Rerun rerun = header.scenario_text().empty() ? rerun_simulate(request, header, out)
                                                     : rerun_scenario(request, header, out);
  if (!rerun.problem.empty()) {
    io.err << "vmbus-sim replay: " << request.trace.string() << ": " << rerun.problem << "\n";
    return kExitError;
  }
  io.out << "run: " << rerun.verdict << "\n";
  if (hypervisor::interrupted()) {
    return hypervisor::kExitInterrupted;
  }
  const trace::TraceReadResult replayed = trace::read_trace(out);
  if (!replayed.ok) {
    io.err << "vmbus-sim replay: " << replayed.error << "\n";
    return kExitError;
  }
  const trace::TraceComparison comparison = trace::compare_traces(recorded, replayed.trace);
  if (comparison.identical) {
    io.out << "identical: " << comparison.records_recorded << " records, byte for byte"
           << (comparison.other_build ? " (written by another build)" : "") << "\n";
    return kExitOk;
  }
  print_difference(comparison, io);
  io.out << "the replay's trace: " << out.string() << "\n";
  return rerun.diverged ? kExitError : kExitCorrupt;
}

int run_replay(const Invocation& invocation) {
  hypervisor::catch_interrupts();
  const std::optional<ReplayRequest> request = parse_request(invocation);
  if (!request) {
    return kExitError;
  }
  std::ostream& err = invocation.io.err;
  const trace::TraceReadResult read = trace::read_trace(request->trace);
  if (!read.ok) {
    err << "vmbus-sim replay: " << read.error << "\n";
    return kExitError;
  }
  const proto::TraceHeader& header = read.trace.header;
  if (header.scenario_text().empty() && !header.has_simulate()) {
    err << "vmbus-sim replay: " << request->trace.string()
        << ": the header holds no run to replay (no scenario text, no simulate configuration)\n";
    return kExitError;
  }
  if (!base::is_this_build(header.build_version(), header.build_commit())) {
    err << "vmbus-sim replay: warning: this trace was written by " << trace::written_by(header)
        << "; this is vmbus-sim " << base::build_identity()
        << ": the replay may differ for that reason alone\n";
  }
  fs::path out;
  fs::path temporary;
  if (std::string problem = choose_output(*request, out, temporary); !problem.empty()) {
    err << invocation.command_path << ": " << problem << "\n";
    return kExitError;
  }
  const int exit = replay(invocation, *request, read.trace, out);
  if (!temporary.empty() && exit != kExitCorrupt) {
    std::error_code ignored;
    fs::remove_all(temporary, ignored);
  }
  return exit;
}

}  // namespace

const Command& replay_command() {
  static const Command kCommand{"replay",
                                "[options] TRACE",
                                "Run a trace's run again and compare the traces",
                                kDescription,
                                kExamples,
                                run_replay,
                                {}};
  return kCommand;
}

}  // namespace vmbus::cli
