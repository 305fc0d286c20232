// The guest's control plane, message by message: the real VmbusClient in
// process, on a fake hypervisor (which answers each post with a scripted HV
// status) and flat guest memory. Each test feeds the host's messages and
// checks the exact messages the guest posts, the notes it traces, the
// channel's state and what it reports.
#include <algorithm>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "vmbus/wire/synic.h"

#include "guest_test_util.h"

namespace vmbus::guest::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

// The version an INITIATE_CONTACT post asks for, with the connection id it
// was posted on and the HV status it got: "5.3 on 4: 0".
std::string contact_text(const partition::testing::FakeHypervisor::Post& post) {
  const wire::ParseResult parsed = wire::parse_message(post.payload);
  if (!parsed.ok() || !std::holds_alternative<wire::InitiateContact>(parsed.value())) {
    return "not INITIATE_CONTACT: " + post.text();
  }
  const auto& contact = std::get<wire::InitiateContact>(parsed.value());
  return wire::version_number_text(contact.vmbus_version_requested) + " on " +
         std::to_string(post.connection_id) + ": " + std::to_string(post.hv_status);
}

std::vector<std::string> contacts(partition::testing::FakeHypervisor& hv) {
  std::vector<std::string> texts;
  for (const auto& post : hv.take_posts()) {
    texts.push_back(contact_text(post));
  }
  return texts;
}

// --- version negotiation ------------------------------------------------------------

TEST(GuestVersion, AsksForTheNewestVersionFirstOnConnectionId4) {
  GuestUnderTest guest;
  guest.run_control(1);

  ASSERT_EQ(guest.hv.posts.size(), 1u);
  EXPECT_EQ(contact_text(guest.hv.posts[0]), "5.3 on 4: 0");
  EXPECT_THAT(guest.hv.take_post_texts(),
              ElementsAre("CHANNELMSG_INITIATE_CONTACT vmbus_version_requested=5.3 (0x50003) "
                          "target_vcpu=0 msg_sint=2 msg_vtl=0 monitor_page1=0x2000 "
                          "monitor_page2=0x3000"));
  EXPECT_FALSE(guest.is_ready("control")) << "it waits for the VERSION_RESPONSE";
}

TEST(GuestVersion, FallsBackOneVersionOnEachRefusal) {
  GuestUnderTest guest;
  guest.run_control(1);
  guest.receive(version_response(false));
  guest.run_control(1);
  guest.receive(version_response(false));
  guest.run_control(1);

  EXPECT_THAT(contacts(guest.hv), ElementsAre("5.3 on 4: 0", "5.2 on 4: 0", "5.1 on 4: 0"));
  EXPECT_THAT(guest.notes(),
              ElementsAre("host refused 5.3 (0x50003)", "host refused 5.2 (0x50002)"));
}

TEST(GuestVersion, AHostWithoutConnectionId4IsAskedForOlderVersionsUntil4_1OnId1) {
  GuestUnderTest guest;
  // A host below 5.0 has no connection id 4: the hypervisor refuses posts to it.
  guest.hv.answer_posts_to(wire::kVmbusMessageConnectionId4, wire::kHvStatusInvalidConnectionId);
  guest.run_control(5);

  EXPECT_THAT(contacts(guest.hv), ElementsAre("5.3 on 4: 18", "5.2 on 4: 18", "5.1 on 4: 18",
                                              "5.0 on 4: 18", "4.1 on 1: 0"));
  EXPECT_THAT(guest.notes(),
              ElementsAre("no connection id 4 for 5.3 (0x50003): trying an older version",
                          "no connection id 4 for 5.2 (0x50002): trying an older version",
                          "no connection id 4 for 5.1 (0x50001): trying an older version",
                          "no connection id 4 for 5.0 (0x50000): trying an older version"));
  EXPECT_FALSE(guest.is_ready("control"));
}

TEST(GuestVersion, APostTheHypervisorHasNoBufferForIsRetried) {
  GuestUnderTest guest;
  guest.hv.answer_next_post(wire::kHvStatusInsufficientBuffers);
  guest.run_control(2);

  EXPECT_THAT(contacts(guest.hv), ElementsAre("5.3 on 4: 19", "5.3 on 4: 0"));
}

TEST(GuestVersion, AcceptedVersionIsUsedAndOffersAreRequestedOnTheHostsConnectionId) {
  GuestUnderTest guest;
  guest.run_control(1);
  guest.hv.take_posts();
  guest.receive(version_response(true, wire::kVmbusMessageConnectionId4));
  guest.run_control(1);

  ASSERT_EQ(guest.hv.posts.size(), 1u);
  EXPECT_EQ(guest.hv.posts[0].connection_id, wire::kVmbusMessageConnectionId4);
  EXPECT_THAT(guest.hv.take_post_texts(), ElementsAre("CHANNELMSG_REQUESTOFFERS"));
  EXPECT_THAT(guest.notes(),
              ElementsAre("connected at 5.3 (0x50003), messages on connection id 4"));
  EXPECT_EQ(guest.final_report().negotiated_version(), "5.3");
}

TEST(GuestVersion, TheRunFailsWhenTheHostAcceptsNoVersion) {
  proto::GuestConfig config;
  config.set_max_version(wire::kVersionWin8_1);
  GuestUnderTest guest(config);
  guest.run_control(1);
  guest.receive(version_response(false));
  guest.run_control(1);
  guest.receive(version_response(false));
  guest.run_control(1);

  EXPECT_THAT(contacts(guest.hv), ElementsAre("3.0 on 1: 0", "2.4 on 1: 0"));
  ASSERT_EQ(guest.hv.reports.size(), 1u);
  EXPECT_TRUE(guest.hv.reports[0].done);
  EXPECT_EQ(guest.hv.reports[0].values.front().second,
            "failed: the host accepted none of the protocol versions");
  EXPECT_EQ(guest.final_report().negotiated_version(), "");
  EXPECT_FALSE(guest.is_ready("control"));
}

TEST(GuestVersion, AVersionResponseNobodyAskedForIsIgnored) {
  GuestUnderTest guest;
  guest.receive(version_response(true));

  EXPECT_THAT(guest.notes(), ElementsAre("ignored CHANNELMSG_VERSION_RESPONSE version_supported=1 "
                                         "connection_state=0 msg_conn_id=0: VERSION_RESPONSE "
                                         "with no INITIATE_CONTACT outstanding"));
  EXPECT_EQ(guest.final_report().ignored_messages(), 1u);
}

// --- offers -------------------------------------------------------------------------

TEST(GuestOffers, AnOfferBeforeTheConnectionIsUpIsIgnored) {
  GuestUnderTest guest;
  guest.receive(offer(1));

  const std::vector<std::string> notes = guest.notes();
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_THAT(notes[0], ::testing::EndsWith(": OFFERCHANNEL before the connection is up"));
  EXPECT_EQ(guest.final_report().ignored_messages(), 1u);
}

