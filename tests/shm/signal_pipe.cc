#include "signal_pipe.h"

#include <array>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <stdexcept>
#include <string>
#include <unistd.h>

namespace vmbus::shm::harness {

const char* wait_outcome_name(WaitOutcome outcome) {
  switch (outcome) {
    case WaitOutcome::kSignalled:
      return "signalled";
    case WaitOutcome::kTimedOut:
      return "timed_out";
    case WaitOutcome::kPeerGone:
      return "peer_gone";
  }
  return "unknown_outcome";
}

SignalPipe::SignalPipe() {
  std::array<int, 2> fds{};
  if (::pipe2(fds.data(), O_NONBLOCK | O_CLOEXEC) != 0) {
    throw std::runtime_error(std::string("pipe2 failed: ") + std::strerror(errno));
  }
  read_fd_ = fds[0];
  write_fd_ = fds[1];
}

SignalPipe::~SignalPipe() {
  close_read_end();
  close_write_end();
}

void SignalPipe::close_read_end() {
  if (read_fd_ >= 0) {
    ::close(read_fd_);
    read_fd_ = -1;
  }
}

void SignalPipe::close_write_end() {
  if (write_fd_ >= 0) {
    ::close(write_fd_);
    write_fd_ = -1;
  }
}

bool SignalPipe::signal() {
  const char byte = 1;
  for (;;) {
    const ssize_t written = ::write(write_fd_, &byte, 1);
    if (written == 1) {
      ++signals_sent_;
      return true;
    }
    if (written < 0 && errno == EINTR) {
      continue;
    }
    // EAGAIN: 64 KiB of unread signals; the waiter will wake regardless.
    return written < 0 && errno == EAGAIN;
  }
}

WaitOutcome SignalPipe::wait(int timeout_ms) {
  pollfd poll_fd{read_fd_, POLLIN, 0};
  int ready = 0;
  do {
    // A signal handler interrupting us restarts the full timeout; the tests
    // install none, so the bound stays what the caller asked for.
    ready = ::poll(&poll_fd, 1, timeout_ms);
  } while (ready < 0 && errno == EINTR);
  if (ready == 0) {
    return WaitOutcome::kTimedOut;
  }
  if (ready < 0) {
    throw std::runtime_error(std::string("poll failed: ") + std::strerror(errno));
  }
  // Drain everything: the signals that piled up while we were busy are one
  // event, and leaving them would make the next wait return at once.
  std::uint64_t drained = 0;
  bool end_of_file = false;
  std::array<char, 256> sink{};
  for (;;) {
    const ssize_t got = ::read(read_fd_, sink.data(), sink.size());
    if (got > 0) {
      drained += static_cast<std::uint64_t>(got);
      continue;
    }
    if (got < 0 && errno == EINTR) {
      continue;
    }
    end_of_file = got == 0;
    break;
  }
  if (drained > 0) {
    // Report the bytes first; a peer that signalled and then exited is seen
    // as gone by the next wait.
    return WaitOutcome::kSignalled;
  }
  if (end_of_file || (poll_fd.revents & (POLLHUP | POLLERR)) != 0) {
    return WaitOutcome::kPeerGone;
  }
  return WaitOutcome::kSignalled;
}

}  // namespace vmbus::shm::harness
