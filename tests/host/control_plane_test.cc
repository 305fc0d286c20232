// The host's control plane, message by message: the real VmbusServer in
// process, on a fake hypervisor and flat guest memory. Each test feeds the
// guest's messages and checks the exact replies, the notes the host traces
// and the channel's state.
#include <cstring>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "vmbus/wire/synic.h"

#include "host_test_util.h"

namespace vmbus::host::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

// --- version negotiation ------------------------------------------------------------

TEST(HostVersion, AcceptsItsNewestVersionOnConnectionId4AndNamesIt) {
  HostUnderTest host;
  host.receive(contact(wire::kVersionWin10V5_3), wire::kVmbusMessageConnectionId4);

  EXPECT_THAT(host.replies(),
              ElementsAre("CHANNELMSG_VERSION_RESPONSE version_supported=1 connection_state=0 "
                          "msg_conn_id=4"));
  EXPECT_THAT(host.notes(), ElementsAre("connected at protocol 5.3 (0x50003)"));
}

TEST(HostVersion, RefusesAVersionAboveItsMaximumThenAcceptsAnOlderOne) {
  HostUnderTest host(host_config(1, wire::kVersionWin8_1));
  host.receive(contact(wire::kVersionWin10V5), wire::kVmbusMessageConnectionId4);
  host.receive(contact(wire::kVersionWin8_1));

  EXPECT_THAT(host.replies(),
              ElementsAre("CHANNELMSG_VERSION_RESPONSE version_supported=0 connection_state=0 "
                          "msg_conn_id=0",
                          "CHANNELMSG_VERSION_RESPONSE version_supported=1 connection_state=0 "
                          "msg_conn_id=0"));
  EXPECT_THAT(host.notes(),
              ElementsAre("refused protocol 5.0 (0x50000)", "connected at protocol 3.0 (0x30000)"));
}

TEST(HostVersion, RefusesA5xVersionAskedForOnConnectionId1) {
  HostUnderTest host;
  host.receive(contact(wire::kVersionWin10V5_3), wire::kVmbusMessageConnectionId);

  EXPECT_THAT(host.replies(),
              ElementsAre("CHANNELMSG_VERSION_RESPONSE version_supported=0 connection_state=0 "
                          "msg_conn_id=0"));
}

TEST(HostVersion, ListensOnConnectionId4OnlyWhenItSpeaks5_0) {
  EXPECT_THAT(HostUnderTest(host_config(1, wire::kVersionWin10)).server().message_connection_ids(),
              ElementsAre(1u));
  EXPECT_THAT(
      HostUnderTest(host_config(1, wire::kVersionWin10V5)).server().message_connection_ids(),
      ElementsAre(1u, 4u));
}

TEST(HostVersion, IgnoresEveryOtherMessageBeforeTheGuestConnects) {
  HostUnderTest host;
  host.receive(wire::RequestOffers{});

  EXPECT_THAT(host.replies(), IsEmpty());
  EXPECT_THAT(host.notes(), ElementsAre("ignored CHANNELMSG_REQUESTOFFERS: not connected yet"));
}

TEST(HostVersion, UnloadDisconnectsTheGuest) {
  HostUnderTest host;
  host.connect();
  host.receive(wire::Unload{});
  host.receive(wire::RequestOffers{});

  EXPECT_THAT(host.replies(), ElementsAre("CHANNELMSG_UNLOAD_RESPONSE"));
  EXPECT_THAT(host.notes(), ElementsAre("unloaded",
                                        "ignored CHANNELMSG_REQUESTOFFERS: not "
                                        "connected yet"));
}

// --- offers -------------------------------------------------------------------------

TEST(HostOffers, RequestOffersOffersEveryChannelThenSaysAllAreDelivered) {
  HostUnderTest host(host_config(2));
  host.receive(contact(wire::kVersionWin10V5_3), wire::kVmbusMessageConnectionId4);
  host.replies();
  host.receive(wire::RequestOffers{});

  const std::vector<std::string> replies = host.replies();
  ASSERT_EQ(replies.size(), 3u);
  EXPECT_THAT(replies[0], ::testing::StartsWith("CHANNELMSG_OFFERCHANNEL "));
  EXPECT_THAT(replies[0], ::testing::HasSubstr(" child_relid=1 "));
  EXPECT_THAT(replies[0], ::testing::HasSubstr(" connection_id=65537"));
  EXPECT_THAT(replies[1], ::testing::HasSubstr(" child_relid=2 "));
  EXPECT_EQ(replies[2], "CHANNELMSG_ALLOFFERS_DELIVERED");
}

TEST(HostOffers, AnOfferCarriesNoChannelFlagsButWithQuirkHostOffersChnFlags0x4ItHasTheOld0x4) {
  for (const bool quirk : {false, true}) {
    proto::HostConfig config = host_config(1);
    if (quirk) {
      config.add_quirks("host_offers_chn_flags_0x4");
    }
    HostUnderTest host(config);
    host.receive(contact(wire::kVersionWin10V5_3), wire::kVmbusMessageConnectionId4);
    host.replies();
    host.receive(wire::RequestOffers{});

    const std::vector<std::string> replies = host.replies();
    ASSERT_EQ(replies.size(), 2u);
    EXPECT_THAT(replies[0], ::testing::HasSubstr(quirk ? " chn_flags=0x4 " : " chn_flags=0x0 "));
  }
}

// --- GPADLs ---------------------------------------------------------------------------

TEST(HostGpadl, GpadlSpreadOverHeaderAndBodiesIsCreatedWhenTheLastBodyArrives) {
  HostUnderTest host;
  host.connect();
  // 40 pages: more than a GPADL_HEADER holds, so bodies follow.
  std::vector<std::uint64_t> pfns;
  for (std::uint64_t pfn = 16; pfn < 56; ++pfn) {
    pfns.push_back(pfn);
  }
  const std::vector<std::vector<std::byte>> messages = wire::split_gpadl(1, kGpadl, pfns);
  ASSERT_GT(messages.size(), 1u);
  for (std::size_t i = 0; i + 1 < messages.size(); ++i) {
    host.receive_bytes(messages[i]);
    EXPECT_THAT(host.replies(), IsEmpty()) << "after message " << i;
  }
  host.receive_bytes(messages.back());

  EXPECT_THAT(host.replies(), ElementsAre("CHANNELMSG_GPADL_CREATED child_relid=1 gpadl=0xe1e10 "
                                          "creation_status=0x0"));
}

