#include "vmbus/guest/oracles.h"

#include "vmbus/partition/kmcl_report.h"

namespace vmbus::guest {

// Asked on a quiet system: nothing ready in either partition, nothing in
// flight. Data or room that nobody will be told about is a lost wakeup.
std::string lost_wakeup(const partition::KmclEndpoint& endpoint, const ControlPlane& control,
                        const partition::ChannelRings* rings, bool quiet) {
  const std::uint32_t relid = endpoint.child_relid();
  const kmcl::VMBCHANNEL handle = endpoint.channel();
  if (!control.is_open(relid) || !endpoint.device_has_rings() ||
      endpoint.device.channel_state(handle) != kmcl::ChannelState::kOpen || rings == nullptr) {
    return "";
  }
  if (!quiet) {
    return "";  // not quiet here (a driver thread waits for its timeout)
  }
  return partition::kmcl_lost_wakeup(endpoint, *rings->inbound, *rings->outbound, "guest");
}

std::string ring_page_leaks(const ControlPlane& control, const KmclChannels& drivers) {
  std::string leaks;
  std::uint64_t owned = drivers.pages_lent();
  for (const auto& [relid, channel] : control.channels()) {
    owned += channel.pages;
    if (channel.pages == 0) {
      continue;
    }
    std::string why;
    switch (channel.state) {
      case ControlPlane::ChannelState::kOffered:
        why = "closed";
        break;
      case ControlPlane::ChannelState::kRescinded:
        why = "rescinded";
        break;
      case ControlPlane::ChannelState::kFailed:
        why = "refused by the host";
        break;
      case ControlPlane::ChannelState::kOpen:
        if (const partition::KmclEndpoint* endpoint = drivers.find(relid);
            endpoint != nullptr &&
            endpoint->device.channel_state(endpoint->channel()) == kmcl::ChannelState::kDisabled) {
          why = "disabled by its driver";
        }
        break;
      default:
        break;
    }
    if (!why.empty()) {
      leaks += std::string(leaks.empty() ? "" : "; ") + "channel " + std::to_string(relid) +
               " is " + why + " but its " + std::to_string(channel.pages) +
               " ring pages are still allocated";
    }
  }
  for (const ControlPlane::StrayOpen& stray : control.stray_opens()) {
    leaks += std::string(leaks.empty() ? "" : "; ") + "a second open of channel " +
             std::to_string(stray.child_relid) + " left gpadl " + std::to_string(stray.gpadl) +
             " and its " + std::to_string(stray.pages) + " ring pages allocated";
    owned += stray.pages;  // reported here, not again below
  }
  // Pages no channel record and no send holds: nobody can free them (a
  // record overwritten by a second offer of its relid, for one).
  if (drivers.pages_allocated() > owned) {
    leaks += std::string(leaks.empty() ? "" : "; ") +
             std::to_string(drivers.pages_allocated() - owned) +
             " guest pages are allocated but held by no channel and no send";
  }
  return leaks;
}

std::string resume_hang(const ControlPlane& control, bool quiet) {
  if (!quiet || !control.resuming()) {
    return "";
  }
  const std::size_t waiting = control.kept_channels().size();
  return "the guest's VMBus resume from hibernation never finished" +
         (waiting == 0 ? std::string()
                       : ": " + std::to_string(waiting) +
                             " channel(s) kept at suspend were never offered again");
}

std::string rescind_order(const ControlPlane& control) {
  std::string text;
  for (const std::string& problem : control.rescind_order_problems()) {
    text += (text.empty() ? "" : "; ") + problem;
  }
  return text;
}

}  // namespace vmbus::guest
