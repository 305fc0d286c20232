#include "vmbus/partition/raw_ring.h"

#include <atomic>
#include <cstring>
#include <span>
#include <vector>

#include "vmbus/partition/send_request.h"

namespace vmbus::partition {
namespace {

// "host->guest" or "guest->host", for error messages.
std::string direction_words(proto::RingId ring) {
  return ring == proto::HOST_TO_GUEST_RING ? "host->guest" : "guest->host";
}

std::string ring_words(const ring::RingView& view) {
  const auto load = [](std::uint32_t& word) {
    return std::to_string(std::atomic_ref<std::uint32_t>(word).load(std::memory_order_relaxed));
  };
  return "write_index " + load(view.control().write_index) + ", read_index " +
         load(view.control().read_index);
}

// The bytes of a scenario payload, or false with `*error` set.
bool payload_bytes_of(const proto::Payload& payload, std::vector<std::byte>* bytes,
                      std::string* error) {
  auto resolved = payload_bytes(payload);
  if (!resolved.ok()) {
    *error = resolved.error();
    return false;
  }
  *bytes = std::move(resolved).value();
  return true;
}

// The descriptor a raw_packet action asks for, with the defaults for the
// fields it leaves out (len8: the `written` bytes); "" or which field does
// not fit its 16 bits.
std::string raw_descriptor(const proto::RawPacketAction& action, std::uint32_t written,
                           ring::PacketDescriptor* descriptor) {
  const std::uint32_t type = action.has_type() ? action.type() : 6;
  const std::uint32_t offset8 = action.has_offset8() ? action.offset8() : ring::kMinOffset8;
  const std::uint32_t len8 = action.has_len8() ? action.len8() : written / 8;
  for (const auto& [name, value] : {std::pair<const char*, std::uint64_t>{"type", type},
                                    {"offset8", offset8},
                                    {"len8", len8},
                                    {"flags", action.flags()}}) {
    if (value > UINT16_MAX) {
      return std::string(name) + " " + std::to_string(value) + " does not fit its 16-bit field";
    }
  }
  *descriptor =
      ring::PacketDescriptor{static_cast<std::uint16_t>(type), static_cast<std::uint16_t>(offset8),
                             static_cast<std::uint16_t>(len8),
                             static_cast<std::uint16_t>(action.flags()), action.trans_id()};
  return "";
}

// Writes the descriptor, the payload right after it (whatever offset8
// claims), zero padding to `payload_area` and the trailer at `start`, then
// publishes them. Returns where the payload went.
std::uint32_t write_raw_packet(ring::RingView& view, std::uint32_t start,
                               const ring::PacketDescriptor& descriptor,
                               std::span<const std::byte> payload, std::uint32_t payload_area) {
  const std::uint32_t written = ring::kPacketDescriptorBytes + payload_area;
  view.copy_in(start, std::as_bytes(std::span(&descriptor, 1)));
  const std::uint32_t payload_index = view.advance(start, ring::kPacketDescriptorBytes);
  view.copy_in(payload_index, payload);
  view.fill_zero(view.advance(payload_index, static_cast<std::uint32_t>(payload.size())),
                 payload_area - static_cast<std::uint32_t>(payload.size()));
  const std::uint64_t trailer = std::uint64_t{start} << 32;
  view.copy_in(view.advance(start, written), std::as_bytes(std::span(&trailer, 1)));
  // The index moves by the bytes written, not by what len8 claims: the
  // descriptor reaches the peer's reader as is, and the ring stays
  // consistent with its contents. Release: a reader that sees the new index
  // sees the packet.
  std::atomic_ref<std::uint32_t>(view.control().write_index)
      .store(view.advance(start, written + ring::kPacketTrailerBytes), std::memory_order_release);
  return payload_index;
}

// Interrupts the peer for the sending ring, traced as the scenario's signal.
void signal_for_scenario(RawRingPort& port) {
  const proto::RingId sending = port.sending_ring();
  port.trace(ring_trace_name(sending), "signal", ring::RingView(port.ring(sending)), 0, 0,
             "scenario");
  port.signal_peer();
}

}  // namespace

std::string ring_trace_name(proto::RingId ring) {
  return ring == proto::HOST_TO_GUEST_RING ? "host_to_guest" : "guest_to_host";
}

std::string perform_ring_write(const proto::RingWriteAction& action, RawRingPort& port) {
  std::vector<std::byte> bytes;
  std::string error;
  if (!payload_bytes_of(action.bytes(), &bytes, &error)) {
    return error;
  }
  const bool sending = action.ring() == port.sending_ring();
  ring::RingView view(port.ring(action.ring()));
  if (std::uint64_t{action.offset()} + bytes.size() > view.data_size_bytes()) {
    return "ring_write of " + std::to_string(bytes.size()) + " bytes at offset " +
           std::to_string(action.offset()) + " does not fit the " +
           std::to_string(view.data_size_bytes()) + "-byte data area of the " +
           ring_trace_name(action.ring()) + " ring";
  }
  const std::string before = ring_words(view);
  if (!bytes.empty()) {
    std::memcpy(view.data_at(action.offset()), bytes.data(), bytes.size());
  }
  if (action.has_write_index()) {
    // Release, as RingWriter::publish(): a reader that sees this index also
    // sees the bytes written above.
    std::atomic_ref<std::uint32_t>(view.control().write_index)
        .store(action.write_index(), std::memory_order_release);
    if (sending) {
      port.resync_sender();
    }
  }
  port.trace(ring_trace_name(action.ring()), "raw_write", view,
             static_cast<std::uint32_t>(bytes.size()), 0,
             std::to_string(bytes.size()) + " bytes at offset " + std::to_string(action.offset()) +
                 "; before: " + before + "; after: " + ring_words(view));
  if (action.signal()) {
    if (sending) {
      signal_for_scenario(port);
    } else {
      port.drain_own_ring();
    }
  }
  return "";
}

std::string perform_raw_packet(const proto::RawPacketAction& action, RawRingPort& port) {
  std::vector<std::byte> payload;
  std::string error;
  if (!payload_bytes_of(action.payload(), &payload, &error)) {
    return error;
  }
  const proto::RingId sending = port.sending_ring();
  ring::RingView view(port.ring(sending));
  if (payload.size() >= view.data_size_bytes()) {
    return "a raw packet payload of " + std::to_string(payload.size()) +
           " bytes does not fit the " + std::to_string(view.data_size_bytes()) + "-byte " +
           direction_words(sending) + " ring";
  }
  const auto payload_area = static_cast<std::uint32_t>((payload.size() + 7) / 8 * 8);
  const std::uint32_t written = ring::kPacketDescriptorBytes + payload_area;
  ring::PacketDescriptor descriptor{};
  if (error = raw_descriptor(action, written, &descriptor); !error.empty()) {
    return error;
  }
  const std::string before = ring_words(view);
  const std::uint32_t start =
      std::atomic_ref<std::uint32_t>(view.control().write_index).load(std::memory_order_relaxed);
  const std::uint32_t read_index =
      std::atomic_ref<std::uint32_t>(view.control().read_index).load(std::memory_order_acquire);
  if (!view.is_valid_index(start) || !view.is_valid_index(read_index)) {
    return "the " + direction_words(sending) + " ring's indexes are not valid (" + before +
           "): no place to write a raw packet";
  }
  const std::uint32_t footprint = written + ring::kPacketTrailerBytes;
  const std::uint32_t free_bytes = ring::bytes_to_write(start, read_index, view.data_size_bytes());
  if (free_bytes <= footprint) {
    return "the " + direction_words(sending) + " ring has " + std::to_string(free_bytes) +
           " free bytes; a " + std::to_string(written) +
           "-byte raw packet and its trailer need more";
  }
  const std::uint32_t payload_index =
      write_raw_packet(view, start, descriptor, payload, payload_area);
  port.resync_sender();
  port.wrote_raw_packet(kmcl::WrittenPacket{payload_index, payload_area, action.trans_id(), 0});
  port.trace(ring_trace_name(sending), "raw_packet", view, footprint, 1,
             "type " + std::to_string(descriptor.type) + " offset8 " +
                 std::to_string(descriptor.offset8) + " len8 " + std::to_string(descriptor.len8) +
                 " flags " + std::to_string(action.flags()) + " trans_id " +
                 std::to_string(action.trans_id()) + ", " + std::to_string(payload.size()) +
                 " payload bytes at offset " + std::to_string(start) + "; before: " + before +
                 "; after: " + ring_words(view));
  if (!action.no_signal()) {
    signal_for_scenario(port);
  }
  return "";
}

std::string perform_tamper(const proto::TamperAction& action, RawRingPort& port) {
  std::vector<std::byte> bytes;
  std::string error;
  if (!payload_bytes_of(action.bytes(), &bytes, &error)) {
    return error;
  }
  const std::optional<kmcl::WrittenPacket> written = port.last_written();
  if (!written) {
    return "the " +
           std::string(port.sending_ring() == proto::HOST_TO_GUEST_RING ? "host" : "guest") +
           " has written no packet on channel " + std::to_string(action.child_relid()) +
           " since it opened";
  }
  const kmcl::WrittenPacket& last = *written;
  if (bytes.size() > last.payload_area_bytes) {
    return "tamper of " + std::to_string(bytes.size()) + " bytes does not fit the " +
           std::to_string(last.payload_area_bytes) + "-byte payload of the last packet (trans_id " +
           std::to_string(last.trans_id) + ")";
  }
  ring::RingView view(port.ring(port.sending_ring()));
  view.copy_in(last.payload_index, bytes);
  port.trace(ring_trace_name(port.sending_ring()), "tamper", view,
             static_cast<std::uint32_t>(bytes.size()), 0,
             std::to_string(bytes.size()) + " bytes over the payload of trans_id " +
                 std::to_string(last.trans_id) + " at offset " +
                 std::to_string(last.payload_index) + "; " + ring_words(view));
  return "";
}

std::string perform_set_index(const proto::SetIndexAction& action, RawRingPort& port) {
  const bool write = action.index() == proto::SetIndexAction::WRITE_INDEX;
  ring::RingView view(port.ring(action.ring()));
  const std::string before = ring_words(view);
  std::uint32_t& word = write ? view.control().write_index : view.control().read_index;
  std::atomic_ref<std::uint32_t>(word).store(action.value(), std::memory_order_release);
  if (write && action.ring() == port.sending_ring()) {
    port.resync_sender();
  }
  port.trace(ring_trace_name(action.ring()), "set_index", view, 0, 0,
             std::string(write ? "write_index" : "read_index") + " = " +
                 std::to_string(action.value()) + "; before: " + before +
                 "; after: " + ring_words(view));
  if (action.signal()) {
    signal_for_scenario(port);
  }
  return "";
}

}  // namespace vmbus::partition