TEST(HostGpadl, GpadlNamingPagesOutsideGuestMemoryIsRefused) {
  HostUnderTest host;
  host.connect();
  const std::vector<std::uint64_t> pfns{0xFFFFFFF0ull, 0xFFFFFFF1ull};
  for (const std::vector<std::byte>& payload : wire::split_gpadl(1, 0xBAD, pfns)) {
    host.receive_bytes(payload);
  }

  EXPECT_THAT(host.replies(), ElementsAre("CHANNELMSG_GPADL_CREATED child_relid=1 gpadl=0xbad "
                                          "creation_status=0xc000000d"));
  EXPECT_THAT(host.notes(), ElementsAre("ignored: GPADL 2989: page 4294967280 is outside guest "
                                        "memory (64 pages)"));
  EXPECT_TRUE(host.server().final_report().host().findings().empty()) << "nothing leaked";
}

TEST(HostGpadl, GpadlOfPagesThatAreNotConsecutiveIsRefused) {
  HostUnderTest host;
  host.connect();
  const std::vector<std::uint64_t> pfns{20, 22};
  for (const std::vector<std::byte>& payload : wire::split_gpadl(1, kGpadl, pfns)) {
    host.receive_bytes(payload);
  }

  EXPECT_THAT(host.replies(), ElementsAre("CHANNELMSG_GPADL_CREATED child_relid=1 "
                                          "gpadl=0xe1e10 creation_status=0xc000000d"));
  EXPECT_THAT(host.notes(), ElementsAre("ignored: GPADL 925200: pages are not contiguous "
                                        "(unsupported by the simulator)"));
}

TEST(HostGpadl, AHandleAlreadyInUseIsRefused) {
  HostUnderTest host;
  host.connect();
  host.create_gpadl(1, kGpadl, 8);
  host.create_gpadl(1, kGpadl, 8);

  EXPECT_THAT(host.replies(), ElementsAre("CHANNELMSG_GPADL_CREATED child_relid=1 "
                                          "gpadl=0xe1e10 creation_status=0x0",
                                          "CHANNELMSG_GPADL_CREATED child_relid=1 "
                                          "gpadl=0xe1e10 creation_status=0xc000000d"));
  EXPECT_THAT(host.notes(), ElementsAre("ignored: GPADL 925200: GPADL handle already in use"));
}

TEST(HostGpadl, GpadlForAChannelNeverOfferedIsIgnored) {
  HostUnderTest host;
  host.connect();
  host.create_gpadl(9, kGpadl, 8);

  EXPECT_THAT(host.replies(), IsEmpty());
  EXPECT_THAT(host.notes(), ElementsAre("ignored: GPADL_HEADER for unknown relid 9"));
}

TEST(HostGpadl, TeardownFreesTheHandleOnlyOnceTheChannelIsClosed) {
  HostUnderTest host;
  host.open();
  wire::GpadlTeardown teardown;
  teardown.child_relid = 1;
  teardown.gpadl = kGpadl;
  host.receive(teardown);
  wire::CloseChannel close;
  close.child_relid = 1;
  host.receive(close);
  host.receive(teardown);
  // The VSP's close still uses the rings: the teardown waits for it.
  EXPECT_THAT(host.replies(), IsEmpty());
  host.run_vsps();

  EXPECT_THAT(host.replies(), ElementsAre("CHANNELMSG_GPADL_TORNDOWN gpadl=0xe1e10"));
  EXPECT_THAT(host.notes(),
              ElementsAre("ignored: GPADL_TEARDOWN of gpadl 925200 while its channel is open"));
}

// --- open and close -------------------------------------------------------------------

TEST(HostOpen, OpenAttachesTheRingsAndIsAnsweredOnceTheVspsOpenedCallbackReturned) {
  HostUnderTest host;
  host.connect();
  host.create_gpadl(1, kGpadl, 8);
  host.replies();
  host.receive(open_channel(1, kGpadl, 4));
  // The VSP's KMCL device opens its channel on the rings; EvtChannelOpened
  // runs on its passive worker, and only then is the OPENCHANNEL answered.
  EXPECT_THAT(host.replies(), IsEmpty());
  EXPECT_TRUE(host.is_ready("kmcl/1/passive"));
  host.run_vsps();

  EXPECT_THAT(host.replies(), ElementsAre("CHANNELMSG_OPENCHANNEL_RESULT child_relid=1 openid=1 "
                                          "status=0x0"));
  const proto::HostChannelReport report = host.channel_report(1);
  EXPECT_EQ(report.state(), proto::HostChannelReport::STATE_OPEN);
  EXPECT_EQ(report.guest_to_host().write_index(), 0u);
  EXPECT_EQ(report.host_to_guest().write_index(), 0u);
}

TEST(HostOpen, OpenOfARelidNeverOfferedIsIgnoredWithoutAnAnswer) {
  HostUnderTest host;
  host.connect();
  host.receive(open_channel(999, kGpadl, 4));

  EXPECT_THAT(host.replies(), IsEmpty());
  EXPECT_THAT(host.notes(), ElementsAre("ignored: OPENCHANNEL for relid 999, which was never "
                                        "offered"));
}

TEST(HostOpen, OpenOfAnOpenChannelIsRefusedWithUnsuccessful) {
  HostUnderTest host;
  host.open();
  host.receive(open_channel(1, kGpadl, 4));

  EXPECT_THAT(host.replies(), ElementsAre("CHANNELMSG_OPENCHANNEL_RESULT child_relid=1 openid=1 "
                                          "status=0xc0000001"));
  EXPECT_THAT(host.notes(), ElementsAre("ignored: OPENCHANNEL for relid 1, which is not closed"));
}

