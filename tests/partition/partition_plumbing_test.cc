// The partition plumbing vmbus-host and vmbus-guest share: context names,
// the SynIC message slot, guest memory and its ring placements, and the ring
// snapshots both sides' lost-wakeup oracles read.
#include <cstring>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "vmbus/partition/context_name.h"
#include "vmbus/partition/guest_memory.h"
#include "vmbus/partition/partition_support.h"
#include "vmbus/partition/ring_snapshot.h"
#include "vmbus/partition/send_request.h"
#include "vmbus/partition/testing/fake_hypervisor.h"
#include "vmbus/ring/layout.h"
#include "vmbus/ring/memory.h"
#include "vmbus/wire/messages.h"
#include "vmbus/wire/synic.h"

namespace vmbus::partition {
namespace {

using ::testing::ElementsAre;

// --- context names ----------------------------------------------------------------------

TEST(ContextName, AContextWithoutAChannelIsJustItsKind) {
  const auto name = ContextName::parse("control");
  ASSERT_TRUE(name);
  EXPECT_EQ(name->kind, "control");
  EXPECT_FALSE(name->child_relid);
  EXPECT_EQ(name->rest, "");
  EXPECT_EQ(name->text(), "control");
}

TEST(ContextName, AChannelContextCarriesItsRelidAndTheRestAfterIt) {
  const auto name = ContextName::parse("kmcl/12/thread/op2");
  ASSERT_TRUE(name);
  EXPECT_EQ(name->kind, "kmcl");
  EXPECT_EQ(name->child_relid, 12u);
  EXPECT_EQ(name->rest, "thread/op2");
  EXPECT_EQ(name->text(), "kmcl/12/thread/op2");
}

TEST(ContextName, FormatsWhatItParses) {
  EXPECT_EQ(channel_context("chan", 3), "chan/3");
  EXPECT_EQ(channel_context("kmcl", 1, "dpc/1"), "kmcl/1/dpc/1");
  EXPECT_EQ(ContextName::parse(channel_context("dpc", 2047))->child_relid, 2047u);
}

TEST(ContextName, ARelidThatIsNotADecimal32BitNumberDoesNotParse) {
  EXPECT_FALSE(ContextName::parse("chan/"));
  EXPECT_FALSE(ContextName::parse("chan/x1"));
  EXPECT_FALSE(ContextName::parse("chan/-1"));
  EXPECT_FALSE(ContextName::parse("chan/4294967296"));
  EXPECT_FALSE(ContextName::parse("chan/12345678901"));
  EXPECT_EQ(ContextName::parse("chan/4294967295")->child_relid, 4294967295u);
}

// --- the message slot ---------------------------------------------------------------------

TEST(MessageSlot, HoldsOneMessageAndDropsTheNextWithANote) {
  testing::FakeHypervisor hv;
  MessageSlot slot;
  const std::vector<std::byte> bytes = testing::slot_bytes(wire::RequestOffers{}, 1);
  slot.deliver(wire::kVmbusMessageSint, bytes, hv);
  slot.deliver(wire::kVmbusMessageSint, bytes, hv);

  EXPECT_TRUE(slot.full());
  EXPECT_THAT(hv.take_notes(),
              ElementsAre("dropped a message for SINT 2 (slot busy or malformed)"));
  const wire::HvMessage message = slot.take(hv);
  EXPECT_EQ(message.sender, 1u);
  EXPECT_FALSE(slot.full());
  EXPECT_THAT(hv.eoms, ElementsAre(wire::kVmbusMessageSint));
}

TEST(MessageSlot, DropsAMessageForAnotherSintOrOfTheWrongSize) {
  testing::FakeHypervisor hv;
  MessageSlot slot;
  slot.deliver(5, testing::slot_bytes(wire::RequestOffers{}), hv);
  slot.deliver(wire::kVmbusMessageSint, std::vector<std::byte>(100), hv);

  EXPECT_FALSE(slot.full());
  EXPECT_THAT(hv.take_notes(),
              ElementsAre("dropped a message for SINT 5 (slot busy or malformed)",
                          "dropped a message for SINT 2 (slot busy or malformed)"));
}

// --- guest memory ---------------------------------------------------------------------------

TEST(GuestMemory, MapRingsPlacesTheOutboundRingFirstThenTheInbound) {
  testing::FlatGuestMemory memory(32);
  const ChannelRings rings = map_rings(memory, RingPlacement{16, 4, 6});

  EXPECT_EQ(rings.outbound->region().data(), memory.pages(16, 4).data());
  EXPECT_EQ(rings.outbound->region().size(), 4u * ring::kHvPageSizeBytes);
  EXPECT_EQ(rings.inbound->region().data(), memory.pages(20, 6).data());
  EXPECT_EQ(rings.inbound->region().size(), 6u * ring::kHvPageSizeBytes);
}

TEST(GuestMemory, PagesFitOnlyInsideMemoryWithoutWrappingAround) {
  EXPECT_TRUE(pages_fit(0, 32, 32));
  EXPECT_TRUE(pages_fit(32, 0, 32));
  EXPECT_FALSE(pages_fit(31, 2, 32));
  EXPECT_FALSE(pages_fit(33, 0, 32));
  EXPECT_FALSE(pages_fit(2, UINT64_MAX, 32));
}

TEST(GuestMemory, FlatMemoryStartsZeroedAndPageAligned) {
  testing::FlatGuestMemory memory(4);
  const std::span<std::byte> pages = memory.pages(0, 4);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(pages.data()) % ring::kHvPageSizeBytes, 0u);
  EXPECT_TRUE(
      std::all_of(pages.begin(), pages.end(), [](std::byte b) { return b == std::byte{0}; }));
}

// --- ring snapshots ------------------------------------------------------------------------

TEST(RingOccupancy, SaysWhatLiesBetweenTheWriterAndTheReaderAcrossTheWrap) {
  ring::FlatRingMemory memory(4096);
  const ring::RingView view(memory);

  const auto empty = ring_occupancy(view, 64, 64);
  ASSERT_TRUE(empty);
  EXPECT_EQ(empty->unread_bytes, 0u);
  EXPECT_EQ(empty->free_bytes, 4096u);

  const auto wrapped = ring_occupancy(view, 8, 4088);
  ASSERT_TRUE(wrapped);
  EXPECT_EQ(wrapped->unread_bytes, 16u);
  EXPECT_EQ(wrapped->free_bytes, 4080u);
}

TEST(RingOccupancy, AnIndexOutsideTheDataAreaOrMisalignedIsNoAnswer) {
  ring::FlatRingMemory memory(4096);
  const ring::RingView view(memory);
  EXPECT_FALSE(ring_occupancy(view, 4096, 0));
  EXPECT_FALSE(ring_occupancy(view, 0, 12));
}

TEST(RingSnapshot, ReadsTheFourControlWords) {
  ring::FlatRingMemory memory(4096);
  const ring::RingView view(memory);
  view.control().write_index = 40;
  view.control().read_index = 16;
  view.control().interrupt_mask = 1;
  view.control().pending_send_sz = 200;

  const ControlWords words = read_control_words(view);
  EXPECT_EQ(words.write_index, 40u);
  EXPECT_EQ(words.read_index, 16u);
  EXPECT_EQ(words.interrupt_mask, 1u);
  EXPECT_EQ(words.pending_send_sz, 200u);
}

// --- send requests -----------------------------------------------------------------------

TEST(SendRequest, AnEmptyPayloadIsSixteenCountingBytesAndCountZeroIsOne) {
  proto::SendAction action;
  const auto request = send_request(action);
  ASSERT_TRUE(request.ok()) << request.error();
  ASSERT_EQ(request.value().payload.size(), 16u);
  for (std::size_t i = 0; i < 16; ++i) {
    EXPECT_EQ(request.value().payload[i], static_cast<std::byte>(i));
  }
  EXPECT_EQ(request.value().count, 1u);
  EXPECT_EQ(request.value().external_pages, 0u);
  EXPECT_FALSE(request.value().request_completion);
}

TEST(SendRequest, RawBytesAndTextAreSentAsTheyAre) {
  proto::SendAction action;
  action.mutable_payload()->set_raw(std::string("\x00\x01\xff", 3));
  action.set_count(3);
  action.set_request_completion(true);
  const auto raw = send_request(action);
  ASSERT_TRUE(raw.ok());
  EXPECT_THAT(raw.value().payload, ElementsAre(std::byte{0}, std::byte{1}, std::byte{0xff}));
  EXPECT_EQ(raw.value().count, 3u);
  EXPECT_TRUE(raw.value().request_completion);

  action.mutable_payload()->set_text("hi");
  const auto text = send_request(action);
  ASSERT_TRUE(text.ok());
  EXPECT_THAT(text.value().payload, ElementsAre(std::byte{'h'}, std::byte{'i'}));
}

TEST(SendRequest, HexOrAPatternTheRunnerDidNotResolveIsRefused) {
  proto::SendAction action;
  action.mutable_payload()->set_hex("dead");
  const auto request = send_request(action);
  ASSERT_FALSE(request.ok());
  EXPECT_EQ(request.error(),
            "the payload was not resolved to raw bytes (the runner converts hex and patterns)");
}

TEST(SendRequest, MoreCopiesOrExternalPagesThanTheLimitsAreRefused) {
  proto::SendAction action;
  action.set_count(kMaxSendCopies);
  action.set_external_pages(kMaxExternalPages);
  EXPECT_TRUE(send_request(action).ok());

  action.set_count(kMaxSendCopies + 1);
  EXPECT_EQ(send_request(action).error(), "count 100001 is more than 100000");
  action.set_count(1);
  action.set_external_pages(kMaxExternalPages + 1);
  EXPECT_EQ(send_request(action).error(), "external_pages 1025 is more than 1024");
}

// --- the fake hypervisor ---------------------------------------------------------------------

TEST(FakeHypervisor, AnswersPostsWithTheScriptedStatusesThenThePerIdRuleThenSuccess) {
  testing::FakeHypervisor hv;
  hv.answer_next_post(wire::kHvStatusInsufficientBuffers);
  hv.answer_posts_to(4, wire::kHvStatusInvalidConnectionId);
  const std::vector<std::byte> payload = wire::encode_message(wire::RequestOffers{});

  EXPECT_EQ(hv.post_message(4, payload), wire::kHvStatusInsufficientBuffers);
  EXPECT_EQ(hv.post_message(4, payload), wire::kHvStatusInvalidConnectionId);
  EXPECT_EQ(hv.post_message(1, payload), wire::kHvStatusSuccess);
  ASSERT_EQ(hv.posts.size(), 3u);
  EXPECT_EQ(hv.posts[1].connection_id, 4u);
  EXPECT_EQ(hv.posts[1].hv_status, wire::kHvStatusInvalidConnectionId);
  EXPECT_THAT(hv.take_post_texts(),
              ElementsAre("CHANNELMSG_REQUESTOFFERS", "CHANNELMSG_REQUESTOFFERS",
                          "CHANNELMSG_REQUESTOFFERS"));
  EXPECT_TRUE(hv.posts.empty());
}

}  // namespace
}  // namespace vmbus::partition
