#include "fiber.h"

#include "vmbus/base/check.h"
#include "vmbus/kmcl/driver_position.h"

namespace vmbus::kmcl::detail {
namespace {

thread_local Fiber* t_current_fiber = nullptr;

}  // namespace

Fiber::Fiber(std::function<void()> body) : body_(std::move(body)) {}

Fiber::~Fiber() {
  if (started_ && !finished_) {
    cancelling_ = true;  // published to the fiber by the hand-off in resume()
    resume();
  }
  if (thread_.joinable()) {
    thread_.join();
  }
}

Fiber* Fiber::current() {
  return t_current_fiber;
}

void Fiber::hand_over_and_wait(Turn to, Turn until) {
  turn_.store(to, std::memory_order_release);
  turn_.notify_one();
  // Only two values: while it is not `until` it is `to`. No spinning: on a
  // loaded machine (CI running builds in parallel) a spinning waiter takes
  // the core the other side needs; a futex wait measured 5x faster there.
  while (turn_.load(std::memory_order_acquire) != until) {
    turn_.wait(to, std::memory_order_acquire);
  }
}

void Fiber::resume() {
  VMBUS_CHECK(!finished_, "resume of a finished fiber");
  VMBUS_CHECK(t_current_fiber != this, "a fiber cannot resume itself");
  if (!started_) {
    started_ = true;
    // The new thread waits for its turn before touching anything.
    thread_ = std::thread([this] { run(); });
  }
  hand_over_and_wait(kFiber, kScheduler);
  // The fiber stopped (blocked or done): what runs now is this thread's.
  publish_driver_position();
}

void Fiber::suspend() {
  VMBUS_CHECK(t_current_fiber == this, "suspend from outside the fiber");
  hand_over_and_wait(kScheduler, kFiber);
  publish_driver_position();  // the driver code this fiber blocked in runs again
  if (cancelling_) {
    throw FiberCancelled{};
  }
}

void Fiber::run() {
  while (turn_.load(std::memory_order_acquire) != kFiber) {
    turn_.wait(kScheduler, std::memory_order_acquire);
  }
  t_current_fiber = this;
  publish_driver_position();
  if (!cancelling_) {
    try {
      body_();
    } catch (const FiberCancelled&) {
      // The owner is tearing down; the stack is unwound, nothing to do.
    }
  }
  finished_ = true;
  turn_.store(kScheduler, std::memory_order_release);
  turn_.notify_one();
}

}  // namespace vmbus::kmcl::detail
