#include "vmbus/trace/schedule.h"

namespace vmbus::trace {

std::variant<Schedule, std::string> schedule_of(const TraceFile& trace, const std::string& name) {
  Schedule schedule;
  for (const proto::TraceRecord& record : trace.records) {
    if (!record.has_scheduler()) {
      continue;
    }
    const proto::SchedulerEvent& event = record.scheduler();
    if (event.chosen() >= static_cast<std::uint32_t>(event.ready_size())) {
      return name + ": record " + std::to_string(record.sequence()) + ": the chosen index " +
             std::to_string(event.chosen()) + " is outside its " +
             std::to_string(event.ready_size()) + " ready contexts";
    }
    if (event.step_number() != schedule.size() + 1) {
      return name + ": record " + std::to_string(record.sequence()) + ": step " +
             std::to_string(event.step_number()) + " where step " +
             std::to_string(schedule.size() + 1) + " was due";
    }
    proto::PinnedDecision& decision = schedule.emplace_back();
    decision.set_record(record.sequence());
    decision.set_context(event.ready(static_cast<int>(event.chosen())));
  }
  if (schedule.empty()) {
    return name + ": no scheduler decisions (a free-running run, or one that never started)";
  }
  return schedule;
}

}  // namespace vmbus::trace
