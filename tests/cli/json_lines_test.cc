// The flat JSON-lines parser: what it accepts, what it refuses and where.
#include "vmbus/cli/json_lines.h"

#include <gtest/gtest.h>

namespace vmbus::cli {
namespace {

TEST(JsonLines, ParsesEveryValueKindWithColumns) {
  const JsonLineResult result =
      parse_json_object_line(R"( { "s" : "a\"b\\c\u00e9\ud83d\ude00" , "n":-12.5e+3, "t":true,)"
                             R"("f":false,"z":null,"i":0 } )");
  ASSERT_TRUE(result.ok) << result.error.message;
  const JsonObject& object = result.object;
  EXPECT_EQ(object.column, 2u);
  ASSERT_EQ(object.members.size(), 6u);
  EXPECT_EQ(object.members[0].key, "s");
  EXPECT_EQ(object.members[0].key_column, 4u);
  EXPECT_EQ(object.members[0].value.kind, JsonKind::kString);
  EXPECT_EQ(object.members[0].value.text, "a\"b\\c\xc3\xa9\xf0\x9f\x98\x80");
  EXPECT_EQ(object.members[0].value.column, 10u);
  EXPECT_TRUE(object.members[0].value.had_escapes);
  EXPECT_EQ(object.members[1].value.kind, JsonKind::kNumber);
  EXPECT_EQ(object.members[1].value.text, "-12.5e+3");
  EXPECT_EQ(object.members[2].value.kind, JsonKind::kTrue);
  EXPECT_EQ(object.members[3].value.kind, JsonKind::kFalse);
  EXPECT_EQ(object.members[4].value.kind, JsonKind::kNull);
  EXPECT_EQ(object.find("i")->value.text, "0");
  EXPECT_EQ(object.find("missing"), nullptr);
}

TEST(JsonLines, AcceptsEmptyObject) {
  const JsonLineResult result = parse_json_object_line("{}");
  ASSERT_TRUE(result.ok);
  EXPECT_TRUE(result.object.members.empty());
}

struct BadJson {
  const char* line;
  std::size_t column;
  const char* message;
};

void PrintTo(const BadJson& c, std::ostream* out) {
  *out << "column " << c.column << ": " << c.message;
}

class JsonLinesRefuses : public ::testing::TestWithParam<BadJson> {};

TEST_P(JsonLinesRefuses, WithColumnAndMessage) {
  const JsonLineResult result = parse_json_object_line(GetParam().line);
  ASSERT_FALSE(result.ok);
  EXPECT_EQ(result.error.column, GetParam().column);
  EXPECT_EQ(result.error.message, GetParam().message);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, JsonLinesRefuses,
    ::testing::Values(
        BadJson{"", 1, "expected '{' at the start of an object, found end of line"},
        BadJson{"{} {}", 4, "unexpected \"{\" after the object"},
        BadJson{R"({"a":1.})", 8, "invalid number: expected a digit after '.', found \"}\""},
        BadJson{R"({"a":1e})", 8, "invalid number: expected a digit in the exponent, found \"}\""},
        BadJson{R"({"a":-})", 7, "invalid number: expected a digit, found \"}\""},
        BadJson{R"({"a":+1})", 6, "expected a value, found \"+\""},
        BadJson{R"({"a":[1]})", 6, "nested objects and arrays are not supported"},
        BadJson{R"({"a":"\x"})", 7, "invalid escape \"\\\\x\""},
        BadJson{R"({"a":"\u12"})", 7, "invalid \\u escape: expected four hex digits"},
        BadJson{R"({"a":"\udc00"})", 7, "invalid \\u escape: unpaired low surrogate"},
        BadJson{R"({"a":"\ud800x"})", 7, "invalid \\u escape: unpaired high surrogate"},
        BadJson{"{\"a\":\"\x01\"}", 7, "control character \"\\x01\" in a string; escape it"},
        BadJson{"{\"a\":\"\xc3\x28\"}", 7, "invalid UTF-8 in a string"},
        BadJson{"{\"a\":\"\xed\xa0\x80\"}", 7, "invalid UTF-8 in a string"},
        BadJson{R"({"a":1,"a":2})", 8, "duplicate key \"a\""},
        BadJson{R"({"a":nul})", 6, "expected a value, found \"n\""},
        BadJson{R"({"a":1)", 7, "expected ',' or '}' after a value, found end of line"}));

TEST(JsonLines, ReadsUnsignedIntegersOnlyWithinLimit) {
  JsonValue value;
  value.kind = JsonKind::kNumber;
  value.text = "18446744073709551615";
  EXPECT_EQ(json_unsigned(value, UINT64_MAX), UINT64_MAX);
  EXPECT_EQ(json_unsigned(value, 65535), std::nullopt);
  value.text = "18446744073709551616";
  EXPECT_EQ(json_unsigned(value, UINT64_MAX), std::nullopt);
  for (const char* text : {"-1", "1.0", "1e2"}) {
    value.text = text;
    EXPECT_EQ(json_unsigned(value, UINT64_MAX), std::nullopt) << text;
  }
  value.kind = JsonKind::kString;
  value.text = "1";
  EXPECT_EQ(json_unsigned(value, UINT64_MAX), std::nullopt);
}

TEST(JsonLines, BlankLinesAreOnlyJsonWhitespace) {
  EXPECT_TRUE(is_blank_json_line(""));
  EXPECT_TRUE(is_blank_json_line(" \t\r"));
  EXPECT_FALSE(is_blank_json_line(" x"));
  EXPECT_FALSE(is_blank_json_line("\v"));
}

}  // namespace
}  // namespace vmbus::cli
