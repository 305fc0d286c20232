// Where a KMCL driver's channel stands between its device and the wire
// (KmclEndpoint's WireState), through the calls the device and a
// partition's control plane make.
#include "vmbus/partition/kmcl_endpoint.h"

#include <gtest/gtest.h>

namespace vmbus::partition {
namespace {

KmclEndpoint endpoint() {
  proto::KmclDriverConfig config;
  config.set_child_relid(1);
  return KmclEndpoint(config, 1);
}

TEST(KmclWireState, ANewDriverEnablesItsChannelAndWantsItOpened) {
  const KmclEndpoint driver = endpoint();
  EXPECT_EQ(driver.wire, WireState::kOpenWanted);
  EXPECT_TRUE(driver.wants_open());
  EXPECT_FALSE(driver.wants_close());
}

TEST(KmclWireState, AnOpenTheDeviceTakesLeavesNothingWanted) {
  KmclEndpoint driver = endpoint();
  driver.wire_open_started();
  EXPECT_EQ(driver.wire, WireState::kIdle);
  driver.wire_opened(true);
  EXPECT_EQ(driver.wire, WireState::kOpen);
  EXPECT_TRUE(driver.device_has_rings());
  EXPECT_FALSE(driver.wants_open() || driver.wants_close());
}

TEST(KmclWireState, AnOpenTheDeviceRefusedIsClosedAgain) {
  KmclEndpoint driver = endpoint();
  driver.wire_open_started();
  driver.wire_opened(false);
  EXPECT_EQ(driver.wire, WireState::kCloseWanted);
  driver.close_posted();
  EXPECT_EQ(driver.wire, WireState::kIdle);
}

TEST(KmclWireState, ADisableThenAnEnableClosesTheChannelThenOpensItAgain) {
  KmclEndpoint driver = endpoint();
  driver.wire_open_started();
  driver.wire_opened(true);
  driver.on_channel_disabled(driver.channel());
  EXPECT_EQ(driver.wire, WireState::kCloseWanted);
  driver.on_channel_enabled(driver.channel(), {});
  EXPECT_EQ(driver.wire, WireState::kCloseThenOpen);
  EXPECT_TRUE(driver.wants_close());
  driver.close_posted();
  EXPECT_EQ(driver.wire, WireState::kOpenWanted);
}

TEST(KmclWireState, ARescindWhileTheDeviceHasTheRingsFreesThemWhenItsCloseEnds) {
  KmclEndpoint driver = endpoint();
  driver.wire_open_started();
  driver.wire_opened(true);
  EXPECT_TRUE(driver.begin_peer_close());
  EXPECT_EQ(driver.wire, WireState::kPeerClosing);
  EXPECT_FALSE(driver.take_rings_free());
  driver.on_channel_closed(driver.channel());
  EXPECT_EQ(driver.wire, WireState::kRingsFree);
  EXPECT_TRUE(driver.take_rings_free());
  EXPECT_EQ(driver.wire, WireState::kIdle);
}

TEST(KmclWireState, ARescindWhileTheDeviceHasNoRingsLeavesTheirFreeingToTheGuest) {
  KmclEndpoint driver = endpoint();
  EXPECT_FALSE(driver.begin_peer_close());
  EXPECT_EQ(driver.wire, WireState::kOpenWanted);
}

TEST(KmclWireState, ADisableThatEndsDuringARescindFreesTheRings) {
  KmclEndpoint driver = endpoint();
  driver.wire_open_started();
  driver.wire_opened(true);
  driver.begin_peer_close();
  driver.on_channel_disabled(driver.channel());
  EXPECT_EQ(driver.wire, WireState::kRingsFree);
}

}  // namespace
}  // namespace vmbus::partition
