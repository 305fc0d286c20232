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

// --- its trace records ------------------------------------------------------------------

TEST(KmclTraceRecord, NamesTheChannelsRelidAndTheEventsTransactionPacketAndDelivery) {
  KmclEndpoint driver = endpoint();
  driver.pending_trace.clear();
  kmcl::TraceEvent event;
  event.kind = "callback";
  event.handle = 0x20;
  event.context = "dpc/1";
  event.irql = 2;
  event.detail = "EvtVmbChannelProcessPacket #3 delivery 2";
  event.facts = {
      .trans_id = 9, .packet = 3, .delivery = 2, .callback = "EvtVmbChannelProcessPacket"};
  driver.on_event(event);
  kmcl::TraceEvent plain;
  plain.kind = "drain_pass_begin";
  driver.on_event(plain);

  ASSERT_EQ(driver.pending_trace.size(), 2u);
  const proto::KmclRecord& record = driver.pending_trace[0].kmcl();
  EXPECT_EQ(record.kind(), "callback");
  EXPECT_EQ(record.child_relid(), 1u);
  ASSERT_TRUE(record.has_trans_id());
  EXPECT_EQ(record.trans_id(), 9u);
  ASSERT_TRUE(record.has_packet());
  EXPECT_EQ(record.packet(), 3u);
  EXPECT_EQ(record.delivery(), 2u);
  EXPECT_EQ(record.callback(), "EvtVmbChannelProcessPacket");
  EXPECT_EQ(record.detail(), "EvtVmbChannelProcessPacket #3 delivery 2");
  const proto::KmclRecord& bare = driver.pending_trace[1].kmcl();
  EXPECT_EQ(bare.child_relid(), 1u);
  EXPECT_FALSE(bare.has_trans_id());
  EXPECT_FALSE(bare.has_packet());
  EXPECT_EQ(bare.callback(), "");
}

}  // namespace
}  // namespace vmbus::partition
