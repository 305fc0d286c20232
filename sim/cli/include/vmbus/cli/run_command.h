// `vmbus-sim run`: runs scenario files and judges them (the scenario runner).
// `vmbus-sim explore`: the same, each seed with a fault plan drawn from it
// (vmbus/runner/explore.h).
#pragma once

#include "vmbus/cli/command.h"

namespace vmbus::cli {

const Command& run_command();
const Command& explore_command();

}  // namespace vmbus::cli
