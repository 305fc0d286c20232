// Malformed IPC in both directions ends the run cleanly: a partition that
// sends bad frames makes the simulator stop with a clear outcome, and a
// partition that receives bad frames exits with an error instead of
// crashing.
#include <chrono>
#include <dirent.h>
#include <stdlib.h>
#include <string>
#include <thread>
#include <unistd.h>

#include <gtest/gtest.h>

#include "vmbus/hypervisor/child_process.h"
#include "vmbus/ipc/asio.h"
#include "vmbus/ipc/frame.h"
#include "vmbus/ipc/version.h"

#include "system_test_util.h"

namespace vmbus {
namespace {

using testing::base_config;
using testing::describe;
using testing::echo_host;

struct FakeCase {
  const char* mode;
  hypervisor::RunOutcome outcome;
  const char* detail;  // must appear in the run's detail
};

class PartitionSendsBadFrames : public ::testing::TestWithParam<FakeCase> {};

TEST_P(PartitionSendsBadFrames, SimulatorStopsWithAClearOutcome) {
  const FakeCase& c = GetParam();
  ::setenv("VMBUS_FAKE_PARTITION_MODE", c.mode, 1);
  proto::GuestConfig guest;
  guest.mutable_echo()->set_child_relid(1);
  guest.mutable_echo()->set_packets(10);
  hypervisor::SimulationConfig config = base_config(echo_host(1), guest);
  config.host_binary = VMBUS_FAKE_PARTITION_BINARY;
  config.response_timeout = std::chrono::milliseconds(500);

  const hypervisor::RunResult result = hypervisor::run_simulation(config);
  ::unsetenv("VMBUS_FAKE_PARTITION_MODE");

  EXPECT_EQ(result.outcome, c.outcome) << describe(result);
  EXPECT_NE(result.detail.find(c.detail), std::string::npos) << result.detail;
  EXPECT_EQ(result.exit_code(), hypervisor::kExitSimulatorFailure);
}

INSTANTIATE_TEST_SUITE_P(
    Modes, PartitionSendsBadFrames,
    ::testing::Values(
        FakeCase{"garbage", hypervisor::RunOutcome::kProtocolError, "malformed"},
        FakeCase{"oversized", hypervisor::RunOutcome::kProtocolError, "too_large"},
        FakeCase{"wrong-reply", hypervisor::RunOutcome::kProtocolError, "did not answer Hello"},
        FakeCase{"hang", hypervisor::RunOutcome::kPartitionHung, "did not answer within 500 ms"},
        FakeCase{"exit", hypervisor::RunOutcome::kPartitionCrashed, "exited with code 7"},
        FakeCase{"truncated", hypervisor::RunOutcome::kPartitionCrashed,
                 "vmbus-host exited with code 0"}),
    [](const auto& test_info) {
      std::string name = test_info.param.mode;
      name.erase(std::remove(name.begin(), name.end(), '-'), name.end());
      return name;
    });

TEST(FreeRunning, AHangNamesThePartitionThatWentSilentFirstAndWhatEachSentLast) {
  // The host answers Hello and is never heard of again; the guest asks it
  // for a connection (a post) and waits for the answer.
  ::setenv("VMBUS_FAKE_PARTITION_MODE", "silent", 1);
  proto::GuestConfig guest;
  guest.mutable_echo()->set_child_relid(1);
  guest.mutable_echo()->set_packets(10);
  hypervisor::SimulationConfig config = base_config(echo_host(1), guest);
  config.host_binary = VMBUS_FAKE_PARTITION_BINARY;
  config.mode = proto::SCHEDULING_MODE_FREE_RUNNING;
  config.response_timeout = std::chrono::milliseconds(500);

  const hypervisor::RunResult result = hypervisor::run_simulation(config);
  ::unsetenv("VMBUS_FAKE_PARTITION_MODE");

  EXPECT_EQ(result.outcome, hypervisor::RunOutcome::kPartitionHung) << describe(result);
  EXPECT_NE(result.detail.find("no partition sent anything for 500 ms and the guest has not "
                               "finished; vmbus-host went silent first (its last frame, "
                               "hello_ack, came "),
            std::string::npos)
      << result.detail;
  EXPECT_NE(result.detail.find("vmbus-guest's last, post_message, "), std::string::npos)
      << result.detail;
}

// Starts the real vmbus-host on a socket pair and returns the simulator's end.
class PartitionReceivesBadFrames : public ::testing::Test {
 protected:
  void SetUp() override {
    ipc::LocalSocket child_end(io_);
    boost::asio::local::connect_pair(socket_, child_end);
    host_ = std::make_unique<hypervisor::ChildProcess>(
        VMBUS_HOST_BINARY, std::vector<std::string>{"--ipc-fd", "3"}, child_end.native_handle());
  }

