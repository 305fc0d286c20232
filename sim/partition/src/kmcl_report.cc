#include "vmbus/partition/kmcl_report.h"

#include "vmbus/partition/ring_snapshot.h"

namespace vmbus::partition {

proto::KmclChannelReport kmcl_channel_report(const KmclEndpoint& endpoint) {
  const kmcl::VMBCHANNEL channel = endpoint.channel();
  const kmcl::ChannelStats stats = endpoint.device.channel_stats(channel);
  proto::KmclChannelReport out;
  out.set_child_relid(endpoint.child_relid());
  out.set_channel_state(kmcl::channel_state_name(endpoint.device.channel_state(channel)));
  out.set_queue_state(kmcl::queue_state_name(endpoint.device.queue_state(channel)));
  out.set_stop_reason(stats.stop_reason);
  out.set_dequeued(stats.packets_dequeued);
  out.set_delivered(stats.deliveries);
  out.set_deferred(stats.defers);
  out.set_failed(stats.packets_failed);
  out.set_completed(stats.packets_completed);
  out.set_completions_sent(stats.completions_sent);
  out.set_packets_sent(stats.packets_sent);
  out.set_dropped(stats.dropped_at_close + stats.discarded_at_close);
  out.set_protocol_errors(stats.protocol_errors);
  out.set_unexpected_completions(stats.unexpected_completions);
  out.set_live_packets(stats.live_packets);
  out.set_outstanding(endpoint.driver().outstanding_count());
  out.set_redelivery_mismatches(endpoint.driver().redelivery_mismatches());
  out.set_sends_in_flight(stats.sends_in_flight);
  out.set_queued_sends(stats.queued_sends);
  out.set_completions_received(stats.completions_received);
  out.set_retired(endpoint.driver().retired_packets());
  out.set_violations(endpoint.device.violations().size());
  out.set_sends_completed(endpoint.driver().sends_completed());
  const kmcl::RingCounters rings = endpoint.driver().ring_counters();
  out.mutable_incoming()->set_packets(rings.incoming.packets);
  out.mutable_incoming()->set_signals(rings.incoming.signals);
  out.mutable_incoming()->set_end_read_races(rings.incoming.end_read_races);
  out.mutable_outgoing()->set_packets(rings.outgoing.packets);
  out.mutable_outgoing()->set_signals(rings.outgoing.signals);
  out.mutable_outgoing()->set_signals_masked(rings.outgoing.signals_masked);
  out.mutable_outgoing()->set_full_events(rings.outgoing.full_events);
  out.mutable_outgoing()->set_pending_send_sz_sets(rings.outgoing.pending_send_sz_sets);
  return out;
}

// Every dequeued packet is retired exactly once: completed or failed by the
// driver, or dropped by KMCL at a close. At the end a packet may still be
// live only if the scripted driver keeps it on purpose (LEAVE_OUTSTANDING:
// a COMPLETE_OUTSTANDING can still retire it) or KMCL holds it for a queue
// that is not running (paused, stopped by Fail or a protocol error,
// closing), which a restart delivers. A loaded driver runs only in its
// callbacks, and at the end none is coming: a packet it still holds is one
// it will never complete.
std::string retired_once(const KmclEndpoint& endpoint) {
  const std::string channel = "channel " + std::to_string(endpoint.child_relid());
  for (const auto& [index, times] : endpoint.driver().retirements()) {
    if (times > 1) {
      return "packet #" + std::to_string(index) + " of " + channel + " was retired " +
             std::to_string(times) + " times";
    }
  }
  const kmcl::VMBCHANNEL handle = endpoint.channel();
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
  const std::uint64_t on_purpose = endpoint.scripted ? endpoint.driver().outstanding_count() : 0;
  const std::uint64_t kept = on_purpose + waiting_for_restart;
  if (stats.live_packets > kept) {
    return std::to_string(stats.live_packets - kept) + " packet(s) of " + channel +
           " were dequeued and never retired, and nothing can retire them any more (" +
           (endpoint.scripted ? std::to_string(on_purpose) + " left outstanding by the driver, "
                              : std::string("the driver holds ") +
                                    std::to_string(endpoint.driver().outstanding_count()) +
                                    " and runs no more, ") +
           std::to_string(waiting_for_restart) + " held for a queue restart)";
  }
  return "";
}

std::string fifo(const KmclEndpoint& endpoint) {
  if (const auto& broken = endpoint.driver().first_order_break()) {
    return "packet #" + std::to_string(broken->index) + " of channel " +
           std::to_string(endpoint.child_relid()) + " was processed after packet #" +
           std::to_string(broken->after);
  }
  return "";
}

// Data or room that nobody will be told about is a lost wakeup.
std::string kmcl_lost_wakeup(const KmclEndpoint& endpoint, ring::RingMemory& incoming_memory,
                             ring::RingMemory& outgoing_memory, const std::string& side) {
  const std::uint32_t relid = endpoint.child_relid();
  const kmcl::VMBCHANNEL handle = endpoint.channel();
  const ring::RingView incoming(incoming_memory);
  const ControlWords in = read_control_words(incoming);
  // Unread data is measured from where the reader itself is, not from the
  // shared read_index: a hostile writer can rewind that one, and the reader
  // rightly does not read its packets twice.
  const std::optional<std::uint32_t> cursor = endpoint.device.incoming_read_cursor(handle);
  const auto data = ring_occupancy(incoming, in.write_index, cursor.value_or(in.read_index));
  if (data && data->unread_bytes != 0 &&
      endpoint.device.queue_state(handle) == kmcl::QueueState::kRunning) {
    return "incoming ring of channel " + std::to_string(relid) + " holds " +
           std::to_string(data->unread_bytes) + " bytes, queue running, no interrupt coming";
  }
  const kmcl::ChannelStats stats = endpoint.device.channel_stats(handle);
  if (stats.queued_sends == 0) {
    return "";
  }
  const ring::RingView outgoing(outgoing_memory);
  const ControlWords out = read_control_words(outgoing);
  const auto room = ring_occupancy(outgoing, out.write_index, out.read_index);
  if (!room) {
    return "";
  }
  if (out.pending_send_sz == 0) {
    return std::to_string(stats.queued_sends) + " send(s) of channel " + std::to_string(relid) +
           " stay queued with " + std::to_string(room->free_bytes) +
           " bytes free in the outgoing ring, and the " + side + " asked for no signal";
  }
  if (room->free_bytes > out.pending_send_sz) {
    return std::to_string(stats.queued_sends) + " send(s) of channel " + std::to_string(relid) +
           " stay queued although the outgoing ring has " + std::to_string(room->free_bytes) +
           " bytes free, more than the " + std::to_string(out.pending_send_sz) + " the " + side +
           " waits for; no signal coming";
  }
  return "";
}

}  // namespace vmbus::partition