TEST(GuestOffers, AnOfferWithRelidZeroOrAbove2047IsIgnored) {
  GuestUnderTest guest;
  guest.connect();
  guest.receive(offer(0));
  guest.receive(offer(2048));

  const std::vector<std::string> notes = guest.notes();
  ASSERT_EQ(notes.size(), 2u);
  EXPECT_THAT(notes[0], ::testing::EndsWith(": OFFERCHANNEL with relid 0 out of range"));
  EXPECT_THAT(notes[1], ::testing::EndsWith(": OFFERCHANNEL with relid 2048 out of range"));
  EXPECT_EQ(guest.final_report().ignored_messages(), 2u);
}

TEST(GuestOffers, ASecondOfferOfTheSameRelidIsIgnored) {
  GuestUnderTest guest;
  guest.connect();
  guest.receive(offer(1));
  guest.receive(offer(1));

  const std::vector<std::string> notes = guest.notes();
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_THAT(notes[0],
              ::testing::EndsWith(": OFFERCHANNEL for relid 1, which is already offered"));
}

TEST(GuestOffers, AnOfferAskingForConfidentialMemoryIsRefusedAndOthersFlagsAreNot) {
  GuestUnderTest guest;
  guest.connect();
  // 0x4 was SERVER_SUPPORTS_GPADLS before VMBus 6.0, now
  // CONFIDENTIAL_EXTERNAL_MEMORY; 0x2 is CONFIDENTIAL_RING_BUFFER.
  wire::OfferChannel external = offer(1);
  external.chn_flags = wire::kChannelFlagConfidentialExternalMemory;
  wire::OfferChannel ring = offer(2);
  ring.chn_flags = wire::kChannelFlagConfidentialRingBuffer;
  wire::OfferChannel pipe = offer(3);
  pipe.chn_flags = wire::kChannelFlagNamedPipeMode | wire::kChannelFlagEnumerateDeviceInterface;
  guest.receive(external);
  guest.receive(ring);
  guest.receive(pipe);

  const std::vector<std::string> notes = guest.notes();
  ASSERT_EQ(notes.size(), 2u);
  EXPECT_THAT(notes[0], ::testing::EndsWith(
                            ": OFFERCHANNEL for relid 1 asks for confidential (encrypted) ring "
                            "or external memory, chn_flags bit(s) 4; this guest's VMBus is not "
                            "confidential"));
  EXPECT_THAT(notes[1], ::testing::EndsWith(
                            ": OFFERCHANNEL for relid 2 asks for confidential (encrypted) ring "
                            "or external memory, chn_flags bit(s) 2; this guest's VMBus is not "
                            "confidential"));
  const proto::GuestReport report = guest.final_report();
  EXPECT_EQ(report.ignored_messages(), 2u);
}

TEST(GuestOffers, ATruncatedOfferIsIgnoredAsTooShort) {
  GuestUnderTest guest;
  guest.connect();
  std::vector<std::byte> bytes = wire::encode_message(offer(1));
  bytes.resize(100);
  guest.receive_bytes(bytes);
  guest.receive(wire::AllOffersDelivered{});
  guest.control();

  EXPECT_THAT(guest.notes(),
              ElementsAre("ignored unparsed payload_too_short: CHANNELMSG_OFFERCHANNEL needs 196 "
                          "bytes, got 100: payload_too_short: CHANNELMSG_OFFERCHANNEL needs 196 "
                          "bytes, got 100",
                          "channels settled; workload starts"));
  EXPECT_THAT(guest.hv.take_post_texts(), IsEmpty()) << "no channel to open";
}

TEST(GuestOffers, AllOffersDeliveredBringsTheOfferedChannelUpWithAGpadlOverItsRingPages) {
  GuestUnderTest guest;
  guest.connect();
  guest.receive(offer(1));
  guest.receive(wire::AllOffersDelivered{});

  EXPECT_THAT(guest.control(),
              ElementsAre("CHANNELMSG_GPADL_HEADER child_relid=1 gpadl=0xe1e10 range_buflen=72 "
                          "rangecount=1 byte_count=32768 byte_offset=0 "
                          "pfns=[0x10,0x11,0x12,0x13,0x14,0x15,0x16,0x17]"));
  EXPECT_FALSE(guest.is_ready("control")) << "it waits for GPADL_CREATED";
}

// --- subchannels -----------------------------------------------------------------------

// An offer of device 1's channel `relid`: its primary (index 0) or a subchannel.
wire::OfferChannel device_offer(std::uint32_t relid, std::uint16_t sub_channel_index) {
  wire::OfferChannel message = offer(relid);
  message.if_instance = wire::Guid::parse("00000000-0000-0000-0000-000000000001").value();
  message.sub_channel_index = sub_channel_index;
  return message;
}

bool posted_gpadl_for(const std::vector<std::string>& posts, std::uint32_t relid) {
  const std::string prefix = "CHANNELMSG_GPADL_HEADER child_relid=" + std::to_string(relid) + " ";
  return std::any_of(posts.begin(), posts.end(),
                     [&prefix](const std::string& post) { return post.rfind(prefix, 0) == 0; });
}

TEST(GuestSubchannels, ASubchannelIsAttachedToItsPrimaryAndOpensOnlyOnceThePrimaryIsOpen) {
  GuestUnderTest guest;
  guest.connect();
  guest.receive(device_offer(1, 0));
  guest.receive(device_offer(2, 1));
  guest.receive(wire::AllOffersDelivered{});
  std::vector<std::string> posts = guest.control();
  EXPECT_TRUE(posted_gpadl_for(posts, 1));
  EXPECT_FALSE(posted_gpadl_for(posts, 2)) << "the primary is not open yet";

  guest.receive(gpadl_created(1, kFirstGpadl));
  guest.control(1);
  guest.receive(open_result(1));
  posts = guest.control();
  EXPECT_TRUE(posted_gpadl_for(posts, 2));
}

TEST(GuestSubchannels, ASubchannelOfferWithNoPrimaryOfItsDeviceIsIgnored) {
  GuestUnderTest guest;
  guest.connect();
  guest.receive(offer(1));  // another device (zero instance GUID)
  guest.receive(device_offer(2, 1));

  EXPECT_THAT(guest.notes(),
              ElementsAre(::testing::EndsWith(": OFFERCHANNEL of subchannel 1 (relid 2) with no "
                                              "primary channel of its device offered")));
}

TEST(GuestSubchannels, APrimaryRescindedBeforeItsSubchannelIsARescindOrderFinding) {
  GuestUnderTest guest;
  guest.connect();
  guest.receive(device_offer(1, 0));
  guest.receive(device_offer(2, 1));
  wire::RescindChannelOffer rescind;
  rescind.child_relid = 1;
  guest.receive(rescind);
  rescind.child_relid = 2;
  guest.receive(rescind);

  const proto::GuestReport report = guest.final_report();
  ASSERT_EQ(report.findings_size(), 1);
  EXPECT_EQ(report.findings(0).name(), "rescind_order");
  EXPECT_EQ(report.findings(0).what(),
            "the host rescinded channel 1 while its subchannel 1 (relid 2) was still offered");
}

