#include "vmbus/cli/timeline.h"

#include <algorithm>
#include <cstdio>
#include <limits>
#include <map>
#include <optional>
#include <string_view>
#include <utility>

#include "vmbus/trace/render.h"
#include "vmbus/wire/message_table.h"
#include "vmbus/wire/synic.h"

#include "timeline_internal.h"

namespace vmbus::cli {
namespace {

// --- tracks ----------------------------------------------------------------------------------

constexpr std::uint32_t kFirstTid = 10;
constexpr std::string_view kNoContext = "(no context)";
// The hypervisor's lanes, in the order they are shown.
constexpr std::string_view kHypervisorLanes[] = {"scenario",
                                                 "messages host->guest",
                                                 "signals host->guest",
                                                 "messages guest->host",
                                                 "signals guest->host",
                                                 "faults",
                                                 "processes",
                                                 "hypervisor",
                                                 "final state"};

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// Strings with their digit runs compared as numbers: "dpc/2" < "dpc/10".
bool natural_less(std::string_view a, std::string_view b) {
  std::size_t i = 0;
  std::size_t j = 0;
  while (i < a.size() && j < b.size()) {
    if (is_digit(a[i]) && is_digit(b[j])) {
      std::size_t a_end = i;
      std::size_t b_end = j;
      while (a_end < a.size() && is_digit(a[a_end])) {
        ++a_end;
      }
      while (b_end < b.size() && is_digit(b[b_end])) {
        ++b_end;
      }
      std::string_view a_number = a.substr(i, a_end - i);
      std::string_view b_number = b.substr(j, b_end - j);
      a_number.remove_prefix(std::min(a_number.find_first_not_of('0'), a_number.size()));
      b_number.remove_prefix(std::min(b_number.find_first_not_of('0'), b_number.size()));
      if (a_number.size() != b_number.size()) {
        return a_number.size() < b_number.size();
      }
      if (a_number != b_number) {
        return a_number < b_number;
      }
      i = a_end;
      j = b_end;
      continue;
    }
    if (a[i] != b[j]) {
      return static_cast<unsigned char>(a[i]) < static_cast<unsigned char>(b[j]);
    }
    ++i;
    ++j;
  }
  if (a.size() - i != b.size() - j) {
    return a.size() - i < b.size() - j;
  }
  return a < b;  // equal as numbers ("01" and "1"): any fixed order
}

struct TrackKey {
  std::uint32_t pid = kHypervisorPid;
  std::string name;
};

std::size_t lane_rank(std::string_view name) {
  const auto* lane = std::find(std::begin(kHypervisorLanes), std::end(kHypervisorLanes), name);
  return static_cast<std::size_t>(lane - std::begin(kHypervisorLanes));
}

struct TrackKeyLess {
  bool operator()(const TrackKey& a, const TrackKey& b) const {
    if (a.pid != b.pid) {
      return a.pid < b.pid;
    }
    if (a.pid == kHypervisorPid && lane_rank(a.name) != lane_rank(b.name)) {
      return lane_rank(a.name) < lane_rank(b.name);
    }
    return natural_less(a.name, b.name);
  }
};

std::uint32_t pid_of(proto::Partition partition) {
  switch (partition) {
    case proto::PARTITION_HOST:
      return kHostPid;
    case proto::PARTITION_GUEST:
      return kGuestPid;
    default:
      return kHypervisorPid;
  }
}

std::string arrow(proto::Partition from, proto::Partition to) {
  return std::string(trace::partition_name(from)) + "->" + trace::partition_name(to);
}

// A scheduler step runs on the context it chose ("guest:kmcl/1/dpc/1": the
// `ready` entries are "<partition>:<context>").
TrackKey step_track(const proto::SchedulerEvent& e) {
  if (e.chosen() >= static_cast<std::uint32_t>(e.ready_size())) {
    return TrackKey{kHypervisorPid, "hypervisor"};
  }
  const std::string_view chosen = e.ready(static_cast<int>(e.chosen()));
  const std::size_t colon = chosen.find(':');
  const std::string_view partition = chosen.substr(0, colon);
  const std::string context(colon == std::string_view::npos ? kNoContext
                                                            : chosen.substr(colon + 1));
  if (partition == "host") {
    return TrackKey{kHostPid, context.empty() ? std::string(kNoContext) : context};
  }
  if (partition == "guest") {
    return TrackKey{kGuestPid, context.empty() ? std::string(kNoContext) : context};
  }
  return TrackKey{kHypervisorPid, "hypervisor"};
}

TrackKey track_of(const proto::TraceRecord& record) {
  if (record.has_scheduler()) {
    return step_track(record.scheduler());
  }
  const std::uint32_t pid = pid_of(record.partition());
  if (pid != kHypervisorPid) {
    return TrackKey{pid, record.context().empty() ? std::string(kNoContext) : record.context()};
  }
  switch (record.event_case()) {
    case proto::TraceRecord::kAction:
      return TrackKey{pid, "scenario"};
    case proto::TraceRecord::kMessage:
      return TrackKey{pid, "messages " + arrow(record.message().from(), record.message().to())};
    case proto::TraceRecord::kSignal:
      return TrackKey{pid, "signals " + arrow(record.signal().from(), record.signal().to())};
    case proto::TraceRecord::kFault:
      return TrackKey{pid, "faults"};
    case proto::TraceRecord::kProcess:
      return TrackKey{pid, "processes"};
    case proto::TraceRecord::kFinalState:
      return TrackKey{pid, "final state"};
    default:
      return TrackKey{pid, "hypervisor"};
  }
}

// --- names and kinds -------------------------------------------------------------------------

std::string message_type_name(std::uint32_t msgtype) {
  const wire::MessageInfo* info = wire::find_message_info(msgtype);
  if (info == nullptr) {
    return "msgtype " + std::to_string(msgtype);
  }
  std::string_view name = info->name;
  if (name.starts_with("CHANNELMSG_")) {
    name.remove_prefix(11);
  }
  return std::string(name);
}

// The channel a signal record is about: the guest is signalled for a relid,
// the host for a channel's connection id.
std::uint32_t signal_relid(const proto::SignalRecord& e) {
  return e.to() == proto::PARTITION_GUEST ? e.child_relid()
                                          : wire::relid_of_connection_id(e.connection_id());
}

std::string packet_suffix(const proto::KmclRecord& e) {
  return e.has_packet() ? " #" + std::to_string(e.packet()) : "";
}

std::pair<std::string, std::string> kmcl_label(const proto::KmclRecord& e) {
  if (e.kind() == "callback") {
    const std::string callback = e.callback().empty() ? "callback" : e.callback();
    const std::string delivery =
        e.delivery() > 1 ? " (delivery " + std::to_string(e.delivery()) + ")" : "";
    return {"callback", callback + packet_suffix(e) + delivery};
  }
  if (e.kind() == "violation") {
    return {"violation", "violation " + e.code()};
  }
  if (e.kind() == "driver") {
    return {"kmcl", "driver " + e.detail()};
  }
  if (e.kind() == "defer" || e.kind() == "defer_at_passive") {
    return {"defer", e.kind() + packet_suffix(e)};
  }
  if (e.kind() == "fail") {
    return {"fail", "fail" + packet_suffix(e)};
  }
  return {"kmcl", e.kind() + packet_suffix(e)};
}

std::string shortened(const std::string& text) {
  constexpr std::size_t kMaxNameChars = 60;
  return text.size() <= kMaxNameChars ? text : text.substr(0, kMaxNameChars - 3) + "...";
}

// The slice's kind and name.
std::pair<std::string, std::string> label(const proto::TraceRecord& r) {
  switch (r.event_case()) {
    case proto::TraceRecord::kScheduler:
      return {"step", "step " + std::to_string(r.scheduler().step_number())};
    case proto::TraceRecord::kMessage:
      return {"message", message_type_name(r.message().msgtype()) + " " +
                             trace::message_stage_name(r.message())};
    case proto::TraceRecord::kSignal: {
      const proto::SignalRecord& e = r.signal();
      const std::string relid = " relid " + std::to_string(signal_relid(e));
      switch (e.stage()) {
        case proto::SignalRecord::STAGE_DELIVERED:
          return {"interrupt", "interrupt" + relid};
        case proto::SignalRecord::STAGE_COALESCED:
          return {"signal", "signal" + relid + " (coalesced)"};
        case proto::SignalRecord::STAGE_REJECTED:
          return {"signal", "signal rejected"};
        default:
          return {"signal", "signal" + relid};
      }
    }
    case proto::TraceRecord::kRing:
      return {"ring", "ring " + r.ring().op()};
    case proto::TraceRecord::kChannel:
      return {"channel",
              "channel " + std::to_string(r.channel().child_relid()) + " " + r.channel().state()};
    case proto::TraceRecord::kNote:
      return {"note", shortened(r.note().text())};
    case proto::TraceRecord::kProcess:
      return {"process", std::string(trace::partition_name(r.process().partition())) + " " +
                             trace::process_kind_name(r.process())};
    case proto::TraceRecord::kKmcl:
      return kmcl_label(r.kmcl());
    case proto::TraceRecord::kFault:
      return {"fault", r.fault().kind()};
    case proto::TraceRecord::kAction:
      return {"action", "scenario step " + std::to_string(r.action().step()) +
                            (r.action().label().empty() ? "" : " '" + r.action().label() + "'")};
    case proto::TraceRecord::kCompletion:
      return {"completion", "completion " + r.completion().status()};
    case proto::TraceRecord::kFinalState:
      return {"final",
              "final " + r.final_state().kind() +
                  (r.final_state().kind() == "verdict" ? " " + r.final_state().name() : "")};
    default:
      return {"note", "(empty record)"};
  }
}

// --- arguments -------------------------------------------------------------------------------

class Args {
 public:
  Args& text(std::string key, std::string value) {
    args_.push_back(TimelineArg{std::move(key), std::move(value), 0, false});
    return *this;
  }
  Args& number(std::string key, std::uint64_t value) {
    args_.push_back(TimelineArg{std::move(key), "", value, true});
    return *this;
  }
  // Only when the text says something.
  Args& text_if(std::string key, const std::string& value) {
    return value.empty() ? *this : text(std::move(key), value);
  }
  std::vector<TimelineArg> take() { return std::move(args_); }

