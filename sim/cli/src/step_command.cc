#include "vmbus/cli/step_command.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <iostream>
#include <sstream>
#include <unistd.h>

#include "vmbus/hypervisor/interrupt.h"
#include "vmbus/hypervisor/simulation.h"
#include "vmbus/ring/ring.h"
#include "vmbus/runner/scenario.h"
#include "vmbus/trace/render.h"

namespace vmbus::cli {
namespace fs = std::filesystem;
namespace {

constexpr std::string_view kDescription =
    R"(Runs one scenario file one scheduler decision at a time. Before each
decision it waits and shows:
  -- step N at T us: ready CONTEXTS; chosen CONTEXT
  every ring traced so far: its control words and an occupancy bar
then the records that step produced follow, one trace-show line each.

Commands (one a line on stdin; from a pipe, each is echoed after the prompt):
  s [N]       step: run the next decision (N decisions); an empty line is s
  n TEXT      continue to the next record whose line contains TEXT (any case)
  t           continue to the next timeline step ("scenario step" record)
  c           continue to the end without stopping or printing records
  r           show the rings again
  h           this list
  q           quit: stop the run now (its partitions and shared memory go)
End of input is q. At the end the run's final state is printed (as `run
--report` prints it), the oracles' verdicts and the run's verdict last.

Options:
  --seed N          the seed (default: the file's)
  --trace FILE      keep the run's trace in FILE (default: none is kept)
  --host-binary PATH, --guest-binary PATH
                    the partition programs (default: next to vmbus-sim)

Exit status: 0 the run passed or you quit, 1 it failed, 2 usage error or a
bad scenario file, 3 the simulator itself failed.
)";

constexpr std::string_view kExamples =
    R"(  vmbus-sim step scenarios/signals/14-interrupt-mask.textproto
  printf 's\nn end_read\nq\n' | vmbus-sim step scenarios/basics/01-channel-comes-up.textproto
)";

constexpr FlagSpec kFlags[] = {
    {"--seed", true},
    {"--trace", true},
    {"--host-binary", true},
    {"--guest-binary", true},
};

constexpr unsigned kBarColumns = 32;

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

std::string us(std::uint64_t ns) {
  std::ostringstream out;
  out << ns / 1000 << '.' << std::to_string(1000 + ns % 1000).substr(1);
  return out.str();
}

// "|########........|": the ring's used bytes of its data area.
std::string occupancy_bar(const proto::RingEvent& e) {
  if (e.data_size() == 0 || e.write_index() >= e.data_size() || e.read_index() >= e.data_size()) {
    return "|?|";
  }
  const std::uint64_t used = ring::bytes_to_read(e.write_index(), e.read_index(), e.data_size());
  const std::uint64_t filled = (used * kBarColumns + e.data_size() - 1) / e.data_size();
  return "|" + std::string(filled, '#') + std::string(kBarColumns - filled, '.') + "| " +
         std::to_string(used) + " of " + std::to_string(e.data_size()) + " bytes used";
}

}  // namespace

Stepper::Stepper(std::istream& in, std::ostream& out, bool echo)
    : in_(in), out_(out), echo_(echo) {}

bool Stepper::on_record(const proto::TraceRecord& record) {
  if (record.has_ring()) {
    const proto::RingEvent& e = record.ring();
    const auto same = [&](const proto::RingEvent& r) {
      return r.child_relid() == e.child_relid() && r.ring() == e.ring();
    };
    if (auto it = std::find_if(rings_.begin(), rings_.end(), same); it != rings_.end()) {
      *it = e;
    } else {
      rings_.push_back(e);
    }
  }
  if (mode_ == Mode::kQuit) {
    return false;
  }
  if (record.has_scheduler()) {
    if (mode_ == Mode::kStep && --steps_left_ == 0) {
      show_decision(record);
      prompt();
    }
    return mode_ != Mode::kQuit;
  }
  const std::string line = trace::format_record(record);
  if (mode_ != Mode::kToEnd) {
    out_ << line << "\n";
  }
  if (pauses_after(record, line)) {
    prompt();
  }
  return mode_ != Mode::kQuit;
}

bool Stepper::pauses_after(const proto::TraceRecord& record, const std::string& line) {
  if (mode_ == Mode::kUntilMatch && lower(line).find(filter_) != std::string::npos) {
    out_ << "-- matched '" << filter_ << "'\n";
    return true;
  }
  if (mode_ == Mode::kUntilAction && record.has_action()) {
    out_ << "-- timeline step " << record.action().step() << " ran\n";
    return true;
  }
  return false;
}

void Stepper::show_decision(const proto::TraceRecord& record) {
  const proto::SchedulerEvent& e = record.scheduler();
  std::string ready;
  for (const std::string& context : e.ready()) {
    ready += (ready.empty() ? "" : " ") + context;
  }
  const std::string chosen = static_cast<int>(e.chosen()) < e.ready_size()
                                 ? e.ready(static_cast<int>(e.chosen()))
                                 : std::string("?");
  out_ << "-- step " << e.step_number() << " at " << us(record.time_ns()) << " us: ready " << ready
       << "; chosen " << chosen << "\n";
  show_rings();
}

void Stepper::show_rings() {
  if (rings_.empty()) {
    out_ << "   rings: none traced yet\n";
    return;
  }
  for (const proto::RingEvent& e : rings_) {
    out_ << "   ring " << e.child_relid() << " " << e.ring() << " " << occupancy_bar(e)
         << "; write_index=" << e.write_index() << " read_index=" << e.read_index()
         << " interrupt_mask=" << e.interrupt_mask() << " pending_send_sz=" << e.pending_send_sz()
         << "\n";
  }
}

void Stepper::prompt() {
  for (;;) {
    out_ << "step> " << std::flush;
    std::string command;
    if (!std::getline(in_, command)) {
      out_ << (echo_ ? "(end of input)\n" : "\n");
      mode_ = Mode::kQuit;
      return;
    }
    if (echo_) {
      out_ << command << "\n";
    }
    if (obey(command)) {
      return;
    }
  }
}

// Whether `command` lets the run go on (or quits it).
bool Stepper::obey(const std::string& command) {
  std::istringstream words(command);
  std::string verb;
  words >> verb;
  if (verb.empty() || verb == "s") {
    std::uint64_t count = 1;
    if (!(words >> count)) {
      count = 1;
    }
    mode_ = Mode::kStep;
    steps_left_ = std::max<std::uint64_t>(count, 1);
    return true;
  }
  if (verb == "n") {
    std::string rest;
    std::getline(words >> std::ws, rest);
    if (rest.empty()) {
      out_ << "n needs the text to look for: n TEXT\n";
      return false;
    }
    mode_ = Mode::kUntilMatch;
    filter_ = lower(rest);
    return true;
  }
  if (verb == "t" || verb == "c" || verb == "q") {
    mode_ = verb == "t" ? Mode::kUntilAction : verb == "c" ? Mode::kToEnd : Mode::kQuit;
    return true;
  }
  if (verb == "r") {
    show_rings();
  } else if (verb == "h" || verb == "?") {
    out_ << "s [N] step, n TEXT next record with TEXT, t next timeline step, c to the end, "
            "r rings, q quit\n";
  } else {
    out_ << "unknown command '" << verb << "' (h lists them)\n";
  }
  return false;
}

namespace {

int run_step(const Invocation& invocation) {
  hypervisor::catch_interrupts();
  std::ostream& err = invocation.io.err;
  const std::optional<ParsedArgs> args = parse_args(invocation, kFlags);
  if (!args) {
    return kExitError;
  }
  if (args->positionals.size() != 1) {
    return usage_error(invocation.command_path, err, "expected one scenario FILE");
  }
  const fs::path file(args->positionals[0]);
  const runner::LoadedScenario loaded =
      runner::load_scenario(file, std::string(args->positionals[0]));
  for (const runner::ScenarioProblem& problem : loaded.problems) {
    err << problem.to_string() << "\n";
  }
  for (const runner::ScenarioProblem& warning : loaded.warnings) {
    err << warning.to_string() << "\n";
  }
  if (!loaded.ok()) {
    return kExitError;
  }
  const runner::CompiledScenario scenario = runner::compile_scenario(loaded);
  std::uint64_t seed = scenario.default_seed;
  if (const auto text = args->value("--seed")) {
    const auto value = parse_decimal_flag(invocation, "--seed", *text, UINT64_MAX);
    if (!value) {
      return kExitError;
    }
    seed = *value;
  }
  runner::RunOptions options;
  const fs::path here = own_directory();
  options.host_binary = args->value("--host-binary").value_or((here / "vmbus-host").string());
  options.guest_binary = args->value("--guest-binary").value_or((here / "vmbus-guest").string());
  const std::optional<std::string_view> keep = args->value("--trace");
  options.trace_path = keep ? fs::path(*keep)
                            : fs::temp_directory_path() /
                                  ("vmbus-sim-step-" + std::to_string(::getpid()) + ".trace");
  const bool echo = &invocation.io.in != &std::cin || ::isatty(STDIN_FILENO) == 0;
  Stepper stepper(invocation.io.in, invocation.io.out, echo);
  options.watch = [&stepper](const proto::TraceRecord& record) {
    return stepper.on_record(record);
  };
  std::ostream& out = invocation.io.out;
  out << "vmbus-sim step: scenario '" << scenario.name << "', seed " << seed
      << " (h lists the commands)\n";
  const runner::ScenarioResult result = runner::run_scenario(scenario, seed, options);
  if (!keep) {
    std::error_code ignored;
    fs::remove(options.trace_path, ignored);
  }
  out << "-- " << (stepper.quit() ? "quit: the run is stopped" : "the run is over") << "\n";
  for (const runner::FinalStateLine& line : result.final_state) {
    // A run you stopped has no verdict; its oracles (leak among them: no
    // process or shared memory left) still say how it ended.
    if (!stepper.quit() || line.kind != "verdict") {
      out << line.text << "\n";
    }
  }
  if (stepper.quit()) {
    return kExitOk;
  }
  if (result.verdict == runner::Verdict::kError) {
    return hypervisor::kExitSimulatorFailure;
  }
  return result.verdict == runner::Verdict::kPassed ? kExitOk : kExitCorrupt;
}

}  // namespace

const Command& step_command() {
  static const Command kCommand{"step",
                                "[--seed N] [--trace FILE] FILE",
                                "Run a scenario one scheduler decision at a time",
                                kDescription,
                                kExamples,
                                run_step,
                                {}};
  return kCommand;
}

}  // namespace vmbus::cli
