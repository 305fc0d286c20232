#include "vmbus/cli/run_command.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <ostream>
#include <sstream>
#include <thread>
#include <unistd.h>
#include <variant>

#include "vmbus/base/build_info.h"
#include "vmbus/cli/junit.h"
#include "vmbus/runner/scenario.h"

namespace vmbus::cli {
namespace {

using runner::CompiledScenario;
using runner::LoadedScenario;
using runner::RunOptions;
using runner::ScenarioProblem;
using runner::ScenarioResult;
using runner::Verdict;

constexpr std::string_view kDescription =
    R"(Runs scenario files (protobuf text format, schema vmbus.proto.Scenario in
proto/schema/vmbus/proto/scenario.proto; see docs/SCENARIOS.md) and judges
each run against the file's expectations and the oracles (lost wakeup,
spurious signal, packets retired exactly once, FIFO, verifier violations,
leaked GPADLs, shared memory or processes). A DIR argument runs every
*.textproto below it, in path order.

Every file is checked before anything runs: a bad file is reported as
FILE:LINE:COLUMN: MESSAGE and nothing runs (exit 2).

Prints one line per scenario and seed -- PASS, FAIL with the first failed
expectation in words, or ERROR when the simulator itself failed -- then a
summary, and for every failure the trace path and a command that replays the
same run (same seed => byte-identical trace).

Options:
  --seed N          run every scenario with seed N (default: each file's seed)
  --seeds A..B      run every scenario with each seed A..B (inclusive)
  --trace-dir DIR   keep every run's trace in DIR as NAME.seedN.trace
                    (default: only failed runs' traces are kept, in a
                    temporary directory that is printed)
  --junit FILE      also write a JUnit XML report (one test case per
                    scenario and seed) for CI systems
  --shard I/N       run only the I-th of N deterministic slices of the work
                    (scenario x seed pairs in order; item k goes to shard
                    k mod N + 1), to spread a sweep over machines
  --jobs N          run N scenarios at a time (default: the number of CPUs)
  --quiet           print only failures and the summary
  --verbose         print every failure of a failed run, not just the first
  --timeout-ms N    a partition silent this long (wall clock) is hung
                    (default 10000)
  --host-binary PATH, --guest-binary PATH
                    the partition programs (default: next to vmbus-sim)
  --help            print this help

Exit status:
  0    every run passed
  1    a scenario failed (an expectation did not hold or an oracle fired)
  2    usage error or a bad scenario file; nothing ran
  3    the simulator itself failed (crash, hang, lost child, protocol error)
  130  interrupted (SIGINT or SIGTERM); everything was cleaned up
)";

constexpr std::string_view kExamples =
    R"(  vmbus-sim run scenarios
  vmbus-sim run scenarios/defer/03-defer-at-dispatch.textproto --seed 7
  vmbus-sim run scenarios --seeds 1..100 --shard 2/4 --junit results.xml --quiet
)";

constexpr FlagSpec kFlags[] = {
    {"--seed", true},       {"--seeds", true},       {"--trace-dir", true},    {"--junit", true},
    {"--shard", true},      {"--jobs", true},        {"--quiet", false},       {"--verbose", false},
    {"--timeout-ms", true}, {"--host-binary", true}, {"--guest-binary", true},
};

std::filesystem::path own_directory() {
  std::error_code error;
  const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", error);
  return error ? std::filesystem::path(".") : self.parent_path();
}

std::string format_us(std::uint64_t ns) {
  char text[48];
  std::snprintf(text, sizeof(text), "%.3f", static_cast<double>(ns) / 1000.0);
  return text;
}

std::string shell_quote(const std::string& text) {
  if (!text.empty() && text.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                              "0123456789-_./=:@%+,") == std::string::npos) {
    return text;
  }
  std::string out = "'";
  for (char c : text) {
    out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  }
  return out + "'";
}

