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

struct WorkItem {
  std::size_t scenario;  // index into the compiled list
  std::uint64_t seed;
};

struct Outcome {
  ScenarioResult result;
  double seconds = 0;
  bool done = false;
};

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

int run_run(const Invocation& invocation) {
  const std::optional<ParsedArgs> args = parse_args(invocation, kFlags);
  if (!args) {
    return kExitError;
  }
  std::ostream& out = invocation.io.out;
  std::ostream& err = invocation.io.err;
  const std::string& path = invocation.command_path;
  if (args->positionals.empty()) {
    return usage_error(path, err, "missing scenario FILE or DIR");
  }
  if (args->has("--seed") && args->has("--seeds")) {
    return usage_error(path, err, "--seed and --seeds exclude each other");
  }
  if (args->has("--quiet") && args->has("--verbose")) {
    return usage_error(path, err, "--quiet and --verbose exclude each other");
  }
  std::optional<SeedRange> seeds;
  if (auto text = args->value("--seed")) {
    const auto seed = parse_decimal_flag(invocation, "--seed", *text, UINT64_MAX);
    if (!seed) {
      return kExitError;
    }
    seeds = SeedRange{*seed, *seed};
  }
  if (auto text = args->value("--seeds")) {
    auto parsed = parse_seed_range(*text);
    if (auto* message = std::get_if<std::string>(&parsed)) {
      return usage_error(path, err, *message);
    }
    seeds = std::get<SeedRange>(parsed);
  }
  Shard shard;
  if (auto text = args->value("--shard")) {
    auto parsed = parse_shard(*text);
    if (auto* message = std::get_if<std::string>(&parsed)) {
      return usage_error(path, err, *message);
    }
    shard = std::get<Shard>(parsed);
  }
  std::uint64_t jobs = std::max(1u, std::thread::hardware_concurrency());
  if (auto text = args->value("--jobs")) {
    const auto value = parse_decimal_flag(invocation, "--jobs", *text, 256);
    if (!value) {
      return kExitError;
    }
    if (*value == 0) {
      return usage_error(path, err, "--jobs must be at least 1");
    }
    jobs = *value;
  }
  RunOptions options;
  if (auto text = args->value("--timeout-ms")) {
    const auto value = parse_decimal_flag(invocation, "--timeout-ms", *text, 3'600'000);
    if (!value || *value == 0) {
      return value ? usage_error(path, err, "--timeout-ms must be at least 1") : kExitError;
    }
    options.response_timeout = std::chrono::milliseconds(*value);
  }
  const std::filesystem::path here = own_directory();
  options.host_binary =
      std::string(args->value("--host-binary").value_or((here / "vmbus-host").string()));
  options.guest_binary =
      std::string(args->value("--guest-binary").value_or((here / "vmbus-guest").string()));
  const bool quiet = args->has("--quiet");
  const bool verbose = args->has("--verbose");

  // Load and check every file before anything runs.
  std::vector<std::pair<std::filesystem::path, std::string>> files;
  if (std::string error = collect_files(args->positionals, files); !error.empty()) {
    err << "vmbus-sim: " << error << "\n";
    return kExitError;
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
    return kExitError;
  }

  // The work: scenario x seed, in order; this shard's slice of it.
  std::vector<WorkItem> work;
  std::uint64_t position = 0;
  for (std::size_t i = 0; i < scenarios.size(); ++i) {
    const std::uint64_t first = seeds ? seeds->first : scenarios[i].default_seed;
    const std::uint64_t last = seeds ? seeds->last : scenarios[i].default_seed;
    for (std::uint64_t seed = first;; ++seed) {
      if (in_shard(position++, shard)) {
        work.push_back(WorkItem{i, seed});
      }
      if (seed == last) {
        break;
      }
    }
  }

  // Where traces go.
  const bool keep_all = args->has("--trace-dir");
  std::filesystem::path trace_dir;
  if (keep_all) {
    trace_dir = std::string(*args->value("--trace-dir"));
  } else {
    const char* tmp = std::getenv("TMPDIR");
    trace_dir = std::filesystem::path(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") /
                ("vmbus-sim-run-" + std::to_string(::getpid()));
  }
  {
    std::error_code error;
    std::filesystem::create_directories(trace_dir, error);
    if (error) {
      err << "vmbus-sim: cannot create the trace directory " << trace_dir.string() << ": "
          << error.message() << "\n";
      return kExitError;
    }
  }

  // Run, `jobs` at a time; report in work order.
  std::vector<Outcome> outcomes(work.size());
  std::mutex mutex;
  std::condition_variable finished;
  std::atomic<std::size_t> next{0};
  std::atomic<bool> interrupted{false};
  auto worker = [&] {
    for (;;) {
      const std::size_t index = next.fetch_add(1);
      if (index >= work.size()) {
        return;
      }
      if (interrupted.load()) {  // not run: reported as skipped
        std::lock_guard lock(mutex);
        outcomes[index].result.run.outcome = hypervisor::RunOutcome::kInterrupted;
        outcomes[index].done = true;
        finished.notify_all();
        continue;
      }
      const WorkItem& item = work[index];
      const CompiledScenario& scenario = scenarios[item.scenario];
      RunOptions mine = options;
      mine.trace_path =
          trace_dir / (scenario.name + ".seed" + std::to_string(item.seed) + ".trace");
      const auto start = std::chrono::steady_clock::now();
      ScenarioResult result = runner::run_scenario(scenario, item.seed, mine);
      const double seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      if (result.run.outcome == hypervisor::RunOutcome::kInterrupted) {
        interrupted.store(true);
      }
      std::lock_guard lock(mutex);
      outcomes[index].result = std::move(result);
      outcomes[index].seconds = seconds;
      outcomes[index].done = true;
      finished.notify_all();
    }
  };
  const auto started = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  const std::size_t thread_count =
      std::min<std::size_t>(jobs, std::max<std::size_t>(1, work.size()));
  for (std::size_t t = 0; t < thread_count; ++t) {
    threads.emplace_back(worker);
  }

  const bool tty = ::isatty(STDERR_FILENO) != 0 && &err == &std::cerr;
  std::size_t passed = 0;
  std::size_t failed = 0;
  std::size_t errors = 0;
  std::size_t skipped = 0;
  std::vector<std::string> repro;
  std::vector<JunitCase> cases;
  std::size_t last_progress_decile = 0;
  for (std::size_t index = 0; index < work.size(); ++index) {
    {
      std::unique_lock lock(mutex);
      finished.wait(lock, [&] { return outcomes[index].done; });
    }
    Outcome& outcome = outcomes[index];
    const WorkItem& item = work[index];
    const CompiledScenario& scenario = scenarios[item.scenario];
    ScenarioResult& result = outcome.result;
    JunitCase junit;
    junit.suite = suite_of(scenario.display_path);
    junit.classname = "scenarios." + junit.suite;
    junit.name = scenario.name + " seed " + std::to_string(item.seed);
    junit.seconds = outcome.seconds;
    const std::string label = scenario.display_path + " seed " + std::to_string(item.seed);
    if (tty && !quiet) {
      err << "\r\033[K" << std::flush;
    }
    if (result.run.outcome == hypervisor::RunOutcome::kInterrupted) {
      ++skipped;
      junit.status = JunitCase::Status::kSkipped;
      junit.message = "interrupted";
      cases.push_back(junit);
      continue;
    }
    if (result.verdict == Verdict::kPassed) {
      ++passed;
      if (!quiet) {
        out << "PASS   " << label << "  (" << result.run.steps << " steps, "
            << format_us(result.run.time_ns) << " us simulated)\n";
      }
      if (!keep_all) {
        std::error_code ignored;
        std::filesystem::remove(result.trace_path, ignored);
      }
    } else {
      const bool is_error = result.verdict == Verdict::kError;
      (is_error ? errors : failed) += 1;
      const std::string first =
          result.failures.empty() ? std::string("(no reason recorded)") : result.failures.front();
      std::string command = "vmbus-sim run " + shell_quote(scenario.display_path) + " --seed " +
                            std::to_string(item.seed) + " --trace-dir " +
                            shell_quote(trace_dir.string() + "/repro");
      out << (is_error ? "ERROR  " : "FAIL   ") << label << ": " << first << "\n";
      std::string details;
      if (verbose) {
        for (std::size_t i = 1; i < result.failures.size(); ++i) {
          out << "       also: " << result.failures[i] << "\n";
        }
      }
      for (const std::string& failure : result.failures) {
        details += failure + "\n";
      }
      out << "       trace: " << result.trace_path.string() << "\n";
      out << "       repro: " << command << "\n";
      details += "trace: " + result.trace_path.string() + "\nrepro: " + command + "\n";
      repro.push_back(command);
      junit.status = is_error ? JunitCase::Status::kError : JunitCase::Status::kFailed;
      junit.message = first;
      junit.details = details;
    }
    cases.push_back(junit);
    out << std::flush;
    const std::size_t done = index + 1;
    if (tty && !quiet && done < work.size()) {
      err << "[" << done << "/" << work.size() << "] " << passed << " passed, " << failed
          << " failed, " << errors << " errors" << std::flush;
    } else if (!tty && quiet && work.size() >= 50) {
      const std::size_t decile = done * 10 / work.size();
      if (decile > last_progress_decile && done < work.size()) {
        last_progress_decile = decile;
        err << "progress: " << done << "/" << work.size() << " runs, " << failed + errors
            << " not passed\n";
      }
    }
  }
  for (std::thread& thread : threads) {
    thread.join();
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  char elapsed[32];
  std::snprintf(elapsed, sizeof(elapsed), "%.1f", seconds);
  out << work.size() << " run(s) of " << scenarios.size() << " scenario(s)";
  if (shard.count > 1) {
    out << " (shard " << shard.index << "/" << shard.count << ")";
  }
  out << ": " << passed << " passed, " << failed << " failed, " << errors << " errors";
  if (skipped != 0) {
    out << ", " << skipped << " not run (interrupted)";
  }
  out << " in " << elapsed << " s\n";
  if (!repro.empty()) {
    out << "To reproduce a failure byte for byte, run its repro command; the trace it\n"
           "writes is identical to the one above (vmbus-sim trace show FILE to read it).\n";
  } else if (!keep_all) {
    std::error_code ignored;
    std::filesystem::remove(trace_dir, ignored);  // only if empty
  }

  if (auto junit_path = args->value("--junit")) {
    const std::string file(*junit_path);
    const std::string temporary = file + ".tmp";
    {
      std::ofstream junit_out(temporary, std::ios::binary | std::ios::trunc);
      write_junit(junit_out, "vmbus-sim run", cases);
      junit_out.flush();
      if (!junit_out) {
        err << "vmbus-sim: cannot write " << file << "\n";
        return kExitError;
      }
    }
    std::error_code error;
    std::filesystem::rename(temporary, file, error);
    if (error) {
      err << "vmbus-sim: cannot write " << file << ": " << error.message() << "\n";
      return kExitError;
    }
  }
  if (interrupted.load()) {
    return hypervisor::kExitInterrupted;
  }
  if (errors != 0) {
    return hypervisor::kExitSimulatorFailure;
  }
  return failed != 0 ? kExitCorrupt : kExitOk;
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
