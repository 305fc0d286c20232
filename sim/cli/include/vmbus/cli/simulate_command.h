// `vmbus-sim simulate`: one run of the three-process system from partition
// configurations (protobuf text format), with a summary of the outcome.
#pragma once

#include "vmbus/cli/command.h"

namespace vmbus::cli {

const Command& simulate_command();

}  // namespace vmbus::cli