// Collects the scenario files named on the command line: files as given,
// directories searched for *.textproto (sorted). Returns an error or "".
std::string collect_files(const std::vector<std::string_view>& arguments,
                          std::vector<std::pair<std::filesystem::path, std::string>>& files) {
  for (std::string_view argument : arguments) {
    const std::filesystem::path path{std::string(argument)};
    std::error_code error;
    if (std::filesystem::is_directory(path, error)) {
      std::vector<std::filesystem::path> found;
      for (auto it = std::filesystem::recursive_directory_iterator(path, error);
           !error && it != std::filesystem::recursive_directory_iterator(); it.increment(error)) {
        if (it->is_regular_file() && it->path().extension() == ".textproto") {
          found.push_back(it->path());
        }
      }
      if (error) {
        return std::string(argument) + ": " + error.message();
      }
      std::sort(found.begin(), found.end());
      if (found.empty()) {
        return std::string(argument) + ": no *.textproto scenario files in this directory";
      }
      for (const auto& file : found) {
        files.emplace_back(file, file.lexically_normal().string());
      }
    } else if (std::filesystem::exists(path, error)) {
      files.emplace_back(path, std::string(argument));
    } else {
      return std::string(argument) + ": no such file or directory";
    }
  }
  return "";
}

std::string suite_of(const std::string& display_path) {
  const std::filesystem::path parent = std::filesystem::path(display_path).parent_path();
  const std::string name = parent.filename().string();
  return name.empty() ? "scenarios" : name;
}

// What the command line asks for.
struct RunRequest {
  std::vector<std::string_view> paths;
  std::optional<SeedRange> seeds;  // none: each file's own seed
  Shard shard;
  std::uint64_t jobs = 1;
  RunOptions options;  // without the trace path, which each run gets
  bool quiet = false;
  bool verbose = false;
  std::optional<std::string> trace_dir;  // --trace-dir: keep every trace there
  std::optional<std::string> junit;
};

// A request, or the exit code of a command line that asks for nothing
// runnable (the reason is printed).
using Parsed = std::variant<RunRequest, int>;

// --seed N or --seeds A..B into `request`; an exit code on a bad value.
std::optional<int> parse_seeds(const Invocation& invocation, const ParsedArgs& args,
                               RunRequest& request) {
  if (auto text = args.value("--seed")) {
    const auto seed = parse_decimal_flag(invocation, "--seed", *text, UINT64_MAX);
    if (!seed) {
      return kExitError;
    }
    request.seeds = SeedRange{*seed, *seed};
  }
  if (auto text = args.value("--seeds")) {
    auto parsed = parse_seed_range(*text);
    if (auto* message = std::get_if<std::string>(&parsed)) {
      return usage_error(invocation.command_path, invocation.io.err, *message);
    }
    request.seeds = std::get<SeedRange>(parsed);
  }
  return std::nullopt;
}

// --shard, --jobs and --timeout-ms into `request`; an exit code on a bad value.
std::optional<int> parse_limits(const Invocation& invocation, const ParsedArgs& args,
                                RunRequest& request) {
  const std::string& path = invocation.command_path;
  std::ostream& err = invocation.io.err;
  if (auto text = args.value("--shard")) {
    auto parsed = parse_shard(*text);
    if (auto* message = std::get_if<std::string>(&parsed)) {
      return usage_error(path, err, *message);
    }
    request.shard = std::get<Shard>(parsed);
  }
  request.jobs = std::max(1u, std::thread::hardware_concurrency());
  if (auto text = args.value("--jobs")) {
    const auto value = parse_decimal_flag(invocation, "--jobs", *text, 256);
    if (!value) {
      return kExitError;
    }
    if (*value == 0) {
      return usage_error(path, err, "--jobs must be at least 1");
    }
    request.jobs = *value;
  }
  if (auto text = args.value("--timeout-ms")) {
    const auto value = parse_decimal_flag(invocation, "--timeout-ms", *text, 3'600'000);
    if (!value || *value == 0) {
      return value ? usage_error(path, err, "--timeout-ms must be at least 1") : kExitError;
    }
    request.options.response_timeout = std::chrono::milliseconds(*value);
  }
  return std::nullopt;
}

