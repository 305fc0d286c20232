// VmbChannelSendSynchronousRequest: answered, failed, timed
// out, cancelled by the channel going away, and its argument rules.
#include <array>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "kmcl_test_bed.h"

namespace vmbus::kmcl::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

class SyncRequest : public ::testing::Test {
 protected:
  explicit SyncRequest(BedOptions options = {}) : bed(options) {}
  void SetUp() override {
    bed.open();
    bed.vsc.clear_log();
    bed.vsp.clear_log();
  }
  TestBed bed;
};

struct Exchange {
  NTSTATUS status = STATUS_PENDING;
  std::array<std::uint64_t, 2> answer{};
  UINT32 answer_size = 16;
  KIRQL irql = 0xFF;
  std::string context;
};

// Sends `request` and waits without a timeout (or with `timeout`).
std::function<void()> request_body(VMBCHANNEL channel, std::uint64_t request, Exchange* out,
                                   std::optional<LONGLONG> timeout = std::nullopt) {
  return [channel, request, out, timeout] {
    std::uint64_t body = request;
    LARGE_INTEGER limit{timeout.value_or(0)};
    out->irql = KeGetCurrentIrql();
    out->context = current_context_name();
    out->status = VmbChannelSendSynchronousRequest(channel, &body, sizeof(body), nullptr, kWait,
                                                   out->answer.data(), &out->answer_size,
                                                   timeout ? &limit : nullptr);
  };
}

TEST_F(SyncRequest, AnsweredRequestReturnsTheCompletionPayloadAndItsSize) {
  Action echo;
  echo.echo_payload = true;
  bed.vsp.set_default_action(echo);
  Exchange exchange;
  ASSERT_TRUE(bed.run_guest_thread("ask", request_body(bed.guest_channel(), 42, &exchange)));
  EXPECT_EQ(exchange.status, STATUS_SUCCESS);
  EXPECT_EQ(exchange.answer_size, 8u);
  EXPECT_EQ(exchange.answer[0], 42u);
  EXPECT_EQ(exchange.irql, PASSIVE_LEVEL);
  EXPECT_EQ(exchange.context, "thread/ask");
  bed.run_until_idle();
  EXPECT_THAT(bed.vsp.log(), ElementsAre("ProcessPacket #0 DISPATCH dpc/1 complete",
                                         "ProcessingComplete DISPATCH dpc/1 1"));
  EXPECT_THAT(bed.vsc.log(), IsEmpty());  // no completion routine of the driver's
  EXPECT_THAT(codes(bed.guest), IsEmpty());
}

TEST_F(SyncRequest, LongerAnswerIsTruncatedToTheBufferAndSaysBufferOverflow) {
  Action answer;
  answer.completion = text_bytes("0123456789abcdef");
  bed.vsp.set_default_action(answer);
  Exchange exchange;
  exchange.answer_size = 8;
  ASSERT_TRUE(bed.run_guest_thread("ask", request_body(bed.guest_channel(), 1, &exchange)));
  EXPECT_EQ(exchange.status, STATUS_BUFFER_OVERFLOW);
  EXPECT_EQ(exchange.answer_size, 8u);
  EXPECT_EQ(exchange.answer[0], u64_of(text_bytes("01234567")));
}

TEST_F(SyncRequest, UnansweredRequestTimesOutWithStatusCancelledOnTheSimulatedClock) {
  bed.vsp.set_default_action(action_of(PacketAction::kLeaveOutstanding));
  Exchange exchange;
  const std::uint64_t start_ns = bed.now_ns();
  // -100000 * 100 ns: 10 ms from now.
  ASSERT_TRUE(
      bed.run_guest_thread("ask", request_body(bed.guest_channel(), 1, &exchange, -100000)));
  EXPECT_EQ(exchange.status, STATUS_CANCELLED);
  EXPECT_EQ(exchange.answer_size, 0u);
  EXPECT_GE(bed.now_ns(), start_ns + 10'000'000u);
  // The late answer finds no request: dropped and counted.
  bed.vsp.complete_outstanding(u64_bytes(5));
  bed.run_until_idle();
  EXPECT_EQ(bed.guest.channel_stats(bed.guest_channel()).unexpected_completions, 1u);
  EXPECT_THAT(codes(bed.guest), IsEmpty());
}

BedOptions guest_quirk(base::Quirk quirk) {
  BedOptions options;
  options.guest_config.quirks.add(quirk);
  return options;
}

class SyncRequestWithoutTimeoutQuirk : public SyncRequest {
 protected:
  SyncRequestWithoutTimeoutQuirk()
      : SyncRequest(guest_quirk(base::Quirk::kGuestWaitsWithoutTimeout)) {}
};

TEST_F(SyncRequestWithoutTimeoutQuirk, AFailedRequestWaitsPastItsTimeoutUntilTheChannelGoes) {
  bed.vsp.set_default_action(action_of(PacketAction::kFail));
  Exchange exchange;
  bed.spawn_guest_thread("ask", request_body(bed.guest_channel(), 1, &exchange, -1000));
  bed.run_until_idle();
  ASSERT_TRUE(bed.guest.thread_running("ask")) << "the 100 us timeout is ignored";
  ASSERT_EQ(bed.guest.blocked_waits().size(), 1u);
  EXPECT_FALSE(bed.guest.blocked_waits()[0].deadline_ns.has_value());
  VmbChannelDisable(bed.host_channel());  // only the channel's end wakes it
  bed.run_until_idle();
  EXPECT_FALSE(bed.guest.thread_running("ask"));
  EXPECT_EQ(exchange.status, STATUS_DEVICE_REMOVED);
}

