// The server endpoint (docs/KMCL-SEMANTICS.md section 4a): the
// server Init setters and the offer they shape, Enable = offer, Start after
// Enable, Disable = revoke, the VSP retiring its outstanding packets when the
// guest goes away, completions made during a close, the echo VSP, and a
// packet above the server's maximum.
#include <algorithm>
#include <cstring>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "kmcl_test_bed.h"

namespace vmbus::kmcl::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

constexpr GUID kNetType = {
    0xf8615163, 0xdf3e, 0x46c5, {0x91, 0x3f, 0xf2, 0xd2, 0xf9, 0x65, 0xed, 0x0e}};
constexpr GUID kInstance = {0x00000001, 0x0002, 0x0003, {4, 5, 6, 7, 8, 9, 10, 11}};

bool same(const GUID& a, const GUID& b) {
  return std::memcmp(&a, &b, sizeof(GUID)) == 0;
}

// A control plane that only listens.
struct Offers final : ControlPlane {
  void on_channel_enabled(VMBCHANNEL, const ChannelConfig& config) override {
    offered.push_back(config);
  }
  void on_channel_disabled(VMBCHANNEL) override { ++revoked; }
  std::vector<ChannelConfig> offered;
  int revoked = 0;
};

VOID complete_every_packet(VMBCHANNEL, VMBPACKETCOMPLETION packet, PVOID, UINT32, UINT32) {
  VmbChannelPacketComplete(packet, nullptr, 0);
}

VMBCHANNEL allocated(Device& device, bool is_server) {
  VMBCHANNEL channel = nullptr;
  EXPECT_EQ(VmbChannelAllocate(&device, is_server ? TRUE : FALSE, &channel), STATUS_SUCCESS);
  EXPECT_EQ(VmbChannelInitSetProcessPacketCallbacks(channel, complete_every_packet, nullptr),
            STATUS_SUCCESS);
  return channel;
}

Action of_kind(PacketAction kind) {
  Action action;
  action.kind = kind;
  return action;
}

TEST(ServerInit, TheTargetInterfaceIdAndFlagsShapeTheOfferThatEnableMakes) {
  Device device;
  Offers offers;
  device.set_control_plane(&offers);
  const VMBCHANNEL channel = allocated(device, true);
  ASSERT_EQ(VmbServerChannelInitSetTargetInterfaceId(channel, kNetType, kInstance), STATUS_SUCCESS);
  ASSERT_EQ(VmbServerChannelInitSetFlags(channel, VMBUS_SERVER_CHANNEL_INIT_FLAG_OFFER_AS_PIPE),
            STATUS_SUCCESS);
  EXPECT_TRUE(offers.offered.empty());
  ASSERT_EQ(VmbChannelEnable(channel), STATUS_SUCCESS);  // returns at once: the offer
  ASSERT_EQ(offers.offered.size(), 1u);
  const ChannelConfig& offer = offers.offered[0];
  EXPECT_TRUE(offer.is_server);
  ASSERT_TRUE(offer.target_interface_type.has_value());
  EXPECT_TRUE(same(*offer.target_interface_type, kNetType));
  ASSERT_TRUE(offer.target_interface_instance.has_value());
  EXPECT_TRUE(same(*offer.target_interface_instance, kInstance));
  EXPECT_EQ(offer.server_flags, VMBUS_SERVER_CHANNEL_INIT_FLAG_OFFER_AS_PIPE);
  EXPECT_EQ(device.channel_state(channel), ChannelState::kEnabled);
  EXPECT_EQ(device.queue_state(channel), QueueState::kOff);
  device.set_control_plane(nullptr);
}

TEST(ServerInit, RefusesFlagsOutsideTheMaskAndClientChannelsAndCallsAfterEnable) {
  Device device;
  const VMBCHANNEL server = allocated(device, true);
  const VMBCHANNEL client = allocated(device, false);
  EXPECT_EQ(VmbServerChannelInitSetFlags(server, 0x20), STATUS_INVALID_PARAMETER_2);
  EXPECT_EQ(VmbServerChannelInitSetFlags(client, 0), STATUS_INVALID_PARAMETER_1);
  EXPECT_EQ(VmbServerChannelInitSetTargetInterfaceId(client, kNetType, kInstance),
            STATUS_INVALID_PARAMETER_1);
  EXPECT_EQ(VmbClientChannelInitSetRingBufferPageCount(server, 4, 4), STATUS_INVALID_PARAMETER_1);
  EXPECT_THAT(codes(device), IsEmpty());
  ASSERT_EQ(VmbChannelEnable(server), STATUS_SUCCESS);
  EXPECT_EQ(VmbServerChannelInitSetFlags(server, 0), STATUS_INVALID_PARAMETER_1);
  EXPECT_THAT(codes(device), ElementsAre("init_after_enable"));
}