TEST(HostOpen, OpenWithAnotherChannelsGpadlIsRefusedWithInvalidParameter) {
  HostUnderTest host(host_config(2));
  host.connect();
  host.create_gpadl(2, kGpadl, 8);
  host.replies();
  host.receive(open_channel(1, kGpadl, 4));

  EXPECT_THAT(host.replies(), ElementsAre("CHANNELMSG_OPENCHANNEL_RESULT child_relid=1 openid=1 "
                                          "status=0xc000000d"));
  EXPECT_THAT(host.notes(),
              ElementsAre("ignored: OPENCHANNEL: gpadl 925200 is not this channel's"));
  EXPECT_FALSE(host.vsp_ready(1));
}

TEST(HostOpen, OpenWhoseRingOffsetLeavesARingWithoutDataIsRefused) {
  HostUnderTest host;
  host.connect();
  host.create_gpadl(1, kGpadl, 8);
  host.replies();
  host.receive(open_channel(1, kGpadl, 7));

  EXPECT_THAT(host.replies(), ElementsAre("CHANNELMSG_OPENCHANNEL_RESULT child_relid=1 openid=1 "
                                          "status=0xc000000d"));
  EXPECT_THAT(host.notes(), ElementsAre("ignored: OPENCHANNEL: downstream ring offset 7 does not "
                                        "split a 8-page GPADL into two rings"));
}

TEST(HostOpen, ChannelConfiguredToRescindOnOpenAnswersDeviceRemovedThenRescinds) {
  proto::HostConfig config = host_config();
  config.mutable_channels(0)->set_rescind_on_open(true);
  HostUnderTest host(config);
  host.connect();
  host.create_gpadl(1, kGpadl, 8);
  host.replies();
  host.receive(open_channel(1, kGpadl, 4));

  EXPECT_THAT(host.replies(), ElementsAre("CHANNELMSG_OPENCHANNEL_RESULT child_relid=1 openid=1 "
                                          "status=0xc00002b6",
                                          "CHANNELMSG_RESCIND_CHANNELOFFER child_relid=1"));
  EXPECT_EQ(host.channel_report(1).state(), proto::HostChannelReport::STATE_RESCINDED);
}

TEST(HostClose, CloseDetachesTheRingsAndEndsPendingSendsWithCancelled) {
  HostUnderTest host;
  host.open();
  proto::PartitionAction send;
  send.mutable_send()->set_child_relid(1);
  send.mutable_send()->set_count(2);
  send.mutable_send()->set_request_completion(true);
  ASSERT_EQ(host.server().perform(send, host.hv), "");
  host.hv.records.clear();
  wire::CloseChannel close;
  close.child_relid = 1;
  host.receive(close);
  host.run_vsps();  // the VSP's close sequence cancels its sends

  EXPECT_THAT(host.replies(), IsEmpty());
  EXPECT_FALSE(host.vsp_ready(1));
  std::vector<std::string> cancelled;
  for (const proto::TraceRecord& record : host.hv.records) {
    if (record.has_completion()) {
      cancelled.push_back(std::to_string(record.completion().trans_id()) + " " +
                          record.completion().status());
    }
  }
  EXPECT_THAT(cancelled, ElementsAre("1 STATUS_CANCELLED", "2 STATUS_CANCELLED"));
  const proto::HostChannelReport report = host.channel_report(1);
  EXPECT_EQ(report.state(), proto::HostChannelReport::STATE_CLOSED);
  EXPECT_EQ(report.pending_transactions(), 0u);
  EXPECT_FALSE(report.has_host_to_guest());
}

TEST(HostClose, CloseOfAChannelThatIsNotOpenIsIgnored) {
  HostUnderTest host;
  host.connect();
  wire::CloseChannel close;
  close.child_relid = 1;
  host.receive(close);

  EXPECT_THAT(host.replies(), IsEmpty());
  EXPECT_THAT(host.notes(), ElementsAre("ignored: CLOSECHANNEL for relid 1, which is not open"));
}

TEST(HostClose, UnloadClosesOpenChannelsAndDropsEveryGpadl) {
  HostUnderTest host;
  host.open();
  host.receive(wire::Unload{});
  host.run_vsps();

  EXPECT_THAT(host.replies(), ElementsAre("CHANNELMSG_UNLOAD_RESPONSE"));
  EXPECT_FALSE(host.vsp_ready(1));
  EXPECT_EQ(host.channel_report(1).state(), proto::HostChannelReport::STATE_CLOSED);
  EXPECT_TRUE(host.server().final_report().host().findings().empty()) << "no GPADL left";
}

// --- rescind ----------------------------------------------------------------------------

TEST(HostRescind, RescindOfAnOpenChannelDetachesItsRingsAndWaitsForRelidReleased) {
  HostUnderTest host;
  host.open();
  proto::PartitionAction rescind;
  rescind.mutable_channel_op()->set_child_relid(1);
  rescind.mutable_channel_op()->set_op(proto::ChannelOpAction::RESCIND);
  ASSERT_EQ(host.server().perform(rescind, host.hv), "");
  host.run_vsps();  // the VSP's VmbChannelDisable revokes the offer

  EXPECT_THAT(host.replies(), ElementsAre("CHANNELMSG_RESCIND_CHANNELOFFER child_relid=1"));
  EXPECT_FALSE(host.vsp_ready(1));
  EXPECT_EQ(host.server().perform(rescind, host.hv), "channel 1 is already rescinded");
  // The GPADL lives on until the guest releases the relid.
  ASSERT_EQ(host.server().final_report().host().findings_size(), 1);
  EXPECT_EQ(host.server().final_report().host().findings(0).name(), "leak");

  wire::RelidReleased released;
  released.child_relid = 1;
  host.receive(released);
  host.receive(released);

  EXPECT_THAT(host.notes(), ElementsAre("ignored: RELID_RELEASED for relid 1, which was not "
                                        "rescinded"));
  EXPECT_EQ(host.channel_report(1).state(), proto::HostChannelReport::STATE_RESCINDED);
  EXPECT_TRUE(host.server().final_report().host().findings().empty());
  host.receive(open_channel(1, kGpadl, 4));
  EXPECT_THAT(host.replies(), IsEmpty()) << "a released relid is gone";
}

