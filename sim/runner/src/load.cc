// Loading and checking scenario files: every problem is reported with the
// line and column of the field it is about, and a file with any problem
// never runs.
#include <algorithm>
#include <cctype>
#include <fstream>
#include <set>
#include <sstream>

#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/text_format.h>

#include "vmbus/kmcl/verifier.h"
#include "vmbus/runner/scenario.h"
#include "vmbus/wire/message_table.h"
#include "vmbus/wire/versions.h"

namespace vmbus::runner {
namespace {

namespace pb = google::protobuf;

constexpr std::uint32_t kMaxRelid = 2047;
constexpr std::uint32_t kMaxRingPages = 256;
constexpr std::uint64_t kMaxPayloadBytes = 65536;
constexpr std::uint32_t kMaxCount = 1'000'000;
constexpr std::uint64_t kMaxTimeUs = 3'600'000'000ull;  // one simulated hour

class Collector final : public pb::io::ErrorCollector {
 public:
  Collector(std::string file, std::vector<ScenarioProblem>& problems)
      : file_(std::move(file)), problems_(problems) {}
  void AddError(int line, pb::io::ColumnNumber column, const std::string& message) override {
    problems_.push_back(ScenarioProblem{file_, line + 1, column + 1, message});
  }
  void AddWarning(int line, pb::io::ColumnNumber column, const std::string& message) override {
    AddError(line, column, message);
  }

 private:
  std::string file_;
  std::vector<ScenarioProblem>& problems_;
};

// A position in the parsed file: the parse-info tree of one message, with a
// fallback location for fields the file does not write.
class Where {
 public:
  Where(const pb::TextFormat::ParseInfoTree* tree, const pb::Descriptor* descriptor, int line,
        int column)
      : tree_(tree), descriptor_(descriptor), line_(line), column_(column) {}

  // The location of `field` (element `index` if repeated), or of this message.
  std::pair<int, int> at(const std::string& field, int index = -1) const {
    const pb::FieldDescriptor* f = descriptor_->FindFieldByName(field);
    if (tree_ != nullptr && f != nullptr) {
      const pb::TextFormat::ParseLocation location =
          tree_->GetLocation(f, f->is_repeated() ? std::max(index, 0) : -1);
      if (location.line >= 0) {
        return {location.line + 1, location.column + 1};
      }
    }
    return {line_, column_};
  }

  Where nested(const std::string& field, int index = -1) const {
    const pb::FieldDescriptor* f = descriptor_->FindFieldByName(field);
    const auto [line, column] = at(field, index);
    if (f == nullptr || f->message_type() == nullptr) {
      return Where(nullptr, descriptor_, line, column);
    }
    const pb::TextFormat::ParseInfoTree* child =
        tree_ != nullptr ? tree_->GetTreeForNested(f, f->is_repeated() ? std::max(index, 0) : -1)
                         : nullptr;
    return Where(child, f->message_type(), line, column);
  }

 private:
  const pb::TextFormat::ParseInfoTree* tree_;
  const pb::Descriptor* descriptor_;
  int line_;
  int column_;
};

class Checker {
 public:
  Checker(LoadedScenario& loaded, const pb::TextFormat::ParseInfoTree& tree)
      : loaded_(loaded), s_(loaded.scenario), root_(&tree, proto::Scenario::descriptor(), 1, 1) {}

  void run() {
    check_metadata();
    check_topology();
    check_timeline();
    check_expectations();
  }

 private:
  void problem(const Where& where, const std::string& field, int index, const std::string& text) {
    const auto [line, column] = where.at(field, index);
    loaded_.problems.push_back(ScenarioProblem{loaded_.display_path, line, column, text});
  }
  void problem(const Where& where, const std::string& field, const std::string& text) {
    problem(where, field, -1, text);
  }

  void check_metadata() {
    if (s_.name().empty()) {
      problem(root_, "name", "the scenario has no name");
    } else if (s_.name().find_first_of(" /\\\t\n") != std::string::npos) {
      problem(root_, "name", "name '" + s_.name() + "' must not contain spaces or slashes");
    }
    if (s_.time_limit_us() > kMaxTimeUs) {
      problem(
          root_, "time_limit_us",
          "time_limit_us " + std::to_string(s_.time_limit_us()) + " is above one simulated hour");
    }
  }

  static bool known_version(const std::string& text) {
    for (std::uint32_t v : wire::kKnownVersions) {
      if (wire::version_number_text(v) == text) {
        return true;
      }
    }
    return false;
  }