TEST(ServerChannel, EnableWithoutStartLeavesAnOpenedChannelPausedAndTheClientBacksUp) {
  BedOptions options;
  options.start_host = false;
  TestBed bed(options);
  bed.open();
  for (std::uint64_t i = 0; i < 3; ++i) {
    ASSERT_GE(bed.vsc.send(u64_bytes(i), kWait), 0);
  }
  bed.run_until_idle();
  EXPECT_EQ(bed.host.channel_stats(bed.host_channel()).packets_dequeued, 0u);
  EXPECT_EQ(bed.bytes_in(bed.guest_to_host()), 3 * 32u);
  EXPECT_EQ(bed.guest.channel_stats(bed.guest_channel()).sends_in_flight, 3u);
  EXPECT_TRUE(bed.vsc.send_completions().empty());
}

TEST(ServerDisable, RevokesTheOfferAfterItsOwnTeardownAndTheClientSeesARescind) {
  TestBed bed;
  bed.open();
  bed.vsp.set_default_action(of_kind(PacketAction::kLeaveOutstanding));
  bed.vsp.retire_outstanding_on_close = true;
  ASSERT_GE(bed.vsc.send(u64_bytes(1), kWait), 0);
  ASSERT_GE(bed.vsc.send(u64_bytes(2), kWait), 0);
  bed.run_until_idle();
  ASSERT_EQ(bed.vsp.outstanding_count(), 2u);
  bed.vsp.clear_log();
  ASSERT_TRUE(bed.run_host_thread("revoke", [&bed] { VmbChannelDisable(bed.host_channel()); }));
  bed.run_until_idle();
  // The VSP retired both at Suspend; KMCL put no completion on the wire, so
  // the client's requests end with the rescind.
  EXPECT_THAT(bed.vsp.log(), ElementsAre("Suspend PASSIVE thread/revoke retire 2",
                                         "Closed PASSIVE thread/revoke"));
  EXPECT_EQ(bed.host.channel_state(bed.host_channel()), ChannelState::kDisabled);
  EXPECT_EQ(bed.host.channel_stats(bed.host_channel()).completions_sent, 0u);
  EXPECT_EQ(bed.guest.channel_state(bed.guest_channel()), ChannelState::kDisabled);
  ASSERT_EQ(bed.vsc.send_completions().size(), 2u);
  EXPECT_EQ(bed.vsc.send_completions()[0].status, STATUS_DEVICE_REMOVED);
  EXPECT_EQ(bed.vsc.send_completions()[1].status, STATUS_DEVICE_REMOVED);
  EXPECT_THAT(codes(bed.host), IsEmpty());
}

TEST(ServerDisable, TheServersOwnSendsStillInFlightEndWithStatusDeviceRemoved) {
  TestBed bed;
  bed.open();
  // The guest reads nothing while paused: the request stays in flight.
  bed.spawn_guest_thread("pause", [&bed] { VmbChannelPause(bed.guest_channel()); });
  bed.run_until_idle();
  ASSERT_GE(bed.vsp.send(u64_bytes(9), kWait), 0);
  ASSERT_TRUE(bed.run_host_thread("revoke", [&bed] { VmbChannelDisable(bed.host_channel()); }));
  ASSERT_EQ(bed.vsp.send_completions().size(), 1u);
  EXPECT_EQ(bed.vsp.send_completions()[0].status, STATUS_DEVICE_REMOVED);
  bed.run_until_idle();
  // The guest's close discards the request it never read.
  EXPECT_EQ(bed.guest.channel_state(bed.guest_channel()), ChannelState::kDisabled);
  EXPECT_EQ(bed.guest.channel_stats(bed.guest_channel()).discarded_at_close, 1u);
  EXPECT_EQ(bed.vsc.packets_seen(), 0u);
}

