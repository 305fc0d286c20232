#include "vmbus/guest/oracles.h"

#include "vmbus/partition/ring_snapshot.h"

namespace vmbus::guest {

// Every dequeued packet is retired exactly once: completed or failed by the
// driver, or dropped by KMCL at a close. At the end a packet may still be
// live only if the driver keeps it on purpose (LEAVE_OUTSTANDING) or KMCL
// holds it for a queue that is not running (paused, stopped by Fail or a
// protocol error, closing), which a restart delivers.
std::string retired_once(const KmclEndpoint& endpoint) {
  const std::string channel = "channel " + std::to_string(endpoint.child_relid());
  for (const auto& [index, times] : endpoint.driver.retirements()) {
    if (times > 1) {
      return "packet #" + std::to_string(index) + " of " + channel + " was retired " +
             std::to_string(times) + " times";
    }
  }
  const kmcl::VMBCHANNEL handle = endpoint.driver.channel();
  const kmcl::ChannelStats stats = endpoint.device.channel_stats(handle);
  const std::uint64_t accounted =
      stats.packets_completed + stats.packets_failed + stats.dropped_at_close + stats.live_packets;
  if (accounted != stats.packets_dequeued) {
    return channel + " dequeued " + std::to_string(stats.packets_dequeued) +
           " packets but completed " + std::to_string(stats.packets_completed) + ", failed " +
           std::to_string(stats.packets_failed) + ", dropped " +
           std::to_string(stats.dropped_at_close) + " and still holds " +
           std::to_string(stats.live_packets);
  }
  const bool queue_running = endpoint.device.queue_state(handle) == kmcl::QueueState::kRunning ||
                             endpoint.device.queue_state(handle) == kmcl::QueueState::kQuotaBlocked;
  const std::uint64_t waiting_for_restart = queue_running ? 0 : stats.held_packets;
  const std::uint64_t kept = endpoint.driver.outstanding_count() + waiting_for_restart;
  if (stats.live_packets > kept) {
    return std::to_string(stats.live_packets - kept) + " packet(s) of " + channel +
           " were dequeued and never retired, and nothing can retire them any more (" +
           std::to_string(endpoint.driver.outstanding_count()) +
           " left outstanding by the driver, " + std::to_string(waiting_for_restart) +
           " held for a queue restart)";
  }
  return "";
}

std::string fifo(const KmclEndpoint& endpoint) {
  const std::vector<std::uint64_t>& order = endpoint.driver.processed_order();
  for (std::size_t i = 1; i < order.size(); ++i) {
    if (order[i] <= order[i - 1]) {
      return "packet #" + std::to_string(order[i]) + " of channel " +
             std::to_string(endpoint.child_relid()) + " was processed after packet #" +
             std::to_string(order[i - 1]);
    }
  }
  return "";
}

// Asked on a quiet system: nothing ready in either partition, nothing in
// flight. Data or room that nobody will be told about is a lost wakeup.
std::string lost_wakeup(const KmclEndpoint& endpoint, const ControlPlane& control,
                        const partition::ChannelRings* rings, bool quiet) {
  const std::uint32_t relid = endpoint.child_relid();
  const kmcl::VMBCHANNEL handle = endpoint.driver.channel();
  if (!control.is_open(relid) || !endpoint.device_has_rings() ||
      endpoint.device.channel_state(handle) != kmcl::ChannelState::kOpen || rings == nullptr) {
    return "";
  }
  if (!quiet) {
    return "";  // not quiet here (a driver thread waits for its timeout)
  }
  const ring::RingView incoming(*rings->inbound);
  const partition::ControlWords in = partition::read_control_words(incoming);
  const auto data = partition::ring_occupancy(incoming, in.write_index, in.read_index);
  if (data && data->unread_bytes != 0 &&
      endpoint.device.queue_state(handle) == kmcl::QueueState::kRunning) {
    return "incoming ring of channel " + std::to_string(relid) + " holds " +
           std::to_string(data->unread_bytes) + " bytes, queue running, no interrupt coming";
  }
  const kmcl::ChannelStats stats = endpoint.device.channel_stats(handle);
  if (stats.queued_sends == 0) {
    return "";
  }
  const ring::RingView outgoing(*rings->outbound);
  const partition::ControlWords out = partition::read_control_words(outgoing);
  const auto room = partition::ring_occupancy(outgoing, out.write_index, out.read_index);
  if (!room) {
    return "";
  }
  if (out.pending_send_sz == 0) {
    return std::to_string(stats.queued_sends) + " send(s) of channel " + std::to_string(relid) +
           " stay queued with " + std::to_string(room->free_bytes) +
           " bytes free in the outgoing ring, and the guest asked for no signal";
  }
  if (room->free_bytes > out.pending_send_sz) {
    return std::to_string(stats.queued_sends) + " send(s) of channel " + std::to_string(relid) +
           " stay queued although the outgoing ring has " + std::to_string(room->free_bytes) +
           " bytes free, more than the " + std::to_string(out.pending_send_sz) +
           " the guest waits for; no signal coming";
  }
  return "";
}

std::string ring_page_leaks(const ControlPlane& control, const KmclChannels& drivers) {
  std::string leaks;
  for (const auto& [relid, channel] : control.channels()) {
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
        if (const KmclEndpoint* endpoint = drivers.find(relid);
            endpoint != nullptr && endpoint->device.channel_state(endpoint->driver.channel()) ==
                                       kmcl::ChannelState::kDisabled) {
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
  return leaks;
}

}  // namespace vmbus::guest
