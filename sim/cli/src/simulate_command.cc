#include "vmbus/cli/simulate_command.h"

#include <filesystem>
#include <fstream>
#include <ostream>
#include <sstream>
#include <string>
#include <unistd.h>
#include <utility>
#include <vector>

#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/text_format.h>

#include "vmbus/cli/output_paths.h"
#include "vmbus/hypervisor/interrupt.h"
#include "vmbus/hypervisor/simulation.h"
#include "vmbus/proto/config.pb.h"

namespace vmbus::cli {
namespace {

constexpr std::string_view kDescription =
    R"(Runs vmbus-host and vmbus-guest under the simulated hypervisor once and
prints the outcome. The host offers the channels of HOST_CONFIG; the guest
negotiates a protocol version, opens channels and runs the workload of
GUEST_CONFIG. Both files are protobuf text format (vmbus.proto.HostConfig and
vmbus.proto.GuestConfig in proto/schema/vmbus/proto/config.proto). Without
them, the host offers one echo channel and the guest echoes 1000 packets.
In deterministic mode the run ends once the guest has finished and what was
still under way has drained (so the host's report counts the guest's last
completions).

Options:
  --host-config FILE   the host's configuration (text format)
  --guest-config FILE  the guest's configuration (text format)
  --seed N             seed of the scheduler and the workload (default 1)
  --mode MODE          deterministic (default) or free-running
  --trace FILE         write the run's trace to FILE
  --timeout-ms N       a partition silent this long is hung (default 10000)
  --host-binary PATH   vmbus-host to run (default: next to vmbus-sim)
  --guest-binary PATH  vmbus-guest to run (default: next to vmbus-sim)
  --help               print this help

Exit status:
  0    the guest finished its workload
  2    usage error, a bad configuration file, or a program or trace path
       that cannot be used (checked before the run starts)
  3    the simulation failed: a partition crashed, hung, failed or broke the
       protocol, or the run deadlocked
  130  interrupted (SIGINT or SIGTERM, to vmbus-sim or its process group);
       the partitions were stopped and nothing is left behind
)";

constexpr std::string_view kExamples =
    R"(  vmbus-sim simulate
  vmbus-sim simulate --guest-config guest.textproto --seed 7 --trace run.trace
)";

constexpr FlagSpec kFlags[] = {
    {"--host-config", true}, {"--guest-config", true}, {"--seed", true},
    {"--mode", true},        {"--trace", true},        {"--timeout-ms", true},
    {"--host-binary", true}, {"--guest-binary", true},
};

class CollectErrors final : public google::protobuf::io::ErrorCollector {
 public:
  explicit CollectErrors(std::string path) : path_(std::move(path)) {}
  void AddError(int line, google::protobuf::io::ColumnNumber column,
                const std::string& message) override {
    if (first_.empty()) {
      first_ = path_ + ":" + std::to_string(line + 1) + ":" + std::to_string(column + 1) + ": " +
               message;
    }
  }
  const std::string& first() const { return first_; }

 private:
  std::string path_;
  std::string first_;
};

// Reads a text-format message; on failure returns "file:line:col: message".
std::string read_text_config(const std::string& path, google::protobuf::Message& message) {
  std::ifstream in(path);
  if (!in) {
    return "cannot read '" + path + "'";
  }
  std::ostringstream text;
  text << in.rdbuf();
  CollectErrors errors(path);
  google::protobuf::TextFormat::Parser parser;
  parser.RecordErrorsTo(&errors);
  if (!parser.ParseFromString(text.str(), &message)) {
    return errors.first().empty() ? path + ": not a valid " + message.GetTypeName()
                                  : errors.first();
  }
  return "";
}

// The partitions' configurations: --host-config and --guest-config, or one
// echo channel and 1000 echoed packets. False after printing why a file
// cannot be used.
bool read_configs(const Invocation& invocation, const ParsedArgs& args, proto::HostConfig& host,
                  proto::GuestConfig& guest) {
  if (auto path = args.value("--host-config")) {
    if (std::string error = read_text_config(std::string(*path), host); !error.empty()) {
      invocation.io.err << "vmbus-sim: " << error << "\n";
      return false;
    }
  } else {
    auto* channel = host.add_channels();
    channel->set_child_relid(1);
    channel->mutable_vsp()->set_kind(proto::VspConfig::KIND_ECHO);
  }
  if (auto path = args.value("--guest-config")) {
    if (std::string error = read_text_config(std::string(*path), guest); !error.empty()) {
      invocation.io.err << "vmbus-sim: " << error << "\n";
      return false;
    }
  } else {
    guest.mutable_echo()->set_child_relid(1);
    guest.mutable_echo()->set_packets(1000);
    guest.mutable_echo()->set_max_payload_bytes(256);
  }
  return true;
}

// The command line that runs the same run, for the trace header: the flags
// that shape the run, not where its trace goes or how long a partition may
// be silent, so that the same run always writes the same trace.
std::string run_command_line(const Invocation& invocation, const ParsedArgs& args) {
  std::string line = invocation.command_path;
  for (const auto flag : {"--host-config", "--guest-config", "--seed", "--mode"}) {
    if (auto value = args.value(flag)) {
      line += std::string(" ") + flag + " " + shell_quote(std::string(*value));
    }
  }
  return line;
}

