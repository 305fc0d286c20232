// vmbus-sim run as a CI owner runs big sweeps, end to end with the real
// binaries: results files, artifacts, --list/--filter/--tag, --fail-fast,
// --repeat, --until-fail, shard conventions from the environment, every
// path checked before the first run, interrupted runs, and JUnit that the
// Jenkins schemas accept.
#include <algorithm>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <string>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <variant>

#include <gtest/gtest.h>

#include "vmbus/base/build_info.h"
#include "vmbus/cli/results.h"

#include "cli_runs.h"
#include "results_file.h"

namespace vmbus::runner::testing {
namespace {

namespace fs = std::filesystem;
using cli::RunRecord;
using cli::RunVerdict;
using cli::SweepResults;

constexpr const char* kPasses = " tests/runner/samples/passes.textproto";
constexpr const char* kFails = " tests/runner/samples/fails.textproto";
constexpr const char* kCrash = " tests/runner/samples/unexpected-crash.textproto";
constexpr const char* kLong = " tests/runner/samples/long.textproto";

std::string verdicts_of(const SweepResults& results) {
  std::string text;
  for (const RunRecord& run : results.runs) {
    text += results.scenarios.at(run.scenario).name + " " + std::to_string(run.seed) + "/" +
            std::to_string(run.pass) + "#" + std::to_string(run.repetition) + " " +
            std::string(cli::verdict_word(run.verdict)) + "\n";
  }
  return text;
}

// How many lines of `text` start with `prefix`.
std::size_t count_lines(const std::string& text, const std::string& prefix);

// The lines of `text` that start with `prefix`.
std::string lines_starting(const std::string& text, const std::string& prefix) {
  std::string lines;
  std::size_t start = 0;
  while (start < text.size()) {
    const std::size_t end = text.find('\n', start);
    const std::string line = text.substr(start, end - start);
    if (line.rfind(prefix, 0) == 0) {
      lines += line + "\n";
    }
    start = end == std::string::npos ? text.size() : end + 1;
  }
  return lines;
}

std::size_t count_lines(const std::string& text, const std::string& prefix) {
  const std::string lines = lines_starting(text, prefix);
  return static_cast<std::size_t>(std::count(lines.begin(), lines.end(), '\n'));
}

// The value of attribute `name` of the first element `element` in `xml`.
std::string attribute_of(const std::string& xml, const std::string& element,
                         const std::string& name) {
  const std::size_t at = xml.find("<" + element + " ");
  const std::size_t value = xml.find(" " + name + "=\"", at);
  if (at == std::string::npos || value == std::string::npos || value > xml.find('>', at)) {
    return "";
  }
  const std::size_t start = value + name.size() + 3;
  return xml.substr(start, xml.find('"', start) - start);
}

class SweepCli : public ::testing::Test {
 protected:
  CliRun run(const std::string& args, const std::string& environment = "") {
    return run_vmbus_sim(dir_.path(), "run " + args, environment);
  }
  fs::path path(const std::string& name) const { return dir_.path() / name; }

