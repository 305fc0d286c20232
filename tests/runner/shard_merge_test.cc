// One small sweep run unsharded and as 4 local shards under each shard
// convention vmbus-sim honours (--shard, GoogleTest, Bazel, a Kubernetes
// Indexed Job, GitLab parallel jobs, and shards balanced by --timings):
// `vmbus-sim report merge` of the shards' results equals the unsharded
// run's, run for run.
#include <filesystem>
#include <string>
#include <variant>
#include <vector>

#include <gtest/gtest.h>

#include "vmbus/cli/results.h"

#include "cli_runs.h"
#include "results_file.h"

namespace vmbus::runner::testing {
namespace {

namespace fs = std::filesystem;
using cli::RunRecord;
using cli::SweepResults;

// 3 scenarios x 3 seeds: every verdict (pass, fail, simulator error).
constexpr const char* kSweep =
    "--seeds 1..3 tests/runner/samples/passes.textproto tests/runner/samples/fails.textproto "
    "tests/runner/samples/unexpected-crash.textproto";
constexpr int kShards = 4;

// What a run found, without what differs between two runs of it (wall
// times, trace paths, the temporary directory in the repro command).
std::string outcome_of(const SweepResults& results, const RunRecord& run) {
  std::string text = std::to_string(run.position) + " " + std::to_string(run.repetition) + " " +
                     results.scenarios.at(run.scenario).name + " " +
                     results.scenarios.at(run.scenario).file + " seed " + std::to_string(run.seed) +
                     " " + std::string(cli::verdict_word(run.verdict)) + " steps " +
                     std::to_string(run.steps) + " ns " + std::to_string(run.simulated_ns) + ": " +
                     run.failure;
  for (const std::string& failure : run.failures) {
    text += " | " + failure;
  }
  for (const cli::RunOracle& oracle : run.oracles) {
    text += " | oracle " + oracle.name + " " + oracle.channel + " " + oracle.what;
  }
  return text + "\n";
}

std::string outcomes_of(const SweepResults& results) {
  std::string text;
  for (const RunRecord& run : results.runs) {
    text += outcome_of(results, run);
  }
  return text;
}

struct Convention {
  const char* name;
  // The environment (or flags) of shard `index` (0-based) of kShards.
  std::string (*environment)(int index);
  std::string (*flags)(int index);
  const char* source_prefix;  // how the shard's results name the source
};

std::string none(int /*index*/) {
  return "";
}

const Convention kConventions[] = {
    {"flag", none, [](int i) { return "--shard " + std::to_string(i + 1) + "/4"; }, "--shard"},
    {"gtest",
     [](int i) { return "GTEST_SHARD_INDEX=" + std::to_string(i) + " GTEST_TOTAL_SHARDS=4"; }, none,
     "GTEST_SHARD_INDEX="},
    {"bazel",
     [](int i) { return "TEST_SHARD_INDEX=" + std::to_string(i) + " TEST_TOTAL_SHARDS=4"; }, none,
     "TEST_SHARD_INDEX="},
    {"kubernetes", [](int i) { return "JOB_COMPLETION_INDEX=" + std::to_string(i); },
     [](int /*i*/) { return std::string("--shard-count 4"); }, "JOB_COMPLETION_INDEX="},
    {"gitlab", [](int i) { return "CI_NODE_INDEX=" + std::to_string(i + 1) + " CI_NODE_TOTAL=4"; },
     none, "CI_NODE_INDEX="},
};

TEST(ShardMerge, FourShardsUnderEveryConventionMergeIntoTheUnshardedRun) {
  TestDirectory dir;
  const fs::path unsharded = dir.path() / "unsharded.json";
  const CliRun whole = run_vmbus_sim(dir.path(), "run --json " + unsharded.string() + " " + kSweep);
  ASSERT_EQ(whole.exit_code, 3) << whole.out << whole.err;
  const SweepResults expected = read_results(unsharded);
  ASSERT_EQ(expected.runs.size(), 9u);
  const std::string expected_outcomes = outcomes_of(expected);

  for (const Convention& convention : kConventions) {
    SCOPED_TRACE(convention.name);
    std::string files;
    for (int index = 0; index < kShards; ++index) {
      const fs::path file =
          dir.path() / (std::string(convention.name) + "-" + std::to_string(index) + ".json");
      const CliRun shard = run_vmbus_sim(
          dir.path(), "run --json " + file.string() + " " + convention.flags(index) + " " + kSweep,
          convention.environment(index));
      ASSERT_NE(shard.exit_code, 2) << shard.err;
      const SweepResults results = read_results(file);
      EXPECT_EQ(results.shard.index, static_cast<std::uint32_t>(index + 1));
      EXPECT_EQ(results.shard.count, static_cast<std::uint32_t>(kShards));
      EXPECT_EQ(results.shard_source.rfind(convention.source_prefix, 0), 0u)
          << results.shard_source;
      EXPECT_EQ(results.plan.id, expected.plan.id);
      files += " " + file.string();
    }
    const fs::path merged = dir.path() / (std::string(convention.name) + "-merged.json");
    const CliRun merge = run_vmbus_sim(
        dir.path(), "report merge --json " + merged.string() + " --junit " +
                        (dir.path() / (std::string(convention.name) + ".xml")).string() + files);
    EXPECT_EQ(merge.exit_code, 3) << merge.err;  // as the unsharded run: a simulator error
    EXPECT_NE(merge.out.find("9 run(s) of 3 scenario(s) from 4 shard(s): 3 passed, 3 failed, 3 "
                             "errors in "),
              std::string::npos)
        << merge.out;
    EXPECT_EQ(outcomes_of(read_results(merged)), expected_outcomes);
  }
}

TEST(ShardMerge, ShardsBalancedByTimingsStillMergeIntoTheUnshardedRun) {
  TestDirectory dir;
  const fs::path unsharded = dir.path() / "unsharded.json";
  run_vmbus_sim(dir.path(), "run --json " + unsharded.string() + " " + kSweep);
  const SweepResults expected = read_results(unsharded);
  std::string files;
  for (int index = 1; index <= kShards; ++index) {
    const fs::path file = dir.path() / ("timed-" + std::to_string(index) + ".json");
    const CliRun shard = run_vmbus_sim(dir.path(), "run --timings " + unsharded.string() +
                                                       " --json " + file.string() + " --shard " +
                                                       std::to_string(index) + "/4 " + kSweep);
    ASSERT_NE(shard.exit_code, 2) << shard.err;
    EXPECT_EQ(read_results(file).plan.balance, "timings");
    files += " " + file.string();
  }
  const fs::path merged = dir.path() / "merged.json";
  const CliRun merge = run_vmbus_sim(dir.path(), "report merge --json " + merged.string() + files);
  EXPECT_EQ(merge.exit_code, 3) << merge.err;
  EXPECT_EQ(outcomes_of(read_results(merged)), outcomes_of(expected));
}

TEST(ShardMerge, AMissingOrRepeatedShardIsRefusedAndNothingIsWritten) {
  TestDirectory dir;
  std::vector<std::string> files;
  for (int index = 1; index <= 2; ++index) {
    files.push_back((dir.path() / ("s" + std::to_string(index) + ".json")).string());
    run_vmbus_sim(dir.path(), "run --json " + files.back() + " --shard " + std::to_string(index) +
                                  "/3 --seeds 1..2 tests/runner/samples/passes.textproto");
  }
  const fs::path junit = dir.path() / "merged.xml";
  CliRun merge = run_vmbus_sim(
      dir.path(), "report merge --junit " + junit.string() + " " + files[0] + " " + files[1]);
  EXPECT_EQ(merge.exit_code, 2);
  EXPECT_EQ(merge.out, "");
  EXPECT_EQ(merge.err,
            "vmbus-sim: shard(s) 3 of 3 are missing: merge needs the results of every shard\n"
            "vmbus-sim: nothing was written\n");
  EXPECT_FALSE(fs::exists(junit));
  merge = run_vmbus_sim(dir.path(), "report merge " + files[0] + " " + files[1] + " " + files[0]);
  EXPECT_EQ(merge.exit_code, 2);
  EXPECT_EQ(merge.err, "vmbus-sim: shard 1/3 appears twice: " + files[0] + " and " + files[0] +
                           "\nvmbus-sim: nothing was written\n");
}

}  // namespace
}  // namespace vmbus::runner::testing
