#include "vmbus/partition/ring_endpoint.h"

#include "vmbus/base/check.h"

namespace vmbus::partition {

namespace {

ring::OutgoingPacket outgoing(const QueuedPacket& packet) {
  ring::OutgoingPacket out;
  out.type = packet.type;
  out.flags = packet.flags;
  out.trans_id = packet.trans_id;
  out.offset8 = packet.offset8;
  out.header_extension = packet.header_extension;
  out.payload = packet.payload;
  return out;
}

}  // namespace

RingSender::RingSender(ring::RingMemory& memory, std::uint32_t batch_packets)
    : memory_(&memory), writer_(memory), batch_packets_(batch_packets) {
  VMBUS_CHECK(batch_packets > 0, "a sender batch needs at least one packet");
}

void RingSender::resync() {
  VMBUS_CHECK(idle(), "resync() of a sender with a batch in flight");
  writer_ = ring::RingWriter(*memory_);
}

std::uint32_t RingSender::head_packet_bytes() const {
  return queue_.empty() ? 0 : ring::packet_bytes_for(outgoing(queue_.front()));
}

bool RingSender::ready() const {
  if (phase_ != Phase::kCopy) {
    return true;
  }
  return !queue_.empty() && !blocked_;
}

SendStep RingSender::step() {
  SendStep result;
  switch (phase_) {
    case Phase::kCopy: {
      result.phase = "copy";
      while (result.packets_copied < batch_packets_ && !queue_.empty()) {
        const ring::OutgoingPacket packet = outgoing(queue_.front());
        const std::uint32_t packet_bytes = ring::packet_bytes_for(packet);
        VMBUS_CHECK(packet_bytes != 0, "queued a packet that cannot be expressed");
        const ring::ReserveResult reserved = writer_.reserve(packet_bytes);
        if (reserved.status == ring::WriteStatus::kCorrupt) {
          result.corrupt = reserved.reason;
          return result;
        }
        if (reserved.status == ring::WriteStatus::kTooLarge) {
          result.too_large = true;
          return result;
        }
        if (reserved.status == ring::WriteStatus::kNotEnoughSpace) {
          if (result.packets_copied > 0) {
            break;  // publish what we have; retry the rest next round
          }
          const ring::WaitDecision decision = writer_.prepare_to_wait(packet_bytes);
          if (decision == ring::WaitDecision::kCorrupt) {
            result.corrupt = ring::CorruptReason::kReadIndexOutOfRange;
            return result;
          }
          if (decision == ring::WaitDecision::kWaitForSignal) {
            blocked_ = true;
            result.phase = "block";
          }
          // kRetryNow: space appeared meanwhile; stay ready and retry.
          // kMustPoll: no feature bit; stay ready and poll.
          return result;
        }
        writer_.copy(reserved.reservation, packet);
        last_copied_ = CopiedPacket{reserved.reservation.start_index, packet_bytes,
                                    std::uint32_t{packet.offset8} * 8, packet.trans_id};
        queue_.pop_front();
        ++result.packets_copied;
      }
      if (result.packets_copied > 0) {
        writer_.clear_pending_send_size();
        phase_ = Phase::kPublish;
      }
      return result;
    }
    case Phase::kPublish:
      result.phase = "publish";
      result.bytes_published = writer_.publish();
      phase_ = Phase::kSignal;
      return result;
    case Phase::kSignal:
      result.phase = "signal";
      result.signal_peer = writer_.decide_signal();
      phase_ = Phase::kCopy;
      return result;
  }
  return result;
}

RingReceiver::RingReceiver(ring::RingMemory& memory, std::uint32_t max_packet_bytes,
                           std::uint32_t batch_packets)
    : reader_(memory, max_packet_bytes), batch_packets_(batch_packets) {
  VMBUS_CHECK(batch_packets > 0, "a receiver batch needs at least one packet");
}

ReceiveStep RingReceiver::step(const PacketHandler& handler) {
  VMBUS_CHECK(ready(), "receiver stepped while not scheduled");
  ReceiveStep result;
  if (phase_ == Phase::kBegin) {
    // Mask interrupts for the whole pass; the writer's packets during the
    // pass are found by reading or by end_read's re-check.
    reader_.begin_read();
    phase_ = Phase::kRead;
  }
  switch (phase_) {
    case Phase::kBegin:
    case Phase::kRead: {
      result.phase = "read";
      while (result.packets < batch_packets_) {
        const ring::ReadResult read = reader_.next();
        if (read.status == ring::ReadStatus::kEmpty) {
          drained_ = true;
          phase_ = Phase::kPublish;
          break;
        }
        if (read.status == ring::ReadStatus::kCorrupt) {
          result.corrupt = read;
          stopped_ = true;
          return result;
        }
        handler(read.packet);
        ++result.packets;
      }
      if (result.packets == batch_packets_) {
        drained_ = false;  // publish a full batch, then read on with the mask set
        phase_ = Phase::kPublish;
      }
      return result;
    }
    case Phase::kPublish:
      result.phase = "publish";
      result.bytes_published = reader_.publish();
      phase_ = Phase::kSignal;
      return result;
    case Phase::kSignal:
      result.phase = "signal";
      result.signal_peer = reader_.decide_signal();
      phase_ = drained_ ? Phase::kEndRead : Phase::kRead;
      return result;
    case Phase::kEndRead:
      result.phase = "end_read";
      phase_ = Phase::kBegin;
      // Data that arrived while we were masked got no interrupt: go round
      // again instead of waiting for one.
      scheduled_ = reader_.end_read();
      return result;
  }
  return result;
}

}  // namespace vmbus::partition