// --seed, --timeout-ms and --mode into `config`; an exit code on a bad value.
std::optional<int> read_run_flags(const Invocation& invocation, const ParsedArgs& args,
                                  hypervisor::SimulationConfig& config) {
  if (auto text = args.value("--seed")) {
    auto seed = parse_decimal_flag(invocation, "--seed", *text, UINT64_MAX);
    if (!seed) {
      return kExitError;
    }
    config.seed = *seed;
  }
  if (auto text = args.value("--timeout-ms")) {
    auto timeout = parse_decimal_flag(invocation, "--timeout-ms", *text, 3'600'000);
    if (!timeout || *timeout == 0) {
      return timeout ? usage_error(invocation.command_path, invocation.io.err,
                                   "--timeout-ms must be positive")
                     : kExitError;
    }
    config.response_timeout = std::chrono::milliseconds(*timeout);
  }
  if (auto mode = args.value("--mode")) {
    if (*mode == "deterministic") {
      config.mode = proto::SCHEDULING_MODE_DETERMINISTIC;
    } else if (*mode == "free-running") {
      config.mode = proto::SCHEDULING_MODE_FREE_RUNNING;
    } else {
      return usage_error(
          invocation.command_path, invocation.io.err,
          "--mode must be 'deterministic' or 'free-running', not '" + std::string(*mode) + "'");
    }
  }
  return std::nullopt;
}

void print_result(const hypervisor::SimulationConfig& config, const hypervisor::RunResult& result,
                  const CommandIo& io) {
  std::ostream& out = io.out;
  out << "outcome: " << hypervisor::run_outcome_name(result.outcome) << "\n";
  if (!result.detail.empty()) {
    out << "detail: " << result.detail << "\n";
  }
  out << "seed: " << config.seed << "\nsteps: " << result.steps
      << "\nsimulated_time_ns: " << result.time_ns << "\n";
  if (!config.trace_path.empty()) {
    out << "trace: " << config.trace_path.string() << " (" << result.trace_records << " records)\n";
  }
  for (const auto& [key, value] : result.guest_report) {
    out << "guest." << key << ": " << value << "\n";
  }
  for (const auto& [key, value] : result.host_report) {
    out << "host." << key << ": " << value << "\n";
  }
  if (result.outcome != hypervisor::RunOutcome::kCompleted) {
    io.err << "vmbus-sim: simulation " << hypervisor::run_outcome_name(result.outcome) << ": "
           << result.detail << "\n";
  }
}

// The programs and the trace file, before the run starts; false after
// printing every problem.
bool check_paths(const Invocation& invocation, const hypervisor::SimulationConfig& config) {
  std::vector<std::string> problems;
  for (const auto& [flag, program] : {std::pair("--host-binary", &config.host_binary),
                                      std::pair("--guest-binary", &config.guest_binary)}) {
    if (std::string problem = check_program(*program); !problem.empty()) {
      problems.push_back(std::string(flag) + ": " + problem);
    }
  }
  if (!config.trace_path.empty()) {
    if (std::string problem = check_output_file(config.trace_path); !problem.empty()) {
      problems.push_back("--trace: " + problem);
    }
  }
  for (const std::string& problem : problems) {
    invocation.io.err << invocation.command_path << ": " << problem << "\n";
  }
  return problems.empty();
}

int run_simulate(const Invocation& invocation) {
  hypervisor::catch_interrupts();  // first: no moment without the handler
  const std::optional<ParsedArgs> args = parse_args(invocation, kFlags);
  if (!args) {
    return kExitError;
  }
  if (!args->positionals.empty()) {
    return usage_error(invocation.command_path, invocation.io.err,
                       "unexpected argument '" + std::string(args->positionals.front()) + "'");
  }
  proto::HostConfig host;
  proto::GuestConfig guest;
  if (!read_configs(invocation, *args, host, guest)) {
    return kExitError;
  }
  hypervisor::SimulationConfig config;
  config.host_config = host.SerializeAsString();
  config.guest_config = guest.SerializeAsString();
  *config.provenance.mutable_simulate()->mutable_host() = host;
  *config.provenance.mutable_simulate()->mutable_guest() = guest;
  config.provenance.set_command_line(run_command_line(invocation, *args));
  const std::filesystem::path here = own_directory();
  config.host_binary =
      std::string(args->value("--host-binary").value_or((here / "vmbus-host").string()));
  config.guest_binary =
      std::string(args->value("--guest-binary").value_or((here / "vmbus-guest").string()));
  if (const auto exit = read_run_flags(invocation, *args, config)) {
    return *exit;
  }
  if (auto trace = args->value("--trace")) {
    config.trace_path = std::string(*trace);
  }
  if (!check_paths(invocation, config)) {
    return kExitError;
  }
  config.scenario_name = "simulate";
  const hypervisor::RunResult result = hypervisor::run_simulation(config);
  print_result(config, result, invocation.io);
  return result.exit_code();
}

}  // namespace

const Command& simulate_command() {
  static const Command kCommand{"simulate",
                                "[--host-config FILE] [--guest-config FILE] [--seed N] [options]",
                                "Run vmbus-host and vmbus-guest under the simulator once",
                                kDescription,
                                kExamples,
                                run_simulate,
                                {}};
  return kCommand;
}

}  // namespace vmbus::cli
