// Simulated time and what falls due in it.
//
// The EventQueue owns the run's clock: `now` moves only when the run loop
// moves it (a step's cost, an intervention's clock jump, a jump to the next
// event when nothing can run) and never backwards. Every event is a SynIC
// delivery to one partition, due at a simulated time; events due at the same
// time come out in the order they were scheduled (FIFO by a sequence number),
// so the order never depends on the heap's layout. Nothing here reads a wall
// clock or draws a random number: the caller decides every time.
#pragma once

#include <cstdint>
#include <optional>
#include <queue>
#include <string>
#include <vector>

#include "vmbus/hypervisor/side.h"

namespace vmbus::hypervisor {

// A VMBus control message on its way through the SynIC: the connection id it
// was posted on and its payload (at most 240 bytes once the SynIC took it).
struct SynicMessage {
  std::uint32_t connection_id = 0;
  std::string payload{};

  bool operator==(const SynicMessage&) const = default;
};

// Something the SynIC delivers to `target` at a simulated time.
struct Event {
  enum class Kind {
    kDeliverMessage,  // the next queued message into the target's free slot
    kDeliverEvents,   // the target's pending event flags, as one interrupt
    // A fault's or a spurious interrupt: sets one flag (child_relid at the
    // guest, connection_id at the host) and merges with an interrupt already
    // on its way.
    kExtraInterrupt,
    kDelayedMessage,  // a delayed `message` joins the target's queue
  };
  Kind kind = Kind::kDeliverMessage;
  Side target = Side::kHost;
  std::uint32_t child_relid = 0;
  std::uint32_t connection_id = 0;
  SynicMessage message{};
  std::uint32_t vp = 0;  // kDeliverEvents: the target VP whose SINT fires

  bool operator==(const Event&) const = default;
};

// How long the SynIC takes to carry a message or an interrupt to the other
// partition (before the jitter the run loop adds).
struct SynicLatency {
  std::uint64_t message_ns = 0;
  std::uint64_t signal_ns = 0;
};

class EventQueue {
 public:
  std::uint64_t now_ns() const { return now_ns_; }

  // The clock moves forward by `ns` (a step's cost, an intervention's jump).
  void advance_by(std::uint64_t ns) { now_ns_ += ns; }

  // The clock jumps to `time_ns`, unless it is already past it.
  void advance_to(std::uint64_t time_ns);

  // `event` falls due at `at_ns`, after every event already due then.
  void schedule(std::uint64_t at_ns, Event event);

  // When the earliest event falls due; nullopt when none is scheduled.
  std::optional<std::uint64_t> next_time_ns() const;

  // The earliest event if it is due (at or before now), taken off the queue.
  std::optional<Event> pop_due();

  bool empty() const { return heap_.empty(); }

 private:
  struct Entry {
    std::uint64_t time_ns;
    std::uint64_t sequence;  // FIFO among events at the same time
    Event event;

    bool operator>(const Entry& other) const {
      return time_ns != other.time_ns ? time_ns > other.time_ns : sequence > other.sequence;
    }
  };

  std::priority_queue<Entry, std::vector<Entry>, std::greater<>> heap_;
  std::uint64_t next_sequence_ = 0;
  std::uint64_t now_ns_ = 0;
};

}  // namespace vmbus::hypervisor
