#include "vmbus/hypervisor/child_process.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <linux/close_range.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdexcept>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#include "vmbus/hypervisor/interrupt.h"

namespace vmbus::hypervisor {
// g++ says __SANITIZE_THREAD__, clang __has_feature(thread_sanitizer).
#if defined(__SANITIZE_THREAD__)
#define VMBUS_THREAD_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define VMBUS_THREAD_SANITIZER 1
#endif
#endif
#ifndef VMBUS_THREAD_SANITIZER
#define VMBUS_THREAD_SANITIZER 0
#endif

namespace {

ChildExit from_status(int status) {
  ChildExit exit;
  if (WIFSIGNALED(status)) {
    exit.signalled = true;
    exit.code = WTERMSIG(status);
  } else {
    exit.code = WEXITSTATUS(status);
  }
  return exit;
}

}  // namespace

std::string ChildExit::describe() const {
  if (signalled) {
    const char* name = sigabbrev_np(code);
    return "killed by signal " + std::to_string(code) +
           (name ? std::string(" (SIG") + name + ")" : "");
  }
  return "exited with code " + std::to_string(code);
}

std::string ChildExit::short_name() const {
  if (signalled) {
    const char* name = sigabbrev_np(code);
    return name != nullptr ? std::string("SIG") + name : "signal " + std::to_string(code);
  }
  return "exit code " + std::to_string(code);
}

namespace {

// In the child, before exec: only async-signal-safe calls, and no write to
// memory but its own stack (it shares the simulator's memory, see
// start_child). Puts `fds[i]` at descriptor 3 + i (those after a -1 are not
// given), leaves the signals to the simulator, and arms the death signal.
// Returns 0, or the errno of what failed.
int prepare_child(pid_t parent, const int (&fds)[3]) {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != parent) {
    ::_exit(127);  // the simulator died before we could arm the death signal
  }
  // The child has its own copy of the signal dispositions: a handler of the
  // simulator's must never run here, where it would act on the simulator's
  // memory. Ignored signals stay ignored across exec: a SIGINT or SIGTERM to
  // the whole process group leaves the partition to the simulator's decision.
  for (int signal_number = 1; signal_number < NSIG; ++signal_number) {
    struct sigaction current {};
    if (::sigaction(signal_number, nullptr, &current) == 0 && current.sa_handler != SIG_DFL &&
        current.sa_handler != SIG_IGN) {
      ::signal(signal_number, SIG_DFL);
    }
  }
  ::signal(SIGINT, SIG_IGN);
  ::signal(SIGTERM, SIG_IGN);
  sigset_t none;
  ::sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  // Out of the way first (above every target), so that no dup2 below
  // overwrites another's source.
  int high[3] = {-1, -1, -1};
  int given = 0;
  for (; given < 3 && fds[given] >= 0; ++given) {
    high[given] = ::fcntl(fds[given], F_DUPFD, kChildDriverSlotFd + 1);
    if (high[given] < 0) {
      return errno;
    }
  }
  for (int i = 0; i < given; ++i) {
    if (::dup2(high[i], kChildIpcFd + i) < 0) {
      return errno;
    }
  }
  // Nothing else of the simulator's may leak into the partition: an
  // inherited socket end would keep a dead peer's connection open and hide
  // its crash. (close_range flags them close-on-exec; the status pipe stays
  // usable until the exec succeeds.)
  ::close_range(static_cast<unsigned>(kChildIpcFd + given), ~0u, CLOSE_RANGE_CLOEXEC);
  return 0;
}

// The signal mask of the calling thread, all blocked for as long as this
// lives: the child must not run the simulator's interrupt handler between
// fork and the moment it ignores the signals (it would write to the
// simulator's interrupt pipe).
class SignalsBlocked {
 public:
  SignalsBlocked() {
    sigset_t all;
    ::sigfillset(&all);
    ::pthread_sigmask(SIG_SETMASK, &all, &saved_);
  }
  ~SignalsBlocked() { ::pthread_sigmask(SIG_SETMASK, &saved_, nullptr); }
  SignalsBlocked(const SignalsBlocked&) = delete;
  SignalsBlocked& operator=(const SignalsBlocked&) = delete;