TEST(HostRescind, RelidReleasedForAChannelNotRescindedIsIgnored) {
  HostUnderTest host;
  host.open();
  wire::RelidReleased released;
  released.child_relid = 1;
  host.receive(released);

  EXPECT_THAT(host.notes(), ElementsAre("ignored: RELID_RELEASED for relid 1, which was not "
                                        "rescinded"));
  EXPECT_EQ(host.channel_report(1).state(), proto::HostChannelReport::STATE_OPEN);
}

TEST(HostRescind, AGuestThatConnectsAgainAfterUnloadIsNotOfferedARescindedChannel) {
  HostUnderTest host(host_config(2));
  host.open();
  host.receive(wire::Unload{});
  host.run_vsps();
  proto::PartitionAction rescind;
  rescind.mutable_channel_op()->set_child_relid(2);
  rescind.mutable_channel_op()->set_op(proto::ChannelOpAction::RESCIND);
  ASSERT_EQ(host.server().perform(rescind, host.hv), "");
  host.run_vsps();
  host.replies();
  host.notes();

  host.receive(contact(wire::kVersionWin10V5_3), wire::kVmbusMessageConnectionId4);
  host.receive(wire::RequestOffers{});

  const std::vector<std::string> replies = host.replies();
  ASSERT_EQ(replies.size(), 3u);
  EXPECT_THAT(replies[1], ::testing::HasSubstr(" child_relid=1 "));
  EXPECT_EQ(replies[2], "CHANNELMSG_ALLOFFERS_DELIVERED");
  const std::vector<std::string> notes = host.notes();
  ASSERT_FALSE(notes.empty());
  EXPECT_EQ(notes.front(), "a new connection after UNLOAD: 1 rescinded relid(s) released");
}

TEST(HostOffers, AChannelWithAnInstanceGuidAfterUnloadIsOfferedWithItOnlyAfterTheUnload) {
  proto::HostConfig config = host_config(1);
  config.mutable_channels(0)->set_instance_guid("00000000-0000-0000-0000-000000000001");
  config.mutable_channels(0)->set_instance_guid_after_unload(
      "0000000a-0000-0000-0000-000000000001");
  HostUnderTest host(config);
  host.connect();
  host.receive(wire::RequestOffers{});
  EXPECT_THAT(host.replies().front(),
              ::testing::HasSubstr("if_instance=00000000-0000-0000-0000-000000000001"));
  host.receive(wire::Unload{});
  host.receive(contact(wire::kVersionWin10V5_3), wire::kVmbusMessageConnectionId4);
  host.receive(wire::RequestOffers{});

  const std::vector<std::string> replies = host.replies();
  ASSERT_EQ(replies.size(), 4u);
  EXPECT_THAT(replies[2], ::testing::HasSubstr("if_instance=0000000a-0000-0000-0000-000000000001"));
}

TEST(HostOffers, AnInstanceGuidAfterUnloadThatIsNoGuidIsRefusedAtStart) {
  proto::HostConfig config = host_config(1);
  config.mutable_channels(0)->set_instance_guid_after_unload("nope");
  HostUnderTest host(config);
  EXPECT_EQ(host.start_error(), "channel 1: 'nope' is not a GUID");
}

// --- MODIFYCHANNEL --------------------------------------------------------------------

TEST(HostModifyChannel, IsAnsweredFromProtocol5_3AndRefusedForAChannelNotOpen) {
  HostUnderTest host;
  host.open();
  wire::ModifyChannel modify;
  modify.child_relid = 1;
  host.receive(modify);
  modify.child_relid = 2;
  host.receive(modify);

  EXPECT_THAT(host.replies(),
              ElementsAre("CHANNELMSG_MODIFYCHANNEL_RESPONSE child_relid=1 status=0x0",
                          "CHANNELMSG_MODIFYCHANNEL_RESPONSE child_relid=2 status=0xc000000d"));
}

TEST(HostModifyChannel, IsNotAnsweredBelowProtocol5_3) {
  HostUnderTest host(host_config(1, wire::kVersionWin10V5_2));
  host.receive(contact(wire::kVersionWin10V5_2), wire::kVmbusMessageConnectionId4);
  host.replies();
  wire::ModifyChannel modify;
  modify.child_relid = 1;
  host.receive(modify);

  EXPECT_THAT(host.replies(), IsEmpty());
}

TEST(HostModifyChannel, WithOneGuestVpNothingIsRouted) {
  HostUnderTest host;
  host.open();
  wire::ModifyChannel modify;
  modify.child_relid = 1;
  host.receive(modify);

  EXPECT_THAT(host.hv.event_targets, IsEmpty());
  EXPECT_THAT(host.notes(), IsEmpty());
}

TEST(HostModifyChannel, AnOpenRoutesTheChannelToItsTargetVpAndAModifyMovesIt) {
  proto::HostConfig config = host_config(1);
  config.set_guest_vp_count(3);
  HostUnderTest host(config);
  host.connect();
  host.create_gpadl(1, kGpadl, 8);
  wire::OpenChannel open = open_channel(1, kGpadl, 4);
  open.target_vp = 2;
  host.receive(open);
  host.run_vsps();
  host.replies();
  ASSERT_EQ(host.hv.event_targets.size(), 1u);
  EXPECT_EQ(host.hv.event_targets[0].child_relid, 1u);
  EXPECT_EQ(host.hv.event_targets[0].vp, 2u);

  wire::ModifyChannel modify;
  modify.child_relid = 1;
  modify.target_vp = 0;
  host.receive(modify);
  host.receive(modify);  // the VP it has: answered, nothing moves

  EXPECT_THAT(host.replies(),
              ElementsAre("CHANNELMSG_MODIFYCHANNEL_RESPONSE child_relid=1 status=0x0",
                          "CHANNELMSG_MODIFYCHANNEL_RESPONSE child_relid=1 status=0x0"));
  ASSERT_EQ(host.hv.event_targets.size(), 2u);
  EXPECT_EQ(host.hv.event_targets[1].vp, 0u);
  std::vector<std::string> retargeted;
  for (const proto::TraceRecord& record : host.hv.records) {
    if (record.has_channel() && record.channel().state() == "retargeted") {
      retargeted.push_back(record.channel().detail());
    }
  }
  EXPECT_THAT(retargeted, ElementsAre("interrupts to vp 0 (were vp 2)"));
}

