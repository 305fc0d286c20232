// The three processes end to end: vmbus-sim's hypervisor running the real
// vmbus-host and vmbus-guest binaries.
#include <gtest/gtest.h>

#include "system_test_util.h"

namespace vmbus {
namespace {

using testing::base_config;
using testing::describe;
using testing::echo_host;

TEST(Simulation, ChannelComesUpAndEchoesPackets) {
  proto::GuestConfig guest;
  guest.mutable_echo()->set_child_relid(1);
  guest.mutable_echo()->set_packets(1000);
  guest.mutable_echo()->set_max_payload_bytes(256);

  const hv::RunResult result = hv::run_simulation(base_config(echo_host(1), guest));

  ASSERT_EQ(result.outcome, hv::RunOutcome::kCompleted) << describe(result);
  EXPECT_EQ(result.guest_value("result"), "ok") << describe(result);
  EXPECT_EQ(result.guest_value("version"), "5.3");
  EXPECT_EQ(result.guest_value("packets_echoed"), "1000");
}

}  // namespace
}  // namespace vmbus
