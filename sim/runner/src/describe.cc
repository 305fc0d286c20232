#include <cctype>

#include "internal.h"

namespace vmbus::runner {
namespace {

std::string payload_words(const proto::Payload& payload) {
  switch (payload.data_case()) {
    case proto::Payload::kText:
      return "\"" + payload.text() + "\"";
    case proto::Payload::kHex:
      return std::to_string(payload.raw().size()) + " bytes";
    case proto::Payload::kPattern:
    case proto::Payload::kRaw:
      return std::to_string(payload.raw().size()) + " bytes";
    default:
      return "16 bytes";
  }
}

std::string enum_words(const std::string& name) {
  std::string out = name;
  for (char& c : out) {
    c = c == '_' ? ' ' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

}  // namespace

std::string quoted(const std::string& channel) {
  return "'" + channel + "'";
}

std::string describe_match(const proto::TraceMatch& match) {
  std::string text = "\"" + match.text() + "\"";
  if (match.side() != proto::ANY_SIDE) {
    text += " from " + enum_words(proto::Side_Name(match.side()));
  }
  if (!match.channel().empty()) {
    text += " on " + quoted(match.channel());
  }
  return text;
}

std::string describe_condition(const proto::Condition& condition) {
  return "the trace shows " + describe_match(condition.event()) +
         (condition.count() > 1 ? " " + std::to_string(condition.count()) + " times" : "");
}

// A timeline step in words, for the trace and for failure messages.
std::string describe_step(const proto::TimelineEntry& step) {
  switch (step.action_case()) {
    case proto::TimelineEntry::kHostSend:
    case proto::TimelineEntry::kGuestSend: {
      const bool host = step.action_case() == proto::TimelineEntry::kHostSend;
      const proto::SendAction& send = host ? step.host_send() : step.guest_send();
      std::string text = std::string(host ? "host_send" : "guest_send") + " " +
                         (send.count() > 1 ? std::to_string(send.count()) + " x " : "") +
                         payload_words(send.payload()) + " on " + quoted(send.channel());
      if (send.request_completion()) {
        text += ", completion requested";
      }
      if (send.has_trans_id()) {
        text += ", trans_id " + std::to_string(send.trans_id());
      }
      if (send.external_pages() != 0) {
        text += ", " + std::to_string(send.external_pages()) + " external page(s)";
      }
      if (send.synchronous()) {
        text += ", synchronous (timeout " + std::to_string(send.timeout_us()) + " us)";
      }
      return text;
    }
    case proto::TimelineEntry::kRingWrite:
      return "ring_write " + payload_words(step.ring_write().bytes()) + " at offset " +
             std::to_string(step.ring_write().offset()) + " of " +
             enum_words(proto::RingId_Name(step.ring_write().ring())) + " of " +
             quoted(step.ring_write().channel());
    case proto::TimelineEntry::kRawPacket: {
      const proto::RawPacketAction& raw = step.raw_packet();
      std::string text = "raw_packet on " + quoted(raw.channel());
      if (raw.has_type()) {
        text += " type " + std::to_string(raw.type());
      }
      if (raw.has_offset8()) {
        text += " offset8 " + std::to_string(raw.offset8());
      }
      if (raw.has_len8()) {
        text += " len8 " + std::to_string(raw.len8());
      }
      return text;
    }
    case proto::TimelineEntry::kTamper:
      return "tamper: overwrite the last packet sent on " + quoted(step.tamper().channel()) +
             " with " + payload_words(step.tamper().bytes());
    case proto::TimelineEntry::kSetIndex:
      return "set_index " +
             enum_words(proto::SetIndexAction::Index_Name(step.set_index().index())) + " of " +
             enum_words(proto::RingId_Name(step.set_index().ring())) + " of " +
             quoted(step.set_index().channel()) + " to " + std::to_string(step.set_index().value());
    case proto::TimelineEntry::kInterruptFault: {
      const proto::InterruptFault& fault = step.interrupt_fault();
      return "interrupt_fault: " + enum_words(proto::InterruptFault::Kind_Name(fault.kind())) +
             " the next " + std::to_string(std::max<std::uint32_t>(1, fault.count())) + " " +
             enum_words(proto::Direction_Name(fault.direction())) + " signal(s)" +
             (fault.channel().empty() ? "" : " of " + quoted(fault.channel())) +
             (fault.delay_us() != 0 ? " by " + std::to_string(fault.delay_us()) + " us" : "");
    }
    case proto::TimelineEntry::kSpuriousInterrupt:
      return "spurious_interrupt " +
             enum_words(proto::Direction_Name(step.spurious_interrupt().direction())) + " on " +
             quoted(step.spurious_interrupt().channel());
    case proto::TimelineEntry::kMessageFault: {
      const proto::MessageFault& fault = step.message_fault();
      return "message_fault: " + enum_words(proto::MessageFault::Kind_Name(fault.kind())) +
             " the next " + std::to_string(std::max<std::uint32_t>(1, fault.count())) + " " +
             enum_words(proto::Direction_Name(fault.direction())) + " " +
             (fault.message().empty() ? "message(s)" : fault.message());
    }
    case proto::TimelineEntry::kChannelOp:
      return "channel_op " + proto::ChannelOpAction::Op_Name(step.channel_op().op()) + " on " +
             quoted(step.channel_op().channel()) +
             (step.channel_op().value() != 0 ? " value " + std::to_string(step.channel_op().value())
                                             : "");
    case proto::TimelineEntry::kSetPolicy:
      return "set_policy on " + quoted(step.set_policy().channel()) + " (" +
             std::to_string(step.set_policy().rule_size()) + " rule(s), default " +
             enum_words(proto::DriverAction::Kind_Name(step.set_policy().default_action().kind())) +
             ")";
    case proto::TimelineEntry::kCrash:
      return "crash the " + enum_words(proto::Side_Name(step.crash().side()));
    case proto::TimelineEntry::kAdvanceTime:
      return "advance time by " + std::to_string(step.advance_time().us()) + " us";
    case proto::TimelineEntry::kWaitUntil:
      return "wait until " + describe_condition(step.wait_until());
    case proto::TimelineEntry::kNote:
      return "note";
    case proto::TimelineEntry::kHold:
      return "hold " + enum_words(proto::Side_Name(step.hold().side())) + " context " +
             step.hold().context();
    case proto::TimelineEntry::kRelease:
      return "release " + enum_words(proto::Side_Name(step.release().side())) + " context " +
             step.release().context();
    default:
      return "nothing";
  }
}

}  // namespace vmbus::runner
