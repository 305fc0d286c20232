#include "vmbus/hypervisor/scheduler.h"

#include <algorithm>
#include <utility>

namespace vmbus::hypervisor {
namespace {

// How holds and the trace name a context: "guest:kmcl/1/passive".
std::string qualified(Side side, const std::string& context) {
  return std::string(side_name(side)) + ":" + context;
}

}  // namespace

bool Scheduler::set_ready(Side side, std::vector<std::string> ready, std::uint64_t wake_at_ns) {
  if (!std::is_sorted(ready.begin(), ready.end()) ||
      std::adjacent_find(ready.begin(), ready.end()) != ready.end()) {
    return false;
  }
  ready_[index_of(side)] = std::move(ready);
  wake_at_ns_[index_of(side)] = wake_at_ns;
  return true;
}

void Scheduler::hold(Side side, const std::string& context) {
  holds_.push_back(qualified(side, context));
}

void Scheduler::release(Side side, const std::string& context) {
  const std::string key = qualified(side, context);
  holds_.erase(std::remove(holds_.begin(), holds_.end(), key), holds_.end());
}

bool Scheduler::held(Side side, const std::string& context) const {
  if (holds_.empty()) {
    return false;
  }
  const std::string name = qualified(side, context);
  for (const std::string& key : holds_) {
    if (name == key || (name.size() > key.size() && name.compare(0, key.size(), key) == 0 &&
                        name[key.size()] == '/')) {
      return true;
    }
  }
  return false;
}

std::vector<Scheduler::Candidate> Scheduler::candidates() const {
  std::vector<Candidate> candidates;
  for (Side side : {Side::kGuest, Side::kHost}) {  // "guest:" sorts before "host:"
    for (const std::string& context : ready_[index_of(side)]) {
      if (!held(side, context)) {
        candidates.push_back(Candidate{side, &context});
      }
    }
  }
  return candidates;
}

Choice Scheduler::choose(std::uint64_t now_ns, std::optional<std::uint64_t> next_event_ns,
                         std::optional<std::uint64_t> next_intervention_ns,
                         base::Prng& prng) const {
  const std::vector<Candidate> ready = candidates();
  if (ready.empty()) {
    std::optional<std::uint64_t> next = next_event_ns;
    if (next_intervention_ns) {
      next = next ? std::min(*next, *next_intervention_ns) : *next_intervention_ns;
    }
    Choice idle;
    if (next) {
      idle.kind = Choice::Kind::kAdvance;
      idle.run_at_ns = std::max(now_ns, *next);
    }
    return idle;
  }
  Choice step{Choice::Kind::kStep, now_ns};
  if (ready.size() == 1) {
    if (std::optional<Choice> jump =
            jump_to_wake_time(ready.front(), now_ns, next_event_ns, next_intervention_ns)) {
      if (jump->kind == Choice::Kind::kAdvance) {
        return *jump;
      }
      step.run_at_ns = jump->run_at_ns;
    }
  }
  step.chosen = static_cast<std::uint32_t>(prng.below(ready.size()));
  step.side = ready[step.chosen].side;
  step.context = *ready[step.chosen].context;
  for (const Candidate& candidate : ready) {
    step.candidates.push_back(qualified(candidate.side, *candidate.context));
  }
  return step;
}

// A lone "timer" waiting for a deadline in the future: the clock jumps to
// the deadline (kStep at it) or, when an event or a timed intervention comes
// sooner, to that (kAdvance). Nothing to jump over: nullopt.
std::optional<Choice> Scheduler::jump_to_wake_time(
    const Candidate& lone, std::uint64_t now_ns, std::optional<std::uint64_t> next_event_ns,
    std::optional<std::uint64_t> next_intervention_ns) const {
  const std::uint64_t wake_ns = wake_at_ns_[index_of(lone.side)];
  if (*lone.context != "timer" || wake_ns <= now_ns) {
    return std::nullopt;
  }
  std::uint64_t next_ns = wake_ns;
  if (next_event_ns) {
    next_ns = std::min(next_ns, *next_event_ns);
  }
  if (next_intervention_ns) {
    next_ns = std::min(next_ns, std::max(now_ns, *next_intervention_ns));
  }
  Choice jump{next_ns < wake_ns ? Choice::Kind::kAdvance : Choice::Kind::kStep,
              std::max(now_ns, next_ns)};
  return jump;
}

std::optional<std::string> Scheduler::release_holds() {
  bool holds_a_ready_context = false;
  for (Side side : {Side::kGuest, Side::kHost}) {
    for (const std::string& context : ready_[index_of(side)]) {
      holds_a_ready_context = holds_a_ready_context || held(side, context);
    }
  }
  if (!holds_a_ready_context) {
    return std::nullopt;
  }
  std::string names;
  for (const std::string& key : holds_) {
    names += (names.empty() ? "" : ", ") + key;
  }
  holds_.clear();
  return names;
}

}  // namespace vmbus::hypervisor
