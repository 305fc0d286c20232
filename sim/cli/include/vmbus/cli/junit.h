// JUnit XML reports of `vmbus-sim run` and `vmbus-sim report merge`.
//
// CI systems show and track each (scenario, seed) run as a JUnit test case.
// The document is valid against the JUnit schema of Jenkins' xUnit plugin
// (junit-10.xsd; tests/cli/data holds it and a test checks every document
// the runner writes against it), which is also what GitLab's junit report
// artifacts, the GitHub Actions test reporters and Azure Pipelines'
// PublishTestResults read: testsuites / testsuite / properties / testcase /
// failure / error / skipped / system-out. A suite carries what that schema
// lets it: its source `file`, its properties (the seed and the build) and
// its wall time. The output holds no timestamps, host names or other
// ambient values, so the same report always gives the same bytes, and
// numbers never go through a stream's locale.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

namespace vmbus::cli {

struct JunitCase {
  enum class Status : std::uint8_t { kPassed, kFailed, kError, kSkipped };

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

struct JunitProperty {
  std::string name;
  std::string value;
};

struct JunitSuite {
  std::string name;
  std::string file;                       // the `file` attribute; left out when empty
  std::vector<JunitProperty> properties;  // a <properties> element when non-empty
  // Wall time from the start of the suite's first case to the end of its
  // last: with cases run in parallel, less than the sum of their times.
  double seconds = 0;
  std::vector<JunitCase> cases;
};

struct JunitReport {
  std::string name;    // of <testsuites>
  double seconds = 0;  // wall time of the whole run
  std::vector<JunitSuite> suites;
};

// Writes `report` as a JUnit XML document to `out`: suites and cases in
// input order. Every count of a <testsuite> and of <testsuites> is the sum
// over its cases; <testsuites> has no `skipped` (neither Jenkins schema
// allows one there), its suites do.
void write_junit(std::ostream& out, const JunitReport& report);

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

}  // namespace vmbus::cli
