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

// The export's objects are compact: a trace has many thousands of them.
JsonObjectBuilder compact_object() {
  return JsonObjectBuilder(JsonObjectBuilder::Style::kCompact);
}

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
    return compact_object()
        .text("source", "vmbus-sim trace export")
        .text("trace_format_version", std::to_string(header_.format_version()))
        .text("seed", std::to_string(header_.seed()))
        .text("scenario", header_.scenario())
        .text("build", trace::written_by(header_))
        .text("scheduling_mode", header_.mode() == proto::SCHEDULING_MODE_FREE_RUNNING
                                     ? "free-running"
                                     : "deterministic")
        .text("records", std::to_string(records_.size()))
        .done();
  }

  void event(const std::string& json) {
    out_ << (first_event_ ? "\n" : ",\n") << json;
    first_event_ = false;
  }

  void write_process(std::uint32_t pid) {
    // No tid: a process-wide event.
    event(compact_object()
              .text("name", "process_name")
              .text("ph", "M")
              .number("pid", pid)
              .raw("args", compact_object().text("name", timeline_process_name(pid)).done())
              .done());
    event(compact_object()
              .text("name", "process_sort_index")
              .text("ph", "M")
              .number("pid", pid)
              .raw("args", compact_object().number("sort_index", pid).done())
              .done());
  }

  void write_metadata() {
    std::set<std::uint32_t> named;
    for (const TimelineTrack& track : timeline_.tracks) {
      if (named.insert(track.pid).second) {
        write_process(track.pid);
      }
      event(compact_object()
                .text("name", "thread_name")
                .text("ph", "M")
                .number("pid", track.pid)
                .number("tid", track.tid)
                .raw("args", compact_object().text("name", track.name).done())
                .done());
      event(compact_object()
                .text("name", "thread_sort_index")
                .text("ph", "M")
                .number("pid", track.pid)
                .number("tid", track.tid)
                .raw("args", compact_object().number("sort_index", track.tid).done())
                .done());
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
    JsonObjectBuilder args = compact_object();
    for (const TimelineArg& arg : slice.args) {
      if (arg.is_number) {
        args.number(arg.key, arg.number);
      } else {
        args.text(arg.key, arg.text);
      }
    }
    if (!slice.fault.empty()) {
      args.text("fault", slice.fault);
    }
    return args.done();
  }

  void write_slice(const TimelineSlice& slice, const std::vector<FlowMark>& marks) {
    const TimelineTrack& track = timeline_.tracks[slice.track];
    const std::string ts = microseconds_text(slice.start_ns);
    event(compact_object()
              .text("name", slice.name)
              .text("cat", slice.kind == "step" ? kStepCategory : kCategory)
              .text("ph", "X")
              .raw("ts", ts)
              .raw("dur", microseconds_text(slice.end_ns - slice.start_ns))
              .number("pid", track.pid)
              .number("tid", track.tid)
              .raw("args", args_json(slice))
              .done());
    for (const FlowMark& mark : marks) {
      JsonObjectBuilder json = compact_object();
      json.text("name", mark.flow->name)
          .text("cat", kCategory)
          .text("ph", std::string(1, mark.phase))
          .raw("ts", ts)
          .number("pid", track.pid)
          .number("tid", track.tid)
          .number("id", mark.flow->id);
      if (mark.phase != 's') {
        json.text("bp", "e");
      }
      event(json.done());
    }
  }

  void write_sample(const CounterSample& sample) {
    event(compact_object()
              .text("name", timeline_.counters[sample.counter].name)
              .text("cat", kCategory)
              .text("ph", "C")
              .raw("ts", microseconds_text(sample.time_ns))
              .number("pid", kHypervisorPid)
              .raw("args", compact_object().number("bytes_used", sample.bytes_used).done())
              .done());
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