TEST(GuestSubchannels, SubchannelsRescindedBeforeTheirPrimaryAreNoFinding) {
  GuestUnderTest guest;
  guest.connect();
  guest.receive(device_offer(1, 0));
  guest.receive(device_offer(2, 1));
  wire::RescindChannelOffer rescind;
  rescind.child_relid = 2;
  guest.receive(rescind);
  rescind.child_relid = 1;
  guest.receive(rescind);

  EXPECT_TRUE(guest.final_report().findings().empty());
}

TEST(GuestSubchannels, WithTheQuirkASubchannelOfferedDuringTheProbeIsOpenedTwiceAndLeaks) {
  proto::GuestConfig config;
  config.add_quirks("guest_opens_subchannel_twice");
  GuestUnderTest guest(config);
  guest.connect();
  guest.receive(device_offer(1, 0));
  guest.receive(device_offer(2, 1));
  guest.receive(wire::AllOffersDelivered{});
  guest.control();
  guest.receive(gpadl_created(1, kFirstGpadl));
  guest.control(1);
  guest.receive(open_result(1));
  guest.control();
  guest.receive(gpadl_created(2, kFirstGpadl + 1));
  guest.control(1);
  guest.hv.take_posts();
  guest.receive(open_result(2));

  EXPECT_THAT(guest.hv.take_post_texts(),
              ElementsAre("CHANNELMSG_GPADL_HEADER child_relid=2 gpadl=0xe1e12 range_buflen=72 "
                          "rangecount=1 byte_count=32768 byte_offset=0 "
                          "pfns=[0x20,0x21,0x22,0x23,0x24,0x25,0x26,0x27]",
                          "CHANNELMSG_OPENCHANNEL child_relid=2 openid=2 "
                          "ringbuffer_gpadlhandle=0xe1e12 target_vp=0 "
                          "downstream_ringbuffer_pageoffset=4 userdata=0"));
  const proto::GuestReport report = guest.final_report();
  ASSERT_EQ(report.findings_size(), 1);
  EXPECT_EQ(report.findings(0).name(), "leak");
  EXPECT_EQ(report.findings(0).what(),
            "a second open of channel 2 left gpadl 925202 and its 8 ring pages allocated");
}

TEST(GuestOffers, NoChannelComesUpBeforeAllOffersDelivered) {
  GuestUnderTest guest;
  guest.connect();
  guest.receive(offer(1));

  EXPECT_FALSE(guest.is_ready("control")) << "the boot-time offers are not all known yet";
  EXPECT_THAT(guest.hv.take_post_texts(), IsEmpty());
}

TEST(GuestOffers, WithQuirkGuestOpensBeforeAllOffersTheFirstOfferBringsItsChannelUp) {
  proto::GuestConfig config;
  config.add_quirks("guest_opens_before_all_offers");
  GuestUnderTest guest(config);
  guest.connect();
  guest.receive(offer(1));

  EXPECT_THAT(guest.control(),
              ElementsAre("CHANNELMSG_GPADL_HEADER child_relid=1 gpadl=0xe1e10 range_buflen=72 "
                          "rangecount=1 byte_count=32768 byte_offset=0 "
                          "pfns=[0x10,0x11,0x12,0x13,0x14,0x15,0x16,0x17]"));
  guest.receive(wire::AllOffersDelivered{});
  EXPECT_THAT(guest.notes(),
              ElementsAre("bringing channels up before ALLOFFERS_DELIVERED (quirk "
                          "guest_opens_before_all_offers)",
                          "ignored CHANNELMSG_ALLOFFERS_DELIVERED: ALLOFFERS_DELIVERED with no "
                          "REQUESTOFFERS outstanding"));
}

// --- GPADLs and open -------------------------------------------------------------------

TEST(GuestOpen, CreatedGpadlIsFollowedByOpenChannelWithTheRingsSplitInHalf) {
  GuestUnderTest guest;
  guest.offer_channel();
  guest.receive(gpadl_created(1, kFirstGpadl));

  EXPECT_THAT(guest.control(1), ElementsAre("CHANNELMSG_OPENCHANNEL child_relid=1 openid=1 "
                                            "ringbuffer_gpadlhandle=0xe1e10 target_vp=0 "
                                            "downstream_ringbuffer_pageoffset=4 userdata=0"));
}

TEST(GuestOpen, ARefusedGpadlFailsTheChannelAndFreesItsPages) {
  GuestUnderTest guest;
  guest.offer_channel();
  guest.hv.records.clear();
  guest.receive(gpadl_created(1, kFirstGpadl, 0xC000000D));

  std::vector<std::string> states;
  for (const proto::TraceRecord& record : guest.hv.records) {
    if (record.has_channel()) {
      states.push_back(record.channel().state() + ": " + record.channel().detail());
    }
  }
  EXPECT_THAT(states, ElementsAre("failed: host refused the GPADL"));
  EXPECT_THAT(guest.control(), IsEmpty()) << "a failed channel is not tried again";
  EXPECT_TRUE(guest.final_report().findings().empty()) << "no ring pages left allocated";
}

TEST(GuestOpen, AGpadlCreatedNobodyAskedForIsIgnored) {
  GuestUnderTest guest;
  guest.offer_channel();
  guest.receive(gpadl_created(1, kFirstGpadl + 1));
  guest.receive(gpadl_created(2, kFirstGpadl));

  const std::vector<std::string> notes = guest.notes();
  ASSERT_EQ(notes.size(), 2u);
  EXPECT_THAT(notes[0], ::testing::EndsWith(
                            ": GPADL_CREATED for relid 1 gpadl 925201, which nobody asked for"));
  EXPECT_THAT(notes[1], ::testing::EndsWith(
                            ": GPADL_CREATED for relid 2 gpadl 925200, which nobody asked for"));
}

TEST(GuestOpen, ARefusedOpenTearsItsGpadlDownThenFreesThePagesAndStaysFailed) {
  GuestUnderTest guest;
  guest.offer_channel();
  guest.receive(gpadl_created(1, kFirstGpadl));
  guest.control(1);
  guest.hv.take_posts();
  guest.receive(open_result(1, 0xC0000001));

  // Until the host has torn the GPADL down the pages are still the host's
  // to use: they stay allocated, and that is no leak while the teardown is
  // under way.
  EXPECT_TRUE(guest.final_report().findings().empty());

  // The error path: GPADL_TEARDOWN, no CLOSECHANNEL (the channel never
  // opened); the pages go when GPADL_TORNDOWN comes.
  EXPECT_THAT(guest.control(),
              ElementsAre("CHANNELMSG_GPADL_TEARDOWN child_relid=1 gpadl=0xe1e10"));
  wire::GpadlTorndown torndown;
  torndown.gpadl = kFirstGpadl;
  guest.receive(torndown);
  // The channel is failed now: pages still allocated would be the leak
  // oracle's "refused by the host but its 8 ring pages are still allocated".
  const proto::GuestReport after = guest.final_report();
  EXPECT_TRUE(after.findings().empty());
  EXPECT_THAT(guest.control(), IsEmpty()) << "a refused channel is not retried";
}

