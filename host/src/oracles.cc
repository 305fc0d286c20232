#include "vmbus/host/oracles.h"

#include "vmbus/partition/kmcl_report.h"

namespace vmbus::host {

std::string lost_wakeup(const VspChannel& channel, const ControlPlane& control, bool quiet) {
  const partition::KmclEndpoint& endpoint = *channel.endpoint;
  if (!quiet || !control.is_open(channel.child_relid()) || !channel.attached() ||
      !endpoint.device_has_rings() ||
      endpoint.device.channel_state(endpoint.channel()) != kmcl::ChannelState::kOpen) {
    return "";
  }
  // The device reads the guest->host ring and writes the host->guest one.
  return partition::kmcl_lost_wakeup(endpoint, *channel.rings.outbound, *channel.rings.inbound,
                                     "host");
}

std::string gpadl_leaks(const ControlPlane& control) {
  std::string text;
  const auto add = [&text](const std::string& problem) {
    text += (text.empty() ? "" : "; ") + problem;
  };
  for (const auto& [handle, gpadl] : control.gpadls()) {
    if (control.has_rings(gpadl.child_relid)) {
      continue;
    }
    add("GPADL " + std::to_string(handle) + " of channel " + std::to_string(gpadl.child_relid) +
        " is still established although the channel is not open");
  }
  for (const auto& [handle, assembler] : control.gpadls_in_progress()) {
    add("GPADL " + std::to_string(handle) + " of channel " +
        std::to_string(assembler.child_relid()) + " was never completed");
  }
  return text;
}

}  // namespace vmbus::host
