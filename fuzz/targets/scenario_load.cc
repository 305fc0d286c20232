// The scenario loader: any text, checked as `vmbus-sim run` checks a file,
// then compiled and judged against an empty trace when it is accepted.
//
// Invariants beyond "no crash, no sanitizer report": every problem of a
// rejected scenario names a position inside the text (a line that exists
// and a column on it), and an accepted scenario compiles: every timeline
// entry becomes an intervention and the expectations can be judged.
#include <algorithm>
#include <string>
#include <vector>

#include "vmbus/runner/scenario.h"

#include "fuzz_input.h"

namespace vmbus::fuzz {
namespace {

std::vector<std::size_t> line_lengths(const std::string& text) {
  std::vector<std::size_t> lengths{0};
  for (char c : text) {
    if (c == '\n') {
      lengths.push_back(0);
    } else {
      ++lengths.back();
    }
  }
  return lengths;
}

void check_positions(const runner::LoadedScenario& loaded, const std::string& text) {
  const std::vector<std::size_t> lengths = line_lengths(text);
  for (const runner::ScenarioProblem& problem : loaded.problems) {
    const bool line_ok =
        problem.line >= 1 && static_cast<std::size_t>(problem.line) <= lengths.size();
    const bool column_ok = line_ok && problem.column >= 1 &&
                           static_cast<std::size_t>(problem.column) <=
                               lengths[static_cast<std::size_t>(problem.line) - 1] + 1;
    if (!line_ok || !column_ok) {
      invariant_failed("problem outside the text: " + problem.to_string());
    }
  }
}

}  // namespace
}  // namespace vmbus::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace vmbus;
  const std::string text(reinterpret_cast<const char*>(data), size);
  const runner::LoadedScenario loaded = runner::load_scenario_text(text, "fuzz.textproto");
  if (!loaded.ok()) {
    fuzz::check_positions(loaded, text);
    return 0;
  }
  const runner::CompiledScenario compiled = runner::compile_scenario(loaded);
  for (const runner::CompiledEntry& entry : compiled.timeline) {
    (void)runner::intervention_of(entry.entry);
  }
  runner::ScenarioResult result;
  runner::judge(compiled, {}, result);
  return 0;
}