TEST(ServerDisable, AServerFailEscalatedToACloseRevokesTheOffer) {
  TestBed bed;
  bed.open();
  ChannelOptions options;
  options.escalate_fail_to_close = true;
  bed.host.set_channel_options(bed.host_channel(), options);
  bed.vsp.set_default_action(of_kind(PacketAction::kFail));
  ASSERT_GE(bed.vsc.send(u64_bytes(1), kWait), 0);
  ASSERT_GE(bed.vsc.send(u64_bytes(2), kWait), 0);
  bed.run_until_idle();
  EXPECT_EQ(bed.host.channel_state(bed.host_channel()), ChannelState::kDisabled);
  // The guest hears a rescind, not a close: its requests end DEVICE_REMOVED.
  EXPECT_EQ(bed.guest.channel_state(bed.guest_channel()), ChannelState::kDisabled);
  ASSERT_EQ(bed.vsc.send_completions().size(), 2u);
  EXPECT_EQ(bed.vsc.send_completions()[0].status, STATUS_DEVICE_REMOVED);
  EXPECT_EQ(bed.vsc.send_completions()[1].status, STATUS_DEVICE_REMOVED);
  EXPECT_THAT(codes(bed.host), IsEmpty());
}

TEST(ServerClose, TheVspRetiresItsOutstandingPacketsWhenTheGuestGoesAway) {
  TestBed bed;
  bed.open();
  RecordingSink sink;
  bed.host.set_trace_sink(&sink);
  bed.vsp.set_default_action(of_kind(PacketAction::kLeaveOutstanding));
  bed.vsp.retire_outstanding_on_close = true;
  for (std::uint64_t i = 0; i < 3; ++i) {
    ASSERT_GE(bed.vsc.send(u64_bytes(i), kWait), 0);
  }
  bed.run_until_idle();
  bed.vsp.clear_log();
  VmbChannelDisable(bed.guest_channel());
  bed.run_until_idle();
  EXPECT_THAT(bed.vsp.log(),
              ElementsAre("Suspend PASSIVE passive retire 3", "Closed PASSIVE passive"));
  EXPECT_EQ(bed.host.channel_state(bed.host_channel()), ChannelState::kClosed);
  const ChannelStats stats = bed.host.channel_stats(bed.host_channel());
  EXPECT_EQ(stats.packets_completed, 3u);
  EXPECT_EQ(stats.completions_sent, 0u);
  EXPECT_EQ(stats.live_packets, 0u);
  EXPECT_EQ(sink.count("completions_dropped_at_close"), 3u);
  // The guest's own Disable cancelled its requests.
  ASSERT_EQ(bed.vsc.send_completions().size(), 3u);
  EXPECT_EQ(bed.vsc.send_completions()[0].status, STATUS_CANCELLED);
  EXPECT_THAT(codes(bed.host), IsEmpty());
  bed.host.set_trace_sink(nullptr);
}

TEST(ServerClose, WithoutRetiringItsPacketsTheVspStallsTheClose) {
  TestBed bed;
  bed.open();
  bed.vsp.set_default_action(of_kind(PacketAction::kLeaveOutstanding));
  ASSERT_GE(bed.vsc.send(u64_bytes(0), kWait), 0);
  bed.run_until_idle();
  VmbChannelDisable(bed.guest_channel());
  bed.run_until_idle();
  EXPECT_EQ(bed.host.channel_state(bed.host_channel()), ChannelState::kClosing);
  bed.host.report_stall();
  EXPECT_THAT(codes(bed.host), ElementsAre("packet_not_retired_at_close", "wait_never_satisfied"));
}

TEST(CloseStatus, ACompletionTheServerMakesWhileItsChannelClosesPutsNothingOnTheWire) {
  TestBed bed;
  bed.open();
  bed.vsp.set_default_action(of_kind(PacketAction::kLeaveOutstanding));
  ASSERT_GE(bed.vsc.send(u64_bytes(7), kWait), 0);
  bed.run_until_idle();
  // The host's Disable waits for the packet; completing it lets the close
  // go on, and the guest hears nothing but the rescind.
  bed.host.spawn_passive_thread("revoke", [&bed] { VmbChannelDisable(bed.host_channel()); });
  bed.run_until([&bed] {
    return bed.host.channel_state(bed.host_channel()) == ChannelState::kClosing &&
           bed.host.blocked_waits().size() == 1;
  });
  bed.vsp.complete_outstanding();
  bed.run_until_idle();
  EXPECT_EQ(bed.host.channel_stats(bed.host_channel()).packets_completed, 1u);
  EXPECT_EQ(bed.host.channel_stats(bed.host_channel()).completions_sent, 0u);
  ASSERT_EQ(bed.vsc.send_completions().size(), 1u);
  EXPECT_EQ(bed.vsc.send_completions()[0].status, STATUS_DEVICE_REMOVED);
}