  void check_version(const Where& where, const std::string& field, const std::string& text) {
    if (!text.empty() && !known_version(text)) {
      problem(where, field,
              "unknown protocol version '" + text +
                  "' (known: 5.3 5.2 5.1 5.0 4.1 4.0 3.0 2.4 "
                  "1.1 0.13)");
    }
  }

  void check_topology() {
    const Where topology = root_.nested("topology");
    check_version(topology, "host_max_version", s_.topology().host_max_version());
    check_version(topology, "guest_max_version", s_.topology().guest_max_version());
    if (s_.topology().channel_size() == 0) {
      problem(root_, "topology", "the topology has no channel");
    }
    std::set<std::uint32_t> relids;
    std::uint32_t next_relid = 1;
    for (int i = 0; i < s_.topology().channel_size(); ++i) {
      const proto::ChannelSpec& channel = s_.topology().channel(i);
      const Where where = topology.nested("channel", i);
      if (channel.name().empty()) {
        problem(topology, "channel", i, "channel " + std::to_string(i + 1) + " has no name");
      } else if (!channels_.insert(channel.name()).second) {
        problem(where, "name", "channel name '" + channel.name() + "' is used twice");
      }
      std::uint32_t relid = channel.relid();
      if (relid == 0) {
        while (relids.count(next_relid) != 0) {
          ++next_relid;
        }
        relid = next_relid;
      }
      if (relid > kMaxRelid) {
        problem(where, "relid", "relid " + std::to_string(relid) + " is outside 1..2047");
      } else if (!relids.insert(relid).second) {
        problem(where, "relid", "relid " + std::to_string(relid) + " is used twice");
      }
      if (channel.ring_pages() == 1 || channel.ring_pages() > kMaxRingPages) {
        problem(where, "ring_pages",
                "ring_pages " + std::to_string(channel.ring_pages()) +
                    " must be 2..256 (the control page plus at least one data page)");
      }
      if (!channel.interface_guid().empty() && channel.interface_guid().size() != 36) {
        problem(where, "interface_guid",
                "interface_guid '" + channel.interface_guid() +
                    "' is not a GUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)");
      }
      const Where policy = where.nested("guest_driver");
      for (int r = 0; r < channel.guest_driver().rule_size(); ++r) {
        const proto::DriverRule& rule = channel.guest_driver().rule(r);
        if (rule.percent() > 100) {
          problem(policy.nested("rule", r), "percent",
                  "percent " + std::to_string(rule.percent()) + " is above 100");
        }
      }
    }
  }

  void check_channel(const Where& where, const std::string& name, bool required = true) {
    if (name.empty()) {
      if (required) {
        problem(where, "channel", "no channel named (channel: \"...\")");
      }
      return;
    }
    if (channels_.count(name) == 0) {
      std::string known;
      for (const std::string& c : channels_) {
        known += (known.empty() ? "" : ", ") + ("'" + c + "'");
      }
      problem(where, "channel", "unknown channel '" + name + "' (the topology has " + known + ")");
    }
  }

  void check_payload(const Where& where, const std::string& field, const proto::Payload& payload) {
    const Where p = where.nested(field);
    switch (payload.data_case()) {
      case proto::Payload::kRaw:
        problem(p, "raw", "raw is set by the runner; write text, hex or pattern");
        break;
      case proto::Payload::kHex: {
        std::size_t digits = 0;
        for (char c : payload.hex()) {
          if (std::isxdigit(static_cast<unsigned char>(c))) {
            ++digits;
          } else if (c != ' ' && c != ':' && c != '\n') {
            problem(
                p, "hex",
                std::string("hex payload has a character that is not a hex digit: '") + c + "'");
            return;
          }
        }
        if (digits % 2 != 0) {
          problem(p, "hex",
                  "hex payload has an odd number of digits (" + std::to_string(digits) + ")");
        }
        break;
      }
      case proto::Payload::kPattern:
        if (payload.pattern().size() > kMaxPayloadBytes) {
          problem(
              p.nested("pattern"), "size",
              "pattern size " + std::to_string(payload.pattern().size()) + " is above 65536 bytes");
        }
        if (payload.pattern().fill() > 255) {
          problem(p.nested("pattern"), "fill",
                  "fill " + std::to_string(payload.pattern().fill()) + " is not a byte (0..255)");
        }
        break;
      default:
        break;
    }
  }

