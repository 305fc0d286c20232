#include "vmbus/wire/synic.h"
// Compiling a scenario into a run, the timeline script the simulation
// follows, and the judge: expectations first, then the oracles.
#include <algorithm>
#include <cctype>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <map>
#include <set>
#include <sys/types.h>

#include "vmbus/runner/scenario.h"
#include "vmbus/trace/render.h"
#include "vmbus/wire/message_table.h"
#include "vmbus/wire/versions.h"

namespace vmbus::runner {

std::optional<std::uint32_t> scenario_message_type(const std::string& text);  // scenario_load.cc

namespace {

constexpr char kDefaultInterfaceGuid[] = "f8615163-df3e-46c5-913f-f2d2f965ed0e";
constexpr std::uint32_t kDefaultRingPages = 4;
constexpr std::uint64_t kDefaultTimeLimitUs = 1'000'000;

std::uint32_t version_from_text(const std::string& text) {
  for (std::uint32_t v : wire::kKnownVersions) {
    if (wire::version_number_text(v) == text) {
      return v;
    }
  }
  return 0;  // empty: the newest
}

std::string bytes_from_hex(const std::string& hex) {
  std::string out;
  int high = -1;
  for (char c : hex) {
    if (!std::isxdigit(static_cast<unsigned char>(c))) {
      continue;
    }
    const int digit = std::isdigit(static_cast<unsigned char>(c))
                          ? c - '0'
                          : std::tolower(static_cast<unsigned char>(c)) - 'a' + 10;
    if (high < 0) {
      high = digit;
    } else {
      out.push_back(static_cast<char>(high * 16 + digit));
      high = -1;
    }
  }
  return out;
}

// Payload as written -> Payload.raw. An absent payload stays absent.
void resolve_payload(proto::Payload& payload) {
  std::string raw;
  switch (payload.data_case()) {
    case proto::Payload::kText:
      raw = payload.text();
      break;
    case proto::Payload::kHex:
      raw = bytes_from_hex(payload.hex());
      break;
    case proto::Payload::kPattern:
      raw.resize(payload.pattern().size());
      for (std::size_t i = 0; i < raw.size(); ++i) {
        raw[i] =
            static_cast<char>(payload.pattern().counting() ? (i & 0xFF) : payload.pattern().fill());
      }
      break;
    default:
      return;
  }
  payload.set_raw(raw);
}

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
std::string describe_step(const proto::Step& step) {
  switch (step.action_case()) {
    case proto::Step::kHostSend:
    case proto::Step::kGuestSend: {
      const bool host = step.action_case() == proto::Step::kHostSend;
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
    case proto::Step::kRingWrite:
      return "ring_write " + payload_words(step.ring_write().bytes()) + " at offset " +
             std::to_string(step.ring_write().offset()) + " of " +
             enum_words(proto::RingId_Name(step.ring_write().ring())) + " of " +
             quoted(step.ring_write().channel());
    case proto::Step::kRawPacket: {
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
    case proto::Step::kTamper:
      return "tamper: overwrite the last packet sent on " + quoted(step.tamper().channel()) +
             " with " + payload_words(step.tamper().bytes());
    case proto::Step::kSetIndex:
      return "set_index " +
             enum_words(proto::SetIndexAction::Index_Name(step.set_index().index())) + " of " +
             enum_words(proto::RingId_Name(step.set_index().ring())) + " of " +
             quoted(step.set_index().channel()) + " to " + std::to_string(step.set_index().value());
    case proto::Step::kInterruptFault: {
      const proto::InterruptFault& fault = step.interrupt_fault();
      return "interrupt_fault: " + enum_words(proto::InterruptFault::Kind_Name(fault.kind())) +
             " the next " + std::to_string(std::max<std::uint32_t>(1, fault.count())) + " " +
             enum_words(proto::Direction_Name(fault.direction())) + " signal(s)" +
             (fault.channel().empty() ? "" : " of " + quoted(fault.channel())) +
             (fault.delay_us() != 0 ? " by " + std::to_string(fault.delay_us()) + " us" : "");
    }
    case proto::Step::kSpuriousInterrupt:
      return "spurious_interrupt " +
             enum_words(proto::Direction_Name(step.spurious_interrupt().direction())) + " on " +
             quoted(step.spurious_interrupt().channel());
    case proto::Step::kMessageFault: {
      const proto::MessageFault& fault = step.message_fault();
      return "message_fault: " + enum_words(proto::MessageFault::Kind_Name(fault.kind())) +
             " the next " + std::to_string(std::max<std::uint32_t>(1, fault.count())) + " " +
             enum_words(proto::Direction_Name(fault.direction())) + " " +
             (fault.message().empty() ? "message(s)" : fault.message());
    }
    case proto::Step::kChannelOp:
      return "channel_op " + proto::ChannelOpAction::Op_Name(step.channel_op().op()) + " on " +
             quoted(step.channel_op().channel()) +
             (step.channel_op().value() != 0 ? " value " + std::to_string(step.channel_op().value())
                                             : "");
    case proto::Step::kSetPolicy:
      return "set_policy on " + quoted(step.set_policy().channel()) + " (" +
             std::to_string(step.set_policy().rule_size()) + " rule(s), default " +
             enum_words(proto::DriverAction::Kind_Name(step.set_policy().default_action().kind())) +
             ")";
    case proto::Step::kCrash:
      return "crash the " + enum_words(proto::Side_Name(step.crash().side()));
    case proto::Step::kAdvanceTime:
      return "advance time by " + std::to_string(step.advance_time().us()) + " us";
    case proto::Step::kWaitUntil:
      return "wait until " + describe_condition(step.wait_until());
    case proto::Step::kNote:
      return "note";
    case proto::Step::kHold:
      return "hold " + enum_words(proto::Side_Name(step.hold().side())) + " context " +
             step.hold().context();
    case proto::Step::kRelease:
      return "release " + enum_words(proto::Side_Name(step.release().side())) + " context " +
             step.release().context();
    default:
      return "nothing";
  }
}

bool record_matches(const proto::TraceRecord& record, const proto::TraceMatch& match,
                    std::optional<std::uint32_t> relid) {
  if (record.has_action()) {
    return false;  // the timeline's own records would match their own conditions
  }
  switch (match.side()) {
    case proto::HOST:
      if (record.partition() != proto::PARTITION_HOST) {
        return false;
      }
      break;
    case proto::GUEST:
      if (record.partition() != proto::PARTITION_GUEST) {
        return false;
      }
      break;
    case proto::HYPERVISOR:
      if (record.partition() != proto::PARTITION_UNSPECIFIED) {
        return false;
      }
      break;
    default:
      break;
  }
  if (relid && !trace::concerns_channel(record, *relid)) {
    return false;
  }
  return trace::event_text(record).find(match.text()) != std::string::npos;
}

class ScenarioScript final : public hypervisor::RunScript {
 public:
  explicit ScenarioScript(const CompiledScenario& scenario) : scenario_(scenario) {}

  void on_record(const proto::TraceRecord& record) override { records_.push_back(record); }

  std::optional<hypervisor::DueIntervention> due(std::uint64_t now_ns) override {
    if (next_ >= scenario_.steps.size()) {
      return std::nullopt;
    }
    const proto::Step& step = scenario_.steps[next_];
    bool ready = true;
    switch (step.time_case()) {
      case proto::Step::kAtUs:
        ready = now_ns >= step.at_us() * 1000;
        break;
      case proto::Step::kAfterUs:
        ready = now_ns >= last_done_ns_ + step.after_us() * 1000;
        break;
      case proto::Step::kWhen:
        ready = holds(step.when());
        break;
      default:
        break;
    }
    if (ready && step.action_case() == proto::Step::kWaitUntil) {
      ready = holds(step.wait_until());
    }
    if (!ready) {
      return std::nullopt;
    }
    return hypervisor::DueIntervention{intervention_of(step), static_cast<std::uint32_t>(next_ + 1),
                                       step.label(), describe_step(step)};
  }

  void intervention_done(std::uint64_t now_ns, const std::string& error) override {
    if (!error.empty() && error_.empty()) {
      const proto::Step& step = scenario_.steps[next_];
      error_ = "step " + std::to_string(next_ + 1) +
               (step.label().empty() ? "" : " ('" + step.label() + "')") + " (" +
               describe_step(step) + ") was refused: " + error;
    }
    last_done_ns_ = now_ns;
    ++next_;
    scanned_ = 0;
    matched_ = 0;
  }

  std::optional<std::uint64_t> next_time_ns() const override {
    if (next_ >= scenario_.steps.size()) {
      return std::nullopt;
    }
    const proto::Step& step = scenario_.steps[next_];
    switch (step.time_case()) {
      case proto::Step::kAtUs:
        return step.at_us() * 1000;
      case proto::Step::kAfterUs:
        return last_done_ns_ + step.after_us() * 1000;
      case proto::Step::kWhen:
        return std::nullopt;
      default:
        if (step.action_case() == proto::Step::kWaitUntil) {
          return std::nullopt;
        }
        return last_done_ns_;
    }
  }

  std::size_t steps_run() const { return next_; }
  const std::string& error() const { return error_; }
  std::vector<proto::TraceRecord>& records() { return records_; }

  // Why the timeline did not finish, or "".
  std::string unfinished(std::uint64_t now_ns) const {
    if (next_ >= scenario_.steps.size()) {
      return "";
    }
    const proto::Step& step = scenario_.steps[next_];
    std::string when;
    switch (step.time_case()) {
      case proto::Step::kWhen:
        when = "when " + describe_condition(step.when());
        break;
      case proto::Step::kAtUs:
        when = "at " + std::to_string(step.at_us()) + " us";
        break;
      case proto::Step::kAfterUs:
        when = std::to_string(step.after_us()) + " us after the step before";
        break;
      default:
        when = "next";
        break;
    }
    char at[48];
    std::snprintf(at, sizeof(at), "%.3f", static_cast<double>(now_ns) / 1000.0);
    return "step " + std::to_string(next_ + 1) +
           (step.label().empty() ? "" : " ('" + step.label() + "')") + " (" + when + ": " +
           describe_step(step) + ") never ran: the system went quiet at t=" + at + " us";
  }

 private:
  bool holds(const proto::Condition& condition) {
    const std::optional<std::uint32_t> relid =
        condition.event().channel().empty() ? std::nullopt
                                            : scenario_.relid_of(condition.event().channel());
    for (; scanned_ < records_.size(); ++scanned_) {
      if (record_matches(records_[scanned_], condition.event(), relid)) {
        ++matched_;
      }
    }
    return matched_ >= std::max<std::uint32_t>(1, condition.count());
  }

  const CompiledScenario& scenario_;
  std::vector<proto::TraceRecord> records_;
  std::size_t next_ = 0;
  std::uint64_t last_done_ns_ = 0;
  std::size_t scanned_ = 0;  // records the current step's condition has seen
  std::uint64_t matched_ = 0;
  std::string error_;
};

std::uint32_t relid_of_context(const std::string& context) {
  // "kmcl/<relid>/..."
  if (context.rfind("kmcl/", 0) != 0) {
    return 0;
  }
  const std::size_t end = context.find('/', 5);
  const std::string digits = context.substr(5, end == std::string::npos ? end : end - 5);
  if (digits.empty() || digits.size() > 5 || !std::all_of(digits.begin(), digits.end(), [](char c) {
        return std::isdigit(static_cast<unsigned char>(c)) != 0;
      })) {
    return 0;
  }
  return static_cast<std::uint32_t>(std::stoul(digits));
}

bool process_gone(int pid) {
  return pid <= 0 || (::kill(pid, 0) != 0 && errno == ESRCH);
}

class Judge {
 public:
  Judge(const CompiledScenario& scenario, const std::vector<proto::TraceRecord>& records,
        ScenarioResult& result)
      : s_(scenario), records_(records), result_(result) {}

  void run() {
    const proto::Expectations& e = s_.expect;
    const hypervisor::RunResult& run = result_.run;
    const bool expect_crash = e.outcome() != proto::Expectations::COMPLETED;
    if (expect_crash) {
      const std::string who =
          e.outcome() == proto::Expectations::HOST_CRASHED ? "vmbus-host" : "vmbus-guest";
      if (run.outcome != hypervisor::RunOutcome::kPartitionCrashed ||
          run.detail.rfind(who, 0) != 0) {
        fail("expected " + who + " to crash, but the run ended " +
             hypervisor::run_outcome_name(run.outcome) +
             (run.detail.empty() ? "" : ": " + run.detail));
      }
    } else if (run.outcome == hypervisor::RunOutcome::kTimeLimit) {
      fail("the system did not go quiet within the time limit of " +
           std::to_string(s_.time_limit_ns / 1000) + " us simulated: " + run.detail);
    } else if (run.outcome != hypervisor::RunOutcome::kCompleted) {
      error("the simulator failed: " + std::string(hypervisor::run_outcome_name(run.outcome)) +
            ": " + run.detail);
    }
    check_versions();
    check_callbacks();
    check_states();
    check_counters();
    check_completions();
    check_violations();
    check_trace();
    find_oracles();
    check_oracles();
  }

  void fail(const std::string& text) {
    if (result_.verdict != Verdict::kError) {
      result_.verdict = Verdict::kFailed;
    }
    result_.failures.push_back(text);
  }

  void error(const std::string& text) {
    result_.verdict = Verdict::kError;
    result_.failures.insert(result_.failures.begin(), text);
  }

 private:
  std::uint32_t relid(const std::string& channel) const { return s_.relid_of(channel).value_or(0); }

  bool have_final() const { return result_.run.final_reports; }

  void check_versions() {
    const std::string& wanted = s_.expect.negotiated_version();
    if (wanted.empty()) {
      return;
    }
    std::string got;
    for (const proto::TraceRecord& record : records_) {
      if (record.has_note() && record.partition() == proto::PARTITION_GUEST &&
          record.note().text().rfind("connected at ", 0) == 0) {
        const std::string rest = record.note().text().substr(13);
        got = rest.substr(0, rest.find(' '));
      }
    }
    if (got != wanted) {
      fail("expected protocol " + wanted + " to be negotiated, " +
           (got.empty() ? std::string("the guest never connected") : "got " + got));
    }
  }

  // The guest driver's callbacks on `relid` ("driver" records), filtered.
  std::vector<std::string> callbacks(std::uint32_t channel,
                                     const google::protobuf::RepeatedPtrField<std::string>& only) {
    std::vector<std::string> out;
    for (const proto::TraceRecord& record : records_) {
      if (!record.has_kmcl() || record.kmcl().kind() != "driver" ||
          relid_of_context(record.context()) != channel) {
        continue;
      }
      const std::string& detail = record.kmcl().detail();
      const std::string name = detail.substr(0, detail.find(' '));
      const bool wanted = only.empty() ? name == "ProcessPacket"
                                       : std::find(only.begin(), only.end(), name) != only.end();
      if (wanted) {
        out.push_back(detail);
      }
    }
    return out;
  }

  void check_callbacks() {
    for (const proto::CallbackExpectation& expected : s_.expect.callbacks()) {
      const std::vector<std::string> got = callbacks(relid(expected.channel()), expected.only());
      const auto& want = expected.call();
      const std::size_t common =
          std::min<std::size_t>(got.size(), static_cast<std::size_t>(want.size()));
      bool reported = false;
      for (std::size_t i = 0; i < common; ++i) {
        if (got[i] != want[static_cast<int>(i)]) {
          fail("channel " + quoted(expected.channel()) + ": callback " + std::to_string(i + 1) +
               " was '" + got[i] + "', expected '" + want[static_cast<int>(i)] + "'");
          reported = true;
          break;
        }
      }
      if (reported) {
        continue;
      }
      if (got.size() < static_cast<std::size_t>(want.size())) {
        fail("channel " + quoted(expected.channel()) + ": " + std::to_string(got.size()) +
             " callback(s), expected " + std::to_string(want.size()) + "; the first missing is '" +
             want[static_cast<int>(got.size())] + "'");
      } else if (got.size() > static_cast<std::size_t>(want.size())) {
        fail("channel " + quoted(expected.channel()) + ": " + std::to_string(got.size()) +
             " callback(s), expected " + std::to_string(want.size()) + "; the first extra is '" +
             got[static_cast<std::size_t>(want.size())] + "'");
      }
    }
  }

  std::optional<std::string> final_value(const hypervisor::KeyValues& values,
                                         const std::string& key, const std::string& what) {
    if (!have_final()) {
      fail(what + " cannot be checked: the run ended before the final report");
      return std::nullopt;
    }
    std::optional<std::string> value = hypervisor::find_value(values, key);
    if (!value) {
      fail(what + " cannot be checked: the final report has no '" + key + "'");
    }
    return value;
  }

  void check_states() {
    for (const proto::StateExpectation& state : s_.expect.state()) {
      const std::string prefix = "kmcl." + std::to_string(relid(state.channel())) + ".";
      for (const auto& [field, wanted] :
           {std::pair<std::string, std::string>{"channel_state", state.channel_state()},
            {"queue_state", state.queue_state()}}) {
        if (wanted.empty()) {
          continue;
        }
        const auto got = final_value(result_.run.guest_final, prefix + field,
                                     "the " + field + " of " + quoted(state.channel()));
        if (got && *got != wanted) {
          std::string text = "channel " + quoted(state.channel()) + ": " + field + " is " + *got +
                             ", expected " + wanted;
          const std::string reason =
              hypervisor::find_value(result_.run.guest_final, prefix + "stop_reason").value_or("");
          if (!reason.empty()) {
            text += " (stopped: " + reason + ")";
          }
          fail(text);
        }
      }
    }
  }

  std::uint64_t count_signals(proto::Partition from, proto::SignalRecord::Stage stage_a,
                              proto::SignalRecord::Stage stage_b, std::uint32_t channel) const {
    std::uint64_t n = 0;
    for (const proto::TraceRecord& record : records_) {
      if (!record.has_signal()) {
        continue;
      }
      const proto::SignalRecord& signal = record.signal();
      if (signal.from() != from || (signal.stage() != stage_a && signal.stage() != stage_b)) {
        continue;
      }
      const bool ours = from == proto::PARTITION_HOST
                            ? signal.child_relid() == channel
                            : signal.connection_id() == wire::connection_id_of(channel);
      if (ours) {
        ++n;
      }
    }
    return n;
  }

  std::optional<std::uint64_t> counter(const std::string& name, std::uint32_t channel,
                                       const std::string& what) {
    const std::string r = std::to_string(channel);
    if (name == "signals_host_to_guest") {
      return count_signals(proto::PARTITION_HOST, proto::SignalRecord::STAGE_SIGNALLED,
                           proto::SignalRecord::STAGE_COALESCED, channel);
    }
    if (name == "signals_guest_to_host") {
      return count_signals(proto::PARTITION_GUEST, proto::SignalRecord::STAGE_SIGNALLED,
                           proto::SignalRecord::STAGE_COALESCED, channel);
    }
    if (name == "interrupts_to_guest") {
      return count_signals(proto::PARTITION_HOST, proto::SignalRecord::STAGE_DELIVERED,
                           proto::SignalRecord::STAGE_DELIVERED, channel);
    }
    if (name == "interrupts_to_host") {
      return count_signals(proto::PARTITION_GUEST, proto::SignalRecord::STAGE_DELIVERED,
                           proto::SignalRecord::STAGE_DELIVERED, channel);
    }
    if (name == "violations") {
      std::uint64_t n = 0;
      for (const proto::TraceRecord& record : records_) {
        if (record.has_kmcl() && record.kmcl().kind() == "violation" &&
            relid_of_context(record.context()) == channel) {
          ++n;
        }
      }
      return n;
    }
    std::optional<std::string> value;
    if (name == "interrupts_suppressed") {
      value = final_value(result_.run.host_final, "host." + r + ".signals_masked", what);
    } else if (name.rfind("host_", 0) == 0) {
      value = final_value(result_.run.host_final, "host." + r + "." + name.substr(5), what);
    } else {
      value = final_value(result_.run.guest_final, "kmcl." + r + "." + name, what);
    }
    if (!value) {
      return std::nullopt;
    }
    if (value->empty() || value->size() > 19 ||
        !std::all_of(value->begin(), value->end(),
                     [](char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; })) {
      fail(what + ": the final report says '" + *value + "', not a number");
      return std::nullopt;
    }
    return std::stoull(*value);
  }

  void check_counters() {
    for (const proto::CounterExpectation& expected : s_.expect.counter()) {
      const std::string what = "counter " + expected.name() + " of " + quoted(expected.channel());
      const auto got = counter(expected.name(), relid(expected.channel()), what);
      if (got && *got != expected.value()) {
        fail(what + " is " + std::to_string(*got) + ", expected " +
             std::to_string(expected.value()));
      }
    }
  }

  void check_completions() {
    for (const proto::CompletionExpectation& expected : s_.expect.completions()) {
      const proto::Partition side =
          expected.side() == proto::HOST ? proto::PARTITION_HOST : proto::PARTITION_GUEST;
      std::vector<std::string> got;
      for (const proto::TraceRecord& record : records_) {
        if (record.has_completion() && record.partition() == side &&
            record.completion().child_relid() == relid(expected.channel())) {
          got.push_back(record.completion().status());
        }
      }
      std::vector<std::string> want(expected.status().begin(), expected.status().end());
      if (got != want) {
        auto join = [](const std::vector<std::string>& list) {
          std::string text;
          for (const std::string& item : list) {
            text += (text.empty() ? "" : ", ") + item;
          }
          return "[" + text + "]";
        };
        fail(std::string(side == proto::PARTITION_HOST ? "host" : "guest") + " sends on " +
             quoted(expected.channel()) + " completed " + join(got) + ", expected " + join(want));
      }
    }
  }

  void check_violations() {
    struct Seen {
      std::string code;
      std::uint32_t relid;
      std::string text;
      bool expected = false;
    };
    std::vector<Seen> seen;
    for (const proto::TraceRecord& record : records_) {
      if (record.has_kmcl() && record.kmcl().kind() == "violation") {
        seen.push_back(Seen{record.kmcl().code(), relid_of_context(record.context()),
                            record.context() + ": " + trace::event_text(record)});
      }
    }
    for (const proto::ViolationExpectation& expected : s_.expect.violation()) {
      std::uint32_t n = 0;
      for (Seen& v : seen) {
        if (v.code == expected.code() &&
            (expected.channel().empty() || v.relid == relid(expected.channel()))) {
          ++n;
          v.expected = true;
        }
      }
      const std::string where =
          expected.channel().empty() ? "" : " on " + quoted(expected.channel());
      if (n == 0) {
        fail("expected verifier violation " + expected.code() + where + ", none was reported");
      } else if (expected.count() != 0 && n != expected.count()) {
        fail("verifier violation " + expected.code() + where + " was reported " +
             std::to_string(n) + " time(s), expected " + std::to_string(expected.count()));
      }
    }
    for (const Seen& v : seen) {
      if (!v.expected) {
        fail("unexpected verifier violation " + v.code + " (" + v.text + ")");
        break;  // one is enough to read; the trace has the rest
      }
    }
  }

  void check_trace() {
    for (const proto::TraceExpectation& expected : s_.expect.trace()) {
      const std::optional<std::uint32_t> channel = expected.event().channel().empty()
                                                       ? std::nullopt
                                                       : s_.relid_of(expected.event().channel());
      std::uint32_t n = 0;
      for (const proto::TraceRecord& record : records_) {
        if (record_matches(record, expected.event(), channel)) {
          ++n;
        }
      }
      const std::string what = "the trace event " + describe_match(expected.event());
      if (expected.absent() && n != 0) {
        fail(what + " happened " + std::to_string(n) + " time(s), expected never");
      } else if (!expected.absent() && expected.count() == 0 && n == 0) {
        fail(what + " never happened");
      } else if (!expected.absent() && expected.count() != 0 && n != expected.count()) {
        fail(what + " happened " + std::to_string(n) + " time(s), expected " +
             std::to_string(expected.count()));
      }
    }
  }

  void find_oracles() {
    // Reported by the partitions from their end state: "oracle.<name>.<...>.<relid>".
    for (const hypervisor::KeyValues* values :
         {&result_.run.host_final, &result_.run.guest_final}) {
      for (const auto& [key, value] : *values) {
        if (key.rfind("oracle.", 0) != 0 || value.empty()) {
          continue;
        }
        const std::string rest = key.substr(7);
        const std::string name = rest.substr(0, rest.find('.'));
        const std::string last = rest.substr(rest.rfind('.') + 1);
        std::string channel;
        if (!last.empty() && last.size() <= 5 && std::all_of(last.begin(), last.end(), [](char c) {
              return std::isdigit(static_cast<unsigned char>(c)) != 0;
            })) {
          channel = s_.channel_name(static_cast<std::uint32_t>(std::stoul(last)));
        }
        result_.oracles.push_back(OracleFiring{name, channel, value});
      }
    }
    find_spurious_signals();
    // Whatever the run's outcome, its shared memory and processes must be gone.
    const hypervisor::RunResult& run = result_.run;
    if (!run.segment_name.empty() &&
        std::filesystem::exists(std::filesystem::path("/dev/shm") / run.segment_name)) {
      result_.oracles.push_back(OracleFiring{
          "leak", "", "shared-memory segment " + run.segment_name + " outlived the run"});
    }
    for (const auto& [who, pid] : {std::pair<std::string, int>{"vmbus-host", run.host_pid},
                                   {"vmbus-guest", run.guest_pid}}) {
      if (!process_gone(pid)) {
        result_.oracles.push_back(
            OracleFiring{"leak", "", who + " (pid " + std::to_string(pid) + ") outlived the run"});
      }
    }
  }

  // A partition's signal that no ring decision of its own called for: every
  // signal a partition sends must follow, within the same step, its ring
  // library's "signal" decision (host ring event, guest KMCL "signal_peer").
  // Scenario actions (a malicious host's raw writes) are exempt.
  void find_spurious_signals() {
    // Per unit of work (a scheduler step, or a delivery between steps): the
    // partition's signals may not outnumber its ring decisions. The guest's
    // KMCL traces its decision after the hypercall left, so order within the
    // unit does not matter.
    struct Unit {
      std::map<proto::Partition, int> decisions;
      std::vector<const proto::TraceRecord*> signals;
    } unit;
    bool in_action = false;
    auto close_unit = [&] {
      std::map<proto::Partition, int> left = unit.decisions;
      for (const proto::TraceRecord* record : unit.signals) {
        const proto::SignalRecord& signal = record->signal();
        if (left[signal.from()]-- > 0) {
          continue;
        }
        const bool host = signal.from() == proto::PARTITION_HOST;
        const std::uint32_t channel =
            host ? signal.child_relid() : wire::relid_of_connection_id(signal.connection_id());
        result_.oracles.push_back(OracleFiring{
            "spurious_signal", s_.channel_name(channel),
            std::string(host ? "the host" : "the guest") + " signalled (trace record " +
                std::to_string(record->sequence()) + ") with no ring decision calling for it"});
      }
      unit = Unit{};
    };
    for (const proto::TraceRecord& record : records_) {
      if (record.has_scheduler() || record.has_action()) {
        close_unit();
        in_action = record.has_action();
        continue;
      }
      if (in_action) {
        continue;  // the scenario's own actions (a malicious host's raw writes) are exempt
      }
      if ((record.has_ring() && record.ring().op() == "signal") ||
          (record.has_kmcl() && record.kmcl().kind() == "signal_peer")) {
        ++unit.decisions[record.partition()];
      } else if (record.has_signal() &&
                 (record.signal().stage() == proto::SignalRecord::STAGE_SIGNALLED ||
                  record.signal().stage() == proto::SignalRecord::STAGE_COALESCED)) {
        unit.signals.push_back(&record);
      }
    }
    close_unit();
  }

  void check_oracles() {
    std::vector<bool> matched(result_.oracles.size(), false);
    for (const proto::OracleExpectation& expected : s_.expect.oracle()) {
      bool fired = false;
      for (std::size_t i = 0; i < result_.oracles.size(); ++i) {
        const OracleFiring& firing = result_.oracles[i];
        if (firing.name == expected.name() &&
            (expected.channel().empty() || firing.channel == expected.channel())) {
          fired = true;
          matched[i] = true;
        }
      }
      if (!fired) {
        fail("expected the " + expected.name() + " oracle to fire" +
             (expected.channel().empty() ? "" : " on " + quoted(expected.channel())) +
             "; it did not");
      }
    }
    for (std::size_t i = 0; i < result_.oracles.size(); ++i) {
      if (!matched[i]) {
        const OracleFiring& firing = result_.oracles[i];
        fail("oracle " + firing.name + " fired" +
             (firing.channel.empty() ? "" : " on " + quoted(firing.channel)) + ": " + firing.what);
      }
    }
  }

  const CompiledScenario& s_;
  const std::vector<proto::TraceRecord>& records_;
  ScenarioResult& result_;
};

}  // namespace

namespace {

hypervisor::Side side_of(proto::Side side) {
  return side == proto::HOST ? hypervisor::Side::kHost : hypervisor::Side::kGuest;
}

hypervisor::Direction direction_of(proto::Direction direction) {
  return direction == proto::HOST_TO_GUEST ? hypervisor::Direction::kHostToGuest
                                           : hypervisor::Direction::kGuestToHost;
}

hypervisor::RequestAction request(hypervisor::Side side, proto::PartitionAction action) {
  return hypervisor::RequestAction{side, std::move(action)};
}

}  // namespace

hypervisor::Intervention intervention_of(const proto::Step& step) {
  using hypervisor::Side;
  proto::PartitionAction action;
  switch (step.action_case()) {
    case proto::Step::kHostSend:
      *action.mutable_send() = step.host_send();
      return request(Side::kHost, std::move(action));
    case proto::Step::kGuestSend:
      *action.mutable_send() = step.guest_send();
      return request(Side::kGuest, std::move(action));
    case proto::Step::kRingWrite:
      *action.mutable_ring_write() = step.ring_write();
      return request(Side::kHost, std::move(action));
    case proto::Step::kRawPacket:
      *action.mutable_raw_packet() = step.raw_packet();
      return request(Side::kHost, std::move(action));
    case proto::Step::kTamper:
      *action.mutable_tamper() = step.tamper();
      return request(Side::kHost, std::move(action));
    case proto::Step::kSetIndex:
      *action.mutable_set_index() = step.set_index();
      return request(Side::kHost, std::move(action));
    case proto::Step::kChannelOp:
      *action.mutable_channel_op() = step.channel_op();
      return request(
          step.channel_op().op() == proto::ChannelOpAction::RESCIND ? Side::kHost : Side::kGuest,
          std::move(action));
    case proto::Step::kSetPolicy:
      *action.mutable_set_policy() = step.set_policy();
      return request(Side::kGuest, std::move(action));
    case proto::Step::kInterruptFault: {
      const proto::InterruptFault& fault = step.interrupt_fault();
      hypervisor::ArmSignalFault arm;
      arm.direction = direction_of(fault.direction());
      arm.kind = fault.kind() == proto::InterruptFault::DROP
                     ? hypervisor::ArmSignalFault::Kind::kDrop
                 : fault.kind() == proto::InterruptFault::DELAY
                     ? hypervisor::ArmSignalFault::Kind::kDelay
                     : hypervisor::ArmSignalFault::Kind::kDuplicate;
      arm.count = fault.count();
      arm.delay_us = fault.delay_us();
      arm.child_relid = fault.child_relid();
      return arm;
    }
    case proto::Step::kSpuriousInterrupt:
      return hypervisor::InjectSpuriousInterrupt{
          direction_of(step.spurious_interrupt().direction()),
          step.spurious_interrupt().child_relid()};
    case proto::Step::kMessageFault: {
      const proto::MessageFault& fault = step.message_fault();
      using Kind = hypervisor::ArmMessageFault::Kind;
      hypervisor::ArmMessageFault arm;
      arm.direction = direction_of(fault.direction());
      switch (fault.kind()) {
        case proto::MessageFault::DELAY:
          arm.kind = Kind::kDelay;
          break;
        case proto::MessageFault::DUPLICATE:
          arm.kind = Kind::kDuplicate;
          break;
        case proto::MessageFault::REORDER:
          arm.kind = Kind::kReorder;
          break;
        case proto::MessageFault::CORRUPT:
          arm.kind = Kind::kCorrupt;
          break;
        default:
          arm.kind = Kind::kDrop;
          break;
      }
      if (!fault.any_type()) {
        arm.msgtype = fault.msgtype();
      }
      arm.count = fault.count();
      arm.delay_us = fault.delay_us();
      arm.corrupt_offset = fault.corrupt_offset();
      arm.corrupt_bytes = fault.corrupt_bytes().raw();
      return arm;
    }
    case proto::Step::kCrash:
      return hypervisor::CrashPartition{side_of(step.crash().side())};
    case proto::Step::kHold:
      return hypervisor::HoldContext{side_of(step.hold().side()), step.hold().context()};
    case proto::Step::kRelease:
      return hypervisor::ReleaseContext{side_of(step.release().side()), step.release().context()};
    case proto::Step::kAdvanceTime:
      return hypervisor::AdvanceTime{step.advance_time().us() * 1000};
    case proto::Step::kNote:
      return hypervisor::WriteNote{step.note()};
    default:  // wait_until, or an entry with only a time: nothing to do
      return hypervisor::NoIntervention{};
  }
}

std::optional<std::uint32_t> CompiledScenario::relid_of(const std::string& channel) const {
  for (const CompiledChannel& c : channels) {
    if (c.name == channel) {
      return c.relid;
    }
  }
  return std::nullopt;
}

std::string CompiledScenario::channel_name(std::uint32_t relid) const {
  for (const CompiledChannel& c : channels) {
    if (c.relid == relid) {
      return c.name;
    }
  }
  return relid == 0 ? "" : "relid " + std::to_string(relid);
}

CompiledScenario compile_scenario(const LoadedScenario& loaded) {
  const proto::Scenario& s = loaded.scenario;
  CompiledScenario c;
  c.name = s.name();
  c.display_path = loaded.display_path;
  c.default_seed = s.seed() != 0 ? s.seed() : 1;
  c.time_limit_ns = (s.time_limit_us() != 0 ? s.time_limit_us() : kDefaultTimeLimitUs) * 1000;
  c.expect = s.expect();

  c.host.set_max_version(version_from_text(s.topology().host_max_version()));
  c.guest.set_max_version(version_from_text(s.topology().guest_max_version()));
  c.guest.set_ring_pages(kDefaultRingPages);
  std::set<std::uint32_t> taken;
  for (const proto::ChannelSpec& spec : s.topology().channel()) {
    if (spec.relid() != 0) {
      taken.insert(spec.relid());
    }
  }
  std::uint32_t next_relid = 1;
  for (const proto::ChannelSpec& spec : s.topology().channel()) {
    std::uint32_t relid = spec.relid();
    if (relid == 0) {
      while (taken.count(next_relid) != 0) {
        ++next_relid;
      }
      relid = next_relid;
      taken.insert(relid);
    }
    c.channels.push_back(CompiledChannel{spec.name(), relid});

    proto::ChannelOfferConfig& offer = *c.host.add_channels();
    offer.set_child_relid(relid);
    offer.set_interface_guid(spec.interface_guid().empty() ? kDefaultInterfaceGuid
                                                           : spec.interface_guid());
    char instance[40];
    std::snprintf(instance, sizeof(instance), "00000000-0000-0000-0000-%012x", relid);
    offer.set_instance_guid(instance);
    *offer.mutable_vsp() = spec.host_vsp();
    if (offer.vsp().kind() == proto::VspConfig::KIND_UNSPECIFIED) {
      offer.mutable_vsp()->set_kind(proto::VspConfig::KIND_ECHO);
    }

    c.guest.add_open_relids(relid);
    proto::KmclDriverConfig& driver = *c.guest.add_kmcl_drivers();
    driver.set_child_relid(relid);
    *driver.mutable_rules() = spec.guest_driver().rule();
    *driver.mutable_default_action() = spec.guest_driver().default_action();
    driver.set_maximum_packet_size(spec.max_packet_size());
    driver.set_quota(spec.quota());
    driver.set_require_passive(spec.require_passive());
    driver.set_ring_pages(spec.ring_pages());
    driver.set_escalate_fail_to_close(spec.escalate_fail_to_close());
    driver.set_external_data_latency_steps(spec.external_data_latency_steps());
    driver.set_defer_livelock_limit(spec.defer_livelock_limit());
    driver.set_scenario(true);
  }

  for (const proto::Step& written : s.step()) {
    proto::Step step = written;
    auto relid = [&c](const std::string& name) { return c.relid_of(name).value_or(0); };
    switch (step.action_case()) {
      case proto::Step::kHostSend:
      case proto::Step::kGuestSend: {
        proto::SendAction& send = step.action_case() == proto::Step::kHostSend
                                      ? *step.mutable_host_send()
                                      : *step.mutable_guest_send();
        send.set_child_relid(relid(send.channel()));
        resolve_payload(*send.mutable_payload());
        break;
      }
      case proto::Step::kRingWrite:
        step.mutable_ring_write()->set_child_relid(relid(step.ring_write().channel()));
        resolve_payload(*step.mutable_ring_write()->mutable_bytes());
        break;
      case proto::Step::kRawPacket:
        step.mutable_raw_packet()->set_child_relid(relid(step.raw_packet().channel()));
        resolve_payload(*step.mutable_raw_packet()->mutable_payload());
        break;
      case proto::Step::kTamper:
        step.mutable_tamper()->set_child_relid(relid(step.tamper().channel()));
        resolve_payload(*step.mutable_tamper()->mutable_bytes());
        break;
      case proto::Step::kSetIndex:
        step.mutable_set_index()->set_child_relid(relid(step.set_index().channel()));
        break;
      case proto::Step::kInterruptFault:
        step.mutable_interrupt_fault()->set_child_relid(relid(step.interrupt_fault().channel()));
        break;
      case proto::Step::kSpuriousInterrupt:
        step.mutable_spurious_interrupt()->set_child_relid(
            relid(step.spurious_interrupt().channel()));
        break;
      case proto::Step::kMessageFault: {
        proto::MessageFault& fault = *step.mutable_message_fault();
        if (fault.message().empty()) {
          fault.set_any_type(true);
        } else {
          fault.set_msgtype(scenario_message_type(fault.message()).value_or(0));
        }
        resolve_payload(*fault.mutable_corrupt_bytes());
        break;
      }
      case proto::Step::kChannelOp:
        step.mutable_channel_op()->set_child_relid(relid(step.channel_op().channel()));
        break;
      case proto::Step::kSetPolicy:
        step.mutable_set_policy()->set_child_relid(relid(step.set_policy().channel()));
        break;
      default:
        break;
    }
    c.steps.push_back(std::move(step));
  }
  return c;
}

void judge(const CompiledScenario& scenario, const std::vector<proto::TraceRecord>& records,
           ScenarioResult& result) {
  result.verdict = Verdict::kPassed;
  Judge(scenario, records, result).run();
}

ScenarioResult run_scenario(const CompiledScenario& scenario, std::uint64_t seed,
                            const RunOptions& options) {
  ScenarioScript script(scenario);
  hypervisor::SimulationConfig config;
  config.host_binary = options.host_binary;
  config.guest_binary = options.guest_binary;
  config.mode = proto::SCHEDULING_MODE_DETERMINISTIC;
  config.seed = seed;
  config.scenario_name = scenario.name;
  config.trace_path = options.trace_path;
  config.response_timeout = options.response_timeout;
  config.time_limit_ns = scenario.time_limit_ns;
  config.segment_size_bytes = 16ull << 20;
  std::string host_config;
  std::string guest_config;
  scenario.host.SerializeToString(&host_config);
  scenario.guest.SerializeToString(&guest_config);
  config.host_config = host_config;
  config.guest_config = guest_config;
  config.script = &script;

  ScenarioResult result;
  result.seed = seed;
  result.trace_path = options.trace_path;
  result.run = hypervisor::run_simulation(config);
  result.steps_run = script.steps_run();
  judge(scenario, script.records(), result);
  if (!script.error().empty()) {
    result.failures.insert(result.failures.begin(), script.error());
    if (result.verdict == Verdict::kPassed) {
      result.verdict = Verdict::kFailed;
    }
  }
  const bool expect_crash = scenario.expect.outcome() != proto::Expectations::COMPLETED;
  if (!expect_crash && result.run.outcome == hypervisor::RunOutcome::kCompleted) {
    const std::string unfinished = script.unfinished(result.run.time_ns);
    if (!unfinished.empty()) {
      result.failures.insert(result.failures.begin(), unfinished);
      if (result.verdict == Verdict::kPassed) {
        result.verdict = Verdict::kFailed;
      }
    }
  }
  return result;
}

}  // namespace vmbus::runner
