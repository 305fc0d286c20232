#include "vmbus/cli/perfetto_export.h"

#include <algorithm>
#include <set>
#include <tuple>
#include <vector>

#include "vmbus/cli/perfetto_trace.pb.h"

namespace vmbus::cli {
namespace {

namespace pf = perfetto;

constexpr std::uint32_t kSequenceId = 1;
constexpr std::uint64_t kThreadUuidBase = 1'000;
// Above every thread uuid (tids are 32-bit).
constexpr std::uint64_t kCounterUuidBase = std::uint64_t{1} << 40;
// Trace.packet is field 1, length-delimited: tag (1 << 3) | 2.
constexpr char kPacketTag = 0x0a;

// Appends one packet as a Trace.packet field, so that the output is a
// Trace without the whole of it being built in memory first.
void append_packet(pf::TracePacket& packet, std::string& out) {
  packet.set_trusted_packet_sequence_id(kSequenceId);
  const std::string bytes = packet.SerializeAsString();
  out += kPacketTag;
  for (std::uint64_t length = bytes.size();; length >>= 7) {
    const auto low = static_cast<unsigned char>(length & 0x7f);
    if (length < 0x80) {
      out += static_cast<char>(low);
      break;
    }
    out += static_cast<char>(low | 0x80);
  }
  out += bytes;
}

std::uint64_t thread_uuid(const TimelineTrack& track) {
  return kThreadUuidBase + track.tid;
}

std::string process_name(const proto::TraceHeader& header, std::uint32_t pid) {
  std::string name = timeline_process_name(pid);
  if (pid == kHypervisorPid) {
    name += ": scenario '" + header.scenario() + "' seed " + std::to_string(header.seed());
  }
  return name;
}

void write_descriptors(const proto::TraceHeader& header, const Timeline& timeline,
                       std::string& out) {
  std::set<std::uint32_t> pids;
  for (const TimelineTrack& track : timeline.tracks) {
    pids.insert(track.pid);
  }
  if (!timeline.counters.empty()) {
    pids.insert(kHypervisorPid);
  }
  for (const std::uint32_t pid : pids) {
    pf::TracePacket packet;
    pf::TrackDescriptor* track = packet.mutable_track_descriptor();
    track->set_uuid(pid);
    track->mutable_process()->set_pid(static_cast<std::int32_t>(pid));
    track->mutable_process()->set_process_name(process_name(header, pid));
    append_packet(packet, out);
  }
  for (const TimelineTrack& thread : timeline.tracks) {
    pf::TracePacket packet;
    pf::TrackDescriptor* track = packet.mutable_track_descriptor();
    track->set_uuid(thread_uuid(thread));  // its pid puts it in its process
    track->mutable_thread()->set_pid(static_cast<std::int32_t>(thread.pid));
    track->mutable_thread()->set_tid(static_cast<std::int32_t>(thread.tid));
    track->mutable_thread()->set_thread_name(thread.name);
    append_packet(packet, out);
  }
  for (std::size_t c = 0; c < timeline.counters.size(); ++c) {
    pf::TracePacket packet;
    pf::TrackDescriptor* track = packet.mutable_track_descriptor();
    track->set_uuid(kCounterUuidBase + c);
    track->set_parent_uuid(kHypervisorPid);
    track->set_name(timeline.counters[c].name);
    track->mutable_counter()->set_unit(pf::CounterDescriptor::UNIT_SIZE_BYTES);
    append_packet(packet, out);
  }
}

// One event of the output: a slice's begin or end, or a counter sample.
struct Event {
  enum Kind { kEnd = 0, kBegin = 1, kSample = 2 };
  std::uint64_t time_ns = 0;
  Kind kind = kBegin;
  std::uint64_t rank = 0;  // at one time and kind: ends inner first, begins outer first
  std::size_t index = 0;   // the slice or sample
};

std::vector<Event> events_in_order(const Timeline& timeline) {
  std::vector<Event> events;
  events.reserve(2 * timeline.slices.size() + timeline.samples.size());
  for (std::size_t s = 0; s < timeline.slices.size(); ++s) {
    const TimelineSlice& slice = timeline.slices[s];
    // The later a slice started, the more inner it is; the later it ends,
    // the more outer.
    events.push_back(Event{slice.end_ns, Event::kEnd, ~slice.start_ns, s});
    events.push_back(Event{slice.start_ns, Event::kBegin, ~slice.end_ns, s});
  }
  for (std::size_t i = 0; i < timeline.samples.size(); ++i) {
    events.push_back(Event{timeline.samples[i].time_ns, Event::kSample, i, i});
  }
  std::sort(events.begin(), events.end(), [](const Event& a, const Event& b) {
    return std::tie(a.time_ns, a.kind, a.rank, a.index) <
           std::tie(b.time_ns, b.kind, b.rank, b.index);
  });
  return events;
}

void annotate(const TimelineSlice& slice, pf::TrackEvent& event) {
  for (const TimelineArg& arg : slice.args) {
    pf::DebugAnnotation* annotation = event.add_debug_annotations();
    annotation->set_name(arg.key);
    if (arg.is_number) {
      annotation->set_uint_value(arg.number);
    } else {
      annotation->set_string_value(arg.text);
    }
  }
  if (!slice.fault.empty()) {
    pf::DebugAnnotation* annotation = event.add_debug_annotations();
    annotation->set_name("fault");
    annotation->set_string_value(slice.fault);
  }
}

// For each slice, the flows through it: (id, whether it is the flow's last).
std::vector<std::vector<std::pair<std::uint64_t, bool>>> flows_by_slice(const Timeline& timeline) {
  std::vector<std::vector<std::pair<std::uint64_t, bool>>> flows(timeline.slices.size());
  for (const TimelineFlow& flow : timeline.flows) {
    for (std::size_t k = 0; k < flow.slices.size(); ++k) {
      flows[flow.slices[k]].emplace_back(flow.id, k + 1 == flow.slices.size());
    }
  }
  return flows;
}

void write_events(const Timeline& timeline, std::string& out) {
  const auto flows = flows_by_slice(timeline);
  for (const Event& e : events_in_order(timeline)) {
    pf::TracePacket packet;
    packet.set_timestamp(e.time_ns);
    pf::TrackEvent* event = packet.mutable_track_event();
    if (e.kind == Event::kSample) {
      const CounterSample& sample = timeline.samples[e.index];
      event->set_type(pf::TrackEvent::TYPE_COUNTER);
      event->set_track_uuid(kCounterUuidBase + sample.counter);
      event->set_counter_value(static_cast<std::int64_t>(sample.bytes_used));
      append_packet(packet, out);
      continue;
    }
    const TimelineSlice& slice = timeline.slices[e.index];
    event->set_track_uuid(thread_uuid(timeline.tracks[slice.track]));
    if (e.kind == Event::kEnd) {
      event->set_type(pf::TrackEvent::TYPE_SLICE_END);
      append_packet(packet, out);
      continue;
    }
    event->set_type(pf::TrackEvent::TYPE_SLICE_BEGIN);
    event->set_name(slice.name);
    event->add_categories(slice.kind == "step" ? "scheduler" : "vmbus");
    annotate(slice, *event);
    for (const auto& [id, last] : flows[e.index]) {
      if (last) {
        event->add_terminating_flow_ids(id);
      } else {
        event->add_flow_ids(id);
      }
    }
    append_packet(packet, out);
  }
}

}  // namespace

void write_perfetto_trace(const proto::TraceHeader& header, const Timeline& timeline,
                          std::string& out) {
  write_descriptors(header, timeline, out);
  write_events(timeline, out);
}

}  // namespace vmbus::cli
