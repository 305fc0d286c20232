#include "vmbus/cli/report_command.h"

#include <fstream>
#include <iostream>
#include <sstream>
#include <unistd.h>

#include "vmbus/cli/output_paths.h"
#include "vmbus/cli/results.h"
#include "vmbus/cli/terminal.h"
#include "vmbus/hypervisor/simulation.h"

namespace vmbus::cli {
namespace {

constexpr std::string_view kMergeDescription =
    R"(Merges the results files that the shards of one sweep wrote with
'vmbus-sim run --json FILE' into one result: prints every run that did not
pass with its trace and repro command, then the summary, as one unsharded
run would have, and writes the merged results and JUnit report.

The files must be the whole sweep exactly once: written by one build, from
the same scenarios, seeds, filters, --repeat, --timings and shard count, with
every shard present once and complete. A shard that is missing or given
twice, an interrupted shard, or a run that appears twice is an error (exit
2) and nothing is written. Results of --until-fail cannot be merged: each
shard stops at its own first failure.

Options:
  --json FILE    write the merged results (the same format; merge them again,
                 or read them with jq)
  --junit FILE   write the merged JUnit XML report
  --color WHEN   colour FAIL/ERROR: auto (default), always or never
  --help         print this help

Exit status:
  0  every run of the sweep passed
  1  a run failed
  2  usage error, or the files are not the whole sweep exactly once
  3  a run's simulator failed (ERROR)
)";

constexpr std::string_view kMergeExamples =
    R"(  vmbus-sim report merge shard-*.json --junit results.xml
  vmbus-sim report merge r1.json r2.json r3.json r4.json --json sweep.json
)";

constexpr std::string_view kReportDescription =
    R"(Reads the results files of 'vmbus-sim run --json FILE'.
)";

constexpr std::string_view kReportExamples =
    R"(  vmbus-sim report merge shard-*.json --junit results.xml
)";

constexpr FlagSpec kMergeFlags[] = {{"--json", true}, {"--junit", true}, {"--color", true}};

// Every file read and parsed, or nullopt after printing why.
std::optional<std::vector<NamedResults>> read_all(const std::vector<std::string_view>& files,
                                                  std::ostream& err) {
  std::vector<NamedResults> shards;
  bool ok = true;
  for (const std::string_view file : files) {
    std::ifstream in{std::string(file), std::ios::binary};
    std::ostringstream text;
    text << in.rdbuf();
    if (!in) {
      err << "vmbus-sim: " << file << ": cannot read it\n";
      ok = false;
      continue;
    }
    auto results = read_results_json(text.str(), std::string(file));
    if (auto* message = std::get_if<std::string>(&results)) {
      err << "vmbus-sim: " << *message << "\n";
      ok = false;
      continue;
    }
    shards.push_back(NamedResults{std::string(file), std::get<SweepResults>(std::move(results))});
  }
  if (!ok) {
    return std::nullopt;
  }
  return shards;
}

void print_merged(const SweepResults& merged, bool color, std::ostream& out) {
  const SweepCounts counts = count_runs(merged.runs);
  for (const RunRecord& run : merged.runs) {
    if (run.verdict != RunVerdict::kFailed && run.verdict != RunVerdict::kError) {
      continue;
    }
    const bool is_error = run.verdict == RunVerdict::kError;
    const ScenarioInfo& scenario = merged.scenarios.at(run.scenario);
    out << (is_error ? colored("ERROR", Color::kBoldRed, color) + "  "
                     : colored("FAIL", Color::kRed, color) + "   ")
        << scenario.file << " seed " << run.seed
        << (merged.plan.repeat > 1 ? " #" + std::to_string(run.repetition) : "") << ": "
        << run.failure << "\n"
        << "       trace: " << run.trace << "\n"
        << "       repro: " << run.repro << "\n";
  }
  std::size_t scenarios_run = merged.scenarios.size();
  char elapsed[32];
  std::snprintf(elapsed, sizeof(elapsed), "%.1f", merged.wall_s);
  out << counts.runs << " run(s) of " << scenarios_run << " scenario(s) from "
      << merged.merged_shards << " shard(s): " << counts.passed << " passed, " << counts.failed
      << " failed, " << counts.errors << " errors";
  if (counts.not_run != 0) {
    out << ", " << counts.not_run << " not run (--fail-fast)";
  }
  out << " in " << elapsed << " s (the longest shard)\n";
}

