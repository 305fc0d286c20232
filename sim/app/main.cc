// vmbus-sim: the command-line entry point. All behaviour lives in
// vmbus_cli (vmbus/cli/cli.h) so that it can be tested in-process.
#include <iostream>
#include <string_view>
#include <vector>

#include "vmbus/cli/cli.h"

int main(int argc, char** argv) {
  std::ios::sync_with_stdio(false);
  const std::vector<std::string_view> args(argv + 1, argv + argc);
  return vmbus::cli::run_vmbus_sim(args, std::cin, std::cout, std::cerr);
}