  void check_runner_field(const Where& where, std::uint32_t value) {
    if (value != 0) {
      problem(where, "child_relid", "child_relid is set by the runner; name the channel instead");
    }
  }

  void check_condition(const Where& where, const proto::Condition& condition) {
    if (condition.event().text().empty()) {
      problem(where.nested("event"), "text",
              "a condition needs the event text to wait for (event { text: \"...\" })");
    }
    if (!condition.event().channel().empty()) {
      check_channel(where.nested("event"), condition.event().channel());
    }
  }

  void check_timeline() {
    std::uint64_t last_at = 0;
    int last_at_step = 0;
    const std::uint64_t limit_us = s_.time_limit_us() == 0 ? 1'000'000 : s_.time_limit_us();
    for (int i = 0; i < s_.step_size(); ++i) {
      const proto::TimelineEntry& step = s_.step(i);
      const Where where = root_.nested("step", i);
      const std::string number = std::to_string(i + 1);
      if (step.time_case() == proto::TimelineEntry::kAtUs) {
        if (step.at_us() > limit_us) {
          problem(where, "at_us",
                  "step " + number + " at " + std::to_string(step.at_us()) +
                      " us is after the time limit of " + std::to_string(limit_us) + " us");
        }
        if (last_at_step != 0 && step.at_us() < last_at) {
          problem(where, "at_us",
                  "step " + number + " at " + std::to_string(step.at_us()) +
                      " us comes before step " + std::to_string(last_at_step) + " at " +
                      std::to_string(last_at) + " us; steps run in file order");
        }
        last_at = step.at_us();
        last_at_step = i + 1;
      }
      if (step.time_case() == proto::TimelineEntry::kAfterUs && step.after_us() > limit_us) {
        problem(where, "after_us", "step " + number + " waits longer than the time limit");
      }
      if (step.time_case() == proto::TimelineEntry::kWhen) {
        check_condition(where.nested("when"), step.when());
      }
      switch (step.action_case()) {
        case proto::TimelineEntry::kHostSend:
        case proto::TimelineEntry::kGuestSend: {
          const bool host = step.action_case() == proto::TimelineEntry::kHostSend;
          const proto::SendAction& send = host ? step.host_send() : step.guest_send();
          const Where w = where.nested(host ? "host_send" : "guest_send");
          check_channel(w, send.channel());
          check_payload(w, "payload", send.payload());
          check_runner_field(w, send.child_relid());
          if (!host && send.has_trans_id()) {
            problem(w, "trans_id",
                    "the guest's KMCL chooses its own trans_id; only host_send "
                    "takes one");
          }
          if (host && send.synchronous()) {
            problem(w, "synchronous",
                    "synchronous requests are the guest driver's "
                    "(VmbChannelSendSynchronousRequest)");
          }
          if (send.count() > kMaxCount) {
            problem(w, "count", "count " + std::to_string(send.count()) + " is above 1000000");
          }
          if (send.external_pages() > 64) {
            problem(w, "external_pages", "external_pages is at most 64");
          }
          break;
        }
        case proto::TimelineEntry::kRingWrite: {
          const Where w = where.nested("ring_write");
          check_channel(w, step.ring_write().channel());
          check_payload(w, "bytes", step.ring_write().bytes());
          check_runner_field(w, step.ring_write().child_relid());
          break;
        }
        case proto::TimelineEntry::kRawPacket: {
          const Where w = where.nested("raw_packet");
          check_channel(w, step.raw_packet().channel());
          check_payload(w, "payload", step.raw_packet().payload());
          check_runner_field(w, step.raw_packet().child_relid());
          break;
        }
        case proto::TimelineEntry::kTamper: {
          const Where w = where.nested("tamper");
          check_channel(w, step.tamper().channel());
          check_payload(w, "bytes", step.tamper().bytes());
          check_runner_field(w, step.tamper().child_relid());
          break;
        }
        case proto::TimelineEntry::kSetIndex: {
          const Where w = where.nested("set_index");
          check_channel(w, step.set_index().channel());
          check_runner_field(w, step.set_index().child_relid());
          break;
        }
        case proto::TimelineEntry::kInterruptFault: {
          const Where w = where.nested("interrupt_fault");
          check_channel(w, step.interrupt_fault().channel(), false);
          check_runner_field(w, step.interrupt_fault().child_relid());
          if (step.interrupt_fault().kind() == proto::InterruptFault::DELAY &&
              step.interrupt_fault().delay_us() == 0) {
            problem(w, "kind", "a DELAY fault needs delay_us");
          }
          break;
        }
        case proto::TimelineEntry::kSpuriousInterrupt: {
          const Where w = where.nested("spurious_interrupt");
          check_channel(w, step.spurious_interrupt().channel());
          check_runner_field(w, step.spurious_interrupt().child_relid());
          break;
        }
        case proto::TimelineEntry::kMessageFault: {
          const proto::MessageFault& fault = step.message_fault();
          const Where w = where.nested("message_fault");
          if (!fault.message().empty() && !message_type(fault.message())) {
            problem(w, "message",
                    "unknown message type '" + fault.message() +
                        "' (a CHANNELMSG name such as OPENCHANNEL_RESULT, or a number 0..24)");
          }
          if (fault.kind() == proto::MessageFault::DELAY && fault.delay_us() == 0) {
            problem(w, "kind", "a DELAY fault needs delay_us");
          }
          if (fault.kind() == proto::MessageFault::CORRUPT) {
            if (!fault.has_corrupt_bytes()) {
              problem(w, "kind", "a CORRUPT fault needs corrupt_bytes");
            }
            check_payload(w, "corrupt_bytes", fault.corrupt_bytes());
          }
          if (fault.msgtype() != 0 || fault.any_type()) {
            problem(w, "msgtype", "msgtype and any_type are set by the runner; write message");
          }
          break;
        }
        case proto::TimelineEntry::kChannelOp: {
          const Where w = where.nested("channel_op");
          check_channel(w, step.channel_op().channel());
          check_runner_field(w, step.channel_op().child_relid());
          if (step.channel_op().op() == proto::ChannelOpAction::OP_UNSPECIFIED) {
            problem(w, "op", "channel_op needs an op (PAUSE, START, CLOSE, RESCIND, ...)");
          }
          break;
        }
        case proto::TimelineEntry::kSetPolicy: {
          const Where w = where.nested("set_policy");
          check_channel(w, step.set_policy().channel());
          check_runner_field(w, step.set_policy().child_relid());
          break;
        }
        case proto::TimelineEntry::kCrash:
          if (step.crash().side() != proto::HOST && step.crash().side() != proto::GUEST) {
            problem(where.nested("crash"), "side", "crash needs side: HOST or GUEST");
          }
          break;
        case proto::TimelineEntry::kAdvanceTime:
          if (step.advance_time().us() == 0 || step.advance_time().us() > limit_us) {
            problem(where.nested("advance_time"), "us",
                    "advance_time needs us between 1 and the time limit");
          }
          break;
        case proto::TimelineEntry::kWaitUntil:
          check_condition(where.nested("wait_until"), step.wait_until());
          break;
        case proto::TimelineEntry::kHold:
        case proto::TimelineEntry::kRelease: {
          const bool hold = step.action_case() == proto::TimelineEntry::kHold;
          const proto::ContextHold& h = hold ? step.hold() : step.release();
          const Where w = where.nested(hold ? "hold" : "release");
          if (h.side() != proto::HOST && h.side() != proto::GUEST) {
            problem(w, "side",
                    std::string(hold ? "hold" : "release") + " needs side: HOST or GUEST");
          }
          if (h.context().empty() || h.context().back() == '/') {
            problem(w, "context", "a context name such as \"kmcl/1/passive\" is needed");
          }
          break;
        }
        default:
          break;
      }
    }
  }

