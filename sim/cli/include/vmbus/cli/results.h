// The results of a sweep: a record per run and what the sweep was (its
// plan and shard). `vmbus-sim run --json FILE` writes them, `vmbus-sim
// report merge` reads the shards' files back, checks that they are the
// whole sweep exactly once, and merges them; both turn them into JUnit.
//
// The file is JSON (schema and field meanings: sim/cli/proto/vmbus/cli/
// results.proto), one run per line so that grep and jq both work on it.
// Every (scenario, seed) of a sweep has a position in the unsharded plan,
// the same on every shard; with a repetition and a pass (--repeat,
// --until-fail) it names a run exactly once, which is what lets a merge
// find a run that is missing or appears twice.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "vmbus/cli/junit.h"
#include "vmbus/cli/sweep_flags.h"

namespace vmbus::cli {

inline constexpr std::uint32_t kResultsFormatVersion = 1;
inline constexpr std::string_view kResultsFormatName = "vmbus-sim results";

enum class RunVerdict : std::uint8_t { kPassed, kFailed, kError, kNotRun };

// "PASS", "FAIL", "ERROR", "NOT_RUN": the words of the file and the terminal.
std::string_view verdict_word(RunVerdict verdict);

struct RunOracle {
  std::string name;
  std::string channel;  // "" for the whole run
  std::string what;
};

struct ScenarioInfo {
  std::string name;
  std::string file;  // as given on the command line
};

struct RunRecord {
  std::uint64_t position = 0;
  std::uint32_t repetition = 1;
  std::uint32_t pass = 1;
  std::uint32_t scenario = 0;  // index into SweepResults::scenarios
  std::uint64_t seed = 0;
  RunVerdict verdict = RunVerdict::kNotRun;
  std::string failure;                // first failure, error, or why it did not run
  std::vector<std::string> failures;  // all of them, for failed and error runs
  std::vector<RunOracle> oracles;     // every oracle that fired, expected or not
  std::string trace;                  // the kept trace, or ""
  std::string repro;                  // the replay command of a failed run
  double started_s = 0;               // since the run (the shard) started
  double wall_s = 0;
  std::uint64_t steps = 0;
  std::uint64_t simulated_ns = 0;
};

struct SweepPlan {
  std::string id;  // equal on every shard of one sweep
  std::uint64_t runs = 0;
  std::uint32_t repeat = 1;
  std::string balance = "count";
  bool until_fail = false;
};

struct SweepResults {
  std::string build;
  SweepPlan plan;
  Shard shard;
  std::string shard_source;
  std::uint32_t merged_shards = 0;
  double wall_s = 0;
  std::string stopped;
  std::vector<ScenarioInfo> scenarios;
  std::vector<RunRecord> runs;  // in (pass, position, repetition) order
};

struct SweepCounts {
  std::uint64_t runs = 0;
  std::uint64_t passed = 0;
  std::uint64_t failed = 0;
  std::uint64_t errors = 0;
  std::uint64_t not_run = 0;
};

SweepCounts count_runs(const std::vector<RunRecord>& runs);

// The document, whole.
void write_results_json(std::ostream& out, const SweepResults& results);

// Parses a results document; the error names what is wrong (not JSON,
// another format or version, a bad verdict, a summary that does not match
// its runs). `file` only prefixes messages.
std::variant<SweepResults, std::string> read_results_json(std::string_view text,
                                                          const std::string& file);

struct NamedResults {
  std::string file;
  SweepResults results;
};

// Merges the shards of one sweep, in any order, into one result (shard 1/1,
// runs in plan order). The error names the files: shards of another build
// or another sweep, a shard missing or given twice, an interrupted shard, a
// run that appears twice, runs missing from a shard, or --until-fail
// results (each shard stops at its own failure: nothing to merge).
std::variant<SweepResults, std::string> merge_results(const std::vector<NamedResults>& shards);

// The JUnit report of `results`: one suite per scenario and seed (its file
// as `file`, seed and build as properties), one case per run.
JunitReport junit_report(const SweepResults& results, const std::string& name);

}  // namespace vmbus::cli