TEST(GuestOpen, AnOpenResultNobodyAskedForIsIgnored) {
  GuestUnderTest guest;
  guest.offer_channel();
  guest.receive(open_result(1));

  const std::vector<std::string> notes = guest.notes();
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_THAT(notes[0],
              ::testing::EndsWith(": OPENCHANNEL_RESULT for relid 1, which nobody asked for"));
}

TEST(GuestOpen, AnAcceptedOpenStartsTheEchoVscOnTheRingsAndTheWorkloadEnds) {
  GuestUnderTest guest;
  guest.open_channel();
  guest.control();

  EXPECT_THAT(guest.notes(), ElementsAre("channels settled; workload starts"));
  ASSERT_EQ(guest.hv.reports.size(), 1u);
  EXPECT_TRUE(guest.hv.reports[0].done);
  EXPECT_EQ(guest.hv.reports[0].values.front().second, "ok");
  // An interrupt for the channel now reaches its receiver.
  guest.client().deliver_event(std::vector<std::uint32_t>{1}, {}, 0, guest.hv);
  guest.client().step("isr", guest.hv);
  EXPECT_TRUE(guest.notes().empty());
}

// --- close ------------------------------------------------------------------------------

TEST(GuestClose, AReopenCycleClosesThenTearsDownThenReopensOnTheSamePages) {
  proto::GuestConfig config;
  config.set_reopen_cycles(1);
  GuestUnderTest guest(config);
  guest.open_channel();

  EXPECT_THAT(guest.control(),
              ElementsAre("CHANNELMSG_CLOSECHANNEL child_relid=1",
                          "CHANNELMSG_GPADL_TEARDOWN child_relid=1 gpadl=0xe1e10"));
  EXPECT_FALSE(guest.is_ready("control")) << "it waits for GPADL_TORNDOWN";
  wire::GpadlTorndown torndown;
  torndown.gpadl = kFirstGpadl;
  guest.receive(torndown);

  const std::vector<std::string> posts = guest.control();
  ASSERT_EQ(posts.size(), 1u);
  EXPECT_THAT(posts[0],
              ::testing::StartsWith("CHANNELMSG_GPADL_HEADER child_relid=1 gpadl=0xe1e11 "));
  EXPECT_THAT(posts[0], ::testing::EndsWith("pfns=[0x10,0x11,0x12,0x13,0x14,0x15,0x16,0x17]"));
}

TEST(GuestClose, AGpadlTorndownNobodyAskedForIsIgnored) {
  GuestUnderTest guest;
  guest.open_channel();
  wire::GpadlTorndown torndown;
  torndown.gpadl = kFirstGpadl;
  guest.receive(torndown);

  const std::vector<std::string> notes = guest.notes();
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_THAT(notes[0],
              ::testing::EndsWith(": GPADL_TORNDOWN for gpadl 925200, which nobody asked for"));
}

// --- rescind ----------------------------------------------------------------------------

TEST(GuestRescind, ARescindIsAnsweredWithRelidReleasedAndTheRingPagesAreFreed) {
  GuestUnderTest guest;
  guest.open_channel();
  wire::RescindChannelOffer rescind;
  rescind.child_relid = 1;
  guest.receive(rescind);

  EXPECT_THAT(guest.hv.take_post_texts(), ElementsAre("CHANNELMSG_RELID_RELEASED child_relid=1"));
  const proto::GuestReport report = guest.final_report();
  EXPECT_EQ(report.rescinds(), 1u);
  EXPECT_TRUE(report.findings().empty()) << "the ring pages were freed";
}

TEST(GuestRescind, ASecondRescindAndOneForAnUnknownRelidAreIgnored) {
  GuestUnderTest guest;
  guest.open_channel();
  wire::RescindChannelOffer rescind;
  rescind.child_relid = 1;
  guest.receive(rescind);
  guest.receive(rescind);
  rescind.child_relid = 7;
  guest.receive(rescind);

  const std::vector<std::string> notes = guest.notes();
  ASSERT_EQ(notes.size(), 2u);
  EXPECT_THAT(notes[0], ::testing::EndsWith(": second RESCIND_CHANNELOFFER for relid 1"));
  EXPECT_THAT(notes[1], ::testing::EndsWith(": RESCIND_CHANNELOFFER for unknown relid 7"));
  EXPECT_EQ(guest.final_report().rescinds(), 1u);
  EXPECT_EQ(guest.final_report().ignored_messages(), 2u);
}

// The host answers a GPADL of a revoked channel, and the answer names the
// relid: the relid goes back only once the answer came.
TEST(GuestRescind, ARescindWithTheGpadlUnansweredKeepsTheRelidUntilGpadlCreated) {
  GuestUnderTest guest;
  guest.offer_channel();
  guest.hv.take_posts();
  wire::RescindChannelOffer rescind;
  rescind.child_relid = 1;
  guest.receive(rescind);
  EXPECT_THAT(guest.hv.take_post_texts(), IsEmpty());
  EXPECT_THAT(guest.control(), IsEmpty()) << "no OPENCHANNEL for a rescinded channel";
  guest.notes();

  guest.receive(gpadl_created(1, kFirstGpadl));
  EXPECT_THAT(guest.hv.take_post_texts(), ElementsAre("CHANNELMSG_RELID_RELEASED child_relid=1"));
  EXPECT_THAT(guest.notes(), IsEmpty()) << "the answer is handled, not ignored";
  const proto::GuestReport report = guest.final_report();
  EXPECT_EQ(report.rescinds(), 1u);
  EXPECT_TRUE(report.findings().empty()) << "the ring pages were freed";
}

TEST(GuestQuirks, ReleasingTheRelidWithTheGpadlPendingLeavesItsAnswerToNobody) {
  proto::GuestConfig config;
  config.add_quirks("guest_releases_relid_with_gpadl_pending");
  GuestUnderTest guest(config);
  guest.offer_channel();
  guest.hv.take_posts();
  wire::RescindChannelOffer rescind;
  rescind.child_relid = 1;
  guest.receive(rescind);
  EXPECT_THAT(guest.hv.take_post_texts(), ElementsAre("CHANNELMSG_RELID_RELEASED child_relid=1"));
  guest.notes();

  guest.receive(gpadl_created(1, kFirstGpadl));
  const std::vector<std::string> notes = guest.notes();
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_THAT(notes[0], ::testing::EndsWith(
                            ": GPADL_CREATED for relid 1 gpadl 925200, which nobody asked for"));
}

