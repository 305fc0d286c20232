// A compiled scenario's timeline as the simulation's RunScript: it hands the
// hypervisor each entry's Intervention when the entry's time has come or its
// condition holds, in file order, and feeds every trace record to the
// judge's tally. It keeps no record: each entry's condition is a count of
// the records since the run began that match its pattern, kept up to date
// as records come.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "vmbus/hypervisor/simulation.h"
#include "vmbus/proto/trace.pb.h"
#include "vmbus/runner/scenario.h"

#include "tally.h"

namespace vmbus::runner {

class ScenarioScript final : public hypervisor::RunScript {
 public:
  explicit ScenarioScript(const CompiledScenario& scenario);

  void on_record(const proto::TraceRecord& record) override;
  std::optional<hypervisor::DueIntervention> due(std::uint64_t now_ns) override;
  void intervention_done(std::uint64_t now_ns, const std::string& error) override;
  std::optional<std::uint64_t> next_time_ns() const override;
  bool stop_requested() const override { return stop_; }

  // Shows every record to `watch` too; its false stops the run.
  void set_watch(std::function<bool(const proto::TraceRecord&)> watch) {
    watch_ = std::move(watch);
  }

  std::size_t entries_run() const { return next_; }
  // Why the run fails: the first entry a partition refused, or "".
  const std::string& error() const { return error_; }
  // What the judge needs of the trace; finish() it when the run is over.
  TraceTally& tally() { return tally_; }
  // Why the timeline did not finish by `now_ns`, or "".
  std::string unfinished(std::uint64_t now_ns) const;

 private:
  bool ready(std::size_t index, std::uint64_t now_ns) const;
  void note_closest(const proto::TraceRecord& record);
  // "step 3 ('burst')": the entry as failure messages name it.
  std::string name_of_next() const;

  const CompiledScenario& scenario_;
  TraceTally tally_;
  // Per entry: the records since the run began that match its condition --
  // its `when` pattern if it has one, else its `wait_until` pattern. (An
  // entry with both compares the `when` count with both counts.)
  std::vector<std::uint64_t> matched_;
  std::size_t next_ = 0;  // the entry that runs next
  std::uint64_t last_done_ns_ = 0;
  std::string error_;
  // The next entry's condition: the last records that came closest to it
  // (trace show lines) and how close (see note_closest).
  static constexpr std::size_t kClosestRecords = 3;
  std::deque<std::string> closest_;
  int closest_level_ = 0;
  std::function<bool(const proto::TraceRecord&)> watch_;
  bool stop_ = false;
};

}  // namespace vmbus::runner
