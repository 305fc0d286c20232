// The quirk registry: every quirk has one documented row with a unique
// snake_case name, names parse per endpoint, and unknown names are refused
// with the list of known ones.
#include "vmbus/base/quirks.h"

#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace vmbus::base {
namespace {

TEST(Quirks, EveryQuirkHasOneDocumentedRowWithAUniqueSnakeCaseName) {
  std::set<std::string_view> names;
  for (const QuirkInfo& info : quirk_table()) {
    EXPECT_TRUE(names.insert(info.name).second) << info.name;
    EXPECT_EQ(info.name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_"),
              std::string_view::npos)
        << info.name;
    EXPECT_NE(info.endpoints & kQuirkEither, 0) << info.name;
    EXPECT_GT(info.documentation.size(), 100u) << info.name;
    EXPECT_FALSE(info.component.empty()) << info.name;
    EXPECT_EQ(&quirk_info(info.quirk), &info);
    EXPECT_EQ(find_quirk(info.name), &info);
  }
  EXPECT_LE(quirk_table().size(), QuirkSet::kCapacity);
}

TEST(Quirks, AnEmptySetHasNoQuirk) {
  const QuirkSet set;
  EXPECT_TRUE(set.empty());
  for (const QuirkInfo& info : quirk_table()) {
    EXPECT_FALSE(set.has(info.quirk));
  }
}

TEST(Quirks, NamesParseIntoTheSetTheySpell) {
  std::string error;
  const auto set =
      QuirkSet::parse(std::vector<std::string>{"reader_signals_on_old_test"}, kQuirkGuest, &error);
  ASSERT_TRUE(set) << error;
  EXPECT_TRUE(set->has(Quirk::kReaderSignalsOnOldTest));
  EXPECT_FALSE(set->has(Quirk::kReaderSignalsWhenFreeEqualsPending));
  EXPECT_EQ(set->names(), std::vector<std::string>{"reader_signals_on_old_test"});
}

TEST(Quirks, AnUnknownNameIsRefusedWithTheKnownOnes) {
  std::string error;
  EXPECT_FALSE(QuirkSet::parse(std::vector<std::string>{"no_such_bug"}, kQuirkHost, &error));
  EXPECT_EQ(error, "unknown quirk 'no_such_bug' (known: " + quirk_names_text() + ")");
  EXPECT_NE(quirk_names_text().find("reader_signals_on_old_test"), std::string::npos);
}

TEST(Quirks, AQuirkOfTheOtherEndpointIsRefused) {
  for (const QuirkInfo& info : quirk_table()) {
    for (const std::uint8_t endpoint : {kQuirkGuest, kQuirkHost}) {
      std::string error;
      const bool allowed = (info.endpoints & endpoint) != 0;
      EXPECT_EQ(
          QuirkSet::parse(std::vector<std::string_view>{info.name}, endpoint, &error).has_value(),
          allowed)
          << info.name;
      if (!allowed) {
        EXPECT_EQ(error, "quirk '" + std::string(info.name) + "' applies to the " +
                             quirk_endpoints_text(info.endpoints) + " only");
      }
    }
  }
}

// The page that lists the regression library names every quirk, so that a
// quirk cannot be added without saying which scenario catches it.
TEST(Quirks, DocsRegressionsNamesEveryQuirk) {
  std::ifstream in(std::string(VMBUS_SOURCE_DIR) + "/docs/REGRESSIONS.md");
  ASSERT_TRUE(in) << "docs/REGRESSIONS.md";
  std::ostringstream text;
  text << in.rdbuf();
  for (const QuirkInfo& info : quirk_table()) {
    EXPECT_NE(text.str().find("`" + std::string(info.name) + "`"), std::string::npos)
        << info.name << " is not in docs/REGRESSIONS.md";
  }
}

}  // namespace
}  // namespace vmbus::base
