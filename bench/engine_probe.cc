// engine_probe: the measurements bench/engine_bench.sh makes of the scenario
// engine, each printed as one line of `key=value` pairs.
//
//   engine_probe command -- PROGRAM ARGS...
//       runs PROGRAM once and reports its wall time and the CPU time (user,
//       system) of it and every process it waited for (wait4's rusage);
//   engine_probe spawn-floor COUNT HOST GUEST
//       COUNT times starts HOST and GUEST with --version side by side and
//       waits for both: the floor of starting a run's two partition programs
//       and letting them exit (exec, dynamic linking, static initialisers);
//   engine_probe ipc-floor COUNT
//       COUNT 8-byte round trips over a Unix socket pair between this process
//       and a forked child: the floor of one IPC round trip (a step grant and
//       its StepDone cannot cost less).
//
// Timing uses the wall clock and getrusage: this is a benchmark, it never
// shapes a run. Nothing here is asserted; the script compares builds.
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <optional>
#include <spawn.h>
#include <string>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

#include "socket_echo.h"

extern char** environ;

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

double seconds_of(const timeval& tv) {
  return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) * 1e-6;
}

// CPU time of this process and its waited-for children, in seconds.
struct CpuSeconds {
  double user = 0;
  double system = 0;
};

CpuSeconds cpu_now() {
  rusage self{};
  rusage children{};
  ::getrusage(RUSAGE_SELF, &self);
  ::getrusage(RUSAGE_CHILDREN, &children);
  return {seconds_of(self.ru_utime) + seconds_of(children.ru_utime),
          seconds_of(self.ru_stime) + seconds_of(children.ru_stime)};
}

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "engine_probe: %s: %s\n", what.c_str(), std::strerror(errno));
  std::exit(2);
}

pid_t spawn(std::vector<char*> argv, bool quiet) {
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (quiet) {
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  }
  pid_t pid = -1;
  const int error = ::posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (error != 0) {
    errno = error;
    die(std::string("cannot start ") + argv[0]);
  }
  return pid;
}

int wait_for(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) {
      die("waitpid");
    }
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int command(std::vector<char*> argv) {
  const CpuSeconds before = cpu_now();
  const Clock::time_point start = Clock::now();
  const int code = wait_for(spawn(std::move(argv), false));
  const double wall = seconds_since(start);
  const CpuSeconds after = cpu_now();
  std::printf("exit=%d wall_s=%.6f user_s=%.6f sys_s=%.6f\n", code, wall, after.user - before.user,
              after.system - before.system);
  return 0;
}

int spawn_floor(long count, char* host, char* guest) {
  char version[] = "--version";
  const CpuSeconds before = cpu_now();
  const Clock::time_point start = Clock::now();
  for (long i = 0; i < count; ++i) {
    const pid_t host_pid = spawn({host, version}, true);
    const pid_t guest_pid = spawn({guest, version}, true);
    if (wait_for(host_pid) != 0 || wait_for(guest_pid) != 0) {
      std::fprintf(stderr, "engine_probe: a partition program's --version failed\n");
      return 2;
    }
  }
  const double wall = seconds_since(start);
  const CpuSeconds after = cpu_now();
  const double n = static_cast<double>(count);
  std::printf("pairs=%ld wall_per_pair_s=%.9f cpu_per_pair_s=%.9f\n", count, wall / n,
              (after.user - before.user + after.system - before.system) / n);
  return 0;
}

int ipc_floor(long count) {
  const std::optional<vmbus::bench::EchoPeer> peer = vmbus::bench::start_echo_peer();
  if (!peer) {
    die("socketpair or fork");
  }
  const CpuSeconds before = cpu_now();
  const Clock::time_point start = Clock::now();
  for (long i = 0; i < count; ++i) {
    if (!vmbus::bench::echo_round_trip(peer->fd, static_cast<std::uint64_t>(i))) {
      die("round trip");
    }
  }
  const double wall = seconds_since(start);
  ::close(peer->fd);
  wait_for(peer->child);  // the child's CPU is counted from here on
  const CpuSeconds after = cpu_now();
  const double n = static_cast<double>(count);
  std::printf("round_trips=%ld wall_per_round_trip_s=%.9f cpu_per_round_trip_s=%.9f\n", count,
              wall / n, (after.user - before.user + after.system - before.system) / n);
  return 0;
}

long parse_count(const char* text) {
  char* end = nullptr;
  const long value = std::strtol(text, &end, 10);
  if (end == text || *end != '\0' || value <= 0) {
    std::fprintf(stderr, "engine_probe: not a positive count: %s\n", text);
    std::exit(2);
  }
  return value;
}

int usage() {
  std::fprintf(stderr,
               "usage: engine_probe command -- PROGRAM ARGS...\n"
               "       engine_probe spawn-floor COUNT HOST GUEST\n"
               "       engine_probe ipc-floor COUNT\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "command" && argc > 3 && std::string(argv[2]) == "--") {
    return command(std::vector<char*>(argv + 3, argv + argc));
  }
  if (mode == "spawn-floor" && argc == 5) {
    return spawn_floor(parse_count(argv[2]), argv[3], argv[4]);
  }
  if (mode == "ipc-floor" && argc == 3) {
    return ipc_floor(parse_count(argv[2]));
  }
  return usage();
}
