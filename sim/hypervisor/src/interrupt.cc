#include "vmbus/hypervisor/interrupt.h"

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <mutex>
#include <stdexcept>
#include <string>
#include <unistd.h>

namespace vmbus::hypervisor {
namespace {

// Touched by the signal handler: lock-free atomics only (checked below).
std::atomic<int> first_signal{0};
std::atomic<int> signal_count{0};
std::atomic<int> pipe_write_fd{-1};
std::atomic<int> pipe_read_fd{-1};
static_assert(std::atomic<int>::is_always_lock_free);

extern "C" void on_interrupt(int signal_number) {
  const int saved_errno = errno;
  int expected = 0;
  first_signal.compare_exchange_strong(expected, signal_number);
  signal_count.fetch_add(1);
  // One byte is enough: nobody reads the pipe, it only has to be readable.
  // A full pipe (EAGAIN) is readable already.
  const char byte = 1;
  (void)!::write(pipe_write_fd.load(), &byte, 1);
  errno = saved_errno;
}

void install() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) {
    throw std::runtime_error(std::string("cannot create the interrupt pipe: ") +
                             std::strerror(errno));
  }
  pipe_read_fd.store(fds[0]);
  pipe_write_fd.store(fds[1]);
  struct sigaction action {};
  action.sa_handler = on_interrupt;
  ::sigemptyset(&action.sa_mask);
  // SA_RESTART: a signal must not make an unrelated read or write of ours
  // fail with EINTR; the waits that matter watch the pipe or the flag.
  action.sa_flags = SA_RESTART;
  for (int signal_number : {SIGINT, SIGTERM}) {
    ::sigaction(signal_number, &action, nullptr);
  }
}

}  // namespace

void catch_interrupts() {
  static std::once_flag once;
  std::call_once(once, install);
}

int interrupt_signal() {
  return first_signal.load();
}

int interrupt_count() {
  return signal_count.load();
}

int interrupt_fd() {
  return pipe_read_fd.load();
}

const char* interrupt_text() {
  switch (interrupt_signal()) {
    case SIGINT:
      return "interrupted by SIGINT";
    case SIGTERM:
      return "interrupted by SIGTERM";
    default:
      return "not interrupted";
  }
}

}  // namespace vmbus::hypervisor
