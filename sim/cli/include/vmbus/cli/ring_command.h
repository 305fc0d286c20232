// `vmbus-sim ring`: the command group for ring images (decode, encode).
//
// Only flag parsing and validation of the command line live here; the work
// is done by run_ring_decode() and run_ring_encode().
#pragma once

#include "vmbus/cli/command.h"

namespace vmbus::cli {

const Command& ring_command();

}  // namespace vmbus::cli
