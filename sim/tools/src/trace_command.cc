#include "vmbus/tools/trace_command.h"

#include <cstdio>
#include <ostream>
#include <string>

#include "vmbus/hv/trace_reader.h"

namespace vmbus::tools {
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
violation, a process event, or a note.

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

const char* partition_name(proto::Partition partition) {
  switch (partition) {
    case proto::PARTITION_HOST:
      return "host";
    case proto::PARTITION_GUEST:
      return "guest";
    default:
      return "sim";
  }
}

std::string stage_name(const std::string& enum_name) {
  // "STAGE_DELIVERED" -> "delivered"
  std::string name = enum_name.rfind("STAGE_", 0) == 0 ? enum_name.substr(6) : enum_name;
  for (char& c : name) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return name;
}

std::string arrow(proto::Partition from, proto::Partition to) {
  return std::string(partition_name(from)) + "->" + partition_name(to);
}

std::string event_text(const proto::TraceRecord& record) {
  switch (record.event_case()) {
    case proto::TraceRecord::kScheduler: {
      const auto& e = record.scheduler();
      const std::string chosen = e.chosen() < static_cast<std::uint32_t>(e.ready_size())
                                     ? e.ready(static_cast<int>(e.chosen()))
                                     : "?";
      return "step " + std::to_string(e.step_number()) + ": " + chosen + " (1 of " +
             std::to_string(e.ready_size()) + " ready)";
    }
    case proto::TraceRecord::kMessage: {
      const auto& e = record.message();
      std::string text = "message " + stage_name(proto::MessageEvent::Stage_Name(e.stage()));
      if (e.from() != proto::PARTITION_UNSPECIFIED || e.to() != proto::PARTITION_UNSPECIFIED) {
        text += " " + arrow(e.from(), e.to());
      }
      text += " " + e.decoded();
      if (e.msg_pending()) {
        text += " [msg_pending]";
      }
      if (!e.reason().empty()) {
        text += " -- " + e.reason();
      }
      return text;
    }
    case proto::TraceRecord::kSignal: {
      const auto& e = record.signal();
      std::string text = "signal " + stage_name(proto::SignalRecord::Stage_Name(e.stage())) + " " +
                         arrow(e.from(), e.to());
      if (e.child_relid() != 0) {
        text += " relid " + std::to_string(e.child_relid());
      }
      if (e.connection_id() != 0) {
        text += " connection_id " + std::to_string(e.connection_id());
      }
      return text;
    }
    case proto::TraceRecord::kRing: {
      const auto& e = record.ring();
      std::string text = "ring " + std::to_string(e.child_relid()) + " " + e.ring() + " " + e.op() +
                         " write_index=" + std::to_string(e.write_index()) +
                         " read_index=" + std::to_string(e.read_index());
      if (e.bytes() != 0) {
        text += " bytes=" + std::to_string(e.bytes());
      }
      if (!e.detail().empty()) {
        text += " (" + e.detail() + ")";
      }
      return text;
    }
    case proto::TraceRecord::kChannel: {
      const auto& e = record.channel();
      return "channel " + std::to_string(e.child_relid()) + " " + e.state() +
             (e.detail().empty() ? "" : " (" + e.detail() + ")");
    }
    case proto::TraceRecord::kNote:
      return record.note().text();
    case proto::TraceRecord::kProcess: {
      const auto& e = record.process();
      std::string kind = proto::ProcessEvent::Kind_Name(e.kind());
      kind = kind.rfind("KIND_", 0) == 0 ? kind.substr(5) : kind;
      for (char& c : kind) {
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      }
      return std::string("process ") + partition_name(e.partition()) + " " + kind +
             (e.detail().empty() ? "" : " (" + e.detail() + ")");
    }
    case proto::TraceRecord::kKmcl: {
      const auto& e = record.kmcl();
      std::string text = "kmcl " + e.kind();
      if (!e.code().empty()) {
        text += " " + e.code();
      }
      if (!e.api().empty()) {
        text += " in " + e.api();
      }
      if (e.handle() != 0) {
        char handle[32];
        std::snprintf(handle, sizeof(handle), " handle %#llx",
                      static_cast<unsigned long long>(e.handle()));
        text += handle;
      }
      if (!e.detail().empty()) {
        text += ": " + e.detail();
      }
      return text;
    }
    default:
      return "(empty record)";
  }
}

std::string irql_of(const proto::TraceRecord& record) {
  if (record.has_kmcl()) {
    return record.kmcl().irql() == 0 ? "PASSIVE" : "DISPATCH";
  }
  const std::string& context = record.context();
  if (context.rfind("dpc/", 0) == 0 || context.rfind("isr", 0) == 0) {
    return "DISPATCH";
  }
  return "";
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

  const hv::TraceReadResult read = hv::read_trace(std::string(args->positionals.front()));
  if (!read.ok) {
    invocation.io.err << "vmbus-sim: " << read.error << "\n";
    return kExitError;
  }
  const proto::TraceHeader& header = read.trace.header;
  std::ostream& out = invocation.io.out;
  out << "# trace format " << header.format_version() << ", seed " << header.seed()
      << ", scenario '" << header.scenario() << "', "
      << (header.mode() == proto::SCHEDULING_MODE_FREE_RUNNING ? "free-running" : "deterministic")
      << ", " << read.trace.records.size() << " records\n";
  for (const proto::TraceRecord& record : read.trace.records) {
    if (channel && !trace_record_concerns_channel(record, *channel)) {
      continue;
    }
    const std::string line = format_trace_record(record);
    if (!grep.empty() && line.find(grep) == std::string::npos) {
      continue;
    }
    out << line << "\n";
  }
  return kExitOk;
}

}  // namespace

