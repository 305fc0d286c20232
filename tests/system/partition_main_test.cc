// vmbus-host and vmbus-guest on their own command line: --version, --help,
// and a usage error for anything but "--ipc-fd FD".
#include <array>
#include <cstdio>
#include <string>
#include <sys/wait.h>

#include <gtest/gtest.h>

#include "vmbus/base/build_info.h"

namespace {

struct Output {
  int exit_code = -1;
  std::string out;
};

// Runs `command` through the shell, stderr folded into stdout.
Output run(const std::string& command) {
  Output result;
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) {
    return result;
  }
  std::array<char, 256> buffer{};
  while (std::fgets(buffer.data(), static_cast<int>(buffer.size()), pipe) != nullptr) {
    result.out += buffer.data();
  }
  const int status = ::pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

TEST(PartitionMain, VersionNamesTheBuildLikeVmbusSim) {
  for (const auto& [binary, name] :
       {std::pair<std::string, std::string>{VMBUS_HOST_BINARY, "vmbus-host"},
        {VMBUS_GUEST_BINARY, "vmbus-guest"}}) {
    const Output result = run("'" + binary + "' --version");
    EXPECT_EQ(result.exit_code, 0);
    EXPECT_EQ(result.out, name + " " + vmbus::base::build_identity() + "\n");
  }
}

TEST(PartitionMain, HelpSaysTheSimulatorStartsIt) {
  const Output result = run(std::string("'") + VMBUS_GUEST_BINARY + "' --help");
  EXPECT_EQ(result.exit_code, 0);
  EXPECT_EQ(result.out,
            "usage: vmbus-guest --ipc-fd FD | --version | --help\n"
            "vmbus-guest is a simulated partition process; vmbus-sim starts it, with FD its end "
            "of the IPC socket.\n");
}

TEST(PartitionMain, AnythingElseIsAUsageError) {
  for (const std::string args : {"", "--ipc-fd", "--ipc-fd x", "--ipc-fd 3 extra", "--versions"}) {
    const Output result = run(std::string("'") + VMBUS_HOST_BINARY + "' " + args);
    EXPECT_EQ(result.exit_code, 2) << args;
    EXPECT_EQ(result.out.rfind("usage: vmbus-host --ipc-fd FD | --version | --help\n", 0), 0u)
        << args << ": " << result.out;
  }
}

}  // namespace
