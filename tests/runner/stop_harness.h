// Starting the real vmbus-sim in a process group of its own and watching
// what it leaves behind, for the tests that stop it with signals: SIGINT
// and SIGTERM at chosen moments (stop_test.cc) and SIGKILL at random ones.
//
// The test process makes itself a child subreaper, so that a partition
// orphaned by its parent's death is reparented to it and reaped here,
// whatever the machine's init does with orphans.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <string>
#include <sys/types.h>
#include <vector>

namespace vmbus::runner::testing {

struct Started {
  pid_t pid = -1;  // vmbus-sim's, and its process group's
  std::filesystem::path dir;
};

// Starts `vmbus-sim ARGS` in the source tree, as the leader of a new
// process group, with TMPDIR=`dir`, `environment` added ("NAME=value"
// entries), no shard variables, and stdout/stderr in `dir`/stdout and
// `dir`/stderr.
Started start_vmbus_sim(const std::filesystem::path& dir, const std::vector<std::string>& args,
                        const std::vector<std::string>& environment = {});

// Waits up to `limit` for `ready` to hold; whether it did.
bool wait_for(const std::function<bool()>& ready,
              std::chrono::milliseconds limit = std::chrono::seconds(60));

// Waits up to `limit` for `pid` to exit; its wait status, or -1 (then it
// and its group were killed with SIGKILL).
int wait_for_exit(pid_t pid, std::chrono::milliseconds limit = std::chrono::seconds(120));

// Whether process `pid` catches `signal_number` (its handler is in place).
bool catches(pid_t pid, int signal_number);

// The processes of group `pgid` that have not ended (zombies excepted),
// after reaping the orphans reparented to this process.
std::vector<pid_t> live_members_of(pid_t pgid);

// Shared-memory names in /dev/shm of vmbus-sim `pid`'s runs.
std::vector<std::string> segments_of(pid_t pid);

// Names in `dir` that start with `prefix`.
std::vector<std::string> names_starting(const std::filesystem::path& dir,
                                        const std::string& prefix);

// Symlinks `dir`/slow-host and `dir`/slow-guest to the slow-partition
// wrapper (slow_partition.cc); returns their paths.
std::pair<std::string, std::string> slow_partitions(const std::filesystem::path& dir);

}  // namespace vmbus::runner::testing