  void check_expectations() {
    const Where expect = root_.nested("expect");
    const proto::Expectations& e = s_.expect();
    check_version(expect, "negotiated_version", e.negotiated_version());
    std::set<std::string> seen_callbacks;
    for (int i = 0; i < e.callbacks_size(); ++i) {
      const Where w = expect.nested("callbacks", i);
      check_channel(w, e.callbacks(i).channel());
      for (int c = 0; c < e.callbacks(i).call_size(); ++c) {
        const std::string& call = e.callbacks(i).call(c);
        if (call.find(" PASSIVE") == std::string::npos &&
            call.find(" DISPATCH") == std::string::npos) {
          problem(w, "call", c,
                  "callback '" + call +
                      "' names no IRQL; write \"<callback> [#<packet>] "
                      "PASSIVE|DISPATCH [<action>]\", e.g. \"ProcessPacket #0 DISPATCH complete\"");
        }
      }
      std::string key = e.callbacks(i).channel();
      for (const std::string& only : e.callbacks(i).only()) {
        key += "|" + only;
      }
      if (!seen_callbacks.insert(key).second) {
        problem(expect, "callbacks", i,
                "a second callbacks expectation for channel '" + e.callbacks(i).channel() +
                    "' with the same filter contradicts the first");
      }
    }
    std::map<std::string, std::pair<std::string, int>> states;
    for (int i = 0; i < e.state_size(); ++i) {
      const proto::StateExpectation& state = e.state(i);
      const Where w = expect.nested("state", i);
      check_channel(w, state.channel());
      static const std::set<std::string> kChannelStates = {"disabled", "enabled", "opening",
                                                           "open",     "closing", "closed"};
      static const std::set<std::string> kQueueStates = {"off",
                                                         "running",
                                                         "quota_blocked",
                                                         "pausing",
                                                         "paused",
                                                         "stopped_by_fail",
                                                         "stopped_by_protocol_error"};
      if (!state.channel_state().empty() && kChannelStates.count(state.channel_state()) == 0) {
        problem(w, "channel_state",
                "unknown channel_state '" + state.channel_state() +
                    "' (disabled, enabled, opening, open, closing, closed)");
      }
      if (!state.queue_state().empty() && kQueueStates.count(state.queue_state()) == 0) {
        problem(w, "queue_state",
                "unknown queue_state '" + state.queue_state() +
                    "' (off, running, quota_blocked, pausing, paused, stopped_by_fail, "
                    "stopped_by_protocol_error)");
      }
      const std::string value = state.channel_state() + "/" + state.queue_state();
      const auto [it, inserted] = states.emplace(state.channel(), std::make_pair(value, i));
      if (!inserted && it->second.first != value) {
        problem(w, "channel",
                "a second state expectation for channel '" + state.channel() +
                    "' contradicts the one at line " +
                    std::to_string(expect.at("state", it->second.second).first));
      }
    }
    std::map<std::string, std::pair<std::uint64_t, int>> counters;
    const auto& names = scenario_counter_names();
    for (int i = 0; i < e.counter_size(); ++i) {
      const proto::CounterExpectation& counter = e.counter(i);
      const Where w = expect.nested("counter", i);
      check_channel(w, counter.channel());
      if (std::find(names.begin(), names.end(), counter.name()) == names.end()) {
        std::string known;
        for (const std::string& n : names) {
          known += (known.empty() ? "" : " ") + n;
        }
        problem(w, "name", "unknown counter '" + counter.name() + "' (known: " + known + ")");
      }
      const std::string key = counter.channel() + "/" + counter.name();
      const auto [it, inserted] = counters.emplace(key, std::make_pair(counter.value(), i));
      if (!inserted && it->second.first != counter.value()) {
        problem(w, "value",
                "counter " + counter.name() + " of channel '" + counter.channel() +
                    "' is expected to be " + std::to_string(counter.value()) + " here but " +
                    std::to_string(it->second.first) + " at line " +
                    std::to_string(expect.nested("counter", it->second.second).at("value").first));
      }
    }
    for (int i = 0; i < e.completions_size(); ++i) {
      const Where w = expect.nested("completions", i);
      check_channel(w, e.completions(i).channel());
      if (e.completions(i).side() != proto::HOST && e.completions(i).side() != proto::GUEST) {
        problem(w, "side", "completions need side: HOST or GUEST (whose sends)");
      }
    }
    std::set<std::string> codes;
    for (std::size_t c = 0; c < kmcl::kViolationCodeCount; ++c) {
      codes.insert(kmcl::violation_code_name(static_cast<kmcl::ViolationCode>(c)));
    }
    for (int i = 0; i < e.violation_size(); ++i) {
      const Where w = expect.nested("violation", i);
      if (codes.count(e.violation(i).code()) == 0) {
        problem(w, "code",
                "unknown verifier code '" + e.violation(i).code() +
                    "' (docs/KMCL-SEMANTICS.md lists them)");
      }
      check_channel(w, e.violation(i).channel(), false);
    }
    const auto& oracles = scenario_oracle_names();
    for (int i = 0; i < e.oracle_size(); ++i) {
      const Where w = expect.nested("oracle", i);
      if (std::find(oracles.begin(), oracles.end(), e.oracle(i).name()) == oracles.end()) {
        problem(w, "name",
                "unknown oracle '" + e.oracle(i).name() +
                    "' (lost_wakeup, spurious_signal, retired_once, fifo, leak)");
      }
      check_channel(w, e.oracle(i).channel(), false);
    }
    for (int i = 0; i < e.trace_size(); ++i) {
      const proto::TraceExpectation& t = e.trace(i);
      const Where w = expect.nested("trace", i);
      if (t.event().text().empty()) {
        problem(w.nested("event"), "text", "a trace expectation needs event text");
      }
      if (!t.event().channel().empty()) {
        check_channel(w.nested("event"), t.event().channel());
      }
      if (t.absent() && t.count() != 0) {
        problem(w, "absent", "absent contradicts count " + std::to_string(t.count()));
      }
    }
    if (e.outcome() != proto::Expectations::COMPLETED &&
        (e.callbacks_size() != 0 || e.state_size() != 0 || e.counter_size() != 0)) {
      problem(expect, "outcome",
              "a run expected to end in a crash has no final state: callbacks, state and "
              "counter expectations cannot be checked");
    }
  }

