#include "vmbus/cli/shrink_command.h"

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <ostream>

#include <google/protobuf/text_format.h>

#include "vmbus/cli/output_paths.h"
#include "vmbus/cli/shrink.h"
#include "vmbus/hypervisor/interrupt.h"
#include "vmbus/hypervisor/simulation.h"
#include "vmbus/trace/reader.h"

namespace vmbus::cli {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kDescription =
    R"(Takes a scenario FILE whose run with seed N fails and searches for the
smallest scenario that fails the same way: the same first failed
expectation, oracle firing or simulator error (numbers aside: "199 packets"
and "1 packet" are the same failure), with the same oracles firing on the
same channels. It removes steps (delta debugging over the timeline), channels
(with the steps and expectations that name them), expectations and driver
policy rules, lowers send counts and drops payloads, until nothing more
can go or the budget is spent. Every candidate runs with seed N, so the
interleaving is the seed's.

Then the schedule: each scheduler decision of the shrunk run that had a
choice (more than one ready context) is tried with every other ready
context instead, one decision at a time. The decisions where another
choice makes the failure go away are the ones it depends on: they are
written into the file as pins (`pin { step: 7 context: "guest:isr" }`), so
the interleaving holds when the scenario is edited, and the comment lists
them. A file with pins of its own keeps them as they are.

Writes the result as a new scenario file with a comment that says what it
came from and what was removed, prints the size before and after, and runs
the new file once more on its own to show that it fails the same way.

Options:
  --seed N          the failing run's seed (required)
  -o FILE           where to write the shrunk scenario (default: FILE's name
                    with .shrunk.textproto, beside it); never over an
                    existing file
  --max-runs N      stop after N runs (default 400)
  --max-seconds S   stop after S seconds of wall time (default 300)
  --timeout-ms N    a partition silent this long (wall clock) is hung
                    (default 10000)
  --host-binary PATH, --guest-binary PATH
                    the partition programs (default: next to vmbus-sim)
  --driver-dir DIRS where driver libraries are looked for, as with run
  --help            print this help

Exit status:
  0    the shrunk scenario was written
  2    usage error, a bad scenario file, a run that passes (nothing to
       shrink), or an output file that exists; nothing is written
  3    the failure did not come back when the run was repeated
)";

constexpr std::string_view kExamples =
    R"(  vmbus-sim shrink scenarios/support/customer.textproto --seed 17
  vmbus-sim shrink big.textproto --seed 3 -o small.textproto --max-runs 100
)";

constexpr FlagSpec kFlags[] = {
    {"--seed", true},         {"-o", true},           {"--max-runs", true},
    {"--max-seconds", true},  {"--timeout-ms", true}, {"--host-binary", true},
    {"--guest-binary", true}, {"--driver-dir", true},
};

std::optional<std::uint64_t> number_flag(const Invocation& invocation, const ParsedArgs& args,
                                         std::string_view flag, std::uint64_t max) {
  const auto text = args.value(flag);
  return text ? parse_decimal_flag(invocation, flag, *text, max) : std::nullopt;
}

