// The values that shape a sweep of `vmbus-sim run`: the seed range
// (--seeds A..B), the shard (--shard I/N) and the shard conventions of the
// CI systems and batch engines that spread a sweep over machines.
//
// A sweep is split into N shards that each run a slice of the work, with
// the shard chosen by --shard or, when that is absent, by the first of
// these environment conventions that is set:
//
//   convention               index variable          count variable       index base
//   GoogleTest               GTEST_SHARD_INDEX       GTEST_TOTAL_SHARDS   0
//   Bazel                    TEST_SHARD_INDEX        TEST_TOTAL_SHARDS    0
//   Kubernetes Indexed Job   JOB_COMPLETION_INDEX    (--shard-count N)    0
//   GitLab CI parallel jobs  CI_NODE_INDEX           CI_NODE_TOTAL        1
//
// A Kubernetes pod sees only its index (the Job's completion count is not in
// its environment), so the count comes from --shard-count. Conventions that
// are set together must name the same shard. Every parser returns the value
// or a one-line message naming the flag or variable and the problem, ready
// to print as a usage error; nothing here reads the environment itself (the
// caller passes a lookup), so tests need no setenv.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace vmbus::cli {

inline constexpr std::uint64_t kMaxSeedsPerRun = 1'000'000;
inline constexpr std::uint32_t kMaxShards = 100'000;

// An inclusive range of seeds, first <= last.
struct SeedRange {
  std::uint64_t first = 0;
  std::uint64_t last = 0;
};

// Parses the value of `--seeds A..B`: two decimal numbers of at most
// 2^64-1, A <= B, and no more than kMaxSeedsPerRun seeds.
std::variant<SeedRange, std::string> parse_seed_range(std::string_view text);

// One shard of a run split N ways: 1 <= index <= count <= kMaxShards.
struct Shard {
  std::uint32_t index = 1;  // 1-based
  std::uint32_t count = 1;
};

// Parses the value of `--shard I/N`.
std::variant<Shard, std::string> parse_shard(std::string_view text);

// Whether work item `item` (its 0-based position in the sorted work list)
// belongs to `shard`: item % count == index - 1. Every item belongs to
// exactly one of the shards 1/N .. N/N. `shard` must be valid.
bool in_shard(std::uint64_t item, const Shard& shard);

// The value of an environment variable, or nullopt when it is not set.
using EnvironmentLookup = std::function<std::optional<std::string>(const std::string& name)>;

// The process environment (getenv).
EnvironmentLookup process_environment();

// The shard a run takes, and where it came from.
struct ShardChoice {
  Shard shard;
  // How the summary names the source: "" when the run is not sharded by
  // anything, "--shard", or the variables, e.g.
  // "GTEST_SHARD_INDEX=1 GTEST_TOTAL_SHARDS=4" or
  // "JOB_COMPLETION_INDEX=2 --shard-count 8".
  std::string source;
};

// The shard from `shard_flag` (--shard's value) or, without it, from the
// environment conventions above; `shard_count` is --shard-count's value.
// A variable set to the empty string counts as unset.
std::variant<ShardChoice, std::string> choose_shard(std::optional<std::string_view> shard_flag,
                                                    std::optional<std::uint32_t> shard_count,
                                                    const EnvironmentLookup& environment);

}  // namespace vmbus::cli
