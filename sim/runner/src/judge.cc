// The judge: a finished run against the scenario's expectations, then the
// oracles (the partitions' findings and the runner's own).
#include <algorithm>
#include <cctype>
#include <cerrno>
#include <csignal>
#include <filesystem>
#include <map>
#include <sys/types.h>
#include <tuple>

#include "vmbus/base/check.h"
#include "vmbus/trace/match.h"
#include "vmbus/trace/render.h"
#include "vmbus/wire/synic.h"

#include "internal.h"

namespace vmbus::runner {
namespace {

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

// Where a counter a scenario may expect comes from: a field of the guest's
// KMCL channel report, a field of the host's channel report, or a count of
// trace records. docs/SCENARIOS.md keeps the names users write.
enum class TraceCount {
  kNone,
  kSignalsHostToGuest,
  kSignalsGuestToHost,
  kInterruptsToGuest,
  kInterruptsToHost,
  kViolations,
};

struct CounterSource {
  std::string name;
  std::uint64_t (*guest)(const proto::KmclChannelReport&) = nullptr;
  std::uint64_t (*host)(const proto::HostChannelReport&) = nullptr;
  TraceCount trace = TraceCount::kNone;
};

using Guest = proto::KmclChannelReport;
using Host = proto::HostChannelReport;

const std::vector<CounterSource>& counter_sources() {
  static const std::vector<CounterSource> kSources = {
      // The guest driver's channel (KMCL ChannelStats).
      {"dequeued", [](const Guest& r) { return r.dequeued(); }},
      {"delivered", [](const Guest& r) { return r.delivered(); }},
      {"deferred", [](const Guest& r) { return r.deferred(); }},
      {"failed", [](const Guest& r) { return r.failed(); }},
      {"completed", [](const Guest& r) { return r.completed(); }},
      {"completions_sent", [](const Guest& r) { return r.completions_sent(); }},
      {"packets_sent", [](const Guest& r) { return r.packets_sent(); }},
      {"dropped", [](const Guest& r) { return r.dropped(); }},
      {"protocol_errors", [](const Guest& r) { return r.protocol_errors(); }},
      {"unexpected_completions", [](const Guest& r) { return r.unexpected_completions(); }},
      {"outstanding", [](const Guest& r) { return r.outstanding(); }},
      {"redelivery_mismatches", [](const Guest& r) { return r.redelivery_mismatches(); }},
      {"sends_in_flight", [](const Guest& r) { return r.sends_in_flight(); }},
      {"queued_sends", [](const Guest& r) { return r.queued_sends(); }},
      // The host's VSP.
      {"host_packets_received", nullptr, [](const Host& r) { return r.packets_received(); }},
      {"host_packets_sent", nullptr, [](const Host& r) { return r.packets_sent(); }},
      {"host_completions_received", nullptr,
       [](const Host& r) { return r.completions_received(); }},
      {"host_pending_transactions", nullptr,
       [](const Host& r) { return r.pending_transactions(); }},
      {"interrupts_suppressed", nullptr, [](const Host& r) { return r.signals_masked(); }},
      // Counted in the trace.
      {"signals_host_to_guest", nullptr, nullptr, TraceCount::kSignalsHostToGuest},
      {"signals_guest_to_host", nullptr, nullptr, TraceCount::kSignalsGuestToHost},
      {"interrupts_to_guest", nullptr, nullptr, TraceCount::kInterruptsToGuest},
      {"interrupts_to_host", nullptr, nullptr, TraceCount::kInterruptsToHost},
      {"violations", nullptr, nullptr, TraceCount::kViolations},
  };
  return kSources;
}

const CounterSource* counter_source(const std::string& name) {
  for (const CounterSource& source : counter_sources()) {
    if (source.name == name) {
      return &source;
    }
  }
  return nullptr;
}

// The partition whose driver an expectation names: the guest's unless HOST.
proto::Partition driver_partition(proto::Side side) {
  return side == proto::HOST ? proto::PARTITION_HOST : proto::PARTITION_GUEST;
}

const char* partition_words(proto::Partition partition) {
  return partition == proto::PARTITION_HOST ? "host" : "guest";
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
    if (!have_final()) {
      fail("the negotiated version cannot be checked: the run ended before the final report");
      return;
    }
    const std::string& got = result_.run.guest_final.negotiated_version();
    if (got != wanted) {
      fail("expected protocol " + wanted + " to be negotiated, " +
           (got.empty() ? std::string("the guest never connected") : "got " + got));
    }
  }

