#include "vmbus/cli/run_command.h"

#include <algorithm>
#include <array>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <map>
#include <ostream>
#include <sstream>
#include <thread>
#include <unistd.h>
#include <variant>

#include "vmbus/base/build_info.h"
#include "vmbus/cli/output_paths.h"
#include "vmbus/cli/results.h"
#include "vmbus/cli/run_plan.h"
#include "vmbus/cli/shrink.h"
#include "vmbus/cli/sweep_flags.h"
#include "vmbus/cli/terminal.h"
#include "vmbus/hypervisor/interrupt.h"
#include "vmbus/runner/explore.h"
#include "vmbus/runner/scenario.h"
#include "vmbus/trace/reader.h"
#include "vmbus/trace/schedule.h"

#include "run_execution.h"
#include "run_report.h"

namespace vmbus::cli {
namespace {

namespace fs = std::filesystem;

using runner::CompiledScenario;
using runner::LoadedScenario;
using runner::RunOptions;
using runner::ScenarioProblem;

constexpr std::string_view kDescription =
    R"(Runs scenario files (protobuf text format, schema vmbus.proto.Scenario in
proto/schema/vmbus/proto/scenario.proto; see docs/SCENARIOS.md) and judges
each run against the file's expectations and the oracles (lost wakeup,
spurious signal, packets retired exactly once, FIFO, verifier violations,
leaked GPADLs, shared memory or processes). A DIR argument runs every
*.textproto below it, in path order.

Every file, output path and program is checked before anything runs: a bad
file is reported as FILE:LINE:COLUMN: MESSAGE, a path or program that cannot
be used with the system's reason, and nothing runs (exit 2).

Prints one line per scenario and seed -- PASS, FAIL with the first failed
expectation in words, or ERROR when the simulator itself failed, each
failure with its trace and a command that replays the same run (same seed
and build => byte-identical trace) -- then every failure again and a
summary. On a terminal a progress line shows the rate and the time left.

What runs:
  --seed N          run every scenario with seed N (default: each file's seed)
  --seeds A..B      run every scenario with each seed A..B (inclusive, at
                    most 1000000 seeds)
  --filter GLOBS    only scenarios whose name, file, or a tail of the file
                    after a '/' matches one of the comma-separated globs
                    ('defer/*', '*fifo*', '03-*')
  --tag TAGS        only scenarios with one of the comma-separated tags
                    (the files' tag: fields)
  --repeat N        run each scenario and seed N times (1-10000); a seed
                    replays exactly, so only the machine can make them differ
  --until-fail      after the seeds given, go on with the next seeds, as many
                    per pass, until a run fails or errors (or SIGINT)
  --fail-fast       start no new run after the first that does not pass
  --schedule TRACE  take the scheduler decisions TRACE records, step by
                    step, then go on with the seed: an interleaving survives
                    edits to the scenario that leave the steps before it
                    alone. A decision whose context is not ready at its
                    step ends the run with the decision's record number in
                    TRACE (exit 2)
  --list            print the scenarios and seeds that would run (after
                    --filter, --tag and the shard) and exit

Spreading a sweep over machines:
  --shard I/N       run only the I-th of N slices of the work (1-based)
  Without --shard, the shard comes from the environment: GTEST_SHARD_INDEX and
  GTEST_TOTAL_SHARDS (GoogleTest), TEST_SHARD_INDEX and TEST_TOTAL_SHARDS
  (Bazel; TEST_SHARD_STATUS_FILE is touched), JOB_COMPLETION_INDEX
  (Kubernetes Indexed Job, with --shard-count), CI_NODE_INDEX and
  CI_NODE_TOTAL (GitLab parallel jobs); the summary names the source. Pass
  --shard 1/1 to ignore them.
  --shard-count N   the shard count with JOB_COMPLETION_INDEX (the Job's
                    completions)
  --timings FILE    balance shards by each scenario's mean wall time in an
                    earlier --json FILE (default: every run costs the same);
                    every shard must be given the same FILE

Output:
  --trace-dir DIR   keep every run's trace in DIR as NAME.seedN.trace
                    (default: only failed runs' traces are kept, in a fresh
                    temporary directory that is printed; nothing else of it
                    stays)
  --artifacts DIR   keep the traces of failed runs (only those) in DIR, for
                    a CI system to upload
  --json FILE       write every run's result as JSON (scenario, seed,
                    verdict, failures, oracles, trace, repro, wall time,
                    build); `vmbus-sim report merge` merges shards' files
  --junit FILE      write a JUnit XML report (one case per scenario and seed)
  --quiet           print only failures, the progress line and the summary
  --verbose         print every failure of a failed run, not just the first
  --report          after each run's line, print its final state: the
                    negotiated version, each channel's states and counters on
                    both sides (by the names a scenario's counter { } takes),
                    every oracle's verdict and the run's verdict -- for a
                    passing run too (a trace ends with the same lines)
  --color WHEN      colour PASS/FAIL/ERROR: auto (a terminal, unless NO_COLOR
                    is set or TERM=dumb), always or never

Running:
  --jobs N          run N scenarios at a time (1-256; default: the CPUs)
  --timeout-ms N    a partition silent this long (wall clock) is hung
                    (default 10000)
  --host-binary PATH, --guest-binary PATH
                    the partition programs (default: next to vmbus-sim)
  --driver-dir DIRS where a driver library a scenario names without a '/'
                    (guest_driver { library: "libmyvsc.so" }) is looked for
                    after the scenario's own folder; DIRS separated by ':'
  --quirks on|off   off: run scenarios that name guest_quirks or host_quirks
                    (historical bugs put back on purpose; `vmbus-sim quirks`
                    lists them) without them, against their without_quirks
                    expectations (default on: with them, against
                    with_quirks)
  --help            print this help

Exit status:
  0    every run passed (or --list)
  1    a scenario failed (an expectation did not hold, an oracle fired, or
       a driver library crashed or hung)
  2    usage error, a bad scenario file, or a path or program that cannot be
       used (nothing ran); or a --schedule that does not fit a scenario
  3    the simulator itself failed (crash, hang, lost child, protocol error)
  130  interrupted (SIGINT or SIGTERM, at any moment): the runs under way
       stop at once, the summary and reports are still written, and with
       --trace-dir the partial traces are named
)";

constexpr std::string_view kExamples =
    R"(  vmbus-sim run scenarios
  vmbus-sim run scenarios/defer/03-defer-at-dispatch.textproto --seed 7
  vmbus-sim run scenarios --tag defer --seeds 1..100 --fail-fast
  vmbus-sim run scenarios --seeds 1..2500 --shard 2/4 --json r2.json --artifacts traces
  GTEST_SHARD_INDEX=1 GTEST_TOTAL_SHARDS=4 vmbus-sim run scenarios --seeds 1..2500 --json r2.json
)";

