#include "vmbus/cli/junit.h"

#include <charconv>
#include <cmath>
#include <cstddef>
#include <iterator>
#include <limits>
#include <optional>
#include <utility>

#include "vmbus/base/check.h"
#include "vmbus/cli/utf8.h"

namespace vmbus::cli {
namespace {

constexpr std::string_view kDefaultSuite = "scenarios";

// Larger durations are reported as this many milliseconds (about 31,700
// years), which keeps every sum of up to 2^32 cases inside 64 bits.
constexpr std::uint64_t kMaxCaseMillis = 1'000'000'000'000'000;

unsigned byte_at(std::string_view text, std::size_t pos) {
  return static_cast<unsigned char>(text[pos]);
}

// U+FFFE and U+FFFF are well-formed UTF-8 (EF BF BE, EF BF BF) but are not
// XML 1.0 characters.
bool is_xml_noncharacter(std::string_view sequence) {
  return sequence == "\xEF\xBF\xBE" || sequence == "\xEF\xBF\xBF";
}

std::uint64_t to_millis(double seconds) {
  if (!(seconds > 0) || !std::isfinite(seconds)) {
    return 0;
  }
  const double millis = std::round(seconds * 1000.0);
  if (millis >= static_cast<double>(kMaxCaseMillis)) {
    return kMaxCaseMillis;
  }
  return static_cast<std::uint64_t>(millis);
}

std::string decimal(std::uint64_t value) {
  char buffer[std::numeric_limits<std::uint64_t>::digits10 + 1];
  const std::to_chars_result result = std::to_chars(std::begin(buffer), std::end(buffer), value);
  return std::string(std::begin(buffer), result.ptr);
}

std::string format_millis(std::uint64_t millis) {
  std::string fraction = decimal(millis % 1000);
  fraction.insert(0, 3 - fraction.size(), '0');
  return decimal(millis / 1000) + "." + fraction;
}

struct Counts {
  std::uint64_t tests = 0;
  std::uint64_t failures = 0;
  std::uint64_t errors = 0;
  std::uint64_t skipped = 0;
  std::uint64_t millis = 0;

  void add(const JunitCase& c) {
    ++tests;
    failures += c.status == JunitCase::Status::kFailed ? 1 : 0;
    errors += c.status == JunitCase::Status::kError ? 1 : 0;
    skipped += c.status == JunitCase::Status::kSkipped ? 1 : 0;
    millis += to_millis(c.seconds);
  }
};

std::string_view suite_of(const JunitCase& c) {
  return c.suite.empty() ? kDefaultSuite : std::string_view(c.suite);
}

void append_attribute(std::string* out, std::string_view key, std::string_view value) {
  *out += ' ';
  *out += key;
  *out += "=\"";
  *out += xml_escape(value, /*attribute=*/true);
  *out += '"';
}

void append_counts(std::string* out, const Counts& counts) {
  append_attribute(out, "tests", decimal(counts.tests));
  append_attribute(out, "failures", decimal(counts.failures));
  append_attribute(out, "errors", decimal(counts.errors));
  append_attribute(out, "skipped", decimal(counts.skipped));
  append_attribute(out, "time", format_millis(counts.millis));
}

// <failure> or <error>: the message as an attribute, the details as text.
void append_problem(std::string* out, std::string_view element, std::string_view type,
                    const JunitCase& c) {
  *out += "      <";
  *out += element;
  append_attribute(out, "message", c.message);
  append_attribute(out, "type", type);
  if (c.details.empty()) {
    *out += "/>\n";
    return;
  }
  *out += '>';
  *out += xml_escape(c.details, /*attribute=*/false);
  *out += "</";
  *out += element;
  *out += ">\n";
}

void append_case(std::string* out, const JunitCase& c) {
  *out += "    <testcase";
  append_attribute(out, "name", c.name);
  append_attribute(out, "classname", c.classname);
  append_attribute(out, "time", format_millis(to_millis(c.seconds)));
  const bool has_body = c.status != JunitCase::Status::kPassed || !c.system_out.empty();
  if (!has_body) {
    *out += "/>\n";
    return;
  }
  *out += ">\n";
  switch (c.status) {
    case JunitCase::Status::kPassed:
      break;
    case JunitCase::Status::kFailed:
      append_problem(out, "failure", "expectation", c);
      break;
    case JunitCase::Status::kError:
      append_problem(out, "error", "simulator", c);
      break;
    case JunitCase::Status::kSkipped:
      *out += "      <skipped";
      if (!c.message.empty()) {
        append_attribute(out, "message", c.message);
      }
      *out += "/>\n";
      break;
  }
  if (!c.system_out.empty()) {
    *out += "      <system-out>";
    *out += xml_escape(c.system_out, /*attribute=*/false);
    *out += "</system-out>\n";
  }
  *out += "    </testcase>\n";
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

std::string xml_escape(std::string_view text, bool attribute) {
  std::string escaped;
  escaped.reserve(text.size());
  std::size_t pos = 0;
  while (pos < text.size()) {
    const char c = text[pos];
    const std::size_t length = utf8_sequence_length(text, pos);
    if (length == 0) {
      escaped += '?';
      ++pos;
      continue;
    }
    if (length > 1) {
      const std::string_view sequence = text.substr(pos, length);
      escaped += is_xml_noncharacter(sequence) ? std::string_view("?") : sequence;
      pos += length;
      continue;
    }
    switch (c) {
      case '&':
        escaped += "&amp;";
        break;
      case '<':
        escaped += "&lt;";
        break;
      case '>':
        escaped += "&gt;";
        break;
      case '"':
        escaped += "&quot;";
        break;
      case '\'':
        escaped += "&apos;";
        break;
      case '\t':
        escaped += attribute ? "&#9;" : "\t";
        break;
      case '\n':
        escaped += attribute ? "&#10;" : "\n";
        break;
      case '\r':
        escaped += attribute ? "&#13;" : "\r";
        break;
      default:
        escaped += byte_at(text, pos) < 0x20 ? '?' : c;
        break;
    }
    ++pos;
  }
  return escaped;
}

std::string format_junit_seconds(double seconds) {
  return format_millis(to_millis(seconds));
}

void write_junit(std::ostream& out, const std::string& name, const std::vector<JunitCase>& cases) {
  // Suites in order of first appearance; a run has a few dozen at most, so a
  // linear lookup is fine and keeps the order without a second container.
  struct Suite {
    std::string_view name;
    Counts counts;
    std::vector<const JunitCase*> cases;
  };
  std::vector<Suite> suites;
  Counts total;
  for (const JunitCase& c : cases) {
    const std::string_view suite_name = suite_of(c);
    Suite* suite = nullptr;
    for (Suite& existing : suites) {
      if (existing.name == suite_name) {
        suite = &existing;
        break;
      }
    }
    if (suite == nullptr) {
      suite = &suites.emplace_back(Suite{suite_name, {}, {}});
    }
    suite->counts.add(c);
    suite->cases.push_back(&c);
    total.add(c);
  }

  std::string document = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites";
  append_attribute(&document, "name", name);
  append_counts(&document, total);
  document += ">\n";
  for (const Suite& suite : suites) {
    document += "  <testsuite";
    append_attribute(&document, "name", suite.name);
    append_counts(&document, suite.counts);
    document += ">\n";
    for (const JunitCase* c : suite.cases) {
      append_case(&document, *c);
    }
    document += "  </testsuite>\n";
  }
  document += "</testsuites>\n";
  // Written as bytes: nothing goes through the stream's locale.
  out.write(document.data(), static_cast<std::streamsize>(document.size()));
}

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

}  // namespace vmbus::cli
