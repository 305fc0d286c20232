#include "vmbus/cli/run_plan.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fnmatch.h>
#include <functional>
#include <limits>
#include <numeric>
#include <queue>
#include <utility>

namespace vmbus::cli {
namespace {

constexpr std::uint64_t kUint64Max = std::numeric_limits<std::uint64_t>::max();

bool glob_matches(const std::string& glob, const std::string& text) {
  return ::fnmatch(glob.c_str(), text.c_str(), 0) == 0;
}

bool selected(const PlanScenario& scenario, const PlanRequest& request) {
  const bool by_filter =
      request.filters.empty() ||
      std::any_of(request.filters.begin(), request.filters.end(),
                  [&](const std::string& glob) { return matches_filter(scenario, glob); });
  const bool by_tag =
      request.tags.empty() ||
      std::any_of(request.tags.begin(), request.tags.end(), [&](const std::string& tag) {
        return std::find(scenario.tags.begin(), scenario.tags.end(), tag) != scenario.tags.end();
      });
  return by_filter && by_tag;
}

std::string joined(const std::vector<std::string>& values) {
  std::string text;
  for (const std::string& value : values) {
    text += (text.empty() ? "" : ",") + value;
  }
  return text;
}

std::string nothing_selected(const std::vector<PlanScenario>& scenarios,
                             const PlanRequest& request) {
  std::string what;
  if (!request.filters.empty()) {
    what += " --filter '" + joined(request.filters) + "'";
  }
  if (!request.tags.empty()) {
    what += std::string(what.empty() ? "" : " and") + " --tag '" + joined(request.tags) + "'";
  }
  return "no scenario matches" + what + " (of " + std::to_string(scenarios.size()) +
         " loaded); --list shows what would run";
}

// Costs per scenario: measured ones from --timings, the mean of those for
// scenarios the timings do not know, or 1 each.
void set_costs(const std::vector<PlanScenario>& scenarios, const PlanRequest& request, Plan& plan) {
  plan.costs.assign(scenarios.size(), 1);
  plan.balance = request.timings_us ? "timings" : "count";
  if (!request.timings_us) {
    return;
  }
  std::uint64_t known_sum = 0;
  std::uint64_t known_count = 0;
  for (const std::size_t index : plan.selected) {
    const auto it = request.timings_us->find(scenarios[index].name);
    if (it != request.timings_us->end()) {
      plan.costs[index] = std::clamp<std::uint64_t>(it->second, 1, kMaxScenarioCostUs);
      known_sum += plan.costs[index];
      ++known_count;
    }
  }
  const std::uint64_t unknown_cost = known_count == 0 ? 1 : known_sum / known_count;
  for (const std::size_t index : plan.selected) {
    if (request.timings_us->count(scenarios[index].name) == 0) {
      plan.costs[index] = std::max<std::uint64_t>(unknown_cost, 1);
    }
  }
}

// FNV-1a over everything that decides the numbering and the costs: the
// same for the sweep run whole and for any split of it into shards (merge
// compares the shard counts itself).
std::string plan_id(const std::vector<PlanScenario>& scenarios, const PlanRequest& request,
                    const Plan& plan) {
  std::uint64_t hash = 14695981039346656037ull;
  const auto mix = [&hash](std::string_view text) {
    for (const char c : text) {
      hash ^= static_cast<unsigned char>(c);
      hash *= 1099511628211ull;
    }
    hash ^= 0xFF;  // a separator no text contains
    hash *= 1099511628211ull;
  };
  mix("vmbus-sim plan 1");
  for (const std::size_t index : plan.selected) {
    mix(scenarios[index].name);
    mix(scenarios[index].file);
    mix(std::to_string(plan.seeds[index].first));
    mix(std::to_string(plan.seeds[index].last));
    mix(std::to_string(plan.costs[index]));
  }
  mix(std::to_string(request.repeat));
  mix(request.until_fail ? "until-fail" : "once");
  char text[17];
  std::snprintf(text, sizeof(text), "%016llx", static_cast<unsigned long long>(hash));
  return text;
}

// Deals every item, most expensive scenario first, to the least loaded
// shard (ties: the lowest), keeping this shard's. Equal costs deal item k
// to shard k mod N + 1.
void assign(const Shard& shard, const std::vector<std::uint64_t>& first_position, Plan& plan) {
  std::vector<std::size_t> order = plan.selected;
  std::stable_sort(order.begin(), order.end(),
                   [&plan](std::size_t a, std::size_t b) { return plan.costs[a] > plan.costs[b]; });
  using Load = std::pair<std::uint64_t, std::uint32_t>;  // work so far, 0-based shard
  std::priority_queue<Load, std::vector<Load>, std::greater<>> loads;
  for (std::uint32_t index = 0; index < shard.count; ++index) {
    loads.emplace(0, index);
  }
  for (const std::size_t scenario : order) {
    const SeedRange& seeds = plan.seeds[scenario];
    for (std::uint64_t offset = 0;; ++offset) {
      const auto [load, index] = loads.top();
      loads.pop();
      if (index == shard.index - 1) {
        plan.mine.push_back(
            PlanItem{scenario, seeds.first + offset, first_position[scenario] + offset});
      }
      loads.emplace(load + plan.costs[scenario], index);
      if (seeds.first + offset == seeds.last) {
        break;
      }
    }
  }
  std::sort(plan.mine.begin(), plan.mine.end(),
            [](const PlanItem& a, const PlanItem& b) { return a.position < b.position; });
}

}  // namespace

bool matches_filter(const PlanScenario& scenario, std::string_view glob) {
  const std::string pattern(glob);
  if (glob_matches(pattern, scenario.name) || glob_matches(pattern, scenario.file)) {
    return true;
  }
  for (std::size_t slash = scenario.file.find('/'); slash != std::string::npos;
       slash = scenario.file.find('/', slash + 1)) {
    if (glob_matches(pattern, scenario.file.substr(slash + 1))) {
      return true;
    }
  }
  return false;
}

std::variant<Plan, std::string> make_plan(const std::vector<PlanScenario>& scenarios,
                                          const PlanRequest& request) {
  Plan plan;
  plan.seeds.resize(scenarios.size());
  std::vector<std::uint64_t> first_position(scenarios.size(), 0);
  for (std::size_t i = 0; i < scenarios.size(); ++i) {
    if (!selected(scenarios[i], request)) {
      continue;
    }
    plan.selected.push_back(i);
    const SeedRange seeds =
        request.seeds.value_or(SeedRange{scenarios[i].default_seed, scenarios[i].default_seed});
    plan.seeds[i] = seeds;
    first_position[i] = plan.items;
    // Each range holds at most kMaxSeedsPerRun seeds, so this cannot wrap
    // before the check below stops it.
    plan.items += seeds.last - seeds.first + 1;
    if (plan.items > kMaxPlannedRuns / request.repeat) {
      return "the sweep has more than " + std::to_string(kMaxPlannedRuns) +
             " runs (scenarios x seeds x --repeat); split it over several runs";
    }
  }
  if (plan.selected.empty()) {
    return nothing_selected(scenarios, request);
  }
  set_costs(scenarios, request, plan);
  plan.id = plan_id(scenarios, request, plan);
  assign(request.shard, first_position, plan);
  return plan;
}

std::map<std::string, std::uint64_t> timings_from(const SweepResults& results) {
  struct Sum {
    std::uint64_t micros = 0;
    std::uint64_t runs = 0;
  };
  std::map<std::string, Sum> sums;
  for (const RunRecord& run : results.runs) {
    if (run.verdict == RunVerdict::kNotRun) {
      continue;
    }
    const double micros =
        std::min(std::round(run.wall_s * 1e6), static_cast<double>(kMaxScenarioCostUs));
    Sum& sum = sums[results.scenarios.at(run.scenario).name];
    sum.micros += static_cast<std::uint64_t>(micros);
    ++sum.runs;
  }
  std::map<std::string, std::uint64_t> timings;
  for (const auto& [name, sum] : sums) {
    timings[name] = std::clamp<std::uint64_t>(sum.micros / sum.runs, 1, kMaxScenarioCostUs);
  }
  return timings;
}

std::optional<std::uint64_t> seed_in_pass(const Plan& plan, const PlanItem& item,
                                          std::uint64_t pass) {
  const SeedRange& seeds = plan.seeds[item.scenario];
  const std::uint64_t width = seeds.last - seeds.first + 1;
  const std::uint64_t passes_before = pass - 1;
  if (passes_before != 0 && passes_before > (kUint64Max - item.seed) / width) {
    return std::nullopt;
  }
  return item.seed + passes_before * width;
}

}  // namespace vmbus::cli
