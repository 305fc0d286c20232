#include "vmbus/cli/chrome_export.h"

#include <algorithm>
#include <cstdio>
#include <limits>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "vmbus/cli/json_text.h"
#include "vmbus/trace/render.h"

namespace vmbus::cli {
namespace {

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// --- trace export: JSON text ---------------------------------------------------------------

// Nanoseconds as microseconds with exactly 3 decimals, without floating
// point, so the text is exact and the same on every machine.
std::string microseconds_text(std::uint64_t time_ns) {
  char text[32];
  std::snprintf(text, sizeof(text), "%llu.%03llu", static_cast<unsigned long long>(time_ns / 1000),
                static_cast<unsigned long long>(time_ns % 1000));
  return text;
}

// Builds one JSON object, members in the order they are added.
class JsonObject {
 public:
  JsonObject& string(std::string_view key, std::string_view value) {
    append_json_string(member(key), value);
    return *this;
  }
  JsonObject& number(std::string_view key, std::uint64_t value) {
    member(key) += std::to_string(value);
    return *this;
  }
  // `json` is already JSON text: a number with decimals, an object.
  JsonObject& raw(std::string_view key, std::string_view json) {
    member(key) += json;
    return *this;
  }
  std::string text() const { return text_ + "}"; }

 private:
  std::string& member(std::string_view key) {
    if (text_.size() > 1) {
      text_ += ',';
    }
    append_json_string(text_, key);
    text_ += ':';
    return text_;
  }