TEST(GuestQuirks, IgnoringARescindWhileOpeningKeepsWaitingForTheOpenResult) {
  proto::GuestConfig config;
  config.add_quirks("guest_ignores_rescind_while_opening");
  GuestUnderTest guest(config);
  guest.offer_channel();
  guest.receive(gpadl_created(1, kFirstGpadl));
  guest.control(1);
  guest.hv.take_posts();
  wire::RescindChannelOffer rescind;
  rescind.child_relid = 1;
  guest.receive(rescind);

  EXPECT_THAT(guest.hv.take_post_texts(), IsEmpty()) << "no RELID_RELEASED";
  EXPECT_EQ(guest.final_report().rescinds(), 0u);
  const std::vector<std::string> notes = guest.notes();
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_EQ(notes[0],
            "quirk guest_ignores_rescind_while_opening: relid 1 keeps waiting for its "
            "OPENCHANNEL_RESULT");
}

TEST(GuestQuirks, HandlingADuplicateRescindReleasesTheRelidTwice) {
  proto::GuestConfig config;
  config.add_quirks("guest_handles_duplicate_rescind");
  GuestUnderTest guest(config);
  guest.open_channel();
  wire::RescindChannelOffer rescind;
  rescind.child_relid = 1;
  guest.receive(rescind);
  guest.receive(rescind);

  EXPECT_THAT(guest.hv.take_post_texts(), ElementsAre("CHANNELMSG_RELID_RELEASED child_relid=1",
                                                      "CHANNELMSG_RELID_RELEASED child_relid=1"));
  EXPECT_EQ(guest.final_report().rescinds(), 1u);
}

TEST(GuestQuirks, AnOpenErrorPathThatKeepsTheGpadlLeaksTheRingPages) {
  proto::GuestConfig config;
  config.add_quirks("guest_open_error_path_keeps_gpadl");
  GuestUnderTest guest(config);
  guest.offer_channel();
  guest.receive(gpadl_created(1, kFirstGpadl));
  guest.control(1);
  guest.hv.take_posts();
  guest.receive(open_result(1, 0xC0000001));

  EXPECT_THAT(guest.control(), IsEmpty()) << "no GPADL_TEARDOWN";
  const proto::GuestReport report = guest.final_report();
  ASSERT_EQ(report.findings_size(), 1);
  EXPECT_THAT(report.findings(0).what(),
              ::testing::HasSubstr("channel 1 is refused by the host but its 8 ring pages are "
                                   "still allocated"));
}

TEST(GuestQuirks, AnOfferOverwritingAnOpenChannelsRecordLeaksItsPages) {
  proto::GuestConfig config;
  config.add_quirks("guest_overwrites_channel_on_duplicate_offer");
  GuestUnderTest guest(config);
  guest.open_channel();
  guest.receive(offer(1));

  const proto::GuestReport report = guest.final_report();
  ASSERT_EQ(report.findings_size(), 1);
  EXPECT_THAT(
      report.findings(0).what(),
      ::testing::HasSubstr("8 guest pages are allocated but held by no channel and no send"));
}

TEST(GuestRescind, RescindingTheEchoChannelMidWorkloadFailsTheRun) {
  proto::GuestConfig config;
  config.mutable_echo()->set_child_relid(1);
  config.mutable_echo()->set_packets(10);
  GuestUnderTest guest(config);
  guest.open_channel();
  guest.control();
  wire::RescindChannelOffer rescind;
  rescind.child_relid = 1;
  guest.receive(rescind);

  ASSERT_EQ(guest.hv.reports.size(), 1u);
  EXPECT_EQ(guest.hv.reports[0].values.front().second,
            "failed: the echo channel was rescinded after 0 packets");
}

TEST(GuestRescind, AKmclDriversRingsAndRelidAreReleasedOnlyOnceItsDeviceHasClosed) {
  proto::GuestConfig config;
  proto::KmclDriverConfig* driver = config.add_kmcl_drivers();
  driver->set_child_relid(1);
  driver->set_scenario(true);
  GuestUnderTest guest(config);
  guest.open_channel();
  wire::RescindChannelOffer rescind;
  rescind.child_relid = 1;
  guest.receive(rescind);

  // RELID_RELEASED would let the host reuse the relid while the close still
  // writes into the rings: it waits for the close (hv_process_channel_removal).
  EXPECT_THAT(guest.hv.take_post_texts(), IsEmpty());
  // The device closes the channel on its passive worker: until then the
  // rings stay (the leak oracle would say so if the run ended here).
  proto::GuestReport report = guest.final_report();
  ASSERT_EQ(report.findings_size(), 1);
  EXPECT_EQ(report.findings(0).what(),
            "channel 1 is rescinded but its 8 ring pages are still allocated");
  for (int i = 0; i < 100; ++i) {
    const std::vector<std::string> ready = guest.client().ready_contexts();
    const auto kmcl = std::find_if(ready.begin(), ready.end(), [](const std::string& context) {
      return context.rfind("kmcl/1/", 0) == 0;
    });
    if (kmcl == ready.end()) {
      break;
    }
    guest.client().step(*kmcl, guest.hv);
  }

  EXPECT_THAT(guest.hv.take_post_texts(), ElementsAre("CHANNELMSG_RELID_RELEASED child_relid=1"));
  report = guest.final_report();
  EXPECT_TRUE(report.findings().empty());
  ASSERT_EQ(report.kmcl_channels_size(), 1);
  EXPECT_EQ(report.kmcl_channels(0).channel_state(), "disabled");
  EXPECT_EQ(report.rescinds(), 1u);
}

// --- virtual processors and MODIFYCHANNEL ----------------------------------------------

proto::GuestConfig two_vp_config(bool quirk = false) {
  proto::GuestConfig config;
  config.set_vp_count(2);
  if (quirk) {
    config.add_quirks("guest_drops_interrupt_on_old_vp");
  }
  return config;
}

proto::PartitionAction modify_channel(std::uint32_t relid, std::uint32_t target_vp) {
  proto::PartitionAction action;
  action.mutable_modify_channel()->set_child_relid(relid);
  action.mutable_modify_channel()->set_target_vp(target_vp);
  return action;
}

wire::ModifyChannelResponse modify_response(std::uint32_t relid, std::uint32_t status) {
  wire::ModifyChannelResponse response;
  response.child_relid = relid;
  response.status = status;
  return response;
}

std::vector<std::string> retargeted_details(partition::testing::FakeHypervisor& hv) {
  std::vector<std::string> details;
  for (const proto::TraceRecord& record : hv.records) {
    if (record.has_channel() && record.channel().state() == "retargeted") {
      details.push_back(record.channel().detail());
    }
  }
  return details;
}

TEST(GuestVps, AreBoundedAndEveryDriversTargetVpMustBeOneOfThem) {
  proto::GuestConfig config;
  config.set_vp_count(5);
  EXPECT_EQ(GuestUnderTest(config).start_error(), "vp_count 5 is outside 1..4");
  config.set_vp_count(2);
  config.add_kmcl_drivers()->set_child_relid(3);
  config.mutable_kmcl_drivers(0)->set_target_vp(2);
  EXPECT_EQ(GuestUnderTest(config).start_error(),
            "channel 3: target_vp 2 is not one of the guest's 2 VP(s)");
  EXPECT_EQ(GuestUnderTest().client().vp_count(), 1u);
}

