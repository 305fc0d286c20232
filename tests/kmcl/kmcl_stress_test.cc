// Long randomized runs under seeded random schedules of both devices: every
// packet is retired exactly once, strictly in FIFO order, each completion
// reaches the request it answers, and a seed replays a run exactly.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "kmcl_test_bed.h"

namespace vmbus::kmcl::testing {
namespace {

using ::testing::IsEmpty;

// 30% of first deliveries deferred; of the rest 40% completed later from a
// driver DPC, the others completed in-line. Completions echo the request.
void random_mix_policy(ScriptedDriver& driver) {
  PacketMatch defer_first;
  defer_first.delivery = 1;
  defer_first.percent = 30;
  driver.add_rule(defer_first, action_of(PacketAction::kDefer));
  PacketMatch sometimes;
  sometimes.percent = 40;
  Action later = action_of(PacketAction::kCompleteLater);
  later.echo_payload = true;
  later.later_steps = 2;
  driver.add_rule(sometimes, later);
  Action now;
  now.echo_payload = true;
  driver.set_default_action(now);
}

// Sends `packets` requests from the host, keeping at most `window` queued,
// while the scheduler runs; optionally calls `every_1000_steps`.
void pump(TestBed& bed, std::uint64_t packets, std::uint64_t window,
          const std::function<void(std::uint64_t)>& every_1000_steps = {}) {
  std::uint64_t sent = 0;
  std::uint64_t steps = 0;
  for (;;) {
    while (sent < packets && bed.host.channel_stats(bed.host_channel()).queued_sends < window) {
      ASSERT_EQ(bed.vsp.send(u64_bytes(sent), kWait), static_cast<std::int64_t>(sent));
      ++sent;
    }
    if (!bed.step()) {
      if (sent == packets) {
        return;
      }
      continue;
    }
    if (++steps % 1000 == 0 && every_1000_steps) {
      every_1000_steps(steps);
    }
  }
}

void expect_exactly_once_in_fifo_order(const TestBed& bed, std::uint64_t packets) {
  const std::vector<std::uint64_t>& order = bed.vsc.processed_order();
  ASSERT_EQ(order.size(), packets);
  for (std::uint64_t i = 0; i < packets; ++i) {
    ASSERT_EQ(order[i], i) << "processing order broke at " << i;
    ASSERT_EQ(bed.vsc.payload_of(i), u64_bytes(i)) << "dequeue order broke at " << i;
  }
  ASSERT_EQ(bed.vsc.retirements().size(), packets);
  for (const auto& [index, count] : bed.vsc.retirements()) {
    ASSERT_EQ(count, 1u) << "packet " << index << " retired " << count << " times";
  }
  // Each request got exactly one answer, and it is its own (echoed) payload.
  const auto& completions = bed.vsp.send_completions();
  ASSERT_EQ(completions.size(), packets);
  std::vector<bool> answered(packets, false);
  for (const auto& completion : completions) {
    ASSERT_EQ(completion.status, STATUS_SUCCESS);
    const auto index = static_cast<std::uint64_t>(completion.send_index);
    ASSERT_FALSE(answered[index]) << "request " << index << " answered twice";
    answered[index] = true;
    ASSERT_EQ(completion.payload, u64_bytes(index));
  }
  const ChannelStats stats = bed.guest.channel_stats(bed.guest_channel());
  EXPECT_EQ(stats.live_packets, 0u);
  EXPECT_EQ(stats.packets_completed, packets);
  EXPECT_EQ(stats.deliveries, packets + stats.defers);
  EXPECT_EQ(bed.vsc.redelivery_mismatches(), 0u);
}

TEST(Stress, HundredThousandPacketsAreRetiredExactlyOnceInFifoOrder) {
  BedOptions options;
  options.seed = 20240527;
  TestBed bed(options);
  bed.open();
  bed.vsc.keep_records = false;
  bed.vsp.keep_records = false;
  random_mix_policy(bed.vsc);
  constexpr std::uint64_t kPackets = 100'000;
  pump(bed, kPackets, 512);
  expect_exactly_once_in_fifo_order(bed, kPackets);
  const ChannelStats stats = bed.guest.channel_stats(bed.guest_channel());
  // The mix really was a mix.
  EXPECT_GT(stats.defers, kPackets / 4);
  EXPECT_LT(stats.defers, kPackets * 7 / 20);
  EXPECT_THAT(codes(bed.guest), IsEmpty());
  EXPECT_THAT(codes(bed.host), IsEmpty());
}

TEST(Stress, WithoutHistoryTheDriverStillCountsAndChecksTheOrderAsItGoes) {
  TestBed bed;
  bed.open();
  bed.vsc.keep_records = false;
  bed.vsc.keep_history = false;
  random_mix_policy(bed.vsc);
  constexpr std::uint64_t kPackets = 5'000;
  pump(bed, kPackets, 64);
  EXPECT_THAT(bed.vsc.processed_order(), IsEmpty());
  EXPECT_THAT(bed.vsc.retirements(), IsEmpty());
  EXPECT_EQ(bed.vsc.processed_packets(), kPackets);
  EXPECT_EQ(bed.vsc.retired_packets(), kPackets);
  EXPECT_TRUE(bed.vsc.processed_in_index_order());
  EXPECT_FALSE(bed.vsc.first_order_break().has_value());
  EXPECT_EQ(bed.vsp.send_completions().size(), kPackets);
}

// The verifier remembers the most recent retirements only (memory flat in a
// long run); an older handle is still stale, not "never issued".
TEST(Stress, AHandleRetiredLongAgoIsStillStaleAndNotNeverIssued) {
  TestBed bed;
  bed.open();
  pump(bed, 70'000, 512);  // 140,000 retirements: the guest's packets and the host's sends
  std::vector<std::uintptr_t> handles;
  for (const CallbackRecord& record : bed.vsc.records()) {
    if (record.callback == "ProcessPacket") {
      handles.push_back(record.handle);
    }
  }
  ASSERT_EQ(handles.size(), 70'000u);
  const auto first = reinterpret_cast<VMBPACKETCOMPLETION>(handles.front());
  static_cast<void>(take_unattributed_violations());
  VmbChannelPacketComplete(first, nullptr, 0);
  const std::vector<Violation> violations = take_unattributed_violations();
  ASSERT_EQ(violations.size(), 1u);
  EXPECT_EQ(violations[0].code, ViolationCode::kStaleHandle);
  EXPECT_EQ(violations[0].detail,
            "a VMBPACKETCOMPLETION retired long ago (the verifier remembers the last 65536 "
            "retirements)");
  // A recent one is still known by what happened to it.
  bed.vsp.send(u64_bytes(70'000), kWait);
  bed.run_until_idle();
  std::uintptr_t recent_handle = 0;
  for (const CallbackRecord& record : bed.vsc.records()) {
    recent_handle = record.callback == "ProcessPacket" ? record.handle : recent_handle;
  }
  ASSERT_NE(recent_handle, handles.back());
  const auto last = reinterpret_cast<VMBPACKETCOMPLETION>(recent_handle);
  VmbChannelPacketComplete(last, nullptr, 0);
  EXPECT_THAT(codes(bed.guest), ::testing::ElementsAre("complete_twice"));
}

TEST(Stress, QuotaPassiveModeAndRandomSchedulesStillRetireExactlyOnceInOrder) {
  BedOptions options;
  options.seed = 77;
  options.ring_data_bytes = 8192;
  TestBed bed(options);
  bed.open();
  bed.vsc.keep_records = false;
  random_mix_policy(bed.vsc);
  VmbChannelSetTransactionQuota(bed.guest_channel(), 4);
  constexpr std::uint64_t kPackets = 10'000;
  const VMBCHANNEL channel = bed.guest_channel();
  // Flip RequirePassive now and then while traffic flows.
  pump(bed, kPackets, 64, [channel](std::uint64_t steps) {
    VmbChannelSetIncomingProcessingAtPassive(channel, (steps / 1000) % 3 == 1 ? TRUE : FALSE);
  });
  expect_exactly_once_in_fifo_order(bed, kPackets);
  EXPECT_THAT(codes(bed.guest), IsEmpty());
}

struct RunResult {
  std::vector<std::string> schedule;
  std::vector<std::string> guest_log;
};

RunResult run_seeded(std::uint64_t seed) {
  BedOptions options;
  options.seed = seed;
  TestBed bed(options);
  bed.open();
  random_mix_policy(bed.vsc);
  pump(bed, 500, 64);
  return RunResult{bed.schedule(), bed.vsc.log()};
}

TEST(Stress, TheSameSeedReplaysTheSameScheduleAndCallbacks) {
  const RunResult first = run_seeded(99);
  const RunResult again = run_seeded(99);
  const RunResult other = run_seeded(100);
  EXPECT_EQ(first.schedule, again.schedule);
  EXPECT_EQ(first.guest_log, again.guest_log);
  EXPECT_NE(first.schedule, other.schedule);
}

}  // namespace
}  // namespace vmbus::kmcl::testing