  void send_raw(const std::string& bytes) {
    boost::asio::write(socket_, boost::asio::buffer(bytes));
  }

  void send(const proto::SimToPartition& frame) {
    ASSERT_TRUE(ipc::write_frame(socket_, frame).ok());
  }

  proto::SimToPartition hello() {
    proto::SimToPartition frame;
    frame.mutable_hello()->set_ipc_version(ipc::kIpcVersion);
    frame.mutable_hello()->set_role(proto::PARTITION_HOST);
    frame.mutable_hello()->set_mode(proto::SCHEDULING_MODE_DETERMINISTIC);
    frame.mutable_hello()->set_segment_name("vmbus-sim-test-missing-segment");
    return frame;
  }

  // The exit of vmbus-host; it must end by itself (no kill) within 5 s.
  hypervisor::ChildExit wait_for_exit() {
    for (int i = 0; i < 500; ++i) {
      if (auto exit = host_->poll()) {
        return *exit;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ADD_FAILURE() << "vmbus-host did not exit by itself";
    return host_->kill_and_reap();
  }

  boost::asio::io_context io_;
  ipc::LocalSocket socket_{io_};
  std::unique_ptr<hypervisor::ChildProcess> host_;
};

TEST_F(PartitionReceivesBadFrames, GarbageFrameEndsThePartitionWithAnError) {
  send_raw(std::string("\x05\x00\x00\x00", 4) + std::string(5, '\xff'));
  const hypervisor::ChildExit exit = wait_for_exit();
  EXPECT_FALSE(exit.signalled) << exit.describe();
  EXPECT_EQ(exit.code, 1);
}

TEST_F(PartitionReceivesBadFrames, OversizedFrameIsRefusedBeforeAllocating) {
  send_raw(std::string("\xff\xff\xff\xff", 4));
  const hypervisor::ChildExit exit = wait_for_exit();
  EXPECT_FALSE(exit.signalled) << exit.describe();
  EXPECT_EQ(exit.code, 1);
}

TEST_F(PartitionReceivesBadFrames, FrameBeforeHelloIsAProtocolError) {
  proto::SimToPartition step;
  step.mutable_step()->set_context("msg");
  send(step);
  const hypervisor::ChildExit exit = wait_for_exit();
  EXPECT_EQ(exit.code, 1) << exit.describe();
}

TEST_F(PartitionReceivesBadFrames, WrongIpcVersionIsRefused) {
  proto::SimToPartition frame = hello();
  frame.mutable_hello()->set_ipc_version(ipc::kIpcVersion + 1);
  send(frame);
  const hypervisor::ChildExit exit = wait_for_exit();
  EXPECT_EQ(exit.code, 1) << exit.describe();
}

TEST_F(PartitionReceivesBadFrames, MissingSegmentIsAStartFailure) {
  send(hello());
  proto::PartitionToSim reply;
  ASSERT_TRUE(ipc::read_frame(socket_, ipc::kDefaultMaxFrameBytes, reply).ok());
  ASSERT_TRUE(reply.has_failure());
  EXPECT_NE(reply.failure().what().find("vmbus-sim-test-missing-segment"), std::string::npos)
      << reply.failure().what();
  EXPECT_EQ(wait_for_exit().code, 1);
}

TEST_F(PartitionReceivesBadFrames, ClosedConnectionEndsThePartition) {
  socket_.close();
  const hypervisor::ChildExit exit = wait_for_exit();
  EXPECT_EQ(exit.code, 1) << exit.describe();
}

}  // namespace
}  // namespace vmbus