TEST(GuestVps, OpenChannelNamesTheDriversTargetVp) {
  proto::GuestConfig config = two_vp_config();
  proto::KmclDriverConfig* driver = config.add_kmcl_drivers();
  driver->set_child_relid(1);
  driver->set_scenario(true);
  driver->set_target_vp(1);
  GuestUnderTest guest(config);
  guest.offer_channel();
  guest.receive(gpadl_created(1, kFirstGpadl));

  const std::vector<std::string> posts = guest.control(1);
  ASSERT_EQ(posts.size(), 1u);
  EXPECT_THAT(posts[0], ::testing::StartsWith("CHANNELMSG_OPENCHANNEL "));
  EXPECT_THAT(posts[0], ::testing::HasSubstr(" target_vp=1 "));
  EXPECT_EQ(guest.client().vp_count(), 2u);
}

TEST(GuestVps, AModifyChannelTakesTheNewTargetOnlyWhenTheHostAcceptsIt) {
  GuestUnderTest guest(two_vp_config());
  guest.open_channel();
  guest.control();
  guest.notes();

  EXPECT_EQ(guest.client().perform(modify_channel(1, 1), guest.hv), "");
  EXPECT_THAT(guest.hv.take_post_texts(),
              ElementsAre("CHANNELMSG_MODIFYCHANNEL child_relid=1 target_vp=1"));
  EXPECT_EQ(guest.client().perform(modify_channel(1, 0), guest.hv),
            "a MODIFYCHANNEL of channel 1 is still unanswered");
  EXPECT_THAT(retargeted_details(guest.hv), IsEmpty());

  guest.receive(modify_response(1, 0));
  EXPECT_THAT(retargeted_details(guest.hv), ElementsAre("interrupts expected at vp 1 (were vp 0)"));

  guest.hv.records.clear();
  EXPECT_EQ(guest.client().perform(modify_channel(1, 0), guest.hv), "");
  guest.receive(modify_response(1, 0xC000000D));
  EXPECT_THAT(retargeted_details(guest.hv), IsEmpty()) << "a refused move changes nothing";
  EXPECT_THAT(guest.notes(),
              ElementsAre("MODIFYCHANNEL of channel 1 to vp 0 refused with status 3221225485"));
}

TEST(GuestVps, AModifyChannelIsRefusedForAChannelNotOpenOrAVpTheGuestDoesNotHave) {
  GuestUnderTest guest(two_vp_config());
  guest.open_channel();

  EXPECT_EQ(guest.client().perform(modify_channel(2, 1), guest.hv), "channel 2 is not open");
  EXPECT_EQ(guest.client().perform(modify_channel(1, 2), guest.hv),
            "target_vp 2 is not one of the guest's 2 VP(s)");
  EXPECT_THAT(guest.hv.take_post_texts(), IsEmpty());
}

TEST(GuestVps, AnInterruptOnTheOldVpIsServicedButWithTheQuirkDropped) {
  for (const bool quirk : {false, true}) {
    GuestUnderTest guest(two_vp_config(quirk));
    guest.open_channel();
    guest.control();
    guest.client().perform(modify_channel(1, 1), guest.hv);
    guest.receive(modify_response(1, 0));
    guest.notes();

    guest.client().deliver_event(std::vector<std::uint32_t>{1}, {}, 0, guest.hv);
    ASSERT_TRUE(guest.is_ready("isr"));
    guest.client().step("isr", guest.hv);

    EXPECT_THAT(guest.notes(),
                ElementsAre(quirk ? "quirk guest_drops_interrupt_on_old_vp: interrupt for relid 1 "
                                    "on vp 0, the channel targets vp 1: dropped"
                                  : "interrupt for relid 1 on vp 0, the channel targets vp 1: "
                                    "serviced on vp 0"));
    // On the channel's own VP it is serviced without a word, quirk or not.
    guest.client().deliver_event(std::vector<std::uint32_t>{1}, {}, 1, guest.hv);
    guest.client().step("isr", guest.hv);
    EXPECT_THAT(guest.notes(), IsEmpty());
  }
}

// --- unload -----------------------------------------------------------------------------

TEST(GuestUnload, UnloadAtTheEndWaitsForTheResponseThenReportsDone) {
  proto::GuestConfig config;
  config.set_unload_at_end(true);
  GuestUnderTest guest(config);
  guest.connect();
  guest.receive(wire::AllOffersDelivered{});

  EXPECT_THAT(guest.control(), ElementsAre("CHANNELMSG_UNLOAD"));
  EXPECT_TRUE(guest.hv.reports.empty()) << "not before the UNLOAD_RESPONSE";
  guest.receive(wire::UnloadResponse{});

  EXPECT_THAT(guest.notes(), ElementsAre("channels settled; workload starts", "unloaded"));
  ASSERT_EQ(guest.hv.reports.size(), 1u);
  EXPECT_EQ(guest.hv.reports[0].values.front().second, "ok");
}

TEST(GuestUnload, AnUnloadResponseNobodyAskedForIsIgnored) {
  GuestUnderTest guest;
  guest.connect();
  guest.receive(wire::UnloadResponse{});

  EXPECT_THAT(guest.notes(), ElementsAre("ignored CHANNELMSG_UNLOAD_RESPONSE: UNLOAD_RESPONSE with "
                                         "no UNLOAD outstanding"));
}

TEST(GuestUnload, WithQuirkGuestUnloadMissesResponseTheResponseIsIgnoredAndTheGuestNeverUnloads) {
  proto::GuestConfig config;
  config.set_unload_at_end(true);
  config.add_quirks("guest_unload_misses_response");
  GuestUnderTest guest(config);
  guest.connect();
  guest.receive(wire::AllOffersDelivered{});

  EXPECT_THAT(guest.control(), ElementsAre("CHANNELMSG_UNLOAD"));
  guest.receive(wire::UnloadResponse{});

  EXPECT_THAT(guest.notes(),
              ElementsAre("channels settled; workload starts",
                          "ignored CHANNELMSG_UNLOAD_RESPONSE: UNLOAD_RESPONSE not seen by the "
                          "unload wait (quirk guest_unload_misses_response)"));
  EXPECT_TRUE(guest.hv.reports.empty()) << "still waiting for the response";
}

// --- malformed messages and stray interrupts -----------------------------------------------
// What a hostile host sends: each is refused, traced, and the guest carries on.

TEST(GuestMalformed, AnUnknownMessageTypeIsIgnored) {
  GuestUnderTest guest;
  guest.connect();
  std::vector<std::byte> bytes(8, std::byte{0});
  bytes[0] = std::byte{99};
  guest.receive_bytes(bytes);

  EXPECT_THAT(guest.notes(),
              ElementsAre("ignored unparsed unknown_type: msgtype 99 (offset 0) is beyond "
                          "CHANNELMSG_COUNT 25: unknown_type: msgtype 99 (offset 0) is beyond "
                          "CHANNELMSG_COUNT 25"));
  EXPECT_EQ(guest.final_report().ignored_messages(), 1u);
}

