// The timeline every viewer export draws (vmbus/cli/timeline.h): its tracks,
// where each record's slice lies, the flows that follow a packet or a
// message, the ring counters and the faults' marks.
#include "vmbus/cli/timeline.h"

#include <string>
#include <tuple>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "trace_builders.h"

namespace vmbus::cli {
namespace {

using ::testing::ElementsAre;
using namespace vmbus::cli::testing;

constexpr auto kSim = proto::PARTITION_UNSPECIFIED;

// Kept alive for the timeline's record indices.
struct Built {
  std::vector<proto::TraceRecord> records;
  Timeline timeline;
};

Built build(std::vector<proto::TraceRecord> records) {
  Built built{numbered(std::move(records)), {}};
  built.timeline = build_timeline(built.records);
  return built;
}

std::vector<std::string> track_names(const Timeline& timeline) {
  std::vector<std::string> names;
  for (const TimelineTrack& track : timeline.tracks) {
    names.push_back(std::to_string(track.pid) + " " + std::to_string(track.tid) + " " + track.name);
  }
  return names;
}

// (record, start, end) of every slice, in slice order.
std::vector<std::tuple<std::size_t, std::uint64_t, std::uint64_t>> layout(const Timeline& t) {
  std::vector<std::tuple<std::size_t, std::uint64_t, std::uint64_t>> result;
  for (const TimelineSlice& slice : t.slices) {
    result.emplace_back(slice.record, slice.start_ns, slice.end_ns);
  }
  return result;
}

// The records of each flow named `name`, in flow order.
std::vector<std::vector<std::size_t>> flow_records(const Timeline& t, const std::string& name) {
  std::vector<std::vector<std::size_t>> flows;
  for (const TimelineFlow& flow : t.flows) {
    if (flow.name != name) {
      continue;
    }
    std::vector<std::size_t> records;
    for (const std::size_t slice : flow.slices) {
      records.push_back(t.slices[slice].record);
    }
    flows.push_back(records);
  }
  return flows;
}

const TimelineSlice& slice_of_record(const Timeline& t, std::size_t record) {
  for (const TimelineSlice& slice : t.slices) {
    if (slice.record == record) {
      return slice;
    }
  }
  ADD_FAILURE() << "no slice for record " << record;
  return t.slices.front();
}

// --- tracks ----------------------------------------------------------------------------------

TEST(Timeline, TracksArePartitionContextsInNaturalOrderThenTheHypervisorsLanes) {
  const Built built = build({
      note(0, kGuest, "dpc/10", "a"),
      note(0, kSim, "", "b"),
      note(0, kGuest, "dpc/2", "c"),
      note(0, kHost, "msg", "d"),
      note(0, kGuest, "", "e"),
      signal(0, proto::SignalRecord::STAGE_SIGNALLED, kHost, 1),
      message(0, proto::MessageEvent::STAGE_POSTED, kGuest, kHost, "x"),
      fault(0, "crash", "vmbus-host killed"),
      action(0, 1, "", "host_send"),
      step(0, 1, "host:chan/1"),
  });

  EXPECT_THAT(track_names(built.timeline),
              ElementsAre("1 10 chan/1", "1 11 msg", "2 12 (no context)", "2 13 dpc/2",
                          "2 14 dpc/10", "3 15 scenario", "3 16 signals host->guest",
                          "3 17 messages guest->host", "3 18 faults", "3 19 hypervisor"));
}

// --- slices ----------------------------------------------------------------------------------

TEST(Timeline, RecordsOfOneTimeTakeSlotsAndAStepHoldsItsContextsRecordsThenItsHypercalls) {
  const Built built = build({
      step(1000, 1, "guest:vsc/1"),
      signal(1000, proto::SignalRecord::STAGE_SIGNALLED, kGuest, 1),  // made during the step
      note(1000, kGuest, "vsc/1", "wrote"),
      step(2000, 2, "host:chan/1"),
      note(2000, kHost, "chan/1", "read"),
  });

  // The step lasts until the next time; its note comes before its signal.
  EXPECT_THAT(layout(built.timeline),
              ElementsAre(std::tuple{0u, 1000u, 2000u}, std::tuple{2u, 1100u, 1200u},
                          std::tuple{1u, 1200u, 1300u}, std::tuple{3u, 2000u, 3000u},
                          std::tuple{4u, 2100u, 2200u}));
  EXPECT_EQ(built.timeline.slices[0].name, "step 1");
  EXPECT_EQ(built.timeline.slices[0].kind, "step");
  EXPECT_EQ(built.timeline.slices[2].name, "signal relid 1");
}

TEST(Timeline, ACrowdedTimePushesLaterRecordsByTheNanosecondsTheyNeed) {
  const Built built = build({
      note(1000, kHost, "msg", "1"),
      note(1000, kHost, "msg", "2"),
      note(1000, kHost, "msg", "3"),
      note(1000, kHost, "msg", "4"),
      note(1000, kHost, "msg", "5"),
      note(1003, kHost, "msg", "6"),
  });

  EXPECT_THAT(layout(built.timeline),
              ElementsAre(std::tuple{0u, 1000u, 1001u}, std::tuple{1u, 1001u, 1002u},
                          std::tuple{2u, 1002u, 1003u}, std::tuple{3u, 1003u, 1004u},
                          std::tuple{4u, 1004u, 1005u}, std::tuple{5u, 1005u, 1105u}));
}

TEST(Timeline, AStepLastsAtMostTheStepCostAndNeverPastTheNextStep) {
  const Built built = build({
      step(0, 1, "host:post"),
      message(5000, proto::MessageEvent::STAGE_DELIVERED, kHost, kGuest, "m"),
      step(5000, 2, "guest:msg"),
      step(5000, 3, "guest:msg"),
  });

  EXPECT_THAT(layout(built.timeline),
              ElementsAre(std::tuple{0u, 0u, 1000u}, std::tuple{1u, 5000u, 5100u},
                          std::tuple{2u, 5100u, 5200u}, std::tuple{3u, 5200u, 6200u}));
}

TEST(Timeline, SlicesCarryTheRecordsFieldsAsArguments) {
  const Built built =
      build({kmcl(61'000, kGuest, "kmcl/1/dpc/1", "callback", 0x30,
                  {.packet = 4, .delivery = 2, .callback = "EvtVmbChannelProcessPacket"},
                  "EvtVmbChannelProcessPacket #4 delivery 2")});

  const TimelineSlice& slice = built.timeline.slices[0];
  EXPECT_EQ(slice.name, "EvtVmbChannelProcessPacket #4 (delivery 2)");
  EXPECT_EQ(slice.kind, "callback");
  std::vector<std::string> args;
  for (const TimelineArg& arg : slice.args) {
    args.push_back(arg.key + "=" + (arg.is_number ? std::to_string(arg.number) : arg.text));
  }
  EXPECT_THAT(
      args,
      ElementsAre("sequence=0", "time_ns=61000", "partition=guest", "context=kmcl/1/dpc/1",
                  "event=kmcl callback handle 0x30: EvtVmbChannelProcessPacket #4 "
                  "delivery 2",
                  "kind=callback", "relid=1", "channel=0", "handle=0x30", "irql=DISPATCH_LEVEL",
                  "packet=4", "delivery=2", "callback=EvtVmbChannelProcessPacket",
                  "detail=EvtVmbChannelProcessPacket #4 delivery 2"));
}

// --- packet flows ----------------------------------------------------------------------------

constexpr std::uint64_t kSenderPacket = 0xffffa00000000020;
constexpr std::uint64_t kReceiverPacket = 0xffffa00000000030;
constexpr std::uint64_t kChannelHandle = 0xffffa00000000010;

// The host sends transaction 1 to the guest, which defers it to PASSIVE
// and completes it there; the completion goes back to the host.
std::vector<proto::TraceRecord> deferred_round_trip() {
  using S = proto::SignalRecord;
  return {
      kmcl(1000, kHost, "kmcl/1/external", "send", kSenderPacket, {.trans_id = 1}),  // 0
      signal(1000, S::STAGE_SIGNALLED, kHost, 1),                                    // 1
      signal(4000, S::STAGE_DELIVERED, kHost, 1),                                    // 2
      step(5000, 1, "guest:kmcl/1/dpc/1"),                                           // 3
      kmcl(5000, kGuest, "kmcl/1/dpc/1", "drain_pass_begin", kChannelHandle),        // 4
      kmcl(5000, kGuest, "kmcl/1/dpc/1", "dequeue", kReceiverPacket,
           {.trans_id = 1, .packet = 0}),  // 5
      kmcl(5000, kGuest, "kmcl/1/dpc/1", "callback", kReceiverPacket,
           {.packet = 0, .delivery = 1, .callback = "EvtVmbChannelProcessPacket"}),  // 6
      kmcl(5000, kGuest, "kmcl/1/dpc/1", "defer", kReceiverPacket, {.packet = 0}),   // 7
      step(6000, 2, "guest:kmcl/1/passive"),                                         // 8
      signal(6000, S::STAGE_SIGNALLED, kGuest, 1),                                   // 9
      kmcl(6000, kGuest, "kmcl/1/passive", "callback", kReceiverPacket,
           {.packet = 0, .delivery = 2, .callback = "EvtVmbChannelProcessPacket"}),      // 10
      kmcl(6000, kGuest, "kmcl/1/passive", "complete", kReceiverPacket, {.packet = 0}),  // 11
      signal(9000, S::STAGE_DELIVERED, kGuest, 1),                                       // 12
      step(10'000, 3, "host:kmcl/1/dpc/1"),                                              // 13
      kmcl(10'000, kHost, "kmcl/1/dpc/1", "callback", kSenderPacket,
           {.trans_id = 1, .callback = "EvtVmbPacketCompletionRoutine"}),  // 14
      completion(10'000, kHost, "kmcl/1/dpc/1", 1, 1),                     // 15
  };
}

TEST(Timeline, APacketFlowsFromItsSendThroughEveryDeliveryToItsCompletionBack) {
  const Built built = build(deferred_round_trip());

  // The guest's signal at step 2 comes after its records of that step.
  EXPECT_THAT(flow_records(built.timeline, "packet"),
              ElementsAre(ElementsAre(0u, 1u, 2u, 5u, 6u, 7u, 10u, 11u, 9u, 12u, 14u, 15u)));
  EXPECT_EQ(slice_of_record(built.timeline, 10).name, "EvtVmbChannelProcessPacket #0 (delivery 2)");
  EXPECT_EQ(built.timeline.tracks[slice_of_record(built.timeline, 10).track].name,
            "kmcl/1/passive");
}

TEST(Timeline, ACompletionThatNeverComesBackLeavesTheWayBackOutOfTheFlow) {
  std::vector<proto::TraceRecord> records = deferred_round_trip();
  records.resize(13);  // the host never hears of it

  const Built built = build(records);

  EXPECT_THAT(flow_records(built.timeline, "packet"),
              ElementsAre(ElementsAre(0u, 1u, 2u, 5u, 6u, 7u, 10u, 11u)));
}

TEST(Timeline, ASendWhoseSenderHearsOfItFirstStillFlowsOnToItsReceiver) {
  const Built built = build({
      kmcl(1000, kGuest, "kmcl/1/external", "send", kSenderPacket, {.trans_id = 3}),
      kmcl(2000, kGuest, "kmcl/1/dpc/1", "callback", kSenderPacket,
           {.trans_id = 3, .callback = "EvtVmbPacketCompletionRoutine"}),
      completion(2000, kGuest, "kmcl/1/dpc/1", 1, 3),
      kmcl(7000, kHost, "kmcl/1/dpc/1", "dequeue", kReceiverPacket, {.trans_id = 3, .packet = 0}),
      kmcl(7000, kHost, "kmcl/1/dpc/1", "complete", kReceiverPacket, {.packet = 0}),
  });

  EXPECT_THAT(flow_records(built.timeline, "packet"), ElementsAre(ElementsAre(0u, 1u, 2u, 3u, 4u)));
}

TEST(Timeline, AReusedPacketObjectStartsANewFlowAtEachSend) {
  const Built built = build({
      kmcl(1000, kGuest, "kmcl/1/passive", "send", kSenderPacket, {.trans_id = 1}),
      kmcl(2000, kHost, "kmcl/1/dpc/1", "dequeue", kReceiverPacket, {.trans_id = 1, .packet = 0}),
      kmcl(3000, kGuest, "kmcl/1/passive", "send", kSenderPacket, {.trans_id = 2}),
      kmcl(4000, kHost, "kmcl/1/dpc/1", "dequeue", kReceiverPacket, {.trans_id = 2, .packet = 1}),
  });

  EXPECT_THAT(flow_records(built.timeline, "packet"),
              ElementsAre(ElementsAre(0u, 1u), ElementsAre(2u, 3u)));
}

TEST(Timeline, ADequeueOfASendTheTraceDoesNotShowStartsItsOwnFlow) {
  const Built built = build({
      kmcl(1000, kGuest, "kmcl/1/dpc/1", "dequeue", kReceiverPacket, {.trans_id = 9, .packet = 0}),
      kmcl(1000, kGuest, "kmcl/1/dpc/1", "signal_peer", kChannelHandle),
      kmcl(2000, kGuest, "kmcl/1/passive", "complete", kReceiverPacket, {.packet = 0}),
  });

  EXPECT_THAT(flow_records(built.timeline, "packet"), ElementsAre(ElementsAre(0u, 2u)));
}

// --- message flows, faults -------------------------------------------------------------------

TEST(Timeline, AMessageFlowsFromItsPostThroughEachDeliveryToItsHandling) {
  using M = proto::MessageEvent;
  const std::string offer = payload_of(wire::OfferChannel{});
  const std::string other = payload_of(wire::AllOffersDelivered{});
  const Built built = build({
      message(1000, M::STAGE_POSTED, kHost, kGuest, offer),
      message(2000, M::STAGE_POSTED, kHost, kGuest, other),
      message(2000, M::STAGE_QUEUED, kHost, kGuest, other),
      message(5000, M::STAGE_DELIVERED, kHost, kGuest, offer),
      message(5000, M::STAGE_HANDLED, kHost, kGuest, "", kGuest, "msg"),
      message(9000, M::STAGE_DELIVERED, kHost, kGuest, offer),  // duplicated
      message(9000, M::STAGE_HANDLED, kHost, kGuest, "", kGuest, "msg"),
      message(12'000, M::STAGE_DELIVERED, kHost, kGuest, other),
      message(12'000, M::STAGE_IGNORED, kHost, kGuest, "", kGuest, "msg"),
  });

  EXPECT_THAT(flow_records(built.timeline, "message"),
              ElementsAre(ElementsAre(0u, 3u, 4u, 5u, 6u), ElementsAre(1u, 2u, 7u, 8u)));
  EXPECT_EQ(built.timeline.slices[0].name, "OFFERCHANNEL posted");
}

TEST(Timeline, AFaultMarksTheMessageOrSignalItHit) {
  using M = proto::MessageEvent;
  using S = proto::SignalRecord;
  const Built built = build({
      message(1000, M::STAGE_POSTED, kHost, kGuest, payload_of(wire::OfferChannel{})),  // 0
      fault(1000, "message_dropped", "host->guest CHANNELMSG_OFFERCHANNEL"),            // 1
      signal(2000, S::STAGE_SIGNALLED, kHost, 1),                                       // 2
      fault(2000, "interrupt_delayed", "host->guest relid 1 by 200 us"),                // 3
      fault(3000, "interrupt_duplicated", "guest->host relid 1"),                       // 4
      signal(3000, S::STAGE_SIGNALLED, kGuest, 1),                                      // 5
      fault(4000, "interrupt_spurious", "host->guest relid 1"),                         // 6
  });

  std::vector<std::string> marks;
  for (const TimelineSlice& slice : built.timeline.slices) {
    marks.push_back(std::to_string(slice.record) + ":" + slice.fault);
  }
  EXPECT_THAT(marks, ElementsAre("0:message_dropped", "1:", "2:interrupt_delayed",
                                 "3:", "4:", "5:interrupt_duplicated", "6:"));
  // The dropped message's flow goes to its fault.
  EXPECT_THAT(flow_records(built.timeline, "message"), ElementsAre(ElementsAre(0u, 1u)));
}

// --- ring counters and ring data -------------------------------------------------------------

TEST(Timeline, RingCountersSampleTheBytesInUseModuloTheRingsDataSize) {
  const Built built = build({
      ring(1000, kHost, "chan/1", 1, "host_to_guest", "publish_write", 616, 10'696, 2208, 12'288),
      ring(2000, kGuest, "dpc/1", 1, "host_to_guest", "publish_read", 616, 616, 2208, 12'288),
      ring(3000, kGuest, "vsc/1", 1, "guest_to_host", "publish_write", 4096, 1024, 8),
      ring(4000, kGuest, "vsc/1", 1, "guest_to_host", "publish_write", 616, 10'696, 8),  // no size
  });

  // Counters by channel, then ring name.
  ASSERT_EQ(built.timeline.counters.size(), 2u);
  EXPECT_EQ(built.timeline.counters[0].name, "ring 1 guest_to_host");
  EXPECT_EQ(built.timeline.counters[1].name, "ring 1 host_to_guest");
  EXPECT_EQ(built.timeline.counters[1].data_size_bytes, 12'288u);
  std::vector<std::tuple<std::size_t, std::uint64_t, std::uint64_t>> samples;
  for (const CounterSample& s : built.timeline.samples) {
    samples.emplace_back(s.counter, s.time_ns, s.bytes_used);
  }
  EXPECT_THAT(samples, ElementsAre(std::tuple{1u, 1000u, 2208u}, std::tuple{1u, 2000u, 0u},
                                   std::tuple{0u, 3000u, 3072u}));
}

TEST(Timeline, ARingWriteFlowsToTheReadThatConsumesItsLastByteCountedFromTheOpen) {
  wire::OpenChannel open;
  open.child_relid = 1;
  const Built built = build({
      ring(1000, kGuest, "vsc/1", 1, "guest_to_host", "publish_write", 96, 0, 96),        // 0
      message(2000, proto::MessageEvent::STAGE_POSTED, kGuest, kHost, payload_of(open)),  // 1
      ring(10'000, kGuest, "vsc/1", 1, "guest_to_host", "publish_write", 96, 0, 96),      // 2
      ring(11'000, kGuest, "vsc/1", 1, "guest_to_host", "publish_write", 144, 0, 48),     // 3
      ring(12'000, kHost, "chan/1", 1, "guest_to_host", "publish_read", 144, 96, 96),     // 4
      ring(13'000, kHost, "chan/1", 1, "guest_to_host", "publish_read", 144, 144, 48),    // 5
  });

  EXPECT_THAT(flow_records(built.timeline, "ring data"),
              ElementsAre(ElementsAre(2u, 4u), ElementsAre(3u, 5u)));
}

TEST(Timeline, FlowIdsAreDenseInTheOrderTheFlowsStart) {
  const Built built = build(deferred_round_trip());

  ASSERT_FALSE(built.timeline.flows.empty());
  for (std::size_t i = 0; i < built.timeline.flows.size(); ++i) {
    EXPECT_EQ(built.timeline.flows[i].id, i + 1);
  }
}

}  // namespace
}  // namespace vmbus::cli
