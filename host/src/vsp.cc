#include "vmbus/host/vsp.h"

#include <algorithm>
#include <cstring>

#include "vmbus/base/check.h"
#include "vmbus/partition/context_name.h"
#include "vmbus/partition/partition_support.h"
#include "vmbus/partition/ring_snapshot.h"

namespace vmbus::host {
namespace {

constexpr std::uint32_t kVspBatchPackets = 16;

}  // namespace

std::uint64_t VspChannel::pending_count() const {
  std::uint64_t pending = 0;
  for (const auto& [trans_id, outstanding] : pending_transactions) {
    pending += outstanding;
  }
  return pending;
}

void trace_completion(std::uint32_t child_relid, std::uint64_t trans_id, const std::string& status,
                      std::uint32_t bytes, const partition::Work& work) {
  proto::TraceRecord record;
  record.set_context(work.context);
  proto::CompletionEvent* event = record.mutable_completion();
  event->set_child_relid(child_relid);
  event->set_trans_id(trans_id);
  event->set_status(status);
  event->set_bytes(bytes);
  work.hv.trace(std::move(record));
}

void Vsps::configure(const proto::HostConfig& config) {
  for (const proto::ChannelOfferConfig& offer : config.channels()) {
    VspChannel channel;
    channel.config = offer;
    channels_.emplace(offer.child_relid(), std::move(channel));
  }
}

VspChannel* Vsps::find(std::uint32_t child_relid) {
  const auto it = channels_.find(child_relid);
  return it == channels_.end() ? nullptr : &it->second;
}

const VspChannel* Vsps::find(std::uint32_t child_relid) const {
  const auto it = channels_.find(child_relid);
  return it == channels_.end() ? nullptr : &it->second;
}

void Vsps::attach_rings(std::uint32_t child_relid, const partition::RingPlacement& placement,
                        const partition::Work& /*work*/) {
  VspChannel* channel = find(child_relid);
  VMBUS_CHECK(channel != nullptr && !channel->attached(),
              "rings attached to channel " + std::to_string(child_relid) + " twice");
  channel->rings = partition::map_rings(memory_, placement);
  const std::uint32_t outbound_data =
      static_cast<std::uint32_t>(channel->rings.outbound->region().size()) - ring::kHvPageSizeBytes;
  channel->receiver = std::make_unique<partition::RingReceiver>(
      *channel->rings.outbound, outbound_data / 8 * 8, kVspBatchPackets);
  channel->sender =
      std::make_unique<partition::RingSender>(*channel->rings.inbound, kVspBatchPackets);
  channel->stopped = false;
  channel->last_written.reset();
  // Like QEMU, look at the ring once right after opening: the guest may have
  // written before it heard back.
  channel->receiver->schedule();
  queue_vsp_sends(*channel);
}

void Vsps::detach_rings(std::uint32_t child_relid, partition::DetachReason reason,
                        const partition::Work& work) {
  VspChannel* channel = find(child_relid);
  VMBUS_CHECK(channel != nullptr, "rings detached from unknown channel");
  channel->receiver.reset();
  channel->sender.reset();
  channel->rings = {};
  cancel_transactions(
      *channel,
      reason == partition::DetachReason::kRescinded ? "STATUS_DEVICE_REMOVED" : "STATUS_CANCELLED",
      work);
}

void Vsps::queue_vsp_sends(VspChannel& channel) {
  const proto::VspConfig& vsp = channel.config.vsp();
  const std::uint32_t payload_bytes =
      std::max<std::uint32_t>(8, vsp.payload_bytes() == 0 ? 64 : vsp.payload_bytes());
  for (std::uint64_t sequence = 0; sequence < vsp.send_packets(); ++sequence) {
    partition::QueuedPacket packet;
    packet.trans_id = sequence + 1;
    packet.flags = vsp.request_completions() ? ring::kPacketFlagCompletionRequested : 0;
    packet.payload.resize(payload_bytes);
    std::memcpy(packet.payload.data(), &sequence, sizeof(sequence));
    for (std::size_t i = sizeof(sequence); i < payload_bytes; ++i) {
      packet.payload[i] = static_cast<std::byte>((sequence + i) & 0xFF);
    }
    if (vsp.request_completions()) {
      ++channel.pending_transactions[packet.trans_id];
    }
    channel.sender->enqueue(std::move(packet));
  }
}

void Vsps::cancel_transactions(VspChannel& channel, const std::string& status,
                               const partition::Work& work) {
  // In trans_id order, so that the trace is the same on every run.
  for (const auto& [trans_id, outstanding] : channel.pending_transactions) {
    for (std::uint32_t i = 0; i < outstanding; ++i) {
      trace_completion(channel.child_relid(), trans_id, status, 0, work);
    }
  }
  channel.pending_transactions.clear();
}

void Vsps::add_ready(std::vector<std::string>& ready) const {
  for (const auto& [relid, channel] : channels_) {
    if (!channel.attached() || channel.stopped) {
      continue;
    }
    if ((channel.listens() && channel.receiver->ready()) || channel.sender->ready()) {
      ready.push_back(partition::channel_context(kVspContextKind, relid));
    }
  }
}

bool Vsps::step(std::uint32_t child_relid, const partition::Work& work) {
  VspChannel* found = find(child_relid);
  VMBUS_CHECK(found != nullptr && found->attached(), "stepped a channel context with no channel");
  VspChannel& channel = *found;
  const bool receive = channel.listens() && channel.receiver->ready() &&
                       (channel.receive_turn || !channel.sender->ready());
  channel.receive_turn = !channel.receive_turn;
  if (receive ? receive_phase(channel, work) : send_phase(channel, work)) {
    work.hv.trace(partition::trace_ring(
        work.context, child_relid, receive ? "outbound" : "inbound", "signal",
        receive ? channel.receiver->reader().view() : channel.sender->writer().view(), 0, 0, ""));
    signal_guest(channel, work);
  }
  return channel.config.rescind_after_packets() != 0 &&
         channel.packets_echoed >= channel.config.rescind_after_packets();
}

void Vsps::on_guest_signal(std::uint32_t child_relid, const partition::Work& work) {
  VspChannel* channel = find(child_relid);
  VMBUS_CHECK(channel != nullptr && channel->attached(), "a guest signal for a closed channel");
  // One event per channel means "look at both rings".
  channel->receiver->schedule();
  if (channel->sender->blocked()) {
    work.hv.trace(partition::trace_ring(work.context, child_relid, "inbound", "resume",
                                        channel->sender->writer().view(), 0, 0,
                                        "the guest signalled: the blocked sender retries"));
  }
  channel->sender->on_space_signal();
}

void Vsps::signal_guest(VspChannel& channel, const partition::Work& work) {
  ++channel.stats.signals;
  work.hv.signal_event(0, channel.child_relid());
}

bool Vsps::receive_phase(VspChannel& channel, const partition::Work& work) {
  const std::uint32_t relid = channel.child_relid();
  const partition::ReceiveStep done = channel.receiver->step(
      [&](const ring::PacketView& packet) { on_guest_packet(channel, packet, work); });
  if (done.corrupt) {
    channel.stopped = true;
    work.hv.trace(partition::trace_ring(work.context, relid, "outbound", "corrupt",
                                        channel.receiver->reader().view(), 0, 0,
                                        ring::corrupt_reason_name(done.corrupt->reason)));
  } else if (done.phase == "publish" && done.bytes_published > 0) {
    work.hv.trace(partition::trace_ring(work.context, relid, "outbound", "publish_read",
                                        channel.receiver->reader().view(), done.bytes_published, 0,
                                        ""));
  }
  return done.signal_peer;
}

void Vsps::on_guest_completion(VspChannel& channel, const ring::PacketView& packet,
                               const partition::Work& work) {
  // The guest completed one of our sends: never answered, whatever the VSP kind.
  const std::uint32_t relid = channel.child_relid();
  const std::uint64_t trans_id = packet.descriptor.trans_id;
  ++channel.stats.completions_received;
  const auto pending = channel.pending_transactions.find(trans_id);
  if (pending != channel.pending_transactions.end()) {
    trace_completion(relid, trans_id, "STATUS_SUCCESS",
                     static_cast<std::uint32_t>(packet.payload().size()), work);
    if (--pending->second == 0) {
      channel.pending_transactions.erase(pending);
    }
  } else {
    ++channel.stats.unknown_completions;
    work.note("VM_PKT_COMP on channel " + std::to_string(relid) + " for trans_id " +
              std::to_string(trans_id) + ", which no send of the host waits for: ignored");
  }
  if (channel.stats.completions_received == channel.config.vsp().send_packets()) {
    work.hv.report({{"completions." + std::to_string(relid),
                     std::to_string(channel.stats.completions_received)}},
                   false);
  }
}

void Vsps::on_guest_packet(VspChannel& channel, const ring::PacketView& packet,
                           const partition::Work& work) {
  const ring::PacketDescriptor& descriptor = packet.descriptor;
  if (descriptor.type == static_cast<std::uint16_t>(ring::PacketType::kComp)) {
    on_guest_completion(channel, packet, work);
    return;
  }
  ++channel.stats.packets_received;
  const bool wants_completion = (descriptor.flags & ring::kPacketFlagCompletionRequested) != 0;
  switch (channel.config.vsp().kind()) {
    case proto::VspConfig::KIND_DISCARD:
      return;
    case proto::VspConfig::KIND_COMPLETE: {
      if (wants_completion) {
        partition::QueuedPacket completion;
        completion.type = static_cast<std::uint16_t>(ring::PacketType::kComp);
        completion.trans_id = descriptor.trans_id;
        channel.sender->enqueue(std::move(completion));
      }
      return;
    }
    default: {
      const auto payload = packet.payload();
      partition::QueuedPacket echo;
      echo.type = static_cast<std::uint16_t>(wants_completion ? ring::PacketType::kComp
                                                              : ring::PacketType::kDataInband);
      echo.trans_id = descriptor.trans_id;
      echo.payload.assign(payload.begin(), payload.end());
      channel.sender->enqueue(std::move(echo));
      ++channel.packets_echoed;
      return;
    }
  }
}

bool Vsps::send_phase(VspChannel& channel, const partition::Work& work) {
  const std::uint32_t relid = channel.child_relid();
  partition::RingSender& sender = *channel.sender;
  const std::uint64_t masked_before = sender.writer().counters().signals_masked;
  const partition::SendStep done = sender.step();
  const std::uint64_t masked = sender.writer().counters().signals_masked - masked_before;
  channel.stats.signals_masked += masked;
  if (masked != 0) {
    work.hv.trace(partition::trace_ring(work.context, relid, "inbound", "interrupt_masked",
                                        sender.writer().view(), 0, 0,
                                        "no interrupt: the guest has interrupt_mask set (it is "
                                        "draining and re-checks before it stops)"));
  }
  channel.stats.packets_sent += done.packets_copied;
  if (done.packets_copied > 0 && sender.last_copied()) {
    const partition::CopiedPacket& copied = *sender.last_copied();
    channel.last_written =
        WrittenPacket{sender.writer().view().advance(copied.start_index, copied.header_bytes),
                      copied.packet_bytes - copied.header_bytes, copied.trans_id};
  }
  if (done.corrupt || done.too_large) {
    channel.stopped = true;
    work.hv.trace(partition::trace_ring(
        work.context, relid, "inbound", "corrupt", sender.writer().view(), 0, 0,
        done.corrupt ? ring::corrupt_reason_name(*done.corrupt) : "packet larger than the ring"));
  } else if (done.phase == "publish" && done.bytes_published > 0) {
    work.hv.trace(partition::trace_ring(work.context, relid, "inbound", "publish_write",
                                        sender.writer().view(), done.bytes_published, 0, ""));
  } else if (done.phase == "block") {
    const std::uint32_t needed =
        partition::read_control_words(sender.writer().view()).pending_send_sz;
    work.hv.trace(partition::trace_ring(
        work.context, relid, "inbound", "pending_send_sz", sender.writer().view(), needed, 0,
        "ring full: the sender waits for " + std::to_string(needed) +
            " free bytes and the guest's signal"));
  }
  return done.signal_peer;
}

void Vsps::finish_send_batch(VspChannel& channel, const partition::Work& work) {
  while (!channel.sender->idle()) {
    if (send_phase(channel, work)) {
      work.hv.trace(partition::trace_ring(work.context, channel.child_relid(), "inbound", "signal",
                                          channel.sender->writer().view(), 0, 0, ""));
      signal_guest(channel, work);
    }
  }
}

}  // namespace vmbus::host