 public:
  static std::optional<std::uint32_t> message_type(const std::string& text) {
    if (!text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
          return std::isdigit(static_cast<unsigned char>(c)) != 0;
        })) {
      if (text.size() > 3) {
        return std::nullopt;
      }
      const auto value = static_cast<std::uint32_t>(std::stoul(text));
      return value < wire::kMessageTypeCount ? std::optional(value) : std::nullopt;
    }
    const std::string wanted = text.rfind("CHANNELMSG_", 0) == 0 ? text : "CHANNELMSG_" + text;
    for (std::uint32_t type = 0; type < wire::kMessageTypeCount; ++type) {
      if (wire::message_type_name(type) == wanted) {
        return type;
      }
    }
    return std::nullopt;
  }

 private:
  LoadedScenario& loaded_;
  const proto::Scenario& s_;
  Where root_;
  std::set<std::string> channels_;
};

}  // namespace

std::optional<std::uint32_t> scenario_message_type(const std::string& text) {
  return Checker::message_type(text);
}

std::string ScenarioProblem::to_string() const {
  if (line <= 0) {
    return file + ": " + message;
  }
  return file + ":" + std::to_string(line) + ":" + std::to_string(column) + ": " + message;
}

const std::vector<std::string>& scenario_counter_names() {
  static const std::vector<std::string> kNames = {
      // The guest driver's channel (KMCL ChannelStats).
      "dequeued", "delivered", "deferred", "failed", "completed", "completions_sent",
      "packets_sent", "dropped", "protocol_errors", "unexpected_completions", "outstanding",
      "redelivery_mismatches", "sends_in_flight", "queued_sends",
      // The host's VSP.
      "host_packets_received", "host_packets_sent", "host_completions_received",
      "host_pending_transactions", "interrupts_suppressed",
      // Counted in the trace.
      "signals_host_to_guest", "signals_guest_to_host", "interrupts_to_guest", "interrupts_to_host",
      "violations"};
  return kNames;
}

