// The host's oracles: what must never hold in its end state. Each returns ""
// or one sentence saying what was found; report.cc turns them into
// OracleFindings. The oracles of a VSP's KMCL driver and device
// (retired_once, fifo, the device's part of lost_wakeup) are
// partition/kmcl_report.h's.
#pragma once

#include <string>

#include "vmbus/host/control_plane.h"
#include "vmbus/host/vsp.h"

namespace vmbus::host {

// lost_wakeup, asked on a quiet system (`quiet`: nothing ready in the host
// either): the guest->host ring holds data while the VSP's queue runs, or
// the VSP's sends stay queued while the host->guest ring has the room its
// device waits for. "" for a channel whose VSP does not have its rings.
std::string lost_wakeup(const VspChannel& channel, const ControlPlane& control, bool quiet);

// leak: GPADLs that outlived their channel's open, or were never completed.
std::string gpadl_leaks(const ControlPlane& control);

}  // namespace vmbus::host
