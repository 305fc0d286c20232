// A partition process started by the simulator.
//
// The child gets its end of the IPC socket as file descriptor 3 and, if
// given, the run's guest memory as descriptor 4 and the driver slot page
// (vmbus/ipc/driver_slot.h) as descriptor 5; no other descriptor of the
// simulator. It ignores SIGINT and SIGTERM: the simulator owns its lifetime
// and decides when a run stops, even when a terminal, `timeout` or a CI
// system signals the whole process group. And it is killed by the kernel if
// the simulator dies (PR_SET_PDEATHSIG, armed before exec and checked
// against a parent that died before it was armed), so no partition outlives
// its run. Destroying a ChildProcess that is still running kills and reaps
// it.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <sys/types.h>
#include <vector>

namespace vmbus::hypervisor {

inline constexpr int kChildIpcFd = 3;
inline constexpr int kChildSegmentFd = 4;
inline constexpr int kChildDriverSlotFd = 5;

// How a child ended, in words a user can act on.
struct ChildExit {
  bool signalled = false;
  int code = 0;                    // exit code, or the signal number
  std::string describe() const;    // "exited with code 1", "killed by signal 9 (SIGKILL)"
  std::string short_name() const;  // "exit code 1", "SIGKILL"
};

class ChildProcess {
 public:
  // Starts `binary` with `arguments`, handing it `ipc_fd` as descriptor 3,
  // `segment_fd` (unless -1) as descriptor 4 and `slot_fd` (unless -1; only
  // with a segment) as descriptor 5. Throws std::runtime_error if it cannot
  // be started.
  ChildProcess(const std::filesystem::path& binary, const std::vector<std::string>& arguments,
               int ipc_fd, int segment_fd = -1, int slot_fd = -1);
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  ~ChildProcess();

  pid_t pid() const { return pid_; }

  // Non-blocking: the exit status if the child has ended.
  std::optional<ChildExit> poll();

  // Waits up to `timeout_ms` for the child to end by itself, then kills it;
  // kills it at once when the process is interrupted (interrupt.h).
  ChildExit wait_or_kill(int timeout_ms);

  // SIGKILL and reap.
  ChildExit kill_and_reap();

 private:
  pid_t pid_ = -1;
  std::optional<ChildExit> exit_;
};

}  // namespace vmbus::hypervisor
