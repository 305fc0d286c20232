#include "cli_runs.h"

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

namespace vmbus::runner::testing {

namespace fs = std::filesystem;

namespace {

// Every shard convention vmbus-sim reads (vmbus/cli/sweep_flags.h).
constexpr const char* kUnsetShardVariables =
    "-u GTEST_SHARD_INDEX -u GTEST_TOTAL_SHARDS -u TEST_SHARD_INDEX -u TEST_TOTAL_SHARDS "
    "-u TEST_SHARD_STATUS_FILE -u JOB_COMPLETION_INDEX -u CI_NODE_INDEX -u CI_NODE_TOTAL";

}  // namespace

std::string slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string vmbus_sim_command(const fs::path& dir, const std::string& args,
                              const std::string& environment) {
  return "cd '" + std::string(VMBUS_SOURCE_DIR) + "' && env " + kUnsetShardVariables + " TMPDIR='" +
         dir.string() + "' " + environment + " '" + VMBUS_SIM_BINARY + "' " + args + " >'" +
         (dir / "stdout").string() + "' 2>'" + (dir / "stderr").string() + "'";
}

CliRun run_vmbus_sim(const fs::path& dir, const std::string& args, const std::string& environment) {
  const int status = std::system(vmbus_sim_command(dir, args, environment).c_str());
  CliRun result;
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  result.out = slurp(dir / "stdout");
  result.err = slurp(dir / "stderr");
  return result;
}

TestDirectory::TestDirectory() {
  std::string name = "vmbus-runner-test-" + std::to_string(::getpid()) + "-" +
                     ::testing::UnitTest::GetInstance()->current_test_info()->name();
  std::replace(name.begin(), name.end(), '/', '_');
  path_ = fs::temp_directory_path() / name;
  fs::remove_all(path_);
  fs::create_directories(path_);
}

TestDirectory::~TestDirectory() {
  std::error_code ignored;
  fs::remove_all(path_, ignored);
}

std::vector<std::string> file_names_in(const fs::path& directory) {
  std::vector<std::string> names;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(directory, error)) {
    names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace vmbus::runner::testing
