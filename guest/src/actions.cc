#include "vmbus/guest/actions.h"

#include "vmbus/partition/kmcl_actions.h"
#include "vmbus/partition/partition_support.h"
#include "vmbus/partition/raw_ring.h"

namespace vmbus::guest {
namespace {

std::string channel_text(std::uint32_t relid) {
  return "channel " + std::to_string(relid);
}

// The guest's end of an open channel, for the raw ring actions of a hostile
// guest: it sends on the guest->host ring, and reads the host->guest ring
// itself. Its last packet is its device's or a raw_packet's, whichever came
// later, as on the host.
class GuestRawPort final : public partition::RawRingPort {
 public:
  GuestRawPort(partition::KmclEndpoint& endpoint, partition::ChannelRings& rings, RawPackets& raw,
               const partition::Work& work)
      : endpoint_(endpoint), rings_(rings), raw_(raw), work_(work) {}

  ring::RingMemory& ring(proto::RingId id) override {
    return id == proto::HOST_TO_GUEST_RING ? *rings_.inbound : *rings_.outbound;
  }
  proto::RingId sending_ring() const override { return proto::GUEST_TO_HOST_RING; }
  void resync_sender() override { endpoint_.device.resync_outgoing(endpoint_.channel()); }
  void signal_peer() override { endpoint_.signal_peer(); }
  void drain_own_ring() override { endpoint_.device.on_interrupt(endpoint_.channel()); }
  std::optional<kmcl::WrittenPacket> last_written() override {
    const auto raw = raw_.find(endpoint_.child_relid());
    if (raw != raw_.end() && raw->second.second == packets_written()) {
      return raw->second.first;
    }
    return endpoint_.device.last_written(endpoint_.channel());
  }
  void wrote_raw_packet(const kmcl::WrittenPacket& packet) override {
    raw_[endpoint_.child_relid()] = {packet, packets_written()};
  }
  void trace(const std::string& ring, const std::string& op, const ring::RingView& view,
             std::uint32_t bytes, std::uint32_t packets, const std::string& detail) override {
    work_.hv.trace(partition::trace_ring(work_.context, endpoint_.child_relid(), ring, op, view,
                                         bytes, packets, detail));
  }

 private:
  std::uint64_t packets_written() const {
    return endpoint_.device.channel_stats(endpoint_.channel()).packets_written;
  }

  partition::KmclEndpoint& endpoint_;
  partition::ChannelRings& rings_;
  RawPackets& raw_;
  const partition::Work& work_;
};

class GuestAction {
 public:
  GuestAction(KmclChannels& drivers, ControlPlane& control, GuestRings& rings, RawPackets& raw,
              const partition::Work& work)
      : drivers_(drivers), control_(control), rings_(rings), raw_(raw), work_(work) {}

  std::string perform(const proto::PartitionAction& action) {
    switch (action.action_case()) {
      case proto::PartitionAction::kSend:
        return send(action.send());
      case proto::PartitionAction::kChannelOp:
        return channel_op(action.channel_op());
      case proto::PartitionAction::kSetPolicy:
        return set_policy(action.set_policy());
      case proto::PartitionAction::kUnload:
        return unload();
      case proto::PartitionAction::kHibernate:
        return hibernate();
      case proto::PartitionAction::kResume:
        return control_.begin_resume();
      case proto::PartitionAction::kHostMessage:
        return "host_message is the host's: it posts a control message to the guest";
      case proto::PartitionAction::kOfferSubchannels:
        return "offer_subchannels is the host's: its VSP offers them";
      case proto::PartitionAction::kModifyChannel:
        return control_.retarget(action.modify_channel().child_relid(),
                                 action.modify_channel().target_vp(), work_);
      case proto::PartitionAction::kRingWrite:
        return raw(action.ring_write(), partition::perform_ring_write);
      case proto::PartitionAction::kRawPacket:
        return raw(action.raw_packet(), partition::perform_raw_packet);
      case proto::PartitionAction::kTamper:
        return raw(action.tamper(), partition::perform_tamper);
      case proto::PartitionAction::kSetIndex:
        return raw(action.set_index(), partition::perform_set_index);
      default:
        return "an empty or unknown scenario action";
    }
  }

