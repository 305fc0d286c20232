#include "vmbus/cli/junit.h"

#include <charconv>
#include <cmath>
#include <cstddef>
#include <iterator>
#include <limits>

#include "vmbus/cli/utf8.h"

namespace vmbus::cli {
namespace {

// Larger durations are reported as this many milliseconds (about 31,700
// years): far beyond any real run, and exactly representable as a double.
constexpr std::uint64_t kMaxMillis = 1'000'000'000'000'000;

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
  if (millis >= static_cast<double>(kMaxMillis)) {
    return kMaxMillis;
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

  void add(const JunitCase& c) {
    ++tests;
    failures += c.status == JunitCase::Status::kFailed ? 1 : 0;
    errors += c.status == JunitCase::Status::kError ? 1 : 0;
    skipped += c.status == JunitCase::Status::kSkipped ? 1 : 0;
  }
};

void append_attribute(std::string* out, std::string_view key, std::string_view value) {
  *out += ' ';
  *out += key;
  *out += "=\"";
  *out += xml_escape(value, /*attribute=*/true);
  *out += '"';
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
      // The reason as text: the older Jenkins schema allows <skipped> no
      // attributes, and Jenkins reads the text when there is no message.
      if (c.message.empty()) {
        *out += "      <skipped/>\n";
      } else {
        *out += "      <skipped>" + xml_escape(c.message, /*attribute=*/false) + "</skipped>\n";
      }
      break;
  }
  if (!c.system_out.empty()) {
    *out += "      <system-out>";
    *out += xml_escape(c.system_out, /*attribute=*/false);
    *out += "</system-out>\n";
  }
  *out += "    </testcase>\n";
}

// <testsuite> with its counts, file, properties and cases. Both schemas
// want the properties before the cases.
void append_suite(std::string* out, const JunitSuite& suite) {
  Counts counts;
  for (const JunitCase& c : suite.cases) {
    counts.add(c);
  }
  *out += "  <testsuite";
  append_attribute(out, "name", suite.name);
  append_attribute(out, "tests", decimal(counts.tests));
  append_attribute(out, "failures", decimal(counts.failures));
  append_attribute(out, "errors", decimal(counts.errors));
  append_attribute(out, "skipped", decimal(counts.skipped));
  append_attribute(out, "time", format_millis(to_millis(suite.seconds)));
  if (!suite.file.empty()) {
    append_attribute(out, "file", suite.file);
  }
  *out += ">\n";
  if (!suite.properties.empty()) {
    *out += "    <properties>\n";
    for (const JunitProperty& property : suite.properties) {
      *out += "      <property";
      append_attribute(out, "name", property.name);
      append_attribute(out, "value", property.value);
      *out += "/>\n";
    }
    *out += "    </properties>\n";
  }
  for (const JunitCase& c : suite.cases) {
    append_case(out, c);
  }
  *out += "  </testsuite>\n";
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

void write_junit(std::ostream& out, const JunitReport& report) {
  Counts total;
  for (const JunitSuite& suite : report.suites) {
    for (const JunitCase& c : suite.cases) {
      total.add(c);
    }
  }
  std::string document = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites";
  append_attribute(&document, "name", report.name);
  append_attribute(&document, "tests", decimal(total.tests));
  append_attribute(&document, "failures", decimal(total.failures));
  append_attribute(&document, "errors", decimal(total.errors));
  append_attribute(&document, "time", format_junit_seconds(report.seconds));
  document += ">\n";
  for (const JunitSuite& suite : report.suites) {
    append_suite(&document, suite);
  }
  document += "</testsuites>\n";
  // Written as bytes: nothing goes through the stream's locale.
  out.write(document.data(), static_cast<std::streamsize>(document.size()));
}

}  // namespace vmbus::cli