TEST(HostModifyChannel, AVpTheGuestDoesNotHaveIsRefusedAtOpenAndAtModify) {
  proto::HostConfig config = host_config(1);
  config.set_guest_vp_count(2);
  HostUnderTest host(config);
  host.open();
  wire::ModifyChannel modify;
  modify.child_relid = 1;
  modify.target_vp = 2;
  host.receive(modify);

  EXPECT_THAT(host.replies(),
              ElementsAre("CHANNELMSG_MODIFYCHANNEL_RESPONSE child_relid=1 status=0xc000000d"));
  EXPECT_THAT(host.notes(), ElementsAre("ignored: MODIFYCHANNEL for relid 1: target_vp 2 is not "
                                        "one of the guest's 2 VP(s)"));
  ASSERT_EQ(host.hv.event_targets.size(), 1u);  // the open's, to VP 0
  EXPECT_EQ(host.hv.event_targets[0].vp, 0u);

  HostUnderTest refused(config);
  refused.connect();
  refused.create_gpadl(1, kGpadl, 8);
  refused.replies();
  refused.notes();
  wire::OpenChannel open = open_channel(1, kGpadl, 4);
  open.target_vp = 5;
  refused.receive(open);
  EXPECT_THAT(refused.replies(),
              ElementsAre(::testing::HasSubstr("CHANNELMSG_OPENCHANNEL_RESULT child_relid=1")));
  EXPECT_THAT(refused.notes(), ElementsAre("ignored: OPENCHANNEL: target_vp 5 is not one of the "
                                           "guest's 2 VP(s)"));
  EXPECT_THAT(refused.hv.event_targets, IsEmpty());
}

TEST(HostModifyChannel, BelowProtocol5_3AModifyStillMovesTheChannelUnanswered) {
  proto::HostConfig config = host_config(1, wire::kVersionWin10V5_2);
  config.set_guest_vp_count(2);
  HostUnderTest host(config);
  host.receive(contact(wire::kVersionWin10V5_2), wire::kVmbusMessageConnectionId4);
  host.receive(wire::RequestOffers{});
  host.create_gpadl(1, kGpadl, 8);
  host.receive(open_channel(1, kGpadl, 4));
  host.run_vsps();
  host.replies();
  wire::ModifyChannel modify;
  modify.child_relid = 1;
  modify.target_vp = 1;
  host.receive(modify);

  EXPECT_THAT(host.replies(), IsEmpty());
  ASSERT_EQ(host.hv.event_targets.size(), 2u);
  EXPECT_EQ(host.hv.event_targets[1].vp, 1u);
}

// --- scenario sends --------------------------------------------------------------------

TEST(HostSend, ASendObeysTheLimitsBothSidesShareAndFitsGuestMemory) {
  HostUnderTest host;
  host.open();
  proto::PartitionAction action;
  proto::SendAction& send = *action.mutable_send();
  send.set_child_relid(1);
  send.set_count(100'001);
  EXPECT_EQ(host.server().perform(action, host.hv), "count 100001 is more than 100000");
  send.set_count(1);
  send.set_external_pages(1025);
  EXPECT_EQ(host.server().perform(action, host.hv), "external_pages 1025 is more than 1024");
  send.set_external_pages(64);
  EXPECT_EQ(host.server().perform(action, host.hv),
            "external_pages 64 is more than guest memory holds (64 pages)");
  send.set_external_pages(2);
  send.mutable_payload()->set_text("hello");
  EXPECT_EQ(host.server().perform(action, host.hv), "");
  EXPECT_THAT(host.notes(), ElementsAre("send: 1 packet(s) of 5 bytes queued on channel 1 from "
                                        "trans_id 1, 2 external page(s)"));
  // The VSP's KMCL wrote it into the host->guest ring at once.
  EXPECT_NE(host.channel_report(1).host_to_guest().write_index(), 0u);
}

// --- the VSPs: KMCL server endpoints ------------------------------------------------

TEST(HostVsp, EveryOfferedChannelIsServedByAKmclServerEndpointThatOpensWithTheChannel) {
  HostUnderTest host(host_config(2));
  proto::HostReport report = host.server().final_report().host();
  ASSERT_EQ(report.kmcl_channels_size(), 2);
  EXPECT_EQ(report.kmcl_channels(0).child_relid(), 1u);
  EXPECT_EQ(report.kmcl_channels(0).channel_state(), "enabled");  // Enable = offer
  EXPECT_EQ(report.kmcl_channels(1).channel_state(), "enabled");
  host.open(1);
  report = host.server().final_report().host();
  EXPECT_EQ(report.kmcl_channels(0).channel_state(), "open");
  EXPECT_EQ(report.kmcl_channels(0).queue_state(), "running");  // the VSP started it
  EXPECT_EQ(report.kmcl_channels(1).channel_state(), "enabled");
}

TEST(HostVsp, AnOpenWhileTheVspsLastCloseIsNotDoneIsRefused) {
  HostUnderTest host;
  host.open();
  wire::CloseChannel close;
  close.child_relid = 1;
  host.receive(close);  // the VSP's close sequence has not run yet
  host.create_gpadl(1, kGpadl + 1, 8);
  host.replies();
  wire::OpenChannel open = open_channel(1, kGpadl + 1, 4);
  host.receive(open);

  EXPECT_THAT(host.replies(), ElementsAre("CHANNELMSG_OPENCHANNEL_RESULT child_relid=1 openid=1 "
                                          "status=0xc0000001"));
  EXPECT_THAT(host.notes(), ElementsAre("ignored: OPENCHANNEL for relid 1, whose last close is "
                                        "not done"));
  host.run_vsps();
  host.receive(open);
  host.run_vsps();
  EXPECT_THAT(host.replies(), ElementsAre("CHANNELMSG_OPENCHANNEL_RESULT child_relid=1 openid=1 "
                                          "status=0x0"));
}

TEST(HostVsp, AMalformedPacketFromTheGuestIsAProtocolErrorTracedAndTheHostCarriesOn) {
  HostUnderTest host;
  host.open();
  // A descriptor whose len8 (2) is below its offset8 (4), in the
  // guest->host ring, and the guest's signal.
  const ring::PacketDescriptor bad{6, 4, 2, 0, 7};
  std::vector<std::byte> bytes(sizeof(bad) + 8);
  std::memcpy(bytes.data(), &bad, sizeof(bad));
  proto::PartitionAction write;
  proto::RingWriteAction& ring_write = *write.mutable_ring_write();
  ring_write.set_child_relid(1);
  ring_write.set_ring(proto::GUEST_TO_HOST_RING);
  ring_write.mutable_bytes()->set_raw(
      std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
  ring_write.set_write_index(static_cast<std::uint32_t>(bytes.size()));
  ring_write.set_signal(true);
  ASSERT_EQ(host.server().perform(write, host.hv), "");
  host.hv.records.clear();
  host.run_vsps();

  std::vector<std::string> errors;
  for (const proto::TraceRecord& record : host.hv.records) {
    if (record.has_kmcl() && record.kmcl().kind() == "protocol_error") {
      errors.push_back(record.context() + ": " + record.kmcl().detail());
    }
  }
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].rfind("kmcl/1/dpc/1: ", 0), 0u) << errors[0];
  const proto::HostReport report = host.server().final_report().host();
  EXPECT_EQ(report.kmcl_channels(0).queue_state(), "stopped_by_protocol_error");
  EXPECT_EQ(report.kmcl_channels(0).protocol_errors(), 1u);
  EXPECT_TRUE(report.channels(0).vsp_stopped());
  EXPECT_EQ(report.channels(0).state(), proto::HostChannelReport::STATE_OPEN);
}