 private:
  // The KMCL driver on channel `relid`, or nullptr with `*error` set.
  partition::KmclEndpoint* driver(std::uint32_t relid, std::string* error) {
    partition::KmclEndpoint* endpoint = drivers_.find(relid);
    if (endpoint == nullptr) {
      *error = "no KMCL driver on " + channel_text(relid);
    }
    return endpoint;
  }

  // A hostile guest's raw ring action on an open channel.
  template <typename Action>
  std::string raw(const Action& action,
                  std::string (*carry_out)(const Action&, partition::RawRingPort&)) {
    std::string error;
    partition::KmclEndpoint* endpoint = driver(action.child_relid(), &error);
    if (endpoint == nullptr) {
      return error;
    }
    const auto rings = rings_.find(action.child_relid());
    if (rings == rings_.end() ||
        endpoint->device.channel_state(endpoint->channel()) != kmcl::ChannelState::kOpen) {
      return channel_text(action.child_relid()) + " is not open";
    }
    GuestRawPort port(*endpoint, rings->second, raw_, work_);
    return carry_out(action, port);
  }

  std::string send(const proto::SendAction& send) {
    std::string error;
    partition::KmclEndpoint* endpoint = driver(send.child_relid(), &error);
    return endpoint == nullptr ? error : partition::kmcl_send(drivers_, *endpoint, send);
  }

  std::string channel_op(const proto::ChannelOpAction& op) {
    if (op.op() == proto::ChannelOpAction::RESCIND) {
      return "RESCIND is the host's operation: only the host can rescind an offer";
    }
    std::string error;
    partition::KmclEndpoint* endpoint = driver(op.child_relid(), &error);
    if (endpoint == nullptr) {
      return error;
    }
    const ControlPlane::Channel* wire = control_.channel(op.child_relid());
    const bool rescinded = wire != nullptr && wire->state == ControlPlane::ChannelState::kRescinded;
    return partition::kmcl_channel_op(
        *endpoint, op,
        rescinded ? channel_text(op.child_relid()) +
                        " was rescinded by the host; it cannot be opened again"
                  : "");
  }

  std::string set_policy(const proto::SetPolicyAction& policy) {
    std::string error;
    partition::KmclEndpoint* endpoint = driver(policy.child_relid(), &error);
    return endpoint == nullptr ? error : partition::kmcl_set_policy(*endpoint, policy);
  }

  // The VMBus driver posts UNLOAD next; its channels stay as they are.
  std::string unload() {
    if (!control_.in_workload()) {
      return "the guest cannot unload now: it is not connected with its channels settled";
    }
    control_.begin_unload();
    return "";
  }

  // The bus suspends; first each driver's suspend callback closes its open
  // channel (a subchannel is closed with its primary).
  std::string hibernate() {
    for (const auto& [relid, channel] : control_.channels()) {
      if (channel.state == ControlPlane::ChannelState::kOpen && drivers_.find(relid) == nullptr) {
        return channel_text(relid) + " has no KMCL driver to close it for hibernation";
      }
    }
    if (std::string error = control_.begin_hibernate(); !error.empty()) {
      return error;
    }
    proto::ChannelOpAction disable;
    disable.set_op(proto::ChannelOpAction::DISABLE);
    for (const auto& [relid, channel] : control_.channels()) {
      if (channel.open_at_suspend && channel.primary_relid == 0) {
        if (std::string error = partition::kmcl_channel_op(*drivers_.find(relid), disable, "");
            !error.empty()) {
          work_.note(channel_text(relid) + " not closed for hibernation: " + error);
        }
      }
    }
    return "";
  }

  KmclChannels& drivers_;
  ControlPlane& control_;
  GuestRings& rings_;
  RawPackets& raw_;
  const partition::Work& work_;
};

}  // namespace

std::string perform_action(const proto::PartitionAction& action, KmclChannels& drivers,
                           ControlPlane& control, GuestRings& rings, RawPackets& raw,
                           const partition::Work& work) {
  return GuestAction(drivers, control, rings, raw, work).perform(action);
}

}  // namespace vmbus::guest
