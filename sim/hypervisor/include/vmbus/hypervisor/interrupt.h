// How vmbus-sim learns that it should stop: SIGINT and SIGTERM, caught once
// for the whole life of the process.
//
// catch_interrupts() installs one handler for both signals and never
// removes it. The commands that run simulations (`vmbus-sim run` and
// `simulate`) call it before they do anything else, so there is no moment
// -- loading files, starting partitions, between two runs, judging,
// writing reports -- at which a signal kills the process or goes unnoticed.
// The other commands keep the default action: Ctrl-C ends `trace show` as
// it ends any program. The handler only records the signal: it sets a flag and
// makes interrupt_fd() readable. Both stay set for good (the pipe is never
// drained), because being interrupted is a state of the whole process that
// every run under way, every worker thread and every wait must see, however
// many of them look and in whatever order.
//
// Every loop that waits checks interrupted(): the run loop and its socket
// waits (which also wait on interrupt_fd(), so a signal wakes them at once),
// the waits for a partition to exit after Shutdown or after its socket
// closed, and `vmbus-sim run` between runs. The first signal is enough: the
// runs under way stop at once (their partitions are killed), no new run
// starts, and the reports are written. Further signals change nothing.
//
// Without catch_interrupts() (tests that run the simulation in-process),
// interrupted() is always false and the signals keep their default action.
// (A test process that ran `run` or `simulate` in-process keeps the
// handler, as vmbus-sim would.)
#pragma once

namespace vmbus::hypervisor {

// Installs the handler for SIGINT and SIGTERM; later calls do nothing.
// Throws std::runtime_error if the self-pipe cannot be created.
void catch_interrupts();

// The first signal caught (SIGINT or SIGTERM), or 0.
int interrupt_signal();
inline bool interrupted() {
  return interrupt_signal() != 0;
}

// How many signals were caught.
int interrupt_count();

// A descriptor that becomes readable when the first signal is caught and
// stays readable; -1 before catch_interrupts(). Watch it, never read it.
int interrupt_fd();

// "interrupted by SIGTERM": the words the run's outcome uses.
const char* interrupt_text();

}  // namespace vmbus::hypervisor
