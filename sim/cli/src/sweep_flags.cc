#include "vmbus/cli/sweep_flags.h"

#include <charconv>
#include <cstdlib>
#include <iterator>
#include <limits>
#include <utility>

#include "vmbus/base/check.h"
#include "vmbus/cli/utf8.h"

namespace vmbus::cli {
namespace {

std::string decimal(std::uint64_t value) {
  char buffer[std::numeric_limits<std::uint64_t>::digits10 + 1];
  const std::to_chars_result result = std::to_chars(std::begin(buffer), std::end(buffer), value);
  return std::string(std::begin(buffer), result.ptr);
}

// `text` for an error message in single quotes: printable ASCII as is,
// every other byte as \xNN, and at most kQuotedBytesMax bytes of it.
std::string quoted(std::string_view text) {
  constexpr std::size_t kQuotedBytesMax = 64;
  constexpr std::string_view kHexDigits = "0123456789abcdef";
  std::string result = "'";
  for (std::size_t i = 0; i < text.size() && i < kQuotedBytesMax; ++i) {
    const unsigned byte = byte_at(text, i);
    if (byte >= 0x20 && byte < 0x7F) {
      result += text[i];
    } else {
      result += "\\x";
      result += kHexDigits[byte >> 4];
      result += kHexDigits[byte & 0xF];
    }
  }
  if (text.size() > kQuotedBytesMax) {
    result += "...";
  }
  result += '\'';
  return result;
}

enum class NumberStatus : std::uint8_t { kOk, kNotANumber, kTooLarge };

struct ParsedNumber {
  NumberStatus status = NumberStatus::kNotANumber;
  std::uint64_t value = 0;
};

// Only the digits 0-9: no sign, no spaces, no base prefix.
ParsedNumber parse_decimal(std::string_view text) {
  if (text.empty()) {
    return {};
  }
  for (const char c : text) {
    if (c < '0' || c > '9') {
      return {};
    }
  }
  ParsedNumber parsed;
  const std::from_chars_result result =
      std::from_chars(text.data(), text.data() + text.size(), parsed.value);
  parsed.status = result.ec == std::errc() ? NumberStatus::kOk : NumberStatus::kTooLarge;
  return parsed;
}

// Splits "A<separator>B" into non-empty A and B, or nullopt.
std::optional<std::pair<std::string_view, std::string_view>> split_pair(
    std::string_view text, std::string_view separator) {
  const std::size_t at = text.find(separator);
  if (at == std::string_view::npos || at == 0 || at + separator.size() == text.size()) {
    return std::nullopt;
  }
  return std::pair(text.substr(0, at), text.substr(at + separator.size()));
}

}  // namespace

std::variant<SeedRange, std::string> parse_seed_range(std::string_view text) {
  if (text.empty()) {
    return std::string("--seeds: expected A..B, got an empty value");
  }
  const auto parts = split_pair(text, "..");
  if (!parts) {
    return "--seeds: expected A..B, got " + quoted(text);
  }
  std::uint64_t bounds[2] = {};
  const std::string_view texts[2] = {parts->first, parts->second};
  for (std::size_t i = 0; i < 2; ++i) {
    const ParsedNumber parsed = parse_decimal(texts[i]);
    switch (parsed.status) {
      case NumberStatus::kOk:
        bounds[i] = parsed.value;
        break;
      case NumberStatus::kNotANumber:
        return "--seeds: " + quoted(texts[i]) + " is not a decimal number";
      case NumberStatus::kTooLarge:
        return "--seeds: " + std::string(texts[i]) + " is larger than the largest seed " +
               decimal(std::numeric_limits<std::uint64_t>::max());
    }
  }
  const SeedRange range{bounds[0], bounds[1]};
  if (range.first > range.last) {
    return "--seeds: " + std::string(text) + " is empty";
  }
  // last - first + 1 could wrap for 0..2^64-1, so compare before adding one.
  if (range.last - range.first >= kMaxSeedsPerRun) {
    return "--seeds: " + std::string(text) + " has more than " + decimal(kMaxSeedsPerRun) +
           " seeds";
  }
  return range;
}

std::variant<Shard, std::string> parse_shard(std::string_view text) {
  if (text.empty()) {
    return std::string("--shard: expected I/N, got an empty value");
  }
  const auto parts = split_pair(text, "/");
  if (!parts) {
    return "--shard: expected I/N, got " + quoted(text);
  }
  const ParsedNumber index = parse_decimal(parts->first);
  const ParsedNumber count = parse_decimal(parts->second);
  for (const auto& [part, parsed] :
       {std::pair(parts->first, index), std::pair(parts->second, count)}) {
    if (parsed.status == NumberStatus::kNotANumber) {
      return "--shard: " + quoted(part) + " is not a decimal number";
    }
  }
  // A number too large for 64 bits is above every limit below.
  if (count.status == NumberStatus::kTooLarge || count.value > kMaxShards) {
    return "--shard: the count " + std::string(parts->second) + " is more than " +
           decimal(kMaxShards);
  }
  if (count.value == 0) {
    return std::string("--shard: the count must be at least 1, got ") + std::string(text);
  }
  if (index.value == 0 && index.status == NumberStatus::kOk) {
    return std::string("--shard: the index must be at least 1, got ") + std::string(text);
  }
  if (index.status == NumberStatus::kTooLarge || index.value > count.value) {
    return "--shard: the index " + std::string(parts->first) + " is more than the count " +
           std::string(parts->second);
  }
  return Shard{static_cast<std::uint32_t>(index.value), static_cast<std::uint32_t>(count.value)};
}

bool in_shard(std::uint64_t item, const Shard& shard) {
  VMBUS_CHECK(
      shard.count >= 1 && shard.index >= 1 && shard.index <= shard.count,
      "in_shard: invalid shard " + std::to_string(shard.index) + "/" + std::to_string(shard.count));
  return item % shard.count == shard.index - 1u;
}

namespace {

// --- Shard conventions of the environment -----------------------------------

struct Convention {
  std::string_view name;  // for messages: "GoogleTest"
  std::string_view index_variable;
  std::string_view count_variable;  // empty: the count is --shard-count
  std::uint32_t index_base;         // the index of the first shard
};

// In the order they are tried; see the table in sweep_flags.h.
constexpr Convention kConventions[] = {
    {"GoogleTest", "GTEST_SHARD_INDEX", "GTEST_TOTAL_SHARDS", 0},
    {"Bazel", "TEST_SHARD_INDEX", "TEST_TOTAL_SHARDS", 0},
    {"a Kubernetes Indexed Job", "JOB_COMPLETION_INDEX", "", 0},
    {"GitLab CI", "CI_NODE_INDEX", "CI_NODE_TOTAL", 1},
};

constexpr std::string_view kKubernetesIndex = "JOB_COMPLETION_INDEX";

std::optional<std::string> lookup(const EnvironmentLookup& environment, std::string_view name) {
  std::optional<std::string> value = environment(std::string(name));
  if (value && value->empty()) {
    return std::nullopt;
  }
  return value;
}

// A variable's value as a number no greater than `max`, or the message.
std::variant<std::uint64_t, std::string> variable_number(std::string_view variable,
                                                         std::string_view text, std::uint64_t max) {
  const ParsedNumber parsed = parse_decimal(text);
  if (parsed.status == NumberStatus::kNotANumber) {
    return std::string(variable) + ": " + quoted(text) + " is not a decimal number";
  }
  if (parsed.status == NumberStatus::kTooLarge || parsed.value > max) {
    return std::string(variable) + "=" + std::string(text) + " is more than " + decimal(max);
  }
  return parsed.value;
}

// The shard that `convention` names, nullopt when its index is not set, or
// the message when it is set wrongly.
std::variant<std::optional<ShardChoice>, std::string> convention_shard(
    const Convention& convention, std::optional<std::uint32_t> shard_count,
    const EnvironmentLookup& environment) {
  const std::optional<std::string> index_text = lookup(environment, convention.index_variable);
  if (!index_text) {
    return std::optional<ShardChoice>();
  }
  const std::string index_setting = std::string(convention.index_variable) + "=" + *index_text;
  std::uint64_t count = 0;
  std::string count_setting;
  if (convention.count_variable.empty()) {
    if (!shard_count) {
      return index_setting + " is set (" + std::string(convention.name) +
             ") but the shard count is not: add --shard-count N, N being the Job's completions";
    }
    count = *shard_count;
    count_setting = "--shard-count " + decimal(count);
  } else {
    const std::optional<std::string> count_text = lookup(environment, convention.count_variable);
    if (!count_text) {
      return index_setting + " is set (" + std::string(convention.name) + ") but " +
             std::string(convention.count_variable) + " is not";
    }
    auto parsed = variable_number(convention.count_variable, *count_text, kMaxShards);
    if (auto* message = std::get_if<std::string>(&parsed)) {
      return *message;
    }
    count = std::get<std::uint64_t>(parsed);
    count_setting = std::string(convention.count_variable) + "=" + *count_text;
    if (count == 0) {
      return count_setting + ": the shard count must be at least 1";
    }
  }
  auto index = variable_number(convention.index_variable, *index_text, kMaxShards);
  if (auto* message = std::get_if<std::string>(&index)) {
    return *message;
  }
  const std::uint64_t value = std::get<std::uint64_t>(index);
  if (value < convention.index_base || value - convention.index_base >= count) {
    return index_setting + " is not a shard of " + count_setting + " (" +
           std::string(convention.name) + " counts shards from " + decimal(convention.index_base) +
           ")";
  }
  const Shard shard{static_cast<std::uint32_t>(value - convention.index_base + 1),
                    static_cast<std::uint32_t>(count)};
  return std::optional<ShardChoice>(ShardChoice{shard, index_setting + " " + count_setting});
}

}  // namespace

EnvironmentLookup process_environment() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* value = std::getenv(name.c_str());
    return value == nullptr ? std::nullopt : std::optional<std::string>(value);
  };
}

