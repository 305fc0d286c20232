#include "stop_harness.h"

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <fcntl.h>
#include <fstream>
#include <sstream>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace vmbus::runner::testing {

namespace fs = std::filesystem;

namespace {

// Every shard convention vmbus-sim reads (vmbus/cli/sweep_flags.h).
constexpr const char* kShardVariables[] = {
    "GTEST_SHARD_INDEX",      "GTEST_TOTAL_SHARDS",   "TEST_SHARD_INDEX", "TEST_TOTAL_SHARDS",
    "TEST_SHARD_STATUS_FILE", "JOB_COMPLETION_INDEX", "CI_NODE_INDEX",    "CI_NODE_TOTAL"};

// In the forked child (the test process has one thread, so the child may
// allocate): its own process group, the environment, and exec.
[[noreturn]] void exec_vmbus_sim(const fs::path& dir, std::vector<char*>& argv,
                                 const std::vector<std::string>& environment) {
  ::setpgid(0, 0);
  if (::chdir(VMBUS_SOURCE_DIR) != 0) {
    ::_exit(126);
  }
  for (const char* name : kShardVariables) {
    ::unsetenv(name);
  }
  ::setenv("TMPDIR", dir.c_str(), 1);
  for (const std::string& entry : environment) {
    const std::size_t equals = entry.find('=');
    ::setenv(entry.substr(0, equals).c_str(), entry.substr(equals + 1).c_str(), 1);
  }
  const int out = ::open((dir / "stdout").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  const int err = ::open((dir / "stderr").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (out < 0 || err < 0 || ::dup2(out, 1) < 0 || ::dup2(err, 2) < 0) {
    ::_exit(126);
  }
  // The signals as a shell would leave them to a program it starts.
  ::signal(SIGINT, SIG_DFL);
  ::signal(SIGTERM, SIG_DFL);
  ::execv(argv[0], argv.data());
  ::_exit(127);
}

}  // namespace

Started start_vmbus_sim(const fs::path& dir, const std::vector<std::string>& args,
                        const std::vector<std::string>& environment) {
  ::prctl(PR_SET_CHILD_SUBREAPER, 1);
  std::vector<std::string> words = {VMBUS_SIM_BINARY};
  words.insert(words.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& word : words) {
    argv.push_back(word.data());
  }
  argv.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    exec_vmbus_sim(dir, argv, environment);
  }
  if (pid > 0) {
    ::setpgid(pid, pid);  // also here: a signal to the group may come at once
  }
  return Started{pid, dir};
}

bool wait_for(const std::function<bool()>& ready, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!ready()) {
    if (std::chrono::steady_clock::now() > deadline) {
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

int wait_for_exit(pid_t pid, std::chrono::milliseconds limit) {
  int status = 0;
  const bool exited = wait_for(
      [&] {
        const pid_t got = ::waitpid(pid, &status, WNOHANG);
        return got == pid || (got < 0 && errno == ECHILD);
      },
      limit);
  if (exited) {
    return status;
  }
  ::kill(-pid, SIGKILL);
  ::waitpid(pid, &status, 0);
  return -1;
}

bool catches(pid_t pid, int signal_number) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("SigCgt:", 0) == 0) {
      const unsigned long long mask = std::stoull(line.substr(7), nullptr, 16);
      return ((mask >> (signal_number - 1)) & 1u) != 0;
    }
  }
  return false;
}

std::vector<pid_t> live_members_of(pid_t pgid) {
  while (::waitpid(-1, nullptr, WNOHANG) > 0) {
  }
  std::vector<pid_t> members;
  std::error_code error;
  for (fs::directory_iterator it("/proc", error), end; !error && it != end; it.increment(error)) {
    const std::string name = it->path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) {
      continue;
    }
    std::ifstream in(it->path() / "stat");
    std::string stat;
    std::getline(in, stat);
    // "pid (comm) state ppid pgrp ...": comm may hold spaces and parens.
    const std::size_t close = stat.rfind(')');
    if (close == std::string::npos) {
      continue;
    }
    std::istringstream fields(stat.substr(close + 2));
    char state = 0;
    pid_t parent = 0;
    pid_t group = 0;
    fields >> state >> parent >> group;
    if (group == pgid && state != 'Z' && state != 'X') {
      members.push_back(static_cast<pid_t>(std::stol(name)));
    }
  }
  return members;
}

std::vector<std::string> segments_of(pid_t pid) {
  return names_starting("/dev/shm", "vmbus-sim-" + std::to_string(pid) + "-");
}

std::vector<std::string> names_starting(const fs::path& dir, const std::string& prefix) {
  std::vector<std::string> names;
  std::error_code error;
  for (fs::directory_iterator it(dir, error), end; !error && it != end; it.increment(error)) {
    const std::string name = it->path().filename().string();
    if (name.rfind(prefix, 0) == 0) {
      names.push_back(name);
    }
  }
  return names;
}

std::pair<std::string, std::string> slow_partitions(const fs::path& dir) {
  const fs::path host = dir / "slow-host";
  const fs::path guest = dir / "slow-guest";
  std::error_code ignored;
  fs::create_symlink(VMBUS_SLOW_PARTITION_BINARY, host, ignored);
  fs::create_symlink(VMBUS_SLOW_PARTITION_BINARY, guest, ignored);
  return {host.string(), guest.string()};
}

}  // namespace vmbus::runner::testing
