#include "tally.h"

#include <algorithm>
#include <cctype>

#include "vmbus/trace/match.h"
#include "vmbus/trace/render.h"
#include "vmbus/wire/synic.h"

#include "internal.h"

namespace vmbus::runner {
namespace {

// A compared sequence keeps the values the comparison and its message can
// show: the expected ones, the first extra, and a few more for a reader.
constexpr std::size_t kExtraValuesKept = 8;

void append(TraceTally::Sequence& sequence, std::size_t kept, const std::string& value) {
  if (sequence.first.size() < kept) {
    sequence.first.push_back(value);
  }
  ++sequence.length;
}

}  // namespace

// The partition whose driver an expectation names: the guest's unless HOST.
proto::Partition driver_partition(proto::Side side) {
  return side == proto::HOST ? proto::PARTITION_HOST : proto::PARTITION_GUEST;
}

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

TraceTally::TraceTally(const CompiledScenario& scenario)
    : s_(scenario),
      callbacks_(static_cast<std::size_t>(scenario.expect.callbacks_size())),
      trace_counters_(static_cast<std::size_t>(scenario.expect.counter_size()), 0),
      completions_(static_cast<std::size_t>(scenario.expect.completions_size())),
      trace_matches_(static_cast<std::size_t>(scenario.expect.trace_size()), 0) {
  for (const auto& after : scenario.expected_trace_after) {
    trace_armed_.push_back(!after.has_value());
  }
  violations_.expected.assign(static_cast<std::size_t>(scenario.expect.violation_size()), 0);
  for (const CompiledChannel& channel : scenario.channels) {
    channel_counts_[channel.relid] = ChannelCounts{};
  }
}

void TraceTally::add(const proto::TraceRecord& record) {
  if (record.has_kmcl()) {
    if (record.kmcl().kind() == "driver") {
      add_callback(record);
    } else if (record.kmcl().kind() == "violation") {
      add_violation(record);
    }
  }
  if (record.has_signal()) {
    add_channel_count(record.signal());
  }
  if (record.has_signal() || (record.has_kmcl() && record.kmcl().kind() == "violation")) {
    add_trace_counters(record);
  }
  if (record.has_completion()) {
    add_completion(record);
  }
  for (std::size_t i = 0; i < trace_matches_.size(); ++i) {
    // The record that arms an `after` is not one of those after it.
    if (trace_armed_[i] && trace::matches(record, s_.expected_trace[i])) {
      ++trace_matches_[i];
    }
    if (!trace_armed_[i] && trace::matches(record, *s_.expected_trace_after[i])) {
      trace_armed_[i] = true;
    }
  }
  add_to_unit(record);
}

void TraceTally::finish() {
  close_unit();
}

// A driver's callbacks ("driver" records) on each expectation's channel and
// side (the guest's unless HOST), filtered by its `only` names (default:
// ProcessPacket).
void TraceTally::add_callback(const proto::TraceRecord& record) {
  const std::string& detail = record.kmcl().detail();
  const std::string name = detail.substr(0, detail.find(' '));
  const std::uint32_t channel = relid_of_context(record.context());
  for (std::size_t i = 0; i < callbacks_.size(); ++i) {
    const proto::CallbackExpectation& expected = s_.expect.callbacks(static_cast<int>(i));
    if (channel != s_.relid_of(expected.channel()).value_or(0) ||
        record.partition() != driver_partition(expected.side())) {
      continue;
    }
    const auto& only = expected.only();
    const bool wanted = only.empty() ? name == "ProcessPacket"
                                     : std::find(only.begin(), only.end(), name) != only.end();
    if (wanted) {
      append(callbacks_[i], static_cast<std::size_t>(expected.call_size()) + kExtraValuesKept,
             detail);
    }
  }
}

// Counters counted in the trace: signals sent (signalled or coalesced),
// interrupts delivered, verifier violations, per channel.
void TraceTally::add_trace_counters(const proto::TraceRecord& record) {
  for (std::size_t i = 0; i < trace_counters_.size(); ++i) {
    const proto::CounterExpectation& expected = s_.expect.counter(static_cast<int>(i));
    const std::uint32_t channel = s_.relid_of(expected.channel()).value_or(0);
    const std::string& name = expected.name();
    if (record.has_kmcl()) {
      trace_counters_[i] += name == "violations" && relid_of_context(record.context()) == channel &&
                            record.partition() == driver_partition(expected.side());
      continue;
    }
    const proto::SignalRecord& signal = record.signal();
    const bool sent = signal.stage() == proto::SignalRecord::STAGE_SIGNALLED ||
                      signal.stage() == proto::SignalRecord::STAGE_COALESCED;
    const bool delivered = signal.stage() == proto::SignalRecord::STAGE_DELIVERED;
    const bool from_host = signal.from() == proto::PARTITION_HOST;
    const bool from_guest = signal.from() == proto::PARTITION_GUEST;
    const bool ours = from_host ? signal.child_relid() == channel
                                : signal.connection_id() == wire::connection_id_of(channel);
    const bool counted = (name == "signals_host_to_guest" && from_host && sent) ||
                         (name == "signals_guest_to_host" && from_guest && sent) ||
                         (name == "interrupts_to_guest" && from_host && delivered) ||
                         (name == "interrupts_to_host" && from_guest && delivered);
    trace_counters_[i] += counted && ours;
  }
}

// The same counts as add_trace_counters(), for every channel: a host's
// signal names the relid, a guest's the channel's connection id.
void TraceTally::add_channel_count(const proto::SignalRecord& signal) {
  const bool sent = signal.stage() == proto::SignalRecord::STAGE_SIGNALLED ||
                    signal.stage() == proto::SignalRecord::STAGE_COALESCED;
  const bool delivered = signal.stage() == proto::SignalRecord::STAGE_DELIVERED;
  for (auto& [relid, counts] : channel_counts_) {
    if (signal.from() == proto::PARTITION_HOST && signal.child_relid() == relid) {
      counts.signals_host_to_guest += sent;
      counts.interrupts_to_guest += delivered;
    } else if (signal.from() == proto::PARTITION_GUEST &&
               signal.connection_id() == wire::connection_id_of(relid)) {
      counts.signals_guest_to_host += sent;
      counts.interrupts_to_host += delivered;
    }
  }
}

void TraceTally::add_completion(const proto::TraceRecord& record) {
  for (std::size_t i = 0; i < completions_.size(); ++i) {
    const proto::CompletionExpectation& expected = s_.expect.completions(static_cast<int>(i));
    const proto::Partition side =
        expected.side() == proto::HOST ? proto::PARTITION_HOST : proto::PARTITION_GUEST;
    if (record.partition() == side &&
        record.completion().child_relid() == s_.relid_of(expected.channel()).value_or(0)) {
      append(completions_[i], static_cast<std::size_t>(expected.status_size()) + kExtraValuesKept,
             record.completion().status());
    }
  }
}

// A violation is expected when any expectation names its code (and
// channel); the first one that none does is kept to be reported.
void TraceTally::add_violation(const proto::TraceRecord& record) {
  const std::string& code = record.kmcl().code();
  const std::uint32_t channel = relid_of_context(record.context());
  bool expected = false;
  for (std::size_t i = 0; i < violations_.expected.size(); ++i) {
    const proto::ViolationExpectation& wanted = s_.expect.violation(static_cast<int>(i));
    if (wanted.code() == code &&
        (wanted.channel().empty() || channel == s_.relid_of(wanted.channel()).value_or(0)) &&
        (wanted.side() == proto::ANY_SIDE ||
         record.partition() == driver_partition(wanted.side()))) {
      ++violations_.expected[i];
      expected = true;
    }
  }
  if (!expected && violations_.first_unexpected.empty()) {
    violations_.first_unexpected =
        code + " (" + (record.partition() == proto::PARTITION_HOST ? "host " : "guest ") +
        record.context() + ": " + trace::event_text(record) + ")";
  }
}

// The spurious-signal oracle: a partition's signal that no ring decision
// of its own called for. Every signal a partition sends must follow, within
// the same unit of work (a scheduler step, or a delivery between steps),
// its ring library's "signal" decision (host ring event, guest KMCL
// "signal_peer"); its signals may not outnumber its decisions. The guest's
// KMCL traces its decision after the hypercall left, so order within the
// unit does not matter. Scenario actions (a malicious host's raw writes)
// are exempt.
void TraceTally::add_to_unit(const proto::TraceRecord& record) {
  if (record.has_scheduler() || record.has_action()) {
    close_unit();
    in_action_ = record.has_action();
    return;
  }
  if (in_action_) {
    return;
  }
  // A KMCL endpoint's signal decision is two records, its ring's "signal"
  // and its "kmcl signal_peer": count it once.
  const bool kmcl_context = record.context().rfind("kmcl/", 0) == 0;
  if ((record.has_ring() && record.ring().op() == "signal" && !kmcl_context) ||
      (record.has_kmcl() && record.kmcl().kind() == "signal_peer")) {
    ++unit_decisions_[record.partition()];
  } else if (record.has_signal() &&
             (record.signal().stage() == proto::SignalRecord::STAGE_SIGNALLED ||
              record.signal().stage() == proto::SignalRecord::STAGE_COALESCED)) {
    unit_signals_.push_back(Signal{record.signal(), record.sequence()});
  }
}

void TraceTally::close_unit() {
  for (const Signal& sent : unit_signals_) {
    const proto::SignalRecord& signal = sent.signal;
    if (unit_decisions_[signal.from()]-- > 0) {
      continue;
    }
    const bool host = signal.from() == proto::PARTITION_HOST;
    const std::uint32_t channel =
        host ? signal.child_relid() : wire::relid_of_connection_id(signal.connection_id());
    spurious_signals_.push_back(
        OracleFiring{"spurious_signal", s_.channel_name(channel),
                     std::string(host ? "the host" : "the guest") + " signalled (trace record " +
                         std::to_string(sent.sequence) + ") with no ring decision calling for it"});
  }
  unit_decisions_.clear();
  unit_signals_.clear();
}

}  // namespace vmbus::runner