Parsed parse_request(const Invocation& invocation) {
  const std::optional<ParsedArgs> args = parse_args(invocation, kFlags);
  if (!args) {
    return kExitError;
  }
  const std::string& path = invocation.command_path;
  std::ostream& err = invocation.io.err;
  if (args->positionals.empty()) {
    return usage_error(path, err, "missing scenario FILE or DIR");
  }
  if (args->has("--seed") && args->has("--seeds")) {
    return usage_error(path, err, "--seed and --seeds exclude each other");
  }
  if (args->has("--quiet") && args->has("--verbose")) {
    return usage_error(path, err, "--quiet and --verbose exclude each other");
  }
  RunRequest request;
  request.paths = args->positionals;
  if (const auto exit = parse_seeds(invocation, *args, request)) {
    return *exit;
  }
  if (const auto exit = parse_limits(invocation, *args, request)) {
    return *exit;
  }
  const std::filesystem::path here = own_directory();
  request.options.host_binary =
      std::string(args->value("--host-binary").value_or((here / "vmbus-host").string()));
  request.options.guest_binary =
      std::string(args->value("--guest-binary").value_or((here / "vmbus-guest").string()));
  request.quiet = args->has("--quiet");
  request.verbose = args->has("--verbose");
  if (auto dir = args->value("--trace-dir")) {
    request.trace_dir = std::string(*dir);
  }
  if (auto junit = args->value("--junit")) {
    request.junit = std::string(*junit);
  }
  return request;
}

// Loads and checks every file before anything runs: all of them compiled,
// or nullopt after printing every problem.
std::optional<std::vector<CompiledScenario>> load_all(const std::vector<std::string_view>& paths,
                                                      std::ostream& err) {
  std::vector<std::pair<std::filesystem::path, std::string>> files;
  if (std::string error = collect_files(paths, files); !error.empty()) {
    err << "vmbus-sim: " << error << "\n";
    return std::nullopt;
  }
  std::vector<CompiledScenario> scenarios;
  std::map<std::string, std::string> names;  // scenario name -> file
  bool bad = false;
  for (const auto& [file, display] : files) {
    const LoadedScenario loaded = runner::load_scenario(file, display);
    for (const ScenarioProblem& problem : loaded.problems) {
      err << problem.to_string() << "\n";
    }
    if (!loaded.ok()) {
      bad = true;
      continue;
    }
    const auto [it, inserted] = names.emplace(loaded.scenario.name(), display);
    if (!inserted) {
      err << display << ": scenario name '" << loaded.scenario.name() << "' is also used by "
          << it->second << "; names must be unique (they name traces and tests)\n";
      bad = true;
      continue;
    }
    scenarios.push_back(runner::compile_scenario(loaded));
  }
  if (bad) {
    err << "vmbus-sim: nothing was run: fix the scenario file(s) above\n";
    return std::nullopt;
  }
  return scenarios;
}

struct WorkItem {
  std::size_t scenario;  // index into the compiled list
  std::uint64_t seed;
};

// The work: scenario x seed, in order; this shard's slice of it.
std::vector<WorkItem> plan_work(const std::vector<CompiledScenario>& scenarios,
                                const RunRequest& request) {
  std::vector<WorkItem> work;
  std::uint64_t position = 0;
  for (std::size_t i = 0; i < scenarios.size(); ++i) {
    const std::uint64_t first = request.seeds ? request.seeds->first : scenarios[i].default_seed;
    const std::uint64_t last = request.seeds ? request.seeds->last : scenarios[i].default_seed;
    for (std::uint64_t seed = first;; ++seed) {
      if (in_shard(position++, request.shard)) {
        work.push_back(WorkItem{i, seed});
      }
      if (seed == last) {
        break;
      }
    }
  }
  return work;
}

