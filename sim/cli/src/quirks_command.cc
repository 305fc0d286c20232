#include "vmbus/cli/quirks_command.h"

#include <ostream>
#include <string>

#include "vmbus/base/quirks.h"

namespace vmbus::cli {
namespace {

constexpr std::string_view kDescription =
    R"(Lists the quirks: named switches that put a historical VMBus bug back into
the simulated guest or host. Each is off unless a scenario names it
(guest_quirks: "NAME" or host_quirks: "NAME"); docs/REGRESSIONS.md shows
the scenario that catches each one, and docs/SCENARIOS.md how a scenario
states its outcome with and without its quirks (vmbus-sim run --quirks off).

For each quirk: its name, the endpoints it can be set on, the code it
alters, and what the buggy code did and which fix removed it.

Options:
  --names  print the names only, one a line
  --help   print this help

Exit status: 0, or 2 on a usage error.
)";

constexpr std::string_view kExamples =
    R"(  vmbus-sim quirks
  vmbus-sim quirks --names
)";

constexpr std::size_t kWidth = 78;

// `text` as lines of at most kWidth columns, each indented by two spaces.
void print_wrapped(std::string_view text, std::ostream& out) {
  std::string line;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find(' ', start);
    if (end == std::string_view::npos) {
      end = text.size();
    }
    const std::string_view word = text.substr(start, end - start);
    if (!line.empty() && 2 + line.size() + 1 + word.size() > kWidth) {
      out << "  " << line << "\n";
      line.clear();
    }
    line += (line.empty() ? "" : " ") + std::string(word);
    start = end + 1;
  }
  if (!line.empty()) {
    out << "  " << line << "\n";
  }
}

constexpr FlagSpec kFlags[] = {{"--names", false}};

int run_quirks(const Invocation& invocation) {
  const std::optional<ParsedArgs> args = parse_args(invocation, kFlags);
  if (!args) {
    return kExitError;
  }
  if (!args->positionals.empty()) {
    return usage_error(invocation.command_path, invocation.io.err, "takes no arguments");
  }
  std::ostream& out = invocation.io.out;
  bool first = true;
  for (const base::QuirkInfo& info : base::quirk_table()) {
    if (args->has("--names")) {
      out << info.name << "\n";
      continue;
    }
    out << (first ? "" : "\n") << info.name << "  (" << base::quirk_endpoints_text(info.endpoints)
        << "; " << info.component << ")\n";
    print_wrapped(info.documentation, out);
    first = false;
  }
  return kExitOk;
}

}  // namespace

const Command& quirks_command() {
  static const Command kCommand{"quirks",
                                "[--names]",
                                "List the historical bugs a scenario can put back (quirks)",
                                kDescription,
                                kExamples,
                                run_quirks,
                                {}};
  return kCommand;
}

}  // namespace vmbus::cli
