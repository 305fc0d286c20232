// `vmbus-sim simulate`: one run of the three-process system from partition
// configurations (protobuf text format), with a summary of the outcome.
#pragma once

#include "vmbus/tools/command.h"

namespace vmbus::tools {

const Command& simulate_command();

}  // namespace vmbus::tools
