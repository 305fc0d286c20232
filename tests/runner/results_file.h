// Reading back the results file (--json) of a vmbus-sim run in the runner
// tests; a file that does not parse fails the test that reads it.
#pragma once

#include <filesystem>
#include <string>
#include <utility>
#include <variant>

#include <gtest/gtest.h>

#include "vmbus/cli/results.h"

#include "cli_runs.h"

namespace vmbus::runner::testing {

inline cli::SweepResults read_results(const std::filesystem::path& file) {
  auto results = cli::read_results_json(slurp(file), file.string());
  if (auto* message = std::get_if<std::string>(&results)) {
    ADD_FAILURE() << *message;
    return {};
  }
  return std::get<cli::SweepResults>(std::move(results));
}

}  // namespace vmbus::runner::testing
