#include "vmbus/cli/trace_command.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <optional>
#include <ostream>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <tuple>
#include <variant>
#include <vector>

#include "vmbus/base/build_info.h"
#include "vmbus/cli/chrome_export.h"
#include "vmbus/cli/html_export.h"
#include "vmbus/cli/output_paths.h"
#include "vmbus/cli/perfetto_export.h"
#include "vmbus/cli/results.h"
#include "vmbus/cli/timeline.h"
#include "vmbus/trace/match.h"
#include "vmbus/trace/reader.h"
#include "vmbus/trace/render.h"

namespace vmbus::cli {
namespace {

constexpr std::string_view kShowDescription =
    R"(Prints the trace FILE written by a run (vmbus-sim simulate --trace FILE) as a
timeline, one line per record:

  SEQ  TIME_US  PARTITION  CONTEXT  IRQL  EVENT

SEQ is the record's sequence number, TIME_US the simulated time in
microseconds, PARTITION host, guest or sim (the hypervisor itself), CONTEXT
the partition context the event happened in ("control", "msg", "isr",
"dpc/1", "kmcl/1/passive", ...), IRQL PASSIVE or DISPATCH where the record
knows it. EVENT says what happened: a scheduler choice, a SynIC message
(posted, queued, delivered, rejected, handled, ignored; with every decoded
field), a signal (signalled, coalesced, delivered), a ring publish with the
indices after it, a channel state change, a KMCL event or verifier
violation, a process event, a note, an injected fault ("fault
interrupt_dropped: ..."), a scenario step ("scenario step 3 'label': ...")
or a completion a sender learned of ("completion relid 1 trans_id 5
STATUS_SUCCESS 16 bytes").

A scenario run's trace ends with its final state: the negotiated version,
each channel's states and counters on both sides, every oracle's verdict
and the run's verdict ("final verdict PASS").

Options:
  --channel C   only records about channel C: its child_relid, or its name
                in the scenario ("net"; the trace's final state names them)
  --grep TEXT   only lines containing TEXT; repeat it for lines containing
                any of the TEXTs
  --igrep TEXT  the same, in any case (--igrep DEFER finds "defer")
  --help        print this help

Exit status:
  0  printed
  2  usage error, or FILE is missing, not a trace, of another format
     version, or corrupt (the message says where)
)";

constexpr std::string_view kShowExamples =
    R"(  vmbus-sim trace show run.trace
  vmbus-sim trace show --channel 1 --grep defer run.trace
  vmbus-sim trace show --channel net --grep begin_read --grep end_read run.trace
  vmbus-sim trace show --igrep Interrupt_Mask run.trace
)";

constexpr FlagSpec kShowFlags[] = {
    {"--channel", true}, {"--grep", true, true}, {"--igrep", true, true}};

std::string lower_case(std::string_view text) {
  std::string lowered(text);
  std::transform(lowered.begin(), lowered.end(), lowered.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return lowered;
}

// Which lines `trace show` prints: those containing any --grep TEXT or any
// --igrep TEXT in any case; every line when neither is given.
class LineFilter {
 public:
  explicit LineFilter(const ParsedArgs& args) {
    for (std::string_view text : args.values("--grep")) {
      exact_.emplace_back(text);
    }
    for (std::string_view text : args.values("--igrep")) {
      any_case_.push_back(lower_case(text));
    }
  }

  bool keeps(const std::string& line) const {
    if (exact_.empty() && any_case_.empty()) {
      return true;
    }
    for (const std::string& text : exact_) {
      if (line.find(text) != std::string::npos) {
        return true;
      }
    }
    if (any_case_.empty()) {
      return false;
    }
    const std::string lowered = lower_case(line);
    return std::any_of(any_case_.begin(), any_case_.end(), [&](const std::string& text) {
      return lowered.find(text) != std::string::npos;
    });
  }

 private:
  std::vector<std::string> exact_;
  std::vector<std::string> any_case_;
};

// --channel's channel: a relid, or a name the trace's final state gives a
// relid; nullopt after a usage error.
std::optional<std::uint32_t> channel_of(const Invocation& invocation, std::string_view text,
                                        const std::vector<proto::TraceRecord>& records) {
  if (!text.empty() &&
      std::all_of(text.begin(), text.end(), [](unsigned char c) { return std::isdigit(c) != 0; })) {
    const auto value = parse_decimal_flag(invocation, "--channel", text, 0xFFFFFFFFu);
    return value ? std::optional(static_cast<std::uint32_t>(*value)) : std::nullopt;
  }
  std::set<std::string> names;
  for (const proto::TraceRecord& record : records) {
    if (record.has_final_state() && !record.final_state().channel().empty()) {
      if (record.final_state().channel() == text) {
        return record.final_state().child_relid();
      }
      names.insert(record.final_state().channel());
    }
  }
  std::string known;
  for (const std::string& name : names) {
    known += (known.empty() ? "" : ", ") + name;
  }
  usage_error(invocation.command_path, invocation.io.err,
              "--channel: no channel '" + std::string(text) + "' in this trace " +
                  (known.empty() ? "(only a scenario run's trace names its channels; give the "
                                   "child_relid)"
                                 : "(it names " + known + ")"));
  return std::nullopt;
}

constexpr std::string_view kExportDescription =
    R"help(Writes the trace FILE written by a run (vmbus-sim run --trace-dir, vmbus-sim
simulate --trace) for a viewer. The output is a function of FILE (and
RESULTS) alone: the same trace gives the same bytes.

Formats:
  chrome    Chrome trace-event JSON: open it in Perfetto UI
            (https://ui.perfetto.dev, "Open trace file") or in Chromium's
            DevTools Performance panel ("Load profile").
  perfetto  Perfetto's own protobuf trace (.pftrace): ui.perfetto.dev and
            trace_processor open it.
  html      one self-contained page (script, styles and data inline; no
            network): lanes, ring occupancy charts, packet lifelines,
            zoom, pan, search; the run's verdict at the top when RESULTS
            is given. Opens offline in any current browser.

What every format shows:
  processes  host, guest and the hypervisor (the simulator)
  threads    one per partition context that has a record ("msg", "isr",
             "kmcl/1/dpc/1", ...); the hypervisor's records on its lanes
             "scenario", "messages host->guest", "messages guest->host",
             "signals host->guest", "signals guest->host", "faults",
             "processes", "hypervisor"
  slices     every record, named by what it is ("step 12",
             "EvtVmbChannelProcessPacket #0 (delivery 2)", "OFFERCHANNEL
             delivered", "interrupt relid 1", ...), with the record's
             fields as arguments; a scheduler step holds the records its
             context made in it. Records that share a simulated time are
             laid out one after another in slots of at most 100 ns from
             that time; "time_ns" is the record's own time
  flows      "packet": from the sender's send through its signal, the
             interrupt, the receiver's dequeue, each delivery (a Defer is a
             second delivery on the PASSIVE context), to the completion back
             at the sender; "message": a SynIC message posted, delivered,
             handled; "ring data": a ring write to the read that consumed it
  counters   "ring <relid> <ring>": bytes in use after each ring record
             ((write_index - read_index) modulo the ring's data size)
Times are simulated microseconds.

Options:
  --format FORMAT   chrome, perfetto or html (required)
  -o OUT            write to OUT instead of stdout ("-" is stdout); OUT is
                    written whole or not at all (a temporary file beside it
                    is renamed over it)
  --results FILE    html only: the results of the run (vmbus-sim run --json
                    FILE) that wrote the trace; the page shows its verdict,
                    failures and oracle findings
  --help            print this help

Exit status:
  0  written
  2  usage error, OUT cannot be written, FILE is missing, not a trace, of
     another format version, cut short or corrupt, or has no records, or
     RESULTS cannot be read or has no run of this trace
)help";

constexpr std::string_view kExportExamples =
    R"(  vmbus-sim trace export --format=chrome -o run.json run.trace
  vmbus-sim trace export --format=perfetto -o run.pftrace run.trace
  vmbus-sim run --json results.json --trace-dir traces scenarios/defer
  vmbus-sim trace export --format=html --results results.json \
      -o run.html traces/defer-at-dispatch.seed1.trace
)";

constexpr FlagSpec kExportFlags[] = {{"--format", true}, {"-o", true}, {"--results", true}};

// Prints why `read` failed, if it did, and warns when another build wrote
// the trace.
bool read_failed(const trace::TraceReadResult& read, const Invocation& invocation) {
  if (!read.ok) {
    invocation.io.err << "vmbus-sim: " << read.error << "\n";
    return true;
  }
  // A seed replays the same run only with the same build: say so when
  // another build wrote this trace.
  const proto::TraceHeader& header = read.trace.header;
  const bool names_a_build = !header.build_version().empty() || !header.build_commit().empty();
  if (names_a_build && !base::is_this_build(header.build_version(), header.build_commit())) {
    invocation.io.err << "vmbus-sim: warning: this trace was written by "
                      << trace::written_by(header) << "; this is vmbus-sim "
                      << base::build_identity()
                      << ": rerunning its seed here may not reproduce it\n";
  }
  return false;
}

int run_show(const Invocation& invocation) {
  const std::optional<ParsedArgs> args = parse_args(invocation, kShowFlags);
  if (!args) {
    return kExitError;
  }
  if (args->positionals.size() != 1) {
    return usage_error(
        invocation.command_path, invocation.io.err,
        args->positionals.empty() ? "missing trace FILE" : "expected one trace FILE");
  }
  const LineFilter filter(*args);
  const trace::TraceReadResult read = trace::read_trace(std::string(args->positionals.front()));
  if (read_failed(read, invocation)) {
    return kExitError;
  }
  std::optional<std::uint32_t> channel;
  if (auto text = args->value("--channel")) {
    channel = channel_of(invocation, *text, read.trace.records);
    if (!channel) {
      return kExitError;
    }
  }
  const proto::TraceHeader& header = read.trace.header;
  std::ostream& out = invocation.io.out;
  out << "# trace format " << header.format_version() << ", seed " << header.seed()
      << ", scenario '" << header.scenario() << "', "
      << (header.mode() == proto::SCHEDULING_MODE_FREE_RUNNING ? "free-running" : "deterministic")
      << ", " << read.trace.records.size() << " records, written by " << trace::written_by(header)
      << "\n";
  // A regression run puts historical bugs back on purpose: say which.
  for (const auto& [side, quirks] :
       {std::pair{"guest", &header.guest_quirks()}, std::pair{"host", &header.host_quirks()}}) {
    for (const std::string& quirk : *quirks) {
      out << "# " << side << " quirk " << quirk << " (a historical bug, on)\n";
    }
  }
  if (header.quirks_off()) {
    out << "# the scenario's quirks are off (vmbus-sim run --quirks off)\n";
  }
  for (const proto::TraceRecord& record : read.trace.records) {
    if (channel && !trace::concerns_channel(record, *channel)) {
      continue;
    }
    const std::string line = trace::format_record(record);
    if (!filter.keeps(line)) {
      continue;
    }
    out << line << "\n";
  }
  return kExitOk;
}

enum class ExportFormat { kChrome, kPerfetto, kHtml };

constexpr std::string_view kFormatWords = "chrome, perfetto or html";

std::optional<ExportFormat> export_format(std::string_view word) {
  if (word == "chrome") {
    return ExportFormat::kChrome;
  }
  if (word == "perfetto") {
    return ExportFormat::kPerfetto;
  }
  if (word == "html") {
    return ExportFormat::kHtml;
  }
  return std::nullopt;
}

bool same_file(const std::string& a, const std::string& b) {
  std::error_code a_error;
  std::error_code b_error;
  const std::filesystem::path a_path = std::filesystem::weakly_canonical(a, a_error);
  const std::filesystem::path b_path = std::filesystem::weakly_canonical(b, b_error);
  return !a_error && !b_error && a_path == b_path;
}

// The run of `results_path` that wrote the trace at `trace_path`: the run
// that kept that trace, else the one of its scenario and seed. Prints why
// not and returns nullopt when there is none.
std::optional<RunJudgement> judgement_of(const Invocation& invocation,
                                         const std::string& results_path,
                                         const std::string& trace_path,
                                         const proto::TraceHeader& header) {
  std::ifstream in(results_path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  if (!in) {
    invocation.io.err << "vmbus-sim: " << results_path << ": cannot read\n";
    return std::nullopt;
  }
  auto parsed = read_results_json(text.str(), results_path);
  if (const auto* error = std::get_if<std::string>(&parsed)) {
    invocation.io.err << "vmbus-sim: " << *error << "\n";
    return std::nullopt;
  }
  const SweepResults& results = std::get<SweepResults>(parsed);
  const RunRecord* found = nullptr;
  for (const RunRecord& run : results.runs) {
    const std::string& scenario = results.scenarios[run.scenario].name;
    if (!run.trace.empty() && same_file(run.trace, trace_path)) {
      found = &run;
      break;
    }
    if (found == nullptr && scenario == header.scenario() && run.seed == header.seed()) {
      found = &run;
    }
  }
  if (found == nullptr) {
    invocation.io.err << "vmbus-sim: " << results_path << ": no run of scenario '"
                      << header.scenario() << "' seed " << header.seed() << "\n";
    return std::nullopt;
  }
  return RunJudgement{std::string(verdict_word(found->verdict)),
                      results.scenarios[found->scenario].file, found->failures, found->oracles,
                      found->repro};
}

// What `trace export` was asked to do.
struct ExportRequest {
  ExportFormat format = ExportFormat::kChrome;
  std::string trace_path;
  std::optional<std::string> output;   // none or "-": stdout
  std::optional<std::string> results;  // --results
};

// The request, or nullopt after a usage error was printed.
std::optional<ExportRequest> export_request(const Invocation& invocation) {
  const std::optional<ParsedArgs> args = parse_args(invocation, kExportFlags);
  if (!args) {
    return std::nullopt;
  }
  const std::string& path = invocation.command_path;
  std::ostream& err = invocation.io.err;
  const std::optional<std::string_view> format_word = args->value("--format");
  if (!format_word) {
    usage_error(path, err, "--format is required (" + std::string(kFormatWords) + ")");
    return std::nullopt;
  }
  const std::optional<ExportFormat> format = export_format(*format_word);
  if (!format) {
    usage_error(
        path, err,
        "unknown --format '" + std::string(*format_word) + "' (" + std::string(kFormatWords) + ")");
    return std::nullopt;
  }
  ExportRequest request{*format, "", std::nullopt, std::nullopt};
  if (const auto results = args->value("--results")) {
    if (*format != ExportFormat::kHtml) {
      usage_error(path, err, "--results goes with --format=html only");
      return std::nullopt;
    }
    request.results = std::string(*results);
  }
  if (const auto output = args->value("-o")) {
    if (output->empty()) {
      usage_error(path, err, "-o needs a file name");
      return std::nullopt;
    }
    request.output = std::string(*output);
  }
  if (args->positionals.size() != 1) {
    usage_error(path, err,
                args->positionals.empty() ? "missing trace FILE" : "expected one trace FILE");
    return std::nullopt;
  }
  request.trace_path = std::string(args->positionals.front());
  return request;
}

std::string exported(const ExportRequest& request, const trace::TraceFile& trace,
                     const std::optional<RunJudgement>& judgement) {
  const Timeline timeline = build_timeline(trace.records);
  std::string content;
  switch (request.format) {
    case ExportFormat::kChrome: {
      std::ostringstream json;
      write_chrome_trace(trace.header, trace.records, timeline, json);
      content = json.str();
      break;
    }
    case ExportFormat::kPerfetto:
      write_perfetto_trace(trace.header, timeline, content);
      break;
    case ExportFormat::kHtml:
      write_html_timeline(trace.header, trace.records, timeline,
                          std::filesystem::path(request.trace_path).filename().string(), judgement,
                          content);
      break;
  }
  return content;
}

int run_export(const Invocation& invocation) {
  const std::optional<ExportRequest> request = export_request(invocation);
  if (!request) {
    return kExitError;
  }
  std::ostream& err = invocation.io.err;
  // Everything is read and written in memory before OUT is touched: a bad
  // trace or results file leaves OUT as it was.
  const trace::TraceReadResult read = trace::read_trace(request->trace_path);
  if (read_failed(read, invocation)) {
    return kExitError;
  }
  if (read.trace.records.empty()) {
    err << "vmbus-sim: " << request->trace_path << ": the trace has no records: nothing to show\n";
    return kExitError;
  }
  std::optional<RunJudgement> judgement;
  if (request->results) {
    judgement = judgement_of(invocation, *request->results, request->trace_path, read.trace.header);
    if (!judgement) {
      return kExitError;
    }
  }
  const std::string content = exported(*request, read.trace, judgement);
  if (!request->output || *request->output == "-") {
    invocation.io.out << content;
    return kExitOk;
  }
  if (const std::string why = write_file_atomically(*request->output, content); !why.empty()) {
    err << "vmbus-sim: cannot write '" << *request->output << "': " << why << "\n";
    return kExitError;
  }
  return kExitOk;
}

}  // namespace

const Command& trace_command() {
  static const Command kSubcommands[] = {
      Command{"show",
              "[--channel C] [--grep TEXT]... [--igrep TEXT]... FILE",
              "Print a run's trace as a timeline",
              kShowDescription,
              kShowExamples,
              &run_show,
              {}},
      Command{"export",
              "--format=chrome|perfetto|html [-o OUT] [--results FILE] FILE",
              "Write a run's trace for a viewer: Chrome JSON, Perfetto, offline HTML",
              kExportDescription,
              kExportExamples,
              &run_export,
              {}},
  };
  static const Command kTrace{
      "trace",
      "<command> [arguments]",
      "Read the traces runs write",
      "Reads the trace files that runs write (vmbus-sim simulate --trace).\n",
      "  vmbus-sim trace show run.trace\n"
      "  vmbus-sim trace export --format=html -o run.html run.trace\n",
      nullptr,
      kSubcommands};
  return kTrace;
}

}  // namespace vmbus::cli
