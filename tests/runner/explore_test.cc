// vmbus-sim explore and the fault plans it draws: a seed always draws the
// same plan, a plan's faults are timeline entries the trace header carries
// (so a failure replays), expectations the faults invalidate go while the
// oracles stay, and explore spreads its work like run.
#include "vmbus/runner/explore.h"

#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "vmbus/trace/reader.h"

#include "cli_runs.h"

namespace {

namespace fs = std::filesystem;

using vmbus::runner::testing::CliRun;
using vmbus::runner::testing::run_vmbus_sim;
using vmbus::runner::testing::slurp;
using vmbus::runner::testing::TestDirectory;

constexpr char kFourChannels[] = R"(name: "four"
topology { channel { name: "a" } channel { name: "b" } channel { name: "c" } channel { name: "d" } }
step { host_send { channel: "a" } }
step { host_send { channel: "b" count: 2 } }
expect {
  counter { channel: "a" name: "delivered" value: 1 }
  oracle { name: "fifo" channel: "b" }
  violation { code: "complete_twice" channel: "c" side: GUEST }
}
)";

vmbus::runner::LoadedScenario loaded_four() {
  vmbus::runner::LoadedScenario loaded =
      vmbus::runner::load_scenario_text(kFourChannels, "four.textproto");
  EXPECT_TRUE(loaded.ok()) << loaded.problems.front().to_string();
  return loaded;
}

TEST(FaultPlan, ASeedAlwaysDrawsTheSamePlanAndSeedsDrawDifferentOnes) {
  const vmbus::runner::LoadedScenario loaded = loaded_four();
  const vmbus::runner::FaultPlanOptions options;
  std::set<std::string> plans;
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    const auto first = vmbus::runner::with_fault_plan(loaded, seed, options);
    const auto again = vmbus::runner::with_fault_plan(loaded, seed, options);
    EXPECT_EQ(first.loaded.text, again.loaded.text);
    EXPECT_EQ(first.plan, again.plan);
    EXPECT_LE(first.plan.size(), 3u);
    plans.insert(first.loaded.text);
    // Every explored scenario is a good scenario file.
    const auto reloaded = vmbus::runner::load_scenario_text(first.loaded.text, "four.textproto");
    EXPECT_TRUE(reloaded.ok()) << reloaded.problems.front().to_string() << first.loaded.text;
  }
  EXPECT_GE(plans.size(), 10u);
}

TEST(FaultPlan, FaultsDropTheExpectationsTheyInvalidateAndKeepOraclesAndViolations) {
  const vmbus::runner::LoadedScenario loaded = loaded_four();
  vmbus::runner::FaultPlanOptions options;
  options.faults = {"interrupt_drop"};
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    const auto explored = vmbus::runner::with_fault_plan(loaded, seed, options);
    const vmbus::proto::Expectations& expect = explored.loaded.scenario.expect();
    if (explored.plan.empty()) {
      EXPECT_EQ(explored.loaded.text, kFourChannels);
      EXPECT_EQ(expect.counter_size(), 1);
      continue;
    }
    EXPECT_EQ(expect.counter_size(), 0);
    EXPECT_EQ(expect.oracle_size(), 0);
    EXPECT_EQ(expect.violation_size(), 1);
    // The scenario's expected oracle may fire, and so may a lost wakeup
    // where an interrupt was dropped.
    ASSERT_GE(explored.allowed_oracles.size(), 2u);
    EXPECT_EQ(explored.allowed_oracles.front().name(), "lost_wakeup");
    EXPECT_EQ(explored.allowed_oracles.back().name(), "fifo");
    EXPECT_NE(explored.loaded.text.find("interrupt_fault"), std::string::npos);
  }
}

TEST(FaultPlan, NoFaultKindsMeansTheScenarioAsWritten) {
  const vmbus::runner::LoadedScenario loaded = loaded_four();
  vmbus::runner::FaultPlanOptions options;
  options.faults.clear();
  const auto explored = vmbus::runner::with_fault_plan(loaded, 7, options);
  EXPECT_TRUE(explored.plan.empty());
  EXPECT_EQ(explored.loaded.text, kFourChannels);
}

