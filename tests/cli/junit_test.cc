// JUnit XML reports and the --seeds / --shard parsers of `vmbus-sim run`:
// the exact bytes written, the escaping, and every error message.
#include "vmbus/cli/junit.h"

#include <cmath>
#include <limits>
#include <locale>
#include <sstream>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <gtest/gtest.h>

#include "vmbus/cli/sweep_flags.h"

namespace vmbus::cli {
namespace {

using Status = JunitCase::Status;

std::string junit_document(const JunitReport& report) {
  std::ostringstream out;
  write_junit(out, report);
  return out.str();
}

JunitCase case_named(std::string name, std::string classname, double seconds) {
  JunitCase c;
  c.name = std::move(name);
  c.classname = std::move(classname);
  c.seconds = seconds;
  return c;
}

// Two suites (a scenario file and seed each) run in parallel over 1.6 s:
// a failure and an error in one, a pass in the other.
JunitReport report_of_two_suites() {
  JunitCase failed = case_named("03-defer-at-dispatch seed 7", "scenarios.defer", 1.2346);
  failed.status = Status::kFailed;
  failed.message = "expected channel 1 state == \"open\", got \"closed\"";
  failed.details =
      "step 4: expected channel 1 state == \"open\", got \"closed\"\n"
      "step 6: expected 3 packets < 2 ms, got 1\n"
      "trace: out/defer/03-defer-at-dispatch.7.trace\n"
      "repro: vmbus-sim run scenarios/defer/03-defer-at-dispatch.yaml --seeds 7..7";

  JunitCase error = case_named("03-defer-at-dispatch seed 7 #2", "scenarios.defer", 0.0004);
  error.status = Status::kError;
  error.message = "vmbus-guest exited with status 134";
  error.system_out = "guest: ring 1 corrupt & stopped\n";

  JunitSuite defer;
  defer.name = "03-defer-at-dispatch seed 7";
  defer.file = "scenarios/defer/03-defer-at-dispatch.textproto";
  defer.properties = {{"seed", "7"}, {"build", "0.1.0 (commit 1a2b3c4d5e6f)"}};
  defer.seconds = 1.3;
  defer.cases = {failed, error};

  JunitSuite open;
  open.name = "01-open-close seed 7";
  open.seconds = 0.25;
  open.cases = {case_named("01-open-close seed 7", "scenarios.open", 0.25)};
  return JunitReport{"vmbus-sim run", 1.6, {defer, open}};
}

TEST(Junit, WritesSuitesWithFilePropertiesAndWallTime) {
  EXPECT_EQ(junit_document(report_of_two_suites()),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            "<testsuites name=\"vmbus-sim run\" tests=\"3\" failures=\"1\" errors=\"1\" "
            "time=\"1.600\">\n"
            "  <testsuite name=\"03-defer-at-dispatch seed 7\" tests=\"2\" failures=\"1\" "
            "errors=\"1\" skipped=\"0\" time=\"1.300\" "
            "file=\"scenarios/defer/03-defer-at-dispatch.textproto\">\n"
            "    <properties>\n"
            "      <property name=\"seed\" value=\"7\"/>\n"
            "      <property name=\"build\" value=\"0.1.0 (commit 1a2b3c4d5e6f)\"/>\n"
            "    </properties>\n"
            "    <testcase name=\"03-defer-at-dispatch seed 7\" classname=\"scenarios.defer\" "
            "time=\"1.235\">\n"
            "      <failure message=\"expected channel 1 state == &quot;open&quot;, got "
            "&quot;closed&quot;\" type=\"expectation\">"
            "step 4: expected channel 1 state == &quot;open&quot;, got &quot;closed&quot;\n"
            "step 6: expected 3 packets &lt; 2 ms, got 1\n"
            "trace: out/defer/03-defer-at-dispatch.7.trace\n"
            "repro: vmbus-sim run scenarios/defer/03-defer-at-dispatch.yaml --seeds 7..7"
            "</failure>\n"
            "    </testcase>\n"
            "    <testcase name=\"03-defer-at-dispatch seed 7 #2\" classname=\"scenarios.defer\" "
            "time=\"0.000\">\n"
            "      <error message=\"vmbus-guest exited with status 134\" type=\"simulator\"/>\n"
            "      <system-out>guest: ring 1 corrupt &amp; stopped\n</system-out>\n"
            "    </testcase>\n"
            "  </testsuite>\n"
            "  <testsuite name=\"01-open-close seed 7\" tests=\"1\" failures=\"0\" errors=\"0\" "
            "skipped=\"0\" time=\"0.250\">\n"
            "    <testcase name=\"01-open-close seed 7\" classname=\"scenarios.open\" "
            "time=\"0.250\"/>\n"
            "  </testsuite>\n"
            "</testsuites>\n");
}

TEST(Junit, CountsSkippedCasesOnTheirSuiteOnly) {
  JunitCase skipped = case_named("10-smoke seed 1", "scenarios", 0);
  skipped.status = Status::kSkipped;
  skipped.message = "needs --shm";
  skipped.details = "not written for skipped cases";
  JunitCase skipped_silently = case_named("11-smoke seed 1", "scenarios", 0);
  skipped_silently.status = Status::kSkipped;
  JunitCase error_with_details = case_named("12-smoke seed 1", "scenarios", 2);
  error_with_details.status = Status::kError;
  error_with_details.message = "timed out";
  error_with_details.details = "after 2 s\nrepro: vmbus-sim run --seeds 1..1";
  JunitSuite suite;
  suite.name = "smoke";
  suite.seconds = 2;
  suite.cases = {skipped, skipped_silently, error_with_details};

  EXPECT_EQ(junit_document(JunitReport{"r", 2.5, {suite}}),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            "<testsuites name=\"r\" tests=\"3\" failures=\"0\" errors=\"1\" "
            "time=\"2.500\">\n"
            "  <testsuite name=\"smoke\" tests=\"3\" failures=\"0\" errors=\"1\" skipped=\"2\" "
            "time=\"2.000\">\n"
            "    <testcase name=\"10-smoke seed 1\" classname=\"scenarios\" time=\"0.000\">\n"
            "      <skipped>needs --shm</skipped>\n"
            "    </testcase>\n"
            "    <testcase name=\"11-smoke seed 1\" classname=\"scenarios\" time=\"0.000\">\n"
            "      <skipped/>\n"
            "    </testcase>\n"
            "    <testcase name=\"12-smoke seed 1\" classname=\"scenarios\" time=\"2.000\">\n"
            "      <error message=\"timed out\" type=\"simulator\">after 2 s\n"
            "repro: vmbus-sim run --seeds 1..1</error>\n"
            "    </testcase>\n"
            "  </testsuite>\n"
            "</testsuites>\n");
}

TEST(Junit, WritesAnEmptyRunAsAnEmptyTestsuites) {
  EXPECT_EQ(junit_document(JunitReport{"empty", 0, {}}),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            "<testsuites name=\"empty\" tests=\"0\" failures=\"0\" errors=\"0\" "
            "time=\"0.000\">\n"
            "</testsuites>\n");
}

TEST(Junit, EscapesNamesMessagesFilesAndPropertiesInAttributes) {
  JunitCase c = case_named("<x> 'y'\tz\n", "scenarios.\"a&b\"", 0);
  c.status = Status::kFailed;
  c.message = "1 < 2 & 3 > 2\r";
  JunitSuite suite;
  suite.name = "a&b";
  suite.file = "dir/<odd> & \"name\".textproto";
  suite.properties = {{"k&", "v<\""}};
  suite.cases = {c};
  const std::string document = junit_document(JunitReport{"n\"&", 0, {suite}});
  EXPECT_NE(document.find("<testsuites name=\"n&quot;&amp;\" "), std::string::npos) << document;
  EXPECT_NE(document.find("<testsuite name=\"a&amp;b\" "), std::string::npos) << document;
  EXPECT_NE(document.find(" file=\"dir/&lt;odd&gt; &amp; &quot;name&quot;.textproto\">"),
            std::string::npos)
      << document;
  EXPECT_NE(document.find("<property name=\"k&amp;\" value=\"v&lt;&quot;\"/>"), std::string::npos)
      << document;
  EXPECT_NE(document.find("<testcase name=\"&lt;x&gt; &apos;y&apos;&#9;z&#10;\" "
                          "classname=\"scenarios.&quot;a&amp;b&quot;\" time=\"0.000\">\n"
                          "      <failure message=\"1 &lt; 2 &amp; 3 &gt; 2&#13;\" "
                          "type=\"expectation\"/>\n"),
            std::string::npos)
      << document;
}

TEST(Junit, IgnoresTheStreamLocale) {
  // A locale that would print 1234 as "1,234" and 1.5 as "1,5".
  struct CommaNumbers : std::numpunct<char> {
    char do_decimal_point() const override { return ','; }
    char do_thousands_sep() const override { return ','; }
    std::string do_grouping() const override { return "\3"; }
  };
  JunitSuite suite;
  suite.name = "s";
  suite.seconds = 1851;
  suite.cases.assign(1234, case_named("c", "s", 1.5));
  std::ostringstream out;
  out.imbue(std::locale(out.getloc(), new CommaNumbers));
  write_junit(out, JunitReport{"run", 1234.5, {suite}});
  EXPECT_NE(out.str().find("<testsuites name=\"run\" tests=\"1234\" failures=\"0\" errors=\"0\" "
                           "time=\"1234.500\">"),
            std::string::npos);
  EXPECT_NE(out.str().find("skipped=\"0\" time=\"1851.000\">"), std::string::npos);
}

TEST(Junit, SameReportGivesTheSameBytes) {
  EXPECT_EQ(junit_document(report_of_two_suites()), junit_document(report_of_two_suites()));
}

TEST(XmlEscape, EscapesEverySpecialCharacterInAttributes) {
  EXPECT_EQ(xml_escape("&<>\"'\t\n\r", /*attribute=*/true),
            "&amp;&lt;&gt;&quot;&apos;&#9;&#10;&#13;");
}

TEST(XmlEscape, EscapesEverySpecialCharacterInTextAndKeepsWhitespace) {
  EXPECT_EQ(xml_escape("&<>\"'\t\n\r", /*attribute=*/false), "&amp;&lt;&gt;&quot;&apos;\t\n\r");
  EXPECT_EQ(xml_escape("]]>", /*attribute=*/false), "]]&gt;");
}

TEST(XmlEscape, ReplacesCharactersXmlCannotCarryWithQuestionMarks) {
  using namespace std::string_view_literals;
  for (const bool attribute : {false, true}) {
    // C0 controls other than tab, LF and CR, including NUL.
    EXPECT_EQ(xml_escape("a\x01"
                         "b\x1f\0c\x08\x0b\x0c"sv,
                         attribute),
              "a?b??c???");
    // U+FFFE and U+FFFF.
    EXPECT_EQ(xml_escape("x\xEF\xBF\xBEy\xEF\xBF\xBF", attribute), "x?y?");
    // Bytes that are not well-formed UTF-8: a stray continuation byte, a
    // lead byte cut short, an overlong '/', a UTF-16 surrogate, 0xFF.
    EXPECT_EQ(xml_escape("\x80|\xC3|\xC0\xAF|\xED\xA0\x80|\xFF", attribute), "?|?|??|???|?");
  }
}

TEST(XmlEscape, KeepsWellFormedUtf8AndDel) {
  EXPECT_EQ(xml_escape("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80 \x7F", /*attribute=*/true),
            "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80 \x7F");
}

TEST(JunitSeconds, FormatsThreeDecimalsWithAPoint) {
  EXPECT_EQ(format_junit_seconds(0), "0.000");
  EXPECT_EQ(format_junit_seconds(0.0004), "0.000");
  EXPECT_EQ(format_junit_seconds(0.0006), "0.001");
  EXPECT_EQ(format_junit_seconds(0.25), "0.250");
  EXPECT_EQ(format_junit_seconds(1.2346), "1.235");
  EXPECT_EQ(format_junit_seconds(0.9996), "1.000");
  EXPECT_EQ(format_junit_seconds(2), "2.000");
  EXPECT_EQ(format_junit_seconds(12345.6789), "12345.679");
  EXPECT_EQ(format_junit_seconds(86400.5), "86400.500");
}

TEST(JunitSeconds, ReportsNegativeAndNonFiniteTimesAsZero) {
  EXPECT_EQ(format_junit_seconds(-1), "0.000");
  EXPECT_EQ(format_junit_seconds(-0.0), "0.000");
  EXPECT_EQ(format_junit_seconds(std::numeric_limits<double>::quiet_NaN()), "0.000");
  EXPECT_EQ(format_junit_seconds(std::numeric_limits<double>::infinity()), "0.000");
}

struct GoodSeeds {
  std::string_view text;
  std::uint64_t first;
  std::uint64_t last;
};

class ParseSeedRangeAccepts : public ::testing::TestWithParam<GoodSeeds> {};

TEST_P(ParseSeedRangeAccepts, InclusiveRange) {
  const auto result = parse_seed_range(GetParam().text);
  const SeedRange* range = std::get_if<SeedRange>(&result);
  ASSERT_NE(range, nullptr) << std::get<std::string>(result);
  EXPECT_EQ(range->first, GetParam().first);
  EXPECT_EQ(range->last, GetParam().last);
}

INSTANTIATE_TEST_SUITE_P(Seeds, ParseSeedRangeAccepts,
                         ::testing::Values(GoodSeeds{"0..0", 0, 0}, GoodSeeds{"7..7", 7, 7},
                                           GoodSeeds{"1..100", 1, 100}, GoodSeeds{"007..9", 7, 9},
                                           GoodSeeds{"1..1000000", 1, 1'000'000},
                                           GoodSeeds{"18446744073709551614..18446744073709551615",
                                                     18'446'744'073'709'551'614u,
                                                     18'446'744'073'709'551'615u}));

struct BadInput {
  std::string_view text;
  std::string_view message;
};

class ParseSeedRangeRefuses : public ::testing::TestWithParam<BadInput> {};

TEST_P(ParseSeedRangeRefuses, WithMessageNamingTheProblem) {
  const auto result = parse_seed_range(GetParam().text);
  ASSERT_TRUE(std::holds_alternative<std::string>(result));
  EXPECT_EQ(std::get<std::string>(result), GetParam().message);
}

INSTANTIATE_TEST_SUITE_P(
    Seeds, ParseSeedRangeRefuses,
    ::testing::Values(BadInput{"", "--seeds: expected A..B, got an empty value"},
                      BadInput{"5", "--seeds: expected A..B, got '5'"},
                      BadInput{"1-5", "--seeds: expected A..B, got '1-5'"},
                      BadInput{"..5", "--seeds: expected A..B, got '..5'"},
                      BadInput{"5..", "--seeds: expected A..B, got '5..'"},
                      BadInput{"..", "--seeds: expected A..B, got '..'"},
                      BadInput{"a..5", "--seeds: 'a' is not a decimal number"},
                      BadInput{"1..five", "--seeds: 'five' is not a decimal number"},
                      BadInput{"1..-5", "--seeds: '-5' is not a decimal number"},
                      BadInput{"+1..5", "--seeds: '+1' is not a decimal number"},
                      BadInput{" 1..5", "--seeds: ' 1' is not a decimal number"},
                      BadInput{"1...5", "--seeds: '.5' is not a decimal number"},
                      BadInput{"0x10..0x20", "--seeds: '0x10' is not a decimal number"},
                      BadInput{"1\x01..2", "--seeds: '1\\x01' is not a decimal number"},
                      BadInput{"0..18446744073709551616",
                               "--seeds: 18446744073709551616 is larger than the largest seed "
                               "18446744073709551615"},
                      BadInput{"99999999999999999999999..1",
                               "--seeds: 99999999999999999999999 is larger than the largest seed "
                               "18446744073709551615"},
                      BadInput{"9..3", "--seeds: 9..3 is empty"},
                      BadInput{"0..1000000", "--seeds: 0..1000000 has more than 1000000 seeds"},
                      BadInput{"0..18446744073709551615",
                               "--seeds: 0..18446744073709551615 has more than 1000000 seeds"}));

struct GoodShard {
  std::string_view text;
  std::uint32_t index;
  std::uint32_t count;
};

class ParseShardAccepts : public ::testing::TestWithParam<GoodShard> {};

TEST_P(ParseShardAccepts, IndexAndCount) {
  const auto result = parse_shard(GetParam().text);
  const Shard* shard = std::get_if<Shard>(&result);
  ASSERT_NE(shard, nullptr) << std::get<std::string>(result);
  EXPECT_EQ(shard->index, GetParam().index);
  EXPECT_EQ(shard->count, GetParam().count);
}

INSTANTIATE_TEST_SUITE_P(Shards, ParseShardAccepts,
                         ::testing::Values(GoodShard{"1/1", 1, 1}, GoodShard{"3/7", 3, 7},
                                           GoodShard{"7/7", 7, 7}, GoodShard{"01/03", 1, 3},
                                           GoodShard{"100000/100000", 100'000, 100'000}));

class ParseShardRefuses : public ::testing::TestWithParam<BadInput> {};

TEST_P(ParseShardRefuses, WithMessageNamingTheProblem) {
  const auto result = parse_shard(GetParam().text);
  ASSERT_TRUE(std::holds_alternative<std::string>(result));
  EXPECT_EQ(std::get<std::string>(result), GetParam().message);
}

INSTANTIATE_TEST_SUITE_P(
    Shards, ParseShardRefuses,
    ::testing::Values(BadInput{"", "--shard: expected I/N, got an empty value"},
                      BadInput{"3", "--shard: expected I/N, got '3'"},
                      BadInput{"1/", "--shard: expected I/N, got '1/'"},
                      BadInput{"/3", "--shard: expected I/N, got '/3'"},
                      BadInput{"/", "--shard: expected I/N, got '/'"},
                      BadInput{"a/3", "--shard: 'a' is not a decimal number"},
                      BadInput{"1/b", "--shard: 'b' is not a decimal number"},
                      BadInput{"-1/3", "--shard: '-1' is not a decimal number"},
                      BadInput{"1/3/5", "--shard: '3/5' is not a decimal number"},
                      BadInput{"0/3", "--shard: the index must be at least 1, got 0/3"},
                      BadInput{"4/3", "--shard: the index 4 is more than the count 3"},
                      BadInput{"99999999999999999999/3",
                               "--shard: the index 99999999999999999999 is more than the count 3"},
                      BadInput{"1/0", "--shard: the count must be at least 1, got 1/0"},
                      BadInput{"0/0", "--shard: the count must be at least 1, got 0/0"},
                      BadInput{"1/100001", "--shard: the count 100001 is more than 100000"},
                      BadInput{"1/99999999999999999999",
                               "--shard: the count 99999999999999999999 is more than 100000"}));

TEST(InShard, PartitionsItemsExactlyOnceOverSevenShards) {
  constexpr std::uint32_t kShardCount = 7;
  std::vector<std::vector<std::uint64_t>> items_of_shard(kShardCount);
  for (std::uint64_t item = 0; item < 100; ++item) {
    int owners = 0;
    for (std::uint32_t index = 1; index <= kShardCount; ++index) {
      if (in_shard(item, Shard{index, kShardCount})) {
        ++owners;
        items_of_shard[index - 1].push_back(item);
      }
    }
    EXPECT_EQ(owners, 1) << "item " << item;
  }
  EXPECT_EQ(items_of_shard[0],
            (std::vector<std::uint64_t>{0, 7, 14, 21, 28, 35, 42, 49, 56, 63, 70, 77, 84, 91, 98}));
  EXPECT_EQ(items_of_shard[1],
            (std::vector<std::uint64_t>{1, 8, 15, 22, 29, 36, 43, 50, 57, 64, 71, 78, 85, 92, 99}));
  EXPECT_EQ(items_of_shard[6],
            (std::vector<std::uint64_t>{6, 13, 20, 27, 34, 41, 48, 55, 62, 69, 76, 83, 90, 97}));
  for (std::uint32_t index = 3; index <= kShardCount; ++index) {
    EXPECT_EQ(items_of_shard[index - 1].size(), 14u) << "shard " << index;
  }
}

TEST(InShard, OneShardHoldsEverything) {
  for (const std::uint64_t item : {0ull, 1ull, 18'446'744'073'709'551'615ull}) {
    EXPECT_TRUE(in_shard(item, Shard{1, 1}));
  }
}

TEST(InShardDeathTest, AbortsOnAnInvalidShard) {
  EXPECT_DEATH(in_shard(0, Shard{0, 3}), "invalid shard 0/3");
  EXPECT_DEATH(in_shard(0, Shard{4, 3}), "invalid shard 4/3");
  EXPECT_DEATH(in_shard(0, Shard{1, 0}), "invalid shard 1/0");
}

}  // namespace
}  // namespace vmbus::cli
