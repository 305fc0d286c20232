// Results files: what --json writes and reads back, how shards merge (and
// every way a set of shards is refused), and the JUnit report of results.
#include "vmbus/cli/results.h"

#include <sstream>
#include <string>
#include <variant>
#include <vector>

#include <gtest/gtest.h>

namespace vmbus::cli {
namespace {

constexpr std::string_view kBuild = "0.1.0 (commit 1a2b3c4d5e6f)";

RunRecord run_at(std::uint64_t position, std::uint32_t scenario, std::uint64_t seed,
                 RunVerdict verdict) {
  RunRecord run;
  run.position = position;
  run.scenario = scenario;
  run.seed = seed;
  run.verdict = verdict;
  run.started_s = static_cast<double>(position);
  run.wall_s = 0.5;
  run.steps = 40 + position;
  run.simulated_ns = 80'000 + position;
  if (verdict == RunVerdict::kFailed || verdict == RunVerdict::kError) {
    run.failure = "channel 'net': callback 1 was \"x\"";
    run.failures = {run.failure, "counter delivered of 'net' is 1, expected 7"};
    run.trace = "/tmp/t/s.seed" + std::to_string(seed) + ".trace";
    run.repro = "vmbus-sim run s.textproto --seed " + std::to_string(seed);
  }
  return run;
}

// A sweep of two scenarios x seeds 1..3 (positions 0-5), split `count` ways
// by count; shard `index` holds its items.
SweepResults shard_of(std::uint32_t index, std::uint32_t count) {
  SweepResults results;
  results.build = std::string(kBuild);
  results.plan = SweepPlan{"0123456789abcdef", 6, 1, "count", false};
  results.shard = Shard{index, count};
  results.shard_source = "GTEST_SHARD_INDEX=" + std::to_string(index - 1) +
                         " GTEST_TOTAL_SHARDS=" + std::to_string(count);
  results.wall_s = 2.0 + index;
  results.scenarios = {ScenarioInfo{"runner-passes", "tests/runner/samples/passes.textproto"},
                       ScenarioInfo{"runner-fails", "tests/runner/samples/fails.textproto"}};
  for (std::uint64_t position = 0; position < 6; ++position) {
    if (position % count == index - 1) {
      const std::uint32_t scenario = position < 3 ? 0 : 1;
      results.runs.push_back(run_at(position, scenario, position % 3 + 1,
                                    scenario == 0 ? RunVerdict::kPassed : RunVerdict::kFailed));
    }
  }
  return results;
}

std::string json_of(const SweepResults& results) {
  std::ostringstream out;
  write_results_json(out, results);
  return out.str();
}

SweepResults read_back(const std::string& text) {
  auto result = read_results_json(text, "r.json");
  EXPECT_TRUE(std::holds_alternative<SweepResults>(result)) << std::get<std::string>(result);
  return std::holds_alternative<SweepResults>(result) ? std::get<SweepResults>(std::move(result))
                                                      : SweepResults{};
}

std::string refused_to_read(const std::string& text) {
  auto result = read_results_json(text, "r.json");
  EXPECT_TRUE(std::holds_alternative<std::string>(result));
  return std::holds_alternative<std::string>(result) ? std::get<std::string>(result) : "";
}

std::string refused_to_merge(const std::vector<NamedResults>& shards) {
  auto result = merge_results(shards);
  EXPECT_TRUE(std::holds_alternative<std::string>(result));
  return std::holds_alternative<std::string>(result) ? std::get<std::string>(result) : "";
}

void replace(std::string& text, std::string_view from, std::string_view to) {
  const std::size_t at = text.find(from);
  ASSERT_NE(at, std::string::npos) << from;
  text.replace(at, from.size(), to);
}

TEST(ResultsJson, WritesTheHeaderAndOneRunPerLine) {
  SweepResults results = shard_of(2, 2);
  results.runs.resize(1);
  results.runs[0].oracles = {RunOracle{"fifo", "net", "packet 2 before 1"}};
  EXPECT_EQ(
      json_of(results),
      "{\n"
      "  \"format\": \"vmbus-sim results\",\n"
      "  \"version\": 1,\n"
      "  \"build\": \"0.1.0 (commit 1a2b3c4d5e6f)\",\n"
      "  \"plan\": {\"id\": \"0123456789abcdef\", \"runs\": 6, \"repeat\": 1, \"balance\": "
      "\"count\", \"until_fail\": false},\n"
      "  \"shard\": {\"index\": 2, \"count\": 2, \"source\": \"GTEST_SHARD_INDEX=1 "
      "GTEST_TOTAL_SHARDS=2\"},\n"
      "  \"merged_shards\": 0,\n"
      "  \"wall_s\": 4.000000,\n"
      "  \"stopped\": \"\",\n"
      "  \"summary\": {\"runs\": 1, \"passed\": 1, \"failed\": 0, \"errors\": 0, "
      "\"not_run\": 0},\n"
      "  \"runs\": [\n"
      "    {\"position\": 1, \"repetition\": 1, \"pass\": 1, \"scenario\": \"runner-passes\", "
      "\"file\": \"tests/runner/samples/passes.textproto\", \"seed\": 2, \"verdict\": "
      "\"PASS\", \"failure\": \"\", \"failures\": [], \"oracles\": [{\"name\": \"fifo\", "
      "\"channel\": \"net\", \"what\": \"packet 2 before 1\"}], \"trace\": \"\", \"repro\": "
      "\"\", \"started_s\": 1.000000, \"wall_s\": 0.500000, \"steps\": 41, "
      "\"simulated_ns\": 80001, \"build\": \"0.1.0 (commit 1a2b3c4d5e6f)\"}\n"
      "  ]\n"
      "}\n");
}

TEST(ResultsJson, ReadsBackWhatItWrote) {
  SweepResults results = shard_of(1, 1);
  results.runs[4].oracles = {RunOracle{"lost_wakeup", "", "a \"quoted\"\n\tline"}};
  results.runs[5].verdict = RunVerdict::kError;
  results.runs.push_back(run_at(6, 1, 4, RunVerdict::kNotRun));
  results.runs.back().failure = "not run: interrupted";
  results.plan.runs = 7;
  results.stopped = "interrupted";
  const SweepResults back = read_back(json_of(results));
  EXPECT_EQ(json_of(back), json_of(results));
  ASSERT_EQ(back.runs.size(), 7u);
  EXPECT_EQ(back.runs[4].oracles.at(0).what, "a \"quoted\"\n\tline");
  EXPECT_EQ(back.runs[5].verdict, RunVerdict::kError);
  EXPECT_EQ(back.runs[6].failure, "not run: interrupted");
}

TEST(ResultsJson, AnEmptyRunListIsADocumentToo) {
  SweepResults results = shard_of(1, 1);
  results.runs.clear();
  EXPECT_EQ(json_of(read_back(json_of(results))), json_of(results));
}

TEST(ResultsJson, RefusesWhatIsNotAResultsFileOfThisVersion) {
  EXPECT_EQ(refused_to_read("{\"format\": \"something else\", \"version\": 1}"),
            "r.json: not a vmbus-sim results file (format 'something else')");
  std::string text = json_of(shard_of(1, 1));
  replace(text, "\"version\": 1", "\"version\": 2");
  EXPECT_EQ(refused_to_read(text),
            "r.json: results format version 2; this vmbus-sim reads version 1");
  EXPECT_EQ(refused_to_read("[1, 2").rfind("r.json: not a results file: ", 0), 0u);
  text = json_of(shard_of(1, 1));
  replace(text, "\"format\"", "\"formta\"");
  EXPECT_EQ(refused_to_read(text).rfind("r.json: not a results file: ", 0), 0u);
}

TEST(ResultsJson, RefusesABadVerdictATruncatedListAndImpossibleTimes) {
  std::string text = json_of(shard_of(1, 1));
  replace(text, "\"verdict\": \"FAIL\"", "\"verdict\": \"MAYBE\"");
  EXPECT_EQ(refused_to_read(text),
            "r.json: run runner-fails seed 1 (position 3) has verdict 'MAYBE' (expected PASS, "
            "FAIL, ERROR or NOT_RUN)");
  text = json_of(shard_of(1, 1));
  replace(text, "\"runs\": 6, \"passed\"", "\"runs\": 7, \"passed\"");
  EXPECT_EQ(refused_to_read(text),
            "r.json: the summary (7 runs) does not match the 6 runs listed: the file is cut short "
            "or was edited");
  text = json_of(shard_of(1, 1));
  replace(text, "\"wall_s\": 0.500000", "\"wall_s\": -1");
  EXPECT_EQ(refused_to_read(text),
            "r.json: run runner-passes seed 1 (position 0) has a negative or non-finite time");
  text = json_of(shard_of(1, 1));
  replace(text, "\"index\": 1, \"count\": 1", "\"index\": 3, \"count\": 2");
  EXPECT_EQ(refused_to_read(text), "r.json: shard 3/2 is not a shard");
}

std::vector<NamedResults> four_shards() {
  std::vector<NamedResults> shards;
  for (std::uint32_t index = 1; index <= 4; ++index) {
    shards.push_back(NamedResults{"s" + std::to_string(index) + ".json", shard_of(index, 4)});
  }
  return shards;
}

TEST(MergeResults, ShardsInAnyOrderMergeIntoTheUnshardedResult) {
  std::vector<NamedResults> shards = four_shards();
  std::swap(shards[0], shards[3]);
  auto merged = merge_results(shards);
  ASSERT_TRUE(std::holds_alternative<SweepResults>(merged)) << std::get<std::string>(merged);
  SweepResults& result = std::get<SweepResults>(merged);
  EXPECT_EQ(result.merged_shards, 4u);
  EXPECT_EQ(result.wall_s, 6.0);  // the longest shard
  SweepResults unsharded = shard_of(1, 1);
  unsharded.shard_source = "";
  unsharded.merged_shards = 4;
  unsharded.wall_s = 6.0;
  EXPECT_EQ(json_of(result), json_of(unsharded));
}

TEST(MergeResults, RefusesAMissingShard) {
  std::vector<NamedResults> shards = four_shards();
  shards.erase(shards.begin() + 1, shards.begin() + 3);
  EXPECT_EQ(refused_to_merge(shards),
            "shard(s) 2, 3 of 4 are missing: merge needs the results of every shard");
}

TEST(MergeResults, RefusesAShardGivenTwice) {
  std::vector<NamedResults> shards = four_shards();
  shards.push_back(NamedResults{"copy.json", shard_of(2, 4)});
  EXPECT_EQ(refused_to_merge(shards), "shard 2/4 appears twice: s2.json and copy.json");
}

TEST(MergeResults, RefusesARunThatAppearsTwice) {
  std::vector<NamedResults> shards = four_shards();
  shards[1].results.runs.push_back(shards[0].results.runs[0]);
  shards[1].results.runs.back().scenario = 0;
  EXPECT_EQ(refused_to_merge(shards),
            "run runner-passes seed 1 (position 0, repetition 1) appears twice: in s1.json and "
            "s2.json");
}

TEST(MergeResults, RefusesAShardWithRunsMissing) {
  std::vector<NamedResults> shards = four_shards();
  shards[2].results.runs.pop_back();
  EXPECT_EQ(refused_to_merge(shards),
            "the shards hold 5 runs but the sweep has 6: a results file is incomplete");
}

TEST(MergeResults, RefusesShardsOfAnotherBuildOrAnotherSweep) {
  std::vector<NamedResults> shards = four_shards();
  shards[3].results.build = "0.1.0 (commit 999999999999)";
  EXPECT_EQ(refused_to_merge(shards),
            "s1.json was written by vmbus-sim 0.1.0 (commit 1a2b3c4d5e6f) and s4.json by 0.1.0 "
            "(commit 999999999999): the shards of a sweep must come from one build");
  shards = four_shards();
  shards[2].results.plan.id = "fedcba9876543210";
  EXPECT_EQ(refused_to_merge(shards),
            "s1.json and s3.json are shards of different sweeps: every shard needs the same "
            "scenarios, seeds, filters, --repeat, --timings and shard count");
}

TEST(MergeResults, RefusesAnInterruptedShardAndUntilFailResults) {
  std::vector<NamedResults> shards = four_shards();
  shards[1].results.stopped = "interrupted";
  shards[1].results.runs[0].verdict = RunVerdict::kNotRun;
  EXPECT_EQ(refused_to_merge(shards),
            "shard 2/4 (s2.json) was interrupted: 1 of its 2 runs did not run; run that shard "
            "again");
  shards = four_shards();
  shards[0].results.plan.until_fail = true;
  EXPECT_EQ(refused_to_merge(shards),
            "s1.json: --until-fail results cannot be merged: each shard stops at its own first "
            "failure");
}

TEST(JunitOfResults, OneSuitePerScenarioAndSeedWithFileSeedBuildAndWallTime) {
  SweepResults results = shard_of(1, 1);
  results.wall_s = 9.25;
  results.plan.repeat = 2;
  // Two repetitions of position 3 that overlap in time: the suite's time is
  // their span, not their sum.
  RunRecord again = results.runs[3];
  again.repetition = 2;
  again.started_s = 3.25;
  again.verdict = RunVerdict::kError;
  results.runs.insert(results.runs.begin() + 4, again);
  results.runs.back().verdict = RunVerdict::kNotRun;
  results.runs.back().failure = "not run: --fail-fast stopped after a failure";
  const JunitReport report = junit_report(results, "vmbus-sim run");
  EXPECT_EQ(report.name, "vmbus-sim run");
  EXPECT_EQ(report.seconds, 9.25);
  ASSERT_EQ(report.suites.size(), 6u);
  const JunitSuite& suite = report.suites[3];
  EXPECT_EQ(suite.name, "runner-fails seed 1");
  EXPECT_EQ(suite.file, "tests/runner/samples/fails.textproto");
  ASSERT_EQ(suite.properties.size(), 2u);
  EXPECT_EQ(suite.properties[0].name, "seed");
  EXPECT_EQ(suite.properties[0].value, "1");
  EXPECT_EQ(suite.properties[1].name, "build");
  EXPECT_EQ(suite.properties[1].value, kBuild);
  EXPECT_DOUBLE_EQ(suite.seconds, 0.75);
  ASSERT_EQ(suite.cases.size(), 2u);
  EXPECT_EQ(suite.cases[0].name, "runner-fails seed 1 #1");
  EXPECT_EQ(suite.cases[0].classname, "scenarios.samples");
  EXPECT_EQ(suite.cases[0].status, JunitCase::Status::kFailed);
  EXPECT_EQ(suite.cases[0].message, "channel 'net': callback 1 was \"x\"");
  EXPECT_EQ(suite.cases[0].details,
            "channel 'net': callback 1 was \"x\"\n"
            "counter delivered of 'net' is 1, expected 7\n"
            "trace: /tmp/t/s.seed1.trace\n"
            "repro: vmbus-sim run s.textproto --seed 1\n");
  EXPECT_EQ(suite.cases[1].status, JunitCase::Status::kError);
  const JunitCase& skipped = report.suites[5].cases.at(0);
  EXPECT_EQ(skipped.status, JunitCase::Status::kSkipped);
  EXPECT_EQ(skipped.message, "not run: --fail-fast stopped after a failure");
  EXPECT_DOUBLE_EQ(report.suites[5].seconds, 0);
}

}  // namespace
}  // namespace vmbus::cli
