// Running the real vmbus-sim from the runner tests: in the source tree
// (scenario paths are relative to it), with TMPDIR in the test's own
// directory, and without the shard variables of whatever CI system runs
// the tests (a GitLab parallel job would otherwise shard every run).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace vmbus::runner::testing {

struct CliRun {
  int exit_code = -1;
  std::string out;
  std::string err;
};

std::string slurp(const std::filesystem::path& path);

// `vmbus-sim ARGS` with `environment` ("NAME=value ...", shell words)
// added; stdout and stderr land in `dir`.
CliRun run_vmbus_sim(const std::filesystem::path& dir, const std::string& args,
                     const std::string& environment = "");

// The same command line as run_vmbus_sim() builds, for a test that starts
// vmbus-sim itself (to signal it): a shell command for `sh -c`.
std::string vmbus_sim_command(const std::filesystem::path& dir, const std::string& args,
                              const std::string& environment = "");

// A fresh directory for one test, removed with everything in it.
class TestDirectory {
 public:
  TestDirectory();
  ~TestDirectory();
  TestDirectory(const TestDirectory&) = delete;
  TestDirectory& operator=(const TestDirectory&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

std::vector<std::string> file_names_in(const std::filesystem::path& directory);

}  // namespace vmbus::runner::testing
