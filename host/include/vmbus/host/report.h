// The host's final report (proto/schema/vmbus/proto/report.proto
// HostReport): every configured channel's state and counters, each VSP's
// KMCL channel report, and the oracles' findings.
#pragma once

#include "vmbus/host/control_plane.h"
#include "vmbus/host/vsp.h"
#include "vmbus/proto/report.pb.h"

namespace vmbus::host {

// `quiet`: nothing is ready in the host (for the lost-wakeup oracle).
proto::HostReport host_report(const ControlPlane& control, const Vsps& vsps, bool quiet);

}  // namespace vmbus::host