constexpr FlagSpec kFlags[] = {
    {"--seed", true},         {"--seeds", true},      {"--filter", true},
    {"--tag", true},          {"--repeat", true},     {"--until-fail", false},
    {"--fail-fast", false},   {"--list", false},      {"--shard", true},
    {"--shard-count", true},  {"--timings", true},    {"--trace-dir", true},
    {"--artifacts", true},    {"--json", true},       {"--junit", true},
    {"--quiet", false},       {"--verbose", false},   {"--color", true},
    {"--jobs", true},         {"--timeout-ms", true}, {"--host-binary", true},
    {"--guest-binary", true}, {"--driver-dir", true}, {"--report", false},
    {"--quirks", true},       {"--schedule", true},  // run's alone: the last, so explore can leave
                                                     // it out
};

// explore's: run's but --schedule, and the fault plans.
constexpr std::array<FlagSpec, std::size(kFlags) - 1 + 3> kExploreFlags = [] {
  std::array<FlagSpec, std::size(kFlags) - 1 + 3> flags{};
  std::copy(std::begin(kFlags), std::end(kFlags) - 1, flags.begin());
  flags[std::size(kFlags) - 1] = {"--faults", true};
  flags[std::size(kFlags)] = {"--max-faults", true};
  flags[std::size(kFlags) + 1] = {"--shrink", false};
  return flags;
}();

constexpr std::uint64_t kMaxJobs = 256;

std::vector<std::string> split_list(std::string_view text) {
  std::vector<std::string> values;
  std::size_t start = 0;
  for (;;) {
    const std::size_t comma = text.find(',', start);
    const std::string_view value = text.substr(start, comma - start);
    if (!value.empty()) {
      values.emplace_back(value);
    }
    if (comma == std::string_view::npos) {
      return values;
    }
    start = comma + 1;
  }
}

// What the command line asks for.
struct RunRequest {
  std::vector<std::string_view> paths;
  std::optional<SeedRange> seeds;  // none: each file's own seed
  std::vector<std::string> filters;
  std::vector<std::string> tags;
  std::uint32_t repeat = 1;
  bool until_fail = false;
  bool fail_fast = false;
  bool list = false;
  ShardChoice shard;
  std::optional<std::string> timings;
  std::uint64_t jobs = 1;
  RunOptions options;  // without the trace path, which each run gets
  bool quiet = false;
  bool verbose = false;
  bool report = false;  // --report: every run's final state
  ColorMode color = ColorMode::kAuto;
  std::optional<std::string> trace_dir;  // --trace-dir: keep every trace there
  std::optional<std::string> artifacts;
  std::optional<std::string> json;
  std::optional<std::string> junit;
  runner::LoadOptions load;        // --driver-dir
  runner::CompileOptions compile;  // --quirks
  // `explore`: the fault plans to draw, and whether to shrink what fails.
  std::optional<runner::FaultPlanOptions> explore;
  bool shrink = false;
};

