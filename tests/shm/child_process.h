// A forked child process that is always reaped.
//
// ChildProcess::fork_and_run() forks; the child runs the given function and
// leaves with _exit(its return value), so it never returns into GoogleTest,
// never runs the parent's destructors (which would remove the shared-memory
// name the parent owns) and never runs exit-time leak checks. The child dies
// with SIGKILL if the parent dies, so a crashed test leaves no orphan.
//
// The parent owns the ChildProcess: destroying it while the child still runs
// kills the child (SIGKILL) and reaps it, so every failure path of a test
// leaves neither a zombie nor a running producer behind.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <sys/types.h>

namespace vmbus::shm::harness {

class ChildProcess {
 public:
  // Forks and runs `body` in the child. Throws std::runtime_error in the
  // parent if fork() fails. In the child, an exception escaping `body`
  // becomes exit status kExitUncaughtException.
  static ChildProcess fork_and_run(const std::function<int()>& body);

  // The child's exit status when `body` threw.
  static constexpr int kExitUncaughtException = 120;

  ChildProcess(ChildProcess&& other) noexcept;
  ChildProcess& operator=(ChildProcess&&) = delete;
  ChildProcess(const ChildProcess&) = delete;
  ~ChildProcess();

  pid_t pid() const { return pid_; }

  // Waits up to `timeout_ms` for the child to end and reaps it. Returns the
  // raw wait status, or nullopt if it is still running.
  std::optional<int> wait_for(int timeout_ms);

  // SIGKILL, then reap. Returns the raw wait status.
  int kill_and_reap();

 private:
  ChildProcess(pid_t pid, int pid_fd);
  int reap();

  pid_t pid_ = -1;
  int pid_fd_ = -1;  // pidfd_open(pid_): pollable, readable when the child ends
};

// "exited with status 3", "killed by signal 9 (Killed)".
std::string describe_wait_status(int status);

}  // namespace vmbus::shm::harness
