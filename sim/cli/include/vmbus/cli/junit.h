// JUnit XML reports and the seed-range and shard flags of `vmbus-sim run`.
//
// The scenario runner reports each (scenario, seed) pair as one JUnit test
// case so CI systems can show and track them. The XML keeps to the subset
// that Jenkins' JUnit plugin, GitLab's junit report artifacts, the GitHub
// Actions test reporters and Azure Pipelines' PublishTestResults all read:
// testsuites / testsuite / testcase / failure / error / skipped / system-out,
// with the attributes name, tests, failures, errors, skipped, time,
// classname, message and type. The output holds no timestamps, host names or
// other ambient values, so the same cases always give the same bytes, and
// numbers never go through a stream's locale.
//
// The flag parsers return the value or a one-line error message that names
// the flag and the problem, ready to print as a usage error.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace vmbus::cli {

struct JunitCase {
  enum class Status : std::uint8_t { kPassed, kFailed, kError, kSkipped };

  // The test suite: the scenario's folder, e.g. "defer". An empty suite is
  // reported as "scenarios".
  std::string suite;
  std::string name;       // e.g. "03-defer-at-dispatch seed 7"
  std::string classname;  // e.g. "scenarios.defer"
  // Wall time of the case. Reported rounded to milliseconds; negative and
  // non-finite values are reported as 0.
  double seconds = 0;
  Status status = Status::kPassed;
  // One line: the first failed expectation, the error, or why it was skipped.
  std::string message;
  // Multi-line text: all failures, the trace path, the repro command. Not
  // written for passed or skipped cases.
  std::string details;
  std::string system_out;  // written when non-empty
};

// Writes a JUnit XML document named `name` to `out`: one <testsuite> per
// distinct suite, in order of first appearance, each with its cases in input
// order. Every count and time of a <testsuite> and of <testsuites> is the sum
// over its cases, times summed after rounding each case to milliseconds so
// the totals agree with the per-case values shown.
void write_junit(std::ostream& out, const std::string& name, const std::vector<JunitCase>& cases);

// `text` escaped for XML 1.0 element text (`attribute` false) or a
// double-quoted attribute value (`attribute` true). & < > " ' become entity
// references in both. Tab, LF and CR stay as they are in text and become
// &#9; &#10; &#13; in attributes, where a parser would otherwise turn them
// into spaces. Everything XML 1.0 cannot carry at all becomes '?': other
// control characters below 0x20, U+FFFE and U+FFFF, and each byte that is
// not part of well-formed UTF-8.
std::string xml_escape(std::string_view text, bool attribute);

// Formats a duration as JUnit wants it: seconds with exactly three decimals
// and '.' as the decimal point, e.g. "1.235" for 1.2346. Negative and
// non-finite values give "0.000".
std::string format_junit_seconds(double seconds);

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

}  // namespace vmbus::cli
