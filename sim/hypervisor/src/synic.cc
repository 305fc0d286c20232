#include "vmbus/hypervisor/synic.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "vmbus/base/check.h"
#include "vmbus/wire/synic.h"

namespace vmbus::hypervisor {

void Synic::set_message_ports(Side side, std::vector<std::uint32_t> connection_ids) {
  at(side).message_ports = std::move(connection_ids);
}

std::size_t Synic::queued_messages(Side side) const {
  return at(side).message_queue.size();
}

std::optional<std::pair<std::uint32_t, std::string>> Synic::refusal(
    Side sender, std::uint32_t message_type, const SynicMessage& message) const {
  if (message_type != wire::kHvMessageTypeVmbus) {
    return std::pair{std::uint32_t{wire::kHvStatusInvalidParameter},
                     "message type " + std::to_string(message_type) + " is not 1 (VMBus)"};
  }
  if (message.payload.size() > wire::kHvMessagePayloadMaxBytes) {
    return std::pair{std::uint32_t{wire::kHvStatusInvalidParameter},
                     "payload of " + std::to_string(message.payload.size()) + " bytes exceeds 240"};
  }
  const Partition& receiver = at(other(sender));
  // The host posts to the guest's one message connection; the guest may only
  // post to a port the host listens on.
  if (sender == Side::kGuest &&
      std::find(receiver.message_ports.begin(), receiver.message_ports.end(),
                message.connection_id) == receiver.message_ports.end()) {
    return std::pair{std::uint32_t{wire::kHvStatusInvalidConnectionId},
                     "no port for connection id " + std::to_string(message.connection_id)};
  }
  if (receiver.message_queue.size() >= kMessageQueueDepth) {
    return std::pair{std::uint32_t{wire::kHvStatusInsufficientBuffers},
                     std::string("message queue full")};
  }
  return std::nullopt;
}

PostResult Synic::post(Side sender, std::uint32_t message_type, SynicMessage message,
                       Faults& faults) {
  const Direction direction = direction_from(sender);
  if (auto refused = refusal(sender, message_type, message)) {
    return PostResult{refused->first,
                      {TraceMessage{proto::MessageEvent::STAGE_REJECTED, direction,
                                    std::move(message), std::move(refused->second), false}}};
  }
  PostResult result{wire::kHvStatusSuccess,
                    {TraceMessage{proto::MessageEvent::STAGE_POSTED, direction, message}}};
  const Partition& receiver = at(other(sender));
  const bool queued = receiver.slot_busy || receiver.delivery_scheduled;
  SynicMessage posted = message;  // what the QUEUED record shows, before any corruption
  MessageFate fate = faults.on_message(direction, std::move(message));
  const bool passes = !fate.deliver.empty();
  append(result.effects, accept(other(sender), std::move(fate)));
  if (passes && queued) {
    result.effects.emplace_back(
        TraceMessage{proto::MessageEvent::STAGE_QUEUED, direction, std::move(posted)});
  }
  return result;
}

Effects Synic::accept(Side receiver, MessageFate fate) {
  Effects effects = std::move(fate.effects);
  for (SynicMessage& message : fate.deliver) {
    append(effects, enqueue(receiver, std::move(message)));
  }
  return effects;
}

Effects Synic::enqueue(Side receiver, SynicMessage message) {
  Partition& to = at(receiver);
  to.message_queue.push_back(std::move(message));
  if (to.slot_busy || to.delivery_scheduled) {
    return {};  // the EOM, or the delivery on its way, takes care of it
  }
  to.delivery_scheduled = true;
  return {ScheduleDelivery{Event{Event::Kind::kDeliverMessage, receiver}, latency_.message_ns}};
}

Effects Synic::signal(Side sender, std::uint32_t connection_id, std::uint32_t child_relid,
                      Faults& faults) {
  const Side receiver = other(sender);
  const Direction direction = direction_from(sender);
  const bool to_guest = receiver == Side::kGuest;
  const std::uint32_t id = to_guest ? 0 : connection_id;
  const std::uint32_t relid = to_guest ? child_relid : 0;
  if (to_guest && relid == 0) {
    return {TraceSignal{proto::SignalRecord::STAGE_REJECTED, direction, id, relid}};
  }
  Route no_route;
  Route& route = to_guest ? routes_[relid] : no_route;
  SignalFate fate = faults.on_signal(direction, id, relid, route.old_vp);
  const std::uint32_t vp = fate.to_old_vp ? *route.old_vp : route.vp;
  Effects effects = std::move(fate.effects);
  for (Effect& effect : effects) {  // a fault's own signal record names the VP too
    if (auto* traced = std::get_if<TraceSignal>(&effect); traced != nullptr && to_guest) {
      traced->vp = vp_label(receiver, vp);
    }
  }
  if (!fate.deliver) {
    return effects;
  }
  if (vp == route.vp) {
    route.old_vp.reset();  // an interrupt reached the new VP: the retarget took effect
  }
  append(effects, raise(receiver, vp, id, relid));
  return effects;
}

Effects Synic::raise(Side receiver, std::uint32_t vp, std::uint32_t connection_id,
                     std::uint32_t child_relid) {
  VpEvents& to = at(receiver).vps.at(vp);
  const bool coalesced = to.event_scheduled;
  if (receiver == Side::kGuest) {
    to.pending_relids.insert(child_relid);
  } else {
    to.pending_connection_ids.insert(connection_id);
  }
  Effects effects{TraceSignal{
      coalesced ? proto::SignalRecord::STAGE_COALESCED : proto::SignalRecord::STAGE_SIGNALLED,
      direction_from(other(receiver)), connection_id, child_relid, vp_label(receiver, vp)}};
  if (!coalesced) {
    to.event_scheduled = true;
    Event event{Event::Kind::kDeliverEvents, receiver};
    event.vp = vp;
    effects.emplace_back(ScheduleDelivery{std::move(event), latency_.signal_ns});
  }
  return effects;
}

void Synic::set_guest_vp_count(std::uint32_t vp_count) {
  VMBUS_CHECK(vp_count >= 1 && vp_count <= kMaxVps,
              "a guest with " + std::to_string(vp_count) + " VPs");
  at(Side::kGuest).vps.resize(vp_count);
}

Effects Synic::set_event_target(std::uint32_t child_relid, std::uint32_t vp) {
  if (vp >= guest_vp_count()) {
    return {ProtocolError{Side::kHost, "routed relid " + std::to_string(child_relid) +
                                           "'s interrupts to vp " + std::to_string(vp) +
                                           ", which the guest does not have"}};
  }
  Route& route = routes_[child_relid];
  if (route.vp != vp) {
    route.old_vp = route.vp;
    route.vp = vp;
  }
  return {};
}

std::uint32_t Synic::target_vp(std::uint32_t child_relid) const {
  const auto it = routes_.find(child_relid);
  return it == routes_.end() ? 0 : it->second.vp;
}

std::optional<std::uint32_t> Synic::vp_label(Side receiver, std::uint32_t vp) const {
  if (receiver != Side::kGuest || guest_vp_count() == 1) {
    return std::nullopt;
  }
  return vp;
}

Effects Synic::end_of_message(Side side, std::uint32_t sint) {
  Partition& partition = at(side);
  if (sint != wire::kVmbusMessageSint || !partition.slot_busy) {
    return {ProtocolError{
        side, "sent EOM for SINT " + std::to_string(sint) + " with no message in its slot"}};
  }
  partition.slot_busy = false;
  if (partition.message_queue.empty() || partition.delivery_scheduled) {
    return {};
  }
  partition.delivery_scheduled = true;
  return {ScheduleDelivery{Event{Event::Kind::kDeliverMessage, side}, latency_.message_ns}};
}

Effects Synic::on_event(const Event& event) {
  switch (event.kind) {
    case Event::Kind::kDeliverMessage:
      return deliver_message(event.target);
    case Event::Kind::kDeliverEvents:
      return deliver_events(event.target, event.vp);
    case Event::Kind::kExtraInterrupt:
      return extra_interrupt(event);
    case Event::Kind::kDelayedMessage:
      return enqueue(event.target, event.message);
  }
  return {};
}

Effects Synic::deliver_message(Side target) {
  Partition& to = at(target);
  to.delivery_scheduled = false;
  VMBUS_CHECK(!to.slot_busy && !to.message_queue.empty(),
              "message delivery to a busy slot or from an empty queue");
  SynicMessage message = std::move(to.message_queue.front());
  to.message_queue.pop_front();
  const bool msg_pending = !to.message_queue.empty();
  to.slot_busy = true;
  return {TraceMessage{proto::MessageEvent::STAGE_DELIVERED, direction_from(other(target)), message,
                       "", msg_pending},
          DeliverSlot{target, std::move(message), msg_pending}};
}

Effects Synic::deliver_events(Side target, std::uint32_t vp) {
  VpEvents& to = at(target).vps.at(vp);
  to.event_scheduled = false;
  const Direction direction = direction_from(other(target));
  Effects effects;
  DeliverEventFlags delivery{target};
  delivery.vp = vp;
  for (std::uint32_t relid : to.pending_relids) {
    effects.emplace_back(TraceSignal{proto::SignalRecord::STAGE_DELIVERED, direction, 0, relid,
                                     vp_label(target, vp)});
    delivery.child_relids.push_back(relid);
  }
  for (std::uint32_t id : to.pending_connection_ids) {
    effects.emplace_back(TraceSignal{proto::SignalRecord::STAGE_DELIVERED, direction, id, 0});
    delivery.connection_ids.push_back(id);
  }
  to.pending_relids.clear();
  to.pending_connection_ids.clear();
  effects.emplace_back(std::move(delivery));
  return effects;
}

// Merges with an interrupt already on its way to the channel's VP, as a
// real one would.
Effects Synic::extra_interrupt(const Event& event) {
  const std::uint32_t vp =
      event.target == Side::kGuest && event.child_relid != 0 ? target_vp(event.child_relid) : 0;
  VpEvents& to = at(event.target).vps.at(vp);
  if (event.child_relid != 0) {
    to.pending_relids.insert(event.child_relid);
  }
  if (event.connection_id != 0) {
    to.pending_connection_ids.insert(event.connection_id);
  }
  if (to.event_scheduled) {
    return {};
  }
  return deliver_events(event.target, vp);
}

std::string hv_message_bytes(const DeliverSlot& delivery) {
  const std::string& payload = delivery.message.payload;
  VMBUS_CHECK(payload.size() <= wire::kHvMessagePayloadMaxBytes,
              "a message longer than a slot passed the SynIC's checks");
  wire::HvMessage slot{};
  slot.message_type = wire::kHvMessageTypeVmbus;
  slot.payload_size = static_cast<std::uint8_t>(payload.size());
  slot.message_flags = delivery.msg_pending ? wire::kHvMessageFlagPending : 0;
  slot.sender = delivery.message.connection_id;
  std::memcpy(slot.payload, payload.data(), payload.size());
  return std::string(reinterpret_cast<const char*>(&slot), sizeof(slot));
}

}  // namespace vmbus::hypervisor
