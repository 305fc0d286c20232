// Stopping `vmbus-sim run` the ways CI and people do: SIGINT and SIGTERM,
// to vmbus-sim alone or to its whole process group (a terminal's Ctrl-C,
// GNU timeout, a cancelled CI job, `kill -TERM -PGID`), at each moment of a
// sweep -- loading the files, a partition starting, a run under way, a
// partition slow to exit after Shutdown, between two runs, as a run ends
// and is judged. Whatever the moment, vmbus-sim exits 130, its summary
// counts what did not run as "not run (interrupted)", the JUnit file is
// written, no run is an ERROR, and no process, shared-memory segment or
// temporary directory stays behind.
//
// And SIGKILL at random moments: nothing can be cleaned up then, but no
// process and no segment may survive it either.
//
// Each case runs VMBUS_STOP_TEST_REPEAT times (default 2); CTest's opt-in
// test runner.stop_20_times runs them 20 times, and runner.sigkill_50_times
// the SIGKILL test 50 times.
#include <csignal>
#include <cstdlib>
#include <fcntl.h>
#include <filesystem>
#include <random>
#include <string>
#include <sys/stat.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

#include <gtest/gtest.h>

#include "cli_runs.h"
#include "stop_harness.h"

namespace vmbus::runner::testing {
namespace {

namespace fs = std::filesystem;

constexpr const char* kPasses = "tests/runner/samples/passes.textproto";
constexpr const char* kLong = "tests/runner/samples/long.textproto";

int repetitions(int fallback) {
  const char* text = std::getenv("VMBUS_STOP_TEST_REPEAT");
  return text != nullptr && std::atoi(text) > 0 ? std::atoi(text) : fallback;
}

enum class Moment {
  kLoading,         // reading the scenario files
  kPartitionStart,  // a partition is starting (its wrapper waits)
  kMidRun,          // a long run is under way
  kSlowShutdown,    // after Shutdown, a partition is slow to exit
  kBetweenRuns,     // one run has passed, the next is starting
  kRunEnding,       // a run's partitions have exited: the run is judged
};

struct StopCase {
  Moment moment;
  int signal_number;
  bool to_group;
};

std::string case_name(const StopCase& c) {
  static const char* const kMoments[] = {"Loading",      "PartitionStart", "MidRun",
                                         "SlowShutdown", "BetweenRuns",    "RunEnding"};
  return std::string(kMoments[static_cast<int>(c.moment)]) +
         (c.signal_number == SIGINT ? "Sigint" : "Sigterm") + (c.to_group ? "ToGroup" : "");
}

// Whether the slow-partition wrapper of `role` announced `moment`.
bool announced(const fs::path& dir, const std::string& role, const std::string& moment) {
  for (const std::string& name : names_starting(dir / "marks", role + ".")) {
    if (name.size() > moment.size() &&
        name.compare(name.size() - moment.size(), moment.size(), moment) == 0) {
      return true;
    }
  }
  return false;
}

// A trace under way in the run's temporary directory.
bool trace_under_way(const fs::path& dir) {
  for (const std::string& temporary : names_starting(dir, "vmbus-sim-run-")) {
    for (const std::string& trace : names_starting(dir / temporary, "")) {
      std::error_code error;
      if (fs::file_size(dir / temporary / trace, error) > 0 && !error) {
        return true;
      }
    }
  }
  return false;
}

class StopRun : public ::testing::TestWithParam<StopCase> {
 protected:
  // One sweep, stopped at the case's moment; every promise checked.
  void stop_once(const fs::path& dir) {
    const StopCase& c = GetParam();
    fs::create_directories(dir / "marks");
    const auto [slow_host, slow_guest] = slow_partitions(dir);
    std::vector<std::string> args = {"run", "--jobs", "1", "--junit", (dir / "r.xml").string()};
    std::vector<std::string> environment = {"VMBUS_SLOW_MARK_DIR=" + (dir / "marks").string()};
    const fs::path fifo = dir / "loading.textproto";
    std::function<bool()> ready;
    switch (c.moment) {
      case Moment::kLoading:
        ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
        args.push_back(fifo.string());
        break;
      case Moment::kPartitionStart:
        args.insert(args.end(), {"--host-binary", slow_host, kPasses});
        environment.push_back("VMBUS_SLOW_START_MS=30000");
        ready = [&] { return announced(dir, "host", ".started"); };
        break;
      case Moment::kMidRun:
        args.insert(args.end(), {"--host-binary", slow_host, "--guest-binary", slow_guest, kLong});
        ready = [&] { return trace_under_way(dir); };
        break;
      case Moment::kSlowShutdown:
        args.insert(args.end(), {"--host-binary", slow_host, kPasses});
        environment.push_back("VMBUS_SLOW_EXIT_MS=30000");
        ready = [&] { return announced(dir, "host", ".exiting"); };
        break;
      case Moment::kBetweenRuns:
        args.insert(args.end(), {"--seeds", "1..500", kPasses});
        ready = [&] { return slurp(dir / "stdout").find("PASS") != std::string::npos; };
        break;
      case Moment::kRunEnding:
        args.insert(args.end(), {"--seeds", "1..500", "--host-binary", slow_host, "--guest-binary",
                                 slow_guest, kPasses});
        ready = [&] { return announced(dir, "guest", ".exited"); };
        break;
    }
    const Started sim = start_vmbus_sim(dir, args, environment);
    ASSERT_GT(sim.pid, 0);
    const bool handler = wait_for([&] { return catches(sim.pid, c.signal_number); });
    const bool at_moment = handler && (!ready || wait_for(ready));
    ::kill(c.to_group ? -sim.pid : sim.pid, c.signal_number);
    if (c.moment == Moment::kLoading) {
      feed(fifo, sim.pid);
    }
    const int status = wait_for_exit(sim.pid);
    check_outcome(dir, sim.pid, status);
    EXPECT_TRUE(handler) << "vmbus-sim never caught the signal";
    EXPECT_TRUE(at_moment) << "the sweep never reached the moment";
  }

