// `vmbus-sim run`: runs scenario files and judges them (the scenario runner).
#pragma once

#include "vmbus/tools/command.h"

namespace vmbus::tools {

const Command& run_command();

}  // namespace vmbus::tools
