#include "vmbus/hypervisor/effect.h"

#include <iterator>
#include <utility>

namespace vmbus::hypervisor {
namespace {

const char* direction_name(Direction direction) {
  return direction == Direction::kHostToGuest ? "host->guest" : "guest->host";
}

const char* event_kind_name(Event::Kind kind) {
  switch (kind) {
    case Event::Kind::kDeliverMessage:
      return "deliver_message";
    case Event::Kind::kDeliverEvents:
      return "deliver_events";
    case Event::Kind::kExtraInterrupt:
      return "extra_interrupt";
    case Event::Kind::kDelayedMessage:
      return "delayed_message";
  }
  return "?";
}

void print_ids(std::ostream& out, const std::vector<std::uint32_t>& ids) {
  out << "[";
  for (std::size_t i = 0; i < ids.size(); ++i) {
    out << (i == 0 ? "" : " ") << ids[i];
  }
  out << "]";
}

}  // namespace

void append(Effects& effects, Effects more) {
  effects.insert(effects.end(), std::make_move_iterator(more.begin()),
                 std::make_move_iterator(more.end()));
}

std::ostream& operator<<(std::ostream& out, const SynicMessage& message) {
  return out << "{connection_id " << message.connection_id << ", " << message.payload.size()
             << " bytes}";
}

std::ostream& operator<<(std::ostream& out, const Event& event) {
  out << event_kind_name(event.kind) << " to " << side_name(event.target);
  if (event.kind == Event::Kind::kExtraInterrupt) {
    out << " relid " << event.child_relid << " connection_id " << event.connection_id;
  }
  if (event.vp != 0) {
    out << " vp " << event.vp;
  }
  if (event.kind == Event::Kind::kDelayedMessage) {
    out << " " << event.message;
  }
  return out;
}

std::ostream& operator<<(std::ostream& out, const TraceMessage& effect) {
  return out << "TraceMessage{" << proto::MessageEvent::Stage_Name(effect.stage) << " "
             << direction_name(effect.direction) << " " << effect.message << " reason '"
             << effect.reason << "' msg_pending " << effect.msg_pending << "}";
}

std::ostream& operator<<(std::ostream& out, const TraceSignal& effect) {
  out << "TraceSignal{" << proto::SignalRecord::Stage_Name(effect.stage) << " "
      << direction_name(effect.direction) << " connection_id " << effect.connection_id << " relid "
      << effect.child_relid;
  if (effect.vp) {
    out << " vp " << *effect.vp;
  }
  return out << "}";
}

std::ostream& operator<<(std::ostream& out, const TraceFault& effect) {
  return out << "TraceFault{" << effect.kind << ": " << effect.detail << "}";
}

std::ostream& operator<<(std::ostream& out, const ScheduleDelivery& effect) {
  return out << "ScheduleDelivery{" << effect.event << " after " << effect.latency_ns
             << " ns + jitter}";
}

std::ostream& operator<<(std::ostream& out, const ScheduleExactly& effect) {
  return out << "ScheduleExactly{" << effect.event << " after " << effect.latency_ns << " ns}";
}

std::ostream& operator<<(std::ostream& out, const DeliverSlot& effect) {
  return out << "DeliverSlot{to " << side_name(effect.target) << " " << effect.message
             << " msg_pending " << effect.msg_pending << "}";
}

std::ostream& operator<<(std::ostream& out, const DeliverEventFlags& effect) {
  out << "DeliverEventFlags{to " << side_name(effect.target) << " relids ";
  print_ids(out, effect.child_relids);
  out << " connection_ids ";
  print_ids(out, effect.connection_ids);
  if (effect.vp != 0) {
    out << " vp " << effect.vp;
  }
  return out << "}";
}

std::ostream& operator<<(std::ostream& out, const ProtocolError& effect) {
  return out << "ProtocolError{" << side_name(effect.partition) << " " << effect.what << "}";
}

}  // namespace vmbus::hypervisor