constexpr char kOneChannel[] = R"(name: "one"
topology { channel { name: "net" } }
step { host_send { channel: "net" count: 3 } }
expect { counter { channel: "net" name: "delivered" value: 3 } }
)";

const std::vector<std::string> kHostileKinds = {"host_ring_write", "host_raw_packet",
                                                "host_set_index", "host_tamper"};

TEST(FaultPlan, HostileKindsWriteIntoTheRingsAndTheirRefusalsAreNoFailure) {
  const vmbus::runner::LoadedScenario loaded =
      vmbus::runner::load_scenario_text(kOneChannel, "one.textproto");
  ASSERT_TRUE(loaded.ok());
  vmbus::runner::FaultPlanOptions options;
  options.faults = kHostileKinds;
  std::set<std::string> actions;
  for (std::uint64_t seed = 1; seed <= 40; ++seed) {
    const auto explored = vmbus::runner::with_fault_plan(loaded, seed, options);
    EXPECT_EQ(explored.hostile, !explored.plan.empty());
    const auto reloaded = vmbus::runner::load_scenario_text(explored.loaded.text, "one.textproto");
    ASSERT_TRUE(reloaded.ok()) << reloaded.problems.front().to_string() << explored.loaded.text;
    const vmbus::runner::CompiledScenario compiled =
        vmbus::runner::compile_explored(loaded, seed, options);
    for (const vmbus::runner::CompiledEntry& entry : compiled.timeline) {
      const bool raw = entry.entry.has_ring_write() || entry.entry.has_raw_packet() ||
                       entry.entry.has_set_index() || entry.entry.has_tamper();
      EXPECT_EQ(entry.refusal_is_no_failure, raw) << entry.entry.DebugString();
      if (raw) {
        actions.insert(entry.entry.label().substr(0, entry.entry.label().find(' ', 9)));
      }
    }
    // A set_index or an unsignalled write withholds a wakeup: lost_wakeup
    // may fire on its channel.
    const bool withholds = explored.loaded.text.find("set_index") != std::string::npos ||
                           explored.loaded.text.find("no_signal: true") != std::string::npos ||
                           explored.loaded.text.find("write_index:") != std::string::npos;
    if (withholds) {
      ASSERT_FALSE(explored.allowed_oracles.empty());
      EXPECT_EQ(explored.allowed_oracles.front().name(), "lost_wakeup");
      EXPECT_EQ(explored.allowed_oracles.front().channel(), "net");
    }
  }
  EXPECT_EQ(actions, (std::set<std::string>{"explore: host_ring_write", "explore: host_raw_packet",
                                            "explore: host_set_index", "explore: host_tamper"}));
}

TEST(FaultPlan, HostileKindsAreNotDrawnForAScenarioThatExpectsAViolationOrACrash) {
  // kFourChannels expects a verifier violation, which a hostile write could
  // keep from happening by stopping the channel's queue.
  const vmbus::runner::LoadedScenario loaded = loaded_four();
  vmbus::runner::FaultPlanOptions options;
  options.faults = kHostileKinds;
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    const auto explored = vmbus::runner::with_fault_plan(loaded, seed, options);
    EXPECT_TRUE(explored.plan.empty());
    EXPECT_EQ(explored.loaded.text, kFourChannels);
  }
  options.faults.push_back("hold");
  int holds = 0;
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    const auto explored = vmbus::runner::with_fault_plan(loaded, seed, options);
    EXPECT_FALSE(explored.hostile);
    holds += static_cast<int>(explored.plan.size());
    EXPECT_EQ(explored.loaded.text.find("explore: host_"), std::string::npos);
  }
  EXPECT_GE(holds, 1);
}