// A guest data packet without a completion request on the guest->host
// ring, and the guest's signal, as a scenario's ring_write.
proto::PartitionAction guest_packet(const std::string& payload) {
  const ring::PacketDescriptor descriptor{6, 2, static_cast<std::uint16_t>(2 + payload.size() / 8),
                                          0, 7};
  std::vector<std::byte> bytes(sizeof(descriptor) + payload.size() + 8);
  std::memcpy(bytes.data(), &descriptor, sizeof(descriptor));
  std::memcpy(bytes.data() + sizeof(descriptor), payload.data(), payload.size());
  proto::PartitionAction write;
  proto::RingWriteAction& ring_write = *write.mutable_ring_write();
  ring_write.set_child_relid(1);
  ring_write.set_ring(proto::GUEST_TO_HOST_RING);
  ring_write.mutable_bytes()->set_raw(
      std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
  ring_write.set_write_index(static_cast<std::uint32_t>(bytes.size()));
  ring_write.set_signal(true);
  return write;
}

TEST(HostVsp, ANewPolicyWithoutADefaultActionKeepsTheVspKindsDefault) {
  HostUnderTest host;  // an echo VSP
  host.open();
  proto::PartitionAction policy;
  policy.mutable_set_policy()->set_child_relid(1);
  proto::DriverRule& rule = *policy.mutable_set_policy()->add_rule();
  rule.set_payload_prefix("BAD");
  rule.mutable_action()->set_kind(proto::DriverAction::KIND_FAIL);
  ASSERT_EQ(host.server().perform(policy, host.hv), "");
  ASSERT_EQ(host.server().perform(guest_packet("fine one"), host.hv), "");
  host.run_vsps();

  // Echoed as a new packet (nobody asked for a completion), not completed.
  proto::HostReport report = host.server().final_report().host();
  EXPECT_EQ(report.channels(0).packets_received(), 1u);
  EXPECT_EQ(report.channels(0).packets_sent(), 1u);
  EXPECT_EQ(report.kmcl_channels(0).completed(), 1u);
  EXPECT_EQ(report.kmcl_channels(0).failed(), 0u);
}

TEST(HostVsp, ADisabledVspRevokesItsOfferAndCannotBeEnabledAgain) {
  HostUnderTest host(host_config(2));
  host.connect();
  proto::PartitionAction disable;
  disable.mutable_channel_op()->set_child_relid(2);
  disable.mutable_channel_op()->set_op(proto::ChannelOpAction::DISABLE);
  ASSERT_EQ(host.server().perform(disable, host.hv), "");
  host.run_vsps();
  EXPECT_THAT(host.replies(), ElementsAre("CHANNELMSG_RESCIND_CHANNELOFFER child_relid=2"));
  EXPECT_EQ(host.channel_report(2).state(), proto::HostChannelReport::STATE_RESCINDED);
  proto::PartitionAction enable = disable;
  enable.mutable_channel_op()->set_op(proto::ChannelOpAction::ENABLE);
  EXPECT_EQ(host.server().perform(enable, host.hv),
            "the host's VSP enabled channel 2 when it started; a revoked offer is not offered "
            "again");
}

// --- subchannels -----------------------------------------------------------------------

// Channel 1 with subchannels 2 and 3 (indexes 1 and 2), on request if asked.
proto::HostConfig subchannel_config(bool on_request = false) {
  proto::HostConfig config = host_config(3);
  for (int i = 0; i < 3; ++i) {
    config.mutable_channels(i)->set_instance_guid("00000000-0000-0000-0000-000000000001");
  }
  for (int i = 1; i < 3; ++i) {
    config.mutable_channels(i)->set_primary_relid(1);
    config.mutable_channels(i)->set_sub_channel_index(static_cast<std::uint32_t>(i));
    config.mutable_channels(i)->set_offer_on_request(on_request);
  }
  return config;
}

proto::PartitionAction channel_op(std::uint32_t relid, proto::ChannelOpAction::Op op) {
  proto::PartitionAction action;
  action.mutable_channel_op()->set_child_relid(relid);
  action.mutable_channel_op()->set_op(op);
  return action;
}

TEST(HostSubchannels, SubchannelOffersCarryThePrimarysGuidsAndTheirIndex) {
  HostUnderTest host(subchannel_config());
  host.receive(contact(wire::kVersionWin10V5_3), wire::kVmbusMessageConnectionId4);
  host.replies();
  host.receive(wire::RequestOffers{});

  const std::vector<std::string> replies = host.replies();
  ASSERT_EQ(replies.size(), 4u);
  EXPECT_THAT(replies[0], ::testing::HasSubstr(" sub_channel_index=0 child_relid=1 "));
  EXPECT_THAT(replies[1], ::testing::HasSubstr(" sub_channel_index=1 child_relid=2 "));
  EXPECT_THAT(replies[2], ::testing::HasSubstr(" sub_channel_index=2 child_relid=3 "));
  const auto instance = [](const std::string& offer) {
    const std::size_t at = offer.find("if_instance=");
    return offer.substr(at, offer.find(' ', at) - at);
  };
  EXPECT_EQ(instance(replies[1]), instance(replies[0]));
  EXPECT_EQ(instance(replies[2]), instance(replies[0]));
}

TEST(HostSubchannels, SubchannelsOnRequestAreOfferedOnlyByOfferSubchannels) {
  HostUnderTest host(subchannel_config(true));
  proto::PartitionAction offer;
  offer.mutable_offer_subchannels()->set_child_relid(1);
  EXPECT_EQ(host.server().perform(offer, host.hv), "the guest is not connected: no offers yet");
  host.receive(contact(wire::kVersionWin10V5_3), wire::kVmbusMessageConnectionId4);
  host.replies();
  host.receive(wire::RequestOffers{});
  const std::vector<std::string> at_start = host.replies();
  ASSERT_EQ(at_start.size(), 2u);
  EXPECT_THAT(at_start[0], ::testing::HasSubstr(" child_relid=1 "));
  host.receive(open_channel(2, kGpadl, 4));
  EXPECT_THAT(host.replies(), IsEmpty()) << "a subchannel not offered yet is unknown";

  ASSERT_EQ(host.server().perform(offer, host.hv), "");
  const std::vector<std::string> offered = host.replies();
  ASSERT_EQ(offered.size(), 2u);
  EXPECT_THAT(offered[0], ::testing::HasSubstr(" sub_channel_index=1 child_relid=2 "));
  EXPECT_THAT(offered[1], ::testing::HasSubstr(" sub_channel_index=2 child_relid=3 "));
  EXPECT_EQ(host.server().perform(offer, host.hv),
            "channel 1 has no subchannel waiting for a request");
}

TEST(HostSubchannels, ASubchannelWithoutAPrimaryOrWithARepeatedIndexIsRefusedAtStart) {
  proto::HostConfig orphan = subchannel_config();
  orphan.mutable_channels(1)->set_primary_relid(7);
  HostUnderTest host(orphan);
  EXPECT_EQ(host.start_error(), "channel 2: primary_relid 7 is not a primary channel");

  proto::HostConfig repeated = subchannel_config();
  repeated.mutable_channels(2)->set_sub_channel_index(1);
  HostUnderTest again(repeated);
  EXPECT_EQ(again.start_error(), "channel 3: sub_channel_index 1 is outside 1..16 or repeated");
}

TEST(HostSubchannels, RescindingThePrimaryRescindsItsOpenSubchannelsFirst) {
  HostUnderTest host(subchannel_config());
  host.open(1);
  host.create_gpadl(2, kGpadl + 1, 8);
  host.receive(open_channel(2, kGpadl + 1, 4));
  host.run_vsps();
  host.replies();
  ASSERT_EQ(host.channel_report(2).state(), proto::HostChannelReport::STATE_OPEN);

  ASSERT_EQ(host.server().perform(channel_op(1, proto::ChannelOpAction::RESCIND), host.hv), "");
  host.run_vsps();

  EXPECT_THAT(host.replies(), ElementsAre("CHANNELMSG_RESCIND_CHANNELOFFER child_relid=2",
                                          "CHANNELMSG_RESCIND_CHANNELOFFER child_relid=3",
                                          "CHANNELMSG_RESCIND_CHANNELOFFER child_relid=1"));
  for (std::uint32_t relid : {1u, 2u, 3u}) {
    EXPECT_EQ(host.channel_report(relid).state(), proto::HostChannelReport::STATE_RESCINDED);
  }
}

TEST(HostSubchannels, RescindingThePrimaryForgetsSubchannelsStillWaitingForARequest) {
  HostUnderTest host(subchannel_config(true));
  host.connect();

  ASSERT_EQ(host.server().perform(channel_op(1, proto::ChannelOpAction::RESCIND), host.hv), "");
  host.run_vsps();

  EXPECT_THAT(host.replies(), ElementsAre("CHANNELMSG_RESCIND_CHANNELOFFER child_relid=1"));
  proto::PartitionAction offer;
  offer.mutable_offer_subchannels()->set_child_relid(1);
  EXPECT_EQ(host.server().perform(offer, host.hv), "channel 1 is not offered");
}

TEST(HostSubchannels, WithTheQuirkThePrimaryIsRescindedBeforeItsSubchannels) {
  proto::HostConfig config = subchannel_config();
  config.add_quirks("host_rescinds_primary_first");
  HostUnderTest host(config);
  host.connect();

  ASSERT_EQ(host.server().perform(channel_op(1, proto::ChannelOpAction::RESCIND), host.hv), "");
  host.run_vsps();

  EXPECT_THAT(host.replies(), ElementsAre("CHANNELMSG_RESCIND_CHANNELOFFER child_relid=1",
                                          "CHANNELMSG_RESCIND_CHANNELOFFER child_relid=2",
                                          "CHANNELMSG_RESCIND_CHANNELOFFER child_relid=3"));
}

// --- malformed messages ----------------------------------------------------------------
// What a hostile guest sends: each is refused, traced, and the host carries on.

TEST(HostMalformed, TruncatedOpenChannelIsIgnoredAsTooShort) {
  HostUnderTest host;
  host.connect();
  std::vector<std::byte> bytes = wire::encode_message(open_channel(1, kGpadl, 4));
  bytes.resize(20);
  host.receive_bytes(bytes);

  EXPECT_THAT(host.replies(), IsEmpty());
  EXPECT_THAT(host.notes(),
              ElementsAre("ignored unparsed payload_too_short: CHANNELMSG_OPENCHANNEL "
                          "needs 148 bytes, got 20: payload_too_short: "
                          "CHANNELMSG_OPENCHANNEL needs 148 bytes, got 20"));
}

TEST(HostMalformed, UnknownMessageTypeIsIgnored) {
  HostUnderTest host;
  host.connect();
  std::vector<std::byte> bytes(8, std::byte{0});
  bytes[0] = std::byte{99};
  host.receive_bytes(bytes);

  EXPECT_THAT(host.replies(), IsEmpty());
  EXPECT_THAT(host.notes(),
              ElementsAre("ignored unparsed unknown_type: msgtype 99 (offset 0) is beyond "
                          "CHANNELMSG_COUNT 25: unknown_type: msgtype 99 (offset 0) is beyond "
                          "CHANNELMSG_COUNT 25"));
}

TEST(HostMalformed, AHostToGuestMessageFromTheGuestIsIgnored) {
  HostUnderTest host;
  host.connect();
  wire::OpenChannelResult result;
  result.child_relid = 1;
  host.receive(result);

  EXPECT_THAT(host.replies(), IsEmpty());
  EXPECT_THAT(host.notes(),
              ElementsAre("ignored CHANNELMSG_OPENCHANNEL_RESULT child_relid=1 openid=0 "
                          "status=0x0: wrong_direction: CHANNELMSG_OPENCHANNEL_RESULT travels "
                          "host_to_guest but was received by the host"));
}

TEST(HostMalformed, AMessageForAnotherSintOrABusySlotIsDroppedAndTraced) {
  HostUnderTest host;
  const std::vector<std::byte> slot = partition::testing::slot_bytes(wire::RequestOffers{});
  host.server().deliver_message(3, slot, host.hv);
  host.server().deliver_message(wire::kVmbusMessageSint, slot, host.hv);
  host.server().deliver_message(wire::kVmbusMessageSint, slot, host.hv);

  EXPECT_THAT(host.notes(), ElementsAre("dropped a message for SINT 3 (slot busy or malformed)",
                                        "dropped a message for SINT 2 (slot busy or malformed)"));
  EXPECT_TRUE(host.is_ready("msg"));
}

TEST(HostMalformed, HandlingAMessageFreesTheSlotWithAnEndOfMessage) {
  HostUnderTest host;
  host.receive(contact(wire::kVersionWin10V5_3), wire::kVmbusMessageConnectionId4);

  EXPECT_THAT(host.hv.eoms, ElementsAre(wire::kVmbusMessageSint));
  EXPECT_FALSE(host.is_ready("msg"));
}

// --- unstick (OpenVMM's channel_unstick_delay) --------------------------------------

// The ring records the host traced for channel 1, as "op: detail".
std::vector<std::string> ring_decisions(const partition::testing::FakeHypervisor& hv) {
  std::vector<std::string> out;
  for (const proto::TraceRecord& record : hv.records) {
    if (record.has_ring() && record.ring().detail().rfind("unstick", 0) == 0) {
      out.push_back(record.ring().op() + ": " + record.ring().detail());
    }
  }
  return out;
}

// Channel 1 open with `packets` unread packets in its host -> guest ring,
// the clock at 0 and the hypervisor's records cleared.
void open_with_unread_packets(HostUnderTest& host, std::uint32_t packets) {
  host.open();
  if (packets != 0) {
    proto::PartitionAction send;
    send.mutable_send()->set_child_relid(1);
    send.mutable_send()->set_count(packets);
    ASSERT_EQ(host.server().perform(send, host.hv), "");
    host.run_vsps();
  }
  host.hv.signals.clear();
  host.hv.records.clear();
}

TEST(HostUnstick, AWhileAfterTheOpenTheHostSignalsAChannelWhosePacketsAreUnread) {
  proto::HostConfig config = host_config(1);
  config.set_unstick_delay_us(500);
  HostUnderTest host(config);
  open_with_unread_packets(host, 2);
  ASSERT_TRUE(host.is_ready("timer"));
  EXPECT_EQ(host.server().wake_at_ns(), 500'000u);

  host.hv.set_now_ns(499'999);
  host.server().step("timer", host.hv);
  EXPECT_TRUE(host.hv.signals.empty());
  EXPECT_TRUE(host.is_ready("timer"));

  host.hv.set_now_ns(500'000);
  host.server().step("timer", host.hv);
  ASSERT_EQ(host.hv.signals.size(), 1u);
  EXPECT_EQ(host.hv.signals[0].child_relid, 1u);
  EXPECT_THAT(ring_decisions(host.hv),
              ElementsAre("signal: unstick: unread packets a while after the open"));
  EXPECT_FALSE(host.is_ready("timer"));  // once per open
  EXPECT_EQ(host.server().wake_at_ns(), 0u);
}

TEST(HostUnstick, AnEmptyRingIsNotSignalled) {
  proto::HostConfig config = host_config(1);
  config.set_unstick_delay_us(500);
  HostUnderTest host(config);
  open_with_unread_packets(host, 0);
  host.hv.set_now_ns(500'000);
  host.server().step("timer", host.hv);
  EXPECT_TRUE(host.hv.signals.empty());
  EXPECT_THAT(ring_decisions(host.hv), ElementsAre("no_signal: unstick: the ring is empty"));
}

TEST(HostUnstick, WithoutADelayOrWithQuirkHostNeverUnsticksTheHostNeverLooksAgain) {
  for (const bool quirk : {false, true}) {
    proto::HostConfig config = host_config(1);
    if (quirk) {
      config.set_unstick_delay_us(500);
      config.add_quirks("host_never_unsticks");
    }
    HostUnderTest host(config);
    host.connect();
    host.create_gpadl(1, kGpadl, 8);
    host.receive(open_channel(1, kGpadl, 4));
    host.run_vsps();
    host.replies();
    std::vector<std::string> quirk_notes;
    for (const std::string& note : host.notes()) {
      if (note.find("host_never_unsticks") != std::string::npos) {
        quirk_notes.push_back(note);
      }
    }
    EXPECT_EQ(quirk_notes, quirk ? std::vector<std::string>{"quirk host_never_unsticks: channel 1 "
                                                            "is not looked at again after its open"}
                                 : std::vector<std::string>{});
    EXPECT_FALSE(host.is_ready("timer"));
    EXPECT_EQ(host.server().wake_at_ns(), 0u);
  }
}

}  // namespace
}  // namespace vmbus::host::testing