const std::vector<std::string>& scenario_oracle_names() {
  static const std::vector<std::string> kNames = {"lost_wakeup", "spurious_signal", "retired_once",
                                                  "fifo", "leak"};
  return kNames;
}

LoadedScenario load_scenario_text(const std::string& text, const std::string& display_path) {
  LoadedScenario loaded;
  loaded.display_path = display_path;
  Collector collector(display_path, loaded.problems);
  pb::TextFormat::Parser parser;
  parser.RecordErrorsTo(&collector);
  pb::TextFormat::ParseInfoTree tree;
  parser.WriteLocationsTo(&tree);
  if (!parser.ParseFromString(text, &loaded.scenario)) {
    if (loaded.problems.empty()) {
      loaded.problems.push_back(ScenarioProblem{display_path, 1, 1, "the file does not parse"});
    }
    return loaded;
  }
  Checker(loaded, tree).run();
  std::stable_sort(loaded.problems.begin(), loaded.problems.end(),
                   [](const ScenarioProblem& a, const ScenarioProblem& b) {
                     return a.line != b.line ? a.line < b.line : a.column < b.column;
                   });
  return loaded;
}

LoadedScenario load_scenario(const std::filesystem::path& path, const std::string& display_path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    LoadedScenario loaded;
    loaded.path = path;
    loaded.display_path = display_path;
    loaded.problems.push_back(ScenarioProblem{display_path, 0, 0, "cannot open the file"});
    return loaded;
  }
  std::ostringstream text;
  text << in.rdbuf();
  LoadedScenario loaded = load_scenario_text(text.str(), display_path);
  loaded.path = path;
  return loaded;
}

}  // namespace vmbus::runner
