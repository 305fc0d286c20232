#include "vmbus/cli/chrome_export.h"

#include <cstdio>
#include <ostream>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "vmbus/cli/json_text.h"
#include "vmbus/trace/render.h"

namespace vmbus::cli {
namespace {

// Nanoseconds as microseconds with exactly 3 decimals, without floating
// point, so the text is exact and the same on every machine.
std::string microseconds_text(std::uint64_t time_ns) {
  char text[32];
  std::snprintf(text, sizeof(text), "%llu.%03llu", static_cast<unsigned long long>(time_ns / 1000),
                static_cast<unsigned long long>(time_ns % 1000));
  return text;
}

// Builds one JSON object, members in the order they are added.
class JsonObjectWriter {
 public:
  JsonObjectWriter& string(std::string_view key, std::string_view value) {
    append_json_string(member(key), value);
    return *this;
  }
  JsonObjectWriter& number(std::string_view key, std::uint64_t value) {
    member(key) += std::to_string(value);
    return *this;
  }
  // `json` is already JSON text: a number with decimals, an object.
  JsonObjectWriter& raw(std::string_view key, std::string_view json) {
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

constexpr std::string_view kCategory = "vmbus";
constexpr std::string_view kStepCategory = "scheduler";

struct FlowMark {
  const TimelineFlow* flow = nullptr;
  char phase = 's';
};

class ChromeTraceWriter {
 public:
  ChromeTraceWriter(const proto::TraceHeader& header, std::span<const proto::TraceRecord> records,
                    const Timeline& timeline, std::ostream& out)
      : header_(header), records_(records), timeline_(timeline), out_(out) {}

  void write() {
    out_ << "{\"displayTimeUnit\":\"ns\",\n\"otherData\":" << other_data()
         << ",\n\"traceEvents\":[";
    write_metadata();
    const std::vector<std::vector<FlowMark>> marks = flow_marks();
    std::vector<std::vector<std::size_t>> samples(timeline_.slices.size());
    for (std::size_t i = 0; i < timeline_.samples.size(); ++i) {
      samples[timeline_.samples[i].slice].push_back(i);
    }
    for (std::size_t s = 0; s < timeline_.slices.size(); ++s) {
      write_slice(timeline_.slices[s], marks[s]);
      for (const std::size_t sample : samples[s]) {
        write_sample(timeline_.samples[sample]);
      }
    }
    out_ << "\n]}\n";
  }

 private:
  std::string other_data() const {
    return JsonObjectWriter()
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

  void event(const std::string& json) {
    out_ << (first_event_ ? "\n" : ",\n") << json;
    first_event_ = false;
  }

  void write_process(std::uint32_t pid) {
    // No tid: a process-wide event.
    event(JsonObjectWriter()
              .string("name", "process_name")
              .string("ph", "M")
              .number("pid", pid)
              .raw("args", JsonObjectWriter().string("name", timeline_process_name(pid)).text())
              .text());
    event(JsonObjectWriter()
              .string("name", "process_sort_index")
              .string("ph", "M")
              .number("pid", pid)
              .raw("args", JsonObjectWriter().number("sort_index", pid).text())
              .text());
  }

  void write_metadata() {
    std::set<std::uint32_t> named;
    for (const TimelineTrack& track : timeline_.tracks) {
      if (named.insert(track.pid).second) {
        write_process(track.pid);
      }
      event(JsonObjectWriter()
                .string("name", "thread_name")
                .string("ph", "M")
                .number("pid", track.pid)
                .number("tid", track.tid)
                .raw("args", JsonObjectWriter().string("name", track.name).text())
                .text());
      event(JsonObjectWriter()
                .string("name", "thread_sort_index")
                .string("ph", "M")
                .number("pid", track.pid)
                .number("tid", track.tid)
                .raw("args", JsonObjectWriter().number("sort_index", track.tid).text())
                .text());
    }
    if (!timeline_.samples.empty() && named.insert(kHypervisorPid).second) {
      write_process(kHypervisorPid);  // the counters' process
    }
  }

  std::vector<std::vector<FlowMark>> flow_marks() const {
    std::vector<std::vector<FlowMark>> marks(timeline_.slices.size());
    for (const TimelineFlow& flow : timeline_.flows) {
      for (std::size_t k = 0; k < flow.slices.size(); ++k) {
        const char phase = k == 0 ? 's' : (k + 1 == flow.slices.size() ? 'f' : 't');
        marks[flow.slices[k]].push_back(FlowMark{&flow, phase});
      }
    }
    return marks;
  }

  static std::string args_json(const TimelineSlice& slice) {
    JsonObjectWriter args;
    for (const TimelineArg& arg : slice.args) {
      if (arg.is_number) {
        args.number(arg.key, arg.number);
      } else {
        args.string(arg.key, arg.text);
      }
    }
    if (!slice.fault.empty()) {
      args.string("fault", slice.fault);
    }
    return args.text();
  }

  void write_slice(const TimelineSlice& slice, const std::vector<FlowMark>& marks) {
    const TimelineTrack& track = timeline_.tracks[slice.track];
    const std::string ts = microseconds_text(slice.start_ns);
    event(JsonObjectWriter()
              .string("name", slice.name)
              .string("cat", slice.kind == "step" ? kStepCategory : kCategory)
              .string("ph", "X")
              .raw("ts", ts)
              .raw("dur", microseconds_text(slice.end_ns - slice.start_ns))
              .number("pid", track.pid)
              .number("tid", track.tid)
              .raw("args", args_json(slice))
              .text());
    for (const FlowMark& mark : marks) {
      JsonObjectWriter json;
      json.string("name", mark.flow->name)
          .string("cat", kCategory)
          .string("ph", std::string(1, mark.phase))
          .raw("ts", ts)
          .number("pid", track.pid)
          .number("tid", track.tid)
          .number("id", mark.flow->id);
      if (mark.phase != 's') {
        json.string("bp", "e");
      }
      event(json.text());
    }
  }

  void write_sample(const CounterSample& sample) {
    event(JsonObjectWriter()
              .string("name", timeline_.counters[sample.counter].name)
              .string("cat", kCategory)
              .string("ph", "C")
              .raw("ts", microseconds_text(sample.time_ns))
              .number("pid", kHypervisorPid)
              .raw("args", JsonObjectWriter().number("bytes_used", sample.bytes_used).text())
              .text());
  }

  const proto::TraceHeader& header_;
  std::span<const proto::TraceRecord> records_;
  const Timeline& timeline_;
  std::ostream& out_;
  bool first_event_ = true;
};

}  // namespace

void write_chrome_trace(const proto::TraceHeader& header,
                        std::span<const proto::TraceRecord> records, const Timeline& timeline,
                        std::ostream& out) {
  ChromeTraceWriter(header, records, timeline, out).write();
}

}  // namespace vmbus::cli
