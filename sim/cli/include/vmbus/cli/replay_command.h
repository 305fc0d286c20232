// `vmbus-sim replay TRACE`: runs again the run a trace records -- the
// scenario text or simulate configuration, seed and pinned schedule its
// header carries -- and says whether the new trace is byte-identical, or
// where the two first differ.
#pragma once

#include "vmbus/cli/command.h"

namespace vmbus::cli {

const Command& replay_command();

}  // namespace vmbus::cli