TEST_F(SyncRequest, FailedRequestTimesOutWithStatusCancelled) {
  bed.vsp.set_default_action(action_of(PacketAction::kFail));
  Exchange exchange;
  ASSERT_TRUE(bed.run_guest_thread("ask", request_body(bed.guest_channel(), 1, &exchange, -1000)));
  EXPECT_EQ(exchange.status, STATUS_CANCELLED);
  EXPECT_EQ(bed.host.queue_state(bed.host_channel()), QueueState::kStoppedByFail);
}

TEST_F(SyncRequest, FailedRequestWithoutTimeoutEndsWithDeviceRemovedWhenTheHostRescinds) {
  bed.vsp.set_default_action(action_of(PacketAction::kFail));
  Exchange exchange;
  bed.spawn_guest_thread("ask", request_body(bed.guest_channel(), 1, &exchange));
  bed.run_until_idle();
  ASSERT_TRUE(bed.guest.thread_running("ask"));
  ASSERT_EQ(bed.guest.blocked_waits().size(), 1u);
  EXPECT_EQ(bed.guest.blocked_waits()[0].what,
            "the completion of synchronous request trans_id 1 on ch1");
  VmbChannelDisable(bed.host_channel());  // the server revokes: the guest sees a rescind
  bed.run_until_idle();
  EXPECT_FALSE(bed.guest.thread_running("ask"));
  EXPECT_EQ(exchange.status, STATUS_DEVICE_REMOVED);
  EXPECT_EQ(bed.guest.channel_state(bed.guest_channel()), ChannelState::kDisabled);
}

TEST_F(SyncRequest, OnAClosedChannelReturnsDeviceRemovedAtOnce) {
  VmbChannelDisable(bed.host_channel());
  bed.run_until_idle();
  VmbChannelDisable(bed.guest_channel());
  std::uint64_t body = 0;
  EXPECT_EQ(VmbChannelSendSynchronousRequest(bed.guest_channel(), &body, sizeof(body), nullptr,
                                             kWait, nullptr, nullptr, nullptr),
            STATUS_INVALID_DEVICE_STATE);  // Disabled: never opened again
  bed.run_until_idle();
}

TEST(SyncRequestFromPostStarted, NegotiatesBeforeTheChannelCountsAsActive) {
  TestBed bed;
  Action echo;
  echo.echo_payload = true;
  bed.vsp.set_default_action(echo);
  Exchange exchange;
  bed.vsc.on_post_started = [&exchange](VMBCHANNEL channel) {
    request_body(channel, 0x5e55, &exchange)();
  };
  bed.open();
  EXPECT_EQ(exchange.status, STATUS_SUCCESS);
  EXPECT_EQ(exchange.answer[0], 0x5e55u);
  EXPECT_EQ(exchange.context, "passive");
  EXPECT_THAT(codes(bed.guest), IsEmpty());
}

TEST_F(SyncRequest, RefusesACompletionBufferSizeThatIsNotAMultipleOf8) {
  std::uint64_t body = 0;
  std::array<std::byte, 16> answer{};
  UINT32 size = 12;
  EXPECT_EQ(VmbChannelSendSynchronousRequest(bed.guest_channel(), &body, sizeof(body), nullptr,
                                             kWait, answer.data(), &size, nullptr),
            STATUS_INVALID_PARAMETER_7);
  EXPECT_EQ(bed.guest.channel_stats(bed.guest_channel()).packets_sent, 0u);
}

class SmallRingSync : public SyncRequest {
 protected:
  SmallRingSync() : SyncRequest(options()) {}
  static BedOptions options() {
    BedOptions o;
    o.ring_data_bytes = 8192;
    return o;
  }
};

TEST_F(SmallRingSync, ZeroTimeoutWithoutWaitIsNotQueuedWhenTheRingIsFull) {
  VmbChannelPause(bed.host_channel());  // nobody drains the guest's outgoing ring
  for (std::uint64_t i = 0; i < 300; ++i) {
    bed.vsc.send(u64_bytes(i), 0);
  }
  bed.run_until_idle();
  const std::uint64_t queued = bed.guest.channel_stats(bed.guest_channel()).queued_sends;
  EXPECT_GT(queued, 0u);
  std::uint64_t body = 7;
  LARGE_INTEGER zero{0};
  EXPECT_EQ(VmbChannelSendSynchronousRequest(bed.guest_channel(), &body, sizeof(body), nullptr, 0,
                                             nullptr, nullptr, &zero),
            STATUS_BUFFER_OVERFLOW);
  EXPECT_EQ(bed.guest.channel_stats(bed.guest_channel()).queued_sends, queued);
  VmbChannelStart(bed.host_channel());
  bed.run_until_idle();
  // Legal at DISPATCH_LEVEL in this form: try it from a driver DPC.
  NTSTATUS status = STATUS_PENDING;
  const VMBCHANNEL channel = bed.guest_channel();
  bed.guest.create_work_queue("dpc", DISPATCH_LEVEL).post([&status, channel] {
    std::uint64_t payload = 8;
    LARGE_INTEGER none{0};
    status = VmbChannelSendSynchronousRequest(channel, &payload, sizeof(payload), nullptr, 0,
                                              nullptr, nullptr, &none);
  });
  bed.run_until_idle();
  EXPECT_EQ(status, STATUS_SUCCESS);
  EXPECT_EQ(bed.vsp.packets_seen(), 301u);
  EXPECT_THAT(codes(bed.guest), IsEmpty());
}

}  // namespace
}  // namespace vmbus::kmcl::testing
