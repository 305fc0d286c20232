#include "script.h"

#include <algorithm>
#include <cstdio>
#include <iterator>
#include <variant>

#include "vmbus/trace/match.h"
#include "vmbus/trace/render.h"

#include "internal.h"

namespace vmbus::runner {

using Entry = proto::TimelineEntry;

namespace {

// The pattern an entry's condition counts, or null.
const trace::RecordPattern* counted_pattern(const CompiledEntry& compiled) {
  if (compiled.when) {
    return &*compiled.when;
  }
  return compiled.wait_until ? &*compiled.wait_until : nullptr;
}

// The records of the kind a pattern looks for: its event's oneof case.
bool same_kind(const proto::TraceRecord& record, const trace::EventPattern& event) {
  static constexpr proto::TraceRecord::EventCase kCases[] = {
      proto::TraceRecord::kMessage,    proto::TraceRecord::kSignal,  proto::TraceRecord::kRing,
      proto::TraceRecord::kChannel,    proto::TraceRecord::kKmcl,    proto::TraceRecord::kFault,
      proto::TraceRecord::kCompletion, proto::TraceRecord::kProcess, proto::TraceRecord::kNote};
  static_assert(std::size(kCases) == std::variant_size_v<trace::EventPattern>);
  return record.event_case() == kCases[event.index()];
}

// How close a record came to an entry's condition: 2 if it matches but for
// its side or channel, 1 if it is of the kind the condition looks for (and
// from the side it names), 0 otherwise.
int closeness(const proto::TraceRecord& record, const trace::RecordPattern& pattern) {
  if (!same_kind(record, pattern.event)) {
    return 0;
  }
  trace::RecordPattern anywhere = pattern;
  anywhere.partition.reset();
  anywhere.child_relid.reset();
  if (trace::matches(record, anywhere)) {
    return 2;
  }
  return !pattern.partition || record.partition() == *pattern.partition ? 1 : 0;
}

// The words `trace show --igrep` finds the condition's kind of record by.
std::string grep_words(const trace::EventPattern& event) {
  if (const auto* kmcl = std::get_if<trace::KmclPattern>(&event)) {
    return kmcl->kind.empty() ? "kmcl" : "kmcl " + kmcl->kind;
  }
  if (const auto* ring = std::get_if<trace::RingPattern>(&event)) {
    return ring->op.empty() ? "ring" : ring->op;
  }
  static constexpr const char* kWords[] = {"message", "signal",     "ring",    "channel", "kmcl",
                                           "fault",   "completion", "process", ""};
  return kWords[event.index()];
}

}  // namespace

ScenarioScript::ScenarioScript(const CompiledScenario& scenario)
    : scenario_(scenario), tally_(scenario), matched_(scenario.timeline.size(), 0) {}

// Entries that have run count no more; the later ones count every record,
// since a condition counts from the beginning of the run.
void ScenarioScript::on_record(const proto::TraceRecord& record) {
  tally_.add(record);
  if (watch_ && !stop_ && !watch_(record)) {
    stop_ = true;
  }
  for (std::size_t i = next_; i < scenario_.timeline.size(); ++i) {
    const trace::RecordPattern* pattern = counted_pattern(scenario_.timeline[i]);
    if (pattern != nullptr && trace::matches(record, *pattern)) {
      ++matched_[i];
    }
  }
  note_closest(record);
}

// The last few records that came closest to the next entry's condition,
// for the failure that names it if it never holds. Only the best closeness
// seen is kept.
void ScenarioScript::note_closest(const proto::TraceRecord& record) {
  if (next_ >= scenario_.timeline.size()) {
    return;
  }
  const trace::RecordPattern* pattern = counted_pattern(scenario_.timeline[next_]);
  const int close = pattern != nullptr && !record.has_action() ? closeness(record, *pattern) : 0;
  if (close == 0 || close < closest_level_) {
    return;
  }
  if (close > closest_level_) {
    closest_.clear();
    closest_level_ = close;
  }
  closest_.push_back(trace::format_record(record));
  if (closest_.size() > kClosestRecords) {
    closest_.pop_front();
  }
}

std::optional<hypervisor::DueIntervention> ScenarioScript::due(std::uint64_t now_ns) {
  if (next_ >= scenario_.timeline.size()) {
    return std::nullopt;
  }
  const CompiledEntry& compiled = scenario_.timeline[next_];
  if (!ready(next_, now_ns)) {
    return std::nullopt;
  }
  const Entry& entry = compiled.entry;
  return hypervisor::DueIntervention{compiled.intervention, static_cast<std::uint32_t>(next_ + 1),
                                     entry.label(), describe_action(entry)};
}

bool ScenarioScript::ready(std::size_t index, std::uint64_t now_ns) const {
  const CompiledEntry& compiled = scenario_.timeline[index];
  const Entry& entry = compiled.entry;
  const auto holds = [this, index](std::uint32_t count) {
    return matched_[index] >= std::max<std::uint32_t>(1, count);
  };
  bool ready = true;
  switch (entry.time_case()) {
    case Entry::kAtUs:
      ready = now_ns >= entry.at_us() * 1000;
      break;
    case Entry::kAfterUs:
      ready = now_ns >= last_done_ns_ + entry.after_us() * 1000;
      break;
    case Entry::kWhen:
      ready = holds(entry.when().count());
      break;
    default:
      break;
  }
  if (ready && compiled.wait_until) {
    ready = holds(entry.wait_until().count());
  }
  return ready;
}

void ScenarioScript::intervention_done(std::uint64_t now_ns, const std::string& error) {
  if (!error.empty() && error_.empty() && !scenario_.timeline[next_].refusal_is_no_failure) {
    error_ = name_of_next() + " (" + describe_action(scenario_.timeline[next_].entry) +
             ") was refused: " + error;
  }
  last_done_ns_ = now_ns;
  ++next_;
  closest_.clear();
  closest_level_ = 0;
}

std::optional<std::uint64_t> ScenarioScript::next_time_ns() const {
  if (next_ >= scenario_.timeline.size()) {
    return std::nullopt;
  }
  const Entry& entry = scenario_.timeline[next_].entry;
  switch (entry.time_case()) {
    case Entry::kAtUs:
      return entry.at_us() * 1000;
    case Entry::kAfterUs:
      return last_done_ns_ + entry.after_us() * 1000;
    case Entry::kWhen:
      return std::nullopt;
    default:
      if (entry.action_case() == Entry::kWaitUntil) {
        return std::nullopt;
      }
      return last_done_ns_;
  }
}

std::string ScenarioScript::unfinished(std::uint64_t now_ns) const {
  if (next_ >= scenario_.timeline.size()) {
    return "";
  }
  const Entry& entry = scenario_.timeline[next_].entry;
  std::string when;
  switch (entry.time_case()) {
    case Entry::kWhen:
      when = "when " + describe_condition(entry.when());
      break;
    case Entry::kAtUs:
      when = "at " + std::to_string(entry.at_us()) + " us";
      break;
    case Entry::kAfterUs:
      when = std::to_string(entry.after_us()) + " us after the step before";
      break;
    default:
      when = "next";
      break;
  }
  char at[48];
  std::snprintf(at, sizeof(at), "%.3f", static_cast<double>(now_ns) / 1000.0);
  std::string text = name_of_next() + " (" + when + ": " + describe_action(entry) +
                     ") never ran: the system went quiet at t=" + at + " us";
  const trace::RecordPattern* pattern = counted_pattern(scenario_.timeline[next_]);
  if (pattern == nullptr || matched_[next_] != 0) {
    return text;
  }
  text += "; no record matched its condition";
  if (!closest_.empty()) {
    text += std::string("; the last records ") +
            (closest_level_ == 2 ? "that match it but for their side or channel"
                                 : "of the kind it looks for") +
            ":";
    for (const std::string& line : closest_) {
      text += "\n         " + line;
    }
    text += "\n        ";
  }
  const std::string words = grep_words(pattern->event);
  if (!words.empty()) {
    text += " (all of them: vmbus-sim trace show --igrep '" + words + "' TRACE)";
  }
  return text;
}

std::string ScenarioScript::name_of_next() const {
  const std::string& label = scenario_.timeline[next_].entry.label();
  return "step " + std::to_string(next_ + 1) + (label.empty() ? "" : " ('" + label + "')");
}

}  // namespace vmbus::runner
