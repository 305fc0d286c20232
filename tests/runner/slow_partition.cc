// A partition that is slow to start or slow to exit, for the tests that
// stop vmbus-sim at a chosen moment: passed as --host-binary or
// --guest-binary under a name that contains "host" or "guest" (a symlink),
// it runs the real vmbus-host or vmbus-guest as its child with the same
// arguments and descriptors, and exits with its status.
//
//   VMBUS_SLOW_START_MS  wait this long before starting the real partition
//   VMBUS_SLOW_EXIT_MS   wait this long after it exited before exiting
//   VMBUS_SLOW_MARK_DIR  announce each moment as an empty file
//                        DIR/<role>.<pid>.<moment>: "started" (before the
//                        start delay), "running" (the real partition runs),
//                        "exiting" (it exited; the exit delay begins),
//                        "exited" (about to exit)
//
// It behaves as a partition towards its parent: it leaves SIGINT and
// SIGTERM as vmbus-sim set them, dies with its parent, and its child dies
// with it (PR_SET_PDEATHSIG), so a killed wrapper leaves nothing behind.
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <string>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace {

int milliseconds_from(const char* name) {
  const char* text = std::getenv(name);
  return text != nullptr ? std::atoi(text) : 0;
}

void mark(const std::string& role, const char* moment) {
  const char* dir = std::getenv("VMBUS_SLOW_MARK_DIR");
  if (dir == nullptr) {
    return;
  }
  const std::string path =
      std::string(dir) + "/" + role + "." + std::to_string(::getpid()) + "." + moment;
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  if (fd >= 0) {
    ::close(fd);
  }
}

void sleep_ms(int ms) {
  if (ms > 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  }
}

}  // namespace

int main(int /*argc*/, char** argv) {
  const std::string name = argv[0];
  const std::string role = name.find("host") != std::string::npos ? "host" : "guest";
  const char* real = role == "host" ? VMBUS_HOST_BINARY : VMBUS_GUEST_BINARY;
  mark(role, "started");
  sleep_ms(milliseconds_from("VMBUS_SLOW_START_MS"));

  const pid_t self = ::getpid();
  const pid_t child = ::fork();
  if (child < 0) {
    return 127;
  }
  if (child == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != self) {
      ::_exit(127);
    }
    argv[0] = const_cast<char*>(real);
    ::execv(real, argv);
    ::_exit(127);
  }
  // The real partition holds the socket and the memory now: when it exits,
  // vmbus-sim must see its socket close.
  ::close(3);
  ::close(4);
  mark(role, "running");
  int status = 0;
  while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  mark(role, "exiting");
  sleep_ms(milliseconds_from("VMBUS_SLOW_EXIT_MS"));
  mark(role, "exited");
  if (WIFSIGNALED(status)) {
    return 128 + WTERMSIG(status);
  }
  return WEXITSTATUS(status);
}