// A request, or the exit code of a command line that asks for nothing
// runnable (the reason is printed).
using Parsed = std::variant<RunRequest, int>;

// --seed, --seeds, --filter, --tag, --repeat: what runs.
std::optional<int> parse_selection(const Invocation& invocation, const ParsedArgs& args,
                                   RunRequest& request) {
  const std::string& path = invocation.command_path;
  std::ostream& err = invocation.io.err;
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
      return usage_error(path, err, *message);
    }
    request.seeds = std::get<SeedRange>(parsed);
  }
  for (const auto& [flag, values] :
       {std::pair("--filter", &request.filters), std::pair("--tag", &request.tags)}) {
    if (auto text = args.value(flag)) {
      *values = split_list(*text);
      if (values->empty()) {
        return usage_error(path, err, std::string(flag) + " needs at least one value");
      }
    }
  }
  if (auto text = args.value("--repeat")) {
    const auto value = parse_decimal_flag(invocation, "--repeat", *text, kMaxRepeat);
    if (!value || *value == 0) {
      return value ? usage_error(path, err, "--repeat must be at least 1") : kExitError;
    }
    request.repeat = static_cast<std::uint32_t>(*value);
  }
  request.until_fail = args.has("--until-fail");
  request.fail_fast = args.has("--fail-fast");
  request.list = args.has("--list");
  if (auto text = args.value("--quirks")) {
    if (*text != "on" && *text != "off") {
      return usage_error(path, err, "--quirks must be on or off, got '" + std::string(*text) + "'");
    }
    request.compile.quirks = *text == "on";
    if (!request.compile.quirks) {
      request.options.command_line += " --quirks off";
    }
  }
  return std::nullopt;
}

