#include "vmbus/host/vsp.h"

#include <algorithm>
#include <cstring>

#include "vmbus/base/check.h"
#include "vmbus/partition/kmcl_actions.h"
#include "vmbus/partition/partition_support.h"
#include "vmbus/ring/layout.h"
#include "vmbus/wire/gpadl.h"

namespace vmbus::host {
namespace {

// The offer's interface GUIDs for VmbServerChannelInitSetTargetInterfaceId
// (the control plane checked them; an empty one is all zeros).
kmcl::GUID guid_of(const std::string& text) {
  kmcl::GUID out{};
  if (text.empty()) {
    return out;
  }
  const wire::Guid guid = wire::Guid::parse(text).value();
  static_assert(sizeof(out) == sizeof(guid));
  std::memcpy(&out, &guid, sizeof(out));
  return out;
}

}  // namespace

// The policy a VSP kind stands for when the driver names no default action.
proto::DriverAction vsp_default_action(const proto::VspConfig& vsp) {
  proto::DriverAction action;
  switch (vsp.kind()) {
    case proto::VspConfig::KIND_COMPLETE:
    case proto::VspConfig::KIND_SINK_STALLED:  // once a START lets it read
      action.set_kind(proto::DriverAction::KIND_COMPLETE);
      break;
    case proto::VspConfig::KIND_DISCARD:
      action.set_kind(proto::DriverAction::KIND_LEAVE_OUTSTANDING);
      break;
    default:
      action.set_kind(proto::DriverAction::KIND_ECHO);
      break;
  }
  return action;
}

proto::KmclDriverConfig vsp_driver_config(const proto::ChannelOfferConfig& offer) {
  proto::KmclDriverConfig driver = offer.driver();
  driver.set_child_relid(offer.child_relid());
  if (!driver.has_default_action()) {
    *driver.mutable_default_action() = vsp_default_action(offer.vsp());
  }
  if (offer.vsp().kind() == proto::VspConfig::KIND_SINK_STALLED) {
    driver.set_stay_paused(true);
  }
  return driver;
}

Vsps::Vsps(partition::GuestMemory& memory)
    : partition::KmclEndpoints(static_cast<partition::ExternalPages&>(*this)), memory_(memory) {}

std::string Vsps::configure(const proto::HostConfig& config, std::uint64_t seed,
                            const partition::Work& work) {
  for (const proto::ChannelOfferConfig& offer : config.channels()) {
    const kmcl::GUID type = guid_of(offer.interface_guid());
    const kmcl::GUID instance = guid_of(offer.instance_guid());
    // The offer's GUIDs are the server channel's (Init before Enable).
    std::string error = add(vsp_driver_config(offer), seed, work, partition::EndpointRole::kServer,
                            [type, instance](kmcl::VMBCHANNEL channel) {
                              VMBUS_CHECK(kmcl::VmbServerChannelInitSetTargetInterfaceId(
                                              channel, type, instance) == kmcl::STATUS_SUCCESS,
                                          "cannot set a server channel's interface GUIDs");
                            });
    if (!error.empty()) {
      return error;
    }
    VspChannel channel;
    channel.config = offer;
    channel.endpoint = find(offer.child_relid());
    channels_.emplace(offer.child_relid(), std::move(channel));
  }
  return "";
}

VspChannel* Vsps::find_channel(std::uint32_t child_relid) {
  const auto it = channels_.find(child_relid);
  return it == channels_.end() ? nullptr : &it->second;
}

const VspChannel* Vsps::find_channel(std::uint32_t child_relid) const {
  const auto it = channels_.find(child_relid);
  return it == channels_.end() ? nullptr : &it->second;
}

bool Vsps::offer_wanted(std::uint32_t child_relid) const {
  const VspChannel* channel = find_channel(child_relid);
  if (channel == nullptr) {
    return false;
  }
  const kmcl::ChannelState state =
      channel->endpoint->device.channel_state(channel->endpoint->channel());
  return state != kmcl::ChannelState::kDisabled;
}

void Vsps::attach_rings(std::uint32_t child_relid, const partition::RingPlacement& placement,
                        const partition::Work& /*work*/) {
  VspChannel* channel = find_channel(child_relid);
  VMBUS_CHECK(channel != nullptr && !channel->attached(),
              "rings attached to channel " + std::to_string(child_relid) + " twice");
  channel->rings = partition::map_rings(memory_, placement);
  channel->raw_written.reset();
}

void Vsps::detach_rings(std::uint32_t child_relid, partition::DetachReason /*reason*/,
                        const partition::Work& /*work*/) {
  VspChannel* channel = find_channel(child_relid);
  VMBUS_CHECK(channel != nullptr && !channel->endpoint->device_has_rings() &&
                  channel->endpoint->wire != partition::WireState::kPeerClosing,
              "rings detached from channel " + std::to_string(child_relid) + " while in use");
  channel->rings = {};
}

bool Vsps::open_endpoint(std::uint32_t child_relid, const partition::Work& work) {
  VspChannel* channel = find_channel(child_relid);
  VMBUS_CHECK(channel != nullptr && channel->attached(), "an open without rings");
  partition::KmclEndpoint& endpoint = *channel->endpoint;
  kmcl::NTSTATUS opened = kmcl::STATUS_SUCCESS;
  {
    // The server reads the guest->host ring and writes the other.
    const partition::SignalScope scope(endpoint, work.hv);
    opened = endpoint.device.open_channel(endpoint.channel(), *channel->rings.outbound,
                                          *channel->rings.inbound, endpoint);
  }
  if (opened != kmcl::STATUS_SUCCESS) {
    return false;
  }
  endpoint.wire_opened(true);
  channel->vsp_sends_queued = 0;  // every open sends the configured packets
  queue_vsp_sends(*channel);
  sync(endpoint, work);
  return true;
}

bool Vsps::close_endpoint(std::uint32_t child_relid, const partition::Work& work) {
  VspChannel* channel = find_channel(child_relid);
  VMBUS_CHECK(channel != nullptr, "a close of an unknown channel");
  partition::KmclEndpoint& endpoint = *channel->endpoint;
  if (endpoint.begin_peer_close()) {
    const partition::SignalScope scope(endpoint, work.hv);
    endpoint.device.close_channel(endpoint.channel());
  }
  sync(endpoint, work);
  return endpoint.wire == partition::WireState::kPeerClosing;
}

void Vsps::revoke(std::uint32_t child_relid) {
  VspChannel* channel = find_channel(child_relid);
  VMBUS_CHECK(channel != nullptr, "a revoke of an unknown channel");
  partition::KmclEndpoint& endpoint = *channel->endpoint;
  if (channel->revoke_started ||
      endpoint.device.channel_state(endpoint.channel()) == kmcl::ChannelState::kDisabled) {
    return;
  }
  channel->revoke_started = true;
  proto::ChannelOpAction disable;
  disable.set_op(proto::ChannelOpAction::DISABLE);
  VMBUS_CHECK(partition::kmcl_channel_op(endpoint, disable, "").empty(),
              "cannot disable a VSP's channel");
}

void Vsps::on_guest_signal(std::uint32_t child_relid) {
  VspChannel* channel = find_channel(child_relid);
  VMBUS_CHECK(channel != nullptr, "a guest signal for an unknown channel");
  channel->endpoint->device.on_interrupt(channel->endpoint->channel());
}

WireEvents Vsps::sync_channel(std::uint32_t child_relid, const partition::Work& work) {
  VspChannel* channel = find_channel(child_relid);
  VMBUS_CHECK(channel != nullptr, "a sync of an unknown channel");
  partition::KmclEndpoint& endpoint = *channel->endpoint;
  WireEvents events;
  events.rings_free = sync(endpoint, work);
  events.open_result = std::exchange(endpoint.open_result, std::nullopt);
  events.revoke = endpoint.wants_close();
  if (events.revoke) {
    endpoint.close_posted();
  }
  if (endpoint.wire == partition::WireState::kOpen) {
    queue_vsp_sends(*channel);
  }
  const std::uint64_t packets = channel->config.vsp().send_packets();
  if (packets != 0 && !channel->sends_reported && endpoint.driver().sends_completed() >= packets) {
    channel->sends_reported = true;
    work.hv.report({{"completions." + std::to_string(child_relid), std::to_string(packets)}},
                   false);
  }
  maybe_revoke(*channel);
  return events;
}

void Vsps::maybe_revoke(VspChannel& channel) {
  const std::uint64_t after = channel.config.rescind_after_packets();
  if (after == 0 || channel.revoke_started ||
      channel.endpoint->driver().retired_packets() < after) {
    return;
  }
  channel.revoke_started = true;
  proto::ChannelOpAction disable;
  disable.set_op(proto::ChannelOpAction::DISABLE);
  VMBUS_CHECK(partition::kmcl_channel_op(*channel.endpoint, disable, "").empty(),
              "cannot disable a VSP's channel");
}

void Vsps::queue_vsp_sends(VspChannel& channel) {
  if (!channel.endpoint->scripted) {
    return;  // a loaded driver makes its own sends
  }
  // Handed to the driver a window at a time (topped up after every step of
  // the channel), so that the host's memory stays flat however many packets
  // the configuration asks for.
  constexpr std::uint64_t kSendWindow = 64;
  const proto::VspConfig& vsp = channel.config.vsp();
  if (channel.vsp_sends_queued >= vsp.send_packets()) {
    return;
  }
  partition::KmclEndpoint& endpoint = *channel.endpoint;
  const std::uint32_t payload_bytes =
      std::max<std::uint32_t>(8, vsp.payload_bytes() == 0 ? 64 : vsp.payload_bytes());
  const kmcl::UINT32 flags =
      vsp.request_completions() ? kmcl::VMBUS_CHANNEL_FORMAT_FLAG_WAIT_FOR_COMPLETION : 0;
  std::vector<std::byte> payload(payload_bytes);
  while (channel.vsp_sends_queued < vsp.send_packets() &&
         endpoint.device.channel_stats(endpoint.driver().channel()).queued_sends < kSendWindow) {
    const std::uint64_t sequence = channel.vsp_sends_queued++;
    std::memcpy(payload.data(), &sequence, sizeof(sequence));
    for (std::size_t i = sizeof(sequence); i < payload_bytes; ++i) {
      payload[i] = static_cast<std::byte>((sequence + i) & 0xFF);
    }
    // Queued until EvtChannelOpened returns, then written as the ring allows.
    VMBUS_CHECK(endpoint.scripted->send(payload, flags) >= 0, "the VSP's own send was refused");
  }
}

void Vsps::signal_guest(VspChannel& channel, const partition::Work& work) {
  ++channel.action_signals;
  work.hv.signal_event(0, channel.child_relid());
}

void Vsps::resync_sender(VspChannel& channel) {
  channel.endpoint->device.resync_outgoing(channel.endpoint->channel());
}

std::optional<kmcl::WrittenPacket> Vsps::last_written(const VspChannel& channel) const {
  const std::optional<kmcl::WrittenPacket> device =
      channel.endpoint->device.last_written(channel.endpoint->channel());
  const std::uint64_t written_now =
      channel.endpoint->device.channel_stats(channel.endpoint->channel()).packets_written;
  if (channel.raw_written && written_now == channel.device_packets_at_raw) {
    return channel.raw_written;
  }
  return device;
}

std::optional<std::pair<std::uint64_t, std::uint32_t>> Vsps::lend(std::uint32_t count) {
  const std::uint64_t pages = memory_.page_count();
  if (count == 0 || count >= pages) {
    return std::nullopt;
  }
  return std::make_pair(pages - count, count);
}

void Vsps::give_back(const std::pair<std::uint64_t, std::uint32_t>& /*pages*/) {}

}  // namespace vmbus::host