std::string format_trace_record(const proto::TraceRecord& record) {
  char prefix[64];
  std::snprintf(prefix, sizeof(prefix), "%7llu %12.3f ",
                static_cast<unsigned long long>(record.sequence()),
                static_cast<double>(record.time_ns()) / 1000.0);
  std::string line = prefix;
  std::string partition = partition_name(record.partition());
  partition.resize(6, ' ');
  std::string context = record.context();
  if (context.size() < 18) {
    context.resize(18, ' ');
  }
  std::string irql = irql_of(record);
  irql.resize(9, ' ');
  return line + partition + context + " " + irql + event_text(record);
}

bool trace_record_concerns_channel(const proto::TraceRecord& record, std::uint32_t child_relid) {
  const std::string relid = std::to_string(child_relid);
  switch (record.event_case()) {
    case proto::TraceRecord::kRing:
      return record.ring().child_relid() == child_relid;
    case proto::TraceRecord::kChannel:
      return record.channel().child_relid() == child_relid;
    case proto::TraceRecord::kSignal:
      return record.signal().child_relid() == child_relid ||
             (record.signal().child_relid() == 0 && record.signal().connection_id() != 0);
    case proto::TraceRecord::kMessage:
      return record.message().decoded().find("child_relid=" + relid) != std::string::npos;
    default: {
      // Channel contexts name the relid: "dpc/1", "vsc/1", "chan/1", "kmcl/1/...".
      const std::string& context = record.context();
      const std::size_t slash = context.find('/');
      if (slash == std::string::npos) {
        return false;
      }
      const std::size_t end = context.find('/', slash + 1);
      return context.substr(slash + 1, end == std::string::npos ? std::string::npos
                                                                : end - slash - 1) == relid;
    }
  }
}

const Command& trace_command() {
  static const Command kSubcommands[] = {
      Command{"show",
              "[--channel N] [--grep TEXT] FILE",
              "Print a run's trace as a timeline",
              kShowDescription,
              kShowExamples,
              &run_show,
              {}},
  };
  static const Command kTrace{
      "trace",
      "<command> [arguments]",
      "Read the traces runs write",
      "Reads the trace files that runs write (vmbus-sim simulate --trace).\n",
      "  vmbus-sim trace show run.trace\n",
      nullptr,
      kSubcommands};
  return kTrace;
}

}  // namespace vmbus::tools
