// `vmbus-sim report`: the command group for results files (merge).
//
// `report merge` reads the --json results of a sweep's shards, checks that
// they are the whole sweep exactly once (vmbus/cli/results.h), and prints
// and writes the merged result as one run would have.
#pragma once

#include "vmbus/cli/command.h"

namespace vmbus::cli {

const Command& report_command();

}  // namespace vmbus::cli
