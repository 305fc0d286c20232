// The shrinker's schedule search, on a stand-in for the runner: a run
// "fails" unless a pin grants another context at the one step the failure
// hangs on. The search must pin exactly that decision (as the seed took
// it), leave the others alone, say what it tried, and stay within budget.
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "vmbus/cli/shrink.h"

namespace vmbus::cli {
namespace {

constexpr std::uint64_t kCriticalStep = 3;

runner::ScenarioResult failing() {
  runner::ScenarioResult result;
  result.verdict = runner::Verdict::kFailed;
  result.failures = {"oracle lost_wakeup fired on 'net'"};
  return result;
}

// Fails unless step 3 is pinned to anything but the seed's choice.
std::optional<runner::ScenarioResult> stand_in_run(const proto::Scenario& candidate) {
  for (const proto::PinnedStep& pin : candidate.pin()) {
    if (pin.step() == kCriticalStep && pin.context() != "guest:isr") {
      runner::ScenarioResult passed;
      passed.verdict = runner::Verdict::kPassed;
      return passed;
    }
  }
  return failing();
}

// Five decisions with a choice; the seed took guest:isr at each.
std::vector<ScheduleDecision> five_decisions(const proto::Scenario&) {
  std::vector<ScheduleDecision> decisions;
  for (std::uint64_t step = 1; step <= 5; ++step) {
    decisions.push_back({step, {"guest:isr", "host:kmcl/1/external"}, "guest:isr"});
  }
  return decisions;
}

proto::Scenario one_step_scenario() {
  proto::Scenario scenario;
  scenario.set_name("race");
  scenario.mutable_topology()->add_channel()->set_name("net");
  scenario.add_step()->set_note("the race");
  return scenario;
}

TEST(ShrinkSchedule, OnlyTheDecisionTheFailureHangsOnIsPinnedAsTheSeedTookIt) {
  const std::string signature = *failure_signature(failing());
  const ShrinkResult result =
      shrink_scenario(one_step_scenario(), signature, stand_in_run, ShrinkBudget{}, five_decisions);
  ASSERT_TRUE(result.schedule.searched);
  EXPECT_EQ(result.schedule.decisions, 5u);
  EXPECT_EQ(result.schedule.tried, 5u);
  ASSERT_EQ(result.schedule.pinned.size(), 1u);
  EXPECT_EQ(result.schedule.pinned[0].step, kCriticalStep);
  EXPECT_EQ(result.schedule.pinned[0].context, "guest:isr");
  EXPECT_EQ(result.schedule.pinned[0].instead, "host:kmcl/1/external");
  ASSERT_EQ(result.shrunk.pin_size(), 1);
  EXPECT_EQ(result.shrunk.pin(0).step(), kCriticalStep);
  EXPECT_EQ(result.shrunk.pin(0).context(), "guest:isr");

  const std::string text =
      shrunk_file_text(result, "race.textproto", 1, size_of(one_step_scenario()));
  EXPECT_NE(text.find("# Schedule: the shrunk run made 5 scheduler decision(s) with more than\n"
                      "# one ready context; each was tried with every other ready\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("#   step 3: guest:isr (with host:kmcl/1/external instead, it does not "
                      "fail so)\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("pin {\n  step: 3\n  context: \"guest:isr\"\n}\n"), std::string::npos)
      << text;
}

TEST(ShrinkSchedule, AFailureNoSingleDecisionChangesPinsNothingAndSaysSo) {
  const std::string signature = *failure_signature(failing());
  const auto always_fails = [](const proto::Scenario&) -> std::optional<runner::ScenarioResult> {
    return failing();
  };
  const ShrinkResult result =
      shrink_scenario(one_step_scenario(), signature, always_fails, ShrinkBudget{}, five_decisions);
  EXPECT_TRUE(result.schedule.pinned.empty());
  EXPECT_EQ(result.shrunk.pin_size(), 0);
  const std::string text =
      shrunk_file_text(result, "race.textproto", 1, size_of(one_step_scenario()));
  EXPECT_NE(text.find("# None made the failure go away"), std::string::npos) << text;
}

TEST(ShrinkSchedule, TheSearchStopsWithTheBudgetAndSaysHowFarItGot) {
  const std::string signature = *failure_signature(failing());
  std::uint64_t runs = 0;
  const auto counted = [&](const proto::Scenario& candidate) {
    ++runs;
    return stand_in_run(candidate);
  };
  ShrinkBudget budget;
  budget.max_runs = 5;
  const ShrinkResult result =
      shrink_scenario(one_step_scenario(), signature, counted, budget, five_decisions);
  EXPECT_LT(result.schedule.tried, 5u);
  EXPECT_TRUE(result.schedule.pinned.empty());  // step 3 was never reached
  EXPECT_LE(runs, 5u);
  const std::string text =
      shrunk_file_text(result, "race.textproto", 1, size_of(one_step_scenario()));
  EXPECT_NE(text.find(" (then the budget ran out) was tried"), std::string::npos) << text;
}

TEST(ShrinkSchedule, ARunWithMoreThanAHundredDecisionsIsNotSearched) {
  const std::string signature = *failure_signature(failing());
  std::uint64_t runs = 0;
  const auto counted = [&](const proto::Scenario& candidate) {
    ++runs;
    return stand_in_run(candidate);
  };
  const auto many = [](const proto::Scenario&) {
    std::vector<ScheduleDecision> decisions;
    for (std::uint64_t step = 1; step <= 101; ++step) {
      decisions.push_back({step, {"guest:isr", "host:kmcl/1/external"}, "guest:isr"});
    }
    return decisions;
  };
  const ShrinkResult result =
      shrink_scenario(one_step_scenario(), signature, counted, ShrinkBudget{}, many);
  EXPECT_EQ(result.schedule.decisions, 101u);
  EXPECT_EQ(result.schedule.tried, 0u);
  EXPECT_TRUE(result.schedule.pinned.empty());
  EXPECT_LE(runs, 3u);  // the original, the step removed, nothing more
  const std::string text =
      shrunk_file_text(result, "race.textproto", 1, size_of(one_step_scenario()));
  EXPECT_NE(text.find(": too many to try one at a time (at most 100); nothing\n# is pinned.\n"),
            std::string::npos)
      << text;
}

TEST(ShrinkSchedule, AFileThatPinsItsOwnScheduleKeepsIt) {
  proto::Scenario pinned = one_step_scenario();
  proto::PinnedStep& pin = *pinned.add_pin();
  pin.set_step(2);
  pin.set_context("host:kmcl/1/external");
  const ShrinkResult result = shrink_scenario(pinned, *failure_signature(failing()), stand_in_run,
                                              ShrinkBudget{}, five_decisions);
  EXPECT_FALSE(result.schedule.searched);
  ASSERT_EQ(result.shrunk.pin_size(), 1);
  EXPECT_EQ(result.shrunk.pin(0).step(), 2u);
}

}  // namespace
}  // namespace vmbus::cli