  std::string text_ = "{";
};

// --- trace export: tracks ------------------------------------------------------------------

constexpr std::uint32_t kHostPid = 1;
constexpr std::uint32_t kGuestPid = 2;
constexpr std::uint32_t kHypervisorPid = 3;
// Above every pid: Perfetto keys threads by tid alone, and a process-wide
// event without a tid lands on tid = pid.
constexpr std::uint32_t kFirstTid = 10;
constexpr std::string_view kHypervisorThread = "hypervisor";
constexpr std::string_view kNoContextThread = "(no context)";

struct Track {
  std::uint32_t pid = kHypervisorPid;
  std::string thread;
};

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

struct TrackLess {
  bool operator()(const Track& a, const Track& b) const {
    if (a.pid != b.pid) {
      return a.pid < b.pid;
    }
    return natural_less(a.thread, b.thread);
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

const char* process_name(std::uint32_t pid) {
  switch (pid) {
    case kHostPid:
      return "host";
    case kGuestPid:
      return "guest";
    default:
      return "hypervisor";
  }
}

Track context_track(std::uint32_t pid, std::string_view context) {
  if (!context.empty()) {
    return Track{pid, std::string(context)};
  }
  return Track{pid, std::string(pid == kHypervisorPid ? kHypervisorThread : kNoContextThread)};
}

// A scheduler step runs on the context it chose: "guest:kmcl/1/dpc/1".
Track scheduler_track(const proto::SchedulerEvent& e) {
  if (e.chosen() >= static_cast<std::uint32_t>(e.ready_size())) {
    return context_track(kHypervisorPid, "");
  }
  const std::string_view chosen = e.ready(static_cast<int>(e.chosen()));
  const std::size_t colon = chosen.find(':');
  const std::string_view partition = chosen.substr(0, colon);
  const std::string_view context =
      colon == std::string_view::npos ? std::string_view() : chosen.substr(colon + 1);
  if (partition == "host") {
    return context_track(kHostPid, context);
  }
  if (partition == "guest") {
    return context_track(kGuestPid, context);
  }
  return context_track(kHypervisorPid, context);
}

Track record_track(const proto::TraceRecord& record) {
  if (record.has_scheduler()) {
    return scheduler_track(record.scheduler());
  }
  return context_track(pid_of(record.partition()), record.context());
}

// The instant's name: the record's kind, short.
std::string event_name(const proto::TraceRecord& record) {
  switch (record.event_case()) {
    case proto::TraceRecord::kScheduler:
      return "step " + std::to_string(record.scheduler().step_number());
    case proto::TraceRecord::kMessage:
      return "message " + trace::message_stage_name(record.message());
    case proto::TraceRecord::kSignal:
      return "signal " + trace::signal_stage_name(record.signal());
    case proto::TraceRecord::kRing:
      return "ring " + record.ring().op();
    case proto::TraceRecord::kChannel:
      return "channel " + record.channel().state();
    case proto::TraceRecord::kNote:
      return "note";
    case proto::TraceRecord::kProcess:
      return "process " + trace::process_kind_name(record.process());
    case proto::TraceRecord::kKmcl:
      return "kmcl " + record.kmcl().kind() +
             (record.kmcl().code().empty() ? "" : " " + record.kmcl().code());
    case proto::TraceRecord::kFault:
      return "fault " + record.fault().kind();
    case proto::TraceRecord::kAction:
      return "scenario step";
    case proto::TraceRecord::kCompletion:
      return "completion" +
             (record.completion().status().empty() ? "" : " " + record.completion().status());
    default:
      return "(empty record)";
  }
}

const char* event_category(const proto::TraceRecord& record) {
  switch (record.event_case()) {
    case proto::TraceRecord::kScheduler:
      return "scheduler";
    case proto::TraceRecord::kMessage:
      return "message";
    case proto::TraceRecord::kSignal:
      return "signal";
    case proto::TraceRecord::kRing:
      return "ring";
    case proto::TraceRecord::kChannel:
      return "channel";
    case proto::TraceRecord::kNote:
      return "note";
    case proto::TraceRecord::kProcess:
      return "process";
    case proto::TraceRecord::kKmcl:
      return "kmcl";
    case proto::TraceRecord::kFault:
      return "fault";
    case proto::TraceRecord::kAction:
      return "scenario";
    case proto::TraceRecord::kCompletion:
      return "completion";
    default:
      return "none";
  }
}

// --- trace export: ring sizes --------------------------------------------------------------

constexpr std::uint64_t kPageBytes = 4096;

// The value of " name=value" in a decoded message (wire::describe's form).
std::optional<std::string_view> message_field(std::string_view decoded, std::string_view name) {
  const std::string needle = " " + std::string(name) + "=";
  const std::size_t at = decoded.find(needle);
  if (at == std::string_view::npos) {
    return std::nullopt;
  }
  const std::size_t begin = at + needle.size();
  return decoded.substr(begin, decoded.find(' ', begin) - begin);
}

std::optional<std::uint64_t> parse_decimal(std::string_view text, std::uint64_t max) {
  if (text.empty()) {
    return std::nullopt;
  }
  std::uint64_t value = 0;
  for (const char c : text) {
    if (!is_digit(c)) {
      return std::nullopt;
    }
    const auto digit = static_cast<std::uint64_t>(c - '0');
    if (value > (max - digit) / 10) {
      return std::nullopt;
    }
    value = value * 10 + digit;
  }
  return value;
}

// What the trace's control messages say about each channel's ring sizes, for
// ring records written before they carried RingEvent.data_size:
// a GPADL_HEADER gives the byte_count of its gpadl, an OPENCHANNEL lays the
// outbound ring over the first downstream_ringbuffer_pageoffset pages of its
// gpadl and the inbound ring over the rest, each ring a control page and its
// data area (guest/src/client.cc, host/src/server.cc).
class RingGeometry {
 public:
  // Learns from one control message. Returns the relid when it is an
  // OPENCHANNEL being posted: that channel's rings start afresh.
  std::optional<std::uint32_t> learn(const proto::MessageEvent& message) {
    if (message.stage() == proto::MessageEvent::STAGE_REJECTED ||
        message.stage() == proto::MessageEvent::STAGE_IGNORED) {
      return std::nullopt;
    }
    const std::string_view decoded = message.decoded();
    if (decoded.starts_with("CHANNELMSG_GPADL_HEADER ")) {
      const auto gpadl = message_field(decoded, "gpadl");
      const auto bytes = parse_decimal(message_field(decoded, "byte_count").value_or(""),
                                       std::numeric_limits<std::uint32_t>::max());
      if (gpadl && bytes) {
        gpadl_bytes_[std::string(*gpadl)] = *bytes;
      }
      return std::nullopt;
    }
    if (!decoded.starts_with("CHANNELMSG_OPENCHANNEL ")) {
      return std::nullopt;
    }
    const auto relid = parse_decimal(message_field(decoded, "child_relid").value_or(""),
                                     std::numeric_limits<std::uint32_t>::max());
    const auto gpadl = message_field(decoded, "ringbuffer_gpadlhandle");
    const auto offset_pages =
        parse_decimal(message_field(decoded, "downstream_ringbuffer_pageoffset").value_or(""),
                      std::numeric_limits<std::uint32_t>::max());
    if (!relid) {
      return std::nullopt;
    }
    RingSizes sizes;
    const auto gpadl_it = gpadl ? gpadl_bytes_.find(std::string(*gpadl)) : gpadl_bytes_.end();
    // Each ring needs its control page and at least one data page.
    if (gpadl_it != gpadl_bytes_.end() && offset_pages && *offset_pages >= 2 &&
        (*offset_pages + 2) * kPageBytes <= gpadl_it->second) {
      sizes.outbound_data_bytes = (*offset_pages - 1) * kPageBytes;
      sizes.inbound_data_bytes = gpadl_it->second - (*offset_pages + 1) * kPageBytes;
    }
    const auto child_relid = static_cast<std::uint32_t>(*relid);
    sizes_[child_relid] = sizes;
    if (message.stage() != proto::MessageEvent::STAGE_POSTED) {
      return std::nullopt;
    }
    return child_relid;
  }

  std::optional<std::uint64_t> data_bytes(std::uint32_t child_relid, std::string_view ring) const {
    const auto it = sizes_.find(child_relid);
    if (it == sizes_.end()) {
      return std::nullopt;
    }
    if (ring == "outbound") {
      return it->second.outbound_data_bytes;
    }
    if (ring == "inbound") {
      return it->second.inbound_data_bytes;
    }
    return std::nullopt;
  }

 private:
  struct RingSizes {
    std::optional<std::uint64_t> outbound_data_bytes;
    std::optional<std::uint64_t> inbound_data_bytes;
  };

  std::map<std::string, std::uint64_t> gpadl_bytes_;  // gpadl as describe() prints it
  std::map<std::uint32_t, RingSizes> sizes_;
};

std::optional<std::uint64_t> ring_bytes_used(const proto::RingEvent& e,
                                             std::optional<std::uint64_t> data_bytes) {
  const std::uint64_t write = e.write_index();
  const std::uint64_t read = e.read_index();
  if (data_bytes) {
    if (write >= *data_bytes || read >= *data_bytes) {
      return std::nullopt;  // impossible indices: no sample rather than a wrong one
    }
    return (write + *data_bytes - read) % *data_bytes;
  }
  if (write >= read) {
    return write - read;
  }
  return std::nullopt;
}

// --- trace export: flows -------------------------------------------------------------------

constexpr const char* kPacketFlow = "packet";
constexpr const char* kRingDataFlow = "ring data";

struct FlowMark {
  std::uint64_t id = 0;
  char phase = 's';  // 's', 't' or 'f'
  const char* name = kPacketFlow;
};

// What the export adds to each record beyond its own event.
struct RecordExtras {
  std::optional<std::uint64_t> ring_bytes_used;
  std::vector<FlowMark> flows;
};

// The number after "trans_id " in a KMCL detail ("#0 trans_id 1").
std::optional<std::uint64_t> trans_id_in(std::string_view detail) {
  constexpr std::string_view kKey = "trans_id ";
  const std::size_t at = detail.find(kKey);
  if (at == std::string_view::npos) {
    return std::nullopt;
  }
  const std::size_t begin = at + kKey.size();
  std::size_t end = begin;
  while (end < detail.size() && is_digit(detail[end])) {
    ++end;
  }
  return parse_decimal(detail.substr(begin, end - begin),
                       std::numeric_limits<std::uint64_t>::max());
}

// "kmcl/1/dpc/1" -> "kmcl/1" (the KMCL device of channel 1); "" otherwise.
std::string_view kmcl_device(std::string_view context) {
  if (!context.starts_with("kmcl/")) {
    return {};
  }
  return context.substr(0, context.find('/', 5));
}

std::optional<std::uint32_t> kmcl_device_relid(std::string_view device) {
  if (device.size() <= 5) {
    return std::nullopt;
  }
  const auto relid = parse_decimal(device.substr(5), std::numeric_limits<std::uint32_t>::max());
  if (!relid) {
    return std::nullopt;
  }
  return static_cast<std::uint32_t>(*relid);
}

proto::Partition other_partition(proto::Partition partition) {
  return partition == proto::PARTITION_HOST ? proto::PARTITION_GUEST : proto::PARTITION_HOST;
}

// Finds the flows of a trace (see write_chrome_trace in the header for the
// rules) and the ring occupancy after each ring record.
class FlowBuilder {
 public:
  explicit FlowBuilder(std::size_t record_count) : extras_(record_count) {}

  void add(std::size_t index, const proto::TraceRecord& record) {
    switch (record.event_case()) {
      case proto::TraceRecord::kMessage:
        if (const auto relid = geometry_.learn(record.message())) {
          rings_.erase({*relid, "inbound"});
          rings_.erase({*relid, "outbound"});
        }
        break;
      case proto::TraceRecord::kRing:
        add_ring(index, record.ring());
        break;
      case proto::TraceRecord::kKmcl:
        add_kmcl(index, record);
        break;
      case proto::TraceRecord::kCompletion: {
        const auto& e = record.completion();
        const auto it =
            awaiting_completion_.find({e.child_relid(), record.partition(), e.trans_id()});
        if (it != awaiting_completion_.end()) {
          chains_[it->second].records.push_back(index);
          awaiting_completion_.erase(it);
        }
        break;
      }
      default:
        break;
    }
  }

  // The extras of every record, flow ids dense from 1 in the order the
  // flows start.
  std::vector<RecordExtras> finish() && {
    std::uint64_t next_id = 1;
    for (const Chain& chain : chains_) {
      if (chain.records.size() < 2) {
        continue;
      }
      const std::uint64_t id = next_id++;
      for (std::size_t k = 0; k < chain.records.size(); ++k) {
        const char phase = k == 0 ? 's' : (k + 1 == chain.records.size() ? 'f' : 't');
        extras_[chain.records[k]].flows.push_back(FlowMark{id, phase, chain.name});
      }
    }
    return std::move(extras_);
  }

 private:
  struct Chain {
    const char* name = kPacketFlow;
    std::vector<std::size_t> records;
  };

  // Bytes published and consumed on one ring since its channel opened; the
  // writes whose last byte has not been consumed yet.
  struct RingFlows {
    std::uint64_t written_bytes = 0;
    std::uint64_t read_bytes = 0;
    std::vector<std::pair<std::size_t, std::uint64_t>> unread;  // chain, written_bytes after it
  };

  using KmclKey = std::tuple<proto::Partition, std::string, std::uint32_t, std::uint64_t>;
  using TransactionKey = std::tuple<std::uint32_t, proto::Partition, std::uint64_t>;

  std::size_t start_chain(const char* name, std::size_t index) {
    chains_.push_back(Chain{name, {index}});
    return chains_.size() - 1;
  }

  void add_ring(std::size_t index, const proto::RingEvent& e) {
    extras_[index].ring_bytes_used =
        ring_bytes_used(e, e.data_size() != 0 ? std::optional<std::uint64_t>(e.data_size())
                                              : geometry_.data_bytes(e.child_relid(), e.ring()));
    if (e.bytes() == 0) {
      return;
    }
    RingFlows& ring = rings_[{e.child_relid(), e.ring()}];
    if (e.op() == "publish_write") {
      ring.written_bytes += e.bytes();
      ring.unread.emplace_back(start_chain(kRingDataFlow, index), ring.written_bytes);
    } else if (e.op() == "publish_read") {
      ring.read_bytes += e.bytes();
      std::size_t consumed = 0;
      while (consumed < ring.unread.size() && ring.unread[consumed].second <= ring.read_bytes) {
        chains_[ring.unread[consumed].first].records.push_back(index);
        ++consumed;
      }
      ring.unread.erase(ring.unread.begin(),
                        ring.unread.begin() + static_cast<std::ptrdiff_t>(consumed));
      // Writes the trace never showed: count them as written so later
      // writes still meet their reads.
      ring.written_bytes = std::max(ring.written_bytes, ring.read_bytes);
    }
  }

  void add_kmcl(std::size_t index, const proto::TraceRecord& record) {
    const proto::KmclRecord& e = record.kmcl();
    if (e.handle() == 0) {
      return;
    }
    const std::string_view device = kmcl_device(record.context());
    const KmclKey key{record.partition(), std::string(device), e.channel(), e.handle()};
    const bool sent = e.kind() == "send";
    if (sent || e.kind() == "dequeue") {
      const std::size_t chain = start_chain(kPacketFlow, index);
      packets_[key] = chain;
      const auto relid = kmcl_device_relid(device);
      const auto trans_id = trans_id_in(e.detail());
      if (relid && trans_id) {
        // Who will learn how the packet ended: its sender.
        const proto::Partition sender =
            sent ? record.partition() : other_partition(record.partition());
        awaiting_completion_[{*relid, sender, *trans_id}] = chain;
      }
      return;
    }
    if (const auto it = packets_.find(key); it != packets_.end()) {
      chains_[it->second].records.push_back(index);
    }
  }

  std::vector<RecordExtras> extras_;
  std::vector<Chain> chains_;
  RingGeometry geometry_;
  std::map<std::pair<std::uint32_t, std::string>, RingFlows> rings_;
  std::map<KmclKey, std::size_t> packets_;
  std::map<TransactionKey, std::size_t> awaiting_completion_;
};

// --- trace export: the writer --------------------------------------------------------------

class ChromeTraceWriter {
 public:
  ChromeTraceWriter(const proto::TraceHeader& header, std::span<const proto::TraceRecord> records,
                    std::ostream& out)
      : header_(header), records_(records), out_(out) {}

  void write() {
    FlowBuilder flows(records_.size());
    for (std::size_t i = 0; i < records_.size(); ++i) {
      flows.add(i, records_[i]);
    }
    const std::vector<RecordExtras> extras = std::move(flows).finish();
    assign_tids(extras);

    out_ << "{\"displayTimeUnit\":\"ns\",\n\"otherData\":" << other_data()
         << ",\n\"traceEvents\":[";
    write_metadata();
    const std::vector<std::uint64_t> step_ends = step_end_times();
    for (std::size_t i = 0; i < records_.size(); ++i) {
      write_record(records_[i], step_ends[i], extras[i]);
    }
    out_ << "\n]}\n";
  }

 private:
  std::string other_data() const {
    return JsonObject()
        .string("source", "vmbus-sim trace export")
        .string("trace_format_version", std::to_string(header_.format_version()))
        .string("seed", std::to_string(header_.seed()))
        .string("scenario", header_.scenario())
        .string("build", trace::written_by(header_))
        .string("scheduling_mode", header_.mode() == proto::SCHEDULING_MODE_FREE_RUNNING
                                       ? "free-running"
                                       : "deterministic")
        .string("records", std::to_string(records_.size()))
        .text();
  }

  void assign_tids(const std::vector<RecordExtras>& extras) {
    for (std::size_t i = 0; i < records_.size(); ++i) {
      tids_.emplace(record_track(records_[i]), 0);
      if (extras[i].ring_bytes_used) {
        tids_.emplace(counter_track(), 0);
      }
    }
    std::uint32_t next_tid = kFirstTid;
    for (auto& [track, tid] : tids_) {
      tid = next_tid++;
    }
  }

  static Track counter_track() { return context_track(kHypervisorPid, ""); }

  // For each scheduler record, the time its step ends: the next scheduler
  // record's time, or 1 us after it for the last.
  std::vector<std::uint64_t> step_end_times() const {
    std::vector<std::uint64_t> ends(records_.size(), 0);
    std::optional<std::size_t> previous;
    for (std::size_t i = 0; i < records_.size(); ++i) {
      if (!records_[i].has_scheduler()) {
        continue;
      }
      if (previous) {
        ends[*previous] = records_[i].time_ns();
      }
      previous = i;
    }
    if (previous) {
      ends[*previous] = records_[*previous].time_ns() + 1000;
    }
    return ends;
  }

  void event(const std::string& json) {
    out_ << (first_event_ ? "\n" : ",\n") << json;
    first_event_ = false;
  }

  void write_metadata() {
    std::optional<std::uint32_t> named_pid;
    for (const auto& [track, tid] : tids_) {
      if (track.pid != named_pid) {
        named_pid = track.pid;
        // No tid: a process-wide event; Perfetto then uses tid = pid.
        event(JsonObject()
                  .string("name", "process_name")
                  .string("ph", "M")
                  .number("pid", track.pid)
                  .raw("args", JsonObject().string("name", process_name(track.pid)).text())
                  .text());
        event(JsonObject()
                  .string("name", "process_sort_index")
                  .string("ph", "M")
                  .number("pid", track.pid)
                  .raw("args", JsonObject().number("sort_index", track.pid).text())
                  .text());
      }
      event(JsonObject()
                .string("name", "thread_name")
                .string("ph", "M")
                .number("pid", track.pid)
                .number("tid", tid)
                .raw("args", JsonObject().string("name", track.thread).text())
                .text());
      event(JsonObject()
                .string("name", "thread_sort_index")
                .string("ph", "M")
                .number("pid", track.pid)
                .number("tid", tid)
                .raw("args", JsonObject().number("sort_index", tid).text())
                .text());
    }
  }

  void write_record(const proto::TraceRecord& record, std::uint64_t step_end_ns,
                    const RecordExtras& extras) {
    const Track track = record_track(record);
    const std::uint32_t tid = tids_.at(track);
    const std::string ts = microseconds_text(record.time_ns());
    const std::string args = JsonObject()
                                 .string("event", trace::event_text(record))
                                 .number("sequence", record.sequence())
                                 .text();
    JsonObject json;
    json.string("name", event_name(record)).string("cat", event_category(record));
    if (record.has_scheduler()) {
      const std::uint64_t duration_ns =
          step_end_ns > record.time_ns() ? step_end_ns - record.time_ns() : 0;
      json.string("ph", "X").raw("ts", ts).raw("dur", microseconds_text(duration_ns));
    } else {
      json.string("ph", "i").string("s", "t").raw("ts", ts);
    }
    event(json.number("pid", track.pid).number("tid", tid).raw("args", args).text());

    if (extras.ring_bytes_used) {
      const Track counter = counter_track();
      event(JsonObject()
                .string("name", "ring " + std::to_string(record.ring().child_relid()) + " " +
                                    record.ring().ring())
                .string("cat", "ring")
                .string("ph", "C")
                .raw("ts", ts)
                .number("pid", counter.pid)
                .number("tid", tids_.at(counter))
                .raw("args", JsonObject().number("bytes_used", *extras.ring_bytes_used).text())
                .text());
    }
    // Right after the instant, at its time and on its track: the flow binds
    // to the slice open there, which is that instant.
    for (const FlowMark& flow : extras.flows) {
      JsonObject mark;
      mark.string("name", flow.name)
          .string("cat", "flow")
          .string("ph", std::string(1, flow.phase))
          .raw("ts", ts)
          .number("pid", track.pid)
          .number("tid", tid)
          .number("id", flow.id);
      if (flow.phase == 'f') {
        mark.string("bp", "e");
      }
      event(mark.text());
    }
  }

  const proto::TraceHeader& header_;
  std::span<const proto::TraceRecord> records_;
  std::ostream& out_;
  std::map<Track, std::uint32_t, TrackLess> tids_;
  bool first_event_ = true;
};

}  // namespace

void write_chrome_trace(const proto::TraceHeader& header,
                        std::span<const proto::TraceRecord> records, std::ostream& out) {
  ChromeTraceWriter(header, records, out).write();
}

}  // namespace vmbus::cli