  // `side`'s driver's callbacks on `relid` ("driver" records), filtered.
  std::vector<std::string> callbacks(std::uint32_t channel,
                                     const google::protobuf::RepeatedPtrField<std::string>& only,
                                     proto::Partition side) {
    std::vector<std::string> out;
    for (const proto::TraceRecord& record : records_) {
      if (!record.has_kmcl() || record.kmcl().kind() != "driver" || record.partition() != side ||
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
      const proto::Partition side = driver_partition(expected.side());
      const std::vector<std::string> got =
          callbacks(relid(expected.channel()), expected.only(), side);
      const auto& want = expected.call();
      // "channel 'net'" for the guest's driver, "channel 'net' (host)" for the VSP's.
      const std::string channel =
          quoted(expected.channel()) + (side == proto::PARTITION_HOST ? " (host)" : "");
      const std::size_t common =
          std::min<std::size_t>(got.size(), static_cast<std::size_t>(want.size()));
      bool reported = false;
      for (std::size_t i = 0; i < common; ++i) {
        if (got[i] != want[static_cast<int>(i)]) {
          fail("channel " + channel + ": callback " + std::to_string(i + 1) + " was '" + got[i] +
               "', expected '" + want[static_cast<int>(i)] + "'");
          reported = true;
          break;
        }
      }
      if (reported) {
        continue;
      }
      if (got.size() < static_cast<std::size_t>(want.size())) {
        fail("channel " + channel + ": " + std::to_string(got.size()) + " callback(s), expected " +
             std::to_string(want.size()) + "; the first missing is '" +
             want[static_cast<int>(got.size())] + "'");
      } else if (got.size() > static_cast<std::size_t>(want.size())) {
        fail("channel " + channel + ": " + std::to_string(got.size()) + " callback(s), expected " +
             std::to_string(want.size()) + "; the first extra is '" +
             got[static_cast<std::size_t>(want.size())] + "'");
      }
    }
  }

  // The final report of `side`'s KMCL channel `channel`, or nullptr (and a
  // failure saying why `what` cannot be checked).
  const proto::KmclChannelReport* kmcl_channel(std::uint32_t channel, proto::Partition side,
                                               const std::string& what) {
    if (!have_final()) {
      fail(what + " cannot be checked: the run ended before the final report");
      return nullptr;
    }
    const auto& reports = side == proto::PARTITION_HOST ? result_.run.host_final.kmcl_channels()
                                                        : result_.run.guest_final.kmcl_channels();
    for (const proto::KmclChannelReport& report : reports) {
      if (report.child_relid() == channel) {
        return &report;
      }
    }
    fail(what + " cannot be checked: the " + partition_words(side) +
         "'s final report has no KMCL channel " + std::to_string(channel));
    return nullptr;
  }

  // The same for the host's channel `channel`.
  const proto::HostChannelReport* host_channel(std::uint32_t channel, const std::string& what) {
    if (!have_final()) {
      fail(what + " cannot be checked: the run ended before the final report");
      return nullptr;
    }
    for (const proto::HostChannelReport& report : result_.run.host_final.channels()) {
      if (report.child_relid() == channel) {
        return &report;
      }
    }
    fail(what + " cannot be checked: the host's final report has no channel " +
         std::to_string(channel));
    return nullptr;
  }

  void check_states() {
    for (const proto::StateExpectation& state : s_.expect.state()) {
      const proto::Partition side = driver_partition(state.side());
      const std::string channel =
          quoted(state.channel()) + (side == proto::PARTITION_HOST ? " (host)" : "");
      const proto::KmclChannelReport* report =
          kmcl_channel(relid(state.channel()), side, "the state of " + channel);
      if (report == nullptr) {
        continue;
      }
      for (const auto& [field, wanted, got] :
           {std::tuple<std::string, std::string, std::string>{
                "channel_state", state.channel_state(), report->channel_state()},
            {"queue_state", state.queue_state(), report->queue_state()}}) {
        if (wanted.empty() || got == wanted) {
          continue;
        }
        std::string text =
            "channel " + channel + ": " + field + " is " + got + ", expected " + wanted;
        if (!report->stop_reason().empty()) {
          text += " (stopped: " + report->stop_reason() + ")";
        }
        fail(text);
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
                                       proto::Partition side, const std::string& what) {
    const CounterSource* source = counter_source(name);
    VMBUS_CHECK(source != nullptr, "the scenario checker let unknown counter '" + name + "' pass");
    switch (source->trace) {
      case TraceCount::kSignalsHostToGuest:
        return count_signals(proto::PARTITION_HOST, proto::SignalRecord::STAGE_SIGNALLED,
                             proto::SignalRecord::STAGE_COALESCED, channel);
      case TraceCount::kSignalsGuestToHost:
        return count_signals(proto::PARTITION_GUEST, proto::SignalRecord::STAGE_SIGNALLED,
                             proto::SignalRecord::STAGE_COALESCED, channel);
      case TraceCount::kInterruptsToGuest:
        return count_signals(proto::PARTITION_HOST, proto::SignalRecord::STAGE_DELIVERED,
                             proto::SignalRecord::STAGE_DELIVERED, channel);
      case TraceCount::kInterruptsToHost:
        return count_signals(proto::PARTITION_GUEST, proto::SignalRecord::STAGE_DELIVERED,
                             proto::SignalRecord::STAGE_DELIVERED, channel);
      case TraceCount::kViolations:
        return count_violations(channel, side);
      case TraceCount::kNone:
        break;
    }
    if (source->host != nullptr) {
      const proto::HostChannelReport* report = host_channel(channel, what);
      return report != nullptr ? std::optional(source->host(*report)) : std::nullopt;
    }
    const proto::KmclChannelReport* report = kmcl_channel(channel, side, what);
    return report != nullptr ? std::optional(source->guest(*report)) : std::nullopt;
  }

  std::uint64_t count_violations(std::uint32_t channel, proto::Partition side) const {
    std::uint64_t n = 0;
    for (const proto::TraceRecord& record : records_) {
      if (record.has_kmcl() && record.kmcl().kind() == "violation" && record.partition() == side &&
          relid_of_context(record.context()) == channel) {
        ++n;
      }
    }
    return n;
  }

  void check_counters() {
    for (const proto::CounterExpectation& expected : s_.expect.counter()) {
      const proto::Partition side = driver_partition(expected.side());
      const std::string what = "counter " + expected.name() + " of " + quoted(expected.channel()) +
                               (expected.side() == proto::HOST ? " (host)" : "");
      const auto got = counter(expected.name(), relid(expected.channel()), side, what);
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
      proto::Partition partition;
      std::string text;
      bool expected = false;
    };
    std::vector<Seen> seen;
    for (const proto::TraceRecord& record : records_) {
      if (record.has_kmcl() && record.kmcl().kind() == "violation") {
        seen.push_back(Seen{record.kmcl().code(), relid_of_context(record.context()),
                            record.partition(),
                            std::string(partition_words(record.partition())) + " " +
                                record.context() + ": " + trace::event_text(record)});
      }
    }
    for (const proto::ViolationExpectation& expected : s_.expect.violation()) {
      std::uint32_t n = 0;
      for (Seen& v : seen) {
        if (v.code == expected.code() &&
            (expected.channel().empty() || v.relid == relid(expected.channel())) &&
            (expected.side() == proto::ANY_SIDE ||
             v.partition == driver_partition(expected.side()))) {
          ++n;
          v.expected = true;
        }
      }
      std::string where = expected.channel().empty() ? "" : " on " + quoted(expected.channel());
      if (expected.side() != proto::ANY_SIDE) {
        where += std::string(" by the ") + partition_words(driver_partition(expected.side()));
      }
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
    for (int i = 0; i < s_.expect.trace_size(); ++i) {
      const proto::TraceExpectation& expected = s_.expect.trace(i);
      const trace::RecordPattern& pattern = s_.expected_trace[static_cast<std::size_t>(i)];
      const auto n = static_cast<std::uint32_t>(std::count_if(
          records_.begin(), records_.end(), [&pattern](const proto::TraceRecord& record) {
            return trace::matches(record, pattern);
          }));
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
    // Reported by the partitions from their end state.
    for (const auto* findings :
         {&result_.run.host_final.findings(), &result_.run.guest_final.findings()}) {
      for (const proto::OracleFinding& finding : *findings) {
        result_.oracles.push_back(
            OracleFiring{finding.name(), s_.channel_name(finding.child_relid()), finding.what()});
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

const std::vector<std::string>& scenario_counter_names() {
  static const std::vector<std::string> kNames = [] {
    std::vector<std::string> names;
    for (const CounterSource& source : counter_sources()) {
      names.push_back(source.name);
    }
    return names;
  }();
  return kNames;
}

std::string counter_side_problem(const std::string& name, proto::Side side) {
  const CounterSource* source = counter_source(name);
  if (source == nullptr || side == proto::ANY_SIDE) {
    return "";
  }
  if (source->host != nullptr && side != proto::HOST) {
    return "counter " + name + " is the host VSP's; it takes no side";
  }
  if (source->guest == nullptr && source->host == nullptr &&
      source->trace != TraceCount::kViolations) {
    return "counter " + name + " counts the trace's signal records; it takes no side";
  }
  return "";
}

void judge(const CompiledScenario& scenario, const std::vector<proto::TraceRecord>& records,
           ScenarioResult& result) {
  result.verdict = Verdict::kPassed;
  Judge(scenario, records, result).run();
}

}  // namespace vmbus::runner