 private:
  std::vector<TimelineArg> args_;
};

std::string hex(std::uint64_t value) {
  char text[24];
  std::snprintf(text, sizeof(text), "0x%llx", static_cast<unsigned long long>(value));
  return text;
}

void add_message_args(const proto::MessageEvent& e, Args& args) {
  args.text("stage", trace::message_stage_name(e))
      .text("from", trace::partition_name(e.from()))
      .text("to", trace::partition_name(e.to()))
      .number("connection_id", e.connection_id())
      .number("msgtype", e.msgtype())
      .text("decoded", e.decoded())
      .text_if("reason", e.reason());
  if (e.msg_pending()) {
    args.text("msg_pending", "true");
  }
}

void add_kmcl_args(const proto::KmclRecord& e, Args& args) {
  args.text("kind", e.kind())
      .number("relid", e.child_relid())
      .number("channel", e.channel())
      .text("handle", hex(e.handle()))
      .text("irql", e.irql() == 0 ? "PASSIVE_LEVEL" : "DISPATCH_LEVEL");
  if (e.has_trans_id()) {
    args.number("trans_id", e.trans_id());
  }
  if (e.has_packet()) {
    args.number("packet", e.packet());
  }
  if (e.delivery() != 0) {
    args.number("delivery", e.delivery());
  }
  args.text_if("callback", e.callback())
      .text_if("code", e.code())
      .text_if("api", e.api())
      .text_if("detail", e.detail());
}

void add_ring_args(const proto::RingEvent& e, Args& args) {
  args.number("relid", e.child_relid())
      .text("ring", e.ring())
      .text("op", e.op())
      .number("write_index", e.write_index())
      .number("read_index", e.read_index())
      .number("bytes", e.bytes())
      .number("packets", e.packets())
      .number("data_size", e.data_size())
      .text_if("detail", e.detail());
}

void add_event_args(const proto::TraceRecord& r, Args& args) {
  switch (r.event_case()) {
    case proto::TraceRecord::kScheduler: {
      std::string ready;
      for (const std::string& candidate : r.scheduler().ready()) {
        ready += (ready.empty() ? "" : " ") + candidate;
      }
      args.number("step", r.scheduler().step_number()).text("ready", ready);
      break;
    }
    case proto::TraceRecord::kMessage:
      add_message_args(r.message(), args);
      break;
    case proto::TraceRecord::kSignal:
      args.text("stage", trace::signal_stage_name(r.signal()))
          .text("from", trace::partition_name(r.signal().from()))
          .text("to", trace::partition_name(r.signal().to()))
          .number("relid", signal_relid(r.signal()))
          .number("connection_id", r.signal().connection_id());
      break;
    case proto::TraceRecord::kRing:
      add_ring_args(r.ring(), args);
      break;
    case proto::TraceRecord::kKmcl:
      add_kmcl_args(r.kmcl(), args);
      break;
    case proto::TraceRecord::kCompletion:
      args.number("relid", r.completion().child_relid())
          .number("trans_id", r.completion().trans_id())
          .text("status", r.completion().status())
          .number("bytes", r.completion().bytes());
      break;
    case proto::TraceRecord::kAction:
      args.number("step", r.action().step())
          .text_if("label", r.action().label())
          .text("describe", r.action().describe())
          .text_if("error", r.action().error());
      break;
    default:
      break;  // the event text says it all
  }
}

std::vector<TimelineArg> args_of(const proto::TraceRecord& r) {
  Args args;
  args.number("sequence", r.sequence())
      .number("time_ns", r.time_ns())
      .text("partition", trace::partition_name(r.partition()))
      .text_if("context", r.context())
      .text("event", trace::event_text(r));
  add_event_args(r, args);
  return args.take();
}

// --- layout ----------------------------------------------------------------------------------

constexpr std::uint64_t kMaxSlotNs = 100;
// The simulator's default step cost: how long a step lasts at most.
constexpr std::uint64_t kStepCostNs = 1'000;

bool starts_burst(const proto::TraceRecord& record) {
  return record.has_scheduler() || record.has_action();
}

// The records in the order they are laid out: a step's or action's own
// records, the partition's before the hypervisor's (see timeline.h).
std::vector<std::size_t> display_order(std::span<const proto::TraceRecord> records) {
  std::vector<std::size_t> order;
  order.reserve(records.size());
  std::size_t i = 0;
  while (i < records.size()) {
    order.push_back(i);
    if (!starts_burst(records[i])) {
      ++i;
      continue;
    }
    std::size_t end = i + 1;
    while (end < records.size() && !starts_burst(records[end]) &&
           records[end].time_ns() == records[i].time_ns()) {
      ++end;
    }
    for (const bool partition_records : {true, false}) {
      for (std::size_t k = i + 1; k < end; ++k) {
        const bool by_partition = records[k].partition() != proto::PARTITION_UNSPECIFIED;
        if (by_partition == partition_records) {
          order.push_back(k);
        }
      }
    }
    i = end;
  }
  return order;
}

struct Slot {
  std::uint64_t start_ns = 0;
  std::uint64_t end_ns = 0;
};

// Slots for the laid-out records: records that share a time, one after
// another from that time (see timeline.h).
std::vector<Slot> slots(std::span<const proto::TraceRecord> records,
                        const std::vector<std::size_t>& order) {
  std::vector<Slot> result(order.size());
  std::uint64_t cursor = 0;
  std::size_t first = 0;
  while (first < order.size()) {
    const std::uint64_t time_ns = records[order[first]].time_ns();
    std::size_t end = first + 1;
    while (end < order.size() && records[order[end]].time_ns() == time_ns) {
      ++end;
    }
    const std::uint64_t count = end - first;
    const std::uint64_t base = std::max(time_ns, cursor);
    const std::uint64_t next_ns = end < order.size() ? records[order[end]].time_ns()
                                                     : std::numeric_limits<std::uint64_t>::max();
    const std::uint64_t room = next_ns > base ? next_ns - base : 0;
    const std::uint64_t width = std::clamp<std::uint64_t>(room / count, 1, kMaxSlotNs);
    for (std::size_t k = first; k < end; ++k) {
      result[k].start_ns = base + (k - first) * width;
      result[k].end_ns = result[k].start_ns + width;
    }
    cursor = base + count * width;
    first = end;
  }
  return result;
}

// A step's end: the next record time, at most kStepCostNs, never past the
// next step or action, never before its own records' slots end.
void stretch_steps(std::span<const proto::TraceRecord> records,
                   const std::vector<std::size_t>& order, std::vector<Slot>& laid) {
  std::uint64_t next_trigger_ns = std::numeric_limits<std::uint64_t>::max();
  std::uint64_t next_time_start_ns = std::numeric_limits<std::uint64_t>::max();
  std::uint64_t burst_end_ns = 0;
  for (std::size_t k = order.size(); k-- > 0;) {
    const proto::TraceRecord& record = records[order[k]];
    const bool time_changes =
        k + 1 < order.size() && records[order[k + 1]].time_ns() != record.time_ns();
    if (time_changes) {
      next_time_start_ns = laid[k + 1].start_ns;
      burst_end_ns = 0;  // a burst never spans two times
    }
    burst_end_ns = std::max(burst_end_ns, laid[k].end_ns);
    if (!starts_burst(record)) {
      continue;
    }
    if (record.has_scheduler()) {
      const std::uint64_t end_ns =
          std::min({laid[k].start_ns + kStepCostNs, next_time_start_ns, next_trigger_ns});
      laid[k].end_ns = std::max(end_ns, burst_end_ns);
    }
    next_trigger_ns = laid[k].start_ns;
    burst_end_ns = 0;
  }
}

std::vector<TimelineTrack> number_tracks(std::map<TrackKey, std::size_t, TrackKeyLess>& keys) {
  std::vector<TimelineTrack> tracks;
  std::uint32_t tid = kFirstTid;
  for (auto& [key, index] : keys) {
    index = tracks.size();
    tracks.push_back(TimelineTrack{key.pid, tid++, key.name});
  }
  return tracks;
}

}  // namespace

const char* timeline_process_name(std::uint32_t pid) {
  switch (pid) {
    case kHostPid:
      return "host";
    case kGuestPid:
      return "guest";
    default:
      return "hypervisor";
  }
}

Timeline build_timeline(std::span<const proto::TraceRecord> records) {
  detail::LaidOut laid_out{records, display_order(records)};
  std::vector<Slot> laid = slots(records, laid_out.order);
  stretch_steps(records, laid_out.order, laid);

  std::map<TrackKey, std::size_t, TrackKeyLess> keys;
  std::vector<TrackKey> track_keys;
  track_keys.reserve(records.size());
  for (const proto::TraceRecord& record : records) {
    track_keys.push_back(track_of(record));
    keys.emplace(track_keys.back(), 0);
  }
  Timeline timeline;
  timeline.tracks = number_tracks(keys);

  std::vector<std::size_t> slice_of(records.size());
  timeline.slices.reserve(records.size());
  for (std::size_t k = 0; k < laid_out.order.size(); ++k) {
    const std::size_t r = laid_out.order[k];
    auto [kind, name] = label(records[r]);
    slice_of[r] = k;
    timeline.slices.push_back(TimelineSlice{r, keys.at(track_keys[r]), laid[k].start_ns,
                                            laid[k].end_ns, std::move(name), std::move(kind), "",
                                            args_of(records[r])});
  }
  for (const auto& [fault, hit] : detail::fault_targets(records)) {
    timeline.slices[slice_of[hit]].fault = records[fault].fault().kind();
  }
  timeline.flows = detail::find_flows(laid_out);
  detail::add_ring_counters(laid_out, timeline);
  return timeline;
}

}  // namespace vmbus::cli
