#include "vmbus/hypervisor/scheduler.h"

#include <gtest/gtest.h>

namespace vmbus::hypervisor {
namespace {

using Names = std::vector<std::string>;

constexpr std::uint64_t kSeed = 42;

// The scheduler's choice at `now_ns` with no event and no timed
// intervention ahead.
Choice choose_now(const Scheduler& scheduler, std::uint64_t now_ns = 0) {
  base::Prng prng(kSeed);
  return scheduler.choose(now_ns, std::nullopt, std::nullopt, prng);
}

TEST(Scheduler, CandidatesAreTheGuestsThenTheHostsEachInNameOrder) {
  Scheduler scheduler;
  ASSERT_TRUE(scheduler.set_ready(Side::kHost, {"control", "vsp/1"}, 0));
  ASSERT_TRUE(scheduler.set_ready(Side::kGuest, {"kmcl/1", "kmcl/1/passive"}, 0));

  const Choice choice = choose_now(scheduler);

  EXPECT_EQ(choice.kind, Choice::Kind::kStep);
  EXPECT_EQ(choice.candidates,
            (Names{"guest:kmcl/1", "guest:kmcl/1/passive", "host:control", "host:vsp/1"}));
}

TEST(Scheduler, ThePrngChoiceForAFixedSeedIsAFixedIndex) {
  Scheduler scheduler;
  ASSERT_TRUE(scheduler.set_ready(Side::kGuest, {"a", "b", "c", "d", "e"}, 0));
  base::Prng prng(kSeed);

  const Choice choice = scheduler.choose(500, std::nullopt, std::nullopt, prng);

  EXPECT_EQ(choice.kind, Choice::Kind::kStep);
  EXPECT_EQ(choice.chosen, 3u);
  EXPECT_EQ(choice.side, Side::kGuest);
  EXPECT_EQ(choice.context, "d");
  EXPECT_EQ(choice.run_at_ns, 500u);
}

TEST(Scheduler, EveryStepDrawsExactlyOneNumberEvenWithOneCandidate) {
  Scheduler scheduler;
  ASSERT_TRUE(scheduler.set_ready(Side::kHost, {"control"}, 0));
  base::Prng prng(kSeed);
  base::Prng expected(kSeed);
  expected.next();

  const Choice choice = scheduler.choose(0, std::nullopt, std::nullopt, prng);

  EXPECT_EQ(choice.chosen, 0u);
  EXPECT_EQ(prng.next(), expected.next());
}

TEST(Scheduler, NoStepDrawsNothing) {
  Scheduler scheduler;
  base::Prng prng(kSeed);
  base::Prng untouched(kSeed);

  const Choice choice = scheduler.choose(0, 9'000, std::nullopt, prng);

  EXPECT_EQ(choice.kind, Choice::Kind::kAdvance);
  EXPECT_EQ(prng.next(), untouched.next());
}

TEST(Scheduler, AnExactHoldKeepsThatContextBack) {
  Scheduler scheduler;
  ASSERT_TRUE(scheduler.set_ready(Side::kGuest, {"kmcl/1", "kmcl/2"}, 0));
  scheduler.hold(Side::kGuest, "kmcl/1");

  EXPECT_EQ(choose_now(scheduler).candidates, (Names{"guest:kmcl/2"}));
}

TEST(Scheduler, APrefixHoldHoldsTheContextsBelowItButNotALongerName) {
  Scheduler scheduler;
  scheduler.hold(Side::kGuest, "kmcl/1");

  EXPECT_TRUE(scheduler.held(Side::kGuest, "kmcl/1"));
  EXPECT_TRUE(scheduler.held(Side::kGuest, "kmcl/1/passive"));
  EXPECT_FALSE(scheduler.held(Side::kGuest, "kmcl/10/passive"));
  EXPECT_FALSE(scheduler.held(Side::kGuest, "kmcl/10"));
  EXPECT_FALSE(scheduler.held(Side::kHost, "kmcl/1"));
}

TEST(Scheduler, AReleasedContextRunsAgain) {
  Scheduler scheduler;
  ASSERT_TRUE(scheduler.set_ready(Side::kHost, {"vsp/1"}, 0));
  scheduler.hold(Side::kHost, "vsp/1");
  scheduler.release(Side::kHost, "vsp/1");

  EXPECT_EQ(choose_now(scheduler).candidates, (Names{"host:vsp/1"}));
}

TEST(Scheduler, HoldsAreLetGoWhenOnlyHeldContextsAreReady) {
  Scheduler scheduler;
  ASSERT_TRUE(scheduler.set_ready(Side::kGuest, {"kmcl/1/passive"}, 0));
  scheduler.hold(Side::kGuest, "kmcl/1");
  scheduler.hold(Side::kHost, "vsp/1");
  ASSERT_EQ(choose_now(scheduler).kind, Choice::Kind::kIdle);

  EXPECT_EQ(scheduler.release_holds(), "guest:kmcl/1, host:vsp/1");
  EXPECT_EQ(choose_now(scheduler).candidates, (Names{"guest:kmcl/1/passive"}));
  EXPECT_EQ(scheduler.release_holds(), std::nullopt);
}

TEST(Scheduler, HoldsStayWhenTheyKeepNothingReadyBack) {
  Scheduler scheduler;
  scheduler.hold(Side::kHost, "vsp/1");

  EXPECT_EQ(scheduler.release_holds(), std::nullopt);
  EXPECT_TRUE(scheduler.held(Side::kHost, "vsp/1"));
}

TEST(Scheduler, NothingReadyAdvancesToTheEarlierOfTheNextEventAndTheNextIntervention) {
  Scheduler scheduler;
  base::Prng prng(kSeed);

  const Choice to_event = scheduler.choose(1'000, 4'000, 6'000, prng);
  const Choice to_intervention = scheduler.choose(1'000, 8'000, 6'000, prng);
  const Choice only_event = scheduler.choose(1'000, 8'000, std::nullopt, prng);

  EXPECT_EQ(to_event.kind, Choice::Kind::kAdvance);
  EXPECT_EQ(to_event.run_at_ns, 4'000u);
  EXPECT_EQ(to_intervention.run_at_ns, 6'000u);
  EXPECT_EQ(only_event.run_at_ns, 8'000u);
}

TEST(Scheduler, NothingReadyAndNothingAheadIsIdle) {
  Scheduler scheduler;
  ASSERT_TRUE(scheduler.set_ready(Side::kHost, {}, 0));

  EXPECT_EQ(choose_now(scheduler, 1'000).kind, Choice::Kind::kIdle);
}

TEST(Scheduler, ALoneTimerStepsAtItsDeadlineWhenNothingComesSooner) {
  Scheduler scheduler;
  ASSERT_TRUE(scheduler.set_ready(Side::kGuest, {"timer"}, 50'000));
  base::Prng prng(kSeed);

  const Choice choice = scheduler.choose(1'000, 60'000, 50'000, prng);

  EXPECT_EQ(choice.kind, Choice::Kind::kStep);
  EXPECT_EQ(choice.context, "timer");
  EXPECT_EQ(choice.run_at_ns, 50'000u);
}

TEST(Scheduler, ALoneTimerJumpGoesToTheEarlierOfDeadlineNextEventAndNextIntervention) {
  Scheduler scheduler;
  ASSERT_TRUE(scheduler.set_ready(Side::kGuest, {"timer"}, 50'000));
  base::Prng prng(kSeed);

  const Choice to_event = scheduler.choose(1'000, 20'000, 30'000, prng);
  const Choice to_intervention = scheduler.choose(1'000, 40'000, 30'000, prng);

  EXPECT_EQ(to_event.kind, Choice::Kind::kAdvance);
  EXPECT_EQ(to_event.run_at_ns, 20'000u);
  EXPECT_EQ(to_intervention.kind, Choice::Kind::kAdvance);
  EXPECT_EQ(to_intervention.run_at_ns, 30'000u);
}

TEST(Scheduler, ALoneTimerDoesNotJumpBackToAnOverdueIntervention) {
  Scheduler scheduler;
  ASSERT_TRUE(scheduler.set_ready(Side::kGuest, {"timer"}, 50'000));
  base::Prng prng(kSeed);

  const Choice choice = scheduler.choose(10'000, std::nullopt, 2'000, prng);

  EXPECT_EQ(choice.kind, Choice::Kind::kAdvance);
  EXPECT_EQ(choice.run_at_ns, 10'000u);
}

TEST(Scheduler, ATimerWhoseDeadlineHasPassedStepsNow) {
  Scheduler scheduler;
  ASSERT_TRUE(scheduler.set_ready(Side::kGuest, {"timer"}, 5'000));

  const Choice choice = choose_now(scheduler, 9'000);

  EXPECT_EQ(choice.kind, Choice::Kind::kStep);
  EXPECT_EQ(choice.run_at_ns, 9'000u);
}

TEST(Scheduler, ATimerWithCompanyDoesNotJump) {
  Scheduler scheduler;
  ASSERT_TRUE(scheduler.set_ready(Side::kGuest, {"timer"}, 50'000));
  ASSERT_TRUE(scheduler.set_ready(Side::kHost, {"control"}, 0));

  const Choice choice = choose_now(scheduler, 1'000);

  EXPECT_EQ(choice.kind, Choice::Kind::kStep);
  EXPECT_EQ(choice.run_at_ns, 1'000u);
}

TEST(Scheduler, AReadySetThatIsNotSortedAndUniqueIsRefusedAndChangesNothing) {
  Scheduler scheduler;
  ASSERT_TRUE(scheduler.set_ready(Side::kHost, {"control"}, 0));

  EXPECT_FALSE(scheduler.set_ready(Side::kHost, {"vsp/1", "control"}, 0));
  EXPECT_FALSE(scheduler.set_ready(Side::kHost, {"control", "control"}, 0));
  EXPECT_EQ(choose_now(scheduler).candidates, (Names{"host:control"}));
}

}  // namespace
}  // namespace vmbus::hypervisor
