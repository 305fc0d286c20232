// The host's scenario actions: the host as a scripted, possibly malicious
// root partition (actions.h lists what each action does). The raw ring
// writes are partition/raw_ring.h's, which the guest shares.
#include "vmbus/host/actions.h"

#include <cstdio>
#include <cstring>
#include <fstream>

#include "vmbus/partition/kmcl_actions.h"
#include "vmbus/partition/partition_support.h"
#include "vmbus/partition/raw_ring.h"
#include "vmbus/partition/send_request.h"

namespace vmbus::host {
namespace {

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
        return raw(action.ring_write(), partition::perform_ring_write);
      case proto::PartitionAction::kRawPacket:
        return raw(action.raw_packet(), partition::perform_raw_packet);
      case proto::PartitionAction::kTamper:
        return raw(action.tamper(), partition::perform_tamper);
      case proto::PartitionAction::kSetIndex:
        return raw(action.set_index(), partition::perform_set_index);
      case proto::PartitionAction::kChannelOp:
        return channel_op(action.channel_op());
      case proto::PartitionAction::kSetPolicy:
        return set_policy(action.set_policy());
      case proto::PartitionAction::kUnload:
        return "unload is the guest's: its VMBus driver goes away";
      case proto::PartitionAction::kHibernate:
      case proto::PartitionAction::kResume:
        return "hibernate and resume are the guest's: its VMBus suspends and resumes";
      case proto::PartitionAction::kSnapshotRing:
        return snapshot_ring(action.snapshot_ring());
      case proto::PartitionAction::kHostMessage:
        return host_message(action.host_message());
      case proto::PartitionAction::kDuplicateOffer:
        return duplicate_offer(action.duplicate_offer());
      case proto::PartitionAction::kModifyChannel:
        return "modify_channel is the guest's: it posts MODIFYCHANNEL";
      case proto::PartitionAction::kOfferSubchannels:
        return control_.offer_subchannels(action.offer_subchannels().child_relid(), work_);
      case proto::PartitionAction::ACTION_NOT_SET:
        break;
    }
    return "the action is empty";
  }

 private:
  std::string send(const proto::SendAction& action);
  // A raw ring action (partition/raw_ring.h) on an open channel.
  template <typename Action>
  std::string raw(const Action& action,
                  std::string (*carry_out)(const Action&, partition::RawRingPort&));
  std::string channel_op(const proto::ChannelOpAction& action);
  std::string set_policy(const proto::SetPolicyAction& action);
  std::string snapshot_ring(const proto::SnapshotRingAction& action);
  std::string host_message(const proto::HostMessageAction& action);
  std::string duplicate_offer(const proto::DuplicateOfferAction& action);

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

// The host's end of an open channel, for the raw ring actions: it sends on
// the host->guest ring, and reads the guest->host ring itself.
class HostRawPort final : public partition::RawRingPort {
 public:
  HostRawPort(VspChannel& channel, Vsps& vsps, const partition::Work& work)
      : channel_(channel), vsps_(vsps), work_(work) {}

  ring::RingMemory& ring(proto::RingId id) override {
    return id == proto::HOST_TO_GUEST_RING ? *channel_.rings.inbound : *channel_.rings.outbound;
  }
  proto::RingId sending_ring() const override { return proto::HOST_TO_GUEST_RING; }
  void resync_sender() override { vsps_.resync_sender(channel_); }
  void signal_peer() override { vsps_.signal_guest(channel_, work_); }
  void drain_own_ring() override { vsps_.on_guest_signal(channel_.child_relid()); }
  std::optional<kmcl::WrittenPacket> last_written() override {
    return vsps_.last_written(channel_);
  }
  void wrote_raw_packet(const kmcl::WrittenPacket& packet) override {
    channel_.raw_written = packet;
    channel_.device_packets_at_raw =
        channel_.endpoint->device.channel_stats(channel_.endpoint->channel()).packets_written;
  }
  void trace(const std::string& ring, const std::string& op, const ring::RingView& view,
             std::uint32_t bytes, std::uint32_t packets, const std::string& detail) override {
    work_.hv.trace(partition::trace_ring(work_.context, channel_.child_relid(), ring, op, view,
                                         bytes, packets, detail));
  }

 private:
  VspChannel& channel_;
  Vsps& vsps_;
  const partition::Work& work_;
};

template <typename Action>
std::string HostAction::raw(const Action& action,
                            std::string (*carry_out)(const Action&, partition::RawRingPort&)) {
  std::string error;
  VspChannel* channel = open_channel(action.child_relid(), &error);
  if (channel == nullptr) {
    return error;
  }
  HostRawPort port(*channel, vsps_, work_);
  return carry_out(action, port);
}

// The ring's bytes as they are between two steps: no partition runs now,
// so the copy is one consistent state. Written beside the target and
// renamed over it, so a reader never sees half an image.
// The header the guest parses (msgtype, padding), then the scenario's
// bytes; the runner checked that the whole fits one SynIC message.
std::string HostAction::host_message(const proto::HostMessageAction& action) {
  const std::string& payload = action.payload().raw();
  std::vector<std::byte> bytes(8 + payload.size(), std::byte{0});
  for (int i = 0; i < 4; ++i) {
    bytes[static_cast<std::size_t>(i)] =
        static_cast<std::byte>((action.msgtype() >> (8 * i)) & 0xFF);
  }
  std::memcpy(bytes.data() + 8, payload.data(), payload.size());
  control_.post_raw(std::move(bytes));
  work_.note("host_message: CHANNELMSG type " + std::to_string(action.msgtype()) + ", " +
             std::to_string(payload.size()) + " payload bytes queued");
  return "";
}

std::string HostAction::duplicate_offer(const proto::DuplicateOfferAction& action) {
  if (!control_.offer_again(action.child_relid())) {
    return "no channel with child_relid " + std::to_string(action.child_relid());
  }
  work_.note("duplicate_offer: OFFERCHANNEL for relid " + std::to_string(action.child_relid()) +
             " queued again");
  return "";
}

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
  work_.hv.trace(partition::trace_ring(
      work_.context, action.child_relid(), partition::ring_trace_name(action.ring()), "snapshot",
      ring::RingView(memory), static_cast<std::uint32_t>(bytes.size()), 0, action.path()));
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
