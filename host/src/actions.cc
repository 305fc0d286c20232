// The host's scenario actions: the host as a scripted, possibly malicious
// root partition (actions.h lists what each action does).
//
// Raw writes never go through the RingWriter, but every offset and length
// from the scenario is checked against the ring's data area before a byte is
// written: a bad one is an error string for the scenario, never a write
// outside the ring.
#include "vmbus/host/actions.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <fstream>

#include "vmbus/partition/kmcl_actions.h"
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
        return set_policy(action.set_policy());
      case proto::PartitionAction::kUnload:
        return "unload is the guest's: its VMBus driver goes away";
      case proto::PartitionAction::kSnapshotRing:
        return snapshot_ring(action.snapshot_ring());
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
  std::string set_policy(const proto::SetPolicyAction& action);
  std::string snapshot_ring(const proto::SnapshotRingAction& action);

  // The VSP of channel `child_relid`, or nullptr with `*error` set.
  VspChannel* vsp(std::uint32_t child_relid, std::string* error) {
    VspChannel* channel = vsps_.find_channel(child_relid);
    if (channel == nullptr || control_.channel(child_relid) == nullptr) {
      *error = "no channel with child_relid " + std::to_string(child_relid);
      return nullptr;
    }
    return channel;
  }

  // The open channel `child_relid`'s VSP, or nullptr with `*error` set.
  VspChannel* open_channel(std::uint32_t child_relid, std::string* error) {
    VspChannel* channel = vsp(child_relid, error);
    if (channel != nullptr &&
        (!control_.is_open(child_relid) || !channel->attached() || channel->revoke_started)) {
      *error = "channel " + std::to_string(child_relid) + " is not open";
      return nullptr;
    }
    return channel;
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

std::string HostAction::send(const proto::SendAction& action) {
  std::string error;
  VspChannel* channel = open_channel(action.child_relid(), &error);
  if (channel == nullptr) {
    return error;
  }
  const auto request = partition::send_request(action);
  if (!request.ok()) {
    return request.error();
  }
  if (action.external_pages() >= vsps_.guest_pages()) {
    return "external_pages " + std::to_string(action.external_pages()) +
           " is more than guest memory holds (" + std::to_string(vsps_.guest_pages()) + " pages)";
  }
  // The VSP's driver sends through KMCL, as the guest's does: VmbPacketSend,
  // KMCL choosing the trans_id; external data names the last guest pages.
  const partition::KmclEndpoint& endpoint = *channel->endpoint;
  const std::uint64_t first_trans_id =
      endpoint.device.channel_stats(endpoint.channel()).next_trans_id;
  if (error = partition::kmcl_send(vsps_, *channel->endpoint, action); !error.empty()) {
    return error;
  }
  work_.note("send: " + std::to_string(request.value().count) + " packet(s) of " +
             std::to_string(request.value().payload.size()) + " bytes queued on channel " +
             std::to_string(action.child_relid()) + " from trans_id " +
             std::to_string(first_trans_id) +
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
    vsps_.resync_sender(*channel);
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
      vsps_.on_guest_signal(action.child_relid());
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
  vsps_.resync_sender(*channel);
  channel->raw_written = kmcl::WrittenPacket{payload_index, payload_area, action.trans_id(), 0};
  channel->device_packets_at_raw =
      channel->endpoint->device.channel_stats(channel->endpoint->channel()).packets_written;
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
  const std::optional<kmcl::WrittenPacket> written = vsps_.last_written(*channel);
  if (!written) {
    return "the host has written no packet on channel " + std::to_string(action.child_relid()) +
           " since it opened";
  }
  const kmcl::WrittenPacket& last = *written;
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
  const std::string before = ring_words(view);
  std::uint32_t& word = write ? view.control().write_index : view.control().read_index;
  std::atomic_ref<std::uint32_t>(word).store(action.value(), std::memory_order_release);
  if (moves_sender) {
    vsps_.resync_sender(*channel);
  }
  trace_ring(action.child_relid(), ring_name(action.ring()), "set_index", view, 0, 0,
             std::string(write ? "write_index" : "read_index") + " = " +
                 std::to_string(action.value()) + "; before: " + before +
                 "; after: " + ring_words(view));
  if (action.signal()) {
    trace_ring(action.child_relid(), "inbound", "signal", ring::RingView(*channel->rings.inbound),
               0, 0, "scenario");
    vsps_.signal_guest(*channel, work_);
  }
  return "";
}

// The ring's bytes as they are between two steps: no partition runs now,
// so the copy is one consistent state. Written beside the target and
// renamed over it, so a reader never sees half an image.
std::string HostAction::snapshot_ring(const proto::SnapshotRingAction& action) {
  std::string error;
  VspChannel* channel = open_channel(action.child_relid(), &error);
  if (channel == nullptr) {
    return error;
  }
  const bool inbound = action.ring() == proto::HOST_TO_GUEST_RING;
  ring::RingMemory& memory = inbound ? *channel->rings.inbound : *channel->rings.outbound;
  const std::span<const std::byte> bytes = memory.region();
  const std::string temporary = action.path() + ".partial";
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(bytes.data()),
              static_cast<std::streamsize>(bytes.size()));
    out.flush();
    if (!out) {
      std::remove(temporary.c_str());
      return "snapshot_ring cannot write " + temporary;
    }
  }
  if (std::rename(temporary.c_str(), action.path().c_str()) != 0) {
    std::remove(temporary.c_str());
    return "snapshot_ring cannot write " + action.path();
  }
  trace_ring(action.child_relid(), ring_name(action.ring()), "snapshot", ring::RingView(memory),
             static_cast<std::uint32_t>(bytes.size()), 0, action.path());
  return "";
}