  // Starts `vmbus-sim run ARGS`, waits until `ready` holds, sends SIGINT
  // and returns how it exited.
  template <typename Ready>
  CliRun interrupt(const std::string& args, Ready ready) {
    // exec replaces the shell (and env itself), so the pid is vmbus-sim's.
    std::string command = vmbus_sim_command(dir_.path(), "run " + args);
    command.replace(command.find("&& env "), 7, "&& exec env ");
    const pid_t shell = ::fork();
    if (shell == 0) {
      ::execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    for (int i = 0; i < 3000 && !ready(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    EXPECT_TRUE(ready()) << "vmbus-sim never got ready to be interrupted";
    ::kill(shell, SIGINT);
    int status = 0;
    ::waitpid(shell, &status, 0);
    CliRun result;
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    result.out = slurp(dir_.path() / "stdout");
    result.err = slurp(dir_.path() / "stderr");
    return result;
  }

  TestDirectory dir_;
};

TEST_F(SweepCli, JsonHoldsEveryRunWithItsVerdictFailureTraceReproAndBuild) {
  const CliRun result =
      run("--jobs 2 --seeds 1..2 --json " + path("r.json").string() + kPasses + kFails);
  EXPECT_EQ(result.exit_code, 1) << result.err;
  const SweepResults results = read_results(path("r.json"));
  EXPECT_EQ(results.build, base::build_identity());
  EXPECT_EQ(results.plan.runs, 4u);
  EXPECT_EQ(results.shard.count, 1u);
  EXPECT_EQ(verdicts_of(results),
            "runner-passes 1/1#1 PASS\nrunner-passes 2/1#1 PASS\n"
            "runner-fails 1/1#1 FAIL\nrunner-fails 2/1#1 FAIL\n");
  const RunRecord& failed = results.runs[3];
  EXPECT_EQ(failed.position, 3u);
  EXPECT_EQ(results.scenarios.at(failed.scenario).file, "tests/runner/samples/fails.textproto");
  EXPECT_EQ(failed.failure,
            "channel 'net': callback 1 was 'ProcessPacket #0 DISPATCH complete', expected "
            "'ProcessPacket #0 DISPATCH defer'");
  EXPECT_EQ(failed.failures.size(), 2u);
  EXPECT_TRUE(fs::exists(failed.trace)) << failed.trace;
  EXPECT_EQ(failed.repro.rfind("vmbus-sim replay " + failed.trace + "  # vmbus-sim ", 0), 0u)
      << failed.repro;
  EXPECT_GT(failed.wall_s, 0);
  EXPECT_GT(failed.steps, 0u);
  EXPECT_EQ(results.runs[0].trace, "");  // a passed run's trace is not kept
  // The failures are listed again at the end, with their repro lines.
  const std::size_t again = result.out.find("2 run(s) did not pass:\n");
  ASSERT_NE(again, std::string::npos) << result.out;
  EXPECT_EQ(lines_starting(result.out.substr(again), "       repro: "),
            lines_starting(result.out.substr(0, again), "       repro: "));
}

TEST_F(SweepCli, ArtifactsKeepTheTracesOfFailedRunsOnly) {
  const std::string artifacts = path("artifacts").string();
  CliRun result = run("--seeds 1..2 --artifacts " + artifacts + " --json " +
                      path("r.json").string() + kPasses + kFails);
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_EQ(file_names_in(artifacts),
            (std::vector<std::string>{"runner-fails.seed1.trace", "runner-fails.seed2.trace"}));
  EXPECT_NE(result.out.find("       trace: " + artifacts + "/runner-fails.seed1.trace\n"),
            std::string::npos)
      << result.out;
  EXPECT_EQ(read_results(path("r.json")).runs[2].trace, artifacts + "/runner-fails.seed1.trace");
  // Moved, not copied: nothing is left in the temporary directory.
  EXPECT_FALSE(fs::exists(path("vmbus-sim-run-" + std::to_string(::getpid()))));

  // With --trace-dir every trace stays there and the failed ones are copied.
  fs::remove_all(artifacts);
  result = run("--seeds 1..2 --artifacts " + artifacts + " --trace-dir " + path("all").string() +
               kPasses + kFails);
  EXPECT_EQ(file_names_in(path("all")).size(), 4u);
  EXPECT_EQ(file_names_in(artifacts).size(), 2u);
  EXPECT_EQ(slurp(path("all/runner-fails.seed2.trace")),
            slurp(artifacts + "/runner-fails.seed2.trace"));
}

TEST_F(SweepCli, ListPrintsWhatWouldRunAfterTheShardAndRunsNothing) {
  const CliRun result = run("--list --seeds 1..3 --shard 2/2" + std::string(kPasses) + kFails);
  EXPECT_EQ(result.exit_code, 0);
  EXPECT_EQ(result.out,
            "tests/runner/samples/passes.textproto seed 2\n"
            "tests/runner/samples/fails.textproto seed 1\n"
            "tests/runner/samples/fails.textproto seed 3\n");
  EXPECT_EQ(result.err, "3 run(s) of 2 scenario(s) would run (shard 2/2)\n");
  EXPECT_EQ(file_names_in(dir_.path()), (std::vector<std::string>{"stderr", "stdout"}));
}

TEST_F(SweepCli, FilterAndTagSelectScenariosOfTheLibrary) {
  CliRun result = run("--list --filter '*fifo*,03-*' scenarios");
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out,
            "scenarios/defer/03-defer-at-dispatch.textproto seed 1\n"
            "scenarios/defer/04-defer-keeps-fifo.textproto seed 1\n"
            "scenarios/server/31-server-defer-keeps-fifo.textproto seed 1\n");
  result = run("--list --tag quota scenarios");
  EXPECT_EQ(result.out,
            "scenarios/quota/12-quota-with-late-completions.textproto seed 1\n"
            "scenarios/quota/13-processing-complete-per-pass.textproto seed 1\n"
            "scenarios/server/33-server-quota-one-late-completions.textproto seed 1\n");
  result = run("--filter 'nothing*' --tag quota scenarios");
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_EQ(result.out, "");
  EXPECT_EQ(result.err.rfind("vmbus-sim run: no scenario matches --filter 'nothing*' and --tag "
                             "'quota' (of ",
                             0),
            0u)
      << result.err;
}

TEST_F(SweepCli, FailFastStartsNothingAfterTheFirstFailure) {
  const CliRun result =
      run("--jobs 1 --fail-fast --seeds 1..3 --json " + path("r.json").string() + kFails + kPasses);
  EXPECT_EQ(result.exit_code, 1);
  // Once as it happened, once again at the end.
  EXPECT_EQ(count_lines(result.out, "FAIL   tests/runner/samples/fails.textproto seed 1: "), 2u);
  EXPECT_EQ(count_lines(result.out, "FAIL"), 2u);
  EXPECT_EQ(result.out.find("PASS"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("6 run(s) of 2 scenario(s): 0 passed, 1 failed, 0 errors, 5 not run "
                            "(--fail-fast) in "),
            std::string::npos)
      << result.out;
  const SweepResults results = read_results(path("r.json"));
  EXPECT_EQ(results.stopped, "fail-fast");
  EXPECT_EQ(verdicts_of(results),
            "runner-fails 1/1#1 FAIL\nrunner-fails 2/1#1 NOT_RUN\nrunner-fails 3/1#1 NOT_RUN\n"
            "runner-passes 1/1#1 NOT_RUN\nrunner-passes 2/1#1 NOT_RUN\n"
            "runner-passes 3/1#1 NOT_RUN\n");
}

TEST_F(SweepCli, RepeatRunsEachSeedNTimesAndTheyAgreeByteForByte) {
  const CliRun result = run("--repeat 3 --seed 4 --trace-dir " + path("t").string() + kPasses);
  EXPECT_EQ(result.exit_code, 0) << result.err;
  for (const char* repetition : {"#1  (", "#2  (", "#3  ("}) {
    EXPECT_EQ(count_lines(result.out, std::string("PASS   tests/runner/samples/passes.textproto "
                                                  "seed 4 ") +
                                          repetition),
              1u)
        << result.out;
  }
  EXPECT_EQ(count_lines(result.out, "PASS"), 3u);
  EXPECT_EQ(file_names_in(path("t")), (std::vector<std::string>{"runner-passes.seed4.r1.trace",
                                                                "runner-passes.seed4.r2.trace",
                                                                "runner-passes.seed4.r3.trace"}));
  EXPECT_EQ(slurp(path("t/runner-passes.seed4.r1.trace")),
            slurp(path("t/runner-passes.seed4.r3.trace")));
}

TEST_F(SweepCli, UntilFailStopsAtTheFirstRunThatFails) {
  const CliRun result =
      run("--until-fail --jobs 1 --seeds 1..2 --json " + path("r.json").string() + kFails);
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.out.find("1 run(s) of 1 scenario(s) in 1 pass(es) of new seeds (--until-fail): "
                            "0 passed, 1 failed, 0 errors in "),
            std::string::npos)
      << result.out;
  const SweepResults results = read_results(path("r.json"));
  EXPECT_TRUE(results.plan.until_fail);
  EXPECT_EQ(results.stopped, "until-fail");
  EXPECT_EQ(verdicts_of(results), "runner-fails 1/1#1 FAIL\n");
}

TEST_F(SweepCli, UntilFailGoesOnWithNewSeedsUntilInterrupted) {
  const fs::path out = dir_.path() / "stdout";
  const CliRun result =
      interrupt("--until-fail --jobs 1 --seeds 1..2 --json " + path("r.json").string() + kPasses,
                [&] { return count_lines(slurp(out), "PASS") >= 5; });
  EXPECT_EQ(result.exit_code, 130) << result.err;
  const SweepResults results = read_results(path("r.json"));
  EXPECT_EQ(results.stopped, "interrupted");
  ASSERT_GE(results.runs.size(), 5u);
  for (std::size_t i = 0; i < results.runs.size(); ++i) {
    EXPECT_EQ(results.runs[i].seed, i + 1) << verdicts_of(results);
    EXPECT_EQ(results.runs[i].pass, i / 2 + 1);
    EXPECT_EQ(results.runs[i].position, i % 2);
  }
}

TEST_F(SweepCli, AnInterruptedRunNamesItsPartialTraceAndStillWritesItsReports) {
  // --trace-dir keeps every trace, the partial one too.
  const CliRun result =
      interrupt("--jobs 1 --trace-dir " + path("traces").string() + " --json " +
                    path("r.json").string() + " --junit " + path("r.xml").string() + kLong,
                [&] { return !file_names_in(path("traces")).empty(); });
  EXPECT_EQ(result.exit_code, 130) << result.err;
  const std::string head =
      "Interrupted: the partial traces of the runs under way are kept:\n       ";
  const std::size_t at = result.out.find(head);
  ASSERT_NE(at, std::string::npos) << result.out;
  const std::size_t end = result.out.find('\n', at + head.size());
  const fs::path trace = result.out.substr(at + head.size(), end - at - head.size());
  EXPECT_EQ(trace.filename(), "runner-long.seed1.trace");
  EXPECT_TRUE(fs::exists(trace));
  EXPECT_NE(result.out.find("1 run(s) of 1 scenario(s): 0 passed, 0 failed, 0 errors, 1 not run "
                            "(interrupted) in "),
            std::string::npos)
      << result.out;
  const SweepResults results = read_results(path("r.json"));
  EXPECT_EQ(results.stopped, "interrupted");
  EXPECT_EQ(verdicts_of(results), "runner-long 1/1#1 NOT_RUN\n");
  EXPECT_NE(slurp(path("r.xml")).find("<skipped>not run: interrupted</skipped>"),
            std::string::npos);
}

TEST_F(SweepCli, AnInterruptedRunWithoutATraceDirectoryLeavesNoTemporaryFiles) {
  // The traces go to a temporary directory in TMPDIR (the test's own
  // directory); an interrupted run's partial trace is not worth keeping.
  const auto temporary_directories = [&] {
    std::vector<std::string> found;
    for (const std::string& name : file_names_in(dir_.path())) {
      if (name.rfind("vmbus-sim-run-", 0) == 0) {
        found.push_back(name);
      }
    }
    return found;
  };
  const CliRun result = interrupt("--jobs 1 --junit " + path("r.xml").string() + kLong, [&] {
    const std::vector<std::string> found = temporary_directories();
    return !found.empty() && !file_names_in(dir_.path() / found.front()).empty();
  });
  EXPECT_EQ(result.exit_code, 130) << result.err;
  EXPECT_EQ(result.out.find("partial trace"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("1 not run (interrupted)"), std::string::npos) << result.out;
  EXPECT_NE(slurp(path("r.xml")).find("<skipped>not run: interrupted</skipped>"),
            std::string::npos);
  EXPECT_EQ(temporary_directories(), std::vector<std::string>{});
}

TEST_F(SweepCli, EveryOutputPathAndProgramIsCheckedBeforeTheFirstRun) {
  fs::create_directories(path("a-directory"));
  const CliRun result =
      run("--junit " + path("a-directory").string() + " --json " + path("missing/r.json").string() +
          " --host-binary /nonexistent/vmbus-host" + kPasses);
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_EQ(result.out, "");
  EXPECT_EQ(result.err,
            "vmbus-sim run: --host-binary: /nonexistent/vmbus-host: no such file\n"
            "vmbus-sim run: --json: cannot write " +
                path("missing/r.json").string() + ": " + path("missing").string() +
                " does not exist\n"
                "vmbus-sim run: --junit: " +
                path("a-directory").string() +
                " is a directory\n"
                "vmbus-sim: nothing was run\n");
  // Nothing was created: no temporary file, no trace directory.
  EXPECT_EQ(file_names_in(dir_.path()),
            (std::vector<std::string>{"a-directory", "stderr", "stdout"}));
  EXPECT_TRUE(file_names_in(path("a-directory")).empty());
}

TEST_F(SweepCli, ATraceDirectoryThatRefusesFilesIsAUsageErrorWithTheSystemsReason) {
  CliRun result = run("--trace-dir /sys" + std::string(kPasses));
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_EQ(result.out, "");
  EXPECT_EQ(result.err.rfind("vmbus-sim run: --trace-dir: cannot write in /sys: ", 0), 0u)
      << result.err;
  result = run("--artifacts " + std::string(VMBUS_SOURCE_DIR) + "/README.md" + kPasses);
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_EQ(result.err,
            "vmbus-sim run: --artifacts: " + std::string(VMBUS_SOURCE_DIR) +
                "/README.md exists and is not a directory\nvmbus-sim: nothing was run\n");
}

TEST_F(SweepCli, TheShardComesFromTheEnvironmentAndTheSummaryNamesIt) {
  CliRun result = run(
      "--seeds 1..3" + std::string(kPasses),
      "GTEST_SHARD_INDEX=1 GTEST_TOTAL_SHARDS=2 TEST_SHARD_STATUS_FILE=" + path("status").string());
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(count_lines(result.out, "PASS   tests/runner/samples/passes.textproto seed 2  ("), 1u)
      << result.out;
  EXPECT_EQ(count_lines(result.out, "PASS"), 1u);
  EXPECT_NE(result.out.find("1 run(s) of 1 scenario(s) (shard 2/2 from GTEST_SHARD_INDEX=1 "
                            "GTEST_TOTAL_SHARDS=2): 1 passed"),
            std::string::npos)
      << result.out;
  EXPECT_TRUE(fs::exists(path("status")));  // Bazel's "this runner shards"
  result = run(kPasses, "JOB_COMPLETION_INDEX=3");
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_EQ(result.err,
            "vmbus-sim run: JOB_COMPLETION_INDEX=3 is set (a Kubernetes Indexed Job) but the "
            "shard count is not: add --shard-count N, N being the Job's completions\n"
            "Run 'vmbus-sim run --help' for usage.\n");
  // --shard 1/1 opts out of the environment.
  result =
      run("--shard 1/1 --seeds 1..2" + std::string(kPasses), "CI_NODE_INDEX=2 CI_NODE_TOTAL=2");
  EXPECT_NE(result.out.find("2 run(s) of 1 scenario(s): 2 passed"), std::string::npos)
      << result.out;
}

// xmllint validates `xml` against each Jenkins schema in tests/cli/data:
// the xUnit plugin's junit-10.xsd as it is, and the older junit-4.xsd,
// which predates the `file` attribute, with that attribute taken out.
void expect_valid_junit(const fs::path& xml) {
  const std::string data = std::string(VMBUS_SOURCE_DIR) + "/tests/cli/data/";
  ASSERT_EQ(std::system("command -v xmllint >/dev/null"), 0)
      << "xmllint is missing: scripts/install-deps.sh installs it (libxml2-utils)";
  EXPECT_EQ(std::system(
                ("xmllint --noout --schema '" + data + "junit-10.xsd' '" + xml.string() + "' 2>&1")
                    .c_str()),
            0)
      << xml;
  EXPECT_EQ(std::system(("sed 's/ file=\"[^\"]*\"//' '" + xml.string() +
                         "' | xmllint --noout --schema '" + data + "jenkins-junit-4.xsd' - 2>&1")
                            .c_str()),
            0)
      << xml;
}

TEST_F(SweepCli, JunitOfEveryKindOfRunIsValidForTheJenkinsSchemas) {
  // Passed, failed and error cases, then skipped ones (after --fail-fast).
  CliRun result = run("--seeds 1..2 --junit " + path("all.xml").string() + " --json " +
                      path("all.json").string() + kPasses + kFails + kCrash);
  EXPECT_EQ(result.exit_code, 3);
  expect_valid_junit(path("all.xml"));
  result = run("--jobs 1 --fail-fast --junit " + path("stopped.xml").string() + kFails + kPasses);
  EXPECT_EQ(result.exit_code, 1);
  expect_valid_junit(path("stopped.xml"));
  const std::string all = slurp(path("all.xml"));
  EXPECT_NE(all.find("<testsuite name=\"runner-fails seed 2\" tests=\"1\" failures=\"1\" "
                     "errors=\"0\" skipped=\"0\" time=\""),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("file=\"tests/runner/samples/fails.textproto\">\n    <properties>\n"
                     "      <property name=\"seed\" value=\"2\"/>\n"
                     "      <property name=\"build\" value=\"" +
                     base::build_identity() + "\"/>\n"),
            std::string::npos)
      << all;
  // The suites' time is the run's wall time, not the sum of the cases'.
  const SweepResults results = read_results(path("all.json"));
  EXPECT_EQ(attribute_of(all, "testsuites", "tests"), "6");
  EXPECT_EQ(attribute_of(all, "testsuites", "errors"), "2");
  EXPECT_EQ(attribute_of(all, "testsuites", "skipped"), "");
  EXPECT_NEAR(std::stod(attribute_of(all, "testsuites", "time")), results.wall_s, 0.001);
}

}  // namespace
}  // namespace vmbus::runner::testing
