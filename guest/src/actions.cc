#include "vmbus/guest/actions.h"

#include "vmbus/partition/kmcl_actions.h"

namespace vmbus::guest {
namespace {

std::string channel_text(std::uint32_t relid) {
  return "channel " + std::to_string(relid);
}

class GuestAction {
 public:
  GuestAction(KmclChannels& drivers, ControlPlane& control)
      : drivers_(drivers), control_(control) {}

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
      case proto::PartitionAction::kRingWrite:
      case proto::PartitionAction::kRawPacket:
      case proto::PartitionAction::kTamper:
      case proto::PartitionAction::kSetIndex:
        return "ring writes, raw packets, tampering and index stores are the host's actions";
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

  KmclChannels& drivers_;
  ControlPlane& control_;
};

}  // namespace

std::string perform_action(const proto::PartitionAction& action, KmclChannels& drivers,
                           ControlPlane& control) {
  return GuestAction(drivers, control).perform(action);
}

}  // namespace vmbus::guest
