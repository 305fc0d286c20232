// Trace matches (TraceMatch in scenario.proto): checked at load time with
// file:line:col problems, put in words for the trace and for failure
// messages, and compiled into the trace component's RecordPattern, which
// decides on record fields (vmbus/trace/match.h).
#include <algorithm>
#include <cctype>

#include "vmbus/kmcl/verifier.h"
#include "vmbus/trace/match.h"
#include "vmbus/wire/message_table.h"

#include "check.h"
#include "internal.h"

namespace vmbus::runner {
namespace {

using Known = std::span<const std::string_view>;

// "STAGE_DELIVERED" -> "delivered".
std::string lower_without_prefix(const std::string& name, std::string_view prefix) {
  std::string out = name.rfind(prefix, 0) == 0 ? name.substr(prefix.size()) : name;
  for (char& c : out) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

std::string list(Known known) {
  std::string text;
  for (std::string_view word : known) {
    text += (text.empty() ? "" : ", ") + std::string(word);
  }
  return text;
}

bool is_known(Known known, const std::string& value) {
  return std::find(known.begin(), known.end(), value) != known.end();
}

std::optional<proto::Partition> partition_of(proto::Side side) {
  switch (side) {
    case proto::HOST:
      return proto::PARTITION_HOST;
    case proto::GUEST:
      return proto::PARTITION_GUEST;
    case proto::HYPERVISOR:
      return proto::PARTITION_UNSPECIFIED;
    default:
      return std::nullopt;
  }
}

std::pair<proto::Partition, proto::Partition> ends_of(proto::Direction direction) {
  return direction == proto::HOST_TO_GUEST
             ? std::pair(proto::PARTITION_HOST, proto::PARTITION_GUEST)
             : std::pair(proto::PARTITION_GUEST, proto::PARTITION_HOST);
}

const char* direction_arrow(proto::Direction direction) {
  return direction == proto::HOST_TO_GUEST ? "host->guest" : "guest->host";
}

std::optional<std::uint32_t> irql_of(proto::KmclMatch::Irql irql) {
  switch (irql) {
    case proto::KmclMatch::PASSIVE:
      return 0;
    case proto::KmclMatch::DISPATCH:
      return 2;
    default:
      return std::nullopt;
  }
}

// "name=value": a field of a decoded message as the trace writes it.
bool is_field(const std::string& field) {
  const std::size_t equals = field.find('=');
  return equals != 0 && equals != std::string::npos && equals + 1 < field.size() &&
         std::all_of(field.begin(), field.begin() + static_cast<std::ptrdiff_t>(equals),
                     [](char c) {
                       return std::islower(static_cast<unsigned char>(c)) || c == '_' ||
                              std::isdigit(static_cast<unsigned char>(c));
                     }) &&
         field.find(' ') == std::string::npos;
}

const std::vector<std::string_view>& violation_codes() {
  static const std::vector<std::string_view> kCodes = [] {
    std::vector<std::string_view> codes;
    for (std::size_t c = 0; c < kmcl::kViolationCodeCount; ++c) {
      codes.emplace_back(kmcl::violation_code_name(static_cast<kmcl::ViolationCode>(c)));
    }
    return codes;
  }();
  return kCodes;
}

// Load-time checks of each record kind; `where` is the kind's own field.
class MatchChecks {
 public:
  explicit MatchChecks(Checks& checks) : checks_(checks) {}

  void known(const Where& where, const std::string& field, const std::string& value, Known known,
             const std::string& what) {
    if (!value.empty() && !is_known(known, value)) {
      checks_.problem(where, field, "unknown " + what + " '" + value + "' (" + list(known) + ")");
    }
  }

  void message(const Where& where, const proto::MessageMatch& m) {
    if (!m.type().empty() && !scenario_message_type(m.type())) {
      checks_.problem(where, "type",
                      "unknown message type '" + m.type() +
                          "' (a CHANNELMSG name such as OPENCHANNEL_RESULT, or a number 0..24)");
    }
    if (m.has_direction() && (m.stage() == proto::MessageEvent::STAGE_HANDLED ||
                              m.stage() == proto::MessageEvent::STAGE_IGNORED)) {
      checks_.problem(where, "direction",
                      "a handled or ignored message is the receiver's record and has no "
                      "direction; name the receiver with side");
    }
    for (int i = 0; i < m.field_size(); ++i) {
      if (!is_field(m.field(i))) {
        checks_.problem(where, "field", i,
                        "field '" + m.field(i) +
                            "' is not name=value as the trace writes it (e.g. \"child_relid=1\")");
      }
    }
  }

  void ring(const Where& where, const proto::RingMatch& m) {
    known(where, "ring", m.ring(), trace::ring_names(), "ring");
    known(where, "op", m.op(), trace::ring_ops(), "ring op");
  }

  void channel_state(const Where& where, const proto::ChannelStateMatch& m) {
    known(where, "state", m.state(), trace::channel_states(), "channel state");
  }

  void kmcl(const Where& where, const proto::KmclMatch& m) {
    known(where, "kind", m.kind(), trace::kmcl_kinds(), "KMCL record kind");
    if (!m.code().empty() && !is_known(violation_codes(), m.code())) {
      checks_.problem(
          where, "code",
          "unknown verifier code '" + m.code() + "' (docs/KMCL-SEMANTICS.md lists them)");
    }
    known(where, "callback", m.callback(), trace::driver_callbacks(), "driver callback");
    if (!m.code().empty() && !m.kind().empty() && m.kind() != "violation") {
      checks_.problem(where, "code",
                      "code belongs to kind \"violation\", not \"" + m.kind() + "\"");
    }
    const bool driver_part = !m.callback().empty() || m.has_packet() || !m.action().empty();
    if (driver_part && !m.kind().empty() && m.kind() != "driver") {
      checks_.problem(
          where, m.callback().empty() ? (m.has_packet() ? "packet" : "action") : "callback",
          "callback, packet and action belong to kind \"driver\", not \"" + m.kind() + "\"");
    }
  }

  void fault(const Where& where, const proto::FaultMatch& m) {
    known(where, "kind", m.kind(), trace::fault_kinds(), "fault kind");
  }

  void process(const Where& where, const proto::ProcessMatch& m) {
    if (m.partition() == proto::HYPERVISOR) {
      checks_.problem(where, "partition", "a process is the HOST's or the GUEST's");
    }
  }

 private:
  Checks& checks_;
};

trace::MessagePattern message_pattern(const proto::MessageMatch& m) {
  trace::MessagePattern p;
  if (!m.type().empty()) {
    p.msgtype = scenario_message_type(m.type()).value_or(0);
  }
  p.stage = m.stage();
  if (m.has_direction()) {
    std::tie(p.from, p.to) = ends_of(m.direction());
  }
  p.fields.assign(m.field().begin(), m.field().end());
  p.reason = m.reason();
  return p;
}

trace::SignalPattern signal_pattern(const proto::SignalMatch& m) {
  trace::SignalPattern p;
  p.stage = m.stage();
  if (m.has_direction()) {
    std::tie(p.from, p.to) = ends_of(m.direction());
  }
  if (m.has_vp()) {
    p.vp = m.vp();
  }
  return p;
}

trace::RingPattern ring_pattern(const proto::RingMatch& m) {
  trace::RingPattern p{m.ring(), m.op(), std::nullopt, std::nullopt, m.detail()};
  if (m.has_write_index()) {
    p.write_index = m.write_index();
  }
  if (m.has_read_index()) {
    p.read_index = m.read_index();
  }
  return p;
}

trace::KmclPattern kmcl_pattern(const proto::KmclMatch& m) {
  trace::KmclPattern p;
  p.kind = m.kind();
  p.code = m.code();
  p.callback = m.callback();
  if (m.has_packet()) {
    p.packet = m.packet();
  }
  p.action = m.action();
  p.irql = irql_of(m.irql());
  p.detail = m.detail();
  return p;
}

trace::CompletionPattern completion_pattern(const proto::CompletionMatch& m) {
  trace::CompletionPattern p;
  if (m.has_trans_id()) {
    p.trans_id = m.trans_id();
  }
  p.status = m.status();
  if (m.has_bytes()) {
    p.bytes = m.bytes();
  }
  return p;
}

trace::EventPattern event_pattern(const proto::TraceMatch& match) {
  switch (match.record_case()) {
    case proto::TraceMatch::kMessage:
      return message_pattern(match.message());
    case proto::TraceMatch::kSignal:
      return signal_pattern(match.signal());
    case proto::TraceMatch::kRing:
      return ring_pattern(match.ring());
    case proto::TraceMatch::kChannelState:
      return trace::ChannelPattern{match.channel_state().state(), match.channel_state().detail()};
    case proto::TraceMatch::kKmcl:
      return kmcl_pattern(match.kmcl());
    case proto::TraceMatch::kFault:
      return trace::FaultPattern{match.fault().kind(), match.fault().detail()};
    case proto::TraceMatch::kCompletion:
      return completion_pattern(match.completion());
    case proto::TraceMatch::kProcess:
      return trace::ProcessPattern{match.process().kind(),
                                   partition_of(match.process().partition()),
                                   match.process().detail()};
    default:  // checked at load time: a note or nothing
      return trace::NotePattern{match.note().text()};
  }
}

// Appends " word" when `word` is not empty.
void add(std::string& text, const std::string& word) {
  if (!word.empty()) {
    text += " " + word;
  }
}

std::string message_words(const proto::MessageMatch& m) {
  std::string text = "message";
  if (m.stage() != proto::MessageEvent::STAGE_UNSPECIFIED) {
    add(text, lower_without_prefix(proto::MessageEvent::Stage_Name(m.stage()), "STAGE_"));
  }
  if (m.has_direction()) {
    add(text, direction_arrow(m.direction()));
  }
  if (!m.type().empty()) {
    add(text, std::string(wire::message_type_name(scenario_message_type(m.type()).value_or(0))));
  }
  for (const std::string& field : m.field()) {
    add(text, field);
  }
  if (!m.reason().empty()) {
    add(text, "-- " + m.reason());
  }
  return text;
}

std::string signal_words(const proto::SignalMatch& m) {
  std::string text = "signal";
  if (m.stage() != proto::SignalRecord::STAGE_UNSPECIFIED) {
    add(text, lower_without_prefix(proto::SignalRecord::Stage_Name(m.stage()), "STAGE_"));
  }
  if (m.has_direction()) {
    add(text, direction_arrow(m.direction()));
  }
  if (m.has_vp()) {
    add(text, "vp " + std::to_string(m.vp()));
  }
  return text;
}

std::string ring_words(const proto::RingMatch& m) {
  std::string text = "ring";
  add(text, m.ring());
  add(text, m.op());
  if (m.has_write_index()) {
    add(text, "write_index=" + std::to_string(m.write_index()));
  }
  if (m.has_read_index()) {
    add(text, "read_index=" + std::to_string(m.read_index()));
  }
  if (!m.detail().empty()) {
    add(text, "(" + m.detail() + ")");
  }
  return text;
}

std::string kmcl_words(const proto::KmclMatch& m) {
  std::string text = "kmcl";
  add(text, m.kind());
  add(text, m.code());
  add(text, m.callback());
  if (m.has_packet()) {
    add(text, "#" + std::to_string(m.packet()));
  }
  if (m.irql() != proto::KmclMatch::ANY_IRQL) {
    add(text, proto::KmclMatch::Irql_Name(m.irql()));
  }
  add(text, m.action());
  if (!m.detail().empty()) {
    text += ": " + m.detail();
  }
  return text;
}

std::string completion_words(const proto::CompletionMatch& m) {
  std::string text = "completion";
  if (m.has_trans_id()) {
    add(text, "trans_id " + std::to_string(m.trans_id()));
  }
  add(text, m.status());
  if (m.has_bytes()) {
    add(text, std::to_string(m.bytes()) + " bytes");
  }
  return text;
}

std::string process_words(const proto::ProcessMatch& m) {
  std::string text = "process";
  if (m.partition() != proto::ANY_SIDE) {
    add(text, enum_words(proto::Side_Name(m.partition())));
  }
  if (m.kind() != proto::ProcessEvent::KIND_UNSPECIFIED) {
    add(text, lower_without_prefix(proto::ProcessEvent::Kind_Name(m.kind()), "KIND_"));
  }
  if (!m.detail().empty()) {
    add(text, "(" + m.detail() + ")");
  }
  return text;
}

// The record a match looks for, in the words `trace show` would print for it.
std::string record_words(const proto::TraceMatch& match) {
  switch (match.record_case()) {
    case proto::TraceMatch::kMessage:
      return message_words(match.message());
    case proto::TraceMatch::kSignal:
      return signal_words(match.signal());
    case proto::TraceMatch::kRing:
      return ring_words(match.ring());
    case proto::TraceMatch::kChannelState:
      return "channel " + match.channel_state().state() +
             (match.channel_state().detail().empty() ? ""
                                                     : " (" + match.channel_state().detail() + ")");
    case proto::TraceMatch::kKmcl:
      return kmcl_words(match.kmcl());
    case proto::TraceMatch::kFault:
      return "fault " + match.fault().kind() +
             (match.fault().detail().empty() ? "" : ": " + match.fault().detail());
    case proto::TraceMatch::kCompletion:
      return completion_words(match.completion());
    case proto::TraceMatch::kProcess:
      return process_words(match.process());
    case proto::TraceMatch::kNote:
      return match.note().text().empty() ? "note" : match.note().text();
    default:
      return "any record";
  }
}

}  // namespace

// Only a guest of several VPs has signal records that name one.
void Checks::signal_vp(const Where& where, const proto::SignalMatch& signal) {
  if (!signal.has_vp()) {
    return;
  }
  if (guest_vps_ == 1) {
    problem(where, "vp",
            "a signal record names a VP only when the guest has more than one (topology "
            "guest_vps)");
    return;
  }
  vp(where, "vp", signal.vp());
}

void Checks::match(const Where& where, const proto::TraceMatch& match) {
  if (!match.channel().empty()) {
    channel(where, match.channel());
  }
  MatchChecks checks(*this);
  switch (match.record_case()) {
    case proto::TraceMatch::kMessage:
      return checks.message(where.nested("message"), match.message());
    case proto::TraceMatch::kRing:
      return checks.ring(where.nested("ring"), match.ring());
    case proto::TraceMatch::kChannelState:
      return checks.channel_state(where.nested("channel_state"), match.channel_state());
    case proto::TraceMatch::kKmcl:
      return checks.kmcl(where.nested("kmcl"), match.kmcl());
    case proto::TraceMatch::kFault:
      return checks.fault(where.nested("fault"), match.fault());
    case proto::TraceMatch::kProcess:
      return checks.process(where.nested("process"), match.process());
    case proto::TraceMatch::kSignal:
      return signal_vp(where.nested("signal"), match.signal());
    case proto::TraceMatch::RECORD_NOT_SET:
      return problem(where, "",
                     "a trace match names the kind of record: message, signal, ring, "
                     "channel_state, kmcl, fault, completion, process or note");
    default:  // completion, note: every value is a possible one
      return;
  }
}

std::string describe_match(const proto::TraceMatch& match) {
  std::string text = "\"" + record_words(match) + "\"";
  if (match.side() != proto::ANY_SIDE) {
    text += " from " + enum_words(proto::Side_Name(match.side()));
  }
  if (!match.channel().empty()) {
    text += " on " + quoted(match.channel());
  }
  return text;
}

trace::RecordPattern compile_match(const proto::TraceMatch& match,
                                   const CompiledScenario& scenario) {
  trace::RecordPattern pattern;
  pattern.event = event_pattern(match);
  pattern.partition = partition_of(match.side());
  if (!match.channel().empty()) {
    pattern.child_relid = scenario.relid_of(match.channel()).value_or(0);
  }
  return pattern;
}

}  // namespace vmbus::runner
