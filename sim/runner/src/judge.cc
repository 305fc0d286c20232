// The judge: a finished run against the scenario's expectations, then the
// oracles (the partitions' findings and the runner's own). What it needs
// from the trace the run's TraceTally gathered while the run went on.
#include <algorithm>
#include <cerrno>
#include <csignal>
#include <filesystem>
#include <optional>
#include <sys/types.h>
#include <tuple>

#include "vmbus/base/check.h"

#include "internal.h"
#include "tally.h"

namespace vmbus::runner {
namespace {

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

// Whether the run's anonymous segment `name` is still held by this process
// (one of its descriptors shows "/memfd:<name> (deleted)"), or, as a named
// segment, still in /dev/shm.
bool segment_still_open(const std::string& name) {
  namespace fs = std::filesystem;
  std::error_code error;
  if (fs::exists(fs::path("/dev/shm") / name, error)) {
    return true;
  }
  const std::string memfd = "/memfd:" + name + " ";
  for (fs::directory_iterator it("/proc/self/fd", error), end; !error && it != end;
       it.increment(error)) {
    std::error_code unreadable;
    const std::string target = fs::read_symlink(it->path(), unreadable).string();
    if (!unreadable && (target + " ").rfind(memfd, 0) == 0) {
      return true;
    }
  }
  return false;
}

class Judge {
 public:
  Judge(const CompiledScenario& scenario, const TraceTally& tally, ScenarioResult& result)
      : s_(scenario), tally_(tally), result_(result) {}