// --shard, --shard-count (and the environment), --jobs and --timeout-ms.
std::optional<int> parse_limits(const Invocation& invocation, const ParsedArgs& args,
                                RunRequest& request) {
  const std::string& path = invocation.command_path;
  std::ostream& err = invocation.io.err;
  std::optional<std::uint32_t> shard_count;
  if (auto text = args.value("--shard-count")) {
    const auto value = parse_decimal_flag(invocation, "--shard-count", *text, kMaxShards);
    if (!value || *value == 0) {
      return value ? usage_error(path, err, "--shard-count must be at least 1") : kExitError;
    }
    shard_count = static_cast<std::uint32_t>(*value);
  }
  auto shard = choose_shard(args.value("--shard"), shard_count, process_environment());
  if (auto* message = std::get_if<std::string>(&shard)) {
    return usage_error(path, err, *message);
  }
  request.shard = std::get<ShardChoice>(shard);
  request.jobs = std::clamp<std::uint64_t>(std::thread::hardware_concurrency(), 1, kMaxJobs);
  if (auto text = args.value("--jobs")) {
    const auto value = parse_decimal_flag(invocation, "--jobs", *text, kMaxJobs);
    if (!value || *value == 0) {
      return value ? usage_error(path, err, "--jobs must be at least 1") : kExitError;
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

// Paths, programs, and how to print.
std::optional<int> parse_outputs(const Invocation& invocation, const ParsedArgs& args,
                                 RunRequest& request) {
  const fs::path here = own_directory();
  request.options.host_binary =
      std::string(args.value("--host-binary").value_or((here / "vmbus-host").string()));
  request.options.guest_binary =
      std::string(args.value("--guest-binary").value_or((here / "vmbus-guest").string()));
  for (const auto& [flag, value] :
       {std::pair("--trace-dir", &request.trace_dir), std::pair("--artifacts", &request.artifacts),
        std::pair("--json", &request.json), std::pair("--junit", &request.junit),
        std::pair("--timings", &request.timings)}) {
    if (auto text = args.value(flag)) {
      if (text->empty()) {
        return usage_error(invocation.command_path, invocation.io.err,
                           std::string(flag) + " needs a path");
      }
      *value = std::string(*text);
    }
  }
  std::error_code ignored;
  if (request.json && request.junit &&
      fs::absolute(*request.json, ignored) == fs::absolute(*request.junit, ignored)) {
    return usage_error(invocation.command_path, invocation.io.err,
                       "--json and --junit name the same file");
  }
  if (auto text = args.value("--color")) {
    const std::optional<ColorMode> mode = parse_color_mode(*text);
    if (!mode) {
      return usage_error(invocation.command_path, invocation.io.err,
                         "--color must be auto, always or never, got '" + std::string(*text) + "'");
    }
    request.color = *mode;
  }
  request.quiet = args.has("--quiet");
  request.verbose = args.has("--verbose");
  request.report = args.has("--report");
  if (auto text = args.value("--schedule")) {
    const trace::TraceReadResult read = trace::read_trace(std::string(*text));
    auto schedule = read.ok ? trace::schedule_of(read.trace, std::string(*text))
                            : std::variant<trace::Schedule, std::string>(read.error);
    if (auto* problem = std::get_if<std::string>(&schedule)) {
      invocation.io.err << invocation.command_path << ": --schedule: " << *problem << "\n";
      return kExitError;
    }
    request.options.schedule = std::get<trace::Schedule>(std::move(schedule));
    request.options.schedule_source = std::string(*text);
    request.options.command_line += " --schedule " + shell_quote(std::string(*text));
  }
  if (auto text = args.value("--driver-dir")) {
    std::string_view rest = *text;
    for (;;) {
      const std::size_t colon = rest.find(':');
      if (const std::string_view dir = rest.substr(0, colon); !dir.empty()) {
        request.load.driver_dirs.emplace_back(std::string(dir));
      }
      if (colon == std::string_view::npos) {
        break;
      }
      rest.remove_prefix(colon + 1);
    }
    if (request.load.driver_dirs.empty()) {
      return usage_error(invocation.command_path, invocation.io.err, "--driver-dir needs a folder");
    }
  }
  return std::nullopt;
}

// --faults, --max-faults, --shrink; explore needs its seeds.
std::optional<int> parse_explore(const Invocation& invocation, const ParsedArgs& args,
                                 RunRequest& request) {
  const std::string& path = invocation.command_path;
  if (!request.seeds) {
    return usage_error(path, invocation.io.err, "missing --seeds A..B (or --seed N)");
  }
  runner::FaultPlanOptions options;
  options.quirks = request.compile.quirks;  // --quirks, parsed with run's options
  if (auto text = args.value("--faults")) {
    options.faults = split_list(*text);
    for (const std::string& name : options.faults) {
      const auto& known = runner::explore_fault_names();
      if (std::find(known.begin(), known.end(), name) == known.end()) {
        std::string names;
        for (const std::string& k : known) {
          names += (names.empty() ? "" : ", ") + k;
        }
        return usage_error(path, invocation.io.err,
                           "--faults: unknown fault '" + name + "' (known: " + names + ")");
      }
    }
  }
  if (auto text = args.value("--max-faults")) {
    const auto value = parse_decimal_flag(invocation, "--max-faults", *text, 16);
    if (!value) {
      return kExitError;
    }
    options.max_faults = static_cast<std::uint32_t>(*value);
  }
  request.explore = options;
  request.shrink = args.has("--shrink");
  for (const auto flag : {"--faults", "--max-faults"}) {
    if (auto text = args.value(flag)) {
      request.options.command_line +=
          std::string(" ") + flag + " " + shell_quote(std::string(*text));
    }
  }
  return std::nullopt;
}

Parsed parse_request(const Invocation& invocation, bool explore) {
  const std::optional<ParsedArgs> args =
      explore ? parse_args(invocation, kExploreFlags) : parse_args(invocation, kFlags);
  if (!args) {
    return kExitError;
  }
  const std::string& path = invocation.command_path;
  std::ostream& err = invocation.io.err;
  if (args->positionals.empty()) {
    return usage_error(path, err, "missing scenario FILE or DIR");
  }
  for (const auto& [a, b] : {std::pair("--seed", "--seeds"), std::pair("--quiet", "--verbose")}) {
    if (args->has(a) && args->has(b)) {
      return usage_error(path, err, std::string(a) + " and " + b + " exclude each other");
    }
  }
  RunRequest request;
  request.paths = args->positionals;
  request.options.command_line = invocation.command_path;
  for (auto parse : {parse_selection, parse_limits, parse_outputs}) {
    if (const auto exit = parse(invocation, *args, request)) {
      return *exit;
    }
  }
  if (explore) {
    if (const auto exit = parse_explore(invocation, *args, request)) {
      return *exit;
    }
  }
  return request;
}

// Collects the scenario files named on the command line: files as given,
// directories searched for *.textproto (sorted). Returns an error or "".
std::string collect_files(const std::vector<std::string_view>& arguments,
                          std::vector<std::pair<fs::path, std::string>>& files) {
  for (std::string_view argument : arguments) {
    const fs::path path{std::string(argument)};
    std::error_code error;
    if (fs::is_directory(path, error)) {
      std::vector<fs::path> found;
      for (auto it = fs::recursive_directory_iterator(path, error);
           !error && it != fs::recursive_directory_iterator(); it.increment(error)) {
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
    } else if (fs::exists(path, error)) {
      files.emplace_back(path, std::string(argument));
    } else {
      return std::string(argument) + ": no such file or directory";
    }
  }
  return "";
}

struct Library {
  std::vector<LoadedScenario> loaded;  // as read (explore draws its faults into them)
  std::vector<CompiledScenario> compiled;
  std::vector<PlanScenario> planned;  // the same scenarios, as the plan sees them
};

// Loads and checks every file before anything runs: all of them compiled,
// or nullopt after printing every problem.
std::optional<Library> load_all(const std::vector<std::string_view>& paths,
                                const runner::LoadOptions& options,
                                const runner::CompileOptions& compile, std::ostream& err) {
  std::vector<std::pair<fs::path, std::string>> files;
  if (std::string error = collect_files(paths, files); !error.empty()) {
    err << "vmbus-sim: " << error << "\n";
    return std::nullopt;
  }
  Library library;
  std::map<std::string, std::string> names;  // scenario name -> file
  bool bad = false;
  for (const auto& [file, display] : files) {
    const LoadedScenario loaded = runner::load_scenario(file, display, options);
    for (const ScenarioProblem& problem : loaded.problems) {
      err << problem.to_string() << "\n";
    }
    for (const ScenarioProblem& warning : loaded.warnings) {
      err << warning.to_string() << "\n";
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
    library.compiled.push_back(runner::compile_scenario(loaded, compile));
    library.loaded.push_back(loaded);
    const CompiledScenario& compiled = library.compiled.back();
    library.planned.push_back(PlanScenario{
        compiled.name, compiled.display_path,
        std::vector<std::string>(loaded.scenario.tag().begin(), loaded.scenario.tag().end()),
        compiled.default_seed});
  }
  if (bad) {
    err << "vmbus-sim: nothing was run: fix the scenario file(s) above\n";
    return std::nullopt;
  }
  return library;
}

// The plan, with --timings read; nullopt after printing a usage error.
std::optional<Plan> plan_for(const Invocation& invocation, const RunRequest& request,
                             const Library& library) {
  PlanRequest plan_request;
  plan_request.seeds = request.seeds;
  plan_request.filters = request.filters;
  plan_request.tags = request.tags;
  plan_request.repeat = request.repeat;
  plan_request.shard = request.shard.shard;
  plan_request.until_fail = request.until_fail;
  if (request.timings) {
    std::ifstream in(*request.timings, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    if (!in) {
      usage_error(invocation.command_path, invocation.io.err,
                  "--timings: cannot read " + *request.timings);
      return std::nullopt;
    }
    auto results = read_results_json(text.str(), *request.timings);
    if (auto* message = std::get_if<std::string>(&results)) {
      usage_error(invocation.command_path, invocation.io.err, "--timings: " + *message);
      return std::nullopt;
    }
    plan_request.timings_us = timings_from(std::get<SweepResults>(results));
  }
  auto plan = make_plan(library.planned, plan_request);
  if (auto* message = std::get_if<std::string>(&plan)) {
    usage_error(invocation.command_path, invocation.io.err, *message);
    return std::nullopt;
  }
  return std::get<Plan>(std::move(plan));
}

std::string shard_text(const ShardChoice& choice) {
  if (choice.source.empty() || (choice.source == "--shard" && choice.shard.count == 1)) {
    return "";
  }
  std::string text =
      "shard " + std::to_string(choice.shard.index) + "/" + std::to_string(choice.shard.count);
  return choice.source == "--shard" ? text : text + " from " + choice.source;
}

int list_plan(const RunRequest& request, const Library& library, const Plan& plan,
              const CommandIo& io) {
  for (const PlanItem& item : plan.mine) {
    io.out << library.compiled[item.scenario].display_path << " seed " << item.seed << "\n";
  }
  const std::string shard = shard_text(request.shard);
  io.err << plan.mine.size() * request.repeat << " run(s) of " << plan.selected.size()
         << " scenario(s) would run" << (request.repeat > 1 ? ", each seed " : "")
         << (request.repeat > 1 ? std::to_string(request.repeat) + " times" : "")
         << (shard.empty() ? "" : " (" + shard + ")") << "\n";
  return kExitOk;
}

// Every program and output path, before the first run: the problems found
// (each "--flag: why"), creating the directories asked for.
std::vector<std::string> output_problems(const RunRequest& request) {
  std::vector<std::string> problems;
  const auto add = [&problems](std::string_view flag, std::string problem) {
    if (!problem.empty()) {
      problems.push_back(std::string(flag) + ": " + problem);
    }
  };
  add("--host-binary", check_program(request.options.host_binary));
  add("--guest-binary", check_program(request.options.guest_binary));
  if (request.json) {
    add("--json", check_output_file(*request.json));
  }
  if (request.junit) {
    add("--junit", check_output_file(*request.junit));
  }
  if (request.trace_dir) {
    add("--trace-dir", prepare_output_directory(*request.trace_dir));
  }
  if (request.artifacts) {
    add("--artifacts", prepare_output_directory(*request.artifacts));
  }
  // Bazel asks a test runner that shards to say so by touching this file.
  if (const char* status = std::getenv("TEST_SHARD_STATUS_FILE"); status && *status != '\0') {
    add("TEST_SHARD_STATUS_FILE", touch_file(status));
  }
  return problems;
}

// Checks every output and program; where the traces go, or nullopt after
// printing every problem.
std::optional<fs::path> prepare_outputs(const Invocation& invocation, const RunRequest& request) {
  std::vector<std::string> problems = output_problems(request);
  fs::path trace_dir;
  if (request.trace_dir) {
    trace_dir = *request.trace_dir;
  } else if (problems.empty()) {
    // A fresh name: a directory left by an earlier process (killed, or one
    // that kept failed runs' traces) is never reused.
    const char* tmp = std::getenv("TMPDIR");
    const fs::path parent = tmp != nullptr && *tmp != '\0' ? tmp : "/tmp";
    if (std::string problem = make_temporary_directory(parent, "vmbus-sim-run-", trace_dir);
        !problem.empty()) {
      problems.push_back("the temporary trace directory: " + problem);
    }
  }
  if (problems.empty()) {
    return trace_dir;
  }
  for (const std::string& problem : problems) {
    invocation.io.err << invocation.command_path << ": " << problem << "\n";
  }
  invocation.io.err << "vmbus-sim: nothing was run\n";
  return std::nullopt;
}

bool is_terminal(const std::ostream& stream, int fd, const std::ostream& standard) {
  return &stream == &standard && ::isatty(fd) != 0;
}

// How many runs the work has: one pass of this shard's items, or, with
// --until-fail, as many passes as the seeds and kMaxPlannedRuns allow.
std::uint64_t run_limit(const RunRequest& request, const Plan& plan) {
  const std::uint64_t per_pass = plan.mine.size() * request.repeat;
  if (!request.until_fail || per_pass == 0) {
    return per_pass;
  }
  std::uint64_t passes = kMaxPlannedRuns / per_pass;
  for (const PlanItem& item : plan.mine) {
    const SeedRange& seeds = plan.seeds[item.scenario];
    const std::uint64_t width = seeds.last - seeds.first + 1;
    passes = std::min(passes, 1 + (std::numeric_limits<std::uint64_t>::max() - item.seed) / width);
  }
  return std::max<std::uint64_t>(passes, 1) * per_pass;
}

TicketSource ticket_source(const RunRequest& request, const Plan& plan, const Library& library,
                           const fs::path& trace_dir, std::uint64_t limit) {
  const std::uint64_t per_pass = plan.mine.size() * request.repeat;
  const std::uint32_t repeat = request.repeat;
  return [&plan, &library, trace_dir, per_pass, repeat, limit](std::uint64_t sequence) {
    std::optional<Ticket> ticket;
    if (sequence >= limit) {
      return ticket;
    }
    const std::uint64_t within = sequence % per_pass;
    const PlanItem& item = plan.mine[within / repeat];
    ticket.emplace();
    ticket->sequence = sequence;
    ticket->scenario = item.scenario;
    ticket->position = item.position;
    ticket->pass = static_cast<std::uint32_t>(sequence / per_pass + 1);
    ticket->repetition = static_cast<std::uint32_t>(within % repeat + 1);
    ticket->seed = seed_in_pass(plan, item, ticket->pass).value_or(item.seed);
    std::string name =
        library.compiled[item.scenario].name + ".seed" + std::to_string(ticket->seed);
    if (repeat > 1) {
      name += ".r" + std::to_string(ticket->repetition);
    }
    ticket->trace_path = trace_dir / (name + ".trace");
    return ticket;
  };
}

SweepResults results_of(const RunRequest& request, const Plan& plan, const Library& library,
                        const Execution& execution, std::vector<RunRecord> records) {
  SweepResults results;
  results.build = base::build_identity();
  results.plan = SweepPlan{plan.id, plan.items, request.repeat, plan.balance, request.until_fail};
  results.shard = request.shard.shard;
  results.shard_source = request.shard.source;
  results.wall_s = execution.elapsed_s();
  if (execution.interrupted()) {
    results.stopped = "interrupted";
  } else if (execution.stopped_after_failure()) {
    results.stopped = request.until_fail ? "until-fail" : "fail-fast";
  }
  for (const CompiledScenario& scenario : library.compiled) {
    results.scenarios.push_back(ScenarioInfo{scenario.name, scenario.display_path});
  }
  results.runs = std::move(records);
  return results;
}

// --json and --junit, each written whole or not at all; false after
// printing why.
bool write_reports(const RunRequest& request, const SweepResults& results, std::ostream& err) {
  bool ok = true;
  if (request.json) {
    std::ostringstream text;
    write_results_json(text, results);
    if (std::string problem = write_file_atomically(*request.json, text.str()); !problem.empty()) {
      err << "vmbus-sim: --json: " << problem << "\n";
      ok = false;
    }
  }
  if (request.junit) {
    std::ostringstream text;
    write_junit(text,
                junit_report(results, request.explore ? "vmbus-sim explore" : "vmbus-sim run"));
    if (std::string problem = write_file_atomically(*request.junit, text.str()); !problem.empty()) {
      err << "vmbus-sim: --junit: " << problem << "\n";
      ok = false;
    }
  }
  return ok;
}

ReportSettings report_settings(const RunRequest& request, const Plan& plan,
                               const fs::path& trace_dir, const CommandIo& io) {
  const EnvironmentLookup environment = process_environment();
  ReportSettings settings;
  settings.quiet = request.quiet;
  settings.verbose = request.verbose;
  settings.final_state = request.report;
  settings.keep_every_trace = request.trace_dir.has_value();
  settings.trace_dir = trace_dir;
  if (request.artifacts) {
    settings.artifacts = fs::path(*request.artifacts);
  }
  settings.color =
      use_color(request.color, is_terminal(io.out, STDOUT_FILENO, std::cout), environment);
  settings.progress_redraw =
      is_terminal(io.err, STDERR_FILENO, std::cerr) && terminal_can_redraw(environment);
  settings.progress_lines = !settings.progress_redraw && request.quiet;
  settings.keep_every_record = request.json || request.junit;
  settings.total = request.until_fail ? 0 : plan.mine.size() * request.repeat;
  settings.repeat = request.repeat;
  settings.scenario_count = plan.selected.size();
  settings.shard_text = shard_text(request.shard);
  // A repro finds the drivers where this run found them.
  std::string dirs;
  for (const fs::path& dir : request.load.driver_dirs) {
    dirs += (dirs.empty() ? "" : ":") + dir.string();
  }
  settings.driver_dirs = dirs;
  return settings;
}

// explore: each ticket runs its scenario with its seed's fault plan.
ScenarioVariant explore_variant(const RunRequest& request, const Library& library) {
  if (!request.explore) {
    return {};
  }
  return [&library, options = *request.explore](std::size_t scenario, std::uint64_t seed) {
    return runner::compile_explored(library.loaded[scenario], seed, options);
  };
}

// explore --shrink: each failed run's explored scenario is written beside
// its trace and shrunk there.
void shrink_failures(const RunRequest& request, const Library& library,
                     const std::vector<std::pair<std::size_t, std::uint64_t>>& failed,
                     const fs::path& folder, const CommandIo& io) {
  for (const auto& [scenario, seed] : failed) {
    const std::string stem = library.compiled[scenario].name + ".seed" + std::to_string(seed);
    const fs::path explored = folder / (stem + ".explored.textproto");
    const runner::ExploredScenario plan =
        runner::with_fault_plan(library.loaded[scenario], seed, *request.explore);
    if (std::string problem = write_file_atomically(explored, plan.loaded.text); !problem.empty()) {
      io.err << "vmbus-sim explore: --shrink: " << problem << "\n";
      continue;
    }
    ShrinkJob job;
    job.file = explored;
    job.display_path = explored.string();
    job.seed = seed;
    job.output = folder / (stem + ".shrunk.textproto");
    job.options = request.options;
    job.load = request.load;
    io.out << "shrink: " << explored.string() << "\n";
    shrink_job(job, io.out, io.err);
  }
}

// Runs the plan and reports it; the exit code.
int execute(const RunRequest& request, const Library& library, const Plan& plan,
            const fs::path& trace_dir, const CommandIo& io) {
  const std::uint64_t limit = run_limit(request, plan);
  const std::uint64_t jobs =
      request.until_fail ? request.jobs : std::min(request.jobs, std::max<std::uint64_t>(limit, 1));
  Execution execution(library.compiled, ticket_source(request, plan, library, trace_dir, limit),
                      request.options, jobs, request.fail_fast || request.until_fail,
                      request.until_fail, explore_variant(request, library));
  RunReporter reporter(report_settings(request, plan, trace_dir, io), library.compiled, io.out,
                       io.err);
  std::uint32_t passes = 0;
  bool schedule_diverged = false;
  std::vector<std::pair<std::size_t, std::uint64_t>> failed;
  while (std::optional<Outcome> outcome = execution.next()) {
    passes = std::max(passes, outcome->ticket.pass);
    schedule_diverged = schedule_diverged ||
                        outcome->result.run.outcome == hypervisor::RunOutcome::kScheduleDiverged;
    if (outcome->ran && outcome->result.verdict != runner::Verdict::kPassed) {
      failed.emplace_back(outcome->ticket.scenario, outcome->ticket.seed);
    }
    reporter.add(*outcome, execution);
  }
  reporter.finish(execution, passes);
  if (request.shrink && !execution.interrupted()) {
    shrink_failures(request, library, failed,
                    request.artifacts ? fs::path(*request.artifacts) : trace_dir, io);
  }
  if (request.json || request.junit) {
    const SweepResults results =
        results_of(request, plan, library, execution, std::move(reporter.records()));
    if (!write_reports(request, results, io.err)) {
      return kExitError;
    }
  }
  if (execution.interrupted()) {
    return hypervisor::kExitInterrupted;
  }
  if (schedule_diverged) {
    return hypervisor::kExitScheduleDiverged;
  }
  if (reporter.counts().errors != 0) {
    return hypervisor::kExitSimulatorFailure;
  }
  return reporter.counts().failed != 0 ? kExitCorrupt : kExitOk;
}

// parse, load, plan, check, execute and report.
int run_or_explore(const Invocation& invocation, bool explore) {
  // First: a signal at any later moment -- loading, between runs, writing
  // the reports -- must find the handler in place.
  hypervisor::catch_interrupts();
  Parsed parsed = parse_request(invocation, explore);
  if (const int* exit = std::get_if<int>(&parsed)) {
    return *exit;
  }
  const RunRequest& request = std::get<RunRequest>(parsed);
  const std::optional<Library> library =
      load_all(request.paths, request.load, request.compile, invocation.io.err);
  if (!library) {
    return kExitError;
  }
  const std::optional<Plan> plan = plan_for(invocation, request, *library);
  if (!plan) {
    return kExitError;
  }
  if (request.list) {
    return list_plan(request, *library, *plan, invocation.io);
  }
  const std::optional<fs::path> trace_dir = prepare_outputs(invocation, request);
  if (!trace_dir) {
    return kExitError;
  }
  return execute(request, *library, *plan, *trace_dir, invocation.io);
}

int run_run(const Invocation& invocation) {
  return run_or_explore(invocation, false);
}

int run_explore(const Invocation& invocation) {
  return run_or_explore(invocation, true);
}

constexpr std::string_view kExploreDescription =
    R"(Runs scenario files, like run, each seed with a fault plan drawn from the
seed: up to --max-faults faults (default 3), each of a kind from --faults,
on a channel of the scenario, inserted at a drawn place in its timeline: a
fault is armed (a context held) right after the step before it, at
whatever phase of the traffic that is. A seed that draws no fault runs the
scenario as written.

Under faults, the expectations the faults invalidate are skipped -- the
callbacks, states, counters, completions, trace matches, the negotiated
version and timeline steps whose conditions never came -- while the
outcome, the expected verifier violations and the
oracles judge every run (an oracle the scenario expects may fire, and a
dropped interrupt's channel may show a lost wakeup). Every failure prints
its trace and a repro line (vmbus-sim replay TRACE: the trace holds the
explored scenario); with --shrink each is shrunk (see vmbus-sim shrink)
into NAME.seedN.shrunk.textproto beside its trace (or in --artifacts).

Fault kinds (--faults, comma-separated):
  interrupt_delay, interrupt_duplicate, interrupt_old_vp (the next
  interrupts of a channel being moved to another VP land on its old VP, as
  Hyper-V's asynchronous move allows; drawn only for a guest with several
  VPs), spurious_interrupt, hold (the default set: what a real host can
  do), and interrupt_drop,
  message_delay, message_duplicate, message_reorder (a delayed control
  message is overtaken by the ones behind it, which VMBus never does: a
  run may then fail for the fault's sake, e.g. a GPADL_TEARDOWN that
  overtakes its CLOSECHANNEL leaks the GPADL); and a hostile host's writes
  into a channel's rings: host_ring_write (random bytes at a random offset
  of the guest's incoming ring, maybe a new write_index), host_raw_packet
  (a packet with random type, offset8, len8 and flags), host_set_index (a
  random read or write index of either ring), host_tamper (the last packet
  sent, rewritten after the guest read it). The guest must turn each into a
  typed protocol error and go on; a write the host refuses (no open
  channel, indices a write left invalid) did nothing and is no failure.
  Hostile kinds are drawn only for scenarios that expect the run to
  complete with no verifier violation (a stopped queue could keep an
  expected crash or violation from happening), and a write that withholds
  a wakeup (no interrupt, a moved index) lets its channel's lost_wakeup fire

Every option of run applies (--jobs, --shard, --junit, --json, --artifacts,
--trace-dir, --filter, --tag, ...), so a CI matrix or a batch system spreads
a long exploration the same way. Explore options:
  --seeds A..B      the seeds to explore (required; or --seed N)
  --faults LIST     the fault kinds to draw from
  --max-faults N    at most N faults per seed (0-16, default 3)
  --shrink          shrink every failure

Exit status: as run's.
)";

constexpr std::string_view kExploreExamples =
    R"(  vmbus-sim explore scenarios --seeds 1..1000 --jobs 8
  vmbus-sim explore scenarios/defer --seeds 1..200 --faults hold,interrupt_delay --shrink
  vmbus-sim explore scenarios --seeds 1..100000 --shard 3/16 --junit explore-3.xml
)";

}  // namespace

const Command& explore_command() {
  static const Command kCommand{"explore",
                                "--seeds A..B [options] FILE|DIR...",
                                "Run scenarios with fault plans drawn from each seed",
                                kExploreDescription,
                                kExploreExamples,
                                run_explore,
                                {}};
  return kCommand;
}

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
