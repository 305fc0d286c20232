// The host's oracles: what must never hold in its end state. Each returns ""
// or one sentence saying what was found; report.cc turns them into
// OracleFindings.
#pragma once

#include <string>

#include "vmbus/host/control_plane.h"
#include "vmbus/host/vsp.h"

namespace vmbus::host {

// lost_wakeup: the VSP's sender waits for a signal although the host->guest
// ring has room for its head packet, or the guest->host ring holds unread
// data and nothing will drain it. "" for a channel whose VSP is not running.
std::string lost_wakeup(const VspChannel& channel);

// leak: GPADLs that outlived their channel's open, or were never completed.
std::string gpadl_leaks(const ControlPlane& control);

}  // namespace vmbus::host
