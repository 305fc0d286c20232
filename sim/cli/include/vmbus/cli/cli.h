// The top level of the vmbus-sim command line.
//
// The executable's main() only turns argv into string views and calls
// run_vmbus_sim(); everything else (the command table, flag parsing, help,
// the commands themselves) lives in this library so tests run it in-process.
#pragma once

#include <iosfwd>
#include <span>
#include <string_view>

#include "vmbus/cli/command.h"

namespace vmbus::cli {

// The root of the command tree: `vmbus-sim`, with `ring` below it.
const Command& vmbus_sim_command();

// Runs `vmbus-sim <args...>` (args without the program name) and returns the
// exit code.
int run_vmbus_sim(std::span<const std::string_view> args, std::istream& in, std::ostream& out,
                  std::ostream& err);

}  // namespace vmbus::cli
