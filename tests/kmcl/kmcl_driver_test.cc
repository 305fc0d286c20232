// The scriptable driver itself: rule matching, seeded probability, and the
// contexts its later actions run in.
#include <algorithm>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "kmcl_test_bed.h"

namespace vmbus::kmcl::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

TEST(ScriptedDriver, FirstMatchingRuleDecidesByPayloadPrefixOrIndex) {
  TestBed bed;
  bed.open();
  bed.vsc.clear_log();
  PacketMatch late;
  late.payload_prefix = text_bytes("LATE");
  bed.vsc.add_rule(late, action_of(PacketAction::kCompleteLater));
  PacketMatch third;
  third.index = 2;
  bed.vsc.add_rule(third, action_of(PacketAction::kLeaveOutstanding));
  for (const char* payload : {"AAAA0000", "LATE0001", "AAAA0002", "LATE0003"}) {
    bed.vsp.send(text_bytes(payload), kWait);
  }
  bed.run_until_idle();
  EXPECT_THAT(bed.vsc.log(), ElementsAre("ProcessPacket #0 DISPATCH dpc/1 complete",
                                         "ProcessPacket #1 DISPATCH dpc/1 complete-later",
                                         "ProcessPacket #2 DISPATCH dpc/1 outstanding",
                                         "ProcessPacket #3 DISPATCH dpc/1 complete-later",
                                         "ProcessingComplete DISPATCH dpc/1 4",
                                         "Later #1 DISPATCH work/vsc-dpc complete",
                                         "Later #3 DISPATCH work/vsc-dpc complete"));
  EXPECT_EQ(bed.vsc.outstanding_count(), 1u);
  EXPECT_EQ(bed.vsp.send_completions().size(), 3u);
  bed.vsc.complete_outstanding(text_bytes("done"));
  bed.run_until_idle();
  // VMBus lengths are in 8-byte units: the receiver sees the padding.
  EXPECT_EQ(bed.vsp.send_completions().back().payload, text_bytes(std::string("done\0\0\0\0", 8)));
}

TEST(ScriptedDriver, RulesCanMatchTheIrqlAndTheDeliveryNumber) {
  TestBed bed;
  bed.open();
  bed.vsc.clear_log();
  // The vmswitch pattern: defer when not at PASSIVE_LEVEL, else complete.
  PacketMatch at_dispatch;
  at_dispatch.irql = DISPATCH_LEVEL;
  bed.vsc.add_rule(at_dispatch, action_of(PacketAction::kDefer));
  bed.vsp.send(u64_bytes(0), kWait);
  bed.run_until_idle();
  EXPECT_THAT(bed.vsc.log(), ElementsAre("ProcessPacket #0 DISPATCH dpc/1 defer",
                                         "ProcessPacket #0 PASSIVE passive complete",
                                         "ProcessingComplete PASSIVE passive 1"));
}

TEST(ScriptedDriver, CompleteLaterRunsInAPassiveWorkQueueWhenAsked) {
  TestBed bed;
  bed.open();
  bed.vsc.clear_log();
  Action later = action_of(PacketAction::kCompleteLater);
  later.later_irql = PASSIVE_LEVEL;
  later.later_steps = 3;
  bed.vsc.set_default_action(later);
  bed.vsp.send(u64_bytes(0), kWait);
  bed.run_until_idle();
  EXPECT_THAT(bed.vsc.log(), ElementsAre("ProcessPacket #0 DISPATCH dpc/1 complete-later",
                                         "ProcessingComplete DISPATCH dpc/1 1",
                                         "Later #0 PASSIVE work/vsc-passive complete"));
  EXPECT_EQ(bed.vsp.send_completions().size(), 1u);
}

// 64 packets through a 50% rule, with in-order scheduling, so that only the
// driver's seed can change what happens.
std::vector<std::string> coin_flips(std::uint64_t driver_seed) {
  BedOptions options;
  options.vsc_seed = driver_seed;
  TestBed bed(options);
  PacketMatch half;
  half.percent = 50;
  bed.vsc.add_rule(half, action_of(PacketAction::kCompleteLater));
  bed.open();
  bed.vsc.clear_log();
  for (std::uint64_t i = 0; i < 64; ++i) {
    bed.vsp.send(u64_bytes(i), 0);
  }
  bed.run_until_idle();
  EXPECT_EQ(bed.vsc.processed_order().size(), 64u);
  return bed.vsc.log();
}

TEST(ScriptedDriver, ProbabilityRulesDrawOnlyFromTheDriversSeed) {
  const std::vector<std::string> first = coin_flips(1);
  EXPECT_EQ(first, coin_flips(1));
  EXPECT_NE(first, coin_flips(2));
  const auto later = std::count_if(first.begin(), first.end(), [](const std::string& line) {
    return line.find("complete-later") != std::string::npos;
  });
  EXPECT_GT(later, 16);
  EXPECT_LT(later, 48);
}

}  // namespace
}  // namespace vmbus::kmcl::testing
