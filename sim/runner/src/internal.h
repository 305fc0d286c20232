// The scenario engine's internals, shared by its files (not installed).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "vmbus/hypervisor/simulation.h"
#include "vmbus/proto/scenario.pb.h"
#include "vmbus/proto/trace.pb.h"
#include "vmbus/runner/scenario.h"

namespace vmbus::runner {

// describe.cc: trace matches and conditions in words, for the trace and for
// failure messages.
std::string quoted(const std::string& channel);
// "HOST_TO_GUEST" -> "host to guest".
std::string enum_words(const std::string& name);
std::string describe_match(const proto::TraceMatch& match);
std::string describe_condition(const proto::Condition& condition);

// actions.cc: a timeline entry's action in words (its row's describe).
std::string describe_action(const proto::TimelineEntry& entry);

// script.cc: whether `record` is one `match` asks for (on channel `relid`
// when set).
bool record_matches(const proto::TraceRecord& record, const proto::TraceMatch& match,
                    std::optional<std::uint32_t> relid);

// script.cc: the scenario's timeline as the simulation's RunScript.
class ScenarioScript final : public hypervisor::RunScript {
 public:
  explicit ScenarioScript(const CompiledScenario& scenario) : scenario_(scenario) {}

  void on_record(const proto::TraceRecord& record) override { records_.push_back(record); }

  std::optional<hypervisor::DueIntervention> due(std::uint64_t now_ns) override {
    if (next_ >= scenario_.timeline.size()) {
      return std::nullopt;
    }
    const proto::TimelineEntry& entry = scenario_.timeline[next_];
    bool ready = true;
    switch (entry.time_case()) {
      case proto::TimelineEntry::kAtUs:
        ready = now_ns >= entry.at_us() * 1000;
        break;
      case proto::TimelineEntry::kAfterUs:
        ready = now_ns >= last_done_ns_ + entry.after_us() * 1000;
        break;
      case proto::TimelineEntry::kWhen:
        ready = holds(entry.when());
        break;
      default:
        break;
    }
    if (ready && entry.action_case() == proto::TimelineEntry::kWaitUntil) {
      ready = holds(entry.wait_until());
    }
    if (!ready) {
      return std::nullopt;
    }
    return hypervisor::DueIntervention{intervention_of(entry),
                                       static_cast<std::uint32_t>(next_ + 1), entry.label(),
                                       describe_action(entry)};
  }

  void intervention_done(std::uint64_t now_ns, const std::string& error) override {
    if (!error.empty() && error_.empty()) {
      const proto::TimelineEntry& entry = scenario_.timeline[next_];
      error_ = "step " + std::to_string(next_ + 1) +
               (entry.label().empty() ? "" : " ('" + entry.label() + "')") + " (" +
               describe_action(entry) + ") was refused: " + error;
    }
    last_done_ns_ = now_ns;
    ++next_;
    scanned_ = 0;
    matched_ = 0;
  }

  std::optional<std::uint64_t> next_time_ns() const override {
    if (next_ >= scenario_.timeline.size()) {
      return std::nullopt;
    }
    const proto::TimelineEntry& entry = scenario_.timeline[next_];
    switch (entry.time_case()) {
      case proto::TimelineEntry::kAtUs:
        return entry.at_us() * 1000;
      case proto::TimelineEntry::kAfterUs:
        return last_done_ns_ + entry.after_us() * 1000;
      case proto::TimelineEntry::kWhen:
        return std::nullopt;
      default:
        if (entry.action_case() == proto::TimelineEntry::kWaitUntil) {
          return std::nullopt;
        }
        return last_done_ns_;
    }
  }

  std::size_t entries_run() const { return next_; }
  const std::string& error() const { return error_; }
  std::vector<proto::TraceRecord>& records() { return records_; }

  // Why the timeline did not finish, or "".
  std::string unfinished(std::uint64_t now_ns) const {
    if (next_ >= scenario_.timeline.size()) {
      return "";
    }
    const proto::TimelineEntry& entry = scenario_.timeline[next_];
    std::string when;
    switch (entry.time_case()) {
      case proto::TimelineEntry::kWhen:
        when = "when " + describe_condition(entry.when());
        break;
      case proto::TimelineEntry::kAtUs:
        when = "at " + std::to_string(entry.at_us()) + " us";
        break;
      case proto::TimelineEntry::kAfterUs:
        when = std::to_string(entry.after_us()) + " us after the step before";
        break;
      default:
        when = "next";
        break;
    }
    char at[48];
    std::snprintf(at, sizeof(at), "%.3f", static_cast<double>(now_ns) / 1000.0);
    return "step " + std::to_string(next_ + 1) +
           (entry.label().empty() ? "" : " ('" + entry.label() + "')") + " (" + when + ": " +
           describe_action(entry) + ") never ran: the system went quiet at t=" + at + " us";
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
  std::size_t scanned_ = 0;  // records the current entry's condition has seen
  std::uint64_t matched_ = 0;
  std::string error_;
};

}  // namespace vmbus::runner
