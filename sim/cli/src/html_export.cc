#include "vmbus/cli/html_export.h"

#include <map>
#include <string_view>

#include "vmbus/base/check.h"
#include "vmbus/cli/json_text.h"
#include "vmbus/trace/render.h"

#include "timeline_template.h"

namespace vmbus::cli {
namespace {

constexpr std::string_view kDataMarker = "/*@TIMELINE_DATA@*/";

void add_string(std::string& out, std::string_view text) {
  append_json_string(out, text);
}

// Strings used many times (names, kinds), each written once.
class StringTable {
 public:
  std::size_t index(const std::string& text) {
    const auto [it, added] = index_.emplace(text, strings_.size());
    if (added) {
      strings_.push_back(text);
    }
    return it->second;
  }
  void write(std::string& out) const {
    out += '[';
    for (std::size_t i = 0; i < strings_.size(); ++i) {
      out += i == 0 ? "" : ",";
      add_string(out, strings_[i]);
    }
    out += ']';
  }

 private:
  std::map<std::string, std::size_t> index_;
  std::vector<std::string> strings_;
};

void write_run(const proto::TraceHeader& header, std::size_t records, const std::string& trace_name,
               std::string& out) {
  out += "{\"scenario\":";
  add_string(out, header.scenario());
  out += ",\"seed\":";
  add_string(out, std::to_string(header.seed()));
  out += ",\"build\":";
  add_string(out, trace::written_by(header));
  out += ",\"mode\":";
  add_string(
      out, header.mode() == proto::SCHEDULING_MODE_FREE_RUNNING ? "free-running" : "deterministic");
  out += ",\"format_version\":" + std::to_string(header.format_version());
  out += ",\"records\":" + std::to_string(records);
  out += ",\"trace\":";
  add_string(out, trace_name);
  out += '}';
}

void write_verdict(const std::optional<RunJudgement>& judgement, std::string& out) {
  if (!judgement) {
    out += "null";
    return;
  }
  out += "{\"verdict\":";
  add_string(out, judgement->verdict);
  out += ",\"file\":";
  add_string(out, judgement->file);
  out += ",\"failures\":[";
  for (std::size_t i = 0; i < judgement->failures.size(); ++i) {
    out += i == 0 ? "" : ",";
    add_string(out, judgement->failures[i]);
  }
  out += "],\"oracles\":[";
  for (std::size_t i = 0; i < judgement->oracles.size(); ++i) {
    const RunOracle& oracle = judgement->oracles[i];
    out += i == 0 ? "[" : ",[";
    add_string(out, oracle.name);
    out += ',';
    add_string(out, oracle.channel);
    out += ',';
    add_string(out, oracle.what);
    out += ']';
  }
  out += "],\"repro\":";
  add_string(out, judgement->repro);
  out += '}';
}

// What the trace itself says went wrong: verifier violations, injected
// faults, crashed or hung processes, scenario steps a partition refused.
std::string finding_of(const proto::TraceRecord& record) {
  if (record.has_kmcl() && record.kmcl().kind() == "violation") {
    return std::string(trace::partition_name(record.partition())) + " verifier violation " +
           record.kmcl().code() + ": " + record.kmcl().detail();
  }
  if (record.has_fault()) {
    return "fault " + record.fault().kind() + ": " + record.fault().detail();
  }
  if (record.has_process() && (record.process().kind() == proto::ProcessEvent::KIND_CRASHED ||
                               record.process().kind() == proto::ProcessEvent::KIND_HUNG)) {
    return trace::event_text(record);
  }
  if (record.has_action() && !record.action().error().empty()) {
    return trace::event_text(record);
  }
  return "";
}

void write_findings(std::span<const proto::TraceRecord> records, const Timeline& timeline,
                    std::string& out) {
  out += '[';
  bool first = true;
  for (std::size_t s = 0; s < timeline.slices.size(); ++s) {
    const std::string finding = finding_of(records[timeline.slices[s].record]);
    if (finding.empty()) {
      continue;
    }
    out += first ? "[" : ",[";
    first = false;
    out += std::to_string(s) + ",";
    add_string(out, finding);
    out += ']';
  }
  out += ']';
}

void write_tracks(const Timeline& timeline, std::string& out) {
  out += '[';
  for (std::size_t t = 0; t < timeline.tracks.size(); ++t) {
    const TimelineTrack& track = timeline.tracks[t];
    out += t == 0 ? "[" : ",[";
    out += std::to_string(track.pid) + ",";
    add_string(out, timeline_process_name(track.pid));
    out += ',';
    add_string(out, track.name);
    out += ']';
  }
  out += ']';
}

// An argument's value: a number below 2^53 as itself (JavaScript's numbers
// hold it exactly), anything else as -(1 + its index in the string table).
std::string arg_value(const TimelineArg& arg, StringTable& strings) {
  constexpr std::uint64_t kExactInJavaScript = std::uint64_t{1} << 53;
  if (arg.is_number && arg.number < kExactInJavaScript) {
    return std::to_string(arg.number);
  }
  const std::string text = arg.is_number ? std::to_string(arg.number) : arg.text;
  return "-" + std::to_string(strings.index(text) + 1);
}

void write_slices(const Timeline& timeline, StringTable& strings, std::string& out) {
  out += '[';
  for (std::size_t s = 0; s < timeline.slices.size(); ++s) {
    const TimelineSlice& slice = timeline.slices[s];
    const std::string fault =
        slice.fault.empty() ? "-1" : std::to_string(strings.index(slice.fault));
    out += s == 0 ? "[" : ",\n[";
    out += std::to_string(slice.track) + "," + std::to_string(slice.start_ns) + "," +
           std::to_string(slice.end_ns) + "," + std::to_string(strings.index(slice.name)) + "," +
           std::to_string(strings.index(slice.kind)) + "," + fault + ",[";
    for (std::size_t a = 0; a < slice.args.size(); ++a) {
      out += (a == 0 ? "" : ",") + std::to_string(strings.index(slice.args[a].key)) + "," +
             arg_value(slice.args[a], strings);
    }
    out += "]]";
  }
  out += ']';
}

// How a packet's flow ended (see timeline_data_json).
std::string packet_outcome(std::span<const proto::TraceRecord> records, const Timeline& timeline,
                           const TimelineFlow& flow) {
  std::string outcome = "open";
  bool deferred = false;
  for (const std::size_t s : flow.slices) {
    const proto::TraceRecord& record = records[timeline.slices[s].record];
    if (record.has_kmcl()) {
      const std::string& kind = record.kmcl().kind();
      deferred = deferred || kind == "defer" || kind == "defer_at_passive";
      if (kind == "fail") {
        outcome = "failed";
      } else if (kind == "complete" && outcome == "open") {
        outcome = "completed";
      }
    } else if (record.has_completion() && outcome != "failed") {
      outcome = record.completion().status() == "STATUS_SUCCESS" ? "completed" : "cancelled";
    }
  }
  return deferred ? outcome + " deferred" : outcome;
}

void write_flows(std::span<const proto::TraceRecord> records, const Timeline& timeline,
                 StringTable& strings, std::string& out) {
  out += '[';
  for (std::size_t f = 0; f < timeline.flows.size(); ++f) {
    const TimelineFlow& flow = timeline.flows[f];
    const std::string outcome =
        flow.name == "packet" ? packet_outcome(records, timeline, flow) : "";
    out += f == 0 ? "[" : ",\n[";
    out += std::to_string(strings.index(flow.name)) + "," + std::to_string(strings.index(outcome)) +
           ",[";
    for (std::size_t k = 0; k < flow.slices.size(); ++k) {
      out += (k == 0 ? "" : ",") + std::to_string(flow.slices[k]);
    }
    out += "]]";
  }
  out += ']';
}

void write_counters(const Timeline& timeline, std::string& out) {
  std::vector<std::string> samples(timeline.counters.size());
  for (const CounterSample& sample : timeline.samples) {
    std::string& text = samples[sample.counter];
    text += (text.empty() ? "[" : ",[") + std::to_string(sample.time_ns) + "," +
            std::to_string(sample.bytes_used) + "]";
  }
  out += '[';
  for (std::size_t c = 0; c < timeline.counters.size(); ++c) {
    const TimelineCounter& counter = timeline.counters[c];
    out += c == 0 ? "[" : ",\n[";
    add_string(out, counter.name);
    out += "," + std::to_string(counter.child_relid) + ",";
    add_string(out, counter.ring);
    out += "," + std::to_string(counter.data_size_bytes) + ",[" + samples[c] + "]]";
  }
  out += ']';
}

// Nothing in the data may end (or open a comment in) the script element
// that holds it: every '<' becomes \u003c, which is the same character in a
// JSON string (outside strings JSON has no '<').
std::string guarded(const std::string& json) {
  std::string out;
  out.reserve(json.size());
  for (const char c : json) {
    if (c == '<') {
      out += "\\u003c";
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

std::string timeline_data_json(const proto::TraceHeader& header,
                               std::span<const proto::TraceRecord> records,
                               const Timeline& timeline, const std::string& trace_name,
                               const std::optional<RunJudgement>& judgement) {
  StringTable strings;
  std::string slices;
  std::string flows;
  write_slices(timeline, strings, slices);
  write_flows(records, timeline, strings, flows);
  std::string out = "{\"run\":";
  write_run(header, records.size(), trace_name, out);
  out += ",\n\"verdict\":";
  write_verdict(judgement, out);
  out += ",\n\"findings\":";
  write_findings(records, timeline, out);
  out += ",\n\"tracks\":";
  write_tracks(timeline, out);
  out += ",\n\"strings\":";
  strings.write(out);
  out += ",\n\"slices\":" + slices + ",\n\"flows\":" + flows;
  out += ",\n\"counters\":";
  write_counters(timeline, out);
  out += "}";
  return guarded(out);
}

void write_html_timeline(const proto::TraceHeader& header,
                         std::span<const proto::TraceRecord> records, const Timeline& timeline,
                         const std::string& trace_name,
                         const std::optional<RunJudgement>& judgement, std::string& out) {
  const std::string_view page = timeline_html_template();
  const std::size_t marker = page.find(kDataMarker);
  VMBUS_CHECK(marker != std::string_view::npos, "the HTML template has no data marker");
  out += page.substr(0, marker);
  out += timeline_data_json(header, records, timeline, trace_name, judgement);
  out += page.substr(marker + kDataMarker.size());
}

}  // namespace vmbus::cli