TEST(GuestMalformed, WithQuirkGuestStopsAtUnknownMessageEveryLaterMessageIsDropped) {
  proto::GuestConfig config;
  config.add_quirks("guest_stops_at_unknown_message");
  GuestUnderTest guest(config);
  guest.connect();
  std::vector<std::byte> bytes(8, std::byte{0});
  bytes[0] = std::byte{99};
  guest.receive_bytes(bytes);
  guest.receive(wire::UnloadResponse{});

  EXPECT_THAT(guest.notes(),
              ElementsAre("ignored unparsed unknown_type: msgtype 99 (offset 0) is beyond "
                          "CHANNELMSG_COUNT 25: unknown_type: msgtype 99 (offset 0) is beyond "
                          "CHANNELMSG_COUNT 25",
                          "message handling stops (quirk guest_stops_at_unknown_message)",
                          "ignored CHANNELMSG_UNLOAD_RESPONSE: message handling stopped at an "
                          "earlier message"));
  EXPECT_EQ(guest.final_report().ignored_messages(), 2u);
}

TEST(GuestMalformed, AGuestToHostMessageFromTheHostIsIgnored) {
  GuestUnderTest guest;
  guest.connect();
  guest.receive(wire::RequestOffers{});

  EXPECT_THAT(guest.notes(),
              ElementsAre("ignored CHANNELMSG_REQUESTOFFERS: wrong_direction: "
                          "CHANNELMSG_REQUESTOFFERS travels guest_to_host but was received by the "
                          "guest"));
}

TEST(GuestMalformed, AnInterruptForARelidWithNoOpenChannelIsANote) {
  GuestUnderTest guest;
  guest.connect();
  guest.client().deliver_event(std::vector<std::uint32_t>{5}, {}, 0, guest.hv);
  ASSERT_TRUE(guest.is_ready("isr"));
  guest.client().step("isr", guest.hv);

  EXPECT_THAT(guest.notes(), ElementsAre("interrupt for relid 5 with no open channel: ignored"));
  EXPECT_FALSE(guest.is_ready("isr"));
}

// --- hibernation -------------------------------------------------------------------

// Runs the guest's own contexts ("control", the KMCL device's) until none
// is ready; the host's answers come from the test.
void run_guest(GuestUnderTest& guest) {
  for (int i = 0; i < 1000; ++i) {
    const std::vector<std::string> ready = guest.client().ready_contexts();
    const auto own = std::find_if(ready.begin(), ready.end(), [](const std::string& context) {
      return context == "control" || context.rfind("kmcl/", 0) == 0;
    });
    if (own == ready.end()) {
      return;
    }
    guest.client().step(*own, guest.hv);
  }
  FAIL() << "the guest never went quiet";
}

std::string perform(GuestUnderTest& guest, proto::PartitionAction action) {
  return guest.client().perform(action, guest.hv);
}

proto::PartitionAction hibernate_action() {
  proto::PartitionAction action;
  action.mutable_hibernate();
  return action;
}

proto::PartitionAction resume_action() {
  proto::PartitionAction action;
  action.mutable_resume();
  return action;
}

proto::GuestConfig kmcl_config(const std::vector<std::string>& quirks = {}) {
  proto::GuestConfig config;
  proto::KmclDriverConfig* driver = config.add_kmcl_drivers();
  driver->set_child_relid(1);
  driver->set_scenario(true);
  for (const std::string& quirk : quirks) {
    config.add_quirks(quirk);
  }
  return config;
}

// Channel 1 open with a KMCL driver, then hibernated: its driver closed it,
// the host tore its GPADL down and answered the UNLOAD.
void open_and_suspend(GuestUnderTest& guest) {
  guest.open_channel();
  run_guest(guest);
  guest.hv.take_posts();
  guest.notes();
  ASSERT_EQ(perform(guest, hibernate_action()), "");
  run_guest(guest);
  EXPECT_THAT(guest.hv.take_post_texts(),
              ElementsAre("CHANNELMSG_CLOSECHANNEL child_relid=1",
                          "CHANNELMSG_GPADL_TEARDOWN child_relid=1 gpadl=0xe1e10"));
  wire::GpadlTorndown torndown;
  torndown.gpadl = kFirstGpadl;
  guest.receive(torndown);
  run_guest(guest);
  EXPECT_THAT(guest.hv.take_post_texts(), ElementsAre("CHANNELMSG_UNLOAD"));
  guest.receive(wire::UnloadResponse{});
}

// Resumed at 5.3 up to the offers: INITIATE_CONTACT, VERSION_RESPONSE, REQUESTOFFERS.
void resume_to_offers(GuestUnderTest& guest) {
  ASSERT_EQ(perform(guest, resume_action()), "");
  guest.run_control(1);
  EXPECT_THAT(contacts(guest.hv), ElementsAre("5.3 on 4: 0"));
  guest.receive(version_response(true, wire::kVmbusMessageConnectionId4));
  EXPECT_THAT(guest.control(1), ElementsAre("CHANNELMSG_REQUESTOFFERS"));
  guest.notes();
}

TEST(GuestHibernation, SuspendClosesTheOpenChannelThenUnloadsAndKeepsItsRecord) {
  GuestUnderTest guest(kmcl_config());
  open_and_suspend(guest);

  const std::vector<std::string> notes = guest.notes();
  EXPECT_NE(std::find(notes.begin(), notes.end(),
                      "VMBus suspending: 1 channel(s) kept for resume; UNLOAD posted"),
            notes.end());
  EXPECT_EQ(notes.back(), "VMBus suspended: 1 channel(s) kept for resume");
  EXPECT_TRUE(guest.hv.reports.empty()) << "a suspend is not the end of the run";
  ASSERT_EQ(guest.client().final_report().guest().findings_size(), 0) << "no ring page kept";
}

TEST(GuestHibernation, ResumeMatchesTheReofferByItsGuidsAndTheDriverOpensTheChannelAgain) {
  GuestUnderTest guest(kmcl_config());
  open_and_suspend(guest);
  resume_to_offers(guest);
  guest.receive(offer(1));
  guest.receive(wire::AllOffersDelivered{});

  EXPECT_THAT(guest.notes(), ElementsAre("VMBus resumed: 1 channel(s) to open again, 0 missing"));
  run_guest(guest);
  const std::vector<std::string> posts = guest.hv.take_post_texts();
  ASSERT_EQ(posts.size(), 1u);
  EXPECT_EQ(posts[0].rfind("CHANNELMSG_GPADL_HEADER child_relid=1", 0), 0u) << posts[0];
}

