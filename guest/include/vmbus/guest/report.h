// What the guest reports: the run summary when its workload ends (key/value
// pairs for `vmbus-sim simulate` and the system tests: "result", "version",
// "packets_echoed", ...), and the final report of a scripted run
// (proto/schema/vmbus/proto/report.proto GuestReport) with the oracles'
// findings.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "vmbus/guest/control_plane.h"
#include "vmbus/guest/echo_vsc.h"
#include "vmbus/guest/kmcl_channels.h"
#include "vmbus/proto/report.pb.h"

namespace vmbus::guest {

using KeyValues = std::vector<std::pair<std::string, std::string>>;

// The summary of a workload that finished ("result" = "ok").
KeyValues run_summary(const ControlPlane& control, const EchoVsc& echo,
                      const KmclChannels& drivers);
// The summary of one that failed, saying why.
KeyValues failure_summary(const std::string& why, const ControlPlane& control, const EchoVsc& echo);

// The final report; `rings` are the attached rings by channel, `quiet` says
// nothing is ready in the guest (for the lost-wakeup oracle).
proto::GuestReport guest_report(const ControlPlane& control, const KmclChannels& drivers,
                                const std::map<std::uint32_t, partition::ChannelRings>& rings,
                                bool quiet);

}  // namespace vmbus::guest