  void run() {
    const proto::Expectations& e = s_.expect;
    const hypervisor::RunResult& run = result_.run;
    const bool expect_crash = e.outcome() != proto::Expectations::COMPLETED;
    if (e.has_driver_crash()) {
      check_driver_crash(e.driver_crash());
    } else if (run.outcome == hypervisor::RunOutcome::kDriverFault) {
      // The user's code failed, not the simulator: a FAIL, with the driver
      // named first.
      fail(run.detail);
    } else if (expect_crash) {
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

  // The run ended in the driver crash the scenario expects, field by field.
  void check_driver_crash(const proto::DriverCrashExpectation& expected) {
    const hypervisor::RunResult& run = result_.run;
    const std::string who = expected.side() == proto::HOST ? "host" : "guest";
    std::string want = "expected the " + who + " driver to crash";
    if (!expected.callback().empty()) {
      want += " in " + expected.callback();
    }
    if (!expected.channel().empty()) {
      want += " of channel '" + expected.channel() + "'";
    }
    if (expected.has_packet()) {
      want += ", packet #" + std::to_string(expected.packet());
    }
    if (!expected.reason().empty()) {
      want += " (" + expected.reason() + ")";
    }
    const std::optional<hypervisor::DriverFault>& fault = run.driver_fault;
    if (run.outcome != hypervisor::RunOutcome::kDriverFault || !fault) {
      fail(want + ", but the run ended " + hypervisor::run_outcome_name(run.outcome) +
           (run.detail.empty() ? "" : ": " + run.detail));
      return;
    }
    const std::string how =
        fault->kind == hypervisor::DriverFault::Kind::kHung     ? "hung (" + fault->reason + ")"
        : fault->kind == hypervisor::DriverFault::Kind::kFailed ? "failed: " + fault->reason
                                                                : fault->reason;
    const bool same =
        (fault->side == hypervisor::Side::kHost) == (expected.side() == proto::HOST) &&
        (expected.callback().empty() || expected.callback() == fault->callback) &&
        (expected.channel().empty() || expected.channel() == fault->channel) &&
        (!expected.has_packet() || static_cast<std::int64_t>(expected.packet()) == fault->packet) &&
        how.find(expected.reason()) != std::string::npos;
    if (!same) {
      fail(want + ", but " + run.detail);
    }
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

  void check_callbacks() {
    for (int e = 0; e < s_.expect.callbacks_size(); ++e) {
      const proto::CallbackExpectation& expected = s_.expect.callbacks(e);
      const TraceTally::Sequence& sequence = tally_.callbacks()[static_cast<std::size_t>(e)];
      // The tally keeps every callback the comparison reads: the expected
      // number and more.
      const std::vector<std::string>& got = sequence.first;
      const auto& want = expected.call();
      // "channel 'net'" for the guest's driver, "channel 'net' (host)" for the VSP's.
      const std::string channel =
          quoted(expected.channel()) + (expected.side() == proto::HOST ? " (host)" : "");
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
      if (sequence.length < static_cast<std::size_t>(want.size())) {
        fail("channel " + channel + ": " + std::to_string(sequence.length) +
             " callback(s), expected " + std::to_string(want.size()) + "; the first missing is '" +
             want[static_cast<int>(got.size())] + "'");
      } else if (sequence.length > static_cast<std::size_t>(want.size())) {
        fail("channel " + channel + ": " + std::to_string(sequence.length) +
             " callback(s), expected " + std::to_string(want.size()) + "; the first extra is '" +
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

  // The value of the `index`-th counter expectation, `name` of `channel`.
  std::optional<std::uint64_t> counter(int index, const std::string& name, std::uint32_t channel,
                                       proto::Partition side, const std::string& what) {
    const CounterSource* source = counter_source(name);
    VMBUS_CHECK(source != nullptr, "the scenario checker let unknown counter '" + name + "' pass");
    if (source->trace != TraceCount::kNone) {
      return tally_.trace_counters()[static_cast<std::size_t>(index)];
    }
    if (source->host != nullptr) {
      const proto::HostChannelReport* report = host_channel(channel, what);
      return report != nullptr ? std::optional(source->host(*report)) : std::nullopt;
    }
    const proto::KmclChannelReport* report = kmcl_channel(channel, side, what);
    return report != nullptr ? std::optional(source->guest(*report)) : std::nullopt;
  }

  void check_counters() {
    for (int e = 0; e < s_.expect.counter_size(); ++e) {
      const proto::CounterExpectation& expected = s_.expect.counter(e);
      const std::string what = "counter " + expected.name() + " of " + quoted(expected.channel()) +
                               (expected.side() == proto::HOST ? " (host)" : "");
      const auto got = counter(e, expected.name(), relid(expected.channel()),
                               driver_partition(expected.side()), what);
      if (got && *got != expected.value()) {
        fail(what + " is " + std::to_string(*got) + ", expected " +
             std::to_string(expected.value()));
      }
    }
  }

  void check_completions() {
    for (int e = 0; e < s_.expect.completions_size(); ++e) {
      const proto::CompletionExpectation& expected = s_.expect.completions(e);
      const TraceTally::Sequence& got = tally_.completions()[static_cast<std::size_t>(e)];
      const std::vector<std::string> want(expected.status().begin(), expected.status().end());
      if (got.length == want.size() && got.first == want) {
        continue;
      }
      auto join = [](const std::vector<std::string>& list, std::uint64_t length) {
        std::string text;
        for (const std::string& item : list) {
          text += (text.empty() ? "" : ", ") + item;
        }
        if (length > list.size()) {
          text += ", ... (" + std::to_string(length) + " in all)";
        }
        return "[" + text + "]";
      };
      const bool host = expected.side() == proto::HOST;
      fail(std::string(host ? "host" : "guest") + " sends on " + quoted(expected.channel()) +
           " completed " + join(got.first, got.length) + ", expected " + join(want, want.size()));
    }
  }

  void check_violations() {
    const TraceTally::Violations& seen = tally_.violations();
    for (int e = 0; e < s_.expect.violation_size(); ++e) {
      const proto::ViolationExpectation& expected = s_.expect.violation(e);
      const std::uint32_t n = seen.expected[static_cast<std::size_t>(e)];
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
    // One is enough to read; the trace has the rest.
    if (!seen.first_unexpected.empty()) {
      fail("unexpected verifier violation " + seen.first_unexpected);
    }
  }

  void check_trace() {
    for (int i = 0; i < s_.expect.trace_size(); ++i) {
      const proto::TraceExpectation& expected = s_.expect.trace(i);
      const std::uint32_t n = tally_.trace_matches()[static_cast<std::size_t>(i)];
      const std::string what =
          "the trace event " + describe_match(expected.event()) +
          (expected.has_after() ? " after " + describe_match(expected.after()) : "");
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
    const std::vector<OracleFiring>& spurious = tally_.spurious_signals();
    result_.oracles.insert(result_.oracles.end(), spurious.begin(), spurious.end());
    // Whatever the run's outcome, its shared memory and processes must be gone.
    const hypervisor::RunResult& run = result_.run;
    for (const std::string* segment : {&run.segment_name, &run.driver_slot_segment_name}) {
      if (!segment->empty() && segment_still_open(*segment)) {
        result_.oracles.push_back(
            OracleFiring{"leak", "", "shared-memory segment " + *segment + " outlived the run"});
      }
    }
    for (const auto& [who, pid] : {std::pair<std::string, int>{"vmbus-host", run.host_pid},
                                   {"vmbus-guest", run.guest_pid}}) {
      if (!process_gone(pid)) {
        result_.oracles.push_back(
            OracleFiring{"leak", "", who + " (pid " + std::to_string(pid) + ") outlived the run"});
      }
    }
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
    for (const proto::OracleExpectation& allowed : s_.allowed_oracles) {
      for (std::size_t i = 0; i < result_.oracles.size(); ++i) {
        matched[i] =
            matched[i] ||
            (result_.oracles[i].name == allowed.name() &&
             (allowed.channel().empty() || result_.oracles[i].channel == allowed.channel()));
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
  const TraceTally& tally_;
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

namespace {

template <typename Report, typename Getter>
std::string counter_words(const Report& report, Getter getter) {
  std::string text;
  for (const CounterSource& source : counter_sources()) {
    if (const auto value = getter(source)) {
      text += (text.empty() ? "" : " ") + source.name + "=" + std::to_string(value(report));
    }
  }
  return text;
}

}  // namespace

std::string kmcl_counter_words(const proto::KmclChannelReport& report) {
  return counter_words(report, [](const CounterSource& source) { return source.guest; });
}

std::string host_counter_words(const proto::HostChannelReport& report) {
  return counter_words(report, [](const CounterSource& source) { return source.host; });
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

void judge(const CompiledScenario& scenario, const TraceTally& tally, ScenarioResult& result) {
  result.verdict = Verdict::kPassed;
  Judge(scenario, tally, result).run();
}

void judge(const CompiledScenario& scenario, const std::vector<proto::TraceRecord>& records,
           ScenarioResult& result) {
  TraceTally tally(scenario);
  for (const proto::TraceRecord& record : records) {
    tally.add(record);
  }
  tally.finish();
  judge(scenario, tally, result);
}

}  // namespace vmbus::runner