// RESCIND withdraws the offer: the VSP's driver disables its channel
// (VmbChannelDisable = revoke), and the control plane rescinds the offer once
// the device's teardown is done. The other operations are the VSP driver's
// KMCL calls, as on the guest; ENABLE is refused: the VSP enables its channel
// when the host starts, and a revoked offer is not offered again.
std::string HostAction::channel_op(const proto::ChannelOpAction& action) {
  std::string error;
  VspChannel* channel = vsp(action.child_relid(), &error);
  if (channel == nullptr) {
    return error;
  }
  const std::string relid = std::to_string(action.child_relid());
  if (action.op() != proto::ChannelOpAction::RESCIND) {
    return partition::kmcl_channel_op(*channel->endpoint, action,
                                      "the host's VSP enabled channel " + relid +
                                          " when it started; a revoked offer is not offered again");
  }
  if (channel->revoke_started ||
      control_.channel(action.child_relid())->state == ControlPlane::Channel::State::kRescinded) {
    return "channel " + relid + " is already rescinded";
  }
  channel->revoke_started = true;
  proto::ChannelOpAction disable = action;
  disable.set_op(proto::ChannelOpAction::DISABLE);
  return partition::kmcl_channel_op(*channel->endpoint, disable, "");
}

// The VSP driver's new policy; without a default action its VSP kind's.
std::string HostAction::set_policy(const proto::SetPolicyAction& action) {
  std::string error;
  VspChannel* channel = vsp(action.child_relid(), &error);
  if (channel == nullptr) {
    return error;
  }
  proto::SetPolicyAction policy = action;
  if (!policy.has_default_action()) {
    *policy.mutable_default_action() = vsp_default_action(channel->config.vsp());
  }
  return partition::kmcl_set_policy(*channel->endpoint, policy);
}

}  // namespace

std::string perform_action(const proto::PartitionAction& action, ControlPlane& control, Vsps& vsps,
                           const partition::Work& work) {
  return HostAction(control, vsps, work).perform(action);
}

}  // namespace vmbus::host
