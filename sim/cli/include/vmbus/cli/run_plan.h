// The work of one `vmbus-sim run`: which scenarios run (after --filter and
// --tag), with which seeds, how often (--repeat), and which of the
// (scenario, seed) items this shard takes.
//
// Items are numbered in plan order -- scenarios in file order, each with
// its seeds ascending -- and every shard computes the same numbering and
// the same assignment, so the shards of a sweep run every item exactly
// once without talking to each other. Shards are balanced by expected
// cost: items are dealt, most expensive scenario first, each to the shard
// with the least work so far (ties to the lowest shard). With equal costs
// (no --timings) that deals item k to shard k mod N + 1; with --timings,
// each scenario costs the mean wall time of its runs in an earlier
// results file, so a shard of slow scenarios gets fewer items.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "vmbus/cli/results.h"
#include "vmbus/cli/sweep_flags.h"

namespace vmbus::cli {

// Runs in one invocation's whole plan (items x --repeat), over all shards.
inline constexpr std::uint64_t kMaxPlannedRuns = 10'000'000;
inline constexpr std::uint32_t kMaxRepeat = 10'000;
// A scenario's cost from --timings is capped (1000 s) so that sums of
// costs over kMaxPlannedRuns items fit in 64 bits.
inline constexpr std::uint64_t kMaxScenarioCostUs = 1'000'000'000;

struct PlanScenario {
  std::string name;
  std::string file;  // as given on the command line
  std::vector<std::string> tags;
  std::uint64_t default_seed = 1;
};

struct PlanRequest {
  std::optional<SeedRange> seeds;    // none: each scenario's own seed
  std::vector<std::string> filters;  // globs; a scenario matching any runs
  std::vector<std::string> tags;     // a scenario with any of these runs
  std::uint32_t repeat = 1;
  Shard shard;
  // Cost per scenario name in microseconds (--timings); none: equal costs.
  std::optional<std::map<std::string, std::uint64_t>> timings_us;
  bool until_fail = false;
};

struct PlanItem {
  std::size_t scenario = 0;  // index into the scenarios given to make_plan
  std::uint64_t seed = 0;    // its seed in the first pass
  std::uint64_t position = 0;
};

struct Plan {
  std::vector<std::size_t> selected;  // scenarios that run, in file order
  std::vector<SeedRange> seeds;       // per scenario given (unselected ones unused)
  std::vector<std::uint64_t> costs;   // per scenario given, in microseconds or 1 each
  std::uint64_t items = 0;            // (scenario, seed) items of the whole plan
  std::vector<PlanItem> mine;         // this shard's, in position order
  std::string id;                     // the same on every shard of the sweep, and unsharded
  std::string balance;                // "count" or "timings"
};

// Selects, numbers and shards the work; an error is a usage message.
std::variant<Plan, std::string> make_plan(const std::vector<PlanScenario>& scenarios,
                                          const PlanRequest& request);

// Whether `glob` (fnmatch, '*' crossing '/') matches the scenario's name,
// its file, or a tail of its file after a '/': 'defer/*', '03-*' and
// '*fifo*' all select scenarios/defer/04-defer-keeps-fifo.textproto.
bool matches_filter(const PlanScenario& scenario, std::string_view glob);

// Per scenario name, the mean wall time of the runs in `results` that ran,
// in microseconds (at least 1, at most kMaxScenarioCostUs).
std::map<std::string, std::uint64_t> timings_from(const SweepResults& results);

// The seed `item` runs with in pass `pass` (1-based) of --until-fail: each
// pass takes the next seeds, as many as the first had. Nullopt once that
// would pass 2^64-1.
std::optional<std::uint64_t> seed_in_pass(const Plan& plan, const PlanItem& item,
                                          std::uint64_t pass);

}  // namespace vmbus::cli