std::variant<ShardChoice, std::string> choose_shard(std::optional<std::string_view> shard_flag,
                                                    std::optional<std::uint32_t> shard_count,
                                                    const EnvironmentLookup& environment) {
  if (shard_flag) {
    if (shard_count) {
      return std::string(
          "--shard-count is for an index from the environment (JOB_COMPLETION_INDEX); "
          "--shard I/N already names the count");
    }
    auto parsed = parse_shard(*shard_flag);
    if (auto* message = std::get_if<std::string>(&parsed)) {
      return *message;
    }
    return ShardChoice{std::get<Shard>(parsed), "--shard"};
  }
  if (shard_count && !lookup(environment, kKubernetesIndex)) {
    return std::string(
        "--shard-count is for JOB_COMPLETION_INDEX (a Kubernetes Indexed Job), which is not "
        "set; give --shard I/N instead");
  }
  std::optional<ShardChoice> chosen;
  for (const Convention& convention : kConventions) {
    auto found = convention_shard(convention, shard_count, environment);
    if (auto* message = std::get_if<std::string>(&found)) {
      return *message;
    }
    const std::optional<ShardChoice>& choice = std::get<std::optional<ShardChoice>>(found);
    if (!choice) {
      continue;
    }
    if (!chosen) {
      chosen = choice;
    } else if (chosen->shard.index != choice->shard.index ||
               chosen->shard.count != choice->shard.count) {
      return chosen->source + " and " + choice->source + " name different shards (" +
             decimal(chosen->shard.index) + "/" + decimal(chosen->shard.count) + " and " +
             decimal(choice->shard.index) + "/" + decimal(choice->shard.count) +
             "): unset one, or give --shard I/N";
    }
  }
  return chosen.value_or(ShardChoice{});
}

}  // namespace vmbus::cli