// A sink that takes only some kinds of event (a long run's owner).
struct PickySink final : TraceSink {
  void on_violation(const Violation&) override {}
  void on_event(const TraceEvent& event) override { kinds.push_back(event.kind); }
  bool wants(std::string_view kind) const override { return kind != "dequeue" && kind != "send"; }
  std::vector<std::string> kinds;
};

TEST(TraceSink, GetsNoEventOfAKindItDoesNotWant) {
  TestBed bed;
  bed.open();
  PickySink sink;
  bed.host.set_trace_sink(&sink);
  ASSERT_GE(bed.vsc.send(u64_bytes(1), kWait), 0);
  ASSERT_GE(bed.vsp.send(u64_bytes(2), 0), 0);
  bed.run_until_idle();
  EXPECT_EQ(std::count(sink.kinds.begin(), sink.kinds.end(), "dequeue"), 0);
  EXPECT_EQ(std::count(sink.kinds.begin(), sink.kinds.end(), "send"), 0);
  EXPECT_EQ(std::count(sink.kinds.begin(), sink.kinds.end(), "complete"), 1);
  bed.host.set_trace_sink(nullptr);
}

TEST(ScriptedDriver, EchoAnswersARequestWithItsOwnPayloadAsTheCompletion) {
  TestBed bed;
  bed.open();
  bed.vsp.set_default_action(of_kind(PacketAction::kEcho));
  ASSERT_GE(bed.vsc.send(text_bytes("ping0001"), kWait), 0);
  bed.run_until_idle();
  ASSERT_EQ(bed.vsc.send_completions().size(), 1u);
  EXPECT_EQ(bed.vsc.send_completions()[0].payload, text_bytes("ping0001"));
  EXPECT_EQ(bed.vsp.echoes_sent(), 0u);
  EXPECT_EQ(bed.vsc.packets_seen(), 0u);
}

TEST(ScriptedDriver, EchoSendsAPacketThatWantsNoCompletionBackAsANewPacket) {
  TestBed bed;
  bed.open();
  bed.vsp.clear_log();
  bed.vsp.set_default_action(of_kind(PacketAction::kEcho));
  ASSERT_GE(bed.vsc.send(text_bytes("ping0002"), 0), 0);
  bed.run_until_idle();
  EXPECT_EQ(bed.vsp.echoes_sent(), 1u);
  EXPECT_TRUE(bed.vsp.send_completions().empty());  // not a send of the driver's
  ASSERT_EQ(bed.vsc.packets_seen(), 1u);
  EXPECT_EQ(bed.vsc.payload_of(0), text_bytes("ping0002"));
  EXPECT_THAT(bed.vsp.log(), ElementsAre("ProcessPacket #0 DISPATCH dpc/1 echo",
                                         "ProcessingComplete DISPATCH dpc/1 1"));
  EXPECT_THAT(codes(bed.host), IsEmpty());
}

class SmallServerMaximum : public ::testing::Test {
 protected:
  SmallServerMaximum() : bed(options()) { bed.open(); }
  static BedOptions options() {
    BedOptions o;
    o.configure_host = [](VMBCHANNEL channel) {
      ASSERT_EQ(VmbChannelInitSetMaximumPacketSize(channel, 64), STATUS_SUCCESS);
    };
    return o;
  }
  TestBed bed;
};

TEST_F(SmallServerMaximum, APacketAboveTheServersMaximumIsAProtocolErrorThere) {
  ASSERT_GE(bed.vsc.send(u64_bytes(0), kWait), 0);
  ASSERT_GE(bed.vsc.send(std::vector<std::byte>(128), kWait), 0);  // the guest's maximum: 4096
  bed.run_until_idle();
  const ChannelStats stats = bed.host.channel_stats(bed.host_channel());
  EXPECT_EQ(stats.protocol_errors, 1u);
  EXPECT_EQ(bed.host.queue_state(bed.host_channel()), QueueState::kStoppedByProtocolError);
  EXPECT_EQ(stats.stop_reason,
            "packet of 128 payload bytes exceeds the channel's maximum packet size 64 "
            "(trans_id 2)");
  ASSERT_EQ(bed.vsc.send_completions().size(), 1u);  // the first only
  EXPECT_EQ(bed.guest.channel_stats(bed.guest_channel()).sends_in_flight, 1u);
  EXPECT_THAT(codes(bed.host), IsEmpty());
}

}  // namespace
}  // namespace vmbus::kmcl::testing