// The job the command line asks for, or nullopt after a usage error.
std::optional<ShrinkJob> parse_job(const Invocation& invocation) {
  const std::optional<ParsedArgs> args = parse_args(invocation, kFlags);
  if (!args) {
    return std::nullopt;
  }
  const std::string& path = invocation.command_path;
  if (args->positionals.size() != 1) {
    usage_error(path, invocation.io.err,
                args->positionals.empty() ? "missing scenario FILE" : "expected one FILE");
    return std::nullopt;
  }
  if (!args->has("--seed")) {
    usage_error(path, invocation.io.err, "missing --seed N (the failing run's seed)");
    return std::nullopt;
  }
  ShrinkJob job;
  job.display_path = std::string(args->positionals.front());
  job.file = job.display_path;
  for (const auto& [flag, max] :
       {std::pair("--seed", UINT64_MAX), std::pair("--max-runs", 1'000'000ul),
        std::pair("--max-seconds", 86'400ul), std::pair("--timeout-ms", 3'600'000ul)}) {
    if (args->has(flag)) {
      const std::optional<std::uint64_t> value = number_flag(invocation, *args, flag, max);
      if (!value) {
        return std::nullopt;
      }
      if (std::string_view(flag) == "--seed") {
        job.seed = *value;
      } else if (std::string_view(flag) == "--max-runs") {
        job.budget.max_runs = *value;
      } else if (std::string_view(flag) == "--max-seconds") {
        job.budget.max_time = std::chrono::seconds(*value);
      } else {
        job.options.response_timeout =
            std::chrono::milliseconds(std::max<std::uint64_t>(*value, 1));
      }
    }
  }
  job.output = args->has("-o")
                   ? fs::path(std::string(*args->value("-o")))
                   : job.file.parent_path() / (job.file.stem().string() + ".shrunk.textproto");
  const fs::path here = own_directory();
  job.options.host_binary =
      std::string(args->value("--host-binary").value_or((here / "vmbus-host").string()));
  job.options.guest_binary =
      std::string(args->value("--guest-binary").value_or((here / "vmbus-guest").string()));
  if (auto dirs = args->value("--driver-dir")) {
    std::string_view rest = *dirs;
    for (std::size_t colon = rest.find(':');; colon = rest.find(':')) {
      if (!rest.substr(0, colon).empty()) {
        job.load.driver_dirs.emplace_back(std::string(rest.substr(0, colon)));
      }
      if (colon == std::string_view::npos) {
        break;
      }
      rest.remove_prefix(colon + 1);
    }
  }
  return job;
}

int run_shrink(const Invocation& invocation) {
  hypervisor::catch_interrupts();
  const std::optional<ShrinkJob> job = parse_job(invocation);
  if (!job) {
    return kExitError;
  }
  return shrink_job(*job, invocation.io.out, invocation.io.err);
}

// Where the runs of a job leave their traces: a fresh temporary folder,
// removed with everything in it.
class ScratchFolder {
 public:
  ScratchFolder() {
    const char* tmp = std::getenv("TMPDIR");
    problem_ = make_temporary_directory(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp",
                                        "vmbus-sim-shrink-", path_);
  }
  ~ScratchFolder() {
    std::error_code ignored;
    if (!path_.empty()) {
      fs::remove_all(path_, ignored);
    }
  }
  ScratchFolder(const ScratchFolder&) = delete;
  ScratchFolder& operator=(const ScratchFolder&) = delete;
  const fs::path& path() const { return path_; }
  const std::string& problem() const { return problem_; }

 private:
  fs::path path_;
  std::string problem_;
};

// The written file, run from disk with its own seed, fails the same way.
int check_on_its_own(const ShrinkJob& job, const std::string& signature,
                     const runner::RunOptions& options, std::ostream& out, std::ostream& err) {
  const runner::LoadedScenario written =
      runner::load_scenario(job.output, job.output.string(), job.load);
  if (!written.ok()) {
    err << "vmbus-sim shrink: " << job.output.string()
        << " does not load: " << written.problems.front().to_string() << "\n";
    return hypervisor::kExitSimulatorFailure;
  }
  const runner::ScenarioResult again =
      runner::run_scenario(runner::compile_scenario(written), job.seed, options);
  if (failure_signature(again) != signature) {
    err << "vmbus-sim shrink: " << job.output.string()
        << " does not fail the same way on its own\n";
    return hypervisor::kExitSimulatorFailure;
  }
  out << "on its own: FAIL " << again.failures.front() << "\n";
  return kExitOk;
}

// The output must be new and writable; "" or why not.
std::string output_problem(const fs::path& output) {
  std::error_code ignored;
  if (fs::exists(output, ignored)) {
    return output.string() + " exists; it is not written over";
  }
  return check_output_file(output);
}

// The scheduler decisions of the run whose trace is `trace` that had more
// than one ready context (none when the trace cannot be read).
std::vector<ScheduleDecision> decisions_with_a_choice(const fs::path& trace) {
  std::vector<ScheduleDecision> found;
  for (const proto::TraceRecord& record : trace::read_trace(trace).trace.records) {
    const proto::SchedulerEvent& event = record.scheduler();
    if (!record.has_scheduler() || event.ready_size() < 2 ||
        event.chosen() >= static_cast<std::uint32_t>(event.ready_size())) {
      continue;
    }
    found.push_back({event.step_number(),
                     {event.ready().begin(), event.ready().end()},
                     event.ready(static_cast<int>(event.chosen()))});
  }
  return found;
}

// "schedule: 1 of 7 decision(s) pinned: step 3 guest:isr".
void print_schedule(const ScheduleFinding& schedule, std::ostream& out) {
  if (!schedule.searched) {
    return;
  }
  out << "schedule: " << schedule.pinned.size() << " of " << schedule.decisions
      << " decision(s) pinned";
  for (const ScheduleFinding::Pinned& pinned : schedule.pinned) {
    out << (&pinned == &schedule.pinned.front() ? ": " : ", ") << "step " << pinned.step << " "
        << pinned.context;
  }
  out << "\n";
}

}  // namespace

int shrink_job(const ShrinkJob& job, std::ostream& out, std::ostream& err) {
  constexpr std::string_view kWho = "vmbus-sim shrink: ";
  if (std::string problem = output_problem(job.output); !problem.empty()) {
    err << kWho << problem << "\n";
    return kExitError;
  }
  const runner::LoadedScenario loaded = runner::load_scenario(job.file, job.display_path, job.load);
  for (const runner::ScenarioProblem& problem : loaded.problems) {
    err << problem.to_string() << "\n";
  }
  const ScratchFolder scratch;
  if (!loaded.ok() || !scratch.problem().empty()) {
    err << kWho << (loaded.ok() ? "the temporary folder: " + scratch.problem() : "nothing was run")
        << "\n";
    return kExitError;
  }
  runner::RunOptions options = job.options;
  options.trace_path = scratch.path() / "run.trace";
  const runner::ScenarioResult first =
      runner::run_scenario(runner::compile_scenario(loaded), job.seed, options);
  const std::optional<std::string> signature = failure_signature(first);
  if (!signature) {
    err << kWho << job.display_path << " passes with seed " << job.seed
        << ": there is no failure to shrink\n";
    return kExitError;
  }
  out << "shrinking " << job.display_path << " seed " << job.seed << ": " << first.failures.front()
      << "\n";
  const fs::path folder = job.file.parent_path();
  const CandidateRunner run =
      [&](const proto::Scenario& candidate) -> std::optional<runner::ScenarioResult> {
    std::string text;
    google::protobuf::TextFormat::PrintToString(candidate, &text);
    const runner::LoadedScenario c =
        runner::load_scenario_text(text, job.display_path, folder, job.load);
    if (!c.ok() || hypervisor::interrupted()) {
      return std::nullopt;
    }
    return runner::run_scenario(runner::compile_scenario(c), job.seed, options);
  };
  // The decisions of a run, from its trace (the run's own, just written).
  const DecisionReader decisions = [&](const proto::Scenario& candidate) {
    return run(candidate) ? decisions_with_a_choice(options.trace_path)
                          : std::vector<ScheduleDecision>{};
  };
  const auto started = std::chrono::steady_clock::now();
  ShrinkResult shrunk = shrink_scenario(loaded.scenario, *signature, run, job.budget, decisions);
  if (shrunk.failure.empty()) {
    err << kWho << job.display_path << " seed " << job.seed
        << ": the failure did not come back when the run was repeated\n";
    return hypervisor::kExitSimulatorFailure;
  }
  shrunk.shrunk.set_name(loaded.scenario.name() + "-shrunk");
  const ScenarioSize before = size_of(loaded.scenario);
  const std::string text = shrunk_file_text(shrunk, job.display_path, job.seed, before);
  if (std::string problem = write_file_atomically(job.output, text); !problem.empty()) {
    err << kWho << problem << "\n";
    return kExitError;
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  out << "before: " << before.describe() << "\nafter:  " << size_of(shrunk.shrunk).describe()
      << "\nwrote " << job.output.string() << " (" << shrunk.runs << " runs in "
      << static_cast<std::uint64_t>(seconds) << " s"
      << (shrunk.budget_spent ? ", stopped by the budget" : "") << ")\n";
  print_schedule(shrunk.schedule, out);
  return check_on_its_own(job, *signature, options, out, err);
}

const Command& shrink_command() {
  static const Command kCommand{"shrink",
                                "--seed N [options] FILE",
                                "Shrink a failing scenario run to a small scenario",
                                kDescription,
                                kExamples,
                                run_shrink,
                                {}};
  return kCommand;
}

}  // namespace vmbus::cli
