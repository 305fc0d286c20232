#include "vmbus/host/oracles.h"

#include "vmbus/partition/ring_snapshot.h"

namespace vmbus::host {

std::string lost_wakeup(const VspChannel& channel) {
  if (!channel.attached() || channel.stopped) {
    return "";
  }
  const std::uint32_t relid = channel.child_relid();
  const partition::RingSender& sender = *channel.sender;
  const ring::RingView& outgoing = sender.writer().view();
  const std::uint32_t head_bytes = sender.head_packet_bytes();
  if (sender.blocked() && head_bytes != 0) {
    const auto room = partition::ring_occupancy(outgoing, sender.writer().write_cursor(),
                                                partition::read_control_words(outgoing).read_index);
    const std::uint32_t needed = ring::ring_bytes_for_packet(head_bytes);
    if (room && room->free_bytes > needed) {
      return "the host's sender on channel " + std::to_string(relid) +
             " waits for a signal although the host->guest ring has " +
             std::to_string(room->free_bytes) + " free bytes, enough for its " +
             std::to_string(needed) + "-byte head packet";
    }
  }
  const partition::RingReceiver& receiver = *channel.receiver;
  const ring::RingView& incoming = receiver.reader().view();
  if (channel.listens() && !receiver.ready() && !receiver.stopped()) {
    const auto data =
        partition::ring_occupancy(incoming, partition::read_control_words(incoming).write_index,
                                  receiver.reader().read_cursor());
    if (data && data->unread_bytes != 0) {
      return "the guest->host ring of channel " + std::to_string(relid) + " holds " +
             std::to_string(data->unread_bytes) +
             " unread bytes but the host's VSP is idle with no drain scheduled";
    }
  }
  return "";
}

std::string gpadl_leaks(const ControlPlane& control) {
  std::string text;
  const auto add = [&text](const std::string& problem) {
    text += (text.empty() ? "" : "; ") + problem;
  };
  for (const auto& [handle, gpadl] : control.gpadls()) {
    if (control.is_open(gpadl.child_relid)) {
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
