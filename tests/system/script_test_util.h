// A scenario timeline for the system tests that drive the partitions'
// scenario actions directly through hypervisor::RunScript (no scenario file;
// only the runner's translation of a timeline entry into an intervention):
// entries at fixed times or after trace events.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "vmbus/hypervisor/simulation.h"
#include "vmbus/proto/scenario.pb.h"
#include "vmbus/proto/trace.pb.h"
#include "vmbus/runner/scenario.h"

namespace vmbus::testing {

// One timeline step: it runs `after_us` after it is armed, which is when the
// previous step ran or, if `wait_for` is set, when a trace record after that
// matches it.
struct ScriptStep {
  proto::TimelineEntry step;
  std::uint64_t after_us = 0;
  std::function<bool(const proto::TraceRecord&)> wait_for;
};

// A scenario timeline for system tests: the steps above, every trace record
// kept, every partition refusal kept.
class TestScript final : public hypervisor::RunScript {
 public:
  TestScript() = default;
  explicit TestScript(std::vector<ScriptStep> steps)
      : steps_(std::move(steps)), at_ns_(steps_.size()) {}

  // Appends a step that runs at simulated time `time_us`.
  void at(std::uint64_t time_us, proto::TimelineEntry step) {
    steps_.push_back(ScriptStep{std::move(step), 0, {}});
    at_ns_.push_back(time_us * 1000);
  }

  void on_record(const proto::TraceRecord& record) override {
    records_.push_back(record);
    if (!armed_at_ns_ && next_ < steps_.size() && steps_[next_].wait_for &&
        steps_[next_].wait_for(record)) {
      armed_at_ns_ = record.time_ns() + steps_[next_].after_us * 1000;
    }
  }

  std::optional<hypervisor::DueIntervention> due(std::uint64_t now_ns) override {
    if (!armed_at_ns_ && next_ < steps_.size() && !steps_[next_].wait_for) {
      armed_at_ns_ = at_ns_[next_] ? *at_ns_[next_] : last_done_ns_ + steps_[next_].after_us * 1000;
    }
    if (!armed_at_ns_ || *armed_at_ns_ > now_ns) {
      return std::nullopt;
    }
    const proto::TimelineEntry& step = steps_[next_].step;
    return hypervisor::DueIntervention{runner::intervention_of(step),
                                       static_cast<std::uint32_t>(next_ + 1), step.label(),
                                       "test step " + std::to_string(next_ + 1)};
  }

  void intervention_done(std::uint64_t now_ns, const std::string& error) override {
    errors_.push_back(error);
    ++next_;
    armed_at_ns_.reset();
    last_done_ns_ = now_ns;
  }

  std::optional<std::uint64_t> next_time_ns() const override { return armed_at_ns_; }

  const std::vector<proto::TraceRecord>& records() const { return records_; }
  std::vector<proto::TraceRecord> take_records() { return std::move(records_); }
  // One entry per step that ran: "" or the partition's refusal.
  const std::vector<std::string>& errors() const { return errors_; }
  std::size_t steps_run() const { return next_; }

 private:
  std::vector<ScriptStep> steps_;
  std::vector<std::optional<std::uint64_t>> at_ns_;  // absolute times of at() steps
  std::size_t next_ = 0;
  std::optional<std::uint64_t> armed_at_ns_;
  std::uint64_t last_done_ns_ = 0;
  std::vector<proto::TraceRecord> records_;
  std::vector<std::string> errors_;
};

}  // namespace vmbus::testing
