// `vmbus-sim run`: runs scenario files and judges them (the scenario runner).
#pragma once

#include "vmbus/cli/command.h"

namespace vmbus::cli {

const Command& run_command();

}  // namespace vmbus::cli
