#include "child_process.h"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <poll.h>
#include <stdexcept>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <utility>

namespace vmbus::shm::harness {

ChildProcess ChildProcess::fork_and_run(const std::function<int()>& body) {
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    throw std::runtime_error(std::string("fork failed: ") + std::strerror(errno));
  }
  if (pid == 0) {
    // The parent may already be gone between fork() and prctl(); checking
    // getppid() afterwards closes that window.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) {
      ::_exit(kExitUncaughtException);
    }
    int status = kExitUncaughtException;
    try {
      status = body();
    } catch (...) {
      status = kExitUncaughtException;
    }
    ::_exit(status);
  }
  // Through syscall(): glibc 2.36's <sys/pidfd.h> lacks extern "C", so its
  // pidfd_open() cannot be linked from C++.
  const auto pid_fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (pid_fd < 0) {
    const int error = errno;
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    throw std::runtime_error(std::string("pidfd_open failed: ") + std::strerror(error));
  }
  return ChildProcess(pid, pid_fd);
}

ChildProcess::ChildProcess(pid_t pid, int pid_fd) : pid_(pid), pid_fd_(pid_fd) {}

ChildProcess::ChildProcess(ChildProcess&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)), pid_fd_(std::exchange(other.pid_fd_, -1)) {}

ChildProcess::~ChildProcess() {
  if (pid_ > 0) {
    kill_and_reap();
  }
  if (pid_fd_ >= 0) {
    ::close(pid_fd_);
  }
}

std::optional<int> ChildProcess::wait_for(int timeout_ms) {
  if (pid_ <= 0) {
    return std::nullopt;
  }
  pollfd poll_fd{pid_fd_, POLLIN, 0};
  int ready = 0;
  do {
    ready = ::poll(&poll_fd, 1, timeout_ms);
  } while (ready < 0 && errno == EINTR);
  if (ready <= 0) {
    return std::nullopt;
  }
  return reap();
}

int ChildProcess::kill_and_reap() {
  if (pid_ <= 0) {
    return 0;
  }
  // Killing a child that has already exited (a zombie) is harmless.
  ::kill(pid_, SIGKILL);
  return reap();
}

int ChildProcess::reap() {
  int status = 0;
  pid_t got = 0;
  do {
    got = ::waitpid(pid_, &status, 0);
  } while (got < 0 && errno == EINTR);
  pid_ = -1;
  return status;
}

std::string describe_wait_status(int status) {
  if (WIFEXITED(status)) {
    return "exited with status " + std::to_string(WEXITSTATUS(status));
  }
  if (WIFSIGNALED(status)) {
    const int signal_number = WTERMSIG(status);
    return "killed by signal " + std::to_string(signal_number) + " (" + ::strsignal(signal_number) +
           ")";
  }
  return "ended with wait status " + std::to_string(status);
}

}  // namespace vmbus::shm::harness
