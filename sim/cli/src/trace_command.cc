#include "vmbus/cli/trace_command.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <fstream>
#include <limits>
#include <map>
#include <ostream>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "vmbus/base/build_info.h"
#include "vmbus/cli/chrome_export.h"
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

Options:
  --channel N   only records about channel (child_relid) N
  --grep TEXT   only lines containing TEXT
  --help        print this help

Exit status:
  0  printed
  2  usage error, or FILE is missing, not a trace, of another format
     version, or corrupt (the message says where)
)";

constexpr std::string_view kShowExamples =
    R"(  vmbus-sim trace show run.trace
  vmbus-sim trace show --channel 1 --grep defer run.trace
)";

constexpr FlagSpec kShowFlags[] = {{"--channel", true}, {"--grep", true}};

constexpr std::string_view kExportDescription =
    R"(Writes the trace FILE written by a run (vmbus-sim simulate --trace FILE) as
Chrome trace-event JSON (the JSON Object Format), which Perfetto UI
(https://ui.perfetto.dev, "Open trace file") and chrome://tracing open. The
output is a function of FILE alone: the same trace gives the same bytes.

What you see:
  processes  host (pid 1), guest (pid 2), hypervisor (pid 3, the simulator)
  threads    one per partition context ("msg", "isr", "dpc/1",
             "kmcl/1/dpc/1", ...); the simulator's own records are on the
             hypervisor's thread "hypervisor"
  slices     each scheduler step, "step N", on the context it ran, until the
             next step
  instants   every other record, named by its kind ("message delivered",
             "signal delivered", "ring publish_write", "kmcl callback",
             "fault interrupt_dropped", ...); its args hold the full event
             text of 'trace show' and the record's sequence number
  counters   "ring <relid> inbound|outbound": bytes_used after each ring
             record, (write_index - read_index) modulo the ring's data size,
             which is learnt from the channel's GPADL_HEADER and OPENCHANNEL
             messages (without them, write_index - read_index when that is
             not negative; otherwise no sample)
  flows      arrows that follow one packet:
             "packet": the KMCL records of one packet, keyed by its KMCL
             handle on its device and channel: a send or dequeue starts the
             flow, every later record of that handle (deliveries, defers,
             redeliveries, completion, violations) joins it until the next
             send or dequeue of the handle; a completion record (relid,
             trans_id) ends the flow of the packet its partition sent with
             that trans_id;
             "ring data": a ring publish_write to the publish_read that
             consumed its last byte (bytes counted since OPENCHANNEL)
Times are simulated microseconds (ts = time_ns / 1000, 3 decimals).

Options:
  --format chrome   the output format (required; chrome is the only one)
  -o OUT            write to OUT instead of stdout ("-" is stdout); OUT is
                    not touched when FILE cannot be read
  --help            print this help

Exit status:
  0  written
  2  usage error, OUT cannot be written, or FILE is missing, not a trace,
     of another format version, or corrupt (the message says where)
)";

constexpr std::string_view kExportExamples =
    R"(  vmbus-sim trace export --format=chrome -o run.json run.trace
  vmbus-sim trace export --format chrome run.trace > run.json
)";

constexpr FlagSpec kExportFlags[] = {{"--format", true}, {"-o", true}};

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
  std::optional<std::uint32_t> channel;
  if (auto text = args->value("--channel")) {
    const auto value = parse_decimal_flag(invocation, "--channel", *text, 0xFFFFFFFFu);
    if (!value) {
      return kExitError;
    }
    channel = static_cast<std::uint32_t>(*value);
  }
  const std::string grep(args->value("--grep").value_or(""));

  const trace::TraceReadResult read = trace::read_trace(std::string(args->positionals.front()));
  if (read_failed(read, invocation)) {
    return kExitError;
  }
  const proto::TraceHeader& header = read.trace.header;
  std::ostream& out = invocation.io.out;
  out << "# trace format " << header.format_version() << ", seed " << header.seed()
      << ", scenario '" << header.scenario() << "', "
      << (header.mode() == proto::SCHEDULING_MODE_FREE_RUNNING ? "free-running" : "deterministic")
      << ", " << read.trace.records.size() << " records, written by " << trace::written_by(header)
      << "\n";
  for (const proto::TraceRecord& record : read.trace.records) {
    if (channel && !trace::concerns_channel(record, *channel)) {
      continue;
    }
    const std::string line = trace::format_record(record);
    if (!grep.empty() && line.find(grep) == std::string::npos) {
      continue;
    }
    out << line << "\n";
  }
  return kExitOk;
}

int run_export(const Invocation& invocation) {
  const std::optional<ParsedArgs> args = parse_args(invocation, kExportFlags);
  if (!args) {
    return kExitError;
  }
  const std::optional<std::string_view> format = args->value("--format");
  if (!format) {
    return usage_error(invocation.command_path, invocation.io.err,
                       "--format is required (the only format is 'chrome')");
  }
  if (*format != "chrome") {
    return usage_error(
        invocation.command_path, invocation.io.err,
        "unknown --format '" + std::string(*format) + "' (the only format is 'chrome')");
  }
  const std::optional<std::string_view> output = args->value("-o");
  if (output && output->empty()) {
    return usage_error(invocation.command_path, invocation.io.err, "-o needs a file name");
  }
  if (args->positionals.size() != 1) {
    return usage_error(
        invocation.command_path, invocation.io.err,
        args->positionals.empty() ? "missing trace FILE" : "expected one trace FILE");
  }

  // Read all of FILE before OUT is opened: a bad trace leaves OUT untouched.
  const trace::TraceReadResult read = trace::read_trace(std::string(args->positionals.front()));
  if (read_failed(read, invocation)) {
    return kExitError;
  }
  if (!output || *output == "-") {
    write_chrome_trace(read.trace.header, read.trace.records, invocation.io.out);
    return kExitOk;
  }
  const std::string path(*output);
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  if (file) {
    write_chrome_trace(read.trace.header, read.trace.records, file);
    file.close();
  }
  if (!file) {
    invocation.io.err << "vmbus-sim: cannot write '" << path << "'\n";
    return kExitError;
  }
  return kExitOk;
}

}  // namespace

const Command& trace_command() {
  static const Command kSubcommands[] = {
      Command{"show",
              "[--channel N] [--grep TEXT] FILE",
              "Print a run's trace as a timeline",
              kShowDescription,
              kShowExamples,
              &run_show,
              {}},
      Command{"export",
              "--format=chrome [-o OUT] FILE",
              "Write a run's trace as Chrome trace-event JSON (Perfetto, chrome://tracing)",
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
      "  vmbus-sim trace export --format=chrome -o run.json run.trace\n",
      nullptr,
      kSubcommands};
  return kTrace;
}

}  // namespace vmbus::cli
