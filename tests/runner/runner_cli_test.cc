// vmbus-sim run, end to end with the real binaries: output, exit codes,
// JUnit, shards, and the repro command that replays a failure byte for byte.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "vmbus/base/build_info.h"

#include "cli_runs.h"

namespace {

namespace fs = std::filesystem;

using vmbus::runner::testing::CliRun;
using vmbus::runner::testing::run_vmbus_sim;
using vmbus::runner::testing::slurp;

class RunnerCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("vmbus-runner-test-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Runs `vmbus-sim run ARGS` in the source tree (scenario paths are relative).
  CliRun run(const std::string& args) { return run_vmbus_sim(dir_, "run " + args); }

  fs::path dir_;
};

TEST_F(RunnerCli, MalformedFileIsReportedWithPositionsAndNothingRuns) {
  const CliRun result = run("tests/runner/bad/25-malformed.textproto");
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_EQ(result.out, "");
  EXPECT_EQ(result.err,
            "tests/runner/bad/25-malformed.textproto:21:3: step 2 at 100 us comes before step "
            "1 at 200 us; steps run in file order\n"
            "tests/runner/bad/25-malformed.textproto:22:15: unknown channel 'nte' (the "
            "topology has 'net')\n"
            "tests/runner/bad/25-malformed.textproto:22:40: hex payload has an odd number of "
            "digits (3)\n"
            "tests/runner/bad/25-malformed.textproto:27:46: counter delivered of channel 'net' "
            "is expected to be 2 here but 1 at line 26\n"
            "vmbus-sim: nothing was run: fix the scenario file(s) above\n");
}

TEST_F(RunnerCli, UnknownFieldIsASyntaxErrorWithItsPosition) {
  const CliRun result = run("tests/runner/bad/unknown-field.textproto");
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_EQ(result.err,
            "tests/runner/bad/unknown-field.textproto:5:34: Message type "
            "\"vmbus.proto.ChannelSpec\" has no field named \"ring_size\".\n"
            "vmbus-sim: nothing was run: fix the scenario file(s) above\n");
}

TEST_F(RunnerCli, ABadFileStopsTheGoodOnesFromRunning) {
  const CliRun result =
      run("tests/runner/samples/passes.textproto tests/runner/bad/unknown-field.textproto");
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_EQ(result.out, "");
}

TEST_F(RunnerCli, UsageErrors) {
  CliRun result = run("--seed 1 --seeds 1..2 tests/runner/samples/passes.textproto");
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_EQ(result.err,
            "vmbus-sim run: --seed and --seeds exclude each other\n"
            "Run 'vmbus-sim run --help' for usage.\n");
  result = run("tests/runner/samples/nope.textproto");
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_EQ(result.err,
            "vmbus-sim: tests/runner/samples/nope.textproto: no such file or directory\n");
  result = run("--shard 3/2 tests/runner/samples/passes.textproto");
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_EQ(result.err,
            "vmbus-sim run: --shard: the index 3 is more than the count 2\n"
            "Run 'vmbus-sim run --help' for usage.\n");
  result = run("");
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_EQ(result.err,
            "vmbus-sim run: missing scenario FILE or DIR\nRun 'vmbus-sim run --help' for "
            "usage.\n");
}

TEST_F(RunnerCli, PassingScenarioPrintsOneLineAndASummary) {
  const CliRun result = run("--jobs 1 tests/runner/samples/passes.textproto");
  EXPECT_EQ(result.exit_code, 0) << result.out << result.err;
  // "PASS   FILE seed 1  (N steps, T us simulated)" then the summary; the
  // numbers vary with the build, not the words.
  const std::string prefix = "PASS   tests/runner/samples/passes.textproto seed 1  (";
  ASSERT_EQ(result.out.rfind(prefix, 0), 0u) << result.out;
  const std::size_t line_end = result.out.find('\n');
  const std::string first_line = result.out.substr(0, line_end);
  EXPECT_NE(first_line.find(" steps, "), std::string::npos);
  EXPECT_EQ(first_line.substr(first_line.size() - 14), " us simulated)");
  EXPECT_EQ(result.out.substr(line_end + 1)
                .rfind("1 run(s) of 1 scenario(s): 1 passed, 0 failed, 0 errors in ", 0),
            0u)
      << result.out;
  // Traces of passed runs are not kept unless asked for.
  EXPECT_FALSE(fs::exists(dir_ / ("vmbus-sim-run-" + std::to_string(::getpid()))));
}

TEST_F(RunnerCli, FailureNamesTheFirstFailedExpectationAndItsReproReplaysTheTrace) {
  const CliRun result = run("--jobs 1 --seed 5 tests/runner/samples/fails.textproto");
  EXPECT_EQ(result.exit_code, 1) << result.out << result.err;
  const std::string head =
      "FAIL   tests/runner/samples/fails.textproto seed 5: channel 'net': callback 1 was "
      "'ProcessPacket #0 DISPATCH complete', expected 'ProcessPacket #0 DISPATCH defer'\n"
      "       trace: ";
  ASSERT_EQ(result.out.rfind(head, 0), 0u) << result.out;
  const std::size_t trace_end = result.out.find('\n', head.size());
  const fs::path trace = result.out.substr(head.size(), trace_end - head.size());
  // The repro line replays the kept trace; the build that failed rides
  // along as a shell comment.
  const std::string repro = "       repro: vmbus-sim replay " + trace.string() + "  # vmbus-sim " +
                            vmbus::base::build_identity() + "\n";
  ASSERT_EQ(result.out.compare(trace_end + 1, repro.size(), repro), 0) << result.out;
  ASSERT_TRUE(fs::exists(trace));
  EXPECT_NE(result.out.find("0 passed, 1 failed, 0 errors"), std::string::npos);

  // The repro command, as printed, runs the same run again and finds its
  // trace byte-identical.
  const CliRun again = run_vmbus_sim(dir_, "replay " + trace.string());
  EXPECT_EQ(again.exit_code, 0) << again.out << again.err;
  EXPECT_EQ(again.err, "");
  const std::size_t records = again.out.find("identical: ");
  ASSERT_NE(records, std::string::npos) << again.out;
  EXPECT_EQ(again.out.substr(0, records),
            "replay: " + trace.string() +
                " (tests/runner/samples/fails.textproto, seed 5)\n"
                "run: FAIL: channel 'net': callback 1 was 'ProcessPacket #0 DISPATCH complete', "
                "expected 'ProcessPacket #0 DISPATCH defer'\n");
  const std::string tail = " records, byte for byte\n";
  ASSERT_GT(again.out.size(), tail.size());
  EXPECT_EQ(again.out.substr(again.out.size() - tail.size()), tail);

  // --verbose lists the other failures too.
  const CliRun verbose = run("--verbose --seed 5 tests/runner/samples/fails.textproto");
  EXPECT_NE(verbose.out.find("       also: counter delivered of 'net' is 1, expected 7\n"),
            std::string::npos)
      << verbose.out;
}

TEST_F(RunnerCli, AnUnexpectedCrashIsASimulatorErrorAndLeavesNothingBehind) {
  const CliRun result = run("tests/runner/samples/unexpected-crash.textproto");
  EXPECT_EQ(result.exit_code, 3) << result.out << result.err;
  EXPECT_NE(result.out.find("ERROR  tests/runner/samples/unexpected-crash.textproto seed 1: "
                            "the simulator failed: partition_crashed: vmbus-host killed by "
                            "signal 9 (SIGKILL)"),
            std::string::npos)
      << result.out;
  for (const auto& entry : fs::directory_iterator("/dev/shm")) {
    EXPECT_EQ(entry.path().filename().string().rfind("vmbus-sim-" + std::to_string(::getpid()), 0),
              std::string::npos);
  }
}

TEST_F(RunnerCli, JunitReportHasOneCasePerRunWithTheFailureText) {
  const fs::path xml = dir_ / "report.xml";
  const CliRun result = run("--seeds 1..2 --junit " + xml.string() +
                            " tests/runner/samples/passes.textproto "
                            "tests/runner/samples/fails.textproto");
  EXPECT_EQ(result.exit_code, 1);
  const std::string report = slurp(xml);
  EXPECT_NE(report.find("<testsuites name=\"vmbus-sim run\" tests=\"4\" failures=\"2\" "
                        "errors=\"0\""),
            std::string::npos)
      << report;
  EXPECT_NE(report.find("<testcase name=\"runner-passes seed 2\" classname=\"scenarios.samples\""),
            std::string::npos)
      << report;
  EXPECT_NE(report.find("<failure message=\"channel &apos;net&apos;: callback 1 was"),
            std::string::npos)
      << report;
  EXPECT_NE(report.find("repro: vmbus-sim replay "), std::string::npos);
  EXPECT_NE(report.find("runner-fails.seed2.trace  # vmbus-sim "), std::string::npos);
}

TEST_F(RunnerCli, ShardsSplitTheWorkExactlyOnce) {
  const std::string files =
      " tests/runner/samples/passes.textproto tests/runner/samples/fails.textproto";
  const CliRun first = run("--seeds 1..3 --shard 1/2" + files);
  const CliRun second = run("--seeds 1..3 --shard 2/2" + files);
  // Items in order: passes 1,2,3 then fails 1,2,3; item k goes to shard k mod 2 + 1.
  EXPECT_NE(first.out.find("PASS   tests/runner/samples/passes.textproto seed 1 "),
            std::string::npos);
  EXPECT_NE(first.out.find("PASS   tests/runner/samples/passes.textproto seed 3 "),
            std::string::npos);
  EXPECT_NE(first.out.find("FAIL   tests/runner/samples/fails.textproto seed 2:"),
            std::string::npos);
  EXPECT_NE(first.out.find("3 run(s) of 2 scenario(s) (shard 1/2): 2 passed, 1 failed"),
            std::string::npos)
      << first.out;
  EXPECT_NE(second.out.find("PASS   tests/runner/samples/passes.textproto seed 2 "),
            std::string::npos);
  EXPECT_NE(second.out.find("FAIL   tests/runner/samples/fails.textproto seed 1:"),
            std::string::npos);
  EXPECT_NE(second.out.find("FAIL   tests/runner/samples/fails.textproto seed 3:"),
            std::string::npos);
  EXPECT_NE(second.out.find("3 run(s) of 2 scenario(s) (shard 2/2): 1 passed, 2 failed"),
            std::string::npos)
      << second.out;
}

TEST_F(RunnerCli, SameSeedSameTraceDifferentSeedDifferentSchedule) {
  const fs::path a = dir_ / "a";
  const fs::path b = dir_ / "b";
  ASSERT_EQ(run("--seeds 1..2 --trace-dir " + a.string() + " tests/runner/samples/passes.textproto")
                .exit_code,
            0);
  ASSERT_EQ(run("--seeds 1..2 --jobs 2 --trace-dir " + b.string() +
                " tests/runner/samples/passes.textproto")
                .exit_code,
            0);
  EXPECT_EQ(slurp(a / "runner-passes.seed1.trace"), slurp(b / "runner-passes.seed1.trace"));
  EXPECT_EQ(slurp(a / "runner-passes.seed2.trace"), slurp(b / "runner-passes.seed2.trace"));
  EXPECT_NE(slurp(a / "runner-passes.seed1.trace"), slurp(a / "runner-passes.seed2.trace"));
}

TEST_F(RunnerCli, TheScenarioLibraryHasNoDuplicateNamesAndEveryFileLoads) {
  // Every file is checked before anything runs; with a bogus seed range
  // limited to no work this would still report a bad file. Running with
  // --shard N/N over a single seed runs at most one scenario: cheap.
  const CliRun result = run("--seed 1 --shard 1000/1000 scenarios");
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.err, "");
}

}  // namespace
