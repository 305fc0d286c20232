// `vmbus-sim quirks`: the registry of quirks (vmbus/base/quirks.h) -- the
// historical VMBus bugs a scenario can put back into the guest or the host
// with guest_quirks / host_quirks -- each with the endpoints it applies to
// and its documentation paragraph.
#pragma once

#include "vmbus/cli/command.h"

namespace vmbus::cli {

const Command& quirks_command();

}  // namespace vmbus::cli
