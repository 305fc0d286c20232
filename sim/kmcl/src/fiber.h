// Fiber: a function that runs on its own OS thread but only ever runs while
// the thread that resumed it waits, so that at any moment exactly one of
// them runs.
//
// Why a thread and not ucontext: driver code at PASSIVE_LEVEL may block in
// the middle of a callback (VmbChannelSendSynchronousRequest in
// EvtChannelPostStarted), and the model must then run other contexts and
// come back to it later, deterministically. A thread with strict hand-off
// gives every such context its own stack; AddressSanitizer understands
// threads, while it needs annotations for swapcontext.
//
// Hand-off protocol: `turn_` names who may run. resume() (scheduler side)
// stores kFiber and waits until it reads kScheduler; suspend() (fiber side)
// stores kScheduler and waits until it reads kFiber. Each store is a release
// and each successful wait an acquire, so everything one side did before
// handing over happens-before everything the other does after: the two
// threads need no other synchronisation for the data they share. A waiter
// blocks in atomic::wait (a futex) right away; see hand_over_and_wait().
#pragma once

#include <atomic>
#include <functional>
#include <thread>

namespace vmbus::kmcl::detail {

// Thrown out of suspend() when the owner destroys a fiber that is still
// suspended: it unwinds the fiber's stack (driver frames included) to run().
struct FiberCancelled {};

class Fiber {
 public:
  explicit Fiber(std::function<void()> body);
  // Cancels a suspended fiber (see FiberCancelled) and joins its thread.
  ~Fiber();
  Fiber(const Fiber&) = delete;
  Fiber& operator=(const Fiber&) = delete;

  // Scheduler side: run the fiber until it suspends or its body returns.
  void resume();
  // Fiber side: hand control back and wait to be resumed.
  void suspend();

  bool finished() const { return finished_; }
  // The fiber whose thread is calling, or nullptr.
  static Fiber* current();

 private:
  enum Turn : int { kScheduler = 0, kFiber = 1 };

  void run();
  void hand_over_and_wait(Turn to, Turn until);

  std::function<void()> body_;
  std::atomic<int> turn_{kScheduler};
  // Written by one side before a hand-off, read by the other after it.
  bool started_ = false;
  bool finished_ = false;
  bool cancelling_ = false;
  std::thread thread_;
};

}  // namespace vmbus::kmcl::detail
