// vmbus-sim trace export --format=perfetto: the output decoded with our own
// schema of Perfetto's trace format (perfetto_trace.proto) -- its tracks,
// slices that nest, flows by id, counters -- and the command's output.
#include "vmbus/cli/perfetto_export.h"

#include <map>
#include <set>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "vmbus/cli/perfetto_trace.pb.h"
#include "vmbus/cli/timeline.h"

#include "tool_test_util.h"
#include "trace_builders.h"

namespace vmbus::cli {
namespace {

using ::testing::ElementsAre;
using namespace vmbus::cli::testing;
namespace pf = perfetto;

// A host send the guest dequeues, delivers and completes, a ring record and
// a step that holds the guest's records.
std::vector<proto::TraceRecord> sample_run() {
  return numbered({
      kmcl(1000, kHost, "kmcl/1/external", "send", 0x20, {.trans_id = 1}),
      signal(1000, proto::SignalRecord::STAGE_SIGNALLED, kHost, 1),
      signal(4000, proto::SignalRecord::STAGE_DELIVERED, kHost, 1),
      step(5000, 1, "guest:kmcl/1/dpc/1"),
      kmcl(5000, kGuest, "kmcl/1/dpc/1", "dequeue", 0x30, {.trans_id = 1, .packet = 0}),
      kmcl(5000, kGuest, "kmcl/1/dpc/1", "complete", 0x30, {.packet = 0}),
      ring(5000, kGuest, "kmcl/1/dpc/1", 1, "host_to_guest", "publish_read", 96, 96, 96, 4096),
  });
}

struct Exported {
  std::vector<proto::TraceRecord> records;
  Timeline timeline;
  pf::Trace trace;
};

Exported exported(std::vector<proto::TraceRecord> records) {
  Exported result{std::move(records), {}, {}};
  result.timeline = build_timeline(result.records);
  std::string bytes;
  write_perfetto_trace(sample_header(), result.timeline, bytes);
  EXPECT_TRUE(result.trace.ParseFromString(bytes));
  return result;
}

TEST(PerfettoExport, DescribesAProcessPerPartitionAThreadPerContextAndACounterPerRing) {
  const Exported e = exported(sample_run());

  std::vector<std::string> tracks;
  for (const pf::TracePacket& packet : e.trace.packet()) {
    EXPECT_EQ(packet.trusted_packet_sequence_id(), 1u);
    if (!packet.has_track_descriptor()) {
      continue;
    }
    const pf::TrackDescriptor& t = packet.track_descriptor();
    if (t.has_process()) {
      tracks.push_back(std::to_string(t.uuid()) + " process " + std::to_string(t.process().pid()) +
                       " " + t.process().process_name());
    } else if (t.has_thread()) {
      tracks.push_back(std::to_string(t.uuid()) + " thread " + std::to_string(t.thread().pid()) +
                       "/" + std::to_string(t.thread().tid()) + " " + t.thread().thread_name());
    } else {
      EXPECT_EQ(t.counter().unit(), pf::CounterDescriptor::UNIT_SIZE_BYTES);
      tracks.push_back("counter under " + std::to_string(t.parent_uuid()) + " " + t.name());
    }
  }
  EXPECT_THAT(
      tracks,
      ElementsAre("1 process 1 host", "2 process 2 guest",
                  "3 process 3 hypervisor: scenario 'export \"sample\"' seed 7",
                  "1010 thread 1/10 kmcl/1/external", "1011 thread 2/11 kmcl/1/dpc/1",
                  "1012 thread 3/12 signals host->guest", "counter under 3 ring 1 host_to_guest"));
}

TEST(PerfettoExport, EverySliceIsABeginAndAnEndThatNestOnItsTrackInTimeOrder) {
  const Exported e = exported(sample_run());

  std::set<std::uint64_t> declared;
  std::map<std::uint64_t, std::vector<std::string>> open;  // track -> names of open slices
  std::vector<std::string> begun;
  std::uint64_t last_time = 0;
  for (const pf::TracePacket& packet : e.trace.packet()) {
    if (packet.has_track_descriptor()) {
      declared.insert(packet.track_descriptor().uuid());
      continue;
    }
    ASSERT_TRUE(packet.has_track_event());
    const pf::TrackEvent& event = packet.track_event();
    EXPECT_GE(packet.timestamp(), last_time);
    last_time = packet.timestamp();
    EXPECT_TRUE(declared.contains(event.track_uuid())) << event.track_uuid();
    if (event.type() == pf::TrackEvent::TYPE_SLICE_BEGIN) {
      ASSERT_EQ(event.categories_size(), 1);
      EXPECT_EQ(event.categories(0), event.name().starts_with("step") ? "scheduler" : "vmbus");
      ASSERT_GE(event.debug_annotations_size(), 2);
      EXPECT_EQ(event.debug_annotations(0).name(), "sequence");
      EXPECT_EQ(event.debug_annotations(1).name(), "time_ns");
      open[event.track_uuid()].push_back(event.name());
      begun.push_back(std::to_string(packet.timestamp()) + " " + event.name());
    } else if (event.type() == pf::TrackEvent::TYPE_SLICE_END) {
      ASSERT_FALSE(open[event.track_uuid()].empty()) << "an end without a begin";
      open[event.track_uuid()].pop_back();
    }
  }
  for (const auto& [track, names] : open) {
    EXPECT_TRUE(names.empty()) << "slices left open on track " << track;
  }
  EXPECT_THAT(begun, ElementsAre("1000 send", "1100 signal relid 1", "4000 interrupt relid 1",
                                 "5000 step 1", "5100 dequeue #0", "5200 complete #0",
                                 "5300 ring publish_read"));
}

TEST(PerfettoExport, FlowsRunThroughTheirSlicesAndEndWhereTheyTerminate) {
  const Exported e = exported(sample_run());

  std::map<std::uint64_t, std::vector<std::string>> flows;
  for (const pf::TracePacket& packet : e.trace.packet()) {
    const pf::TrackEvent& event = packet.track_event();
    for (const std::uint64_t id : event.flow_ids()) {
      flows[id].push_back(event.name());
    }
    for (const std::uint64_t id : event.terminating_flow_ids()) {
      flows[id].push_back("end at " + event.name());
    }
  }
  ASSERT_EQ(e.timeline.flows.size(), 1u);
  EXPECT_THAT(flows[e.timeline.flows[0].id],
              ElementsAre("send", "signal relid 1", "interrupt relid 1", "dequeue #0",
                          "end at complete #0"));
}

TEST(PerfettoExport, RingSamplesAreCounterEventsOnTheRingsCounterTrack) {
  const Exported e = exported(sample_run());

  std::uint64_t counter_uuid = 0;
  std::vector<std::string> samples;
  for (const pf::TracePacket& packet : e.trace.packet()) {
    if (packet.track_descriptor().has_counter()) {
      counter_uuid = packet.track_descriptor().uuid();
    }
    if (packet.track_event().type() == pf::TrackEvent::TYPE_COUNTER) {
      EXPECT_EQ(packet.track_event().track_uuid(), counter_uuid);
      samples.push_back(std::to_string(packet.timestamp()) + " " +
                        std::to_string(packet.track_event().counter_value()));
    }
  }
  EXPECT_THAT(samples, ElementsAre("5300 0"));
}

TEST(PerfettoExport, TheCommandWritesTheSameBytes) {
  ScratchDir dir;
  const std::vector<proto::TraceRecord> records = sample_run();
  write_trace(dir / "run.trace", records);
  std::string expected;
  write_perfetto_trace(sample_header(), build_timeline(records), expected);

  const RunResult result = run_cli({"trace", "export", "--format=perfetto", "-o",
                                    (dir / "run.pftrace").string(), (dir / "run.trace").string()});

  ASSERT_EQ(result.exit_code, 0) << result.err;
  const std::vector<std::byte> written = read_file(dir / "run.pftrace");
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(written.data()), written.size()), expected);
}

}  // namespace
}  // namespace vmbus::cli
