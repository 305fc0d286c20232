// `vmbus-sim shrink FILE --seed N`: a failing run shrunk to a small scenario
// file that fails the same way (vmbus/cli/shrink.h has the search).
#pragma once

#include "vmbus/cli/command.h"

namespace vmbus::cli {

const Command& shrink_command();

}  // namespace vmbus::cli