TEST(FaultPlan, OldVpFaultsAreDrawnOnlyForAGuestWithSeveralVpsAndLeaveOtherPlansAlone) {
  // One VP: the default set with interrupt_old_vp draws exactly the plans
  // of the set without it.
  const vmbus::runner::LoadedScenario one_vp = loaded_four();
  vmbus::runner::FaultPlanOptions without;
  std::erase(without.faults, "interrupt_old_vp");
  ASSERT_EQ(without.faults.size() + 1, vmbus::runner::FaultPlanOptions().faults.size());
  for (std::uint64_t seed = 1; seed <= 50; ++seed) {
    EXPECT_EQ(vmbus::runner::with_fault_plan(one_vp, seed, {}).loaded.text,
              vmbus::runner::with_fault_plan(one_vp, seed, without).loaded.text);
  }
  // Two VPs: drawn, host to guest, and every plan is a good scenario file.
  const vmbus::runner::LoadedScenario two_vps = vmbus::runner::load_scenario_text(
      R"(name: "two"
topology { guest_vps: 2 channel { name: "a" } }
step { host_send { channel: "a" } }
step { modify_channel { channel: "a" target_vp: 1 } }
step { host_send { channel: "a" } }
)",
      "two.textproto");
  ASSERT_TRUE(two_vps.ok()) << two_vps.problems.front().to_string();
  vmbus::runner::FaultPlanOptions old_vp_only;
  old_vp_only.faults = {"interrupt_old_vp"};
  int drawn = 0;
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    const auto explored = vmbus::runner::with_fault_plan(two_vps, seed, old_vp_only);
    for (const std::string& words : explored.plan) {
      EXPECT_EQ(words.rfind("interrupt_old_vp x", 0), 0u) << words;
      EXPECT_NE(words.find(" host->guest on 'a'"), std::string::npos) << words;
      ++drawn;
    }
    const auto reloaded = vmbus::runner::load_scenario_text(explored.loaded.text, "two.textproto");
    EXPECT_TRUE(reloaded.ok()) << reloaded.problems.front().to_string() << explored.loaded.text;
  }
  EXPECT_GE(drawn, 10);
  EXPECT_TRUE(vmbus::runner::with_fault_plan(loaded_four(), 1, old_vp_only).plan.empty());
}

class ExploreCli : public ::testing::Test {
 protected:
  TestDirectory dir_;
};

TEST_F(ExploreCli, ExploredRunsCarryTheirPlanInTheTraceAndReplayByteForByte) {
  const fs::path traces = dir_.path() / "traces";
  const CliRun run =
      run_vmbus_sim(dir_.path(), "explore --seeds 1..6 --jobs 2 --trace-dir " + traces.string() +
                                     " tests/runner/samples/passes.textproto");
  EXPECT_EQ(run.exit_code, 0) << run.out << run.err;
  EXPECT_NE(run.out.find("6 run(s) of 1 scenario(s): 6 passed, 0 failed, 0 errors"),
            std::string::npos)
      << run.out;
  int with_faults = 0;
  for (std::uint64_t seed = 1; seed <= 6; ++seed) {
    const fs::path trace = traces / ("runner-passes.seed" + std::to_string(seed) + ".trace");
    const vmbus::trace::TraceReadResult read = vmbus::trace::read_trace(trace);
    ASSERT_TRUE(read.ok) << read.error;
    if (read.trace.header.scenario_text().find("label: \"explore: ") == std::string::npos) {
      continue;
    }
    ++with_faults;
    const CliRun replay = run_vmbus_sim(dir_.path(), "replay " + trace.string());
    EXPECT_EQ(replay.exit_code, 0) << replay.out << replay.err;
    EXPECT_NE(replay.out.find("identical: "), std::string::npos) << replay.out;
  }
  EXPECT_GE(with_faults, 1);
}

TEST_F(ExploreCli, AHostileHostsWritesEndInTypedProtocolErrorsAndTheRunsPass) {
  const fs::path traces = dir_.path() / "traces";
  const CliRun run = run_vmbus_sim(
      dir_.path(), "explore --seeds 1..12 --max-faults 4 --jobs 2 --quiet --trace-dir " +
                       traces.string() +
                       " --faults host_ring_write,host_raw_packet,host_set_index,host_tamper"
                       " tests/runner/samples/passes.textproto");
  EXPECT_EQ(run.exit_code, 0) << run.out << run.err;
  EXPECT_NE(run.out.find("12 run(s) of 1 scenario(s): 12 passed, 0 failed, 0 errors"),
            std::string::npos)
      << run.out;
  // The writes reached the guest: some runs stopped a queue on a corrupt
  // ring, each with a typed error.
  int protocol_errors = 0;
  for (std::uint64_t seed = 1; seed <= 12; ++seed) {
    const fs::path trace = traces / ("runner-passes.seed" + std::to_string(seed) + ".trace");
    const CliRun show =
        run_vmbus_sim(dir_.path(), "trace show --grep 'ring corrupt: ' " + trace.string());
    EXPECT_EQ(show.exit_code, 0) << show.err;
    protocol_errors += show.out.find("kmcl protocol_error") != std::string::npos ? 1 : 0;
  }
  EXPECT_GE(protocol_errors, 2);
}