  // The scenario text for the FIFO vmbus-sim is reading (it waits in open).
  static void feed(const fs::path& fifo, pid_t sim) {
    int fd = -1;
    wait_for([&] {
      fd = ::open(fifo.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
      siginfo_t exited{};
      return fd >= 0 ||
             (::waitid(P_PID, static_cast<id_t>(sim), &exited, WEXITED | WNOHANG | WNOWAIT) == 0 &&
              exited.si_pid != 0);
    });
    if (fd < 0) {
      return;
    }
    const std::string text = slurp(fs::path(VMBUS_SOURCE_DIR) / kPasses);
    EXPECT_EQ(::write(fd, text.data(), text.size()), static_cast<ssize_t>(text.size()));
    ::close(fd);
  }

  static void check_outcome(const fs::path& dir, pid_t sim, int status) {
    const std::string out = slurp(dir / "stdout");
    const std::string err = slurp(dir / "stderr");
    ASSERT_NE(status, -1) << "vmbus-sim did not exit\n" << out << err;
    ASSERT_TRUE(WIFEXITED(status)) << "vmbus-sim died of signal " << WTERMSIG(status) << "\n"
                                   << out << err;
    EXPECT_EQ(WEXITSTATUS(status), 130) << out << err;
    EXPECT_NE(out.find(" not run (interrupted) in "), std::string::npos) << out << err;
    EXPECT_EQ(out.find("ERROR"), std::string::npos) << out;
    EXPECT_EQ(out.find("FAIL"), std::string::npos) << out;
    EXPECT_NE(slurp(dir / "r.xml").find("</testsuites>"), std::string::npos) << err;
    EXPECT_TRUE(wait_for([&] { return live_members_of(sim).empty(); }, std::chrono::seconds(10)))
        << live_members_of(sim).size() << " process(es) of vmbus-sim's group outlived it";
    EXPECT_EQ(segments_of(sim), std::vector<std::string>{});
    EXPECT_EQ(names_starting(dir, "vmbus-sim-run-"), std::vector<std::string>{});
  }

  TestDirectory dir_;
};

TEST_P(StopRun, ExitsWith130ReportsWhatDidNotRunAndLeavesNothing) {
  const int times = repetitions(2);
  for (int i = 0; i < times && !HasFatalFailure(); ++i) {
    SCOPED_TRACE("repetition " + std::to_string(i + 1) + " of " + std::to_string(times));
    stop_once(dir_.path() / std::to_string(i));
  }
}

std::vector<StopCase> every_case() {
  std::vector<StopCase> cases;
  for (Moment moment : {Moment::kLoading, Moment::kPartitionStart, Moment::kMidRun,
                        Moment::kSlowShutdown, Moment::kBetweenRuns, Moment::kRunEnding}) {
    for (int signal_number : {SIGINT, SIGTERM}) {
      for (bool to_group : {false, true}) {
        cases.push_back(StopCase{moment, signal_number, to_group});
      }
    }
  }
  return cases;
}

INSTANTIATE_TEST_SUITE_P(EveryMoment, StopRun, ::testing::ValuesIn(every_case()),
                         [](const auto& test_info) { return case_name(test_info.param); });

// SIGKILL leaves vmbus-sim no chance to clean up: its partitions must die
// with it (PR_SET_PDEATHSIG), and its memory with them (an anonymous
// segment) -- without the help of any later run.
TEST(KillRun, NoProcessOrSegmentSurvivesSigkillAtARandomMoment) {
  TestDirectory dir;
  std::mt19937 random(20240519);  // the same moments every time
  std::uniform_int_distribution<int> after_ms(0, 1500);
  const int times = repetitions(3);
  for (int i = 0; i < times; ++i) {
    SCOPED_TRACE("kill " + std::to_string(i + 1) + " of " + std::to_string(times));
    const fs::path here = dir.path() / std::to_string(i);
    fs::create_directories(here);
    const Started sim = start_vmbus_sim(
        here, {"run", "--jobs", "2", "--seeds", "1..50", "--quiet", kLong, kPasses});
    ASSERT_GT(sim.pid, 0);
    std::this_thread::sleep_for(std::chrono::milliseconds(after_ms(random)));
    ::kill(sim.pid, SIGKILL);
    int status = 0;
    ::waitpid(sim.pid, &status, 0);
    EXPECT_TRUE(
        wait_for([&] { return live_members_of(sim.pid).empty(); }, std::chrono::seconds(10)))
        << live_members_of(sim.pid).size() << " process(es) outlived a killed vmbus-sim";
    EXPECT_EQ(segments_of(sim.pid), std::vector<std::string>{});
  }
}

}  // namespace
}  // namespace vmbus::runner::testing