// --json and --junit, each written whole or not at all; false after
// printing why.
bool write_merged(const SweepResults& merged, std::optional<std::string_view> json,
                  std::optional<std::string_view> junit, std::ostream& err) {
  bool written = true;
  if (json) {
    std::ostringstream text;
    write_results_json(text, merged);
    if (std::string problem = write_file_atomically(std::string(*json), text.str());
        !problem.empty()) {
      err << "vmbus-sim: --json: " << problem << "\n";
      written = false;
    }
  }
  if (junit) {
    std::ostringstream text;
    write_junit(text, junit_report(merged, "vmbus-sim run"));
    if (std::string problem = write_file_atomically(std::string(*junit), text.str());
        !problem.empty()) {
      err << "vmbus-sim: --junit: " << problem << "\n";
      written = false;
    }
  }
  return written;
}

int run_merge(const Invocation& invocation) {
  const std::optional<ParsedArgs> args = parse_args(invocation, kMergeFlags);
  if (!args) {
    return kExitError;
  }
  const std::string& path = invocation.command_path;
  std::ostream& err = invocation.io.err;
  if (args->positionals.empty()) {
    return usage_error(path, err, "missing results FILE (the --json of each shard)");
  }
  ColorMode color_mode = ColorMode::kAuto;
  if (auto text = args->value("--color")) {
    const std::optional<ColorMode> mode = parse_color_mode(*text);
    if (!mode) {
      return usage_error(path, err,
                         "--color must be auto, always or never, got '" + std::string(*text) + "'");
    }
    color_mode = *mode;
  }
  const std::optional<std::string_view> json = args->value("--json");
  const std::optional<std::string_view> junit = args->value("--junit");
  for (const auto& [flag, file] : {std::pair("--json", json), std::pair("--junit", junit)}) {
    if (file) {
      if (std::string problem = check_output_file(std::string(*file)); !problem.empty()) {
        return usage_error(path, err, std::string(flag) + ": " + problem);
      }
    }
  }
  const std::optional<std::vector<NamedResults>> shards = read_all(args->positionals, err);
  if (!shards) {
    return kExitError;
  }
  auto merged_or = merge_results(*shards);
  if (auto* message = std::get_if<std::string>(&merged_or)) {
    err << "vmbus-sim: " << *message << "\nvmbus-sim: nothing was written\n";
    return kExitError;
  }
  const SweepResults& merged = std::get<SweepResults>(merged_or);
  const bool color =
      use_color(color_mode, &invocation.io.out == &std::cout && ::isatty(STDOUT_FILENO) != 0,
                process_environment());
  print_merged(merged, color, invocation.io.out);
  const bool written = write_merged(merged, json, junit, err);
  const SweepCounts counts = count_runs(merged.runs);
  if (!written) {
    return kExitError;
  }
  if (counts.errors != 0) {
    return hypervisor::kExitSimulatorFailure;
  }
  return counts.failed != 0 ? kExitCorrupt : kExitOk;
}

}  // namespace

const Command& report_command() {
  static const Command kSubcommands[] = {
      Command{"merge",
              "[--json FILE] [--junit FILE] RESULTS...",
              "Merge the --json results of a sweep's shards",
              kMergeDescription,
              kMergeExamples,
              &run_merge,
              {}},
  };
  static const Command kReport{
      "report",           "<command> [arguments]", "Merge and report the results of sweeps",
      kReportDescription, kReportExamples,         nullptr,
      kSubcommands};
  return kReport;
}

}  // namespace vmbus::cli
