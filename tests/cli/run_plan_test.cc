// The plan of a run: selection by --filter and --tag, the numbering of
// (scenario, seed) items, how shards split them (by count, or balanced by
// measured cost), the bounds, and the seeds of --until-fail's passes.
#include "vmbus/cli/run_plan.h"

#include <numeric>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include <gtest/gtest.h>

namespace vmbus::cli {
namespace {

PlanScenario scenario(std::string name, std::string file, std::vector<std::string> tags = {},
                      std::uint64_t seed = 1) {
  return PlanScenario{std::move(name), std::move(file), std::move(tags), seed};
}

Plan plan_of(const std::vector<PlanScenario>& scenarios, const PlanRequest& request) {
  auto result = make_plan(scenarios, request);
  EXPECT_TRUE(std::holds_alternative<Plan>(result)) << std::get<std::string>(result);
  return std::holds_alternative<Plan>(result) ? std::get<Plan>(std::move(result)) : Plan{};
}

std::vector<std::uint64_t> positions(const Plan& plan) {
  std::vector<std::uint64_t> result;
  for (const PlanItem& item : plan.mine) {
    result.push_back(item.position);
  }
  return result;
}

std::vector<PlanScenario> three_scenarios() {
  return {scenario("a", "scenarios/x/a.textproto"), scenario("b", "scenarios/x/b.textproto"),
          scenario("c", "scenarios/y/c.textproto")};
}

TEST(RunPlan, ItemsAreScenariosInOrderEachWithItsSeeds) {
  PlanRequest request;
  request.seeds = SeedRange{5, 7};
  const Plan plan = plan_of(three_scenarios(), request);
  EXPECT_EQ(plan.items, 9u);
  ASSERT_EQ(plan.mine.size(), 9u);
  EXPECT_EQ(plan.mine[0].scenario, 0u);
  EXPECT_EQ(plan.mine[0].seed, 5u);
  EXPECT_EQ(plan.mine[4].scenario, 1u);
  EXPECT_EQ(plan.mine[4].seed, 6u);
  EXPECT_EQ(plan.mine[8].scenario, 2u);
  EXPECT_EQ(plan.mine[8].seed, 7u);
  EXPECT_EQ(positions(plan), (std::vector<std::uint64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8}));
  EXPECT_EQ(plan.balance, "count");
}

TEST(RunPlan, WithoutSeedsEachScenarioRunsItsOwn) {
  const Plan plan = plan_of(
      {scenario("a", "a.textproto", {}, 3), scenario("b", "b.textproto", {}, 9)}, PlanRequest{});
  ASSERT_EQ(plan.mine.size(), 2u);
  EXPECT_EQ(plan.mine[0].seed, 3u);
  EXPECT_EQ(plan.mine[1].seed, 9u);
}

TEST(RunPlan, EqualCostsDealItemKToShardKModN) {
  PlanRequest request;
  request.seeds = SeedRange{1, 5};
  for (std::uint32_t index = 1; index <= 4; ++index) {
    request.shard = Shard{index, 4};
    std::vector<std::uint64_t> expected;
    for (std::uint64_t k = 0; k < 15; ++k) {
      if (in_shard(k, request.shard)) {
        expected.push_back(k);
      }
    }
    EXPECT_EQ(positions(plan_of(three_scenarios(), request)), expected) << "shard " << index;
  }
}

TEST(RunPlan, MeasuredCostsGiveASlowScenarioAShardOfItsOwn) {
  // One scenario nine times as slow as nine others: by count, shard 1 would
  // get it and four fast ones (130) and shard 2 five fast ones (50).
  std::vector<PlanScenario> scenarios = {scenario("slow", "slow.textproto")};
  PlanRequest request;
  request.timings_us.emplace();
  (*request.timings_us)["slow"] = 90;
  for (int i = 1; i <= 9; ++i) {
    scenarios.push_back(scenario("fast" + std::to_string(i), "fast.textproto"));
    (*request.timings_us)["fast" + std::to_string(i)] = 10;
  }
  request.shard = Shard{1, 2};
  const Plan first = plan_of(scenarios, request);
  request.shard = Shard{2, 2};
  const Plan second = plan_of(scenarios, request);
  EXPECT_EQ(positions(first), (std::vector<std::uint64_t>{0}));
  EXPECT_EQ(positions(second), (std::vector<std::uint64_t>{1, 2, 3, 4, 5, 6, 7, 8, 9}));
  EXPECT_EQ(first.balance, "timings");
  EXPECT_EQ(first.id, second.id);
}

TEST(RunPlan, EveryItemRunsOnExactlyOneShardWhateverTheCosts) {
  std::vector<PlanScenario> scenarios;
  PlanRequest request;
  request.seeds = SeedRange{1, 13};
  request.timings_us.emplace();
  for (int i = 0; i < 7; ++i) {
    scenarios.push_back(scenario("s" + std::to_string(i), "s.textproto"));
    (*request.timings_us)["s" + std::to_string(i)] = static_cast<std::uint64_t>(1 + i * i * 37);
  }
  std::multiset<std::uint64_t> seen;
  for (std::uint32_t index = 1; index <= 5; ++index) {
    request.shard = Shard{index, 5};
    for (const std::uint64_t position : positions(plan_of(scenarios, request))) {
      seen.insert(position);
    }
  }
  std::multiset<std::uint64_t> all;
  for (std::uint64_t k = 0; k < 7 * 13; ++k) {
    all.insert(k);
  }
  EXPECT_EQ(seen, all);
}

TEST(RunPlan, ScenariosTheTimingsDoNotKnowCostTheMeanOfThoseTheyDo) {
  PlanRequest request;
  request.timings_us = std::map<std::string, std::uint64_t>{{"a", 100}, {"b", 300}};
  const Plan plan = plan_of(three_scenarios(), request);
  EXPECT_EQ(plan.costs, (std::vector<std::uint64_t>{100, 300, 200}));
}

TEST(RunPlan, TheIdIsTheSameOnEveryShardAndUnshardedAndChangesWithTheSweep) {
  PlanRequest request;
  request.seeds = SeedRange{1, 10};
  request.shard = Shard{1, 4};
  const std::string id = plan_of(three_scenarios(), request).id;
  EXPECT_EQ(id.size(), 16u);
  request.shard = Shard{3, 4};
  EXPECT_EQ(plan_of(three_scenarios(), request).id, id);
  PlanRequest other = request;
  other.seeds = SeedRange{1, 11};
  EXPECT_NE(plan_of(three_scenarios(), other).id, id);
  other = request;
  other.repeat = 2;
  EXPECT_NE(plan_of(three_scenarios(), other).id, id);
  other = request;
  other.shard = Shard{1, 1};
  EXPECT_EQ(plan_of(three_scenarios(), other).id, id);
  other = request;
  other.filters = {"a"};
  EXPECT_NE(plan_of(three_scenarios(), other).id, id);
  other = request;
  other.timings_us = std::map<std::string, std::uint64_t>{{"a", 5}};
  EXPECT_NE(plan_of(three_scenarios(), other).id, id);
}

TEST(RunPlan, FilterMatchesTheNameTheFileOrATailOfTheFile) {
  const PlanScenario fifo =
      scenario("04-defer-keeps-fifo", "scenarios/defer/04-defer-keeps-fifo.textproto");
  for (const char* glob : {"04-defer-keeps-fifo", "*fifo*", "defer/*", "04-*",
                           "scenarios/defer/04-defer-keeps-fifo.textproto", "*/defer/*"}) {
    EXPECT_TRUE(matches_filter(fifo, glob)) << glob;
  }
  for (const char* glob : {"fifo", "fail/*", "05-*", "efer/*", "*.yaml"}) {
    EXPECT_FALSE(matches_filter(fifo, glob)) << glob;
  }
}

TEST(RunPlan, FiltersAndTagsEachSelectAnyOfTheirValuesAndBothMustHold) {
  const std::vector<PlanScenario> scenarios = {scenario("a", "x/a.textproto", {"defer", "slow"}),
                                               scenario("b", "x/b.textproto", {"fail"}),
                                               scenario("c", "y/c.textproto", {"defer"})};
  PlanRequest request;
  request.tags = {"fail", "slow"};
  EXPECT_EQ(plan_of(scenarios, request).selected, (std::vector<std::size_t>{0, 1}));
  request.filters = {"x/*", "nothing"};
  request.tags = {"defer"};
  EXPECT_EQ(plan_of(scenarios, request).selected, (std::vector<std::size_t>{0}));
}

TEST(RunPlan, SelectingNothingIsAnErrorNamingTheSelection) {
  PlanRequest request;
  request.filters = {"nope", "nada"};
  request.tags = {"defer"};
  const auto result = make_plan(three_scenarios(), request);
  ASSERT_TRUE(std::holds_alternative<std::string>(result));
  EXPECT_EQ(std::get<std::string>(result),
            "no scenario matches --filter 'nope,nada' and --tag 'defer' (of 3 loaded); --list "
            "shows what would run");
}

TEST(RunPlan, ASweepOfMoreThanTenMillionRunsIsRefused) {
  std::vector<PlanScenario> scenarios;
  for (int i = 0; i < 11; ++i) {
    scenarios.push_back(scenario("s" + std::to_string(i), "s.textproto"));
  }
  PlanRequest request;
  request.seeds = SeedRange{1, 1'000'000};
  const auto result = make_plan(scenarios, request);
  ASSERT_TRUE(std::holds_alternative<std::string>(result));
  EXPECT_EQ(std::get<std::string>(result),
            "the sweep has more than 10000000 runs (scenarios x seeds x --repeat); split it over "
            "several runs");
  request.seeds = SeedRange{1, 90'000};
  request.repeat = 10;
  EXPECT_TRUE(std::holds_alternative<Plan>(make_plan(scenarios, request)));
  request.repeat = 11;
  EXPECT_TRUE(std::holds_alternative<std::string>(make_plan(scenarios, request)));
}

TEST(RunPlan, EachPassOfUntilFailTakesTheNextSeeds) {
  PlanRequest request;
  request.seeds = SeedRange{1, 10};
  const Plan plan = plan_of(three_scenarios(), request);
  EXPECT_EQ(seed_in_pass(plan, plan.mine[0], 1), 1u);
  EXPECT_EQ(seed_in_pass(plan, plan.mine[0], 2), 11u);
  EXPECT_EQ(seed_in_pass(plan, plan.mine[9], 3), 30u);
  const Plan own_seed = plan_of({scenario("a", "a.textproto", {}, 5)}, PlanRequest{});
  EXPECT_EQ(seed_in_pass(own_seed, own_seed.mine[0], 3), 7u);
  request.seeds = SeedRange{18'446'744'073'709'551'605u, 18'446'744'073'709'551'614u};
  const Plan top = plan_of(three_scenarios(), request);
  EXPECT_EQ(seed_in_pass(top, top.mine[0], 2), 18'446'744'073'709'551'615u);
  EXPECT_EQ(seed_in_pass(top, top.mine[9], 2), std::nullopt);
}

TEST(RunPlan, TimingsAreEachScenariosMeanWallTimeOfTheRunsThatRan) {
  SweepResults results;
  results.scenarios = {ScenarioInfo{"a", "a.textproto"}, ScenarioInfo{"b", "b.textproto"}};
  const auto run = [](std::uint32_t scenario, RunVerdict verdict, double wall_s) {
    RunRecord record;
    record.scenario = scenario;
    record.verdict = verdict;
    record.wall_s = wall_s;
    return record;
  };
  results.runs = {run(0, RunVerdict::kPassed, 0.1), run(0, RunVerdict::kFailed, 0.3),
                  run(0, RunVerdict::kNotRun, 0), run(1, RunVerdict::kError, 5000)};
  EXPECT_EQ(timings_from(results),
            (std::map<std::string, std::uint64_t>{{"a", 200'000}, {"b", kMaxScenarioCostUs}}));
}

}  // namespace
}  // namespace vmbus::cli