 private:
  sigset_t saved_;
};

// What the child needs from the simulator to start; read-only in the child.
struct ChildStart {
  pid_t parent;
  int fds[3];
  char** argv;
  int status_fd;  // the status pipe's write end, closed by a successful exec
};

// The child's whole life before exec, on its own stack.
int child_main(void* argument) {
  const ChildStart& start = *static_cast<const ChildStart*>(argument);
  int error = prepare_child(start.parent, start.fds);
  if (error == 0) {
    ::execv(start.argv[0], start.argv);
    error = errno;
  }
  (void)!::write(start.status_fd, &error, sizeof(error));
  ::_exit(127);
}

// Starts the child the way posix_spawn does: it shares the simulator's
// memory until it calls exec (CLONE_VM), and this thread waits until then
// (CLONE_VFORK). A fork() would copy the simulator's page tables only for
// exec to throw them away, take copy-on-write faults on both sides, and
// resolve every libc function the child calls anew; that was 9 % of a
// scenario run's CPU. The child runs on a stack of its own so that it cannot
// overwrite this thread's frames; besides that stack it writes only errno,
// which is this (waiting) thread's. Returns the child's pid, or -1 with
// errno set.
//
// Under ThreadSanitizer the child is a plain fork(): the sanitizer knows
// only the threads it started, so a CLONE_VM child runs its intercepted
// calls on the waiting thread's sanitizer state while the simulator's
// other threads (run --jobs) go on, and the corrupted state then reports a
// race on nearly every later free.
pid_t start_child(ChildStart& start) {
#if VMBUS_THREAD_SANITIZER
  const pid_t child = ::fork();
  if (child == 0) {
    child_main(&start);  // does not return
  }
  return child;
#endif
  constexpr std::size_t kStackBytes = 64 * 1024;
  void* stack = ::mmap(nullptr, kStackBytes, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (stack == MAP_FAILED) {
    return -1;
  }
  // The stack grows down on every architecture this builds for.
  char* stack_top = static_cast<char*>(stack) + kStackBytes;
  const pid_t pid = ::clone(child_main, stack_top, CLONE_VM | CLONE_VFORK | SIGCHLD, &start);
  const int error = errno;
  ::munmap(stack, kStackBytes);
  errno = error;
  return pid;
}

}  // namespace

ChildProcess::ChildProcess(const std::filesystem::path& binary,
                           const std::vector<std::string>& arguments, int ipc_fd, int segment_fd,
                           int slot_fd) {
  std::vector<std::string> argv_storage;
  argv_storage.push_back(binary.string());
  argv_storage.insert(argv_storage.end(), arguments.begin(), arguments.end());
  std::vector<char*> argv;
  for (std::string& arg : argv_storage) {
    argv.push_back(arg.data());
  }
  argv.push_back(nullptr);

  // A pipe that closes on a successful exec tells the parent whether the
  // child really started, and why not.
  int status_pipe[2];
  if (::pipe2(status_pipe, O_CLOEXEC) != 0) {
    throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
  }
  ChildStart start{::getpid(),
                   {ipc_fd, segment_fd, segment_fd >= 0 ? slot_fd : -1},
                   argv.data(),
                   status_pipe[1]};
  pid_t pid = -1;
  {
    const SignalsBlocked blocked;
    pid = start_child(start);
  }
  if (pid < 0) {
    const int error = errno;
    ::close(status_pipe[0]);
    ::close(status_pipe[1]);
    throw std::runtime_error(std::string("fork: ") + std::strerror(error));
  }
  ::close(status_pipe[1]);
  pid_ = pid;
  int child_error = 0;
  ssize_t got;
  do {
    got = ::read(status_pipe[0], &child_error, sizeof(child_error));
  } while (got < 0 && errno == EINTR);
  ::close(status_pipe[0]);
  if (got == static_cast<ssize_t>(sizeof(child_error))) {
    kill_and_reap();
    throw std::runtime_error("cannot start '" + binary.string() +
                             "': " + std::strerror(child_error));
  }
}

ChildProcess::~ChildProcess() {
  if (pid_ > 0 && !exit_) {
    kill_and_reap();
  }
}

std::optional<ChildExit> ChildProcess::poll() {
  if (exit_ || pid_ <= 0) {
    return exit_;
  }
  int status = 0;
  const pid_t got = ::waitpid(pid_, &status, WNOHANG);
  if (got == pid_) {
    exit_ = from_status(status);
  }
  return exit_;
}

ChildExit ChildProcess::wait_or_kill(int timeout_ms) {
  // Supervision only (never shapes a run): poll in small sleeps.
  for (int waited = 0; waited < timeout_ms && !interrupted(); waited += 5) {
    if (auto exit = poll()) {
      return *exit;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return kill_and_reap();
}

ChildExit ChildProcess::kill_and_reap() {
  if (auto exit = poll()) {
    return *exit;
  }
  ::kill(pid_, SIGKILL);
  int status = 0;
  pid_t got;
  do {
    got = ::waitpid(pid_, &status, 0);
  } while (got < 0 && errno == EINTR);
  exit_ = got == pid_ ? from_status(status) : ChildExit{true, SIGKILL};
  return *exit_;
}

}  // namespace vmbus::hypervisor
