#include "vmbus/hypervisor/event_queue.h"

#include <algorithm>
#include <utility>

namespace vmbus::hypervisor {

void EventQueue::advance_to(std::uint64_t time_ns) {
  now_ns_ = std::max(now_ns_, time_ns);
}

void EventQueue::schedule(std::uint64_t at_ns, Event event) {
  heap_.push(Entry{at_ns, next_sequence_++, std::move(event)});
}

std::optional<std::uint64_t> EventQueue::next_time_ns() const {
  if (heap_.empty()) {
    return std::nullopt;
  }
  return heap_.top().time_ns;
}

std::optional<Event> EventQueue::pop_due() {
  if (heap_.empty() || heap_.top().time_ns > now_ns_) {
    return std::nullopt;
  }
  Event event = heap_.top().event;
  heap_.pop();
  return event;
}

}  // namespace vmbus::hypervisor
