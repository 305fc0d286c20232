// A compiled scenario's timeline as the simulation's RunScript: it hands the
// hypervisor each entry's Intervention when the entry's time has come or its
// condition holds, in file order, and keeps every trace record for the
// judge.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "vmbus/hypervisor/simulation.h"
#include "vmbus/proto/trace.pb.h"
#include "vmbus/runner/scenario.h"

namespace vmbus::runner {

class ScenarioScript final : public hypervisor::RunScript {
 public:
  explicit ScenarioScript(const CompiledScenario& scenario) : scenario_(scenario) {}

  void on_record(const proto::TraceRecord& record) override { records_.push_back(record); }
  std::optional<hypervisor::DueIntervention> due(std::uint64_t now_ns) override;
  void intervention_done(std::uint64_t now_ns, const std::string& error) override;
  std::optional<std::uint64_t> next_time_ns() const override;

  std::size_t entries_run() const { return next_; }
  // Why the run fails: the first entry a partition refused, or "".
  const std::string& error() const { return error_; }
  std::vector<proto::TraceRecord>& records() { return records_; }
  // Why the timeline did not finish by `now_ns`, or "".
  std::string unfinished(std::uint64_t now_ns) const;

 private:
  bool ready(const CompiledEntry& compiled, std::uint64_t now_ns);
  // Whether `count` records (at least one) since the previous entry ran
  // match `pattern`.
  bool holds(const trace::RecordPattern& pattern, std::uint32_t count);
  // "step 3 ('burst')": the entry as failure messages name it.
  std::string name_of_next() const;

  const CompiledScenario& scenario_;
  std::vector<proto::TraceRecord> records_;
  std::size_t next_ = 0;  // the entry that runs next
  std::uint64_t last_done_ns_ = 0;
  std::size_t scanned_ = 0;  // records the next entry's conditions have seen
  std::uint64_t matched_ = 0;
  std::string error_;
};

}  // namespace vmbus::runner