TEST(GuestHibernation, AReofferWithAChangedInstanceIsMissingAtTheTimeoutAndNoSecondSuspend) {
  proto::GuestConfig config = kmcl_config();
  config.set_resume_timeout_us(2000);
  GuestUnderTest guest(config);
  open_and_suspend(guest);
  resume_to_offers(guest);
  guest.hv.set_now_ns(5000);
  wire::OfferChannel changed = offer(1);
  changed.if_instance = wire::Guid::parse("0000000a-0000-0000-0000-000000000001").value();
  guest.receive(changed);
  guest.receive(wire::AllOffersDelivered{});

  EXPECT_THAT(guest.notes(), ElementsAre("1 channel(s) kept at suspend not offered again yet: "
                                         "waiting for them up to 2000 us"));
  EXPECT_THAT(guest.client().ready_contexts(), ElementsAre("timer"));
  EXPECT_EQ(guest.client().wake_at_ns(), 5000u + 2'000'000u);
  guest.hv.set_now_ns(5000 + 2'000'000);
  guest.client().step("timer", guest.hv);

  EXPECT_THAT(guest.notes(), ElementsAre("VMBus resumed: 0 channel(s) to open again, 1 missing"));
  EXPECT_THAT(guest.client().ready_contexts(), IsEmpty()) << "no driver opens the new device";
  EXPECT_EQ(perform(guest, hibernate_action()),
            "the guest cannot hibernate again: its last resume went on with device(s) missing");
}

TEST(GuestHibernation, AKeptDeviceReofferedUnderAnotherRelidIsTakenAsANewDevice) {
  GuestUnderTest guest(kmcl_config());
  open_and_suspend(guest);
  resume_to_offers(guest);
  guest.receive(offer(7));  // the same GUIDs; the drivers are bound to relid 1
  guest.receive(wire::AllOffersDelivered{});

  EXPECT_EQ(guest.client().final_report().guest().findings_size(), 0);
  const std::vector<std::string> notes = guest.notes();
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_EQ(notes[0],
            "1 channel(s) kept at suspend not offered again yet: waiting for them up to 100000 us");
}

TEST(GuestHibernation, WithQuirkGuestWaitsForeverOnResumeTheWaitHasNoDeadline) {
  GuestUnderTest guest(kmcl_config({"guest_waits_forever_on_resume"}));
  open_and_suspend(guest);
  resume_to_offers(guest);
  guest.receive(wire::AllOffersDelivered{});

  EXPECT_THAT(guest.notes(),
              ElementsAre("1 channel(s) kept at suspend not offered again yet: waiting for them "
                          "with no timeout (quirk guest_waits_forever_on_resume)"));
  EXPECT_THAT(guest.client().ready_contexts(), IsEmpty());
  EXPECT_EQ(guest.client().wake_at_ns(), 0u);
  const proto::GuestReport report = guest.final_report();
  ASSERT_EQ(report.findings_size(), 1);
  EXPECT_EQ(report.findings(0).name(), "resume_hang");
  EXPECT_EQ(report.findings(0).what(),
            "the guest's VMBus resume from hibernation never finished: 1 channel(s) kept at "
            "suspend were never offered again");
}

TEST(GuestHibernation, ARescindWhileSuspendedPostsNothingAndTheResumeDoesNotWaitForIt) {
  GuestUnderTest guest(kmcl_config());
  open_and_suspend(guest);
  guest.notes();
  wire::RescindChannelOffer rescind;
  rescind.child_relid = 1;
  guest.receive(rescind);
  guest.receive(offer(2));

  EXPECT_THAT(guest.hv.take_post_texts(), IsEmpty()) << "the UNLOAD released the relid";
  EXPECT_THAT(
      guest.notes(),
      ElementsAre(::testing::EndsWith(": OFFERCHANNEL while the bus is suspended: dropped")));
  resume_to_offers(guest);
  guest.receive(wire::AllOffersDelivered{});
  EXPECT_THAT(guest.notes(), ElementsAre("VMBus resumed: 0 channel(s) to open again, 0 missing"));
}

TEST(GuestHibernation, WithQuirkARescindWhileSuspendedReleasesTheRelidAndTheResumeWaitsForIt) {
  GuestUnderTest guest(kmcl_config({"guest_handles_rescind_while_suspended"}));
  open_and_suspend(guest);
  guest.notes();
  wire::RescindChannelOffer rescind;
  rescind.child_relid = 1;
  guest.receive(rescind);

  EXPECT_THAT(guest.hv.take_post_texts(), ElementsAre("CHANNELMSG_RELID_RELEASED child_relid=1"));
  resume_to_offers(guest);
  guest.receive(wire::AllOffersDelivered{});
  EXPECT_THAT(guest.notes(), ElementsAre("1 channel(s) kept at suspend not offered again yet: "
                                         "waiting for them up to 100000 us"));
}

TEST(GuestHibernation, ARescindBeforeTheUnloadIsALiveOneAndTheChannelIsNotKept) {
  GuestUnderTest guest(kmcl_config());
  guest.open_channel();
  run_guest(guest);
  guest.hv.take_posts();
  ASSERT_EQ(perform(guest, hibernate_action()), "");
  run_guest(guest);
  guest.hv.take_posts();
  wire::GpadlTorndown torndown;
  torndown.gpadl = kFirstGpadl;
  guest.receive(torndown);
  wire::RescindChannelOffer rescind;
  rescind.child_relid = 1;
  guest.receive(rescind);  // before the control context posts the UNLOAD
  run_guest(guest);

  EXPECT_THAT(guest.hv.take_post_texts(),
              ElementsAre("CHANNELMSG_RELID_RELEASED child_relid=1", "CHANNELMSG_UNLOAD"));
  const std::vector<std::string> notes = guest.notes();
  EXPECT_NE(std::find(notes.begin(), notes.end(),
                      "VMBus suspending: 0 channel(s) kept for resume; UNLOAD posted"),
            notes.end());
}

TEST(GuestHibernation, HibernateIsRefusedWhileAChannelIsClosing) {
  GuestUnderTest guest(kmcl_config());
  guest.open_channel();
  run_guest(guest);
  proto::PartitionAction disable;
  disable.mutable_channel_op()->set_child_relid(1);
  disable.mutable_channel_op()->set_op(proto::ChannelOpAction::DISABLE);
  ASSERT_EQ(perform(guest, disable), "");
  run_guest(guest);
  guest.hv.take_posts();

  EXPECT_EQ(perform(guest, hibernate_action()),
            "the guest cannot hibernate now: channel 1 is opening or closing");
}

TEST(GuestHibernation, HibernateNeedsSettledChannelsAndResumeASuspendedBus) {
  GuestUnderTest guest(kmcl_config());
  guest.connect();
  EXPECT_EQ(perform(guest, hibernate_action()),
            "the guest cannot hibernate now: its VMBus is not connected with its channels settled");
  EXPECT_EQ(perform(guest, resume_action()), "the guest cannot resume: its VMBus is not suspended");
}

}  // namespace
}  // namespace vmbus::guest::testing
