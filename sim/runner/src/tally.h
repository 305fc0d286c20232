// What the judge needs from a run's trace, gathered record by record while
// the run goes on, so that judging a run needs memory for the scenario's
// expectations and not for its trace: a million-packet run is judged in the
// same few kilobytes as a ten-packet one.
//
// The tally keeps, per expectation of the scenario, only what that
// expectation is decided by -- a count, or the first few values of a
// sequence it compares (callbacks, completion statuses) -- and runs the
// spurious-signal oracle as it goes, one unit of work (a scheduler step or
// a scenario action, with what follows it) at a time. The ScenarioScript
// feeds it every record the simulation writes; judge() reads it after
// finish().
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "vmbus/proto/trace.pb.h"
#include "vmbus/runner/scenario.h"

namespace vmbus::runner {

// The channel of a KMCL context ("kmcl/<relid>/..."), or 0.
std::uint32_t relid_of_context(const std::string& context);

class TraceTally {
 public:
  // A sequence compared with an expected one: its first `kept` values and
  // how long it really was.
  struct Sequence {
    std::vector<std::string> first;
    std::uint64_t length = 0;
  };

  // Verifier violations against the scenario's violation expectations.
  struct Violations {
    std::vector<std::uint32_t> expected;  // per expectation: violations it matched
    std::string first_unexpected;         // "code (context: text)", or ""
  };

  explicit TraceTally(const CompiledScenario& scenario);

  void add(const proto::TraceRecord& record);
  // The run is over: the last unit of work is judged.
  void finish();

  // Per CallbackExpectation: the driver callbacks it compares.
  const std::vector<Sequence>& callbacks() const { return callbacks_; }
  // Per CounterExpectation of a counter counted in the trace (signals,
  // interrupts, violations): its value; 0 for the other counters.
  const std::vector<std::uint64_t>& trace_counters() const { return trace_counters_; }
  // Per CompletionExpectation: the completion statuses it compares.
  const std::vector<Sequence>& completions() const { return completions_; }
  const Violations& violations() const { return violations_; }
  // Per TraceExpectation: how many records matched it.
  const std::vector<std::uint32_t>& trace_matches() const { return trace_matches_; }
  // The spurious_signal oracle's firings, in trace order.
  const std::vector<OracleFiring>& spurious_signals() const { return spurious_signals_; }

  // The counters counted in the trace, for every channel of the scenario
  // (the final state's line, whatever the expectations name).
  struct ChannelCounts {
    std::uint64_t signals_host_to_guest = 0;
    std::uint64_t signals_guest_to_host = 0;
    std::uint64_t interrupts_to_guest = 0;
    std::uint64_t interrupts_to_host = 0;
  };
  const std::map<std::uint32_t, ChannelCounts>& channel_counts() const { return channel_counts_; }

 private:
  void add_callback(const proto::TraceRecord& record);
  void add_trace_counters(const proto::TraceRecord& record);
  void add_channel_count(const proto::SignalRecord& signal);
  void add_completion(const proto::TraceRecord& record);
  void add_violation(const proto::TraceRecord& record);
  void add_to_unit(const proto::TraceRecord& record);
  void close_unit();

  const CompiledScenario& s_;
  std::vector<Sequence> callbacks_;
  std::vector<std::uint64_t> trace_counters_;
  std::vector<Sequence> completions_;
  Violations violations_;
  std::vector<std::uint32_t> trace_matches_;
  std::vector<bool> trace_armed_;  // per TraceExpectation: its `after` record has been seen
  std::vector<OracleFiring> spurious_signals_;
  std::map<std::uint32_t, ChannelCounts> channel_counts_;  // by relid

  // The unit of work under way (spurious-signal oracle): the ring
  // decisions each partition made in it, and the signals it sent.
  struct Signal {
    proto::SignalRecord signal;
    std::uint64_t sequence = 0;
  };
  std::map<proto::Partition, int> unit_decisions_;
  std::vector<Signal> unit_signals_;
  bool in_action_ = false;
};

}  // namespace vmbus::runner
