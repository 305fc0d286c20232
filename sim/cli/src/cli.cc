#include "vmbus/cli/cli.h"

#include <ostream>
#include <string>

#include "vmbus/base/build_info.h"
#include "vmbus/cli/quirks_command.h"
#include "vmbus/cli/replay_command.h"
#include "vmbus/cli/report_command.h"
#include "vmbus/cli/ring_command.h"
#include "vmbus/cli/run_command.h"
#include "vmbus/cli/scenario_command.h"
#include "vmbus/cli/shrink_command.h"
#include "vmbus/cli/simulate_command.h"
#include "vmbus/cli/step_command.h"
#include "vmbus/cli/trace_command.h"

namespace vmbus::cli {
namespace {

constexpr std::string_view kDescription =
    R"(A simulator of a Hyper-V host and guest talking over VMBus.

Options:
  --version         print the build (version and source commit) and exit
  --help            print this help
)";

constexpr std::string_view kExamples =
    R"(  vmbus-sim run scenarios
  vmbus-sim replay /tmp/vmbus-sim-run-Qx3v7a/fails.seed5.trace
  vmbus-sim report merge shard-*.json --junit results.xml
  vmbus-sim ring decode --text ring.img
  vmbus-sim simulate --seed 7 --trace run.trace
  vmbus-sim step scenarios/signals/14-interrupt-mask.textproto
  vmbus-sim trace show --channel 1 run.trace
)";

}  // namespace

const Command& vmbus_sim_command() {
  // One row per top-level command.
  static const Command kSubcommands[] = {run_command(),      explore_command(),  replay_command(),
                                         shrink_command(),   report_command(),   ring_command(),
                                         scenario_command(), simulate_command(), step_command(),
                                         trace_command(),    quirks_command()};
  static const Command kRoot{
      "vmbus-sim", "<command> [arguments]", "", kDescription, kExamples, nullptr, kSubcommands};
  return kRoot;
}

int run_vmbus_sim(std::span<const std::string_view> args, std::istream& in, std::ostream& out,
                  std::ostream& err) {
  const Command& root = vmbus_sim_command();
  if (args.size() == 1 && args.front() == "--version") {
    out << "vmbus-sim " << base::build_identity() << "\n";
    return kExitOk;
  }
  return dispatch(root, std::string(root.name), args, CommandIo{in, out, err});
}

}  // namespace vmbus::cli
