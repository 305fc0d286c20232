// A one-way doorbell between two processes, standing in for a VMBus event.
//
// signal() writes one byte; wait() polls the read end with a timeout and then
// drains every byte there, so any number of signals sent before a wait
// coalesce into one wakeup, as event-flag bits do. A wait that times out is
// how the streaming tests detect a lost wakeup: the ring protocol decides
// when to signal, and a wrong decision leaves the other side waiting.
//
// Ownership: a SignalPipe owns both file descriptors until fork(); after
// fork each process closes the end it does not use (close_read_end() /
// close_write_end()). Not thread-safe.
#pragma once

#include <cstdint>

namespace vmbus::shm::harness {

enum class WaitOutcome : std::uint8_t {
  kSignalled,  // at least one byte arrived (all of them were drained)
  kTimedOut,   // nothing arrived within the timeout: a lost wakeup
  kPeerGone,   // every write end is closed: the other process exited
};

const char* wait_outcome_name(WaitOutcome outcome);

class SignalPipe {
 public:
  // Creates a non-blocking, close-on-exec pipe. Throws std::runtime_error
  // (with errno's text) if the system refuses.
  SignalPipe();
  SignalPipe(const SignalPipe&) = delete;
  SignalPipe& operator=(const SignalPipe&) = delete;
  ~SignalPipe();

  void close_read_end();
  void close_write_end();

  // Writes one byte. A full pipe counts as success: the waiter has unread
  // bytes and will wake anyway. Returns false on any other error (EPIPE when
  // the reader is gone and SIGPIPE is ignored).
  bool signal();

  // Blocks until a byte arrives, the timeout passes or the writers are gone.
  WaitOutcome wait(int timeout_ms);

  // Signals written so far (each a write(2) system call).
  std::uint64_t signals_sent() const { return signals_sent_; }

 private:
  int read_fd_ = -1;
  int write_fd_ = -1;
  std::uint64_t signals_sent_ = 0;
};

}  // namespace vmbus::shm::harness
