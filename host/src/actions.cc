// The host's scenario actions: the host as a scripted, possibly malicious
// root partition (actions.h lists what each action writes).
//
// Raw writes never go through the RingWriter, but every offset and length
// from the scenario is checked against the ring's data area before a byte is
// written: a bad one is an error string for the scenario, never a write
// outside the ring.
#include "vmbus/host/actions.h"

#include <algorithm>
#include <atomic>
#include <cstring>

#include "vmbus/partition/partition_support.h"
#include "vmbus/partition/send_request.h"

namespace vmbus::host {
namespace {

// The bytes of a scenario payload, or false with `*error` set.
bool payload_bytes(const proto::Payload& payload, std::vector<std::byte>* bytes,
                   std::string* error) {
  auto resolved = partition::payload_bytes(payload);
  if (!resolved.ok()) {
    *error = resolved.error();
    return false;
  }
  *bytes = std::move(resolved).value();
  return true;
}

std::string ring_name(proto::RingId ring) {
  return ring == proto::HOST_TO_GUEST_RING ? "inbound" : "outbound";
}

std::string ring_words(const ring::RingView& view) {
  const auto load = [](std::uint32_t& word) {
    return std::to_string(std::atomic_ref<std::uint32_t>(word).load(std::memory_order_relaxed));
  };
  return "write_index " + load(view.control().write_index) + ", read_index " +
         load(view.control().read_index);
}

template <typename T>
void append(std::vector<std::byte>* bytes, T value) {
  const std::span<const std::byte> raw = std::as_bytes(std::span(&value, 1));
  bytes->insert(bytes->end(), raw.begin(), raw.end());
}

// One action, carried out against the control plane and the VSPs.
class HostAction {
 public:
  HostAction(ControlPlane& control, Vsps& vsps, const partition::Work& work)
      : control_(control), vsps_(vsps), work_(work) {}

  std::string perform(const proto::PartitionAction& action) {
    switch (action.action_case()) {
      case proto::PartitionAction::kSend:
        return send(action.send());
      case proto::PartitionAction::kRingWrite:
        return ring_write(action.ring_write());
      case proto::PartitionAction::kRawPacket:
        return raw_packet(action.raw_packet());
      case proto::PartitionAction::kTamper:
        return tamper(action.tamper());
      case proto::PartitionAction::kSetIndex:
        return set_index(action.set_index());
      case proto::PartitionAction::kChannelOp:
        return channel_op(action.channel_op());
      case proto::PartitionAction::kSetPolicy:
        return "set_policy is the guest driver's";
      case proto::PartitionAction::ACTION_NOT_SET:
        break;
    }
    return "the action is empty";
  }

 private:
  std::string send(const proto::SendAction& action);
  std::string ring_write(const proto::RingWriteAction& action);
  std::string raw_packet(const proto::RawPacketAction& action);
  std::string tamper(const proto::TamperAction& action);
  std::string set_index(const proto::SetIndexAction& action);
  std::string channel_op(const proto::ChannelOpAction& action);

  // The open channel `child_relid`'s VSP, or nullptr with `*error` set.
  VspChannel* open_channel(std::uint32_t child_relid, std::string* error) {
    const ControlPlane::Channel* channel = control_.channel(child_relid);
    if (channel == nullptr) {
      *error = "no channel with child_relid " + std::to_string(child_relid);
      return nullptr;
    }
    if (channel->state != ControlPlane::Channel::State::kOpen) {
      *error = "channel " + std::to_string(child_relid) + " is not open";
      return nullptr;
    }
    return vsps_.find(child_relid);
  }

  void trace_ring(std::uint32_t relid, const std::string& ring, const std::string& op,
                  const ring::RingView& view, std::uint32_t bytes, std::uint32_t packets,
                  const std::string& detail) {
    work_.hv.trace(
        partition::trace_ring(work_.context, relid, ring, op, view, bytes, packets, detail));
  }

