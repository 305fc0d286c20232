// vmbus-sim shrink, end to end on failing scenarios built for it: a lost
// wakeup buried in 30 steps on 4 channels, and a verifier violation after
// 200 packets. Each shrinks to at most 3 steps and 1 channel, and the file
// it writes fails the same way on its own. A run that passes is refused.
#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "vmbus/runner/scenario.h"

#include "cli_runs.h"

namespace {

namespace fs = std::filesystem;

using vmbus::runner::testing::CliRun;
using vmbus::runner::testing::run_vmbus_sim;
using vmbus::runner::testing::slurp;
using vmbus::runner::testing::TestDirectory;

// 30 steps: traffic on a, b and d, then c's first interrupt dropped (once
// its channel is up and idle) right before c's first packet, and more
// traffic.
std::string buried_lost_wakeup() {
  std::string text =
      "name: \"buried-lost-wakeup\"\n"
      "topology { channel { name: \"a\" } channel { name: \"b\" } channel { name: \"c\" } "
      "channel { name: \"d\" } }\n"
      "step {\n  when { event { kmcl { callback: \"PostStarted\" } side: GUEST channel: \"d\" } }\n"
      "  host_send { channel: \"a\" }\n}\n";
  const char* noise[] = {"host_send { channel: \"b\" count: 2 }", "guest_send { channel: \"d\" }",
                         "note: \"traffic\"",
                         "host_send { channel: \"a\" count: 3 payload { text: \"hello\" } }",
                         "guest_send { channel: \"b\" count: 2 }"};
  int steps = 1;
  for (int i = 0; i < 12; ++i, ++steps) {
    text += std::string("step { ") + noise[i % 5] + " }\n";
  }
  for (int i = 0; i < 4; ++i, ++steps) {
    text += std::string("step { ") + noise[(i + 2) % 5] + " }\n";
  }
  text +=
      "step {\n  when { event { kmcl { kind: \"drain_pass_end\" } side: GUEST channel: \"c\" } }\n"
      "  interrupt_fault { channel: \"c\" direction: HOST_TO_GUEST kind: DROP count: 1 }\n}\n"
      "step { host_send { channel: \"c\" payload { text: \"nobody hears me\" } } }\n";
  steps += 2;
  for (int i = 0; steps < 30; ++i, ++steps) {
    text += std::string("step { ") + noise[i % 5] + " }\n";
  }
  return text;
}

constexpr char kLateViolation[] = R"(name: "late-violation"
topology {
  channel {
    name: "net"
    guest_driver { rule { match_index: true packet_index: 199 action { kind: KIND_COMPLETE_TWICE } } }
  }
  channel { name: "other" }
}
step {
  when { event { kmcl { callback: "PostStarted" } side: GUEST channel: "other" } }
  host_send { channel: "net" count: 200 }
}
step { host_send { channel: "other" count: 5 } }
step { guest_send { channel: "other" } }
step { note: "noise" }
)";

class Shrink : public ::testing::Test {
 protected:
  fs::path write(const std::string& name, const std::string& text) {
    const fs::path path = dir_.path() / name;
    std::ofstream(path) << text;
    return path;
  }

  // Shrinks FILE (seed 1) and checks the result: at most 3 steps and 1
  // channel, failing on its own the way the original did.
  void expect_shrinks(const fs::path& file, const std::string& failure_start) {
    const fs::path out = dir_.path() / "small.textproto";
    const CliRun run = run_vmbus_sim(
        dir_.path(), "shrink --seed 1 --max-runs 150 -o " + out.string() + " " + file.string());
    ASSERT_EQ(run.exit_code, 0) << run.out << run.err;
    EXPECT_NE(run.out.find(": " + failure_start), std::string::npos) << run.out;
    EXPECT_NE(run.out.find("\nbefore: "), std::string::npos) << run.out;
    EXPECT_NE(run.out.find("\non its own: FAIL " + failure_start), std::string::npos) << run.out;

    const vmbus::runner::LoadedScenario shrunk = vmbus::runner::load_scenario(out, out.string());
    ASSERT_TRUE(shrunk.ok()) << shrunk.problems.front().to_string();
    EXPECT_LE(shrunk.scenario.step_size(), 3) << slurp(out);
    EXPECT_EQ(shrunk.scenario.topology().channel_size(), 1) << slurp(out);
    EXPECT_EQ(shrunk.scenario.seed(), 1u);
    const std::string text = slurp(out);
    EXPECT_NE(text.find("# Shrunk by `vmbus-sim shrink " + file.string() + " --seed 1`"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("# Removed: "), std::string::npos) << text;

    // On its own, with the plain runner.
    const CliRun again = run_vmbus_sim(dir_.path(), "run " + out.string());
    EXPECT_EQ(again.exit_code, 1) << again.out << again.err;
    EXPECT_NE(again.out.find("seed 1: " + failure_start), std::string::npos) << again.out;
  }

  TestDirectory dir_;
};

TEST_F(Shrink, ALostWakeupBuriedInThirtyStepsOnFourChannelsShrinksToOneChannel) {
  expect_shrinks(write("buried.textproto", buried_lost_wakeup()),
                 "oracle lost_wakeup fired on 'c'");
}

TEST_F(Shrink, AVerifierViolationAfterTwoHundredPacketsShrinksToOneChannel) {
  expect_shrinks(write("late.textproto", kLateViolation),
                 "unexpected verifier violation complete_twice");
}

TEST_F(Shrink, ARunThatPassesIsRefusedAndNothingIsWritten) {
  const fs::path out = dir_.path() / "small.textproto";
  const CliRun run = run_vmbus_sim(
      dir_.path(), "shrink --seed 1 -o " + out.string() + " tests/runner/samples/passes.textproto");
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_EQ(run.err,
            "vmbus-sim shrink: tests/runner/samples/passes.textproto passes with seed 1: "
            "there is no failure to shrink\n");
  EXPECT_FALSE(fs::exists(out));

  const fs::path exists = write("exists.textproto", "keep\n");
  const CliRun refused = run_vmbus_sim(dir_.path(), "shrink --seed 5 -o " + exists.string() +
                                                        " tests/runner/samples/fails.textproto");
  EXPECT_EQ(refused.exit_code, 2);
  EXPECT_EQ(refused.err,
            "vmbus-sim shrink: " + exists.string() + " exists; it is not written over\n");
  EXPECT_EQ(slurp(exists), "keep\n");
}

}  // namespace
