// The vmbus-sim executable cleans up after itself: on SIGINT and SIGTERM it
// stops both partitions, releases its shared memory and exits 130; and a
// run removes named segments that a killed run of an older build (SIGKILL)
// left behind.
#include <chrono>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <signal.h>
#include <spawn.h>
#include <sstream>
#include <string>
#include <sys/mman.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

#include <gtest/gtest.h>

#include "system_test_util.h"

extern char** environ;

namespace vmbus {
namespace {

using testing::base_config;
using testing::echo_host;

std::vector<int> children_of(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/task/" + std::to_string(pid) + "/children");
  std::vector<int> children;
  int child = 0;
  while (in >> child) {
    children.push_back(child);
  }
  return children;
}

// A segment of vmbus-sim `pid`'s runs in /dev/shm (where nothing of its
// should ever be: its segments are anonymous).
bool segment_exists_for(int pid) {
  const std::string prefix = "vmbus-sim-" + std::to_string(pid) + "-";
  for (const auto& entry : std::filesystem::directory_iterator("/dev/shm")) {
    if (entry.path().filename().string().rfind(prefix, 0) == 0) {
      return true;
    }
  }
  return false;
}

// Whether process `pid` holds a run's anonymous segment.
bool holds_segment(int pid) {
  const std::string memfd = "/memfd:vmbus-sim-";
  std::error_code error;
  for (std::filesystem::directory_iterator it("/proc/" + std::to_string(pid) + "/fd", error), end;
       !error && it != end; it.increment(error)) {
    std::error_code unreadable;
    if (std::filesystem::read_symlink(it->path(), unreadable).string().rfind(memfd, 0) == 0) {
      return true;
    }
  }
  return false;
}

bool alive(int pid) {
  return ::kill(pid, 0) == 0;
}

class SimulatorSignal : public ::testing::TestWithParam<int> {};

TEST_P(SimulatorSignal, StopsPartitionsRemovesMemoryAndExits130) {
  const int signal_number = GetParam();
  const std::filesystem::path guest_config =
      std::filesystem::path(::testing::TempDir()) /
      ("long-guest-" + std::to_string(::getpid()) + ".textproto");
  std::ofstream(guest_config) << "echo { child_relid: 1 packets: 100000000 }\n";
  const std::string config_arg = guest_config.string();
  std::vector<std::string> args = {VMBUS_SIM_BINARY, "simulate", "--guest-config", config_arg};
  std::vector<char*> argv;
  for (auto& a : args) {
    argv.push_back(a.data());
  }
  argv.push_back(nullptr);
  pid_t sim = 0;
  ASSERT_EQ(::posix_spawn(&sim, argv[0], nullptr, nullptr, argv.data(), environ), 0);

  // Wait until the run is under way: both partitions started, memory created.
  std::vector<int> partitions;
  for (int i = 0; i < 500 && (partitions.size() < 2 || !holds_segment(sim)); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    partitions = children_of(sim);
  }
  if (partitions.size() != 2u || !holds_segment(sim)) {
    ::kill(sim, SIGKILL);
    ::waitpid(sim, nullptr, 0);
  }
  ASSERT_EQ(partitions.size(), 2u) << "vmbus-sim did not start its partitions";
  ASSERT_TRUE(holds_segment(sim));

  ::kill(sim, signal_number);
  int status = 0;
  ASSERT_EQ(::waitpid(sim, &status, 0), sim);

  ASSERT_TRUE(WIFEXITED(status)) << "vmbus-sim died of a signal instead of cleaning up";
  EXPECT_EQ(WEXITSTATUS(status), 130);
  for (int partition : partitions) {
    EXPECT_FALSE(alive(partition)) << "partition " << partition << " outlived the simulator";
  }
  EXPECT_FALSE(segment_exists_for(sim));
  std::filesystem::remove(guest_config);
}

INSTANTIATE_TEST_SUITE_P(Signals, SimulatorSignal, ::testing::Values(SIGINT, SIGTERM),
                         [](const auto& test_info) {
                           return std::string(test_info.param == SIGINT ? "Sigint" : "Sigterm");
                         });

TEST(StaleSegments, RunRemovesSegmentsOfDeadRuns) {
  // A pid that certainly belongs to no process: a child we have reaped.
  const pid_t dead = ::fork();
  if (dead == 0) {
    ::_exit(0);
  }
  ASSERT_GT(dead, 0);
  ::waitpid(dead, nullptr, 0);
  const std::string stale = "vmbus-sim-" + std::to_string(dead) + "-0-run";
  const std::string live = "vmbus-sim-" + std::to_string(::getpid()) + "-999999-keep";
  for (const std::string& name : {stale, live}) {
    const int fd = ::shm_open(("/" + name).c_str(), O_CREAT | O_RDWR, 0600);
    ASSERT_GE(fd, 0);
    ::close(fd);
  }

  proto::GuestConfig guest;
  guest.mutable_echo()->set_child_relid(1);
  guest.mutable_echo()->set_packets(1);
  const hypervisor::RunResult result = hypervisor::run_simulation(base_config(echo_host(1), guest));

  EXPECT_EQ(result.outcome, hypervisor::RunOutcome::kCompleted);
  EXPECT_FALSE(std::filesystem::exists("/dev/shm/" + stale)) << "stale segment not removed";
  EXPECT_TRUE(std::filesystem::exists("/dev/shm/" + live)) << "a live run's segment was removed";
  ::shm_unlink(("/" + live).c_str());
}

}  // namespace
}  // namespace vmbus