TEST_F(ExploreCli, QuirksOffExploresTheFixedCodeOfARegressionScenario) {
  const CliRun run = run_vmbus_sim(
      dir_.path(),
      "explore --quirks off --seeds 1..6 --jobs 2 --quiet --faults interrupt_delay,hold"
      " scenarios/regressions/r01-need-to-signal-on-read.textproto");
  EXPECT_EQ(run.exit_code, 0) << run.out << run.err;
  EXPECT_NE(run.out.find("6 run(s) of 1 scenario(s): 6 passed, 0 failed, 0 errors"),
            std::string::npos)
      << run.out;
  const CliRun bad = run_vmbus_sim(
      dir_.path(), "explore --quirks maybe --seeds 1..2 tests/runner/samples/passes.textproto");
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("--quirks must be on or off, got 'maybe'"), std::string::npos) << bad.err;
}

TEST(FaultPlan, WithQuirksOffARegressionScenarioIsExploredAsTheFixedCode) {
  const std::string text = slurp(fs::path(VMBUS_SOURCE_DIR) /
                                 "scenarios/regressions/r01-need-to-signal-on-read.textproto");
  const vmbus::runner::LoadedScenario loaded =
      vmbus::runner::load_scenario_text(text, "r01.textproto");
  ASSERT_TRUE(loaded.ok()) << loaded.problems.front().to_string();
  vmbus::runner::FaultPlanOptions options;
  options.faults = {"interrupt_delay"};
  options.quirks = false;
  int planned = 0;
  for (std::uint64_t seed = 1; seed <= 10; ++seed) {
    const auto explored = vmbus::runner::with_fault_plan(loaded, seed, options);
    const vmbus::runner::CompiledScenario compiled =
        vmbus::runner::compile_explored(loaded, seed, options);
    EXPECT_TRUE(compiled.guest.quirks().empty()) << "seed " << seed;
    if (explored.plan.empty()) {
      EXPECT_TRUE(compiled.quirks_off);
      continue;
    }
    ++planned;
    EXPECT_EQ(explored.loaded.scenario.guest_quirks_size(), 0);
    EXPECT_FALSE(explored.loaded.scenario.expect().has_with_quirks());
    // r01 expects lost_wakeup only with its quirk.
    EXPECT_TRUE(explored.allowed_oracles.empty());
  }
  EXPECT_GE(planned, 3);
  options.quirks = true;
  for (std::uint64_t seed = 1; seed <= 10; ++seed) {
    EXPECT_FALSE(vmbus::runner::compile_explored(loaded, seed, options).guest.quirks().empty());
  }
}

TEST_F(ExploreCli, NeedsSeedsAndKnownFaultKinds) {
  CliRun run = run_vmbus_sim(dir_.path(), "explore tests/runner/samples/passes.textproto");
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_EQ(run.err,
            "vmbus-sim explore: missing --seeds A..B (or --seed N)\n"
            "Run 'vmbus-sim explore --help' for usage.\n");
  run = run_vmbus_sim(dir_.path(),
                      "explore --seeds 1..2 --faults hold,meteor "
                      "tests/runner/samples/passes.textproto");
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_NE(run.err.find("--faults: unknown fault 'meteor' (known: interrupt_delay, "),
            std::string::npos)
      << run.err;
}

TEST_F(ExploreCli, SpreadsItsWorkLikeRunWithShardsAndJunit) {
  const fs::path junit = dir_.path() / "explore.xml";
  const CliRun run =
      run_vmbus_sim(dir_.path(), "explore --seeds 1..4 --shard 2/2 --junit " + junit.string() +
                                     " tests/runner/samples/passes.textproto");
  EXPECT_EQ(run.exit_code, 0) << run.out << run.err;
  const std::string xml = slurp(junit);
  EXPECT_NE(xml.find("<testsuites name=\"vmbus-sim explore\" tests=\"2\""), std::string::npos)
      << xml;
}

}  // namespace
