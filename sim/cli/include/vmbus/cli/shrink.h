// Shrinking a failing scenario run to a small scenario that fails the same
// way (`vmbus-sim shrink`).
//
// The failure is named by its signature: the verdict and the first failure
// in words -- the first failed expectation, the first oracle that fired and
// on which channel, the simulator's error -- with every number blanked, so
// that "counter delivered of 'net' is 199, expected 200" and the same with
// 0 and 1 count as the same failure; and every oracle that fired, by name
// and channel.
//
// The search is delta debugging (ddmin) over the timeline's steps, then
// single removals -- channels (with the steps and expectations that name
// them), expectations, driver policy rules -- and smaller send counts
// (halving, then one) and default payloads, repeated until nothing more
// goes or the budget is spent. Every candidate is loaded and checked like a
// file (one that does not load is no candidate) and run with the original
// seed, so the schedule is the seed's: the shrunk file fails on its own
// with `vmbus-sim run FILE` (its seed is written into it).
//
// Then the schedule: of the shrunk run's scheduler decisions (the steps
// with more than one ready context), each is tried with every other ready
// context granted instead, one decision at a time, the rest of the run the
// seed's. A decision matters when some other choice makes the failure go
// away. Those decisions are written into the file as pins (Scenario.pin),
// so the failing interleaving survives edits that do not touch the steps
// before them, and a reader sees which few decisions the failure needs.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "vmbus/proto/scenario.pb.h"
#include "vmbus/runner/scenario.h"

namespace vmbus::cli {

// The failure `result` is, with numbers blanked ("FAIL: oracle lost_wakeup
// fired on channel 'c#'..."), or nullopt when it passed.
std::optional<std::string> failure_signature(const runner::ScenarioResult& result);

struct ShrinkBudget {
  std::uint64_t max_runs = 400;
  std::chrono::seconds max_time{300};
};

// How big a scenario is, for "before" and "after".
struct ScenarioSize {
  std::size_t steps = 0;
  std::size_t channels = 0;
  std::size_t expectations = 0;
  std::uint64_t packets_sent = 0;  // the sum of the send actions' counts
  std::size_t text_bytes = 0;
  std::string describe() const;  // "30 steps, 4 channels, 230 packets sent, 2411 bytes"
};

ScenarioSize size_of(const proto::Scenario& scenario);

// A scheduler decision of one run that had a choice: more than one ready
// context at its step.
struct ScheduleDecision {
  std::uint64_t step = 0;
  std::vector<std::string> ready;  // "<partition>:<context>", as the trace names them
  std::string chosen;
};

// What the schedule search found.
struct ScheduleFinding {
  bool searched = false;      // false: no decision reader, or the file pins its own
  std::size_t decisions = 0;  // the shrunk run's decisions with a choice
  std::size_t tried = 0;      // how many were tried before the budget ran out
  // A decision that matters, pinned in the shrunk scenario, with the other
  // context that made the failure go away.
  struct Pinned {
    std::uint64_t step = 0;
    std::string context;
    std::string instead;
  };
  std::vector<Pinned> pinned;
};

struct ShrinkResult {
  proto::Scenario shrunk;
  std::string signature;  // the failure kept
  // The shrunk run's first failure, in words; empty when the original run
  // did not fail with the signature again (nothing was shrunk).
  std::string failure;
  std::uint64_t runs = 0;  // runs made, the original's included
  bool budget_spent = false;
  std::vector<std::string> removed;  // "28 of 30 steps", "send counts 200 -> 1", ...
  ScheduleFinding schedule;
};

// Runs one candidate: "" and its result, or why it is no candidate (it
// does not load). Tests and the command run scenarios through it.
using CandidateRunner =
    std::function<std::optional<runner::ScenarioResult>(const proto::Scenario& candidate)>;

// The scheduler decisions with a choice of one run of `candidate` (the run
// CandidateRunner would make), in step order.
using DecisionReader =
    std::function<std::vector<ScheduleDecision>(const proto::Scenario& candidate)>;

// Shrinks `original`, whose run failed with `signature`, within `budget`;
// then, given `decisions`, pins the decisions that matter.
ShrinkResult shrink_scenario(const proto::Scenario& original, const std::string& signature,
                             const CandidateRunner& run, const ShrinkBudget& budget,
                             const DecisionReader& decisions = {});

// The shrunk scenario as a file: a comment that says what it came from,
// what was removed and how, then the scenario in text format.
std::string shrunk_file_text(const ShrinkResult& result, const std::string& source,
                             std::uint64_t seed, const ScenarioSize& before);

}  // namespace vmbus::cli

namespace vmbus::cli {

// What `vmbus-sim shrink` (and `explore --shrink`) is asked to do.
struct ShrinkJob {
  std::filesystem::path file;  // the failing scenario file
  std::string display_path;    // how it is named (as given)
  std::uint64_t seed = 1;
  std::filesystem::path output;  // never an existing file
  ShrinkBudget budget;
  runner::RunOptions options;  // binaries and timeout (the trace path is the job's own)
  runner::LoadOptions load;
};

// Loads, reruns, shrinks, writes `job.output` and checks that it fails on
// its own, reporting on `out` ("before: ...", "after: ...") and `err`.
// Returns 0, or 2 (with the reason on `err`, nothing written) when the file
// does not load, the run passes or the output exists.
int shrink_job(const ShrinkJob& job, std::ostream& out, std::ostream& err);

}  // namespace vmbus::cli