// Where traces go: --trace-dir, or a temporary directory for failed runs'.
std::optional<std::filesystem::path> make_trace_dir(const RunRequest& request, std::ostream& err) {
  std::filesystem::path trace_dir;
  if (request.trace_dir) {
    trace_dir = *request.trace_dir;
  } else {
    const char* tmp = std::getenv("TMPDIR");
    trace_dir = std::filesystem::path(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") /
                ("vmbus-sim-run-" + std::to_string(::getpid()));
  }
  std::error_code error;
  std::filesystem::create_directories(trace_dir, error);
  if (error) {
    err << "vmbus-sim: cannot create the trace directory " << trace_dir.string() << ": "
        << error.message() << "\n";
    return std::nullopt;
  }
  return trace_dir;
}

struct Outcome {
  ScenarioResult result;
  double seconds = 0;
  bool done = false;
};

// Runs the work `jobs` at a time on threads; the caller takes each outcome
// in work order (wait()) while later ones still run. A SIGINT or SIGTERM
// ends the run in progress; what has not started is marked interrupted.
class Execution {
 public:
  Execution(const std::vector<CompiledScenario>& scenarios, const std::vector<WorkItem>& work,
            const RunRequest& request, std::filesystem::path trace_dir)
      : scenarios_(scenarios),
        work_(work),
        options_(request.options),
        trace_dir_(std::move(trace_dir)),
        outcomes_(work.size()) {
    const std::size_t thread_count =
        std::min<std::size_t>(request.jobs, std::max<std::size_t>(1, work.size()));
    for (std::size_t t = 0; t < thread_count; ++t) {
      threads_.emplace_back([this] { work_loop(); });
    }
  }
  ~Execution() { join(); }
  Execution(const Execution&) = delete;
  Execution& operator=(const Execution&) = delete;

  // The outcome of work item `index`, once it is done.
  Outcome& wait(std::size_t index) {
    std::unique_lock lock(mutex_);
    finished_.wait(lock, [&] { return outcomes_[index].done; });
    return outcomes_[index];
  }

  void join() {
    for (std::thread& thread : threads_) {
      if (thread.joinable()) {
        thread.join();
      }
    }
  }

  bool interrupted() const { return interrupted_.load(); }

 private:
  void work_loop() {
    for (;;) {
      const std::size_t index = next_.fetch_add(1);
      if (index >= work_.size()) {
        return;
      }
      if (interrupted_.load()) {  // not run: reported as skipped
        std::lock_guard lock(mutex_);
        outcomes_[index].result.run.outcome = hypervisor::RunOutcome::kInterrupted;
        outcomes_[index].done = true;
        finished_.notify_all();
        continue;
      }
      run_one(index);
    }
  }

  void run_one(std::size_t index) {
    const WorkItem& item = work_[index];
    const CompiledScenario& scenario = scenarios_[item.scenario];
    RunOptions mine = options_;
    mine.trace_path = trace_dir_ / (scenario.name + ".seed" + std::to_string(item.seed) + ".trace");
    const auto start = std::chrono::steady_clock::now();
    ScenarioResult result = runner::run_scenario(scenario, item.seed, mine);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (result.run.outcome == hypervisor::RunOutcome::kInterrupted) {
      interrupted_.store(true);
    }
    std::lock_guard lock(mutex_);
    outcomes_[index].result = std::move(result);
    outcomes_[index].seconds = seconds;
    outcomes_[index].done = true;
    finished_.notify_all();
  }

  const std::vector<CompiledScenario>& scenarios_;
  const std::vector<WorkItem>& work_;
  const RunOptions options_;
  const std::filesystem::path trace_dir_;
  std::vector<Outcome> outcomes_;
  std::mutex mutex_;
  std::condition_variable finished_;
  std::atomic<std::size_t> next_{0};
  std::atomic<bool> interrupted_{false};
  std::vector<std::thread> threads_;
};

// Says how each run went, in work order, and sums them up: the terminal
// lines, the progress, the repro commands and the JUnit cases.
class Report {
 public:
  Report(const RunRequest& request, const std::filesystem::path& trace_dir, std::size_t total,
         std::ostream& out, std::ostream& err)
      : request_(request),
        trace_dir_(trace_dir),
        total_(total),
        out_(out),
        err_(err),
        tty_(::isatty(STDERR_FILENO) != 0 && &err == &std::cerr) {}

  void add(const CompiledScenario& scenario, std::uint64_t seed, Outcome& outcome) {
    JunitCase junit = junit_case(scenario, seed, outcome.seconds);
    if (tty_ && !request_.quiet) {
      err_ << "\r\033[K" << std::flush;
    }
    ScenarioResult& result = outcome.result;
    ++done_;
    if (result.run.outcome == hypervisor::RunOutcome::kInterrupted) {
      ++skipped_;
      junit.status = JunitCase::Status::kSkipped;
      junit.message = "interrupted";
      cases_.push_back(junit);
      return;
    }
    const std::string label = scenario.display_path + " seed " + std::to_string(seed);
    if (result.verdict == Verdict::kPassed) {
      passed(label, result);
    } else {
      not_passed(scenario, seed, label, result, junit);
    }
    cases_.push_back(junit);
    out_ << std::flush;
    progress();
  }

  // The last lines: counts, and how to replay a failure.
  void summary(std::size_t scenario_count, double seconds) {
    char elapsed[32];
    std::snprintf(elapsed, sizeof(elapsed), "%.1f", seconds);
    out_ << total_ << " run(s) of " << scenario_count << " scenario(s)";
    if (request_.shard.count > 1) {
      out_ << " (shard " << request_.shard.index << "/" << request_.shard.count << ")";
    }
    out_ << ": " << passed_ << " passed, " << failed_ << " failed, " << errors_ << " errors";
    if (skipped_ != 0) {
      out_ << ", " << skipped_ << " not run (interrupted)";
    }
    out_ << " in " << elapsed << " s\n";
    if (any_repro_) {
      out_ << "To reproduce a failure byte for byte, run its repro command; the trace it\n"
              "writes is identical to the one above (vmbus-sim trace show FILE to read it).\n";
    } else if (!request_.trace_dir) {
      std::error_code ignored;
      std::filesystem::remove(trace_dir_, ignored);  // only if empty
    }
  }

  // --junit FILE, written whole or not at all; false after printing why.
  bool write_junit_file() const {
    if (!request_.junit) {
      return true;
    }
    const std::string& file = *request_.junit;
    const std::string temporary = file + ".tmp";
    {
      std::ofstream junit_out(temporary, std::ios::binary | std::ios::trunc);
      write_junit(junit_out, "vmbus-sim run", cases_);
      junit_out.flush();
      if (!junit_out) {
        err_ << "vmbus-sim: cannot write " << file << "\n";
        return false;
      }
    }
    std::error_code error;
    std::filesystem::rename(temporary, file, error);
    if (error) {
      err_ << "vmbus-sim: cannot write " << file << ": " << error.message() << "\n";
      return false;
    }
    return true;
  }

  std::size_t failed() const { return failed_; }
  std::size_t errors() const { return errors_; }

 private:
  static JunitCase junit_case(const CompiledScenario& scenario, std::uint64_t seed,
                              double seconds) {
    JunitCase junit;
    junit.suite = suite_of(scenario.display_path);
    junit.classname = "scenarios." + junit.suite;
    junit.name = scenario.name + " seed " + std::to_string(seed);
    junit.seconds = seconds;
    return junit;
  }

  void passed(const std::string& label, const ScenarioResult& result) {
    ++passed_;
    if (!request_.quiet) {
      out_ << "PASS   " << label << "  (" << result.run.steps << " steps, "
           << format_us(result.run.time_ns) << " us simulated)\n";
    }
    if (!request_.trace_dir) {
      std::error_code ignored;
      std::filesystem::remove(result.trace_path, ignored);
    }
  }

  // FAIL or ERROR with the first reason, the trace and a repro command.
  void not_passed(const CompiledScenario& scenario, std::uint64_t seed, const std::string& label,
                  const ScenarioResult& result, JunitCase& junit) {
    const bool is_error = result.verdict == Verdict::kError;
    (is_error ? errors_ : failed_) += 1;
    const std::string first =
        result.failures.empty() ? std::string("(no reason recorded)") : result.failures.front();
    const std::string command = "vmbus-sim run " + shell_quote(scenario.display_path) + " --seed " +
                                std::to_string(seed) + " --trace-dir " +
                                shell_quote(trace_dir_.string() + "/repro");
    out_ << (is_error ? "ERROR  " : "FAIL   ") << label << ": " << first << "\n";
    if (request_.verbose) {
      for (std::size_t i = 1; i < result.failures.size(); ++i) {
        out_ << "       also: " << result.failures[i] << "\n";
      }
    }
    std::string details;
    for (const std::string& failure : result.failures) {
      details += failure + "\n";
    }
    out_ << "       trace: " << result.trace_path.string() << "\n";
    // The build rides along as a shell comment: the line stays a command.
    const std::string repro = command + "  # vmbus-sim " + base::build_identity();
    out_ << "       repro: " << repro << "\n";
    details += "trace: " + result.trace_path.string() + "\nrepro: " + repro + "\n";
    any_repro_ = true;
    junit.status = is_error ? JunitCase::Status::kError : JunitCase::Status::kFailed;
    junit.message = first;
    junit.details = details;
  }

  // A counter on a terminal; a line every tenth of a long quiet run.
  void progress() {
    if (tty_ && !request_.quiet && done_ < total_) {
      err_ << "[" << done_ << "/" << total_ << "] " << passed_ << " passed, " << failed_
           << " failed, " << errors_ << " errors" << std::flush;
    } else if (!tty_ && request_.quiet && total_ >= 50) {
      const std::size_t decile = done_ * 10 / total_;
      if (decile > last_progress_decile_ && done_ < total_) {
        last_progress_decile_ = decile;
        err_ << "progress: " << done_ << "/" << total_ << " runs, " << failed_ + errors_
             << " not passed\n";
      }
    }
  }

  const RunRequest& request_;
  const std::filesystem::path& trace_dir_;
  const std::size_t total_;
  std::ostream& out_;
  std::ostream& err_;
  const bool tty_;
  std::size_t done_ = 0;
  std::size_t passed_ = 0;
  std::size_t failed_ = 0;
  std::size_t errors_ = 0;
  std::size_t skipped_ = 0;
  bool any_repro_ = false;
  std::vector<JunitCase> cases_;
  std::size_t last_progress_decile_ = 0;
};

// parse, load, plan, execute, report.
int run_run(const Invocation& invocation) {
  Parsed parsed = parse_request(invocation);
  if (const int* exit = std::get_if<int>(&parsed)) {
    return *exit;
  }
  const RunRequest& request = std::get<RunRequest>(parsed);
  std::ostream& err = invocation.io.err;
  const std::optional<std::vector<CompiledScenario>> scenarios = load_all(request.paths, err);
  if (!scenarios) {
    return kExitError;
  }
  const std::vector<WorkItem> work = plan_work(*scenarios, request);
  const std::optional<std::filesystem::path> trace_dir = make_trace_dir(request, err);
  if (!trace_dir) {
    return kExitError;
  }
  const auto started = std::chrono::steady_clock::now();
  Execution execution(*scenarios, work, request, *trace_dir);
  Report report(request, *trace_dir, work.size(), invocation.io.out, err);
  for (std::size_t index = 0; index < work.size(); ++index) {
    report.add((*scenarios)[work[index].scenario], work[index].seed, execution.wait(index));
  }
  execution.join();
  report.summary(scenarios->size(),
                 std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  if (!report.write_junit_file()) {
    return kExitError;
  }
  if (execution.interrupted()) {
    return hypervisor::kExitInterrupted;
  }
  if (report.errors() != 0) {
    return hypervisor::kExitSimulatorFailure;
  }
  return report.failed() != 0 ? kExitCorrupt : kExitOk;
}

}  // namespace

const Command& run_command() {
  static const Command kCommand{"run",
                                "[options] FILE|DIR...",
                                "Run scenario files and judge them",
                                kDescription,
                                kExamples,
                                run_run,
                                {}};
  return kCommand;
}

}  // namespace vmbus::cli
