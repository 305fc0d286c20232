// Colour and the progress line of `vmbus-sim run`: which settings colour a
// stream, and the exact words of the progress line.
#include "vmbus/cli/terminal.h"

#include <limits>
#include <map>
#include <string>

#include <gtest/gtest.h>

#include "tool_test_util.h"

namespace vmbus::cli {
namespace {

using testing::environment_of;

TEST(Color, ModesAreAutoAlwaysAndNever) {
  EXPECT_EQ(parse_color_mode("auto"), ColorMode::kAuto);
  EXPECT_EQ(parse_color_mode("always"), ColorMode::kAlways);
  EXPECT_EQ(parse_color_mode("never"), ColorMode::kNever);
  EXPECT_EQ(parse_color_mode("yes"), std::nullopt);
  EXPECT_EQ(parse_color_mode(""), std::nullopt);
}

TEST(Color, AutoColoursATerminalUnlessNoColorOrADumbTerminal) {
  const auto plain = environment_of({{"TERM", "xterm-256color"}});
  EXPECT_TRUE(use_color(ColorMode::kAuto, true, plain));
  EXPECT_FALSE(use_color(ColorMode::kAuto, false, plain));
  EXPECT_FALSE(use_color(ColorMode::kAuto, true, environment_of({{"NO_COLOR", "1"}})));
  EXPECT_TRUE(use_color(ColorMode::kAuto, true, environment_of({{"NO_COLOR", ""}})));
  EXPECT_FALSE(use_color(ColorMode::kAuto, true, environment_of({{"TERM", "dumb"}})));
}

TEST(Color, AlwaysAndNeverOverrideEverything) {
  const auto no_color = environment_of({{"NO_COLOR", "1"}, {"TERM", "dumb"}});
  EXPECT_TRUE(use_color(ColorMode::kAlways, false, no_color));
  EXPECT_FALSE(use_color(ColorMode::kNever, true, environment_of({})));
}

TEST(Color, WrapsTextInTheColourAndAReset) {
  EXPECT_EQ(colored("FAIL", Color::kRed, true), "\033[31mFAIL\033[0m");
  EXPECT_EQ(colored("PASS", Color::kGreen, true), "\033[32mPASS\033[0m");
  EXPECT_EQ(colored("ERROR", Color::kBoldRed, true), "\033[1;31mERROR\033[0m");
  EXPECT_EQ(colored("FAIL", Color::kRed, false), "FAIL");
}

TEST(Terminal, ADumbTerminalCannotRedrawALine) {
  EXPECT_FALSE(terminal_can_redraw(environment_of({{"TERM", "dumb"}})));
  EXPECT_TRUE(terminal_can_redraw(environment_of({{"TERM", "xterm"}})));
  EXPECT_TRUE(terminal_can_redraw(environment_of({})));
}

TEST(Progress, CountsRateAndTimeLeft) {
  EXPECT_EQ(progress_text(Progress{120, 10'000, 117, 2, 1, 8.0}),
            "[120/10000] 117 passed, 2 failed, 1 errors  15.0 runs/s  ETA 10m59s");
}

TEST(Progress, NoRateBeforeTheFirstRunOrWithoutTime) {
  EXPECT_EQ(progress_text(Progress{0, 50, 0, 0, 0, 3.0}), "[0/50] 0 passed, 0 failed, 0 errors");
  EXPECT_EQ(progress_text(Progress{5, 50, 5, 0, 0, 0.0}), "[5/50] 5 passed, 0 failed, 0 errors");
}

TEST(Progress, AnOpenEndedRunHasNoTotalAndNoEstimate) {
  EXPECT_EQ(progress_text(Progress{40, 0, 40, 0, 0, 2.0}),
            "[40 runs] 40 passed, 0 failed, 0 errors  20.0 runs/s");
}

TEST(Progress, DurationsReadAsSecondsMinutesOrHours) {
  EXPECT_EQ(format_duration(0.4), "0s");
  EXPECT_EQ(format_duration(45), "45s");
  EXPECT_EQ(format_duration(59.6), "1m00s");
  EXPECT_EQ(format_duration(696), "11m36s");
  EXPECT_EQ(format_duration(7500), "2h05m");
  EXPECT_EQ(format_duration(-3), "0s");
  EXPECT_EQ(format_duration(std::numeric_limits<double>::infinity()), "0s");
}

}  // namespace
}  // namespace vmbus::cli