  ControlPlane& control_;
  Vsps& vsps_;
  const partition::Work& work_;
};

// Makes `packet` a VM_PKT_DATA_USING_GPA_DIRECT naming one GPA range over
// the last `pages` pages of guest memory: they exist, and the guest
// allocates its rings from the bottom. Nobody reads them; the KMCL model
// maps only the PFN list. Returns "" or why it cannot.
std::string add_gpa_range(std::uint32_t pages, std::uint64_t guest_pages,
                          partition::QueuedPacket& packet) {
  if (pages >= guest_pages || pages > UINT32_MAX / ring::kHvPageSizeBytes) {
    return "external_pages " + std::to_string(pages) + " is more than guest memory holds (" +
           std::to_string(guest_pages) + " pages)";
  }
  // Descriptor, reserved + range_cnt, byte_count + byte_offset, the PFNs.
  const std::uint64_t header_bytes = ring::kPacketDescriptorBytes + 16 + 8 * std::uint64_t{pages};
  if (header_bytes / 8 > UINT16_MAX) {
    return "external_pages " + std::to_string(pages) +
           " needs a header longer than offset8 can express";
  }
  packet.type = static_cast<std::uint16_t>(ring::PacketType::kDataUsingGpaDirect);
  append(&packet.header_extension, std::uint32_t{0});                // reserved
  append(&packet.header_extension, std::uint32_t{1});                // range_cnt
  append(&packet.header_extension, pages * ring::kHvPageSizeBytes);  // byte_count
  append(&packet.header_extension, std::uint32_t{0});                // byte_offset
  for (std::uint64_t pfn = guest_pages - pages; pfn < guest_pages; ++pfn) {
    append(&packet.header_extension, pfn);
  }
  packet.offset8 = static_cast<std::uint16_t>(header_bytes / 8);
  return "";
}

// "" if `packet` can ever fit the ring behind `sender`, else why not (the
// sender would stop the VSP on it: "packet larger than the ring").
std::string check_fits(const partition::QueuedPacket& packet, const partition::RingSender& sender,
                       std::uint32_t relid) {
  ring::OutgoingPacket outgoing;
  outgoing.type = packet.type;
  outgoing.offset8 = packet.offset8;
  outgoing.header_extension = packet.header_extension;
  outgoing.payload = packet.payload;
  const std::uint32_t packet_bytes = ring::packet_bytes_for(outgoing);
  const std::uint32_t data_size = sender.writer().view().data_size_bytes();
  if (packet_bytes == 0 || ring::ring_bytes_for_packet(packet_bytes) >= data_size) {
    return "a packet of " + std::to_string(packet.payload.size()) +
           " payload bytes can never fit the " + std::to_string(data_size) +
           "-byte host->guest ring of channel " + std::to_string(relid);
  }
  return "";
}

std::string HostAction::send(const proto::SendAction& action) {
  std::string error;
  VspChannel* channel = open_channel(action.child_relid(), &error);
  if (channel == nullptr) {
    return error;
  }
  const std::uint32_t relid = action.child_relid();
  if (channel->stopped) {
    return "channel " + std::to_string(relid) + "'s VSP stopped on a corrupt ring";
  }
  auto request = partition::send_request(action);
  if (!request.ok()) {
    return request.error();
  }
  partition::QueuedPacket packet;
  packet.payload = request.value().payload;
  packet.flags = action.request_completion() ? ring::kPacketFlagCompletionRequested : 0;
  if (action.external_pages() != 0) {
    error = add_gpa_range(action.external_pages(), vsps_.guest_pages(), packet);
  }
  if (error.empty()) {
    error = check_fits(packet, *channel->sender, relid);
  }
  if (!error.empty()) {
    return error;
  }
  const std::uint32_t count = request.value().count;
  std::uint64_t first_trans_id = 0;
  for (std::uint32_t i = 0; i < count; ++i) {
    partition::QueuedPacket copy = packet;
    copy.trans_id = action.has_trans_id() ? action.trans_id() : ++channel->last_trans_id;
    if (i == 0) {
      first_trans_id = copy.trans_id;
    }
    if (action.request_completion()) {
      ++channel->pending_transactions[copy.trans_id];
    }
    channel->sender->enqueue(std::move(copy));
  }
  work_.note("send: " + std::to_string(count) + " packet(s) of " +
             std::to_string(packet.payload.size()) + " bytes queued on channel " +
             std::to_string(relid) + " from trans_id " + std::to_string(first_trans_id) +
             (action.request_completion() ? ", completion requested" : "") +
             (action.external_pages() != 0
                  ? ", " + std::to_string(action.external_pages()) + " external page(s)"
                  : ""));
  return "";
}

std::string HostAction::ring_write(const proto::RingWriteAction& action) {
  std::string error;
  VspChannel* channel = open_channel(action.child_relid(), &error);
  if (channel == nullptr) {
    return error;
  }
  std::vector<std::byte> bytes;
  if (!payload_bytes(action.bytes(), &bytes, &error)) {
    return error;
  }
  const bool inbound = action.ring() == proto::HOST_TO_GUEST_RING;
  ring::RingView view(inbound ? *channel->rings.inbound : *channel->rings.outbound);
  if (std::uint64_t{action.offset()} + bytes.size() > view.data_size_bytes()) {
    return "ring_write of " + std::to_string(bytes.size()) + " bytes at offset " +
           std::to_string(action.offset()) + " does not fit the " +
           std::to_string(view.data_size_bytes()) + "-byte data area of the " +
           ring_name(action.ring()) + " ring";
  }
  const bool moves_sender = inbound && action.has_write_index();
  if (moves_sender) {
    vsps_.finish_send_batch(*channel, work_);
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
  }
  if (moves_sender) {
    channel->sender->resync();
  }
  trace_ring(action.child_relid(), ring_name(action.ring()), "raw_write", view,
             static_cast<std::uint32_t>(bytes.size()), 0,
             std::to_string(bytes.size()) + " bytes at offset " + std::to_string(action.offset()) +
                 "; before: " + before + "; after: " + ring_words(view));
  if (action.signal()) {
    if (inbound) {
      trace_ring(action.child_relid(), "inbound", "signal", view, 0, 0, "scenario");
      vsps_.signal_guest(*channel, work_);
    } else {
      // The host reads that ring: "interrupting its reader" is a drain pass.
      channel->receiver->schedule();
    }
  }
  return "";
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
  // descriptor reaches the guest's reader as is, and the ring stays
  // consistent with its contents. Release: a reader that sees the new index
  // sees the packet.
  std::atomic_ref<std::uint32_t>(view.control().write_index)
      .store(view.advance(start, written + ring::kPacketTrailerBytes), std::memory_order_release);
  return payload_index;
}

std::string HostAction::raw_packet(const proto::RawPacketAction& action) {
  std::string error;
  VspChannel* channel = open_channel(action.child_relid(), &error);
  if (channel == nullptr) {
    return error;
  }
  std::vector<std::byte> payload;
  if (!payload_bytes(action.payload(), &payload, &error)) {
    return error;
  }
  ring::RingView view(*channel->rings.inbound);
  if (payload.size() >= view.data_size_bytes()) {
    return "a raw packet payload of " + std::to_string(payload.size()) +
           " bytes does not fit the " + std::to_string(view.data_size_bytes()) +
           "-byte host->guest ring";
  }
  const auto payload_area = static_cast<std::uint32_t>((payload.size() + 7) / 8 * 8);
  const std::uint32_t written = ring::kPacketDescriptorBytes + payload_area;
  ring::PacketDescriptor descriptor{};
  if (error = raw_descriptor(action, written, &descriptor); !error.empty()) {
    return error;
  }
  vsps_.finish_send_batch(*channel, work_);
  const std::string before = ring_words(view);
  const std::uint32_t start =
      std::atomic_ref<std::uint32_t>(view.control().write_index).load(std::memory_order_relaxed);
  const std::uint32_t read_index =
      std::atomic_ref<std::uint32_t>(view.control().read_index).load(std::memory_order_acquire);
  if (!view.is_valid_index(start) || !view.is_valid_index(read_index)) {
    return "the host->guest ring's indexes are not valid (" + before +
           "): no place to write a raw packet";
  }
  const std::uint32_t footprint = written + ring::kPacketTrailerBytes;
  const std::uint32_t free_bytes = ring::bytes_to_write(start, read_index, view.data_size_bytes());
  if (free_bytes <= footprint) {
    return "the host->guest ring has " + std::to_string(free_bytes) + " free bytes; a " +
           std::to_string(written) + "-byte raw packet and its trailer need more";
  }
  const std::uint32_t payload_index =
      write_raw_packet(view, start, descriptor, payload, payload_area);
  channel->sender->resync();
  channel->last_written = WrittenPacket{payload_index, payload_area, action.trans_id()};
  trace_ring(action.child_relid(), "inbound", "raw_packet", view, footprint, 1,
             "type " + std::to_string(descriptor.type) + " offset8 " +
                 std::to_string(descriptor.offset8) + " len8 " + std::to_string(descriptor.len8) +
                 " flags " + std::to_string(action.flags()) + " trans_id " +
                 std::to_string(action.trans_id()) + ", " + std::to_string(payload.size()) +
                 " payload bytes at offset " + std::to_string(start) + "; before: " + before +
                 "; after: " + ring_words(view));
  if (!action.no_signal()) {
    trace_ring(action.child_relid(), "inbound", "signal", view, 0, 0, "scenario");
    vsps_.signal_guest(*channel, work_);
  }
  return "";
}

std::string HostAction::tamper(const proto::TamperAction& action) {
  std::string error;
  VspChannel* channel = open_channel(action.child_relid(), &error);
  if (channel == nullptr) {
    return error;
  }
  std::vector<std::byte> bytes;
  if (!payload_bytes(action.bytes(), &bytes, &error)) {
    return error;
  }
  if (!channel->last_written) {
    return "the host has written no packet on channel " + std::to_string(action.child_relid()) +
           " since it opened";
  }
  const WrittenPacket& last = *channel->last_written;
  if (bytes.size() > last.payload_area_bytes) {
    return "tamper of " + std::to_string(bytes.size()) + " bytes does not fit the " +
           std::to_string(last.payload_area_bytes) + "-byte payload of the last packet (trans_id " +
           std::to_string(last.trans_id) + ")";
  }
  ring::RingView view(*channel->rings.inbound);
  view.copy_in(last.payload_index, bytes);
  trace_ring(action.child_relid(), "inbound", "tamper", view,
             static_cast<std::uint32_t>(bytes.size()), 0,
             std::to_string(bytes.size()) + " bytes over the payload of trans_id " +
                 std::to_string(last.trans_id) + " at offset " +
                 std::to_string(last.payload_index) + "; " + ring_words(view));
  return "";
}

std::string HostAction::set_index(const proto::SetIndexAction& action) {
  std::string error;
  VspChannel* channel = open_channel(action.child_relid(), &error);
  if (channel == nullptr) {
    return error;
  }
  const bool inbound = action.ring() == proto::HOST_TO_GUEST_RING;
  const bool write = action.index() == proto::SetIndexAction::WRITE_INDEX;
  ring::RingView view(inbound ? *channel->rings.inbound : *channel->rings.outbound);
  const bool moves_sender = inbound && write;
  if (moves_sender) {
    vsps_.finish_send_batch(*channel, work_);
  }
  const std::string before = ring_words(view);
  std::uint32_t& word = write ? view.control().write_index : view.control().read_index;
  std::atomic_ref<std::uint32_t>(word).store(action.value(), std::memory_order_release);
  if (moves_sender) {
    channel->sender->resync();
  }
  trace_ring(action.child_relid(), ring_name(action.ring()), "set_index", view, 0, 0,
             std::string(write ? "write_index" : "read_index") + " = " +
                 std::to_string(action.value()) + "; before: " + before +
                 "; after: " + ring_words(view));
  if (action.signal()) {
    trace_ring(action.child_relid(), "inbound", "signal", channel->sender->writer().view(), 0, 0,
               "scenario");
    vsps_.signal_guest(*channel, work_);
  }
  return "";
}

std::string HostAction::channel_op(const proto::ChannelOpAction& action) {
  if (action.op() != proto::ChannelOpAction::RESCIND) {
    return "channel_op " + proto::ChannelOpAction::Op_Name(action.op()) + " is the guest's";
  }
  const ControlPlane::Channel* channel = control_.channel(action.child_relid());
  if (channel == nullptr) {
    return "no channel with child_relid " + std::to_string(action.child_relid());
  }
  if (channel->state == ControlPlane::Channel::State::kRescinded) {
    return "channel " + std::to_string(action.child_relid()) + " is already rescinded";
  }
  control_.rescind(action.child_relid(), work_);
  return "";
}

}  // namespace

std::string perform_action(const proto::PartitionAction& action, ControlPlane& control, Vsps& vsps,
                           const partition::Work& work) {
  return HostAction(control, vsps, work).perform(action);
}

}  // namespace vmbus::host
