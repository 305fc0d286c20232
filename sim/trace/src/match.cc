#include "vmbus/trace/match.h"

#include <algorithm>
#include <charconv>

namespace vmbus::trace {
namespace {

constexpr std::string_view kRingNames[] = {"host_to_guest", "guest_to_host"};
constexpr std::string_view kRingOps[] = {
    "begin_read",       "publish_read", "end_read",        "publish_write",
    "signal",           "no_signal",    "pending_send_sz", "corrupt",
    "interrupt_masked", "resume",       "raw_write",       "raw_packet",
    "tamper",           "set_index",    "snapshot",        "image_loaded"};
constexpr std::string_view kChannelStates[] = {"offered", "opening",   "open",     "closing",
                                               "closed",  "failed",    "released", "rescinded",
                                               "missing", "retargeted"};
constexpr std::string_view kKmclKinds[] = {
    "auto_pause",
    "callback",
    "channel_allocated",
    "channel_cleaned_up",
    "channel_enabled",
    "channel_open",
    "close_begin",
    "close_end",
    "close_ignored",
    "close_requested",
    "complete",
    "completions_dropped_at_close",
    "defer",
    "defer_at_passive",
    "dequeue",
    "discarded_at_close",
    "drain_pass_begin",
    "drain_pass_end",
    "driver",
    "dropped_at_close",
    "external_data_pending",
    "external_data_ready",
    "fail",
    "incoming_processing_at_passive",
    "interrupt_ignored",
    "interrupt_masked",
    "not_supported",
    "open_failed",
    "passive_pass_begin",
    "passive_pass_end",
    "pause",
    "protocol_error",
    "queue_enabled",
    "queue_stopped",
    "quirk",  // a quirk (vmbus/base/quirks.h) changed what the device did
    "quota_hit",
    "quota_restart",
    "send",
    "send_blocked",
    "send_synchronous",
    "send_synchronous_cancelled",
    "send_too_large",
    "signal_peer",
    "start",
    "transaction_quota",
    "unexpected_completion",
    "violation",
};
constexpr std::string_view kDriverCallbacks[] = {"ProcessPacket", "ProcessingComplete", "Opened",
                                                 "Started",       "PostStarted",        "Suspend",
                                                 "Closed",        "Completion",         "Later"};
constexpr std::string_view kFaultKinds[] = {
    "interrupt_dropped",  "interrupt_delayed", "interrupt_duplicated", "interrupt_spurious",
    "message_dropped",    "message_delayed",   "message_duplicated",   "message_reordered",
    "message_corrupted",  "message_released",  "hold_released",        "crash",
    "interrupt_on_old_vp"};

bool contains(std::string_view text, std::string_view part) {
  return text.find(part) != std::string_view::npos;
}

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// Whether `text` holds `needle` ending where a word ends: followed by the
// end or by `stop` ("relid 1" is not in "relid 12"; with stop ' ',
// "child_relid=1" is not in "child_relid=1x").
bool has_whole(std::string_view text, std::string_view needle, bool (*continues)(char)) {
  for (std::size_t pos = text.find(needle); pos != std::string_view::npos;
       pos = text.find(needle, pos + 1)) {
    const std::size_t end = pos + needle.size();
    if (end == text.size() || !continues(text[end])) {
      return true;
    }
  }
  return false;
}

// `field` ("name=value") is a whole field of a decoded message's line: the
// type name comes first, then every field after a space.
bool has_field(std::string_view decoded, const std::string& field) {
  return has_whole(decoded, " " + field, [](char c) { return c != ' '; });
}

// Whether `text` names relid `relid` after `prefix` ("relid 1", not "relid 12").
bool names_relid(std::string_view text, std::string_view prefix, std::uint32_t relid) {
  return has_whole(text, std::string(prefix) + std::to_string(relid), is_digit);
}

template <typename T>
bool same(const std::optional<T>& wanted, const T& value) {
  return !wanted || *wanted == value;
}

bool same(const std::string& wanted, const std::string& value) {
  return wanted.empty() || wanted == value;
}

bool within(const std::string& wanted, const std::string& value) {
  return wanted.empty() || contains(value, wanted);
}

bool fits(const proto::MessageEvent& e, const MessagePattern& p) {
  return same(p.msgtype, e.msgtype()) &&
         (p.stage == proto::MessageEvent::STAGE_UNSPECIFIED || p.stage == e.stage()) &&
         same(p.from, e.from()) && same(p.to, e.to()) && within(p.reason, e.reason()) &&
         std::all_of(p.fields.begin(), p.fields.end(),
                     [&e](const std::string& field) { return has_field(e.decoded(), field); });
}

bool fits(const proto::SignalRecord& e, const SignalPattern& p) {
  return (p.stage == proto::SignalRecord::STAGE_UNSPECIFIED || p.stage == e.stage()) &&
         same(p.from, e.from()) && same(p.to, e.to()) && (!p.vp || (e.has_vp() && e.vp() == *p.vp));
}

bool fits(const proto::RingEvent& e, const RingPattern& p) {
  return same(p.ring, e.ring()) && same(p.op, e.op()) && same(p.write_index, e.write_index()) &&
         same(p.read_index, e.read_index()) && within(p.detail, e.detail());
}

bool fits(const proto::ChannelEvent& e, const ChannelPattern& p) {
  return same(p.state, e.state()) && within(p.detail, e.detail());
}

bool fits(const proto::KmclRecord& e, const KmclPattern& p) {
  if (!same(p.kind, e.kind()) || !same(p.code, e.code()) || !same(p.irql, e.irql()) ||
      !within(p.detail, e.detail())) {
    return false;
  }
  if (p.callback.empty() && !p.packet && p.action.empty()) {
    return true;
  }
  if (e.kind() != "driver") {
    return false;  // only a driver record has a callback, a packet and an action
  }
  const DriverCall call = parse_driver_call(e.detail());
  return same(p.callback, call.callback) && (!p.packet || p.packet == call.packet) &&
         same(p.action, call.action);
}

bool fits(const proto::FaultEvent& e, const FaultPattern& p) {
  return same(p.kind, e.kind()) && within(p.detail, e.detail());
}

bool fits(const proto::CompletionEvent& e, const CompletionPattern& p) {
  return same(p.trans_id, e.trans_id()) && same(p.status, e.status()) && same(p.bytes, e.bytes());
}

bool fits(const proto::ProcessEvent& e, const ProcessPattern& p) {
  return (p.kind == proto::ProcessEvent::KIND_UNSPECIFIED || p.kind == e.kind()) &&
         same(p.partition, e.partition()) && within(p.detail, e.detail());
}

bool fits(const proto::NoteEvent& e, const NotePattern& p) {
  return within(p.text, e.text());
}

// The record's event, if it is the kind `pattern` asks for.
bool event_fits(const proto::TraceRecord& record, const EventPattern& pattern) {
  return std::visit(
      [&record](const auto& p) {
        using P = std::decay_t<decltype(p)>;
        if constexpr (std::is_same_v<P, MessagePattern>) {
          return record.has_message() && fits(record.message(), p);
        } else if constexpr (std::is_same_v<P, SignalPattern>) {
          return record.has_signal() && fits(record.signal(), p);
        } else if constexpr (std::is_same_v<P, RingPattern>) {
          return record.has_ring() && fits(record.ring(), p);
        } else if constexpr (std::is_same_v<P, ChannelPattern>) {
          return record.has_channel() && fits(record.channel(), p);
        } else if constexpr (std::is_same_v<P, KmclPattern>) {
          return record.has_kmcl() && fits(record.kmcl(), p);
        } else if constexpr (std::is_same_v<P, FaultPattern>) {
          return record.has_fault() && fits(record.fault(), p);
        } else if constexpr (std::is_same_v<P, CompletionPattern>) {
          return record.has_completion() && fits(record.completion(), p);
        } else if constexpr (std::is_same_v<P, ProcessPattern>) {
          return record.has_process() && fits(record.process(), p);
        } else {
          static_assert(std::is_same_v<P, NotePattern>, "every EventPattern has its record");
          return record.has_note() && fits(record.note(), p);
        }
      },
      pattern);
}

// A channel context names its relid second: "dpc/1", "vsc/1", "chan/1",
// "kmcl/1/passive".
bool context_names(const std::string& context, std::uint32_t child_relid) {
  const std::size_t slash = context.find('/');
  if (slash == std::string::npos) {
    return false;
  }
  const std::size_t end = context.find('/', slash + 1);
  return context.substr(slash + 1,
                        end == std::string::npos ? std::string::npos : end - slash - 1) ==
         std::to_string(child_relid);
}

}  // namespace

bool matches(const proto::TraceRecord& record, const RecordPattern& pattern) {
  if (record.has_action()) {
    return false;
  }
  if (pattern.partition && record.partition() != *pattern.partition) {
    return false;
  }
  if (pattern.child_relid && !concerns_channel(record, *pattern.child_relid)) {
    return false;
  }
  return event_fits(record, pattern.event);
}

bool concerns_channel(const proto::TraceRecord& record, std::uint32_t child_relid) {
  switch (record.event_case()) {
    case proto::TraceRecord::kRing:
      return record.ring().child_relid() == child_relid;
    case proto::TraceRecord::kChannel:
      return record.channel().child_relid() == child_relid;
    case proto::TraceRecord::kSignal:
      // A guest's signal names only its connection id: it may be any channel's.
      return record.signal().child_relid() == child_relid ||
             (record.signal().child_relid() == 0 && record.signal().connection_id() != 0);
    case proto::TraceRecord::kMessage:
      return names_relid(record.message().decoded(), "child_relid=", child_relid);
    case proto::TraceRecord::kCompletion:
      return record.completion().child_relid() == child_relid;
    case proto::TraceRecord::kFinalState:
      return record.final_state().child_relid() == child_relid;
    case proto::TraceRecord::kFault:
      return names_relid(record.fault().detail(), "relid ", child_relid) ||
             names_relid(record.fault().detail(), "child_relid=", child_relid);
    default:
      return context_names(record.context(), child_relid);
  }
}

DriverCall parse_driver_call(std::string_view detail) {
  DriverCall call;
  const std::size_t first_end = detail.find(' ');
  call.callback = std::string(detail.substr(0, first_end));
  if (first_end == std::string_view::npos) {
    return call;
  }
  std::string_view rest = detail.substr(first_end + 1);
  // "#3 " or "send#3 ": the packet, then the IRQL.
  const std::size_t hash = rest.find('#');
  const std::size_t word_end = rest.find(' ');
  if (hash != std::string_view::npos && hash < word_end &&
      (hash == 0 || rest.substr(0, hash) == "send")) {
    std::int64_t packet = 0;
    const char* begin = rest.data() + hash + 1;
    const char* end = rest.data() + (word_end == std::string_view::npos ? rest.size() : word_end);
    const auto [ptr, error] = std::from_chars(begin, end, packet);
    if (error == std::errc() && ptr == end) {
      call.packet = packet;
    }
    rest = word_end == std::string_view::npos ? std::string_view() : rest.substr(word_end + 1);
  }
  // The IRQL word, then the action (which may have spaces).
  const std::size_t irql_end = rest.find(' ');
  if (irql_end != std::string_view::npos) {
    call.action = std::string(rest.substr(irql_end + 1));
  }
  return call;
}

std::span<const std::string_view> ring_names() {
  return kRingNames;
}
std::span<const std::string_view> ring_ops() {
  return kRingOps;
}
std::span<const std::string_view> channel_states() {
  return kChannelStates;
}
std::span<const std::string_view> kmcl_kinds() {
  return kKmclKinds;
}
std::span<const std::string_view> driver_callbacks() {
  return kDriverCallbacks;
}
std::span<const std::string_view> fault_kinds() {
  return kFaultKinds;
}

}  // namespace vmbus::trace
